// lib/crypto: TLS 1.2 over mbedTLS (see tls_engine.h). The transport always keeps the
// verification decision to itself (mbedTLS runs in "optional" mode on the client and
// reports, and this file decides after the handshake), so that a pinned certificate can
// stand without a CA and each failure gets its own code.
//
// Once the handshake is done, application data goes through tls_record (tfc::aead) when
// the suite is one it implements: mbedTLS hands over the key block (export callback) and
// the sequence numbers, and its context is freed.
#include "crypto/tls_engine.h"

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_internal.h>
#include <mbedtls/x509_crt.h>

#include <cstring>
#include <new>

#include <truflux/error.h>

#include "crypto/backend.h"
#include "crypto/tls_record.h"

namespace tfc {

std::atomic<bool> tls_fast_records{true};


namespace {

// ECDHE key exchange and AEAD only, strongest first.
const int SUITES[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    0,
};

const char SYSTEM_CA[] = "/etc/ssl/certs/ca-certificates.crt";

int rng(void *, unsigned char *out, size_t len) {
    return random_bytes(out, len) == 0 ? 0 : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

// mbedTLS lists verification failures one a line: one line, "; " between them.
std::string verify_text(uint32_t flags) {
    char info[512] = "";
    mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
    std::string out;
    for (const char *p = info; *p; p++) {
        if (*p != '\n') out += *p;
        else if (p[1]) out += "; ";
    }
    return out;
}

std::string mbed_text(int rc) {
    char buf[160];
    mbedtls_strerror(rc, buf, sizeof buf);
    return buf;
}

}  // namespace

class tls_config {
public:
    tls_config() {
        mbedtls_ssl_config_init(&conf);
        mbedtls_x509_crt_init(&own);
        mbedtls_x509_crt_init(&ca);
        mbedtls_pk_init(&key);
    }
    ~tls_config() {
        mbedtls_ssl_config_free(&conf);
        mbedtls_x509_crt_free(&own);
        mbedtls_x509_crt_free(&ca);
        mbedtls_pk_free(&key);  // wipes the private key
    }

    mbedtls_ssl_config conf;
    mbedtls_x509_crt own, ca;
    mbedtls_pk_context key;
    bool server = false, has_ca = false, has_pin = false, insecure = false;
    int client_cert = 0;
    uint8_t pin[32] = {};
    int only_suite[2] = {0, 0};  // tls_config_only_suite()
};

namespace {

// The session whose handshake runs on this thread: the export callback belongs to the
// config, which sessions on several threads share.
thread_local tls_session::impl *handshaking = nullptr;

int export_keys(void *, const unsigned char *, const unsigned char *kb, size_t maclen,
                size_t keylen, size_t ivlen, const unsigned char *, const unsigned char *,
                mbedtls_tls_prf_types);

}  // namespace

tls_config *tls_config_new(const tls_params &p, int *err, std::string *detail) {
    tls_config *c = new (std::nothrow) tls_config();
    if (!c) {
        *err = TRUFLUX_ENOMEM;
        return nullptr;
    }
    auto fail = [&](const std::string &why) {
        *err = TRUFLUX_EINVAL;
        *detail = why;
        delete c;
        return nullptr;
    };
    c->server = p.server;
    c->has_pin = p.has_pin;
    memcpy(c->pin, p.pin, sizeof c->pin);
    c->insecure = p.insecure;
    c->client_cert = p.client_cert;
    int rc = mbedtls_ssl_config_defaults(&c->conf,
                                         p.server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                         MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc) return fail("TLS configuration: " + mbed_text(rc));
    mbedtls_ssl_conf_rng(&c->conf, rng, nullptr);
    mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&c->conf, SUITES);
    mbedtls_ssl_conf_renegotiation(&c->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    mbedtls_ssl_conf_export_keys_ext_cb(&c->conf, export_keys, nullptr);

    if (!p.cert_file.empty() || !p.key_file.empty()) {
        if (p.cert_file.empty() || p.key_file.empty())
            return fail("TLS: a certificate needs its key and a key its certificate");
        rc = mbedtls_x509_crt_parse_file(&c->own, p.cert_file.c_str());
        if (rc) return fail("TLS certificate " + p.cert_file + ": " + mbed_text(rc));
        rc = mbedtls_pk_parse_keyfile(&c->key, p.key_file.c_str(), nullptr);
        if (rc) return fail("TLS key " + p.key_file + ": " + mbed_text(rc));
        rc = mbedtls_ssl_conf_own_cert(&c->conf, &c->own, &c->key);
        if (rc) return fail("TLS certificate and key: " + mbed_text(rc));
    } else if (p.server) {
        return fail("a TLS server needs a certificate and its key (TRUFLUX_OPT_TLS_CERT_FILE, "
                    "TRUFLUX_OPT_TLS_KEY_FILE)");
    }

    std::string ca = p.ca_file;
    // A client with neither CA nor pin trusts what the system trusts.
    if (ca.empty() && !p.server && !p.has_pin && !p.insecure) ca = SYSTEM_CA;
    if (!ca.empty()) {
        rc = mbedtls_x509_crt_parse_file(&c->ca, ca.c_str());
        if (rc < 0) return fail("TLS CA file " + ca + ": " + mbed_text(rc));
        mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, nullptr);
        c->has_ca = true;
    }
    int mode = MBEDTLS_SSL_VERIFY_NONE;
    if (!p.server && !p.insecure) mode = MBEDTLS_SSL_VERIFY_OPTIONAL;
    if (p.server && p.client_cert > 0) {
        if (!c->has_ca)
            return fail("TLS: verifying client certificates needs a CA file "
                        "(TRUFLUX_OPT_TLS_CA_FILE)");
        mode = p.client_cert == 2 ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_OPTIONAL;
    }
    mbedtls_ssl_conf_authmode(&c->conf, mode);
    return c;
}

void tls_config_free(tls_config *cfg) { delete cfg; }

int tls_config_only_suite(tls_config *cfg, const char *name) {
    int id = mbedtls_ssl_get_ciphersuite_id(name);
    if (id == 0) return TRUFLUX_EINVAL;
    cfg->only_suite[0] = id;
    mbedtls_ssl_conf_ciphersuites(&cfg->conf, cfg->only_suite);
    return 0;
}

struct tls_session::impl {
    mbedtls_ssl_context *ssl = nullptr;  // until the switch (see drop_ssl)
    tls_config *cfg = nullptr;
    tls_bio *bio = nullptr;
    int bio_err = 0;
    bool pin_ok = false;
    bool done = false;
    bool fast_allowed = false;  // tls_fast_records when the session was made
    // The key block of this session's handshake (export_keys), until tls_record has it.
    bool have_keys = false;
    size_t kb_iv = 0;
    uint8_t kb[2 * KEY_LEN + 2 * IV_LEN] = {};
    tls_record *rec = nullptr;  // application data after the switch
    // After the switch mbedTLS's context is freed (the context itself, its 16 KiB record
    // buffers, the peer's certificate chain, the session): what is asked of it later is
    // kept here.
    const char *suite = nullptr;

    void drop_ssl() {
        if (!ssl) return;
        mbedtls_ssl_free(ssl);
        delete ssl;
        ssl = nullptr;
    }

    ~impl() {
        delete rec;
        wipe(kb, sizeof kb);
    }
};

namespace {

int export_keys(void *, const unsigned char *, const unsigned char *kb, size_t maclen,
                size_t keylen, size_t ivlen, const unsigned char *, const unsigned char *,
                mbedtls_tls_prf_types) {
    tls_session::impl *p = handshaking;
    if (!p) return 0;
    p->have_keys = false;
    // AEAD suites only (no MAC keys); 256-bit keys, the size tfc::aead takes. RFC 5246
    // 6.3: client key, server key, client IV, server IV (after the empty MAC keys).
    if (maclen != 0 || keylen != KEY_LEN || (ivlen != 4 && ivlen != IV_LEN)) return 0;
    memcpy(p->kb, kb, 2 * keylen + 2 * ivlen);
    p->kb_iv = ivlen;
    p->have_keys = true;
    return 0;
}

uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

// Hands application data to tls_record when every condition holds; otherwise mbedTLS
// goes on doing the records.
void switch_records(tls_session::impl *p) {
    struct wipe_on_return {
        uint8_t *kb;
        ~wipe_on_return() { wipe(kb, sizeof(tls_session::impl::kb)); }
    } kb_guard{p->kb};
    bool have = p->have_keys;
    p->have_keys = false;
    if (!p->fast_allowed || !have || !p->ssl->session) return;
    tls_keys k;
    size_t iv;
    switch (p->ssl->session->ciphersuite) {
    case MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:
    case MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
        k.c = cipher::aesgcm;
        iv = 4;
        break;
    case MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
    case MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
        k.c = cipher::chachapoly;
        iv = IV_LEN;
        break;
    default:
        return;
    }
    if (p->kb_iv != iv) return;
    // Nothing of the record layer may stay behind in mbedTLS.
    if (mbedtls_ssl_get_bytes_avail(p->ssl) || mbedtls_ssl_check_pending(p->ssl) ||
        p->ssl->in_left || p->ssl->out_left || !p->ssl->in_ctr)
        return;
    const uint8_t *ck = p->kb, *sk = p->kb + KEY_LEN, *civ = p->kb + 2 * KEY_LEN,
                  *siv = civ + iv;
    bool server = p->cfg->server;
    memcpy(k.write_key, server ? sk : ck, KEY_LEN);
    memcpy(k.read_key, server ? ck : sk, KEY_LEN);
    memcpy(k.write_iv, server ? siv : civ, iv);
    memcpy(k.read_iv, server ? civ : siv, iv);
    k.write_seq = get64(p->ssl->cur_out_ctr);
    k.read_seq = get64(p->ssl->in_ctr);
    auto *rec = new (std::nothrow) tls_record();
    if (!rec) return;
    if (rec->init(k, p->bio) != 0) {
        delete rec;
        return;
    }
    p->rec = rec;
    // Nothing of mbedTLS's is used again: its record buffers (2 x ~16.7 KiB), the peer's
    // certificates and its copy of the keys go now. (The suite's name is static data.)
    p->suite = mbedtls_ssl_get_ciphersuite(p->ssl);
    p->drop_ssl();
}

int bio_send(void *ctx, const unsigned char *buf, size_t len) {
    auto *p = static_cast<tls_session::impl *>(ctx);
    ssize_t n = p->bio->send(buf, len);
    if (n > 0) return (int)n;
    if (n == 0 || n == TLS_WANT_WRITE) return MBEDTLS_ERR_SSL_WANT_WRITE;
    p->bio_err = (int)n;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

int bio_recv(void *ctx, unsigned char *buf, size_t len) {
    auto *p = static_cast<tls_session::impl *>(ctx);
    ssize_t n = p->bio->recv(buf, len);
    if (n >= 0) return (int)n;
    if (n == TLS_WANT_READ) return MBEDTLS_ERR_SSL_WANT_READ;
    p->bio_err = (int)n;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

// Called for each certificate of the peer's chain, the peer's own last (depth 0).
int verify(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
    auto *p = static_cast<tls_session::impl *>(ctx);
    const tls_config *cfg = p->cfg;
    if (!cfg->has_pin) return 0;
    if (depth == 0) {
        uint8_t d[HASH_LEN];
        span s = {crt->raw.p, crt->raw.len};
        p->pin_ok = hash_sha256(&s, 1, d) == 0 && memcmp(d, cfg->pin, HASH_LEN) == 0;
    }
    // Without a CA the pin alone vouches for the certificate (and its name).
    if (!cfg->has_ca) *flags = 0;
    return 0;
}

}  // namespace

tls_session *tls_session::create(tls_config *cfg, const std::string &name, tls_bio *bio,
                                 int *err) {
    tls_session *s = new (std::nothrow) tls_session();
    impl *p = s ? new (std::nothrow) impl() : nullptr;
    if (!p) {
        delete s;
        *err = TRUFLUX_ENOMEM;
        return nullptr;
    }
    s->p_ = p;
    p->cfg = cfg;
    p->bio = bio;
    p->fast_allowed = tls_fast_records;
    p->ssl = new (std::nothrow) mbedtls_ssl_context;
    if (!p->ssl) {
        delete s;
        *err = TRUFLUX_ENOMEM;
        return nullptr;
    }
    mbedtls_ssl_init(p->ssl);
    int rc = mbedtls_ssl_setup(p->ssl, &cfg->conf);
    if (rc == 0 && !cfg->server && !name.empty())
        rc = mbedtls_ssl_set_hostname(p->ssl, name.c_str());
    if (rc != 0) {
        delete s;
        *err = rc == MBEDTLS_ERR_SSL_ALLOC_FAILED ? TRUFLUX_ENOMEM : TRUFLUX_EINVAL;
        return nullptr;
    }
    mbedtls_ssl_set_bio(p->ssl, p, bio_send, bio_recv, nullptr);
    mbedtls_ssl_set_verify(p->ssl, verify, p);
    return s;
}

tls_session::~tls_session() {
    if (p_) p_->drop_ssl();
    delete p_;
}

int tls_session::fail(int code, int mbed_rc, const char *what) {
    detail_ = what;
    if (mbed_rc) detail_ += ": " + mbed_text(mbed_rc);
    return code;
}

int tls_session::handshake() {
    if (p_->done) return 0;
    handshaking = p_;
    int rc = mbedtls_ssl_handshake(p_->ssl);
    handshaking = nullptr;
    if (rc == MBEDTLS_ERR_SSL_WANT_READ) return (int)TLS_WANT_READ;
    if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) return (int)TLS_WANT_WRITE;
    if (rc == MBEDTLS_ERR_NET_SEND_FAILED || rc == MBEDTLS_ERR_NET_RECV_FAILED)
        return fail(p_->bio_err ? p_->bio_err : TRUFLUX_EIO, 0, "TLS handshake: connection lost");
    if (rc == MBEDTLS_ERR_SSL_CONN_EOF)
        return fail(TRUFLUX_EEOF, 0, "TLS handshake: the peer closed the connection");
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED || rc == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE) {
        uint32_t flags = mbedtls_ssl_get_verify_result(p_->ssl);
        std::string info = flags && flags != (uint32_t)-1 ? verify_text(flags) : std::string();
        detail_ = std::string("TLS: the peer's certificate did not verify") +
                  (!info.empty() ? ": " + info : std::string(" (none was sent)"));
        return TRUFLUX_ECERT;
    }
    if (rc != 0) return fail(TRUFLUX_EHANDSHAKE, rc, "TLS handshake failed");

    // The verification mbedTLS only reported (optional mode) is decided here.
    const tls_config *cfg = p_->cfg;
    bool checks = cfg->server ? cfg->client_cert == 1 : !cfg->insecure;
    if (checks && mbedtls_ssl_get_peer_cert(p_->ssl)) {
        if (cfg->has_pin && !p_->pin_ok) {
            mbedtls_ssl_send_alert_message(p_->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                           MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
            detail_ = "TLS: the server's certificate is not the pinned one (SHA-256 differs)";
            return TRUFLUX_EPIN;
        }
        uint32_t flags = mbedtls_ssl_get_verify_result(p_->ssl);
        if (flags != 0) {
            mbedtls_ssl_send_alert_message(p_->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                           MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
            detail_ = "TLS: the peer's certificate did not verify: " + verify_text(flags);
            return TRUFLUX_ECERT;
        }
    } else if (checks && !cfg->server) {
        return fail(TRUFLUX_ECERT, 0, "TLS: the server sent no certificate");
    }
    p_->done = true;
    switch_records(p_);
    return 0;
}

ssize_t tls_session::read(uint8_t *buf, size_t len) {
    if (p_->rec) {
        ssize_t r = p_->rec->read(buf, len);
        if (r < 0 && r != TLS_WANT_READ && r != TLS_WANT_WRITE) detail_ = p_->rec->detail();
        return r;
    }
    int rc = mbedtls_ssl_read(p_->ssl, buf, len);
    if (rc > 0) return rc;
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF)
        return 0;
    if (rc == MBEDTLS_ERR_SSL_WANT_READ) return TLS_WANT_READ;
    if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) return TLS_WANT_WRITE;
    if (rc == MBEDTLS_ERR_NET_RECV_FAILED || rc == MBEDTLS_ERR_NET_SEND_FAILED)
        return p_->bio_err ? p_->bio_err : TRUFLUX_EIO;
    return fail(TRUFLUX_EIO, rc, "TLS read");
}

ssize_t tls_session::write(const uint8_t *buf, size_t len) {
    if (p_->rec) {
        ssize_t r = p_->rec->write(buf, len);
        if (r < 0 && r != TLS_WANT_READ && r != TLS_WANT_WRITE) detail_ = p_->rec->detail();
        return r;
    }
    int rc = mbedtls_ssl_write(p_->ssl, buf, len);
    if (rc >= 0) return rc;
    if (rc == MBEDTLS_ERR_SSL_WANT_READ) return TLS_WANT_READ;
    if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) return TLS_WANT_WRITE;
    if (rc == MBEDTLS_ERR_NET_RECV_FAILED || rc == MBEDTLS_ERR_NET_SEND_FAILED)
        return p_->bio_err ? p_->bio_err : TRUFLUX_EIO;
    return fail(TRUFLUX_EIO, rc, "TLS write");
}

ssize_t tls_session::writev(const iovec *iov, int n) {
    if (!p_->rec) return TRUFLUX_ENOTSUP;
    ssize_t r = p_->rec->writev(iov, n);
    if (r < 0 && r != TLS_WANT_READ && r != TLS_WANT_WRITE) detail_ = p_->rec->detail();
    return r;
}

void tls_session::trim() {
    if (p_->rec) p_->rec->trim();
}

bool tls_session::pending() const {
    if (p_->rec) return p_->rec->pending();
    return mbedtls_ssl_get_bytes_avail(p_->ssl) > 0 || mbedtls_ssl_check_pending(p_->ssl);
}

void tls_session::close_notify() {
    if (p_->rec) p_->rec->close_notify();
    else if (p_->done) mbedtls_ssl_close_notify(p_->ssl);
}

bool tls_session::fast_records() const { return p_->rec != nullptr; }

size_t tls_session::record_bytes_held() const { return p_->rec ? p_->rec->held() : 0; }

const char *tls_session::suite() const {
    return p_->ssl ? mbedtls_ssl_get_ciphersuite(p_->ssl) : p_->suite;
}

ssize_t tls_session::send_record_for_test(uint8_t type, const uint8_t *p, size_t n) {
    if (!p_->rec) return TRUFLUX_ENOTSUP;
    return p_->rec->send_record(type, p, n);
}

}  // namespace tfc
