// lib/crypto/tls_record: application-data records sealed and opened with tfc::aead after an
// mbedTLS handshake, against mbedTLS's own record layer (a session made with
// tfc::tls_fast_records off) over an in-memory byte pipe: both directions, both ciphers,
// record-boundary sizes, a bio that moves one byte at a time, several records sealed in
// one call into the bio's memory, gather writes from many vectors, tampering, truncation,
// oversize records, close_notify and refused renegotiation.
// Before cmocka.h, whose fail() macro would rewrite tls_session's member of that name.
#include "crypto/tls_engine.h"
#include "crypto/tls_record.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka 1.1.5 (Debian 12) declares its functions without extern "C".
extern "C" {
#include <cmocka.h>
}

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <truflux/error.h>

#include "support/tfpki.h"

namespace {

const char AES256[] = "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384";
const char CHACHA[] = "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256";
const char AES128[] = "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256";
const char *const FAST_SUITES[] = {AES256, CHACHA};

std::string g_pki;  // the certificates' directory; empty when they could not be made

// One direction of the in-memory connection.
struct pipe_bytes {
    std::deque<uint8_t> q;
    bool closed = false;
};

class mem_bio final : public tfc::tls_bio {
public:
    mem_bio(pipe_bytes *tx, pipe_bytes *rx) : tx_(tx), rx_(rx) {}
    size_t chunk = 0;     // most bytes per call; 0: no limit
    size_t room = SIZE_MAX;  // bytes send() takes from now on (then TLS_WANT_WRITE)
    bool space = false;   // offers send_space(), as the transport does
    uint8_t *send_space(size_t n) override {
        if (!space) return nullptr;
        staging_.assign(n, 0xEE);
        return staging_.data();
    }
    void send_commit(size_t n) override {
        assert_true(n <= staging_.size());
        tx_->q.insert(tx_->q.end(), staging_.begin(), staging_.begin() + (long)n);
        staging_.clear();
    }
    ssize_t send(const uint8_t *p, size_t n) override {
        if (chunk && n > chunk) n = chunk;
        if (room == 0) return tfc::TLS_WANT_WRITE;
        if (room != SIZE_MAX) {
            n = std::min(n, room);
            room -= n;
        }
        tx_->q.insert(tx_->q.end(), p, p + n);
        return (ssize_t)n;
    }
    ssize_t recv(uint8_t *p, size_t n) override {
        if (rx_->q.empty()) return rx_->closed ? 0 : tfc::TLS_WANT_READ;
        if (chunk && n > chunk) n = chunk;
        if (n > rx_->q.size()) n = rx_->q.size();
        std::copy(rx_->q.begin(), rx_->q.begin() + (long)n, p);
        rx_->q.erase(rx_->q.begin(), rx_->q.begin() + (long)n);
        return (ssize_t)n;
    }

private:
    pipe_bytes *tx_, *rx_;
    std::vector<uint8_t> staging_;
};

struct configs {
    tfc::tls_config *server = nullptr, *client = nullptr;
    ~configs() {
        tfc::tls_config_free(server);
        tfc::tls_config_free(client);
    }
};

// A server and a client session over two pipes; `fast` says which may use tls_record.
struct pair {
    configs cfg;
    pipe_bytes s2c, c2s;
    mem_bio sbio{&s2c, &c2s}, cbio{&c2s, &s2c};
    std::unique_ptr<tfc::tls_session> server, client;
};

std::unique_ptr<pair> make_pair(const char *suite, bool server_fast, bool client_fast,
                                size_t chunk = 0) {
    auto p = std::make_unique<pair>();
    int err = 0;
    std::string detail;
    tfc::tls_params sp;
    sp.server = true;
    sp.cert_file = g_pki + "/server.pem";
    sp.key_file = g_pki + "/server.key";
    p->cfg.server = tfc::tls_config_new(sp, &err, &detail);
    assert_non_null(p->cfg.server);
    tfc::tls_params cp;
    cp.ca_file = g_pki + "/ca.pem";
    p->cfg.client = tfc::tls_config_new(cp, &err, &detail);
    assert_non_null(p->cfg.client);
    assert_int_equal(tfc::tls_config_only_suite(p->cfg.client, suite), 0);
    p->sbio.chunk = p->cbio.chunk = chunk;

    tfc::tls_fast_records = server_fast;
    p->server.reset(tfc::tls_session::create(p->cfg.server, "", &p->sbio, &err));
    tfc::tls_fast_records = client_fast;
    p->client.reset(tfc::tls_session::create(p->cfg.client, "localhost", &p->cbio, &err));
    tfc::tls_fast_records = true;
    assert_non_null(p->server.get());
    assert_non_null(p->client.get());

    int rs = -1, rc = -1;
    for (int i = 0; i < 200000 && (rs != 0 || rc != 0); i++) {
        if (rc != 0) rc = p->client->handshake();
        if (rs != 0) rs = p->server->handshake();
        if (rc != 0 && rc != tfc::TLS_WANT_READ && rc != tfc::TLS_WANT_WRITE)
            fail_msg("client handshake: %d %s", rc, p->client->error_detail());
        if (rs != 0 && rs != tfc::TLS_WANT_READ && rs != tfc::TLS_WANT_WRITE)
            fail_msg("server handshake: %d %s", rs, p->server->error_detail());
    }
    assert_int_equal(rs, 0);
    assert_int_equal(rc, 0);
    assert_string_equal(p->client->suite(), suite);
    return p;
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    uint32_t x = 0x9e3779b9u * (seed + 1);
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        v[i] = (uint8_t)(x >> 24);
    }
    return v;
}

// Writes data on `from` and reads it on `to` (read buffers of `rbuf` bytes), interleaved,
// until everything arrived; fails the test on an error or when it makes no progress.
// Up to `reads` reads from `to` into `got` (stopping when it wants more input); whether any
// returned bytes. Any error fails the test.
bool read_some(tfc::tls_session *to, std::vector<uint8_t> &buf, std::vector<uint8_t> &got,
               int reads) {
    bool moved = false;
    for (int i = 0; i < reads; i++) {
        ssize_t r = to->read(buf.data(), buf.size());
        if (r == tfc::TLS_WANT_READ) break;
        if (r <= 0) fail_msg("read: %zd %s", r, to->error_detail());
        got.insert(got.end(), buf.data(), buf.data() + r);
        moved = true;
    }
    return moved;
}

void transfer(tfc::tls_session *from, tfc::tls_session *to, const std::vector<uint8_t> &data,
              size_t rbuf = 65536) {
    std::vector<uint8_t> got, buf(rbuf);
    size_t off = 0;
    int idle = 0;
    while (got.size() < data.size() || off < data.size()) {
        bool moved = false;
        if (off < data.size()) {
            ssize_t n = from->write(data.data() + off, data.size() - off);
            if (n > 0) {
                off += (size_t)n;
                moved = true;
            } else if (n != tfc::TLS_WANT_WRITE) {
                fail_msg("write: %zd %s", n, from->error_detail());
            }
        }
        if (read_some(to, buf, got, 4)) moved = true;
        idle = moved ? 0 : idle + 1;
        if (idle > 100) fail_msg("no progress at %zu of %zu bytes", got.size(), data.size());
    }
    assert_int_equal(got.size(), data.size());
    assert_true(got == data);
    assert_false(to->pending());
    // Everything read: the reader keeps no record buffer of its own (idle connections hold
    // none); the writer neither, once its bio took everything.
    assert_int_equal(to->record_bytes_held(), 0);
}

// Reads until something other than TLS_WANT_READ comes back (bounded).
ssize_t read_result(tfc::tls_session *s, uint8_t *buf, size_t len) {
    for (int i = 0; i < 10; i++) {
        ssize_t r = s->read(buf, len);
        if (r != tfc::TLS_WANT_READ) return r;
    }
    return tfc::TLS_WANT_READ;
}

#define NEED_PKI()                                                          \
    do {                                                                    \
        if (g_pki.empty()) {                                                \
            fprintf(stderr, "  skipped: no test certificates (python3, openssl)\n"); \
            skip();                                                         \
        }                                                                   \
    } while (0)

int pki_setup(void **) {
    char dir[512];
    int rc = tfs_pki_make(dir, sizeof dir, "tls-record-pki");
    g_pki = dir;
    return rc < 0 ? -1 : 0;
}

int pki_teardown(void **) {
    tfs_pki_remove(g_pki.c_str());
    return 0;
}

void test_fast_path_chosen_when_it_should(void **) {
    NEED_PKI();
    for (const char *suite : FAST_SUITES) {
        auto p = make_pair(suite, true, true);
        assert_true(p->server->fast_records());
        assert_true(p->client->fast_records());
        auto off = make_pair(suite, false, false);
        assert_false(off->server->fast_records());
        assert_false(off->client->fast_records());
    }
    // A suite tfc::aead does not implement stays with mbedTLS, and still works.
    auto p = make_pair(AES128, true, true);
    assert_false(p->server->fast_records());
    assert_false(p->client->fast_records());
    transfer(p->client.get(), p->server.get(), pattern(40000, 1));
}

void test_against_mbedtls_records_both_ways(void **) {
    NEED_PKI();
    const size_t sizes[] = {1, 16383, 16384, 16385, 1 << 20};
    for (const char *suite : FAST_SUITES) {
        for (int fast_server = 0; fast_server < 2; fast_server++) {
            auto p = make_pair(suite, fast_server, !fast_server);
            assert_int_equal(p->server->fast_records(), fast_server);
            assert_int_equal(p->client->fast_records(), !fast_server);
            uint8_t seed = 0;
            for (size_t n : sizes) {
                transfer(p->client.get(), p->server.get(), pattern(n, seed++));
                transfer(p->server.get(), p->client.get(), pattern(n, seed++));
            }
            // Small read buffers: plaintext kept in the record buffer and handed out in
            // pieces, with pending() telling there is more.
            transfer(p->client.get(), p->server.get(), pattern(50000, seed++), 1000);
            transfer(p->server.get(), p->client.get(), pattern(50000, seed++), 7);
        }
        auto both = make_pair(suite, true, true);
        transfer(both->client.get(), both->server.get(), pattern(1 << 20, 9));
        transfer(both->server.get(), both->client.get(), pattern(1 << 20, 10));
    }
}

void test_batched_writes_into_bio_space(void **) {
    NEED_PKI();
    for (const char *suite : FAST_SUITES) {
        for (int fast_server = 0; fast_server < 2; fast_server++) {
            auto p = make_pair(suite, fast_server, !fast_server);
            p->sbio.space = p->cbio.space = true;
            tfc::tls_session *fast = fast_server ? p->server.get() : p->client.get();
            auto big = pattern(1 << 20, 11);
            // Several records sealed in one call, straight into the bio's memory.
            assert_int_equal(fast->write(big.data(), big.size()), (ssize_t)tfc::TLS_WRITE_BATCH);
            assert_int_equal(fast->write(big.data(), 20000), 20000);
            std::vector<uint8_t> expect(big.begin(), big.begin() + tfc::TLS_WRITE_BATCH);
            expect.insert(expect.end(), big.begin(), big.begin() + 20000);
            tfc::tls_session *other = fast_server ? p->client.get() : p->server.get();
            std::vector<uint8_t> got, buf(70000);
            for (int i = 0; i < 100 && got.size() < expect.size(); i++) {
                ssize_t r = other->read(buf.data(), buf.size());
                if (r == tfc::TLS_WANT_READ) continue;
                assert_true(r > 0);
                got.insert(got.end(), buf.data(), buf.data() + r);
            }
            assert_true(got == expect);
            uint8_t seed = 20;
            for (size_t n : {(size_t)1, (size_t)16384, (size_t)16385, (size_t)65537,
                             (size_t)1 << 20}) {
                transfer(p->client.get(), p->server.get(), pattern(n, seed++));
                transfer(p->server.get(), p->client.get(), pattern(n, seed++));
            }
        }
    }
}

void test_empty_write_sends_nothing(void **) {
    NEED_PKI();
    auto p = make_pair(AES256, true, true);
    uint8_t b[16];
    assert_int_equal(p->client->write(b, 0), 0);
    assert_true(p->c2s.q.empty());
    assert_int_equal(p->server->read(b, sizeof b), tfc::TLS_WANT_READ);
}

void test_one_byte_at_a_time(void **) {
    NEED_PKI();
    for (const char *suite : FAST_SUITES) {
        for (int fast_server = 0; fast_server < 2; fast_server++) {
            auto p = make_pair(suite, fast_server, !fast_server, 1);
            assert_true(p->server->fast_records() || p->client->fast_records());
            transfer(p->client.get(), p->server.get(), pattern(16385, 3));
            transfer(p->server.get(), p->client.get(), pattern(16385, 4));
        }
        // Half a record sent, half received: each side keeps it in a buffer of its own (the
        // thread's buffers serve other connections between calls), and gives it back after.
        auto p = make_pair(suite, true, true);
        std::vector<uint8_t> data = pattern(1000, 5), buf(2000);
        p->cbio.room = 300;  // the bio takes 300 bytes, then is full
        ssize_t w = p->client->write(data.data(), data.size());
        assert_int_equal(w, tfc::TLS_WANT_WRITE);
        assert_true(p->client->record_bytes_held() > 0);
        assert_int_equal(p->server->read(buf.data(), buf.size()), tfc::TLS_WANT_READ);
        assert_true(p->server->record_bytes_held() > 0);
        p->cbio.room = SIZE_MAX;
        w = p->client->write(data.data(), data.size());  // the same data, as after WANT_WRITE
        assert_int_equal(w, (ssize_t)data.size());
        assert_int_equal(p->client->record_bytes_held(), 0);
        std::vector<uint8_t> got;
        for (int i = 0; i < 10 && got.size() < data.size(); i++) {
            ssize_t r = p->server->read(buf.data(), buf.size());
            if (r > 0) got.insert(got.end(), buf.data(), buf.data() + r);
        }
        assert_true(got == data);
        assert_int_equal(p->server->record_bytes_held(), 0);
        assert_int_equal(p->client->record_bytes_held(), 0);
    }
}

void test_many_records_in_one_read(void **) {
    NEED_PKI();
    auto p = make_pair(CHACHA, false, true);
    std::vector<uint8_t> all;
    for (int i = 0; i < 20; i++) {
        auto part = pattern(100 + i, (uint8_t)i);
        assert_int_equal(p->server->write(part.data(), part.size()), (ssize_t)part.size());
        all.insert(all.end(), part.begin(), part.end());
    }
    std::vector<uint8_t> buf(65536);
    ssize_t r = p->client->read(buf.data(), buf.size());
    assert_int_equal(r, (ssize_t)all.size());
    assert_memory_equal(buf.data(), all.data(), all.size());
    assert_false(p->client->pending());
    // A small buffer leaves opened plaintext and complete records behind: pending().
    for (int i = 0; i < 3; i++) assert_int_equal(p->server->write(all.data(), 100), 100);
    assert_int_equal(p->client->read(buf.data(), 10), 10);
    assert_true(p->client->pending());
    size_t got = 10;
    while (p->client->pending()) {
        r = p->client->read(buf.data(), 64);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_int_equal(got, 300);
    // Full records beyond what the record buffer holds: one call reads on while the bio
    // fills the buffer, rather than returning one record at a time.
    auto three = pattern(3 * 16384, 12);
    size_t off = 0;
    while (off < three.size()) {
        ssize_t n = p->server->write(three.data() + off, three.size() - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
    r = p->client->read(buf.data(), buf.size());
    assert_int_equal(r, (ssize_t)three.size());
    assert_memory_equal(buf.data(), three.data(), three.size());
}

// The reader under test is always the fast one; the writer either.
void test_tampered_record_is_bad_record_mac(void **) {
    NEED_PKI();
    for (const char *suite : FAST_SUITES) {
        for (int fast_writer = 0; fast_writer < 2; fast_writer++) {
            auto p = make_pair(suite, true, fast_writer);
            auto data = pattern(3000, 5);
            assert_int_equal(p->client->write(data.data(), data.size()), 3000);
            p->c2s.q[tfc::TLS_HEADER + 100] ^= 0x01;
            uint8_t buf[4096];
            assert_int_equal(read_result(p->server.get(), buf, sizeof buf), TRUFLUX_EIO);
            assert_non_null(strstr(p->server->error_detail(), "bad_record_mac"));
            // Once failed, it stays failed.
            assert_int_equal(p->server->read(buf, sizeof buf), TRUFLUX_EIO);
            // The writer hears of it: a fatal alert.
            ssize_t r = read_result(p->client.get(), buf, sizeof buf);
            assert_true(r < 0 && r != tfc::TLS_WANT_READ);
        }
    }
}

void test_header_tampering_also_fails(void **) {
    NEED_PKI();
    auto p = make_pair(AES256, true, false);
    auto data = pattern(500, 6);
    assert_int_equal(p->client->write(data.data(), data.size()), 500);
    p->c2s.q[5 + 3] ^= 0x40;  // the explicit nonce
    uint8_t buf[1024];
    assert_int_equal(read_result(p->server.get(), buf, sizeof buf), TRUFLUX_EIO);
    assert_non_null(strstr(p->server->error_detail(), "bad_record_mac"));
}

void test_truncated_record(void **) {
    NEED_PKI();
    for (const char *suite : FAST_SUITES) {
        auto p = make_pair(suite, true, false);
        auto data = pattern(2000, 7);
        assert_int_equal(p->client->write(data.data(), data.size()), 2000);
        p->c2s.q.resize(p->c2s.q.size() - 10);
        p->c2s.closed = true;
        uint8_t buf[4096];
        assert_int_equal(read_result(p->server.get(), buf, sizeof buf), TRUFLUX_EIO);
        assert_non_null(strstr(p->server->error_detail(), "truncated"));
    }
    // The end of the stream between records is an end, as it is with mbedTLS.
    auto p = make_pair(AES256, true, true);
    p->c2s.closed = true;
    uint8_t buf[64];
    assert_int_equal(read_result(p->server.get(), buf, sizeof buf), 0);
}

void test_oversize_and_malformed_headers(void **) {
    NEED_PKI();
    struct {
        uint8_t hdr[5];
        const char *detail;
    } cases[] = {
        {{23, 3, 3, (16384 + 257) >> 8, (16384 + 257) & 0xff}, "record_overflow"},
        {{23, 3, 3, 0xff, 0xff}, "record_overflow"},
        {{23, 3, 1, 0, 40}, "version"},
        {{24, 3, 3, 0, 40}, "type 24"},
        {{20, 3, 3, 0, 1}, "type 20"},
        {{23, 3, 3, 0, 10}, "too short"},
    };
    for (auto &c : cases) {
        auto p = make_pair(CHACHA, true, true);
        p->c2s.q.insert(p->c2s.q.end(), c.hdr, c.hdr + 5);
        p->c2s.q.insert(p->c2s.q.end(), 16384 + 300, 0);
        uint8_t buf[256];
        assert_int_equal(read_result(p->server.get(), buf, sizeof buf), TRUFLUX_EIO);
        if (!strstr(p->server->error_detail(), c.detail))
            fail_msg("detail \"%s\" lacks \"%s\"", p->server->error_detail(), c.detail);
    }
    // Plaintext over 16384 bytes, correctly sealed, is refused after opening.
    auto p = make_pair(CHACHA, true, true);
    std::vector<uint8_t> big(16384 + 1, 1);
    assert_int_equal(p->client->send_record_for_test(tfc::TLS_APPLICATION_DATA, big.data(),
                                                     big.size()),
                     TRUFLUX_EINTERNAL);  // the writer itself will not make one
}

void test_close_notify_both_ways(void **) {
    NEED_PKI();
    for (const char *suite : FAST_SUITES) {
        for (int combo = 0; combo < 3; combo++) {
            // 0: fast server, mbedTLS client; 1: the other way; 2: both fast
            auto p = make_pair(suite, combo != 1, combo != 0);
            uint8_t buf[64];
            auto data = pattern(33, 8);
            assert_int_equal(p->server->write(data.data(), data.size()), 33);
            p->server->close_notify();
            assert_int_equal(read_result(p->client.get(), buf, sizeof buf), 33);
            assert_int_equal(read_result(p->client.get(), buf, sizeof buf), 0);
            if (p->client->fast_records())  // and it stays ended (mbedTLS reads on)
                assert_int_equal(p->client->read(buf, sizeof buf), 0);
            p->client->close_notify();
            assert_int_equal(read_result(p->server.get(), buf, sizeof buf), 0);
        }
    }
}

void test_alert_from_peer_is_named(void **) {
    NEED_PKI();
    auto p = make_pair(AES256, true, true);
    const uint8_t alert[2] = {2, 80};  // fatal internal_error
    assert_int_equal(p->client->send_record_for_test(tfc::TLS_ALERT, alert, 2), 2);
    uint8_t buf[64];
    assert_int_equal(read_result(p->server.get(), buf, sizeof buf), TRUFLUX_EIO);
    assert_non_null(strstr(p->server->error_detail(), "internal_error"));
}

void test_renegotiation_refused(void **) {
    NEED_PKI();
    const uint8_t hello_request[4] = {0, 0, 0, 0};
    // A client hello's start: the type and a length; what follows does not matter, it is
    // refused before being parsed.
    uint8_t client_hello[44] = {1, 0, 0, 40, 3, 3};
    for (const char *suite : FAST_SUITES) {
        // The server asks for a renegotiation: the fast client refuses, and data sent after
        // the request still arrives; the (fast) server then reads the refusal as an error.
        auto p = make_pair(suite, true, true);
        assert_int_equal(p->server->send_record_for_test(tfc::TLS_HANDSHAKE, hello_request, 4),
                         4);
        auto data = pattern(100, 9);
        assert_int_equal(p->server->write(data.data(), data.size()), 100);
        uint8_t buf[256];
        assert_int_equal(read_result(p->client.get(), buf, sizeof buf), 100);
        assert_memory_equal(buf, data.data(), 100);
        assert_false(p->s2c.q.size());
        assert_true(p->c2s.q.size() > 0);  // the warning alert
        assert_int_equal(read_result(p->server.get(), buf, sizeof buf), TRUFLUX_EIO);
        assert_non_null(strstr(p->server->error_detail(), "no_renegotiation"));

        // A client hello to the fast server: refused the same way; mbedTLS's client hears
        // no_renegotiation as a warning it ignores, so a fast client sends it here.
        auto q = make_pair(suite, true, true);
        assert_int_equal(q->client->send_record_for_test(tfc::TLS_HANDSHAKE, client_hello,
                                                         sizeof client_hello),
                         (ssize_t)sizeof client_hello);
        assert_int_equal(q->server->read(buf, sizeof buf), tfc::TLS_WANT_READ);
        assert_true(q->s2c.q.size() > 0);
        assert_int_equal(read_result(q->client.get(), buf, sizeof buf), TRUFLUX_EIO);
        assert_non_null(strstr(q->client->error_detail(), "no_renegotiation"));

        // The reference record layer refuses a fast server's hello request too.
        auto r = make_pair(suite, true, false);
        assert_int_equal(r->server->send_record_for_test(tfc::TLS_HANDSHAKE, hello_request, 4),
                         4);
        assert_int_equal(r->server->write(data.data(), data.size()), 100);
        assert_int_equal(read_result(r->client.get(), buf, sizeof buf), 100);
        assert_int_equal(read_result(r->server.get(), buf, sizeof buf), TRUFLUX_EIO);
        assert_non_null(strstr(r->server->error_detail(), "no_renegotiation"));

        // A peer that keeps asking (and need not read our refusals) is refused a few times,
        // then cut off: its requests cannot make our output grow without end.
        auto t = make_pair(suite, true, true);
        for (int i = 0; i < 10; i++)
            assert_int_equal(
                t->server->send_record_for_test(tfc::TLS_HANDSHAKE, hello_request, 4), 4);
        assert_int_equal(read_result(t->client.get(), buf, sizeof buf), TRUFLUX_EIO);
        assert_non_null(strstr(t->client->error_detail(), "kept asking to renegotiate"));
        size_t out = t->c2s.q.size();
        assert_true(out > 0 && out < 10 * 40);  // a few warnings and the fatal alert
    }
}

// Writes `pieces` (each its own allocation: nothing may rely on them being adjacent) with
// writev on `from`, each call from where the last one stopped, and reads on `to`, which
// must get exactly their concatenation. Returns the number of writev calls that took some.
size_t transfer_gather(tfc::tls_session *from, tfc::tls_session *to,
                       const std::vector<std::vector<uint8_t>> &pieces) {
    std::vector<uint8_t> expect, got, buf(65536);
    for (const auto &p : pieces) expect.insert(expect.end(), p.begin(), p.end());
    size_t at = 0, off = 0, calls = 0;
    auto skip_empty = [&] {
        while (at < pieces.size() && off == pieces[at].size()) {
            at++;
            off = 0;
        }
    };
    skip_empty();
    int idle = 0;
    while (got.size() < expect.size()) {
        bool moved = false;
        if (at < pieces.size()) {
            std::vector<iovec> v;
            for (size_t i = at; i < pieces.size(); i++) {
                size_t o = i == at ? off : 0;
                v.push_back({const_cast<uint8_t *>(pieces[i].data()) + o, pieces[i].size() - o});
            }
            ssize_t n = from->writev(v.data(), (int)v.size());
            if (n > 0) {
                assert_true((size_t)n <= tfc::TLS_WRITE_BATCH);
                calls++;
                moved = true;
                for (size_t left = (size_t)n; left;) {
                    assert_true(at < pieces.size());
                    size_t k = std::min(left, pieces[at].size() - off);
                    off += k;
                    left -= k;
                    skip_empty();
                }
            } else if (n != tfc::TLS_WANT_WRITE) {
                fail_msg("writev: %zd %s", n, from->error_detail());
            }
        }
        if (read_some(to, buf, got, 8)) moved = true;
        idle = moved ? 0 : idle + 1;
        if (idle > 100) fail_msg("no progress at %zu of %zu bytes", got.size(), expect.size());
    }
    assert_int_equal(got.size(), expect.size());
    assert_true(got == expect);
    assert_int_equal(from->record_bytes_held(), 0);
    return calls;
}

std::vector<std::vector<uint8_t>> pieces_of(const std::vector<size_t> &sizes, uint8_t seed) {
    std::vector<std::vector<uint8_t>> v;
    for (size_t n : sizes) v.push_back(pattern(n, seed++));
    return v;
}

// Gather writes: records sealed from vectors of awkward sizes (single octets, empty ones, a
// record boundary inside a vector, a vector spanning two records, forty at once), read by
// mbedTLS's own record layer, through a bio with and without send_space() (several records
// per call, or one), and through one that moves a byte at a time.
void test_gather_writes_against_mbedtls(void **) {
    NEED_PKI();
    std::vector<size_t> forty;
    const size_t cycle[] = {1, 7, 0, 16383, 2, 16384, 16385, 3, 5000, 1, 32768, 13, 9, 100};
    for (int i = 0; i < 40; i++) forty.push_back(cycle[i % (sizeof cycle / sizeof *cycle)]);
    const std::vector<std::vector<size_t>> layouts = {
        forty,
        std::vector<size_t>(100, 1),
        {10, 40000, 10},            // record boundaries inside the large vector
        {16000, 1000, 16000},       // the middle vector spans two records
        {2, 14, 131072, 9, 65536},  // a WebSocket header, a frame header, then payloads
        {0, 16384, 0, 16384, 0},
    };
    for (const char *suite : FAST_SUITES) {
        for (int space = 0; space < 2; space++) {
            auto p = make_pair(suite, true, false);
            p->sbio.space = space;
            uint8_t seed = 40;
            for (const auto &l : layouts) {
                size_t total = 0;
                for (size_t n : l) total += n;
                size_t calls = transfer_gather(p->server.get(), p->client.get(),
                                               pieces_of(l, seed++));
                // One record per call without send_space(); a batch of them with it.
                size_t per = space ? tfc::TLS_WRITE_BATCH : 16384;
                assert_true(calls >= (total + per - 1) / per);
            }
        }
        auto slow = make_pair(suite, false, true, 1);
        transfer_gather(slow->client.get(), slow->server.get(), pieces_of(forty, 7));
        transfer_gather(slow->client.get(), slow->server.get(), pieces_of({3, 16390, 5}, 8));
    }
}

// After TLS_WANT_WRITE, the same vectors again: the record sealed from them is sent, not
// sealed twice; and without the library's record layer there is no gather write.
void test_gather_write_retry_and_fallback(void **) {
    NEED_PKI();
    auto p = make_pair(AES256, false, true);
    auto a = pattern(100, 1), b = pattern(700, 2);
    iovec v[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
    p->cbio.room = 200;
    assert_int_equal(p->client->writev(v, 2), tfc::TLS_WANT_WRITE);
    p->cbio.room = SIZE_MAX;
    assert_int_equal(p->client->writev(v, 2), 800);
    std::vector<uint8_t> got, buf(2000), expect(a);
    expect.insert(expect.end(), b.begin(), b.end());
    for (int i = 0; i < 10 && got.size() < expect.size(); i++) {
        ssize_t r = p->server->read(buf.data(), buf.size());
        if (r > 0) got.insert(got.end(), buf.data(), buf.data() + r);
    }
    assert_true(got == expect);
    assert_false(p->server->pending());
    assert_int_equal(p->server->writev(v, 2), TRUFLUX_ENOTSUP);
    // Nothing to write: nothing sent.
    iovec none[2] = {{nullptr, 0}, {nullptr, 0}};
    size_t before = p->c2s.q.size();
    assert_int_equal(p->client->writev(none, 2), 0);
    assert_int_equal(p->c2s.q.size(), before);
}

void test_no_test_hook_without_fast_path(void **) {
    NEED_PKI();
    auto p = make_pair(AES256, false, false);
    uint8_t b[1] = {0};
    assert_int_equal(p->client->send_record_for_test(tfc::TLS_APPLICATION_DATA, b, 1),
                     TRUFLUX_ENOTSUP);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_path_chosen_when_it_should),
        cmocka_unit_test(test_against_mbedtls_records_both_ways),
        cmocka_unit_test(test_batched_writes_into_bio_space),
        cmocka_unit_test(test_empty_write_sends_nothing),
        cmocka_unit_test(test_one_byte_at_a_time),
        cmocka_unit_test(test_many_records_in_one_read),
        cmocka_unit_test(test_tampered_record_is_bad_record_mac),
        cmocka_unit_test(test_header_tampering_also_fails),
        cmocka_unit_test(test_truncated_record),
        cmocka_unit_test(test_oversize_and_malformed_headers),
        cmocka_unit_test(test_close_notify_both_ways),
        cmocka_unit_test(test_alert_from_peer_is_named),
        cmocka_unit_test(test_renegotiation_refused),
        cmocka_unit_test(test_no_test_hook_without_fast_path),
        cmocka_unit_test(test_gather_writes_against_mbedtls),
        cmocka_unit_test(test_gather_write_retry_and_fallback),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
