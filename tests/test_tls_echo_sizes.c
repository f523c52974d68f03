/* tests/test_tls_echo_sizes.c: tls:// and wss:// through the public API on loopback, with messages
 * of mixed sizes (64 B, 16 KiB + 3, 200 KiB) echoed by the server, thousands of them in
 * bursts: every echo arrives intact and in order, and the server's counters tell the
 * truth at every send (what tf_send accepted is either written, bytes_out, or still
 * queued, `queued`), whether the message went through the queue or, large and with
 * nothing queued before it, straight from the caller's memory into TLS records. */
#include "support/tfsupport.h"

#include "support/tfpki.h"

static char g_pki[512]; /* the certificates' directory; "" when they could not be made */

enum { ROUNDS = 100, BURST = 20, BIG = 200 << 10, MID = (16 << 10) + 3, SMALL = 64 };

typedef struct {
    uint64_t base_out;  /* the server connection's bytes_out before the first echo */
    uint64_t accepted;  /* frame bytes (header + payload) the server's tf_send accepted */
    int bad_accounting, send_errors;
    size_t direct_seen; /* echoes after which less was queued than the echo's size */
} server_side_t;

typedef struct {
    uint32_t next;   /* the sequence number expected next */
    int bad;         /* echoes that were not what was sent, or out of order */
} client_side_t;

static server_side_t g_srv;
static client_side_t g_cli;

static size_t size_of(uint32_t seq)
{
    return seq % 20 == 19 ? BIG : seq % 3 == 1 ? MID : SMALL;
}

/* The payload of message `seq`: its number, then octets that depend on both. */
static void fill(uint8_t *p, size_t n, uint32_t seq)
{
    memcpy(p, &seq, sizeof seq);
    for (size_t i = sizeof seq; i < n; i++)
        p[i] = (uint8_t)(i * 131 + seq * 7 + (i >> 9));
}

static tf_conn_stats_t stats_of(tf_conn_t *c)
{
    tf_conn_stats_t s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    assert_int_equal(tf_conn_stats(c, &s), 0);
    return s;
}

static void h_echo(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)user;
    if (g_srv.accepted == 0)
        g_srv.base_out = stats_of(conn).bytes_out;
    uint64_t queued_before = stats_of(conn).queued;
    if (tf_send(conn, m->id, m->type, m->data, m->len) != 0) {
        g_srv.send_errors++;
        return;
    }
    g_srv.accepted += 9 + m->len;
    tf_conn_stats_t s = stats_of(conn);
    if (s.queued + (s.bytes_out - g_srv.base_out) != g_srv.accepted)
        g_srv.bad_accounting++;
    if (s.queued < queued_before + 9 + m->len)
        g_srv.direct_seen++;
}

static void h_check(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)user;
    (void)conn;
    uint32_t seq = g_cli.next++;
    size_t n = size_of(seq);
    if (m->len != n) {
        g_cli.bad++;
        return;
    }
    uint8_t *want = (uint8_t *)malloc(n);
    assert_non_null(want);
    fill(want, n, seq);
    if (memcmp(want, m->data, n) != 0)
        g_cli.bad++;
    free(want);
}

static tf_protocol_t *make_proto(int server)
{
    tf_protocol_t *p = truflux_protocol_new();
    assert_non_null(p);
    assert_true(tf_protocol_add(p, "echo", 0, 0) >= 0);
    assert_int_equal(tf_protocol_on(p, "echo", server ? h_echo : h_check, NULL), 0);
    return p;
}

static int pki_setup(void **state)
{
    (void)state;
    return tfs_pki_make(g_pki, sizeof g_pki, "wss-sizes-pki") < 0 ? -1 : 0;
}

static int pki_teardown(void **state)
{
    (void)state;
    tfs_pki_remove(g_pki);
    return 0;
}

static void mixed_sizes_echoed(const char *scheme)
{
    if (!g_pki[0])
        TFS_SKIP("no test certificates (python3 and openssl)");
    memset(&g_srv, 0, sizeof g_srv);
    memset(&g_cli, 0, sizeof g_cli);
    char f[600];
    tf_options_t *so = tfs_options(), *co = tfs_options();
    snprintf(f, sizeof f, "%s/server.pem", g_pki);
    assert_int_equal(tf_options_set_str(so, TRUFLUX_OPT_TLS_CERT_FILE, f), 0);
    snprintf(f, sizeof f, "%s/server.key", g_pki);
    assert_int_equal(tf_options_set_str(so, TRUFLUX_OPT_TLS_KEY_FILE, f), 0);
    snprintf(f, sizeof f, "%s/ca.pem", g_pki);
    assert_int_equal(tf_options_set_str(co, TRUFLUX_OPT_TLS_CA_FILE, f), 0);
    assert_int_equal(tf_options_set_str(co, TRUFLUX_OPT_TLS_SERVER_NAME, "localhost"), 0);

    tfs_env_t e;
    char url[96];
    snprintf(url, sizeof url, "%s://127.0.0.1:0", scheme);
    tfs_env_start(&e, url, so, make_proto(1), make_proto(0));
    snprintf(url, sizeof url, "%s://127.0.0.1:%d", scheme, e.port);
    tfs_rec_t crec;
    tfs_rec_init(&crec, "client");
    tf_client_t *c = truflux_client_new(e.loop, e.cp, co);
    assert_non_null(c);
    tf_callbacks_t cb = tfs_rec_callbacks(&crec);
    assert_int_equal(tf_client_set_callbacks(c, &cb), 0);
    assert_int_equal(tf_client_connect(c, url), 0);
    TFS_WAIT(e.loop, crec.opens == 1 && e.srec.opens == 1, TFS_WAIT_MS);
    assert_int_equal(crec.opens, 1);
    assert_string_equal(tf_conn_transport(e.srec.conns[0]), scheme);

    uint8_t *buf = (uint8_t *)malloc(BIG);
    assert_non_null(buf);
    uint32_t seq = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < BURST; k++, seq++) {
            size_t n = size_of(seq);
            fill(buf, n, seq);
            assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_BINARY, buf, n), 0);
        }
        TFS_WAIT(e.loop, g_cli.next == seq || g_cli.bad, 4 * TFS_WAIT_MS);
        assert_int_equal(g_cli.next, seq);
        assert_int_equal(g_cli.bad, 0);
    }
    free(buf);
    assert_int_equal(g_srv.send_errors, 0);
    assert_int_equal(g_srv.bad_accounting, 0);
    /* Large echoes were written straight from the message (nothing queued before them). */
    print_message("  %zu of %u echoes not queued whole\n", g_srv.direct_seen, seq);
    assert_true(g_srv.direct_seen > 0);
    /* Everything written: nothing left queued, every accepted byte counted once. */
    tf_conn_stats_t s = stats_of(e.srec.conns[0]);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.bytes_out - g_srv.base_out, g_srv.accepted);

    assert_int_equal(tf_client_close(c, TRUFLUX_CLOSE_GRACEFUL), 0);
    TFS_WAIT(e.loop, e.srec.closes == 1 && crec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(e.srec.errors, 0);
    assert_int_equal(crec.errors, 0);
    truflux_client_free(c);
    tfs_rec_free(&crec);
    truflux_options_free(so);
    truflux_options_free(co);
    tfs_env_free(&e);
}

static void test_tls_mixed_sizes_echoed(void **state)
{
    (void)state;
    mixed_sizes_echoed("tls");
}

static void test_wss_mixed_sizes_echoed(void **state)
{
    (void)state;
    mixed_sizes_echoed("wss");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_mixed_sizes_echoed),
        cmocka_unit_test(test_wss_mixed_sizes_echoed),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
