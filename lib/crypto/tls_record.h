// lib/crypto: the TLS 1.2 record layer for application data once the handshake is done,
// sealed and opened with tfc::aead (what kernel TLS offload does with the kernel's cipher
// code). The handshake, and everything about certificates, stays with mbedTLS
// (tls_engine.cpp); it hands over the keys and the sequence numbers, then frees its own
// state. Records are sealed and opened in two buffers per thread; a connection holds a
// buffer of its own only while a record of it is half received, not yet returned, or half
// sent (the way lib/wire's decoder lends its receive buffer), so an idle connection holds
// no record buffer at all.
//
// Only the AEAD suites tfc::aead implements: AES-256-GCM (RFC 5288: a 4-byte salt from the
// key block and an 8-byte explicit nonce, the sequence number, before each ciphertext) and
// ChaCha20-Poly1305 (RFC 7905: the 12-byte IV XOR the sequence number, no explicit part).
// Additional data (RFC 5246 6.2.3.3): seq(8) || type || version 0x0303 || plaintext length.
//
// Renegotiation is not supported: a handshake record from the peer is answered with a
// warning no_renegotiation alert and dropped, as mbedTLS does with renegotiation disabled;
// past TLS_MAX_REFUSALS such records the connection ends (a fatal no_renegotiation alert).
// Any alert from the peer but close_notify ends the session with an error naming it.
#pragma once
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "crypto/backend.h"
#include "crypto/tls_engine.h"

namespace tfc {

constexpr size_t TLS_HEADER = 5;
constexpr unsigned TLS_MAX_REFUSALS = 4;  // renegotiation requests refused before the end
constexpr size_t TLS_MAX_PLAIN = 16384;              // RFC 5246 6.2.1
constexpr size_t TLS_MAX_CIPHERTEXT = 16384 + 256;   // longest record body accepted
// Room each direction needs: the longest record accepted (in), a full record plus an
// alert record behind it (out).
constexpr size_t TLS_IN_SCRATCH = TLS_HEADER + TLS_MAX_CIPHERTEXT;
constexpr size_t TLS_OUT_SCRATCH = 2 * TLS_HEADER + 2 * (8 + TAG_LEN) + TLS_MAX_PLAIN + 2;

// Content types and alerts (RFC 5246 6.2.1, 7.2).
enum : uint8_t {
    TLS_CHANGE_CIPHER_SPEC = 20,
    TLS_ALERT = 21,
    TLS_HANDSHAKE = 22,
    TLS_APPLICATION_DATA = 23,
};

// What the handshake leaves for the record layer; write = our direction.
struct tls_keys {
    cipher c = cipher::aesgcm;
    uint8_t write_key[KEY_LEN] = {}, read_key[KEY_LEN] = {};
    // ChaCha20-Poly1305: the 12-byte IV; AES-GCM: the 4-byte salt, then zeros.
    uint8_t write_iv[IV_LEN] = {}, read_iv[IV_LEN] = {};
    uint64_t write_seq = 0, read_seq = 0;  // the next record's sequence number
    ~tls_keys() { wipe(this, sizeof *this); }
};

// The alert's name ("bad_record_mac"), or "unknown" for a number RFC 5246 does not list.
const char *tls_alert_name(uint8_t desc);

class tls_record {
public:
    tls_record() = default;
    ~tls_record();
    tls_record(const tls_record &) = delete;
    tls_record &operator=(const tls_record &) = delete;

    // Keys the record layer; `bio` is lent for the object's life. 0, or TRUFLUX_ENOMEM /
    // TRUFLUX_EINTERNAL.
    int init(const tls_keys &k, tls_bio *bio);
    // Bytes of record buffer this connection holds now (0 between records).
    size_t held() const { return (in_own_ ? TLS_IN_SCRATCH : 0) + (out_own_ ? TLS_OUT_SCRATCH : 0); }

    // The contract of tls_session::read / write (tls_engine.h). write() given more than a
    // record seals several straight into the bio's send_space() when it has one; otherwise
    // one record into `out`, and when the bio takes only part of it, TLS_WANT_WRITE, and the next call
    // (with the same data, as with mbedTLS) finishes sending it and returns its length.
    ssize_t read(uint8_t *buf, size_t len);
    ssize_t write(const uint8_t *buf, size_t len);
    // write() over the octets of iov[0..n) in order, as if they were contiguous: a record
    // whose plaintext lies inside one vector is sealed straight from it, one that spans
    // vectors is gathered where its ciphertext goes and sealed in place. After
    // TLS_WANT_WRITE call again with vectors that start with the same octets.
    ssize_t writev(const iovec *iov, int n);
    bool pending() const;
    void close_notify();
    void trim() {  // see tfc::aead::trim
        wr_.trim();
        rd_.trim();
    }
    // Bytes sealed but not yet taken by the bio.
    bool has_unsent() const { return out_off_ < out_len_; }
    // Seals and sends one record of any type, for tests that play a misbehaving peer.
    ssize_t send_record(uint8_t type, const uint8_t *p, size_t n);
    const char *detail() const { return detail_.c_str(); }

private:
    // A read position in a caller's vectors.
    struct gather {
        const iovec *v;
        int n;
        size_t off;  // into v[0]
    };
    // Seals one record at r: its length on the wire, or an error code.
    ssize_t seal_to(uint8_t *r, uint8_t type, const uint8_t *p, size_t n);
    // The same with the next n octets at g (which moves past them); seal_gathered() when
    // they do not lie in g's current vector.
    ssize_t seal_from(uint8_t *r, uint8_t type, gather *g, size_t n);
    ssize_t seal_gathered(uint8_t *r, uint8_t type, gather *g, size_t n);
    int seal(uint8_t type, const uint8_t *p, size_t n);  // appends one record to out_
    int seal(uint8_t type, gather *g, size_t n);
    int flush();  // 0 (all sent or WANT_WRITE: check has_unsent()) or a bio error
    int fatal(uint8_t alert, int code, const std::string &why);
    ssize_t read_records(uint8_t *buf, size_t len);
    ssize_t write_records(gather g, size_t len);
    // Take the thread's buffer when holding none; after the call, keep what must stay in a
    // buffer of the connection's own, or give the buffer back.
    bool take_in();
    void settle_in();
    bool take_out();
    void settle_out();
    void send_alert(uint8_t level, uint8_t desc);
    void nonce(const uint8_t *iv, uint64_t seq, const uint8_t *explicit_part, uint8_t out[IV_LEN]) const;
    bool record_ready() const;
    // Opens the record at in_beg_ into dst (or in place when dst is NULL): its type and
    // plaintext length, or an error (fatal() done).
    int open(uint8_t *dst, uint8_t *type, size_t *plain_len, size_t *plain_at);

    aead wr_, rd_;
    cipher c_ = cipher::aesgcm;
    uint8_t wiv_[IV_LEN] = {}, riv_[IV_LEN] = {};
    uint64_t wseq_ = 0, rseq_ = 0;
    tls_bio *bio_ = nullptr;
    uint8_t *in_ = nullptr, *out_ = nullptr;  // the thread's, the connection's own, or NULL
    bool in_own_ = false, out_own_ = false;
    size_t in_beg_ = 0, in_end_ = 0;      // received bytes not yet opened
    size_t plain_at_ = 0, plain_len_ = 0;  // opened in place, not yet returned
    size_t out_off_ = 0, out_len_ = 0;     // sealed bytes; sent up to out_off_
    size_t taken_ = 0;                     // plaintext of the record still being sent
    bool eof_ = false, sent_close_ = false;
    bool last_full_ = false;  // the last bio read filled the record buffer
    unsigned refusals_ = 0;  // renegotiation requests answered
    int failed_ = 0;
    std::string detail_;
};

}  // namespace tfc
