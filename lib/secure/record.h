// lib/secure: encrypted records (docs/PROTOCOL.md §24.5). A record is one frame of kind
// RECORD whose payload is one Noise transport message; its plaintext is a slice of the
// stream of inner frames (9-octet header and payload each, as in §4), so several small
// frames share one AEAD operation and a large one spans several records. The header of a
// record (kind, sequence number, ciphertext length) is the AEAD's associated data.
//
// record_writer gathers inner frames and seals them into records appended to an evbuffer
// (one allocation per record at most, none per frame). record_reader checks and decrypts a
// record in place and walks the inner frames it completes. Neither does I/O.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "crypto/noise.h"
#include "wire/frame.h"

struct evbuffer;

namespace tfsec {

// Frame kinds of the secure layer (0x20-0x2F).
constexpr uint8_t KIND_NOISE = tfw::KIND_SECURE_NOISE;      // a Noise handshake message
constexpr uint8_t KIND_RECORD = tfw::KIND_SECURE_RECORD;    // an encrypted record
constexpr uint8_t KIND_SWITCH = tfw::KIND_SECURE_SWITCH;    // inner only: id 1 our records
                                                            // start, 0 they stop
constexpr uint8_t KIND_REQUEST = tfw::KIND_SECURE_REQUEST;  // id 1 please encrypt what you
                                                            // send, 0 you may stop
constexpr uint8_t KIND_REKEY = tfw::KIND_SECURE_REKEY;      // inner only: records after this
                                                            // one use REKEY(k)

constexpr size_t MAX_RECORD_PLAIN = tfc::MAX_MESSAGE - tfc::TAG_LEN;  // 65519

// The sequence number a record carries in its id field: the low 31 bits of the nonce.
inline uint32_t record_seq(uint64_t nonce) { return (uint32_t)(nonce & 0x7FFFFFFFu); }

class record_writer {
public:
    // Takes the sending CipherState from the handshake. 0 or TRUFLUX_ENOMEM.
    int start(tfc::cipher_state &&cs);
    // Wipes the key and drops what is gathered.
    void reset();
    bool active() const { return buf_ != nullptr; }
    bool empty() const { return fill_ == 0; }

    // Appends one inner frame, sealing records into out whenever 65519 bytes are gathered
    // (a large payload is encrypted straight from `data`, without a copy, a record at a
    // time). 0, or a code from the cipher (TRUFLUX_EINVAL: the nonces are used up).
    int add(evbuffer *out, uint8_t kind, uint32_t id, const void *data, size_t len);
    // Seals what is gathered into one record appended to out (nothing when empty).
    int seal(evbuffer *out);
    // REKEY of the sending key; call right after the record carrying the REKEY frame.
    int rekey() { return cs_.rekey(); }

    uint64_t records() const { return records_; }

private:
    int append(evbuffer *out, const uint8_t *p, size_t n);
    int seal_from(evbuffer *out, const uint8_t *pt, size_t len);

    tfc::cipher_state cs_;
    std::unique_ptr<uint8_t[]> buf_;
    size_t fill_ = 0;
    uint64_t records_ = 0;
};

class record_reader {
public:
    // Takes the receiving CipherState; inner frames are checked against max_message.
    void start(tfc::cipher_state &&cs, uint32_t max_message);
    void reset();
    bool active() const { return active_; }

    // Checks a record's sequence number and decrypts its payload in place (`payload` is the
    // frame's own buffer, len bytes). Returns 0 with the plaintext in [*pt, *pt + *pt_len),
    // or TRUFLUX_EREPLAY (a number already used), TRUFLUX_EREORDER (a number ahead: a
    // record is missing or moved), TRUFLUX_ETRUNCATED (too short for its tag),
    // TRUFLUX_EDECRYPT (authentication failed).
    int open(uint32_t seq_field, uint8_t *payload, uint32_t len, uint8_t **pt, size_t *pt_len);

    // Walks the inner frames the plaintext completes, in order, calling on(frame) for each:
    // it returns 0 to go on, 1 to stop quietly (the connection stopped reading) or a
    // negative code. Frames point into `pt` or into the reader's reassembly buffer, valid
    // during the call. Returns 0, 1, on's code, or TRUFLUX_EPROTO / TRUFLUX_EMSGSIZE for a
    // bad inner header, TRUFLUX_ENOMEM.
    template <class F>
    int walk(uint8_t *pt, size_t len, F &&on);

    // An inner frame is partly received (its other records have not come yet).
    bool mid_frame() const { return inner_ && inner_->pending() > 0; }
    int rekey() { return cs_.rekey(); }
    uint64_t records() const { return records_; }

private:
    tfc::cipher_state cs_;
    std::unique_ptr<tfw::decoder> inner_;
    uint32_t max_ = 0;
    uint64_t records_ = 0;
    bool active_ = false;
};

template <class F>
int record_reader::walk(uint8_t *pt, size_t len, F &&on) {
    tfw::frame f;
    if (inner_->pending() == 0) {
        // The common case: whole frames, read where they were decrypted.
        while (len > 0) {
            long n = tfw::parse(pt, len, max_, &f);
            if (n < 0) return (int)n;
            if (n == 0) break;
            int r = on(f);
            if (r != 0) return r;
            pt += n;
            len -= (size_t)n;
        }
        if (len == 0) return 0;
    }
    if (inner_->feed(pt, len) != 0) return TRUFLUX_ENOMEM;
    for (;;) {
        int r = inner_->next(&f);
        if (r < 0) return r;
        if (r == 0) return 0;
        r = on(f);
        if (r != 0) return r;
    }
}

}  // namespace tfsec
