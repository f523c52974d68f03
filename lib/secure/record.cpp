// lib/secure: encrypted records (see record.h).
#include "secure/record.h"

#include <event2/buffer.h>

#include <cstring>
#include <new>

#include <truflux/error.h>

namespace tfsec {

int record_writer::start(tfc::cipher_state &&cs) {
    drop_buffer();
    cs_ = std::move(cs);
    fill_ = 0;
    records_ = 0;
    active_ = true;
    return 0;
}

void record_writer::drop_buffer() {
    if (buf_) tfc::wipe(buf_.get(), cap_);
    buf_.reset();
    cap_ = 0;
}

void record_writer::reset() {
    drop_buffer();
    fill_ = 0;
    active_ = false;
    // A moved-from state holds no key and refuses to work.
    tfc::cipher_state dead = std::move(cs_);
    (void)dead;
}

int record_writer::seal_from(evbuffer *out, const uint8_t *pt, size_t len) {
    size_t room = tfw::HEADER_SIZE + len + tfc::TAG_LEN;
    evbuffer_iovec v;
    if (evbuffer_reserve_space(out, (ev_ssize_t)room, &v, 1) != 1 || v.iov_len < room)
        return TRUFLUX_ENOMEM;
    size_t n = 0;
    int rc = seal_at(static_cast<uint8_t *>(v.iov_base), nullptr, pt, len, &n);
    if (rc != 0) return rc;
    v.iov_len = n;
    return evbuffer_commit_space(out, &v, 1) != 0 ? TRUFLUX_ENOMEM : 0;
}

int record_writer::seal_at(uint8_t *p, const uint8_t *hdr, const uint8_t *data, size_t len,
                           size_t *n) {
    size_t plain = len + (hdr ? tfw::HEADER_SIZE : 0);
    size_t ct = plain + tfc::TAG_LEN;
    tfw::header_write(p, KIND_RECORD, record_seq(cs_.nonce()), (uint32_t)ct);
    uint8_t *pt = p + tfw::HEADER_SIZE;
    const uint8_t *src = data;
    if (hdr) {
        // The inner header and the payload must be one run of plaintext: copy both.
        memcpy(pt, hdr, tfw::HEADER_SIZE);
        memcpy(pt + tfw::HEADER_SIZE, data, len);
        src = pt;
    }
    size_t got = 0;
    int rc = cs_.encrypt_with_ad(p, tfw::HEADER_SIZE, src, plain, pt, ct, &got);
    if (rc != 0) return rc;
    records_++;
    *n = tfw::HEADER_SIZE + got;
    return 0;
}

int record_writer::queue_rest(evbuffer *out, const uint8_t *rec, size_t n, const uint8_t *data,
                              size_t len) {
    if (n && evbuffer_add(out, rec, n) != 0) return TRUFLUX_ENOMEM;
    for (size_t done = 0; done < len;) {
        size_t take = len - done < MAX_RECORD_PLAIN ? len - done : MAX_RECORD_PLAIN;
        int rc = seal_from(out, data + done, take);
        if (rc) return rc;
        done += take;
    }
    return 0;
}

int record_writer::seal(evbuffer *out) {
    if (fill_ == 0) return 0;
    int rc = seal_from(out, buf_.get() + tfw::HEADER_SIZE, fill_);
    sealed();
    return rc;
}

int record_writer::seal_here(uint8_t **rec, size_t *n) {
    *rec = nullptr;
    *n = 0;
    if (fill_ == 0) return 0;
    int rc = seal_at(buf_.get(), nullptr, buf_.get() + tfw::HEADER_SIZE, fill_, n);
    if (rc != 0) {
        sealed();
        return rc;
    }
    *rec = buf_.get();
    return 0;
}

void record_writer::sealed() {
    fill_ = 0;
    if (cap_ > GATHER_KEEP) drop_buffer();
}

int record_writer::gather(const uint8_t *hdr, const void *data, size_t len) {
    size_t want = fill_ + tfw::HEADER_SIZE + len;  // <= GATHER_MAX (the caller checked)
    // Room for the record's header before the plaintext and its tag after it, so that the
    // record can be sealed where it was gathered.
    size_t need = tfw::HEADER_SIZE + want + tfc::TAG_LEN;
    if (need > cap_) {
        size_t cap = cap_ ? cap_ : 64;
        while (cap < need) cap *= 2;
        if (cap > GATHER_MAX + tfw::HEADER_SIZE + tfc::TAG_LEN)
            cap = GATHER_MAX + tfw::HEADER_SIZE + tfc::TAG_LEN;
        std::unique_ptr<uint8_t[]> b(new (std::nothrow) uint8_t[cap]);
        if (!b) return TRUFLUX_ENOMEM;
        if (fill_) memcpy(b.get() + tfw::HEADER_SIZE, buf_.get() + tfw::HEADER_SIZE, fill_);
        drop_buffer();
        buf_ = std::move(b);
        cap_ = cap;
    }
    uint8_t *at = buf_.get() + tfw::HEADER_SIZE + fill_;
    memcpy(at, hdr, tfw::HEADER_SIZE);
    if (len) memcpy(at + tfw::HEADER_SIZE, data, len);
    fill_ = want;
    return 0;
}

int record_writer::seal_large(evbuffer *out, const uint8_t *hdr, const uint8_t *data,
                              size_t len) {
    // The first record carries the inner header and the start of the payload, copied into
    // the record's own space and encrypted there in place.
    size_t first = len < MAX_RECORD_PLAIN - tfw::HEADER_SIZE ? len
                                                              : MAX_RECORD_PLAIN - tfw::HEADER_SIZE;
    size_t room = tfw::HEADER_SIZE + tfw::HEADER_SIZE + first + tfc::TAG_LEN;
    evbuffer_iovec v;
    if (evbuffer_reserve_space(out, (ev_ssize_t)room, &v, 1) != 1 || v.iov_len < room)
        return TRUFLUX_ENOMEM;
    size_t n = 0;
    int rc = seal_at(static_cast<uint8_t *>(v.iov_base), hdr, data, first, &n);
    if (rc != 0) return rc;
    v.iov_len = n;
    if (evbuffer_commit_space(out, &v, 1) != 0) return TRUFLUX_ENOMEM;
    // The rest, a record at a time, encrypted from the caller's memory.
    return queue_rest(out, nullptr, 0, data + first, len - first);
}

int record_writer::add(evbuffer *out, uint8_t kind, uint32_t id, const void *data, size_t len) {
    if (!active_) return TRUFLUX_EINVAL;
    uint8_t hdr[tfw::HEADER_SIZE];
    tfw::header_write(hdr, kind, id, (uint32_t)len);
    size_t total = tfw::HEADER_SIZE + len;
    if (fill_ + total <= GATHER_MAX) return gather(hdr, data, len);
    int rc = seal(out);
    if (rc) return rc;
    if (total <= GATHER_MAX) return gather(hdr, data, len);
    return seal_large(out, hdr, static_cast<const uint8_t *>(data), len);
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
