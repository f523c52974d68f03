// lib/wire: frame header codec and the incremental decoder (see frame.h).
#include "wire/frame.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include <truflux/error.h>

namespace tfw {

namespace {

constexpr size_t PAGE = 4096;
// A fresh or drained decoder holds this much: one recv() of a typical socket buffer.
constexpr size_t DEFAULT_CAP = 64u << 10;
// Room beyond the largest frame, so the tail of one frame and the head of the next can share
// a read without a second allocation.
constexpr size_t SLACK = 64u << 10;

inline uint32_t get_u32(const uint8_t *p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

inline size_t round_page(size_t n) { return (n + PAGE - 1) & ~(PAGE - 1); }

// The payload limit of a known kind, or -1 for a kind this version does not define.
inline int64_t kind_limit(uint8_t kind, uint32_t max_msg) {
    switch (kind) {
    case KIND_HELLO:
    case KIND_WELCOME:
        return MAX_HELLO_PAYLOAD;
    case KIND_PING:
    case KIND_PONG:
    case KIND_CLOSE:
        return MAX_CONTROL_PAYLOAD;
    case KIND_ERROR:
        return MAX_ERROR_PAYLOAD;
    case KIND_MSG:  // empty-typed message: no payload at all
        return 0;
    case KIND_MSG | 1:
    case KIND_MSG | 2:
    case KIND_MSG | 3:
        return max_msg;
    // File transfer (§23): valid in the header; the file layer refuses them (EPROTO) on a
    // connection that did not negotiate capability bit 1.
    case KIND_FILE_OFFER:
        return MAX_FILE_CONTROL;
    case KIND_FILE_ACCEPT:
        return 12;
    case KIND_FILE_DECLINE:
    case KIND_FILE_CANCEL:
        return 4 + MAX_CONTROL_PAYLOAD;
    case KIND_FILE_PAUSE:
    case KIND_FILE_RESUME:
    case KIND_FILE_DONE:
        return 0;
    case KIND_FILE_CHUNK:
        return MAX_FILE_CHUNK;
    case KIND_FILE_END:
        return 40;
    case KIND_FILE_CREDIT:
        return 4;
    // The secure layer (§24): valid in the header; the secure layer refuses them on a
    // connection that did not negotiate capability bit 0 (EPROTO), and SWITCH and REKEY
    // outside a record.
    case KIND_SECURE_NOISE:
    case KIND_SECURE_RECORD:
        return 65535;
    case KIND_SECURE_SWITCH:
    case KIND_SECURE_REQUEST:
    case KIND_SECURE_REKEY:
        return 0;
    default:
        return -1;
    }
}

}  // namespace

void header_write(uint8_t out[HEADER_SIZE], uint8_t kind, uint32_t id, uint32_t len) {
    out[0] = kind;
    out[1] = uint8_t(id >> 24);
    out[2] = uint8_t(id >> 16);
    out[3] = uint8_t(id >> 8);
    out[4] = uint8_t(id);
    out[5] = uint8_t(len >> 24);
    out[6] = uint8_t(len >> 16);
    out[7] = uint8_t(len >> 8);
    out[8] = uint8_t(len);
}

int header_check(const uint8_t hdr[HEADER_SIZE], uint32_t max_msg) {
    int64_t limit = kind_limit(hdr[0], max_msg);
    if (limit < 0) return TRUFLUX_EPROTO;
    if (hdr[1] & 0x80) return TRUFLUX_EPROTO;
    // An empty-typed message with a payload is malformed, not oversized.
    if (hdr[0] == KIND_MSG && get_u32(hdr + 5) != 0) return TRUFLUX_EPROTO;
    if (int64_t(get_u32(hdr + 5)) > limit) return TRUFLUX_EMSGSIZE;
    return 0;
}

long parse(const uint8_t *buf, size_t len, uint32_t max_msg, frame *out) {
    if (len < HEADER_SIZE) return 0;
    int r = header_check(buf, max_msg);
    if (r < 0) return r;
    uint32_t plen = get_u32(buf + 5);
    if (len - HEADER_SIZE < plen) return 0;
    out->kind = buf[0];
    out->id = get_u32(buf + 1);
    out->len = plen;
    out->payload = buf + HEADER_SIZE;
    return long(HEADER_SIZE + plen);
}

decoder::decoder(uint32_t max_msg) : max_(max_msg) {}

decoder::~decoder() {
    if (!lent_) std::free(buf_);
}

uint8_t *decoder::lend(uint8_t *buf, size_t len, size_t *room) {
    if (lent_ || err_ || start_ != end_ || !buf || len == 0) return nullptr;
    std::free(buf_);
    buf_ = buf;
    cap_ = len;
    start_ = end_ = 0;
    lent_ = true;
    *room = len;
    return buf;
}

int decoder::settle() {
    if (!lent_) return 0;
    size_t avail = err_ ? 0 : end_ - start_;
    uint8_t *own = nullptr;
    size_t cap = 0;
    if (avail) {
        // Room for what is left and the next read's worth of the frame; prepare() grows it
        // further as the frame's bytes arrive.
        size_t m = missing();
        cap = round_page(avail + (m < DEFAULT_CAP ? m : DEFAULT_CAP));
        void *p = nullptr;
        if (posix_memalign(&p, PAGE, cap) != 0) {
            buf_ = nullptr;
            cap_ = start_ = end_ = 0;
            lent_ = false;
            return TRUFLUX_ENOMEM;
        }
        own = static_cast<uint8_t *>(p);
        std::memcpy(own, buf_ + start_, avail);
    }
    buf_ = own;
    cap_ = cap;
    start_ = 0;
    end_ = avail;
    lent_ = false;
    return 0;
}

size_t decoder::missing() const {
    size_t avail = end_ - start_;
    if (err_ || avail < HEADER_SIZE) return 0;
    // A header next() will refuse announces nothing worth waiting (or allocating) for.
    if (header_check(buf_ + start_, max_) < 0) return 0;
    size_t total = HEADER_SIZE + size_t(get_u32(buf_ + start_ + 5));
    return total > avail ? total - avail : 0;
}

// Moves the unconsumed bytes to the front of a new buffer of exactly `cap` bytes.
static uint8_t *realloc_aligned(uint8_t *old, size_t start, size_t avail, size_t cap) {
    void *p = nullptr;
    if (posix_memalign(&p, PAGE, cap) != 0) return nullptr;
    if (avail) std::memcpy(p, old + start, avail);
    std::free(old);
    return static_cast<uint8_t *>(p);
}

// Rewinds a drained buffer, and allocates lazily. A large buffer stays while frames of its
// size keep coming (a stream of large messages reads into it without growing it again for
// each one) and goes once a frame much smaller than it has been taken (`last`).
static bool decoder_reclaim(uint8_t *&buf, size_t &cap, size_t &start, size_t &end, size_t last) {
    if (start == end) {
        start = end = 0;
        if (cap > DEFAULT_CAP && cap / 4 > last) {
            std::free(buf);
            buf = nullptr;
            cap = 0;
        }
    }
    if (!buf) {
        uint8_t *p = realloc_aligned(nullptr, 0, 0, DEFAULT_CAP);
        if (!p) return false;
        buf = p;
        cap = DEFAULT_CAP;
    }
    return true;
}

uint8_t *decoder::prepare(size_t want, size_t *room) {
    if (want == 0) want = 1;
    // After an error no frame will ever be returned: bytes that keep arriving are dropped
    // rather than buffered.
    if (err_) start_ = end_;
    if (!decoder_reclaim(buf_, cap_, start_, end_, last_)) return nullptr;
    size_t avail = end_ - start_;
    // Bytes the pending frame still lacks: its header, or its header and payload. A complete
    // frame not yet taken by next() asks for one byte, so the caller still makes progress.
    size_t need;
    if (avail < HEADER_SIZE) {
        need = HEADER_SIZE - avail;
    } else {
        size_t m = missing();
        need = m ? m : 1;
    }
    if (cap_ - end_ < want && start_ > 0) {
        std::memmove(buf_, buf_ + start_, avail);
        start_ = 0;
        end_ = avail;
    }
    size_t step = want < need ? want : need;
    // Grow only once most of the buffer is in use: a read into the room already there costs
    // nothing, and memory then follows the bytes received rather than the bytes announced.
    if (cap_ - end_ < step && cap_ - end_ < cap_ / 2) {
        // Double, but never past the end of the pending frame: a peer that announces a huge
        // length must send the bytes before it costs us the memory.
        size_t frame_end = round_page(avail + need);
        size_t limit = round_page(size_t(max_) + HEADER_SIZE + SLACK);
        if (frame_end > limit) frame_end = limit;
        size_t ncap = cap_ * 2;
        if (ncap < avail + step) ncap = round_page(avail + step);
        if (ncap > frame_end) ncap = frame_end;
        if (ncap > cap_) {
            uint8_t *p = realloc_aligned(buf_, start_, avail, ncap);
            if (!p) return nullptr;
            buf_ = p;
            cap_ = ncap;
            start_ = 0;
            end_ = avail;
        }
    }
    *room = cap_ - end_;
    return buf_ + end_;
}

void decoder::commit(size_t n) {
    if (n > cap_ - end_) n = cap_ - end_;
    end_ += n;
}

int decoder::feed(const void *data, size_t len) {
    if (len == 0) return 0;
    if (err_) start_ = end_;
    if (!decoder_reclaim(buf_, cap_, start_, end_, last_)) return TRUFLUX_ENOMEM;
    size_t avail = end_ - start_;
    if (cap_ - end_ < len) {
        if (cap_ - avail >= len) {
            std::memmove(buf_, buf_ + start_, avail);
        } else {
            // The caller hands over these bytes at once, so hold them all, even beyond one
            // frame's need: prepare()'s bound is about bytes a peer merely announces.
            size_t ncap = cap_;
            while (ncap < avail + len) ncap *= 2;
            uint8_t *p = realloc_aligned(buf_, start_, avail, ncap);
            if (!p) return TRUFLUX_ENOMEM;
            buf_ = p;
            cap_ = ncap;
        }
        start_ = 0;
        end_ = avail;
    }
    std::memcpy(buf_ + end_, data, len);
    end_ += len;
    return 0;
}

int decoder::next(frame *out) {
    if (err_) return err_;
    size_t avail = end_ - start_;
    if (avail < HEADER_SIZE) return 0;
    const uint8_t *h = buf_ + start_;
    int r = header_check(h, max_);
    if (r < 0) {
        err_ = r;
        return r;
    }
    uint32_t plen = get_u32(h + 5);
    if (avail - HEADER_SIZE < plen) return 0;
    out->kind = h[0];
    out->id = get_u32(h + 1);
    out->len = plen;
    out->payload = h + HEADER_SIZE;
    start_ += HEADER_SIZE + plen;
    last_ = HEADER_SIZE + plen;
    return 1;
}

}  // namespace tfw
