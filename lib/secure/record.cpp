// lib/secure: encrypted records (see record.h).
#include "secure/record.h"

#include <event2/buffer.h>

#include <cstring>
#include <new>

#include <truflux/error.h>

namespace tfsec {

int record_writer::start(tfc::cipher_state &&cs) {
    buf_.reset(new (std::nothrow) uint8_t[MAX_RECORD_PLAIN]);
    if (!buf_) return TRUFLUX_ENOMEM;
    cs_ = std::move(cs);
    fill_ = 0;
    records_ = 0;
    return 0;
}

void record_writer::reset() {
    if (buf_) tfc::wipe(buf_.get(), MAX_RECORD_PLAIN);
    buf_.reset();
    fill_ = 0;
    // A moved-from state holds no key and refuses to work.
    tfc::cipher_state dead = std::move(cs_);
    (void)dead;
}

int record_writer::seal_from(evbuffer *out, const uint8_t *pt, size_t len) {
    size_t ct = len + tfc::TAG_LEN;
    evbuffer_iovec v;
    if (evbuffer_reserve_space(out, (ev_ssize_t)(tfw::HEADER_SIZE + ct), &v, 1) != 1 ||
        v.iov_len < tfw::HEADER_SIZE + ct)
        return TRUFLUX_ENOMEM;
    uint8_t *p = static_cast<uint8_t *>(v.iov_base);
    tfw::header_write(p, KIND_RECORD, record_seq(cs_.nonce()), (uint32_t)ct);
    size_t got = 0;
    int rc = cs_.encrypt_with_ad(p, tfw::HEADER_SIZE, pt, len, p + tfw::HEADER_SIZE, ct, &got);
    if (rc != 0) return rc;
    v.iov_len = tfw::HEADER_SIZE + got;
    if (evbuffer_commit_space(out, &v, 1) != 0) return TRUFLUX_ENOMEM;
    records_++;
    return 0;
}

int record_writer::seal(evbuffer *out) {
    if (fill_ == 0) return 0;
    int rc = seal_from(out, buf_.get(), fill_);
    fill_ = 0;
    return rc;
}

int record_writer::append(evbuffer *out, const uint8_t *p, size_t n) {
    while (n > 0) {
        if (fill_ == 0 && n >= MAX_RECORD_PLAIN) {
            int rc = seal_from(out, p, MAX_RECORD_PLAIN);
            if (rc) return rc;
            p += MAX_RECORD_PLAIN;
            n -= MAX_RECORD_PLAIN;
            continue;
        }
        size_t take = MAX_RECORD_PLAIN - fill_ < n ? MAX_RECORD_PLAIN - fill_ : n;
        memcpy(buf_.get() + fill_, p, take);
        fill_ += take;
        p += take;
        n -= take;
        if (fill_ == MAX_RECORD_PLAIN) {
            int rc = seal(out);
            if (rc) return rc;
        }
    }
    return 0;
}

int record_writer::add(evbuffer *out, uint8_t kind, uint32_t id, const void *data, size_t len) {
    if (!buf_) return TRUFLUX_EINVAL;
    uint8_t hdr[tfw::HEADER_SIZE];
    tfw::header_write(hdr, kind, id, (uint32_t)len);
    int rc = append(out, hdr, sizeof hdr);
    if (rc == 0 && len) rc = append(out, static_cast<const uint8_t *>(data), len);
    return rc;
}

void record_reader::start(tfc::cipher_state &&cs, uint32_t max_message) {
    cs_ = std::move(cs);
    max_ = max_message;
    inner_.reset(new tfw::decoder(max_message));
    records_ = 0;
    active_ = true;
}

void record_reader::reset() {
    tfc::cipher_state dead = std::move(cs_);
    (void)dead;
    inner_.reset();
    active_ = false;
}

int record_reader::open(uint32_t seq_field, uint8_t *payload, uint32_t len, uint8_t **pt,
                        size_t *pt_len) {
    uint32_t want = record_seq(cs_.nonce());
    if (seq_field != want) {
        // Distance in the 31-bit space: ahead by less than half of it is a gap.
        uint32_t ahead = (seq_field - want) & 0x7FFFFFFFu;
        return ahead < 0x40000000u ? TRUFLUX_EREORDER : TRUFLUX_EREPLAY;
    }
    if (len < tfc::TAG_LEN) return TRUFLUX_ETRUNCATED;
    uint8_t ad[tfw::HEADER_SIZE];
    tfw::header_write(ad, KIND_RECORD, seq_field, len);
    size_t got = 0;
    int rc = cs_.decrypt_with_ad(ad, sizeof ad, payload, len, payload, len, &got);
    if (rc == tfc::ERR_DECRYPT) return TRUFLUX_EDECRYPT;
    if (rc != 0) return rc;
    records_++;
    *pt = payload;
    *pt_len = got;
    return 0;
}

}  // namespace tfsec
