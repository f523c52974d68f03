// lib/secure: encrypted records (docs/PROTOCOL.md §24.5). A record is one frame of kind
// RECORD whose payload is one Noise transport message; its plaintext is a slice of the
// stream of inner frames (9-octet header and payload each, as in §4), so several small
// frames share one AEAD operation and a large one spans several records. The header of a
// record (kind, sequence number, ciphertext length) is the AEAD's associated data.
//
// record_writer gathers small inner frames and seals them into records appended to an
// evbuffer; a large frame is sealed straight into the evbuffer's space, so the writer's own
// buffer stays small and an idle connection keeps at most GATHER_KEEP bytes of it.
// record_reader checks and decrypts a record in place and walks the inner frames it
// completes. Neither does I/O.
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
// A whole record on the wire: its header and the largest ciphertext.
constexpr size_t RECORD_MAX = tfw::HEADER_SIZE + tfc::MAX_MESSAGE;
// Frames are gathered up to this many bytes of plaintext before a record is sealed; a frame
// that does not fit is sealed on its own, from where it lies. Large enough that a record of
// small messages costs one AEAD call per 16 KiB, small enough that no connection keeps much.
constexpr size_t GATHER_MAX = 16u << 10;
// A gather buffer larger than this is freed once its record is sealed (a connection between
// bursts holds at most this much).
constexpr size_t GATHER_KEEP = 512;

// The sequence number a record carries in its id field: the low 31 bits of the nonce.
inline uint32_t record_seq(uint64_t nonce) { return (uint32_t)(nonce & 0x7FFFFFFFu); }

class record_writer {
public:
    // Takes the sending CipherState from the handshake. 0 (memory comes with the frames).
    int start(tfc::cipher_state &&cs);
    // Wipes the key and drops what is gathered.
    void reset();
    bool active() const { return active_; }
    bool empty() const { return fill_ == 0; }
    // The connection's periodic tick: see tfc::aead::trim.
    void trim() { cs_.trim(); }

    // Appends one inner frame. A frame that fits beside what is gathered (GATHER_MAX) is
    // copied into the gather buffer; a larger one seals what is gathered, then becomes
    // records of its own written into out's space (its first record holds a copy of the
    // header and the start of the payload; the following full records are encrypted
    // straight from `data`). 0, TRUFLUX_ENOMEM, or a code from the cipher (TRUFLUX_EINVAL:
    // the nonces are used up).
    int add(evbuffer *out, uint8_t kind, uint32_t id, const void *data, size_t len);
    // Seals what is gathered into one record appended to out (nothing when empty).
    int seal(evbuffer *out);
    // Seals what is gathered into one record where it lies: *rec and *n give it (NULL and
    // 0 when nothing is gathered), valid until the next call to this writer. The caller
    // writes it (or copies it into the queue), then calls sealed(). 0 or a cipher code.
    // Spares a small message the queue's allocation.
    int seal_here(uint8_t **rec, size_t *n);
    void sealed();

    // A large frame with nothing gathered nor queued before it: its records are sealed one
    // at a time into `scratch` (RECORD_MAX bytes, reused) and offered to `write(p, n)`,
    // which returns the bytes the socket took or a negative code; from the first record
    // not taken whole on, the rest goes into out as add() would put it. Saves a large
    // message's trip through the queue (its memory and the page faults of a fresh
    // allocation). Returns 0, TRUFLUX_ENOMEM or a cipher code; *written: bytes written.
    template <class W>
    int add_direct(evbuffer *out, uint8_t kind, uint32_t id, const uint8_t *data, size_t len,
                   uint8_t *scratch, W &&write, size_t *written);
    // REKEY of the sending key; call right after the record carrying the REKEY frame.
    int rekey() { return cs_.rekey(); }

    uint64_t records() const { return records_; }
    // Bytes of gather buffer the writer holds now.
    size_t held() const { return cap_; }

private:
    // Seals len bytes of plaintext (the inner header `hdr` first when given) into a record
    // at p (room for RECORD_MAX); *n receives its size.
    int seal_at(uint8_t *p, const uint8_t *hdr, const uint8_t *data, size_t len, size_t *n);
    int gather(const uint8_t *hdr, const void *data, size_t len);
    // add_direct's end: the unwritten rest of a record, then the payload left, as records.
    int queue_rest(evbuffer *out, const uint8_t *rec, size_t n, const uint8_t *data,
                   size_t len);
    int seal_large(evbuffer *out, const uint8_t *hdr, const uint8_t *data, size_t len);
    int seal_from(evbuffer *out, const uint8_t *pt, size_t len);
    void drop_buffer();

    tfc::cipher_state cs_;
    std::unique_ptr<uint8_t[]> buf_;
    size_t cap_ = 0, fill_ = 0;
    uint64_t records_ = 0;
    bool active_ = false;
};

class record_reader {
public:
    // Takes the receiving CipherState; inner frames are checked against max_message.
    void start(tfc::cipher_state &&cs, uint32_t max_message);
    void reset();
    bool active() const { return active_; }
    void trim() { cs_.trim(); }  // the connection's periodic tick: see tfc::aead::trim

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

template <class W>
int record_writer::add_direct(evbuffer *out, uint8_t kind, uint32_t id, const uint8_t *data,
                              size_t len, uint8_t *scratch, W &&write, size_t *written) {
    *written = 0;
    if (!active_ || fill_) return TRUFLUX_EINVAL;
    uint8_t hdr[tfw::HEADER_SIZE];
    tfw::header_write(hdr, kind, id, (uint32_t)len);
    size_t done = 0;
    bool first = true;
    while (first || done < len) {
        size_t take = first ? MAX_RECORD_PLAIN - tfw::HEADER_SIZE : MAX_RECORD_PLAIN;
        if (take > len - done) take = len - done;
        size_t n = 0;
        int rc = seal_at(scratch, first ? hdr : nullptr, data + done, take, &n);
        if (rc) return rc;
        first = false;
        done += take;
        long w = write(scratch, n);
        size_t took = w > 0 ? (size_t)w : 0;
        *written += took;
        if (took == n) continue;
        // The socket is full (or failed: the flush meets the error again and ends the
        // connection): this record's rest and the records after it wait in the queue.
        return queue_rest(out, scratch + took, n - took, data + done, len - done);
    }
    return 0;
}

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
