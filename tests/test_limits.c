/* tests/test_limits.c: the limits a server and client enforce by default or by option:
 * connection count, idle timeout with heartbeat, maximum message size. Public API only, plus
 * raw peers where the point is a peer that misbehaves. */
#include "support/tfsupport.h"

static int g_echo_errors;

static void h_echo(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)user;
    if (tf_send(conn, m->id, m->type, m->data, m->len) != 0)
        g_echo_errors++;
}

static const char *const k_names[] = { "echo", "data" };
#define K_NNAMES 2

/* "echo" is echoed by the server, "data" is only recorded. */
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

/* Loop, protocols, a server with `so` and (if with_client) a connected client with `co`. */
static void env_start(env_t *e, const tf_options_t *so, const tf_options_t *co, int with_client)
{
    memset(e, 0, sizeof *e);
    e->raw.fd = -1;
    g_echo_errors = 0;
    e->loop = truflux_loop_new();
    assert_non_null(e->loop);
    e->sproto = make_proto(1);
    e->cproto = make_proto(0);
    tfs_pair_start(&e->pr, e->loop, e->sproto, with_client ? e->cproto : NULL, so, co);
}

static void env_free(env_t *e)
{
    tfs_raw_close(&e->raw);
    tfs_pair_free(&e->pr);
    truflux_protocol_free(e->sproto);
    truflux_protocol_free(e->cproto);
    assert_int_equal(truflux_loop_free(e->loop), 0);
    assert_int_equal(g_echo_errors, 0);
}

static void raw_open(env_t *e)
{
    tfs_hello_t h;
    tfs_hello_init(&h, e->sproto, k_names, K_NNAMES);
    assert_int_equal(tfs_raw_connect(&e->raw, e->pr.port), 0);
    assert_int_equal(tfs_raw_handshake(e->loop, &e->raw, &h, NULL), 0);
}

static tf_conn_stats_t stats_of(tf_conn_t *c)
{
    tf_conn_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_int_equal(tf_conn_stats(c, &st), 0);
    return st;
}

/* ------------------------------------------------------------------------------------ */
/* Options                                                                               */

static void test_option_defaults_and_ranges(void **state)
{
    (void)state;
    static const struct { int key; int64_t value; } defaults[] = {
        { TRUFLUX_OPT_NODELAY, 1 },
        { TRUFLUX_OPT_MAX_CONNECTIONS, 10000 },
        { TRUFLUX_OPT_MAX_MESSAGE_SIZE, 16 << 20 },
        { TRUFLUX_OPT_HANDSHAKE_TIMEOUT, 10000 },
        { TRUFLUX_OPT_IDLE_TIMEOUT, 60000 },
        { TRUFLUX_OPT_HEARTBEAT, 20000 },
        { TRUFLUX_OPT_SEND_HWM, 4 << 20 },
        { TRUFLUX_OPT_SEND_LWM, 1 << 20 },
        { TRUFLUX_OPT_CLOSE_TIMEOUT, 5000 },
        { TRUFLUX_OPT_STRICT, 0 },
        { TRUFLUX_OPT_RECONNECT, 0 },
        { TRUFLUX_OPT_RECONNECT_MIN, 100 },
        { TRUFLUX_OPT_RECONNECT_MAX, 10000 },
        { TRUFLUX_OPT_BACKLOG, 511 },
    };
    tf_options_t *o = tfs_options();
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        int64_t v = -12345;
        assert_int_equal(tf_options_get_int(o, defaults[i].key, &v), 0);
        if (v != defaults[i].value)
            fprintf(stderr, "  option %d: default %lld, documented %lld\n", defaults[i].key,
                    (long long)v, (long long)defaults[i].value);
        assert_true(v == defaults[i].value);
    }
    assert_int_equal(tf_options_set_int(o, TRUFLUX_OPT_MAX_MESSAGE_SIZE, 0x7FFFFFFF), 0);
    assert_int_equal(tf_options_set_int(o, TRUFLUX_OPT_MAX_MESSAGE_SIZE, 0x80000000LL),
                     TRUFLUX_EINVAL);
    assert_int_equal(tf_options_set_int(o, TRUFLUX_OPT_IDLE_TIMEOUT, -1), TRUFLUX_EINVAL);
    assert_int_equal(tf_options_set_int(o, 999, 1), TRUFLUX_ENOTFOUND);
    int64_t v;
    assert_int_equal(tf_options_get_int(o, 999, &v), TRUFLUX_ENOTFOUND);
    assert_int_equal(tf_options_set_int(NULL, TRUFLUX_OPT_NODELAY, 1), TRUFLUX_EINVAL);
    truflux_options_free(o);
    truflux_options_free(NULL);
}

/* ------------------------------------------------------------------------------------ */
/* Connections                                                                           */

static void test_max_connections(void **state)
{
    (void)state;
    env_t e;
    tf_options_t *so = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_MAX_CONNECTIONS, 2);
    env_start(&e, so, NULL, 1);
    truflux_options_free(so);

    tfs_rec_t rec2;
    tfs_rec_init(&rec2, "client2");
    tf_client_t *c2 = truflux_client_new(e.loop, e.cproto, NULL);
    tf_callbacks_t cb = tfs_rec_callbacks(&rec2);
    assert_int_equal(tf_client_set_callbacks(c2, &cb), 0);
    char url[64];
    assert_int_equal(tf_client_connect(c2, tfs_url(url, sizeof url, e.pr.port)), 0);
    TFS_WAIT(e.loop, rec2.opens == 1 && e.pr.srec.opens == 2, TFS_WAIT_MS);
    assert_int_equal(tf_server_count(e.pr.server), 2);

    /* The third: CLOSE(ELIMIT) then the end, whether the server refuses it at accept or after
     * its hello (a write after the refusal may fail; that is fine). */
    tfs_hello_t h;
    tfs_hello_init(&h, e.sproto, k_names, K_NNAMES);
    tfs_buf_t b = { 0, 0, 0 };
    tfs_hello_frame(&b, TFS_KIND_HELLO, &h);
    assert_int_equal(tfs_raw_connect(&e.raw, e.pr.port), 0);
    int rc = tfs_raw_send(e.loop, &e.raw, b.p, b.len, TFS_WAIT_MS);
    assert_true(rc == 0 || rc == -EPIPE || rc == -ECONNRESET);
    tfs_buf_free(&b);
    assert_int_equal(tfs_raw_expect_close(e.loop, &e.raw, TFS_WAIT_MS), -TRUFLUX_ELIMIT);
    tfs_raw_close(&e.raw);
    TFS_WAIT(e.loop, tfs_rec_has_error(&e.pr.srec, TRUFLUX_ELIMIT), TFS_WAIT_MS);
    assert_true(tfs_rec_has_error(&e.pr.srec, TRUFLUX_ELIMIT));
    assert_int_equal(e.pr.srec.opens, 2);
    assert_int_equal(tf_server_count(e.pr.server), 2);

    /* The two others are unaffected. */
    assert_int_equal(tf_client_send_name(c2, "echo", TRUFLUX_TYPE_TEXT, "c2", 2), 0);
    TFS_WAIT(e.loop, rec2.nmsgs == 1, TFS_WAIT_MS);
    assert_int_equal(rec2.nmsgs, 1);

    /* A slot frees up: a new peer gets in. */
    truflux_client_free(c2);
    tfs_rec_free(&rec2);
    TFS_WAIT(e.loop, tf_server_count(e.pr.server) == 1, TFS_WAIT_MS);
    assert_int_equal(tf_server_count(e.pr.server), 1);
    raw_open(&e);
    TFS_WAIT(e.loop, e.pr.srec.opens == 3, TFS_WAIT_MS);
    assert_int_equal(tf_server_count(e.pr.server), 2);
    env_free(&e);
}

/* ------------------------------------------------------------------------------------ */
/* Idle timeout and heartbeat                                                            */

static tf_options_t *idle_opts(void)
{
    tf_options_t *o = tfs_options();
    tfs_opt(o, TRUFLUX_OPT_IDLE_TIMEOUT, 300);
    tfs_opt(o, TRUFLUX_OPT_HEARTBEAT, 100);
    return o;
}

static void test_heartbeat_keeps_peers_alive(void **state)
{
    (void)state;
    env_t e;
    tf_options_t *so = idle_opts(), *co = idle_opts();
    env_start(&e, so, co, 1);
    truflux_options_free(so);
    truflux_options_free(co);
    tf_conn_t *c = tf_client_conn(e.pr.client), *s = e.pr.srec.conns[0];
    tf_conn_stats_t c0 = stats_of(c), s0 = stats_of(s);

    tfs_pump_for(e.loop, 1000); /* > 3 idle timeouts without any application message */
    assert_int_equal(e.pr.crec.closes, 0);
    assert_int_equal(e.pr.srec.closes, 0);
    assert_int_equal(tf_conn_is_open(c), 1);
    assert_int_equal(tf_conn_is_open(s), 1);
    tf_conn_stats_t c1 = stats_of(c), s1 = stats_of(s);
    /* Pings and pongs flowed, and they are not application messages. */
    assert_true(c1.bytes_in > c0.bytes_in);
    assert_true(s1.bytes_in > s0.bytes_in);
    assert_int_equal(c1.msgs_in, 0);
    assert_int_equal(s1.msgs_in, 0);
    assert_int_equal(tf_client_send_name(e.pr.client, "echo", TRUFLUX_TYPE_TEXT, "alive", 5), 0);
    TFS_WAIT(e.loop, e.pr.crec.nmsgs == 1, TFS_WAIT_MS);
    assert_int_equal(e.pr.crec.nmsgs, 1);
    env_free(&e);
}

static void test_idle_peer_closed(void **state)
{
    (void)state;
    env_t e;
    tf_options_t *so = idle_opts();
    env_start(&e, so, NULL, 0);
    truflux_options_free(so);
    /* Measured from before the HELLO: the server's idle timer cannot start earlier. */
    int64_t t0 = tfs_now_ms();
    raw_open(&e);
    int pings = 0;
    /* The raw peer never sends again, not even a PONG. */
    assert_int_equal(tfs_raw_expect_close_ex(e.loop, &e.raw, TFS_WAIT_MS, &pings), -TRUFLUX_EIDLE);
    int64_t dt = tfs_now_ms() - t0;
    fprintf(stderr, "  idle: CLOSE(EIDLE) after %lld ms and %d pings\n", (long long)dt, pings);
    assert_true(pings >= 1);
    assert_true(dt >= 290); /* libevent's coarse monotonic clock may be a few ms behind */
    assert_true(dt <= 1500);
    TFS_WAIT(e.loop, e.pr.srec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(e.pr.srec.last_close_reason, TRUFLUX_EIDLE);
    assert_int_equal(e.pr.srec.last_close_remote, 0);
    env_free(&e);
}

static void test_idle_peer_answering_pings_stays(void **state)
{
    (void)state;
    env_t e;
    tf_options_t *so = idle_opts();
    env_start(&e, so, NULL, 0);
    truflux_options_free(so);
    raw_open(&e);
    int pings = 0, others = 0;
    int64_t deadline = tfs_now_ms() + 1000;
    while (tfs_now_ms() < deadline) {
        tfs_frame_t f;
        int rc = tfs_raw_next_frame(e.loop, &e.raw, &f, (int)(deadline - tfs_now_ms()));
        if (rc != 1)
            break;
        if (f.kind == TFS_KIND_PING) {
            pings++;
            assert_true(f.len <= 125);
            assert_int_equal(tfs_raw_send_frame(e.loop, &e.raw, TFS_KIND_PONG, 0, f.payload,
                                                f.len), 0);
        } else {
            others++;
            fprintf(stderr, "  unexpected frame kind 0x%02x code %u\n", f.kind, f.id);
        }
        tfs_frame_free(&f);
    }
    fprintf(stderr, "  idle: %d pings answered in 1 s\n", pings);
    assert_int_equal(e.raw.ended, 0);
    assert_int_equal(others, 0);
    assert_true(pings >= 3);
    assert_int_equal(e.pr.srec.closes, 0);
    assert_int_equal(tf_server_count(e.pr.server), 1);
    env_free(&e);
}

static void test_server_answers_ping(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, NULL, NULL, 0);
    raw_open(&e);
    assert_int_equal(tfs_raw_send_frame(e.loop, &e.raw, TFS_KIND_PING, 0, "abc\x00xyz", 7), 0);
    tfs_frame_t f;
    assert_int_equal(tfs_raw_next_frame(e.loop, &e.raw, &f, TFS_WAIT_MS), 1);
    assert_int_equal(f.kind, TFS_KIND_PONG);
    assert_int_equal(f.id, 0);
    assert_int_equal(f.len, 7);
    assert_memory_equal(f.payload, "abc\x00xyz", 7);
    tfs_frame_free(&f);
    env_free(&e);
}

/* ------------------------------------------------------------------------------------ */
/* Maximum message size                                                                  */

static void test_max_message_on_send(void **state)
{
    (void)state;
    env_t e;
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_MAX_MESSAGE_SIZE, 1024);
    tfs_opt(co, TRUFLUX_OPT_MAX_MESSAGE_SIZE, 2048);
    env_start(&e, so, co, 1);
    truflux_options_free(so);
    truflux_options_free(co);
    static uint8_t buf[4096];
    memset(buf, 0x33, sizeof buf);
    tf_conn_t *c = tf_client_conn(e.pr.client);
    uint32_t data = (uint32_t)tf_protocol_id(e.cproto, "data");

    /* The client accepts 2048 itself, but learned from the WELCOME that the server takes
     * 1024 at most: it refuses locally above that, and nothing is sent. */
    assert_int_equal(tf_send(c, data, TRUFLUX_TYPE_BINARY, buf, 1025), TRUFLUX_EMSGSIZE);
    assert_int_equal(stats_of(c).msgs_out, 0);
    assert_int_equal(tf_send(c, data, TRUFLUX_TYPE_BINARY, buf, 1024), 0);
    TFS_WAIT(e.loop, e.pr.srec.nmsgs == 1, TFS_WAIT_MS);
    assert_int_equal(e.pr.srec.nmsgs, 1);
    assert_int_equal(e.pr.srec.msgs[0].len, 1024);
    assert_int_equal(e.pr.crec.closes, 0);
    assert_int_equal(e.pr.srec.closes, 0);

    /* A peer announcing 100 in its HELLO: the server refuses locally above that. */
    tfs_hello_t h;
    tfs_hello_init(&h, e.sproto, k_names, K_NNAMES);
    h.max_message = 100;
    assert_int_equal(tfs_raw_connect(&e.raw, e.pr.port), 0);
    assert_int_equal(tfs_raw_handshake(e.loop, &e.raw, &h, NULL), 0);
    TFS_WAIT(e.loop, e.pr.srec.opens == 2, TFS_WAIT_MS);
    assert_int_equal(e.pr.srec.opens, 2);
    tf_conn_t *s = e.pr.srec.conns[1];
    assert_int_equal(tf_send(s, data, TRUFLUX_TYPE_BINARY, buf, 101), TRUFLUX_EMSGSIZE);
    assert_int_equal(stats_of(s).msgs_out, 0);
    assert_int_equal(tf_send(s, data, TRUFLUX_TYPE_BINARY, buf, 100), 0);
    tfs_frame_t f;
    assert_int_equal(tfs_raw_next_frame(e.loop, &e.raw, &f, TFS_WAIT_MS), 1);
    assert_int_equal(f.kind, TFS_KIND_MSG_BINARY);
    assert_int_equal(f.id, data);
    assert_int_equal(f.len, 100); /* the first frame after the WELCOME: 101 was not sent */
    tfs_frame_free(&f);
    env_free(&e);
}

static void test_max_message_on_receive(void **state)
{
    (void)state;
    env_t e;
    tf_options_t *so = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_MAX_MESSAGE_SIZE, 1024);
    env_start(&e, so, NULL, 0);
    truflux_options_free(so);
    raw_open(&e);
    static uint8_t buf[1025];
    memset(buf, 0x44, sizeof buf);
    uint32_t echo = tf_protocol_name_id("echo");

    /* Exactly the maximum is fine (and the server's WELCOME announced it). */
    assert_int_equal(tfs_raw_send_frame(e.loop, &e.raw, TFS_KIND_MSG_BINARY, echo, buf, 1024), 0);
    tfs_frame_t f;
    assert_int_equal(tfs_raw_next_frame(e.loop, &e.raw, &f, TFS_WAIT_MS), 1);
    assert_int_equal(f.kind, TFS_KIND_MSG_BINARY);
    assert_int_equal(f.len, 1024);
    tfs_frame_free(&f);

    /* One more byte: refused. */
    assert_int_equal(tfs_raw_send_frame(e.loop, &e.raw, TFS_KIND_MSG_BINARY, echo, buf, 1025), 0);
    assert_int_equal(tfs_raw_expect_close(e.loop, &e.raw, TFS_WAIT_MS), -TRUFLUX_EMSGSIZE);
    TFS_WAIT(e.loop, e.pr.srec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(e.pr.srec.last_close_reason, TRUFLUX_EMSGSIZE);
    assert_int_equal(e.pr.srec.nmsgs, 0); /* the echo had a handler; nothing else arrived */
    env_free(&e);
}

static void test_welcome_announces_limits(void **state)
{
    (void)state;
    env_t e;
    tf_options_t *so = idle_opts();
    tfs_opt(so, TRUFLUX_OPT_MAX_MESSAGE_SIZE, 1024);
    env_start(&e, so, NULL, 0);
    truflux_options_free(so);
    tfs_hello_t h, w;
    tfs_hello_init(&h, e.sproto, k_names, K_NNAMES);
    assert_int_equal(tfs_raw_connect(&e.raw, e.pr.port), 0);
    assert_int_equal(tfs_raw_handshake(e.loop, &e.raw, &h, &w), 0);
    assert_int_equal(w.max_message, 1024);
    assert_int_equal(w.heartbeat_ms, 100);
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_option_defaults_and_ranges),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_heartbeat_keeps_peers_alive),
        cmocka_unit_test(test_idle_peer_closed),
        cmocka_unit_test(test_idle_peer_answering_pings_stays),
        cmocka_unit_test(test_server_answers_ping),
        cmocka_unit_test(test_max_message_on_send),
        cmocka_unit_test(test_max_message_on_receive),
        cmocka_unit_test(test_welcome_announces_limits),
    };
    return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
