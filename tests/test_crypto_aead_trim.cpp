// tests/test_crypto_aead_trim.cpp: an AEAD key's working state and what trim() frees
// (lib/crypto/backend.h). A key seals and opens its first messages in each direction with a
// state its thread shares among keys, gets a state of its own when used more, and trim()
// frees that state when unused since the last trim(): with the OpenSSL backend (both
// ciphers) and with the mbedTLS build's AES-GCM on AES-NI. What users rely on: every
// message is sealed under its own key whichever state did it, and an encrypted connection
// left idle gives that memory back and then works as before. Where a key keeps no state
// apart (ChaCha20 on SSSE3/AVX2, which has none beyond the key; mbedTLS's contexts)
// contexts_held() stays as it was and the rest must hold all the same.
extern "C" {
#include "support/tfsupport.h"
}
#include "support/tfpki.h"

#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include <truflux/security.h>

#include "crypto/aesgcm_ni.h"
#include "crypto/backend.h"

namespace {

using bytes = std::vector<uint8_t>;

// Whether keys of this cipher keep their state apart from the key in this build.
bool separate(tfc::cipher c) {
#ifdef TRUFLUX_TEST_CRYPTO_OPENSSL
    (void)c;
    return true;
#else
    return c == tfc::cipher::aesgcm && tfc::aesgcm_ni_available();
#endif
}

bytes seal(tfc::aead &k, uint64_t n, const bytes &pt) {
    bytes out(pt.size() + tfc::TAG_LEN);
    assert_int_equal(k.encrypt(n, (const uint8_t *)"ad", 2, pt.data(), pt.size(), out.data()), 0);
    return out;
}

// What a key seals for nonce n with a context made for it alone (a fresh aead's first use
// is sealed by the thread's context keyed for it).
bytes reference(tfc::cipher c, const uint8_t *key, uint64_t n, const bytes &pt) {
    tfc::aead fresh;
    assert_int_equal(fresh.set_key(c, key), 0);
    return seal(fresh, n, pt);
}

void keys_interleaved(tfc::cipher c) {
    constexpr int KEYS = 6, ROUNDS = 12;
    uint8_t keys[KEYS][tfc::KEY_LEN];
    tfc::aead enc[KEYS], dec[KEYS];
    for (int i = 0; i < KEYS; i++) {
        for (size_t j = 0; j < tfc::KEY_LEN; j++) keys[i][j] = uint8_t(i * 37 + j * 11 + 1);
        assert_int_equal(enc[i].set_key(c, keys[i]), 0);
        assert_int_equal(dec[i].set_key(c, keys[i]), 0);
    }
    bytes pt(100);
    for (size_t j = 0; j < pt.size(); j++) pt[j] = uint8_t(j);
    // Keys take turns (so that the thread's context changes key at every message), past
    // the point where each gets its own, with trims in between: every record must be
    // exactly what its own key seals and must open under that key alone.
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < KEYS; i++) {
            pt[0] = uint8_t(r);
            bytes ct = seal(enc[i], (uint64_t)r, pt);
            bytes want = reference(c, keys[i], (uint64_t)r, pt);
            assert_true(ct == want);
            bytes back(pt.size());
            assert_int_equal(dec[i].decrypt((uint64_t)r, (const uint8_t *)"ad", 2, ct.data(),
                                            ct.size(), back.data()),
                             0);
            assert_true(back == pt);
            int other = (i + 1) % KEYS;
            bytes junk(pt.size());
            assert_int_equal(dec[other].decrypt((uint64_t)r, (const uint8_t *)"ad", 2,
                                                ct.data(), ct.size(), junk.data()),
                             tfc::ERR_DECRYPT);
        }
        if (r % 5 == 4)
            for (int i = 0; i < KEYS; i++) {
                enc[i].trim();
                dec[i].trim();
            }
    }
}

void test_keys_interleaved_chachapoly(void **) { keys_interleaved(tfc::cipher::chachapoly); }
void test_keys_interleaved_aesgcm(void **) { keys_interleaved(tfc::cipher::aesgcm); }

// An object destroyed after its thread's own thread_local objects (a wrapper held in a
// thread_local, or a static one at exit) may still send, and so encrypt: with the thread's
// shared state already torn down the key must make a state of its own, not use the wiped
// or freed one.
struct late_sealer {
    tfc::aead *k = nullptr;
    const bytes *pt = nullptr;
    bytes *out = nullptr;  // outlives the thread
    ~late_sealer() {
        if (!k) return;
        out->assign(pt->size() + tfc::TAG_LEN, 0);
        if (k->encrypt(1, (const uint8_t *)"ad", 2, pt->data(), pt->size(), out->data()) != 0)
            out->clear();
    }
};

void test_seal_after_thread_teardown(void **) {
    for (tfc::cipher c : {tfc::cipher::aesgcm, tfc::cipher::chachapoly}) {
        uint8_t key[tfc::KEY_LEN];
        std::memset(key, 0x3c, sizeof key);
        bytes pt(64, 0x17);
        bytes want0 = reference(c, key, 0, pt), want1 = reference(c, key, 1, pt);
        tfc::aead k;
        assert_int_equal(k.set_key(c, key), 0);
        bytes got0(pt.size() + tfc::TAG_LEN), got1;
        int rc0 = -1;
        std::thread t([&] {
            // Made before the key's first message makes the thread's shared state, so
            // destroyed after it; it seals the key's second message then.
            thread_local late_sealer late;
            late.k = &k;
            late.pt = &pt;
            late.out = &got1;
            rc0 = k.encrypt(0, (const uint8_t *)"ad", 2, pt.data(), pt.size(), got0.data());
        });
        t.join();
        assert_int_equal(rc0, 0);
        assert_true(got0 == want0);
        assert_true(got1 == want1);
        k.clear();
    }
}

void test_trim_frees_what_was_not_used(void **) {
    long base = tfc::aead::contexts_held();
    uint8_t key[tfc::KEY_LEN];
    std::memset(key, 7, sizeof key);
    tfc::aead k;
    assert_int_equal(k.set_key(tfc::cipher::aesgcm, key), 0);
    bytes pt(64, 0x42);
    // A few messages: the thread's context serves them, the key holds none.
    for (uint64_t n = 0; n < 3; n++) assert_true(seal(k, n, pt) == reference(tfc::cipher::aesgcm, key, n, pt));
    assert_int_equal(tfc::aead::contexts_held(), base);
    // Used more: a context of its own (where the backend has them apart).
    for (uint64_t n = 3; n < 20; n++) assert_true(seal(k, n, pt) == reference(tfc::cipher::aesgcm, key, n, pt));
    assert_int_equal(tfc::aead::contexts_held(), base + (separate(tfc::cipher::aesgcm) ? 1 : 0));
    k.trim();  // used since the last trim: kept
    assert_int_equal(tfc::aead::contexts_held(), base + (separate(tfc::cipher::aesgcm) ? 1 : 0));
    k.trim();  // not used since: freed, the key stays
    assert_int_equal(tfc::aead::contexts_held(), base);
    assert_true(k.has_key());
    for (uint64_t n = 20; n < 40; n++) assert_true(seal(k, n, pt) == reference(tfc::cipher::aesgcm, key, n, pt));
    assert_int_equal(tfc::aead::contexts_held(), base + (separate(tfc::cipher::aesgcm) ? 1 : 0));
    k.clear();
    assert_int_equal(tfc::aead::contexts_held(), base);
}

struct busy_state {
    int got = 0;
};

void on_chat(void *user, tf_conn_t *, const tf_message_t *m) {
    busy_state *s = static_cast<busy_state *>(user);
    const uint8_t *p = static_cast<const uint8_t *>(m->data);
    bool ok = m->len == 300;
    for (size_t i = 0; ok && i < m->len; i++) ok = p[i] == uint8_t(i * 7 + s->got);
    if (ok) s->got++;
}

void exchange(tf_loop_t *loop, tf_conn_t *a, busy_state *to_b, int count) {
    uint8_t buf[300];
    int start = to_b->got;
    for (int k = 0; k < count; k++) {
        for (size_t i = 0; i < sizeof buf; i++) buf[i] = uint8_t(i * 7 + start + k);
        assert_int_equal(tf_send_name(a, "chat", TRUFLUX_TYPE_BINARY, buf, sizeof buf), 0);
        TFS_WAIT(loop, to_b->got == start + k + 1, TFS_WAIT_MS);
        assert_int_equal(to_b->got, start + k + 1);
    }
}

char g_pki[512];  // test certificates for tls:// and wss://; "" when they could not be made

struct variant {
    const char *scheme;  // tcp (the secure layer), tls, wss
    const char *cipher;  // the secure layer's; TLS between our sides: AES-256-GCM
};

void run_idle_variant(const variant &v) {
    long base = tfc::aead::contexts_held();
    tf_loop_t *loop = truflux_loop_new();
    assert_non_null(loop);
    busy_state at_server, at_client;
    tf_protocol_t *sp = truflux_protocol_new(), *cp = truflux_protocol_new();
    assert_true(tf_protocol_add(sp, "chat", 0, 0) >= 0);
    assert_true(tf_protocol_add(cp, "chat", 0, 0) >= 0);
    assert_int_equal(tf_protocol_on(sp, "chat", on_chat, &at_server), 0);
    assert_int_equal(tf_protocol_on(cp, "chat", on_chat, &at_client), 0);
    tf_options_t *so = tfs_options(), *co = tfs_options();
    char f[600];
    bool tls = std::strcmp(v.scheme, "tcp") != 0;
    for (tf_options_t *o : {so, co}) {
        tfs_opt(o, TRUFLUX_OPT_HEARTBEAT, 200);
        if (!tls) {
            tfs_opt(o, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
            assert_int_equal(tf_options_set_str(o, TRUFLUX_OPT_SECURE_CIPHERS, v.cipher), 0);
        }
    }
    if (tls) {
        std::snprintf(f, sizeof f, "%s/server.pem", g_pki);
        assert_int_equal(tf_options_set_str(so, TRUFLUX_OPT_TLS_CERT_FILE, f), 0);
        std::snprintf(f, sizeof f, "%s/server.key", g_pki);
        assert_int_equal(tf_options_set_str(so, TRUFLUX_OPT_TLS_KEY_FILE, f), 0);
        std::snprintf(f, sizeof f, "%s/ca.pem", g_pki);
        assert_int_equal(tf_options_set_str(co, TRUFLUX_OPT_TLS_CA_FILE, f), 0);
        assert_int_equal(tf_options_set_str(co, TRUFLUX_OPT_TLS_SERVER_NAME, "localhost"), 0);
    }
    tfs_rec_t srec, crec;
    tfs_rec_init(&srec, "server");
    tfs_rec_init(&crec, "client");
    tf_server_t *server = truflux_server_new(loop, sp, so);
    tf_client_t *client = truflux_client_new(loop, cp, co);
    assert_non_null(server);
    assert_non_null(client);
    tf_callbacks_t scb = tfs_rec_callbacks(&srec), ccb = tfs_rec_callbacks(&crec);
    assert_int_equal(tf_server_set_callbacks(server, &scb), 0);
    assert_int_equal(tf_client_set_callbacks(client, &ccb), 0);
    char url[96];
    std::snprintf(url, sizeof url, "%s://127.0.0.1:0", v.scheme);
    assert_int_equal(tf_server_listen(server, url), 0);
    std::snprintf(url, sizeof url, "%s://127.0.0.1:%d", v.scheme, tf_server_port(server));
    assert_int_equal(tf_client_connect(client, url), 0);
    TFS_WAIT(loop, crec.opens == 1 && srec.opens == 1, TFS_WAIT_MS);
    assert_int_equal(crec.opens, 1);
    assert_int_equal(srec.opens, 1);
    tf_conn_t *server_conn = srec.conns[0];
    tf_conn_t *client_conn = tf_client_conn(client);
    assert_string_equal(tf_conn_transport(client_conn), v.scheme);
    tfc::cipher c = std::strcmp(v.cipher, "AESGCM") == 0 ? tfc::cipher::aesgcm
                                                        : tfc::cipher::chachapoly;
    if (!tls) {
        tf_secure_info_t info;
        std::memset(&info, 0, sizeof info);
        info.size = sizeof info;
        assert_int_equal(tf_conn_secure_info(client_conn, &info), 0);
        assert_int_equal(info.cipher, c == tfc::cipher::aesgcm ? TRUFLUX_CIPHER_AESGCM
                                                               : TRUFLUX_CIPHER_CHACHAPOLY);
    }

    // Busy both ways: where states are apart, each side's two keys get their own.
    exchange(loop, client_conn, &at_server, 30);
    exchange(loop, server_conn, &at_client, 30);
    assert_int_equal(tfc::aead::contexts_held(), base + (separate(c) ? 4 : 0));
    // Idle: two ticks without a message free them all (heartbeat pings are a message now
    // and then, sealed with the thread's state).
    TFS_WAIT(loop, tfc::aead::contexts_held() == base, 3000);
    assert_int_equal(tfc::aead::contexts_held(), base);
    // And the connection goes on as before, both ways.
    exchange(loop, client_conn, &at_server, 30);
    exchange(loop, server_conn, &at_client, 30);
    assert_int_equal(at_server.got, 60);
    assert_int_equal(at_client.got, 60);
    assert_int_equal(srec.errors + crec.errors, 0);

    truflux_client_free(client);
    truflux_server_free(server);
    tfs_rec_free(&crec);
    tfs_rec_free(&srec);
    truflux_options_free(so);
    truflux_options_free(co);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(loop), 0);
    assert_int_equal(tfc::aead::contexts_held(), base);
}

// Real connections: encrypted both ways, busy, then idle for a few ticks (heartbeat 200 ms:
// a tick every 50 ms), then busy again.
void test_idle_secure_layer_gives_state_back(void **) {
    run_idle_variant({"tcp", "AESGCM"});
    run_idle_variant({"tcp", "ChaChaPoly"});
}

void test_idle_tls_gives_state_back(void **) {
    if (!g_pki[0]) TFS_SKIP("no test certificates (python3 and openssl)");
    run_idle_variant({"tls", "AESGCM"});
    run_idle_variant({"wss", "AESGCM"});
}

int pki_setup(void **) { return tfs_pki_make(g_pki, sizeof g_pki, "aead-trim-pki") < 0 ? -1 : 0; }

int pki_teardown(void **) {
    tfs_pki_remove(g_pki);
    return 0;
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_interleaved_chachapoly),
        cmocka_unit_test(test_keys_interleaved_aesgcm),
        cmocka_unit_test(test_trim_frees_what_was_not_used),
        cmocka_unit_test(test_seal_after_thread_teardown),
        cmocka_unit_test(test_idle_secure_layer_gives_state_back),
        cmocka_unit_test(test_idle_tls_gives_state_back),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
