/* tests/test_server_stats.c: tf_server_stats: each limit the server enforces, violated once,
 * shows as exactly 1 in its counter and 0 in every other violation counter; traffic and
 * connection totals add up; a short struct gets only what it has room for. Public API, with
 * raw peers for the misbehaving side. */
#include "support/tfsupport.h"

#include <stddef.h>

static const char *const k_names[] = { "echo", "data" };
#define K_NNAMES 2

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
    assert_true(tf_protocol_add(p, "data", TRUFLUX_TYPES_BINARY, 0) >= 0);
    if (server)
        assert_int_equal(tf_protocol_on(p, "echo", h_echo, NULL), 0);
    return p;
}

typedef struct env {
    tf_loop_t *loop;
    tf_protocol_t *sproto, *cproto;
    tfs_pair_t pr;
    tfs_raw_t raw;
} env_t;

static void env_start(env_t *e, const tf_options_t *so, int with_client)
{
    memset(e, 0, sizeof *e);
    e->raw.fd = -1;
    e->loop = truflux_loop_new();
    assert_non_null(e->loop);
    e->sproto = make_proto(1);
    e->cproto = make_proto(0);
    tfs_pair_start(&e->pr, e->loop, e->sproto, with_client ? e->cproto : NULL, so, NULL);
}

static void env_free(env_t *e)
{
    tfs_raw_close(&e->raw);
    tfs_pair_free(&e->pr);
    truflux_protocol_free(e->sproto);
    truflux_protocol_free(e->cproto);
    assert_int_equal(truflux_loop_free(e->loop), 0);
}

static void raw_open(env_t *e)
{
    tfs_hello_t h;
    tfs_hello_init(&h, e->sproto, k_names, K_NNAMES);
    assert_int_equal(tfs_raw_connect(&e->raw, e->pr.port), 0);
    assert_int_equal(tfs_raw_handshake(e->loop, &e->raw, &h, NULL), 0);
}

static tf_server_stats_t stats(tf_server_t *s)
{
    tf_server_stats_t st;
    memset(&st, 0xEE, sizeof st);
    st.size = sizeof st;
    assert_int_equal(tf_server_stats(s, &st), 0);
    assert_int_equal(st.size, sizeof st);
    return st;
}

/* Sum of every violation counter: a test that provokes one violation expects exactly 1. */
static uint64_t violations(const tf_server_stats_t *s)
{
    return s->refused_limit + s->message_size + s->handshake_timeouts + s->idle_timeouts +
           s->protocol_errors + s->secure_errors + s->transport_errors;
}

static void test_fresh_server_is_zero(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, NULL, 0);
    tf_server_stats_t s = stats(e.pr.server);
    assert_int_equal(s.accepted, 0);
    assert_int_equal(s.opened, 0);
    assert_int_equal(s.active, 0);
    assert_int_equal(violations(&s), 0);
    assert_int_equal(s.peer_lost, 0);
    assert_int_equal(s.msgs_in + s.msgs_out + s.bytes_in + s.bytes_out, 0);

    /* Bad arguments; and an older, shorter struct gets only the members it has room for. */
    assert_int_equal(tf_server_stats(NULL, &s), TRUFLUX_EINVAL);
    assert_int_equal(tf_server_stats(e.pr.server, NULL), TRUFLUX_EINVAL);
    s.size = 1;
    assert_int_equal(tf_server_stats(e.pr.server, &s), TRUFLUX_EINVAL);
    tf_server_stats_t short_st;
    memset(&short_st, 0xAB, sizeof short_st);
    short_st.size = offsetof(tf_server_stats_t, active);
    assert_int_equal(tf_server_stats(e.pr.server, &short_st), 0);
    assert_int_equal(short_st.size, offsetof(tf_server_stats_t, active));
    assert_int_equal(short_st.accepted, 0);
    assert_int_equal(short_st.opened, 0);
    assert_true(short_st.active == 0xABABABABABABABABull); /* untouched */
    env_free(&e);
}

static void test_max_connections_counted(void **state)
{
    (void)state;
    env_t e;
    tf_options_t *so = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_MAX_CONNECTIONS, 1);
    env_start(&e, so, 1);
    truflux_options_free(so);
    assert_int_equal(tfs_raw_connect(&e.raw, e.pr.port), 0);
    assert_int_equal(tfs_raw_expect_close(e.loop, &e.raw, TFS_WAIT_MS), -TRUFLUX_ELIMIT);
    tf_server_stats_t s = stats(e.pr.server);
    assert_int_equal(s.refused_limit, 1);
    assert_int_equal(violations(&s), 1);
    assert_int_equal(s.accepted, 2);
    assert_int_equal(s.opened, 1);
    assert_int_equal(s.active, 1);
    env_free(&e);
}

static void test_message_size_counted(void **state)
{
    (void)state;
    env_t e;
    tf_options_t *so = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_MAX_MESSAGE_SIZE, 100);
    env_start(&e, so, 0);
    truflux_options_free(so);
    raw_open(&e);
    static uint8_t buf[101];
    memset(buf, 0x55, sizeof buf);
    uint32_t echo = tf_protocol_name_id("echo");
    /* The largest allowed size goes through and is echoed; one more byte ends the peer. */
    assert_int_equal(tfs_raw_send_frame(e.loop, &e.raw, TFS_KIND_MSG_BINARY, echo, buf, 100), 0);
    tfs_frame_t f;
    assert_int_equal(tfs_raw_next_frame(e.loop, &e.raw, &f, TFS_WAIT_MS), 1);
    tfs_frame_free(&f);
    assert_int_equal(tfs_raw_send_frame(e.loop, &e.raw, TFS_KIND_MSG_BINARY, echo, buf, 101), 0);
    assert_int_equal(tfs_raw_expect_close(e.loop, &e.raw, TFS_WAIT_MS), -TRUFLUX_EMSGSIZE);
    TFS_WAIT(e.loop, e.pr.srec.closes == 1, TFS_WAIT_MS);
    tf_server_stats_t s = stats(e.pr.server);
    assert_int_equal(s.message_size, 1);
    assert_int_equal(violations(&s), 1);
    assert_int_equal(s.msgs_in, 1);
    assert_int_equal(s.msgs_out, 1);
    assert_int_equal(s.active, 0);
    env_free(&e);
}

static void test_handshake_timeout_counted(void **state)
{
    (void)state;
    env_t e;
    tf_options_t *so = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_HANDSHAKE_TIMEOUT, 200);
    env_start(&e, so, 0);
    truflux_options_free(so);
    /* Connected, never says HELLO. */
    assert_int_equal(tfs_raw_connect(&e.raw, e.pr.port), 0);
    int rc = tfs_raw_expect_close(e.loop, &e.raw, TFS_WAIT_MS);
    assert_true(rc == -TRUFLUX_EHELLOTIMEOUT || rc == TFS_EOF_NO_CLOSE);
    tf_server_stats_t s;
    TFS_WAIT(e.loop, (s = stats(e.pr.server)).handshake_timeouts == 1, TFS_WAIT_MS);
    assert_int_equal(s.handshake_timeouts, 1);
    assert_int_equal(violations(&s), 1);
    assert_int_equal(s.accepted, 1);
    assert_int_equal(s.opened, 0);
    env_free(&e);
}

static void test_idle_timeout_counted(void **state)
{
    (void)state;
    env_t e;
    tf_options_t *so = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_IDLE_TIMEOUT, 300);
    tfs_opt(so, TRUFLUX_OPT_HEARTBEAT, 100);
    env_start(&e, so, 0);
    truflux_options_free(so);
    raw_open(&e);
    /* It never answers the pings. */
    assert_int_equal(tfs_raw_expect_close(e.loop, &e.raw, TFS_WAIT_MS), -TRUFLUX_EIDLE);
    TFS_WAIT(e.loop, e.pr.srec.closes == 1, TFS_WAIT_MS);
    tf_server_stats_t s = stats(e.pr.server);
    assert_int_equal(s.idle_timeouts, 1);
    assert_int_equal(violations(&s), 1);
    assert_int_equal(s.opened, 1);
    assert_int_equal(s.active, 0);
    env_free(&e);
}

static void test_protocol_error_and_peer_lost(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, NULL, 0);
    /* A message id the server's protocol does not define. */
    raw_open(&e);
    assert_int_equal(tfs_raw_send_frame(e.loop, &e.raw, TFS_KIND_MSG_TEXT,
                                        tf_protocol_name_id("nobody.knows"), "x", 1), 0);
    assert_int_equal(tfs_raw_expect_close(e.loop, &e.raw, TFS_WAIT_MS), -TRUFLUX_EUNKNOWN);
    tfs_raw_close(&e.raw);
    TFS_WAIT(e.loop, e.pr.srec.closes == 1, TFS_WAIT_MS);
    tf_server_stats_t s = stats(e.pr.server);
    assert_int_equal(s.protocol_errors, 1);
    assert_int_equal(violations(&s), 1);
    assert_int_equal(s.peer_lost, 0);

    /* A peer that vanishes without a CLOSE is not a violation, but it is counted. */
    raw_open(&e);
    TFS_WAIT(e.loop, e.pr.srec.opens == 2, TFS_WAIT_MS);
    tfs_raw_close(&e.raw);
    TFS_WAIT(e.loop, e.pr.srec.closes == 2, TFS_WAIT_MS);
    s = stats(e.pr.server);
    assert_int_equal(s.peer_lost, 1);
    assert_int_equal(violations(&s), 1);
    assert_int_equal(s.accepted, 2);
    assert_int_equal(s.opened, 2);
    env_free(&e);
}

/* Traffic totals include connections still open and those already gone. */
static void test_traffic_totals(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, NULL, 1);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tf_client_send_name(e.pr.client, "echo", TRUFLUX_TYPE_TEXT, "ping", 4),
                         0);
    TFS_WAIT(e.loop, e.pr.crec.nmsgs == 5, TFS_WAIT_MS);
    assert_int_equal(e.pr.crec.nmsgs, 5);
    tf_server_stats_t s = stats(e.pr.server);
    assert_int_equal(s.msgs_in, 5);
    assert_int_equal(s.msgs_out, 5);
    assert_true(s.bytes_in >= 5 * (9 + 4));
    assert_true(s.bytes_out >= 5 * (9 + 4));
    assert_int_equal(s.active, 1);
    truflux_client_free(e.pr.client);
    e.pr.client = NULL;
    TFS_WAIT(e.loop, tf_server_count(e.pr.server) == 0 && e.pr.srec.closes == 1, TFS_WAIT_MS);
    /* The connection's socket goes after its linger: its traffic stays in the totals. */
    tfs_pump_for(e.loop, 200);
    tf_server_stats_t after = stats(e.pr.server);
    assert_int_equal(after.msgs_in, 5);
    assert_int_equal(after.msgs_out, 5);
    assert_true(after.bytes_in >= s.bytes_in);
    assert_int_equal(after.active, 0);
    assert_int_equal(violations(&after), 0);
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_server_is_zero),
        cmocka_unit_test(test_max_connections_counted),
        cmocka_unit_test(test_message_size_counted),
        cmocka_unit_test(test_handshake_timeout_counted),
        cmocka_unit_test(test_idle_timeout_counted),
        cmocka_unit_test(test_protocol_error_and_peer_lost),
        cmocka_unit_test(test_traffic_totals),
    };
    return cmocka_run_group_tests_name("server_stats", tests, NULL, NULL);
}
