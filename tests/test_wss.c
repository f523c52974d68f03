/* tests/test_wss.c: truflux over WebSocket over TLS (wss://) through the public API, on
 * loopback: our client and server with a test CA (made by tests/support/make_pki.py, the
 * certificates of tests/test_tls.py), every payload type both ways and messages larger than
 * the stream's own buffers, the wrong CA refused with TRUFLUX_ECERT, one TLS port for raw
 * truflux and WebSocket (tls+ws://), and WebSocket clients over the server's connection
 * limit told CLOSE(ELIMIT) after their upgrade (ws:// and wss://; tls:// clients after the
 * TLS handshake) while the server keeps serving the clients under the limit. */
#include "support/tfsupport.h"

#include "support/tfpki.h"

static char g_pki[512]; /* the certificates' directory; "" when they could not be made */

static void h_echo(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)user;
    tf_send(conn, m->id, m->type, m->data, m->len);
}

static tf_protocol_t *make_proto(int server)
{
    tf_protocol_t *p = truflux_protocol_new();
    assert_non_null(p);
    assert_true(tf_protocol_add(p, "echo", 0, 0) >= 0);
    assert_true(tf_protocol_add(p, "push", 0, 0) >= 0);
    if (server)
        assert_int_equal(tf_protocol_on(p, "echo", h_echo, NULL), 0);
    return p;
}

static const char *pki_file(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", g_pki, name);
    return buf;
}

/* The certificates, once for all tests. */
static int pki_setup(void **state)
{
    (void)state;
    return tfs_pki_make(g_pki, sizeof g_pki, "wss-pki") < 0 ? -1 : 0;
}

static int pki_teardown(void **state)
{
    (void)state;
    tfs_pki_remove(g_pki);
    return 0;
}

#define NEED_PKI()                                                                      \
    do {                                                                                \
        if (!g_pki[0])                                                                  \
            TFS_SKIP("no test certificates (python3 and openssl)");                     \
    } while (0)

static tf_options_t *server_opts(void)
{
    char f[600];
    tf_options_t *o = tfs_options();
    pki_file(f, sizeof f, "server.pem");
    assert_int_equal(tf_options_set_str(o, TRUFLUX_OPT_TLS_CERT_FILE, f), 0);
    pki_file(f, sizeof f, "server.key");
    assert_int_equal(tf_options_set_str(o, TRUFLUX_OPT_TLS_KEY_FILE, f), 0);
    return o;
}

/* A client trusting `ca`, checking the name the server certificate holds. */
static tf_options_t *client_opts(const char *ca)
{
    char f[600];
    tf_options_t *o = tfs_options();
    assert_int_equal(tf_options_set_str(o, TRUFLUX_OPT_TLS_CA_FILE, pki_file(f, sizeof f, ca)), 0);
    assert_int_equal(tf_options_set_str(o, TRUFLUX_OPT_TLS_SERVER_NAME, "localhost"), 0);
    return o;
}

typedef tfs_env_t env_t;

static void env_start(env_t *e, const char *listen_url, const tf_options_t *sopts)
{
    tfs_env_start(e, listen_url, sopts, make_proto(1), make_proto(0));
}

static void env_free(env_t *e) { tfs_env_free(e); }

static tf_client_t *client_to(env_t *e, tfs_rec_t *rec, const char *label, const char *url,
                              const tf_options_t *opts)
{
    tfs_rec_init(rec, label);
    tf_client_t *c = truflux_client_new(e->loop, e->cp, opts);
    assert_non_null(c);
    tf_callbacks_t cb = tfs_rec_callbacks(rec);
    assert_int_equal(tf_client_set_callbacks(c, &cb), 0);
    assert_int_equal(tf_client_connect(c, url), 0);
    return c;
}

/* ------------------------------------------------------------------------------------ */

static void test_wss_every_type_both_ways(void **state)
{
    (void)state;
    NEED_PKI();
    env_t e;
    tf_options_t *so = server_opts(), *co = client_opts("ca.pem");
    env_start(&e, "wss://127.0.0.1:0/tf", so);
    char url[96];
    snprintf(url, sizeof url, "wss://127.0.0.1:%d/tf", e.port);
    tfs_rec_t crec;
    tf_client_t *c = client_to(&e, &crec, "client", url, co);
    TFS_WAIT(e.loop, crec.opens == 1 && e.srec.opens == 1, TFS_WAIT_MS);
    assert_int_equal(crec.opens, 1);
    assert_int_equal(e.srec.opens, 1);
    assert_string_equal(tf_conn_transport(e.srec.conns[0]), "wss");
    assert_string_equal(tf_conn_transport(crec.conns[0]), "wss");

    /* Client -> server -> client (the echo), then server -> client unprompted. */
    const uint8_t bin[] = { 0, 0xff, 0x10, 0x80 };
    const uint8_t mp[] = { 0x81, 0xa1, 'a', 0x01 };
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_EMPTY, NULL, 0), 0);
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_BINARY, bin, sizeof bin), 0);
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_TEXT, "héllo", 6), 0);
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_MSGPACK, mp, sizeof mp), 0);
    tf_conn_t *sc = e.srec.conns[0];
    assert_int_equal(tf_send_name(sc, "push", TRUFLUX_TYPE_EMPTY, NULL, 0), 0);
    assert_int_equal(tf_send_name(sc, "push", TRUFLUX_TYPE_BINARY, bin, sizeof bin), 0);
    assert_int_equal(tf_send_name(sc, "push", TRUFLUX_TYPE_TEXT, "wss ✓", 7), 0);
    assert_int_equal(tf_send_name(sc, "push", TRUFLUX_TYPE_MSGPACK, mp, sizeof mp), 0);
    TFS_WAIT(e.loop, crec.nmsgs == 8, TFS_WAIT_MS);
    assert_int_equal(crec.nmsgs, 8);
    assert_int_equal(tfs_rec_count_name(&crec, "echo"), 4);
    assert_int_equal(tfs_rec_count_name(&crec, "push"), 4);
    static const int types[] = { TRUFLUX_TYPE_EMPTY, TRUFLUX_TYPE_BINARY, TRUFLUX_TYPE_TEXT,
                                 TRUFLUX_TYPE_MSGPACK };
    for (const char *name = "echo"; name; name = strcmp(name, "echo") == 0 ? "push" : NULL) {
        int k = 0;
        for (size_t i = 0; i < crec.nmsgs; i++) {
            if (strcmp(crec.msgs[i].name, name) != 0)
                continue;
            assert_int_equal(crec.msgs[i].type, types[k]);
            k++;
        }
        assert_int_equal(k, 4);
    }
    assert_true(tfs_rec_find(&crec, bin, sizeof bin) >= 0);
    assert_true(tfs_rec_find(&crec, mp, sizeof mp) >= 0);
    assert_true(tfs_rec_find(&crec, "héllo", 6) >= 0);
    assert_true(tfs_rec_find(&crec, "wss ✓", 7) >= 0);

    /* Larger than the WebSocket stream's buffer for TLS (256 KiB) and than a TLS record,
     * both ways, with small ones queued behind it: order and bytes kept. */
    size_t big = 3u << 20;
    uint8_t *data = (uint8_t *)malloc(big);
    assert_non_null(data);
    for (size_t i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 131 + (i >> 11));
    tfs_rec_clear_msgs(&crec);
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_BINARY, data, big), 0);
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_TEXT, "after", 5), 0);
    assert_int_equal(tf_send_name(sc, "push", TRUFLUX_TYPE_BINARY, data, big), 0);
    TFS_WAIT(e.loop, crec.nmsgs == 3, 4 * TFS_WAIT_MS);
    assert_int_equal(crec.nmsgs, 3);
    int echoed = -1, pushed = -1, after = -1;
    for (int i = 0; i < 3; i++) {
        if (strcmp(crec.msgs[i].name, "push") == 0)
            pushed = i;
        else if (crec.msgs[i].len == big)
            echoed = i;
        else
            after = i;
    }
    assert_true(echoed >= 0 && pushed >= 0 && after > echoed);
    assert_memory_equal(crec.msgs[echoed].data, data, big);
    assert_memory_equal(crec.msgs[pushed].data, data, big);
    assert_string_equal((const char *)crec.msgs[after].data, "after");
    free(data);

    /* The graceful close goes through both layers: reason 0 on both sides. */
    assert_int_equal(tf_client_close(c, TRUFLUX_CLOSE_GRACEFUL), 0);
    TFS_WAIT(e.loop, e.srec.closes == 1 && crec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(e.srec.closes, 1);
    assert_int_equal(e.srec.last_close_reason, 0);
    assert_int_equal(crec.last_close_reason, 0);
    assert_int_equal(e.srec.errors, 0);
    assert_int_equal(crec.errors, 0);
    truflux_client_free(c);
    tfs_rec_free(&crec);
    truflux_options_free(so);
    truflux_options_free(co);
    env_free(&e);
}

static void test_wss_wrong_ca_is_ecert(void **state)
{
    (void)state;
    NEED_PKI();
    env_t e;
    tf_options_t *so = server_opts(), *co = client_opts("other-ca.pem");
    env_start(&e, "wss://127.0.0.1:0", so);
    char url[96];
    snprintf(url, sizeof url, "wss://127.0.0.1:%d/", e.port);
    tfs_rec_t crec;
    tf_client_t *c = client_to(&e, &crec, "client", url, co);
    TFS_WAIT(e.loop, tfs_rec_has_error(&crec, TRUFLUX_ECERT), TFS_WAIT_MS);
    assert_true(tfs_rec_has_error(&crec, TRUFLUX_ECERT));
    assert_int_equal(crec.opens, 0);
    assert_int_equal(e.srec.opens, 0);
    truflux_client_free(c);
    tfs_rec_free(&crec);
    truflux_options_free(so);
    truflux_options_free(co);
    env_free(&e);
}

/* tls+ws://: a TLS port where raw truflux (tls://) and WebSocket (wss://) clients meet; each
 * connection tells which it is. TRUFLUX_OPT_ACCEPT_WEBSOCKET on a tls:// listener is the same. */
static void sniffing_port(const char *listen_url, int accept_ws)
{
    env_t e;
    tf_options_t *so = server_opts(), *co = client_opts("ca.pem");
    if (accept_ws)
        tfs_opt(so, TRUFLUX_OPT_ACCEPT_WEBSOCKET, 1);
    env_start(&e, listen_url, so);
    char url1[96], url2[96];
    snprintf(url1, sizeof url1, "tls://127.0.0.1:%d", e.port);
    snprintf(url2, sizeof url2, "wss://127.0.0.1:%d/x", e.port);
    tfs_rec_t r1, r2;
    tf_client_t *c1 = client_to(&e, &r1, "tls", url1, co);
    tf_client_t *c2 = client_to(&e, &r2, "wss", url2, co);
    TFS_WAIT(e.loop, r1.opens == 1 && r2.opens == 1 && e.srec.opens == 2, TFS_WAIT_MS);
    assert_int_equal(e.srec.opens, 2);
    assert_string_equal(tf_conn_transport(r1.conns[0]), "tls");
    assert_string_equal(tf_conn_transport(r2.conns[0]), "wss");
    int tls = 0, wss = 0;
    for (int i = 0; i < 2; i++) {
        tls += strcmp(tf_conn_transport(e.srec.conns[i]), "tls") == 0;
        wss += strcmp(tf_conn_transport(e.srec.conns[i]), "wss") == 0;
    }
    assert_int_equal(tls, 1);
    assert_int_equal(wss, 1);
    assert_int_equal(tf_client_send_name(c1, "echo", TRUFLUX_TYPE_TEXT, "raw", 3), 0);
    assert_int_equal(tf_client_send_name(c2, "echo", TRUFLUX_TYPE_TEXT, "web", 3), 0);
    TFS_WAIT(e.loop, r1.nmsgs == 1 && r2.nmsgs == 1, TFS_WAIT_MS);
    assert_string_equal((const char *)r1.msgs[0].data, "raw");
    assert_string_equal((const char *)r2.msgs[0].data, "web");
    truflux_client_free(c1);
    truflux_client_free(c2);
    tfs_rec_free(&r1);
    tfs_rec_free(&r2);
    truflux_options_free(so);
    truflux_options_free(co);
    env_free(&e);
}

static void test_tls_ws_one_port(void **state)
{
    (void)state;
    NEED_PKI();
    sniffing_port("tls+ws://127.0.0.1:0", 0);
    sniffing_port("tls://127.0.0.1:0", 1);
}

/* ------------------------------------------------------------------------------------ */
/* Over the connection limit                                                             */

/* The server takes 2; a third WebSocket client completes its upgrade, hears CLOSE(ELIMIT)
 * (its on_error and on_close say ELIMIT) and never opens; the server reports ELIMIT once,
 * without a connection, and keeps serving the two. A freed slot lets a new client in. */
static void over_limit(const char *scheme, tf_options_t *so, const tf_options_t *copts)
{
    env_t e;
    tfs_opt(so, TRUFLUX_OPT_MAX_CONNECTIONS, 2);
    char url[96];
    const char *path = strcmp(scheme, "tls") == 0 ? "" : "/tf";
    snprintf(url, sizeof url, "%s://127.0.0.1:0%s", scheme, path);
    env_start(&e, url, so);
    snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", scheme, e.port, path);

    tfs_rec_t r1, r2, r3, r4;
    tf_client_t *c1 = client_to(&e, &r1, "c1", url, copts);
    tf_client_t *c2 = client_to(&e, &r2, "c2", url, copts);
    TFS_WAIT(e.loop, r1.opens == 1 && r2.opens == 1 && e.srec.opens == 2, TFS_WAIT_MS);
    assert_int_equal(e.srec.opens, 2);
    assert_int_equal(tf_server_count(e.server), 2);

    tf_client_t *c3 = client_to(&e, &r3, "c3", url, copts);
    TFS_WAIT(e.loop, r3.closes == 1 && tfs_rec_has_error(&e.srec, TRUFLUX_ELIMIT), TFS_WAIT_MS);
    assert_int_equal(r3.opens, 0);
    assert_int_equal(r3.closes, 1);
    assert_int_equal(r3.last_close_reason, TRUFLUX_ELIMIT);
    assert_int_equal(r3.last_close_remote, 1);
    assert_true(tfs_rec_has_error(&r3, TRUFLUX_ELIMIT));
    /* Told over the WebSocket, not by an HTTP refusal or a reset. */
    assert_false(tfs_rec_has_error(&r3, TRUFLUX_EHTTP));
    assert_false(tfs_rec_has_error(&r3, TRUFLUX_ECONNRESET));
    assert_true(tfs_rec_has_error(&e.srec, TRUFLUX_ELIMIT));
    for (int i = 0; i < e.srec.errors && i < TFS_REC_ERRORS; i++)
        assert_null(e.srec.error_conns[i]);
    assert_int_equal(e.srec.opens, 2);
    assert_int_equal(tf_server_count(e.server), 2);
    truflux_client_free(c3);
    tfs_rec_free(&r3);

    /* The two under the limit are served as before. */
    assert_int_equal(tf_client_send_name(c1, "echo", TRUFLUX_TYPE_TEXT, "one", 3), 0);
    assert_int_equal(tf_client_send_name(c2, "echo", TRUFLUX_TYPE_TEXT, "two", 3), 0);
    TFS_WAIT(e.loop, r1.nmsgs == 1 && r2.nmsgs == 1, TFS_WAIT_MS);
    assert_string_equal((const char *)r1.msgs[0].data, "one");
    assert_string_equal((const char *)r2.msgs[0].data, "two");
    assert_int_equal(r1.closes + r2.closes, 0);

    /* A slot frees up: the next WebSocket client gets in. */
    truflux_client_free(c2);
    tfs_rec_free(&r2);
    TFS_WAIT(e.loop, tf_server_count(e.server) == 1, TFS_WAIT_MS);
    assert_int_equal(tf_server_count(e.server), 1);
    tf_client_t *c4 = client_to(&e, &r4, "c4", url, copts);
    TFS_WAIT(e.loop, r4.opens == 1 && e.srec.opens == 3, TFS_WAIT_MS);
    assert_int_equal(r4.opens, 1);
    assert_int_equal(tf_client_send_name(c4, "echo", TRUFLUX_TYPE_TEXT, "four", 4), 0);
    TFS_WAIT(e.loop, r4.nmsgs == 1, TFS_WAIT_MS);
    assert_string_equal((const char *)r4.msgs[0].data, "four");
    truflux_client_free(c4);
    truflux_client_free(c1);
    tfs_rec_free(&r4);
    tfs_rec_free(&r1);
    env_free(&e);
}

static void test_ws_over_limit_gets_elimit(void **state)
{
    (void)state;
    tf_options_t *so = tfs_options();
    over_limit("ws", so, NULL);
    truflux_options_free(so);
}

static void test_wss_over_limit_gets_elimit(void **state)
{
    (void)state;
    NEED_PKI();
    tf_options_t *so = server_opts(), *co = client_opts("ca.pem");
    over_limit("wss", so, co);
    truflux_options_free(so);
    truflux_options_free(co);
}

/* The same holds for raw truflux over TLS: CLOSE(ELIMIT) after the TLS handshake. */
static void test_tls_over_limit_gets_elimit(void **state)
{
    (void)state;
    NEED_PKI();
    tf_options_t *so = server_opts(), *co = client_opts("ca.pem");
    over_limit("tls", so, co);
    truflux_options_free(so);
    truflux_options_free(co);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wss_every_type_both_ways),
        cmocka_unit_test(test_wss_wrong_ca_is_ecert),
        cmocka_unit_test(test_tls_ws_one_port),
        cmocka_unit_test(test_ws_over_limit_gets_elimit),
        cmocka_unit_test(test_wss_over_limit_gets_elimit),
        cmocka_unit_test(test_tls_over_limit_gets_elimit),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
