// lib/transport: WebSocket framing (see ws_codec.h).
#include "transport/ws_codec.h"

#include <cstring>

namespace tfx {
namespace ws {

bool close_code_sendable(unsigned code) {
    if (code >= 1000 && code <= 1003) return true;
    if (code >= 1007 && code <= 1014) return true;
    return code >= 3000 && code <= 4999;
}

size_t header_write(uint8_t out[MAX_HEADER], uint8_t op, bool fin, uint64_t len,
                    const uint8_t *mask) {
    size_t n = 2;
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (op & 0x0F));
    uint8_t m = mask ? 0x80 : 0;
    if (len < 126) {
        out[1] = (uint8_t)(m | len);
    } else if (len <= 0xFFFF) {
        out[1] = (uint8_t)(m | 126);
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = (uint8_t)(m | 127);
        for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

void mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], size_t phase) {
    uint8_t k[8];
    for (size_t i = 0; i < 8; i++) k[i] = key[(phase + i) & 3];
    uint64_t m;
    memcpy(&m, k, 8);
    size_t i = 0;
    // Each block is loaded whole before it is stored: with dst <= src a store only reaches
    // octets already loaded, which makes the forward compaction safe.
    for (; i + 32 <= n; i += 32) {
        uint64_t a, b, c, d;
        memcpy(&a, src + i, 8);
        memcpy(&b, src + i + 8, 8);
        memcpy(&c, src + i + 16, 8);
        memcpy(&d, src + i + 24, 8);
        a ^= m;
        b ^= m;
        c ^= m;
        d ^= m;
        memcpy(dst + i, &a, 8);
        memcpy(dst + i + 8, &b, 8);
        memcpy(dst + i + 16, &c, 8);
        memcpy(dst + i + 24, &d, 8);
    }
    for (; i + 8 <= n; i += 8) {
        uint64_t a;
        memcpy(&a, src + i, 8);
        a ^= m;
        memcpy(dst + i, &a, 8);
    }
    for (; i < n; i++) dst[i] = src[i] ^ k[i & 7];
}

// ---- UTF-8 --------------------------------------------------------------------------------

bool utf8_stream::feed(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (need_ == 0) {
            // ASCII runs a word at a time: the common case for text.
            while (i + 8 <= n) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & 0x8080808080808080ull) break;
                i += 8;
            }
            if (i >= n) break;
            uint8_t b = p[i++];
            if (b < 0x80) continue;
            if (b >= 0xC2 && b <= 0xDF) {
                need_ = 1;
                lo_ = 0x80;
                hi_ = 0xBF;
            } else if (b >= 0xE0 && b <= 0xEF) {
                need_ = 2;
                lo_ = b == 0xE0 ? 0xA0 : 0x80;  // E0: no overlongs
                hi_ = b == 0xED ? 0x9F : 0xBF;  // ED: no surrogates
            } else if (b >= 0xF0 && b <= 0xF4) {
                need_ = 3;
                lo_ = b == 0xF0 ? 0x90 : 0x80;  // F0: no overlongs
                hi_ = b == 0xF4 ? 0x8F : 0xBF;  // F4: nothing above U+10FFFF
            } else {
                return false;
            }
        } else {
            uint8_t b = p[i++];
            if (b < lo_ || b > hi_) return false;
            need_--;
            lo_ = 0x80;
            hi_ = 0xBF;
        }
    }
    return true;
}

// ---- parser ---------------------------------------------------------------------------------

void parser::feed(uint8_t *data, size_t len) {
    base_ = p_ = w_ = data;
    end_ = data + len;
}

int parser::set_error(uint16_t status, const char *why) {
    status_ = status;
    why_ = why;
    return -1;
}

// Collects and checks a header. 1 when one is complete, 0 for more input, -1 on error.
int parser::take_header() {
    for (;;) {
        size_t need = 2;
        if (hlen_ >= 2) {
            uint8_t l7 = hdr_[1] & 0x7F;
            need += (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((hdr_[1] & 0x80) ? 4 : 0);
        }
        if (hlen_ >= need) break;
        if (p_ == end_) return 0;
        size_t take = need - hlen_;
        if (take > (size_t)(end_ - p_)) take = (size_t)(end_ - p_);
        memcpy(hdr_ + hlen_, p_, take);
        hlen_ = (uint8_t)(hlen_ + take);
        p_ += take;
        // The first two octets are checked as soon as they are in, before the rest is awaited
        // (this copy brought hlen_ to 2: the first one copies at most 2 octets).
        if (hlen_ == 2) {
            uint8_t b0 = hdr_[0], b1 = hdr_[1];
            if (b0 & 0x70) return set_error(CLOSE_PROTOCOL, "reserved bits set (no extension)");
            uint8_t op = b0 & 0x0F;
            bool control = (op & 0x08) != 0;
            if (op != OP_CONT && op != OP_TEXT && op != OP_BINARY && op != OP_CLOSE &&
                op != OP_PING && op != OP_PONG)
                return set_error(CLOSE_PROTOCOL, "reserved opcode");
            if (((b1 & 0x80) != 0) != lim_.expect_masked)
                return set_error(CLOSE_PROTOCOL, lim_.expect_masked ? "client frame not masked"
                                                               : "server frame masked");
            if (control && !(b0 & 0x80)) return set_error(CLOSE_PROTOCOL, "fragmented control frame");
            if (control && (b1 & 0x7F) > MAX_CONTROL)
                return set_error(CLOSE_PROTOCOL, "control frame longer than 125 octets");
            if (op == OP_CONT && !in_msg_)
                return set_error(CLOSE_PROTOCOL, "continuation frame outside a message");
            if ((op == OP_TEXT || op == OP_BINARY) && in_msg_)
                return set_error(CLOSE_PROTOCOL, "new message inside a fragmented message");
            if (op == OP_TEXT && !lim_.text_ok)
                return set_error(CLOSE_UNSUPPORTED, "text messages are not accepted here");
        }
    }
    uint8_t b0 = hdr_[0], b1 = hdr_[1];
    size_t at = 2;
    uint64_t len = b1 & 0x7F;
    if (len == 126) {
        len = (uint64_t)hdr_[2] << 8 | hdr_[3];
        at = 4;
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++) len = len << 8 | hdr_[2 + i];
        at = 10;
        if (len >> 63) return set_error(CLOSE_PROTOCOL, "64-bit length with its top bit set");
    }
    op_ = b0 & 0x0F;
    fin_ = (b0 & 0x80) != 0;
    masked_ = (b1 & 0x80) != 0;
    if (masked_) memcpy(key_, hdr_ + at, 4);
    left_ = len;
    phase_ = 0;
    hlen_ = 0;
    if (op_ & 0x08) {
        ctl_len_ = 0;
        return 1;
    }
    if (lim_.max_frame && len > lim_.max_frame) return set_error(CLOSE_TOO_BIG, "frame too large");
    if (op_ != OP_CONT) {
        in_msg_ = true;
        first_pending_ = true;
        msg_op_ = op_;
        msg_size_ = 0;
        utf8_.reset();
    }
    if (lim_.max_message && len > lim_.max_message - msg_size_)
        return set_error(CLOSE_TOO_BIG, "message too large");
    msg_size_ += len;
    return 1;
}

int parser::finish_control(event *ev) {
    ev->data = ctl_;
    ev->len = ctl_len_;
    ev->code = 0;
    ev->op = op_;
    ev->first = ev->last = true;
    switch (op_) {
    case OP_PING: ev->kind = event::PING; return 1;
    case OP_PONG: ev->kind = event::PONG; return 1;
    default: break;
    }
    ev->kind = event::CLOSE;
    if (ctl_len_ == 0) {
        ev->code = CLOSE_NO_STATUS;
        return 1;
    }
    if (ctl_len_ == 1) return set_error(CLOSE_PROTOCOL, "close payload of one octet");
    unsigned code = (unsigned)ctl_[0] << 8 | ctl_[1];
    if (!close_code_sendable(code)) return set_error(CLOSE_PROTOCOL, "invalid close code");
    utf8_stream u;
    if (!u.feed(ctl_ + 2, ctl_len_ - 2) || !u.complete())
        return set_error(CLOSE_BAD_DATA, "close reason is not valid UTF-8");
    ev->code = (uint16_t)code;
    ev->data = ctl_ + 2;
    ev->len = ctl_len_ - 2;
    return 1;
}

int parser::next(event *ev) {
    if (status_) return -1;
    for (;;) {
        if (!in_payload_) {
            int r = take_header();
            if (r <= 0) return r;
            in_payload_ = true;
        }
        size_t avail = (size_t)(end_ - p_);
        size_t take = left_ < avail ? (size_t)left_ : avail;
        if (op_ & 0x08) {
            if (masked_) {
                mask_copy(ctl_ + ctl_len_, p_, take, key_, phase_);
            } else {
                memcpy(ctl_ + ctl_len_, p_, take);
            }
            ctl_len_ += take;
            p_ += take;
            left_ -= take;
            phase_ += take;
            if (left_) return 0;
            in_payload_ = false;
            return finish_control(ev);
        }
        if (take == 0 && left_) return 0;
        uint8_t *out = w_;
        if (masked_) {
            mask_copy(w_, p_, take, key_, phase_);
        } else if (w_ != p_) {
            memmove(w_, p_, take);
        }
        w_ += take;
        p_ += take;
        left_ -= take;
        phase_ += take;
        bool last = left_ == 0 && fin_;
        if (msg_op_ == OP_TEXT) {
            if (!utf8_.feed(out, take)) return set_error(CLOSE_BAD_DATA, "text is not valid UTF-8");
            if (last && !utf8_.complete())
                return set_error(CLOSE_BAD_DATA, "text ends inside a UTF-8 sequence");
        }
        if (left_ == 0) {
            in_payload_ = false;
            if (fin_) in_msg_ = false;
        }
        // An empty non-final fragment says nothing; the final one always ends the message.
        if (take == 0 && !last) continue;
        ev->kind = event::DATA;
        ev->op = msg_op_;
        ev->first = first_pending_;
        ev->last = last;
        ev->data = out;
        ev->len = take;
        ev->code = 0;
        first_pending_ = false;
        return 1;
    }
}

}  // namespace ws
}  // namespace tfx
