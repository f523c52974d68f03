// lib/crypto: TLS 1.2 application-data records with tfc::aead (see tls_record.h).
#include "crypto/tls_record.h"

#include <algorithm>
#include <cstring>
#include <new>

#include <truflux/error.h>

#include "core/scratch.h"

namespace tfc {

namespace {

constexpr uint8_t LEVEL_WARNING = 1, LEVEL_FATAL = 2;
constexpr uint8_t CLOSE_NOTIFY = 0, UNEXPECTED_MESSAGE = 10, BAD_RECORD_MAC = 20,
                  RECORD_OVERFLOW = 22, DECODE_ERROR = 50, PROTOCOL_VERSION = 70,
                  INTERNAL_ERROR = 80, NO_RENEGOTIATION = 100;
constexpr size_t EXPLICIT_NONCE = 8;  // AES-GCM only

// The buffers a loop thread lends the connections it runs, one call at a time.
uint8_t *thread_buffer(bool in) {
    return in ? tfcore::thread_scratch(tfcore::SCRATCH_TLS_IN, TLS_IN_SCRATCH)
              : tfcore::thread_scratch(tfcore::SCRATCH_TLS_OUT, TLS_OUT_SCRATCH);
}

void put64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

void additional_data(uint64_t seq, uint8_t type, size_t len, uint8_t ad[13]) {
    put64(ad, seq);
    ad[8] = type;
    ad[9] = 3;
    ad[10] = 3;
    ad[11] = (uint8_t)(len >> 8);
    ad[12] = (uint8_t)len;
}

}  // namespace

const char *tls_alert_name(uint8_t desc) {
    switch (desc) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 21: return "decryption_failed";
    case 22: return "record_overflow";
    case 30: return "decompression_failure";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 60: return "export_restriction";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 90: return "user_canceled";
    case 100: return "no_renegotiation";
    case 110: return "unsupported_extension";
    default: return "unknown";
    }
}

tls_record::~tls_record() {
    wipe(wiv_, sizeof wiv_);
    wipe(riv_, sizeof riv_);
    if (in_own_) {
        wipe(in_, TLS_IN_SCRATCH);
        delete[] in_;
    }
    if (out_own_) delete[] out_;
}

int tls_record::init(const tls_keys &k, tls_bio *bio) {
    int rc = wr_.set_key(k.c, k.write_key);
    if (rc == 0) rc = rd_.set_key(k.c, k.read_key);
    if (rc != 0) return rc;
    c_ = k.c;
    memcpy(wiv_, k.write_iv, IV_LEN);
    memcpy(riv_, k.read_iv, IV_LEN);
    wseq_ = k.write_seq;
    rseq_ = k.read_seq;
    bio_ = bio;
    return 0;
}

bool tls_record::take_in() {
    if (!in_) in_ = thread_buffer(true);
    return in_ != nullptr;
}

void tls_record::settle_in() {
    if (!in_) return;
    bool busy = in_end_ > in_beg_ || plain_len_ > 0;
    if (in_own_) {
        if (busy) return;
        wipe(in_, TLS_IN_SCRATCH);
        delete[] in_;
        in_own_ = false;
    } else if (busy) {
        // Half a record, or plaintext not yet returned: it stays with this connection. Only
        // the live part moves (the plaintext, opened where its record lay, comes first).
        size_t from = plain_len_ ? std::min(plain_at_, in_beg_) : in_beg_;
        uint8_t *own = new (std::nothrow) uint8_t[TLS_IN_SCRATCH];
        if (own) {
            memcpy(own, in_ + from, in_end_ - from);
            in_ = own;
            in_own_ = true;
            if (plain_len_) plain_at_ -= from;
            in_beg_ -= from;
            in_end_ -= from;
            return;
        }
        failed_ = TRUFLUX_ENOMEM;
        detail_ = "TLS: no memory to keep a record";
    }
    in_ = nullptr;
    in_beg_ = in_end_ = plain_at_ = plain_len_ = 0;
}

bool tls_record::take_out() {
    if (!out_) out_ = thread_buffer(false);
    return out_ != nullptr;
}

void tls_record::settle_out() {
    if (!out_) return;
    bool busy = out_off_ < out_len_;
    if (out_own_) {
        if (busy) return;
        delete[] out_;
        out_own_ = false;
    } else if (busy) {
        // The bio took part of a record: the rest waits here for the next call.
        uint8_t *own = new (std::nothrow) uint8_t[TLS_OUT_SCRATCH];
        if (own) {
            memcpy(own, out_ + out_off_, out_len_ - out_off_);
            out_len_ -= out_off_;
            out_off_ = 0;
            out_ = own;
            out_own_ = true;
            return;
        }
        failed_ = TRUFLUX_ENOMEM;
        detail_ = "TLS: no memory to keep a record";
    }
    out_ = nullptr;
    out_off_ = out_len_ = 0;
}

void tls_record::nonce(const uint8_t *iv, uint64_t seq, const uint8_t *explicit_part,
                       uint8_t out[IV_LEN]) const {
    if (c_ == cipher::aesgcm) {
        memcpy(out, iv, 4);
        memcpy(out + 4, explicit_part, EXPLICIT_NONCE);
        return;
    }
    uint8_t s[8];
    put64(s, seq);
    memcpy(out, iv, IV_LEN);
    for (int i = 0; i < 8; i++) out[4 + i] ^= s[i];
}

ssize_t tls_record::seal_to(uint8_t *r, uint8_t type, const uint8_t *p, size_t n) {
    size_t explicit_len = c_ == cipher::aesgcm ? EXPLICIT_NONCE : 0;
    size_t body = explicit_len + n + TAG_LEN;
    // RFC 5246 says a sequence number must not wrap: the connection ends first.
    if (wseq_ == UINT64_MAX) return TRUFLUX_EIO;
    r[0] = type;
    r[1] = 3;
    r[2] = 3;
    r[3] = (uint8_t)(body >> 8);
    r[4] = (uint8_t)body;
    // The explicit nonce is the sequence number (unique per key, as GCM requires).
    if (explicit_len) put64(r + TLS_HEADER, wseq_);
    uint8_t iv[IV_LEN], ad[13];
    nonce(wiv_, wseq_, r + TLS_HEADER, iv);
    additional_data(wseq_, type, n, ad);
    int rc = wr_.encrypt_iv(iv, ad, sizeof ad, p, n, r + TLS_HEADER + explicit_len);
    if (rc != 0) return rc;
    wseq_++;
    return (ssize_t)(TLS_HEADER + body);
}

ssize_t tls_record::seal_from(uint8_t *r, uint8_t type, gather *g, size_t n) {
    if (g->n > 0 && g->v->iov_len - g->off >= n) {
        g->off += n;
        return seal_to(r, type, static_cast<const uint8_t *>(g->v->iov_base) + g->off - n, n);
    }
    return seal_gathered(r, type, g, n);
}

ssize_t tls_record::seal_gathered(uint8_t *r, uint8_t type, gather *g, size_t n) {
    while (g->n > 0 && g->off == g->v->iov_len) {
        g->v++;
        g->n--;
        g->off = 0;
    }
    if (g->n > 0 && g->v->iov_len - g->off >= n) return seal_from(r, type, g, n);
    // Across vectors: the plaintext is put together where its ciphertext goes (the AEADs
    // encrypt in place), which is the one copy such a record costs.
    uint8_t *body = r + TLS_HEADER + (c_ == cipher::aesgcm ? EXPLICIT_NONCE : 0);
    for (size_t at = 0; at < n; g->v++, g->n--, g->off = 0) {
        if (g->n <= 0) return TRUFLUX_EINTERNAL;
        size_t k = std::min(g->v->iov_len - g->off, n - at);
        if (k) memcpy(body + at, static_cast<const uint8_t *>(g->v->iov_base) + g->off, k);
        at += k;
        if (g->off + k < g->v->iov_len) {
            g->off += k;
            break;
        }
    }
    return seal_to(r, type, body, n);
}

int tls_record::seal(uint8_t type, gather *g, size_t n) {
    if (out_off_ == out_len_) out_off_ = out_len_ = 0;
    if (!take_out()) return TRUFLUX_ENOMEM;
    if (n > TLS_MAX_PLAIN || out_len_ + TLS_HEADER + 8 + n + TAG_LEN > TLS_OUT_SCRATCH)
        return TRUFLUX_EINTERNAL;
    ssize_t w = seal_from(out_ + out_len_, type, g, n);
    if (w < 0) return (int)w;
    out_len_ += (size_t)w;
    return 0;
}

int tls_record::seal(uint8_t type, const uint8_t *p, size_t n) {
    iovec v = {const_cast<uint8_t *>(p), n};
    gather g = {&v, 1, 0};
    return seal(type, &g, n);
}

int tls_record::flush() {
    while (out_off_ < out_len_) {
        ssize_t n = bio_->send(out_ + out_off_, out_len_ - out_off_);
        if (n > 0) {
            out_off_ += (size_t)n;
            continue;
        }
        if (n == 0 || n == TLS_WANT_WRITE) return 0;
        return (int)n;
    }
    out_off_ = out_len_ = 0;
    return 0;
}

void tls_record::send_alert(uint8_t level, uint8_t desc) {
    uint8_t a[2] = {level, desc};
    // Best effort: a bio that is full or gone only loses the alert.
    if (seal(TLS_ALERT, a, sizeof a) == 0) flush();
    settle_out();
}

int tls_record::fatal(uint8_t alert, int code, const std::string &why) {
    if (!failed_) send_alert(LEVEL_FATAL, alert);
    failed_ = code;
    detail_ = why;
    return code;
}

ssize_t tls_record::write(const uint8_t *buf, size_t len) {
    iovec v = {const_cast<uint8_t *>(buf), len};
    ssize_t r = write_records(gather{&v, 1, 0}, len);
    settle_out();
    return r;
}

ssize_t tls_record::writev(const iovec *iov, int n) {
    size_t len = 0;
    for (int i = 0; i < n && len < TLS_WRITE_BATCH; i++) len += iov[i].iov_len;
    ssize_t r = write_records(gather{iov, n, 0}, len);
    settle_out();
    return r;
}

ssize_t tls_record::write_records(gather g, size_t len) {
    if (failed_) return failed_;
    if (has_unsent()) {
        int rc = flush();
        if (rc < 0) return rc;
        if (has_unsent()) return TLS_WANT_WRITE;
        if (taken_) {
            size_t n = taken_;
            taken_ = 0;
            return (ssize_t)n;
        }
    }
    if (len == 0) return 0;
    // More than a record: straight into the bio's memory, several records at once, so that
    // the transport hands the kernel one larger write. One record goes through `out` and
    // send(), which a transport can pass to the socket without a copy.
    size_t total = std::min(len, TLS_WRITE_BATCH);
    size_t records = (total + TLS_MAX_PLAIN - 1) / TLS_MAX_PLAIN;
    size_t per = TLS_HEADER + (c_ == cipher::aesgcm ? EXPLICIT_NONCE : 0) + TAG_LEN;
    uint8_t *dst = records > 1 ? bio_->send_space(total + records * per) : nullptr;
    if (dst) {
        size_t done = 0, at = 0;
        while (done < total) {
            size_t n = std::min(total - done, TLS_MAX_PLAIN);
            ssize_t w = seal_from(dst + at, TLS_APPLICATION_DATA, &g, n);
            if (w < 0) {
                // What was sealed is committed, so that the sequence numbers stay in step.
                bio_->send_commit(at);
                if (done) return (ssize_t)done;
                detail_ = "TLS write: sealing a record failed";
                return w;
            }
            at += (size_t)w;
            done += n;
        }
        bio_->send_commit(at);
        return (ssize_t)total;
    }
    size_t n = std::min(len, TLS_MAX_PLAIN);
    int rc = seal(TLS_APPLICATION_DATA, &g, n);
    if (rc != 0) {
        detail_ = "TLS write: sealing a record failed";
        return rc;
    }
    // Until the bio took it all, the record stands for these bytes: a retry (after
    // TLS_WANT_WRITE or a bio error) sends it rather than sealing the data again.
    taken_ = n;
    rc = flush();
    if (rc < 0) return rc;
    if (has_unsent()) return TLS_WANT_WRITE;
    taken_ = 0;
    return (ssize_t)n;
}

ssize_t tls_record::send_record(uint8_t type, const uint8_t *p, size_t n) {
    int rc = seal(type, p, n);
    if (rc == 0) rc = flush();
    settle_out();
    return rc < 0 ? rc : (ssize_t)n;
}

void tls_record::close_notify() {
    if (sent_close_ || failed_) return;
    sent_close_ = true;
    send_alert(LEVEL_WARNING, CLOSE_NOTIFY);
}

bool tls_record::record_ready() const {
    size_t have = in_end_ - in_beg_;
    if (have < TLS_HEADER) return false;
    const uint8_t *h = in_ + in_beg_;
    size_t len = (size_t)h[3] << 8 | h[4];
    // A header that read() will refuse counts too: it is an answer without more bytes.
    return len > TLS_MAX_CIPHERTEXT || have >= TLS_HEADER + len;
}

bool tls_record::pending() const {
    return plain_len_ > 0 || (!failed_ && !eof_ && record_ready());
}

int tls_record::open(uint8_t *dst, uint8_t *type, size_t *plain_len, size_t *plain_at) {
    uint8_t *h = in_ + in_beg_;
    size_t len = (size_t)h[3] << 8 | h[4];
    size_t explicit_len = c_ == cipher::aesgcm ? EXPLICIT_NONCE : 0;
    if (len < explicit_len + TAG_LEN)
        return fatal(BAD_RECORD_MAC, TRUFLUX_EIO, "TLS: a record too short to hold its tag");
    size_t n = len - explicit_len - TAG_LEN;
    if (n > TLS_MAX_PLAIN)
        return fatal(RECORD_OVERFLOW, TRUFLUX_EIO,
                     "TLS: a record longer than 16384 bytes of plaintext (record_overflow)");
    uint8_t *ct = h + TLS_HEADER + explicit_len;
    uint8_t iv[IV_LEN], ad[13];
    nonce(riv_, rseq_, h + TLS_HEADER, iv);
    additional_data(rseq_, h[0], n, ad);
    uint8_t *out = dst ? dst : ct;
    int rc = rd_.decrypt_iv(iv, ad, sizeof ad, ct, n + TAG_LEN, out);
    if (rc == ERR_DECRYPT)
        return fatal(BAD_RECORD_MAC, TRUFLUX_EIO,
                     "TLS: a record failed authentication (bad_record_mac): tampered, "
                     "forged or out of order");
    if (rc != 0) return fatal(INTERNAL_ERROR, TRUFLUX_EIO, "TLS: opening a record failed");
    rseq_++;
    *type = h[0];
    *plain_len = n;
    *plain_at = (size_t)(ct - in_);
    in_beg_ += TLS_HEADER + len;
    return 0;
}

ssize_t tls_record::read(uint8_t *buf, size_t len) {
    if (!take_in()) return TRUFLUX_ENOMEM;
    ssize_t r = read_records(buf, len);
    settle_in();
    return r;
}

ssize_t tls_record::read_records(uint8_t *buf, size_t len) {
    if (failed_ && !plain_len_) return failed_;
    size_t got = 0;
    if (plain_len_) {
        size_t k = std::min(len, plain_len_);
        memcpy(buf, in_ + plain_at_, k);
        plain_at_ += k;
        plain_len_ -= k;
        got = k;
        if (got == len) return (ssize_t)got;
    }
    if (eof_) return (ssize_t)got;
    if (failed_) return (ssize_t)got;
    for (;;) {
        while (record_ready()) {
            const uint8_t *h = in_ + in_beg_;
            size_t rlen = (size_t)h[3] << 8 | h[4];
            if (h[1] != 3 || h[2] != 3)
                return got ? (ssize_t)got
                           : fatal(PROTOCOL_VERSION, TRUFLUX_EIO,
                                   "TLS: a record of another version than 1.2");
            if (h[0] < TLS_CHANGE_CIPHER_SPEC || h[0] > TLS_APPLICATION_DATA ||
                h[0] == TLS_CHANGE_CIPHER_SPEC)
                return got ? (ssize_t)got
                           : fatal(UNEXPECTED_MESSAGE, TRUFLUX_EIO,
                                   "TLS: a record of unexpected type " + std::to_string(h[0]) +
                                       " after the handshake");
            if (rlen > TLS_MAX_CIPHERTEXT)
                return got ? (ssize_t)got
                           : fatal(RECORD_OVERFLOW, TRUFLUX_EIO,
                                   "TLS: a record of " + std::to_string(rlen) +
                                       " bytes, over the limit (record_overflow)");
            size_t room = len - got;
            // Straight into the caller's buffer when the plaintext fits: no copy.
            size_t explicit_len = c_ == cipher::aesgcm ? EXPLICIT_NONCE : 0;
            bool direct = h[0] == TLS_APPLICATION_DATA && rlen >= explicit_len + TAG_LEN &&
                          rlen - explicit_len - TAG_LEN <= room;
            uint8_t type;
            size_t n, at;
            int rc = open(direct ? buf + got : nullptr, &type, &n, &at);
            if (rc < 0) return got ? (ssize_t)got : rc;
            if (type == TLS_APPLICATION_DATA) {
                if (direct) {
                    got += n;
                } else {
                    size_t k = std::min(room, n);
                    memcpy(buf + got, in_ + at, k);
                    got += k;
                    plain_at_ = at + k;
                    plain_len_ = n - k;
                }
                if (got == len) return (ssize_t)got;
                continue;
            }
            if (type == TLS_ALERT) {
                if (n != 2) {
                    fatal(DECODE_ERROR, TRUFLUX_EIO, "TLS: a malformed alert");
                    return got ? (ssize_t)got : failed_;
                }
                uint8_t level = in_[at], desc = in_[at + 1];
                if (desc == CLOSE_NOTIFY) {
                    eof_ = true;
                    return (ssize_t)got;
                }
                failed_ = TRUFLUX_EIO;
                detail_ = std::string("TLS: the peer sent the ") +
                          (level == LEVEL_FATAL ? "fatal" : "warning") + " alert " +
                          tls_alert_name(desc) + " (" + std::to_string(desc) + ")";
                return got ? (ssize_t)got : failed_;
            }
            // A handshake message now would start a renegotiation, which this side never
            // agrees to (RFC 5746 leaves refusing to the receiver).
            // Each refusal is a record we queue for a peer that may not be reading: a few,
            // then the connection ends, so that a stream of requests cannot grow our output.
            if (++refusals_ > TLS_MAX_REFUSALS) {
                fatal(NO_RENEGOTIATION, TRUFLUX_EIO,
                      "TLS: the peer kept asking to renegotiate (refused " +
                          std::to_string(TLS_MAX_REFUSALS) + " times)");
                return got ? (ssize_t)got : failed_;
            }
            send_alert(LEVEL_WARNING, NO_RENEGOTIATION);
        }
        // The record buffer holds one record, the caller's often many: when the last read
        // filled the buffer the socket probably has more, so read on rather than return to
        // the event loop for each record (a short read means it is drained).
        if (got && (!last_full_ || got == len)) return (ssize_t)got;
        // Keep the partial record and make room behind it.
        if (in_beg_ == in_end_) {
            in_beg_ = in_end_ = 0;
        } else if (in_beg_ > 0) {
            memmove(in_, in_ + in_beg_, in_end_ - in_beg_);
            in_end_ -= in_beg_;
            in_beg_ = 0;
        }
        size_t want = TLS_IN_SCRATCH - in_end_;
        ssize_t r = bio_->recv(in_ + in_end_, want);
        last_full_ = r > 0 && (size_t)r == want;
        if (r > 0) {
            in_end_ += (size_t)r;
            continue;
        }
        // The end or an error is kept for the next call when there are bytes to return.
        if (r == 0) {
            if (in_end_ > in_beg_) {
                failed_ = TRUFLUX_EIO;
                detail_ = "TLS: the connection ended inside a record (truncated)";
            } else {
                eof_ = true;
            }
            return got ? (ssize_t)got : failed_;
        }
        if (got) {
            if (r != TLS_WANT_READ) failed_ = (int)r;
            return (ssize_t)got;
        }
        return r;  // TLS_WANT_READ or the bio's error
    }
}

}  // namespace tfc
