/* tests/test_client.c: the client over real loopback sockets: failures to connect, queueing
 * before the hello, reconnecting, and closing. Public API only. */
#include "support/tfsupport.h"

static int g_echo_errors;

static void h_echo(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)user;
    if (tf_send(conn, m->id, m->type, m->data, m->len) != 0)
        g_echo_errors++;
}

/* "echo" is echoed by the server; "seq" is only recorded (no handler on either side). */
static tf_protocol_t *make_proto(int server)
{
    tf_protocol_t *p = truflux_protocol_new();
    assert_non_null(p);
    assert_true(tf_protocol_add(p, "echo", 0, 0) >= 0);
    assert_true(tf_protocol_add(p, "seq", TRUFLUX_TYPES_BINARY, 0) >= 0);
    if (server)
        assert_int_equal(tf_protocol_on(p, "echo", h_echo, NULL), 0);
    return p;
}

/* A client with a recorder, not connected yet. */
static tf_client_t *new_client(tf_loop_t *loop, tf_protocol_t *p, const tf_options_t *o,
                               tfs_rec_t *rec)
{
    tfs_rec_init(rec, "client");
    tf_client_t *c = truflux_client_new(loop, p, o);
    assert_non_null(c);
    tf_callbacks_t cb = tfs_rec_callbacks(rec);
    assert_int_equal(tf_client_set_callbacks(c, &cb), 0);
    return c;
}

static tf_server_t *new_server(tf_loop_t *loop, tf_protocol_t *p, tfs_rec_t *rec,
                               const char *url)
{
    tfs_rec_init(rec, "server");
    tf_server_t *s = truflux_server_new(loop, p, NULL);
    assert_non_null(s);
    tf_callbacks_t cb = tfs_rec_callbacks(rec);
    assert_int_equal(tf_server_set_callbacks(s, &cb), 0);
    assert_int_equal(tf_server_listen(s, url), 0);
    return s;
}

/* The client sends `text` on "echo" and waits for it to come back. */
static void roundtrip(tf_loop_t *loop, tf_client_t *c, tfs_rec_t *rec, const char *text)
{
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_TEXT, text, strlen(text)), 0);
    TFS_WAIT(loop, tfs_rec_find(rec, text, strlen(text)) >= 0, TFS_WAIT_MS);
    assert_true(tfs_rec_find(rec, text, strlen(text)) >= 0);
}

/* ------------------------------------------------------------------------------------ */
/* Failing to connect                                                                    */

static void expect_failure(tf_loop_t *loop, tfs_rec_t *rec, int code, int ms)
{
    TFS_WAIT(loop, rec->closes == 1, ms);
    assert_int_equal(rec->opens, 0);
    assert_true(rec->errors >= 1);
    if (rec->error_codes[0] != code)
        fprintf(stderr, "  first on_error: %s, want %s\n", tf_errname(rec->error_codes[0]),
                tf_errname(code));
    assert_int_equal(rec->error_codes[0], code);
    assert_int_equal(rec->closes, 1);
    assert_int_equal(rec->last_close_reason, code);
    assert_true(rec->first_error_seq < rec->last_close_seq); /* on_error, then on_close */
    /* Nothing else follows without reconnect. */
    tfs_pump_for(loop, 100);
    assert_int_equal(rec->closes, 1);
    assert_int_equal(rec->opens, 0);
}

static void test_connect_refused(void **state)
{
    (void)state;
    int port = tfs_dead_port();
    assert_true(port > 0);
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *p = make_proto(0);
    tfs_rec_t rec;
    tf_client_t *c = new_client(loop, p, NULL, &rec);
    char url[64];
    assert_int_equal(tf_client_connect(c, tfs_url(url, sizeof url, port)), 0);
    expect_failure(loop, &rec, TRUFLUX_ECONNREFUSED, TFS_WAIT_MS);
    truflux_client_free(c);
    tfs_rec_free(&rec);
    truflux_protocol_free(p);
    assert_int_equal(truflux_loop_free(loop), 0);
}

static void test_unresolvable_host(void **state)
{
    (void)state;
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *p = make_proto(0);
    tfs_rec_t rec;
    tf_client_t *c = new_client(loop, p, NULL, &rec);
    /* .invalid never resolves (RFC 6761); a resolver without network may take a while. */
    assert_int_equal(tf_client_connect(c, "tcp://nonexistent.invalid:1"), 0);
    expect_failure(loop, &rec, TRUFLUX_ERESOLVE, 30000);
    truflux_client_free(c);
    tfs_rec_free(&rec);
    truflux_protocol_free(p);
    assert_int_equal(truflux_loop_free(loop), 0);
}

static void test_bad_url_and_busy(void **state)
{
    (void)state;
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *sp = make_proto(1), *cp = make_proto(0);
    tfs_rec_t srec, rec;
    tf_server_t *s = new_server(loop, sp, &srec, "tcp://127.0.0.1:0");
    tf_client_t *c = new_client(loop, cp, NULL, &rec);

    assert_null(tf_client_conn(c));
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_TEXT, "x", 1), TRUFLUX_ECLOSED);
    assert_int_equal(tf_client_connect(c, "udp://127.0.0.1:1"), TRUFLUX_EBADURL);
    assert_int_equal(tf_client_connect(c, "tcp://127.0.0.1"), TRUFLUX_EBADURL);
    assert_int_equal(tf_client_connect(c, "tcp://127.0.0.1:65536"), TRUFLUX_EBADURL);
    assert_int_equal(tf_client_connect(c, "127.0.0.1:80"), TRUFLUX_EBADURL);
    assert_null(tf_client_conn(c));

    char url[64];
    tfs_url(url, sizeof url, tf_server_port(s));
    assert_int_equal(tf_client_connect(c, url), 0);
    assert_non_null(tf_client_conn(c));
    assert_int_equal(tf_client_connect(c, url), TRUFLUX_EBUSY);
    TFS_WAIT(loop, rec.opens == 1, TFS_WAIT_MS);
    assert_int_equal(rec.opens, 1);
    assert_int_equal(tf_client_connect(c, url), TRUFLUX_EBUSY);

    truflux_client_free(c);
    truflux_server_free(s);
    tfs_rec_free(&rec);
    tfs_rec_free(&srec);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(loop), 0);
}

/* ------------------------------------------------------------------------------------ */
/* Queueing before the hello                                                             */

static void test_send_before_open(void **state)
{
    (void)state;
    enum { N = 20 };
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *sp = make_proto(1), *cp = make_proto(0);
    tfs_rec_t srec, rec;
    tf_server_t *s = new_server(loop, sp, &srec, "tcp://127.0.0.1:0");
    tf_client_t *c = new_client(loop, cp, NULL, &rec);
    char url[64];
    assert_int_equal(tf_client_connect(c, tfs_url(url, sizeof url, tf_server_port(s))), 0);
    assert_int_equal(tf_conn_is_open(tf_client_conn(c)), 0);
    for (int i = 0; i < N; i++) {
        uint8_t b[4] = { 0, 0, (uint8_t)(i >> 8), (uint8_t)i };
        assert_int_equal(tf_client_send_name(c, "seq", TRUFLUX_TYPE_BINARY, b, 4), 0);
    }
    assert_int_equal(rec.opens, 0); /* all of them queued before the hello */
    TFS_WAIT(loop, srec.nmsgs == N, TFS_WAIT_MS);
    assert_int_equal(rec.opens, 1);
    assert_int_equal(srec.nmsgs, N);
    for (int i = 0; i < N; i++) {
        assert_string_equal(srec.msgs[i].name, "seq");
        assert_int_equal((int)tfs_get_u32(srec.msgs[i].data), i);
    }
    assert_int_equal(tf_conn_is_open(tf_client_conn(c)), 1);
    truflux_client_free(c);
    truflux_server_free(s);
    tfs_rec_free(&rec);
    tfs_rec_free(&srec);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(loop), 0);
}

/* ------------------------------------------------------------------------------------ */
/* Reconnecting                                                                          */

static void test_reconnect_with_backoff(void **state)
{
    (void)state;
    g_echo_errors = 0;
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *sp = make_proto(1), *cp = make_proto(0);
    tfs_rec_t srec, rec;
    tf_server_t *s = new_server(loop, sp, &srec, "tcp://127.0.0.1:0");
    int port = tf_server_port(s);
    char url[64];
    tfs_url(url, sizeof url, port);

    tf_options_t *o = tfs_options();
    tfs_opt(o, TRUFLUX_OPT_RECONNECT, 1);
    tfs_opt(o, TRUFLUX_OPT_RECONNECT_MIN, 20);
    tfs_opt(o, TRUFLUX_OPT_RECONNECT_MAX, 200);
    tf_client_t *c = new_client(loop, cp, o, &rec);
    truflux_options_free(o);
    assert_int_equal(tf_client_connect(c, url), 0);
    tf_conn_t *conn = tf_client_conn(c);
    TFS_WAIT(loop, rec.opens == 1, TFS_WAIT_MS);
    assert_int_equal(rec.opens, 1);
    roundtrip(loop, c, &rec, "first life");

    /* The server disappears: on_close, then retries that are refused. */
    truflux_server_free(s);
    tfs_rec_free(&srec);
    TFS_WAIT(loop, rec.closes >= 1, TFS_WAIT_MS);
    assert_int_equal(rec.closes, 1);
    fprintf(stderr, "  reconnect: close reason %s\n", tf_errname(rec.last_close_reason));
    assert_true(rec.last_close_reason != 0);
    assert_int_equal(tf_conn_is_open(conn), 0);
    /* Sent while down: queued on the same connection, delivered after the next hello. */
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_TEXT, "while down", 10), 0);
    tfs_pump_for(loop, 150);
    fprintf(stderr, "  reconnect: %d refused attempts reported while down\n", rec.errors);
    assert_int_equal(rec.opens, 1);

    /* The same port again (the library sets SO_REUSEADDR). */
    s = new_server(loop, sp, &srec, url);
    int64_t t0 = tfs_now_ms();
    TFS_WAIT(loop, rec.opens == 2, TFS_WAIT_MS);
    int64_t dt = tfs_now_ms() - t0;
    assert_int_equal(rec.opens, 2);
    fprintf(stderr, "  reconnect: open again %lld ms after the server came back\n", (long long)dt);
    assert_true(dt < 1000); /* the delay is capped at 200 ms */
    assert_ptr_equal(tf_client_conn(c), conn); /* the connection keeps its identity */
    assert_int_equal(tf_conn_is_open(conn), 1);
    TFS_WAIT(loop, tfs_rec_find(&rec, "while down", 10) >= 0, TFS_WAIT_MS);
    assert_true(tfs_rec_find(&rec, "while down", 10) >= 0);
    roundtrip(loop, c, &rec, "second life");
    assert_int_equal(rec.closes, 1);

    truflux_client_free(c);
    truflux_server_free(s);
    tfs_rec_free(&rec);
    tfs_rec_free(&srec);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(loop), 0);
    assert_int_equal(g_echo_errors, 0);
}

/* ------------------------------------------------------------------------------------ */
/* Closing                                                                               */

static void test_graceful_client_close(void **state)
{
    (void)state;
    enum { N = 10 };
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *sp = make_proto(1), *cp = make_proto(0);
    tfs_pair_t pr;
    tfs_pair_start(&pr, loop, sp, cp, NULL, NULL);
    tf_conn_t *conn = tf_client_conn(pr.client);
    for (int i = 0; i < N; i++) {
        uint8_t b[4] = { 0, 0, 0, (uint8_t)i };
        assert_int_equal(tf_client_send_name(pr.client, "seq", TRUFLUX_TYPE_BINARY, b, 4), 0);
    }
    assert_int_equal(tf_client_close(pr.client, TRUFLUX_CLOSE_GRACEFUL), 0);
    TFS_WAIT(loop, pr.srec.closes == 1 && pr.crec.closes == 1, TFS_WAIT_MS);
    /* What was queued before the close was delivered before it. */
    assert_int_equal(pr.srec.nmsgs, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(pr.srec.msgs[i].data[3], i);
        assert_true(pr.srec.msgs[i].seq < pr.srec.last_close_seq);
    }
    assert_int_equal(pr.srec.closes, 1);
    assert_int_equal(pr.srec.last_close_reason, 0);
    assert_int_equal(pr.srec.last_close_remote, 1);
    assert_int_equal(pr.crec.closes, 1);
    assert_int_equal(pr.crec.last_close_reason, 0);
    assert_int_equal(pr.crec.last_close_remote, 0);
    assert_int_equal(tf_server_count(pr.server), 0);
    assert_int_equal(tf_conn_is_open(conn), 0);
    assert_int_equal(tf_client_send_name(pr.client, "seq", TRUFLUX_TYPE_BINARY, "x", 1),
                     TRUFLUX_ECLOSED);
    tfs_pair_free(&pr);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(loop), 0);
}

static void test_close_stops_reconnect_when_open(void **state)
{
    (void)state;
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *sp = make_proto(1), *cp = make_proto(0);
    tf_options_t *o = tfs_options();
    tfs_opt(o, TRUFLUX_OPT_RECONNECT, 1);
    tfs_opt(o, TRUFLUX_OPT_RECONNECT_MIN, 20);
    tfs_opt(o, TRUFLUX_OPT_RECONNECT_MAX, 40);
    tfs_pair_t pr;
    tfs_pair_start(&pr, loop, sp, cp, NULL, o);
    truflux_options_free(o);
    assert_int_equal(tf_client_close(pr.client, TRUFLUX_CLOSE_GRACEFUL), 0);
    TFS_WAIT(loop, pr.srec.closes == 1 && pr.crec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(pr.crec.last_close_reason, 0);
    tfs_pump_for(loop, 300); /* several reconnect delays */
    assert_int_equal(pr.srec.opens, 1);
    assert_int_equal(pr.crec.opens, 1);
    assert_int_equal(pr.crec.closes, 1);
    assert_int_equal(tf_server_count(pr.server), 0);
    tfs_pair_free(&pr);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(loop), 0);
}

static void test_close_stops_reconnect_when_retrying(void **state)
{
    (void)state;
    int port = tfs_dead_port();
    assert_true(port > 0);
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *cp = make_proto(0);
    tf_options_t *o = tfs_options();
    tfs_opt(o, TRUFLUX_OPT_RECONNECT, 1);
    tfs_opt(o, TRUFLUX_OPT_RECONNECT_MIN, 20);
    tfs_opt(o, TRUFLUX_OPT_RECONNECT_MAX, 40);
    tfs_rec_t rec;
    tf_client_t *c = new_client(loop, cp, o, &rec);
    truflux_options_free(o);
    char url[64];
    assert_int_equal(tf_client_connect(c, tfs_url(url, sizeof url, port)), 0);
    TFS_WAIT(loop, rec.errors >= 3, TFS_WAIT_MS); /* it keeps trying */
    assert_true(rec.errors >= 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rec.error_codes[i], TRUFLUX_ECONNREFUSED);

    assert_int_equal(tf_client_close(c, TRUFLUX_CLOSE_FORCE), 0);
    tfs_pump_for(loop, 20);
    int errors = rec.errors;

    /* Something listens there now: a client still retrying would connect to it. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 4), 0);
    tfs_pump_for(loop, 300);
    tfs_set_nonblock(lfd);
    int afd = accept(lfd, NULL, NULL);
    assert_int_equal(afd, -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    close(lfd);
    assert_int_equal(rec.errors, errors);
    assert_int_equal(rec.opens, 0);

    truflux_client_free(c);
    tfs_rec_free(&rec);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_unresolvable_host),
        cmocka_unit_test(test_bad_url_and_busy),
        cmocka_unit_test(test_send_before_open),
        cmocka_unit_test(test_reconnect_with_backoff),
        cmocka_unit_test(test_graceful_client_close),
        cmocka_unit_test(test_close_stops_reconnect_when_open),
        cmocka_unit_test(test_close_stops_reconnect_when_retrying),
    };
    return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
