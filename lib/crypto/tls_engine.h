// lib/crypto: TLS 1.2 over mbedTLS, without I/O. A tls_config holds what an endpoint
// parsed once (certificates, key, CAs, pin); a tls_session is one connection's TLS state,
// moving bytes through a tls_bio the caller provides (a socket, or any byte stream: the
// transport in lib/transport/tls.cpp puts it over a plain stream, and a WebSocket may sit
// on top of that). Only ECDHE key exchange with AEAD suites (AES-GCM, ChaCha20-Poly1305).
//
// Whose code seals the records: mbedTLS runs the handshake (certificates, verification,
// pins, the alerts it sends). Once it is done, with AES-256-GCM or ChaCha20-Poly1305,
// application data is sealed and opened by tls_record.h with the library's own AEADs
// (tfc::aead, the code the secure layer uses), and mbedTLS's context is freed (an idle
// connection then holds no record buffer); with AES-128-GCM, or when anything of the
// handshake's record layer is left over, mbedTLS keeps doing the records. Either way the peer sees standard TLS 1.2 records.
#pragma once
#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace tfc {

constexpr ssize_t TLS_WANT_READ = -200000;   // call again when the bio can give bytes
constexpr ssize_t TLS_WANT_WRITE = -200001;  // call again when the bio can take bytes
// Most plaintext tls_session::write() seals in one call (see there).
constexpr size_t TLS_WRITE_BATCH = 4 * 16384;

struct tls_params {
    bool server = false;
    std::string cert_file, key_file;  // PEM; required for a server, optional for a client
    std::string ca_file;              // PEM CAs to verify the peer with
    bool has_pin = false;             // client: SHA-256 of the server certificate (DER)
    uint8_t pin[32] = {};
    int client_cert = 0;              // server: 0 none, 1 verify if sent, 2 required
    bool insecure = false;            // client: no verification at all
};

class tls_config;

// Parses the files. NULL on failure with *err (TRUFLUX_EINVAL, TRUFLUX_ENOMEM) and *detail
// naming the file and what is wrong with it.
tls_config *tls_config_new(const tls_params &p, int *err, std::string *detail);
void tls_config_free(tls_config *cfg);
// For tests: offer or accept only the suite of this IANA name (as mbedTLS spells it, e.g.
// "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256"). 0, or TRUFLUX_EINVAL for an unknown name.
int tls_config_only_suite(tls_config *cfg, const char *name);
// For tests: whether sessions created from now on may switch to tls_record (default true);
// false keeps mbedTLS's own record layer, the reference the fast path is tested against.
extern std::atomic<bool> tls_fast_records;

// The bytes under a session.
class tls_bio {
public:
    virtual ~tls_bio() = default;
    // Takes up to n bytes: the count taken (> 0), TLS_WANT_WRITE, or a negative error.
    virtual ssize_t send(const uint8_t *p, size_t n) = 0;
    // Gives up to n bytes: > 0, 0 at the end of the stream, TLS_WANT_READ, or an error.
    virtual ssize_t recv(uint8_t *p, size_t n) = 0;
    // Optional: n contiguous bytes at the end of what the bio holds for sending, which the
    // next send_commit(n) appends as if sent (records are then sealed in place, with no
    // copy); NULL when the bio cannot (send() is used then). Only after the handshake.
    virtual uint8_t *send_space(size_t) { return nullptr; }
    virtual void send_commit(size_t) {}
};

class tls_session {
public:
    // A session of cfg (which must outlive it) over bio (borrowed). `name` is the server
    // name a client verifies the certificate against and sends (SNI); empty for none.
    // NULL on failure with *err set.
    static tls_session *create(tls_config *cfg, const std::string &name, tls_bio *bio,
                               int *err);
    ~tls_session();
    tls_session(const tls_session &) = delete;
    tls_session &operator=(const tls_session &) = delete;

    // 0 when the handshake is done, TLS_WANT_*, or TRUFLUX_ECERT (the peer's certificate
    // did not verify), TRUFLUX_EPIN (it is not the pinned one), TRUFLUX_EHANDSHAKE (any
    // other failure: no common version or suite, a bad message, an alert),
    // TRUFLUX_ECONNRESET / TRUFLUX_EEOF (the bio ended). error_detail() says more.
    int handshake();
    // Application data: > 0 bytes, 0 at the peer's close_notify or the end of the bio,
    // TLS_WANT_*, or an error code.
    ssize_t read(uint8_t *buf, size_t len);
    // Encrypts up to len bytes: the count taken, TLS_WANT_*, or an error code. At most one
    // 16 KiB record, except on the fast path over a bio with send_space(), which takes up
    // to TLS_WRITE_BATCH bytes (several records) at once. After TLS_WANT_WRITE call again
    // with the same data: the record already sealed is sent first and its length returned.
    ssize_t write(const uint8_t *buf, size_t len);
    // write() over the octets of iov[0..n) in order, as if contiguous, up to TLS_WRITE_BATCH
    // (tls_record::writev). Only with fast_records(): TRUFLUX_ENOTSUP otherwise (mbedTLS's
    // record layer seals from one buffer).
    ssize_t writev(const iovec *iov, int n);
    // The connection's periodic tick: with fast_records(), frees the record keys' working
    // state unused since the last call (tfc::aead::trim).
    void trim();
    // Decrypted bytes, or received records, not yet returned by read().
    bool pending() const;
    // Sends close_notify (best effort).
    void close_notify();
    // Whether application data goes through tls_record (after the handshake).
    bool fast_records() const;
    // Bytes of record buffer the session holds now with fast_records() (0 while no record
    // of it is half received, unreturned or half sent).
    size_t record_bytes_held() const;
    // The negotiated suite's name, as mbedTLS spells it.
    const char *suite() const;
    // For tests playing a misbehaving peer: seals one record of any content type (only
    // with fast_records()): n, or an error code (TRUFLUX_ENOTSUP without the fast path).
    ssize_t send_record_for_test(uint8_t type, const uint8_t *p, size_t n);
    // Why the last call failed, for humans ("" when nothing to add).
    const char *error_detail() const { return detail_.c_str(); }

    struct impl;

private:
    tls_session() = default;
    int fail(int code, int mbed_rc, const char *what);

    impl *p_ = nullptr;
    std::string detail_;
};

}  // namespace tfc
