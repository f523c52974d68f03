/* tests/test_queue.c: the event queue (truflux/queue.h) over real loopback sockets, with the
 * loop run in the test's thread: events in order with their tags and copied payloads, the
 * descriptor readable exactly while events wait, error, drain and wake events, and the memory
 * cap (a connection that overflows it is closed with TRUFLUX_EQUEUEFULL). Public API only.
 * The threaded side (producers and consumers on other threads) is test_threads_queue.c. */
#include "support/tfsupport.h"

#define SERVER_TAG ((void *)0x5e)
#define CLIENT_TAG ((void *)0xc1)

static tf_protocol_t *make_proto(void)
{
    tf_protocol_t *p = truflux_protocol_new();
    assert_non_null(p);
    assert_true(tf_protocol_add(p, "echo", 0, 0) >= 0);
    assert_true(tf_protocol_add(p, "bulk", TRUFLUX_TYPES_BINARY, 0) >= 0);
    return p;
}

static uint64_t q_events(const tf_queue_t *q)
{
    tf_queue_stats_t s;
    s.size = sizeof s;
    assert_int_equal(tf_queue_stats(q, &s), 0);
    return s.events;
}

static tf_queue_stats_t q_stats(const tf_queue_t *q)
{
    tf_queue_stats_t s;
    s.size = sizeof s;
    assert_int_equal(tf_queue_stats(q, &s), 0);
    return s;
}

/* Whether the queue's descriptor polls readable right now. */
static int fd_readable(const tf_queue_t *q)
{
    struct pollfd p = { tf_queue_fd(q), POLLIN, 0 };
    int n = poll(&p, 1, 0);
    assert_true(n >= 0);
    return n == 1 && (p.revents & POLLIN);
}

/* Pumps the loop until the queue holds an event (bounded), pops it and checks its kind. */
static tf_event_t *expect_event(tf_loop_t *loop, tf_queue_t *q, int kind)
{
    TFS_WAIT(loop, q_events(q) > 0, TFS_WAIT_MS);
    tf_event_t *ev = tf_queue_pop(q);
    assert_non_null(ev);
    if (tf_event_kind(ev) != kind)
        fprintf(stderr, "  event kind %d (code %s: %s), want %d\n", tf_event_kind(ev),
                tf_errname(tf_event_code(ev)), tf_event_detail(ev), kind);
    assert_int_equal(tf_event_kind(ev), kind);
    return ev;
}

/* A server and a client on one loop, each reporting into its own queue. */
typedef struct env {
    tf_loop_t *loop;
    tf_protocol_t *proto;
    tf_server_t *server;
    tf_client_t *client;
    tf_queue_t *sq, *cq;
    char url[64];
} env_t;

static void env_server(env_t *e, size_t server_cap, const tf_options_t *sopts)
{
    memset(e, 0, sizeof *e);
    e->loop = truflux_loop_new();
    assert_non_null(e->loop);
    e->proto = make_proto();
    e->sq = truflux_queue_new(server_cap);
    assert_non_null(e->sq);
    e->server = truflux_server_new(e->loop, e->proto, sopts);
    assert_non_null(e->server);
    tf_callbacks_t cb = TRUFLUX_CALLBACKS_INIT;
    assert_int_equal(tf_queue_callbacks(e->sq, SERVER_TAG, &cb), 0);
    assert_int_equal(tf_server_set_callbacks(e->server, &cb), 0);
    assert_int_equal(tf_server_listen(e->server, "tcp://127.0.0.1:0"), 0);
    tfs_url(e->url, sizeof e->url, tf_server_port(e->server));
}

static tf_client_t *new_client(env_t *e, tf_queue_t *q, void *tag, const tf_options_t *o)
{
    tf_client_t *c = truflux_client_new(e->loop, e->proto, o);
    assert_non_null(c);
    tf_callbacks_t cb = TRUFLUX_CALLBACKS_INIT;
    assert_int_equal(tf_queue_callbacks(q, tag, &cb), 0);
    assert_int_equal(tf_client_set_callbacks(c, &cb), 0);
    assert_int_equal(tf_client_connect(c, e->url), 0);
    return c;
}

/* Server and one connected client; both OPEN events are taken and checked. */
static void env_start(env_t *e, size_t server_cap, const tf_options_t *copts)
{
    env_server(e, server_cap, NULL);
    e->cq = truflux_queue_new(0);
    assert_non_null(e->cq);
    e->client = new_client(e, e->cq, CLIENT_TAG, copts);
    tf_event_t *ev = expect_event(e->loop, e->cq, TRUFLUX_EVENT_OPEN);
    assert_ptr_equal(tf_event_tag(ev), CLIENT_TAG);
    assert_ptr_equal(tf_event_conn(ev), tf_client_conn(e->client));
    truflux_event_free(ev);
    ev = expect_event(e->loop, e->sq, TRUFLUX_EVENT_OPEN);
    assert_ptr_equal(tf_event_tag(ev), SERVER_TAG);
    assert_true(tf_conn_is_open(tf_event_conn(ev)));
    truflux_event_free(ev);
}

/* Frees everything; the queues last, after the objects that report into them. */
static void env_free(env_t *e)
{
    truflux_client_free(e->client);
    truflux_server_free(e->server);
    truflux_queue_free(e->cq);
    truflux_queue_free(e->sq);
    truflux_protocol_free(e->proto);
    assert_int_equal(truflux_loop_free(e->loop), 0);
}

/* ------------------------------------------------------------------------------------ */

static void test_new_and_empty(void **state)
{
    (void)state;
    tf_queue_t *q = truflux_queue_new(0);
    assert_non_null(q);
    tf_queue_stats_t s = q_stats(q);
    assert_int_equal(s.size, sizeof s);
    assert_int_equal(s.max_bytes, TRUFLUX_QUEUE_DEFAULT_MAX);
    assert_int_equal(s.events, 0);
    assert_int_equal(s.bytes, 0);
    assert_true(tf_queue_fd(q) >= 0);
    assert_false(fd_readable(q));
    assert_null(tf_queue_pop(q));
    int64_t t0 = tfs_now_ms();
    assert_int_equal(tf_queue_wait(q, 50), 0);
    assert_true(tfs_now_ms() - t0 >= 40);
    truflux_queue_free(q);

    q = truflux_queue_new(1234);
    assert_non_null(q);
    assert_int_equal(q_stats(q).max_bytes, 1234);
    truflux_queue_free(q);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    tf_callbacks_t cb = TRUFLUX_CALLBACKS_INIT;
    tf_queue_stats_t s;
    tf_message_t m;
    s.size = sizeof s;
    truflux_queue_free(NULL);
    truflux_event_free(NULL);
    assert_int_equal(tf_queue_fd(NULL), TRUFLUX_EINVAL);
    assert_null(tf_queue_pop(NULL));
    assert_int_equal(tf_queue_wait(NULL, 0), TRUFLUX_EINVAL);
    assert_int_equal(tf_queue_wake(NULL), TRUFLUX_EINVAL);
    assert_int_equal(tf_queue_stats(NULL, &s), TRUFLUX_EINVAL);
    assert_int_equal(tf_queue_callbacks(NULL, NULL, &cb), TRUFLUX_EINVAL);
    assert_int_equal(tf_event_kind(NULL), TRUFLUX_EINVAL);
    assert_null(tf_event_conn(NULL));
    assert_null(tf_event_tag(NULL));
    assert_int_equal(tf_event_message(NULL, &m), TRUFLUX_EINVAL);
    assert_string_equal(tf_event_detail(NULL), "");

    tf_queue_t *q = truflux_queue_new(0);
    assert_int_equal(tf_queue_callbacks(q, NULL, NULL), TRUFLUX_EINVAL);
    cb.size = 0;
    assert_int_equal(tf_queue_callbacks(q, NULL, &cb), TRUFLUX_EINVAL);
    s.size = 0;
    assert_int_equal(tf_queue_stats(q, &s), TRUFLUX_EINVAL);

    /* A caller whose struct ends after on_open (an older layout) gets only what fits. */
    tf_callbacks_t small;
    memset(&small, 0xAB, sizeof small);
    small.size = offsetof(tf_callbacks_t, on_message);
    assert_int_equal(tf_queue_callbacks(q, NULL, &small), 0);
    assert_int_equal(small.size, offsetof(tf_callbacks_t, on_message));
    assert_non_null(small.on_open);
    assert_non_null(small.user);
    unsigned char tail[sizeof small - offsetof(tf_callbacks_t, on_message)];
    memset(tail, 0xAB, sizeof tail);
    assert_memory_equal((unsigned char *)&small + offsetof(tf_callbacks_t, on_message), tail,
                        sizeof tail);

    /* A full struct gets every member. */
    tf_callbacks_t full = TRUFLUX_CALLBACKS_INIT;
    assert_int_equal(tf_queue_callbacks(q, NULL, &full), 0);
    assert_non_null(full.on_open);
    assert_non_null(full.on_message);
    assert_non_null(full.on_close);
    assert_non_null(full.on_error);
    assert_non_null(full.on_drain);

    /* WAKE: not a message, no code, no detail. */
    assert_int_equal(tf_queue_wake(q), 0);
    tf_event_t *ev = tf_queue_pop(q);
    assert_non_null(ev);
    assert_int_equal(tf_event_message(ev, &m), TRUFLUX_EINVAL);
    assert_int_equal(tf_event_code(ev), 0);
    assert_int_equal(tf_event_remote(ev), 0);
    assert_string_equal(tf_event_detail(ev), "");
    truflux_event_free(ev);
    truflux_queue_free(q);
}

static void test_wake_coalesces(void **state)
{
    (void)state;
    tf_queue_t *q = truflux_queue_new(0);
    assert_non_null(q);
    assert_int_equal(tf_queue_wake(q), 0);
    assert_int_equal(tf_queue_wake(q), 0);
    assert_true(fd_readable(q));
    assert_int_equal(tf_queue_wait(q, 0), 1);
    assert_int_equal(q_events(q), 1);
    tf_event_t *ev = tf_queue_pop(q);
    assert_int_equal(tf_event_kind(ev), TRUFLUX_EVENT_WAKE);
    assert_null(tf_event_tag(ev));
    assert_null(tf_event_conn(ev));
    truflux_event_free(ev);
    assert_null(tf_queue_pop(q));
    assert_false(fd_readable(q));
    /* Once taken, the next wake queues again. */
    assert_int_equal(tf_queue_wake(q), 0);
    assert_true(fd_readable(q));
    truflux_event_free(tf_queue_pop(q));
    assert_false(fd_readable(q));
    truflux_queue_free(q);
}

/* Every payload type arrives as sent, in order, with the server's tag; the descriptor is
 * readable while events wait and not once the last one is taken. */
static void test_messages_in_order(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, 0, NULL);
    static const uint8_t bin[] = { 0, 1, 2, 0xFF, 0 };
    static const uint8_t mp[] = { 0x82, 0xA1, 'a', 0x01, 0xA1, 'b', 0xC3 }; /* {a:1,b:true} */
    assert_int_equal(tf_client_send_name(e.client, "echo", TRUFLUX_TYPE_TEXT, "héllo", 6), 0);
    assert_int_equal(tf_client_send_name(e.client, "echo", TRUFLUX_TYPE_BINARY, bin, sizeof bin),
                     0);
    assert_int_equal(tf_client_send_name(e.client, "echo", TRUFLUX_TYPE_MSGPACK, mp, sizeof mp),
                     0);
    assert_int_equal(tf_client_send_name(e.client, "echo", TRUFLUX_TYPE_EMPTY, NULL, 0), 0);
    assert_int_equal(tf_client_send_name(e.client, "bulk", TRUFLUX_TYPE_BINARY, "x", 1), 0);
    TFS_WAIT(e.loop, q_events(e.sq) >= 5, TFS_WAIT_MS);
    assert_int_equal(q_events(e.sq), 5);
    assert_true(fd_readable(e.sq));
    assert_int_equal(tf_queue_wait(e.sq, 0), 1);

    struct {
        const char *name;
        int type;
        const void *data;
        size_t len;
    } want[] = {
        { "echo", TRUFLUX_TYPE_TEXT, "héllo", 6 },
        { "echo", TRUFLUX_TYPE_BINARY, bin, sizeof bin },
        { "echo", TRUFLUX_TYPE_MSGPACK, mp, sizeof mp },
        { "echo", TRUFLUX_TYPE_EMPTY, NULL, 0 },
        { "bulk", TRUFLUX_TYPE_BINARY, "x", 1 },
    };
    tf_conn_t *sconn = NULL;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_true(fd_readable(e.sq));
        tf_event_t *ev = tf_queue_pop(e.sq);
        assert_non_null(ev);
        assert_int_equal(tf_event_kind(ev), TRUFLUX_EVENT_MESSAGE);
        assert_ptr_equal(tf_event_tag(ev), SERVER_TAG);
        tf_message_t m;
        assert_int_equal(tf_event_message(ev, &m), 0);
        assert_string_equal(m.name, want[i].name);
        assert_int_equal(m.id, tf_protocol_id(e.proto, want[i].name));
        assert_int_equal(m.type, want[i].type);
        assert_int_equal(m.len, want[i].len);
        if (m.len)
            assert_memory_equal(m.data, want[i].data, m.len);
        if (!sconn)
            sconn = tf_conn_retain(tf_event_conn(ev));
        assert_ptr_equal(tf_event_conn(ev), sconn);
        truflux_event_free(ev);
    }
    assert_null(tf_queue_pop(e.sq));
    assert_false(fd_readable(e.sq));
    assert_int_equal(q_stats(e.sq).bytes, 0);

    /* The server answers through the connection the event handed out. */
    assert_int_equal(tf_send_name(sconn, "echo", TRUFLUX_TYPE_TEXT, "back", 4), 0);
    tf_event_t *ev = expect_event(e.loop, e.cq, TRUFLUX_EVENT_MESSAGE);
    tf_message_t m;
    assert_int_equal(tf_event_message(ev, &m), 0);
    assert_int_equal(m.len, 4);
    assert_memory_equal(m.data, "back", 4);
    truflux_event_free(ev);

    /* A graceful close: CLOSE on both sides, reason 0, remote set on the server's side. */
    assert_int_equal(tf_client_close(e.client, TRUFLUX_CLOSE_GRACEFUL), 0);
    ev = expect_event(e.loop, e.cq, TRUFLUX_EVENT_CLOSE);
    assert_int_equal(tf_event_code(ev), 0);
    assert_int_equal(tf_event_remote(ev), 0);
    assert_ptr_equal(tf_event_conn(ev), tf_client_conn(e.client));
    truflux_event_free(ev);
    ev = expect_event(e.loop, e.sq, TRUFLUX_EVENT_CLOSE);
    assert_int_equal(tf_event_code(ev), 0);
    assert_int_equal(tf_event_remote(ev), 1);
    assert_ptr_equal(tf_event_conn(ev), sconn);
    truflux_event_free(ev);
    tf_conn_release(sconn);

    /* The server's own end: a CLOSE without a connection. */
    assert_int_equal(tf_server_close(e.server, TRUFLUX_CLOSE_GRACEFUL), 0);
    ev = expect_event(e.loop, e.sq, TRUFLUX_EVENT_CLOSE);
    assert_null(tf_event_conn(ev));
    assert_ptr_equal(tf_event_tag(ev), SERVER_TAG);
    truflux_event_free(ev);
    env_free(&e);
}

/* An event owns a copy of its payload and a reference to its connection: both outlive the
 * server, the client and the loop. */
static void test_event_outlives_its_source(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, 0, NULL);
    char big[5000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    assert_int_equal(tf_client_send_name(e.client, "bulk", TRUFLUX_TYPE_BINARY, big, sizeof big),
                     0);
    TFS_WAIT(e.loop, q_events(e.sq) >= 1, TFS_WAIT_MS);
    tf_event_t *ev = tf_queue_pop(e.sq);
    assert_non_null(ev);
    truflux_client_free(e.client);
    truflux_server_free(e.server);
    e.client = NULL;
    e.server = NULL;
    assert_int_equal(truflux_loop_free(e.loop), 0);
    e.loop = truflux_loop_new();

    tf_message_t m;
    assert_int_equal(tf_event_message(ev, &m), 0);
    assert_string_equal(m.name, "bulk");
    assert_int_equal(m.len, sizeof big);
    assert_memory_equal(m.data, big, sizeof big);
    assert_false(tf_conn_is_open(tf_event_conn(ev)));
    truflux_event_free(ev);
    env_free(&e);
}

/* A refused connection: ERROR then CLOSE, both with ECONNREFUSED and the client's tag. */
static void test_error_then_close(void **state)
{
    (void)state;
    env_t e;
    memset(&e, 0, sizeof e);
    e.loop = truflux_loop_new();
    e.proto = make_proto();
    e.cq = truflux_queue_new(0);
    int port = tfs_dead_port();
    assert_true(port > 0);
    tfs_url(e.url, sizeof e.url, port);
    e.client = new_client(&e, e.cq, CLIENT_TAG, NULL);
    tf_event_t *ev = expect_event(e.loop, e.cq, TRUFLUX_EVENT_ERROR);
    assert_int_equal(tf_event_code(ev), TRUFLUX_ECONNREFUSED);
    assert_true(strlen(tf_event_detail(ev)) > 0);
    assert_ptr_equal(tf_event_tag(ev), CLIENT_TAG);
    truflux_event_free(ev);
    ev = expect_event(e.loop, e.cq, TRUFLUX_EVENT_CLOSE);
    assert_int_equal(tf_event_code(ev), TRUFLUX_ECONNREFUSED);
    truflux_event_free(ev);
    env_free(&e);
}

/* TRUFLUX_EAGAIN above the high-water mark, then one DRAIN event. */
static void test_drain(void **state)
{
    (void)state;
    tf_options_t *o = tfs_options();
    tfs_opt(o, TRUFLUX_OPT_SEND_HWM, 64 * 1024);
    tfs_opt(o, TRUFLUX_OPT_SEND_LWM, 16 * 1024);
    env_t e;
    env_start(&e, 0, o);
    truflux_options_free(o);
    static char chunk[16 * 1024];
    int rc = 0, sent = 0;
    while (sent < 1000 && (rc = tf_client_send_name(e.client, "bulk", TRUFLUX_TYPE_BINARY,
                                                    chunk, sizeof chunk)) == 0)
        sent++;
    assert_int_equal(rc, TRUFLUX_EAGAIN);
    /* Drain the server's queue as it fills, so that the cap plays no part here. */
    int64_t deadline = tfs_now_ms() + TFS_WAIT_MS;
    int drains = 0, got = 0;
    while (tfs_now_ms() < deadline && (!drains || got < sent)) {
        tfs_pump_once(e.loop, 10);
        tf_event_t *ev;
        while ((ev = tf_queue_pop(e.sq)) != NULL) {
            got += tf_event_kind(ev) == TRUFLUX_EVENT_MESSAGE;
            truflux_event_free(ev);
        }
        while ((ev = tf_queue_pop(e.cq)) != NULL) {
            assert_int_equal(tf_event_kind(ev), TRUFLUX_EVENT_DRAIN);
            assert_ptr_equal(tf_event_conn(ev), tf_client_conn(e.client));
            drains++;
            truflux_event_free(ev);
        }
    }
    assert_int_equal(drains, 1);
    assert_int_equal(got, sent);
    env_free(&e);
}

/* A consumer that does not keep up: the server's queue takes messages up to its cap, then
 * drops one, reports EQUEUEFULL and closes that connection with it; the peer sees the code.
 * What was queued stays intact and in order, and memory stays near the cap. */
static void test_overflow_closes_the_connection(void **state)
{
    (void)state;
    const size_t cap = 16 * 1024, len = 1000;
    env_t e;
    env_start(&e, cap, NULL);
    char buf[1000];
    int n = 40; /* 40 kB against a 16 kB cap */
    for (int i = 0; i < n; i++) {
        memset(buf, 'A' + i % 26, sizeof buf);
        assert_int_equal(tf_client_send_name(e.client, "bulk", TRUFLUX_TYPE_BINARY, buf, len), 0);
    }
    /* The client hears it from the peer: ERROR, then CLOSE, both with the code. */
    tf_event_t *ev = expect_event(e.loop, e.cq, TRUFLUX_EVENT_ERROR);
    assert_int_equal(tf_event_code(ev), TRUFLUX_EQUEUEFULL);
    truflux_event_free(ev);
    ev = expect_event(e.loop, e.cq, TRUFLUX_EVENT_CLOSE);
    assert_int_equal(tf_event_code(ev), TRUFLUX_EQUEUEFULL);
    assert_int_equal(tf_event_remote(ev), 1);
    truflux_event_free(ev);
    /* The server's side finishes its close too (its CLOSE event is queued past the cap). */
    TFS_WAIT(e.loop, q_stats(e.sq).refused == 1 && q_events(e.sq) > 0, TFS_WAIT_MS);
    tfs_pump_for(e.loop, 50);

    tf_queue_stats_t s = q_stats(e.sq);
    assert_int_equal(s.refused, 1);
    assert_true(s.dropped >= 1);
    assert_true(s.bytes <= cap + 1024); /* the cap, plus the ERROR and CLOSE past it */

    int msgs = 0, errors = 0, closes = 0;
    while ((ev = tf_queue_pop(e.sq)) != NULL) {
        switch (tf_event_kind(ev)) {
        case TRUFLUX_EVENT_MESSAGE: {
            tf_message_t m;
            assert_int_equal(tf_event_message(ev, &m), 0);
            assert_int_equal(errors + closes, 0); /* messages first */
            assert_int_equal(m.len, len);
            assert_int_equal(((const char *)m.data)[0], 'A' + msgs % 26);
            msgs++;
            break;
        }
        case TRUFLUX_EVENT_ERROR:
            assert_int_equal(tf_event_code(ev), TRUFLUX_EQUEUEFULL);
            assert_int_equal(closes, 0);
            errors++;
            break;
        case TRUFLUX_EVENT_CLOSE:
            assert_int_equal(tf_event_code(ev), TRUFLUX_EQUEUEFULL);
            assert_int_equal(tf_event_remote(ev), 0);
            closes++;
            break;
        default:
            fail_msg("unexpected event kind %d", tf_event_kind(ev));
        }
        truflux_event_free(ev);
    }
    assert_int_equal(errors, 1);
    assert_int_equal(closes, 1);
    assert_true(msgs >= 1 && msgs < n);
    assert_true((size_t)msgs * len <= cap);
    assert_int_equal((uint64_t)(n - msgs), s.dropped);
    env_free(&e);
}

/* While the queue is over its cap a new connection is refused without a word to the
 * consumer (no OPEN, no CLOSE); once the consumer catches up, connections get through. */
static void test_open_refused_while_full(void **state)
{
    (void)state;
    const size_t cap = 4096;
    env_t e;
    env_start(&e, cap, NULL);
    /* One message larger than the cap: taken, because the queue was empty. */
    static char big[6000];
    assert_int_equal(tf_client_send_name(e.client, "bulk", TRUFLUX_TYPE_BINARY, big, sizeof big),
                     0);
    TFS_WAIT(e.loop, q_events(e.sq) >= 1, TFS_WAIT_MS);
    assert_true(q_stats(e.sq).bytes > cap);

    tf_queue_t *q2 = truflux_queue_new(0);
    tf_client_t *c2 = new_client(&e, q2, NULL, NULL);
    tf_event_t *ev = expect_event(e.loop, q2, TRUFLUX_EVENT_OPEN);
    truflux_event_free(ev);
    ev = expect_event(e.loop, q2, TRUFLUX_EVENT_ERROR);
    assert_int_equal(tf_event_code(ev), TRUFLUX_EQUEUEFULL);
    truflux_event_free(ev);
    ev = expect_event(e.loop, q2, TRUFLUX_EVENT_CLOSE);
    assert_int_equal(tf_event_code(ev), TRUFLUX_EQUEUEFULL);
    assert_int_equal(tf_event_remote(ev), 1);
    truflux_event_free(ev);
    tfs_pump_for(e.loop, 50);
    assert_int_equal(q_stats(e.sq).refused, 1);
    assert_int_equal(q_events(e.sq), 1);
    ev = tf_queue_pop(e.sq);
    assert_int_equal(tf_event_kind(ev), TRUFLUX_EVENT_MESSAGE);
    truflux_event_free(ev);
    truflux_client_free(c2);

    /* Caught up: the next connection is reported. */
    tf_queue_t *q3 = truflux_queue_new(0);
    tf_client_t *c3 = new_client(&e, q3, NULL, NULL);
    truflux_event_free(expect_event(e.loop, q3, TRUFLUX_EVENT_OPEN));
    truflux_event_free(expect_event(e.loop, e.sq, TRUFLUX_EVENT_OPEN));
    truflux_client_free(c3);
    env_free(&e);
    truflux_queue_free(q2);
    truflux_queue_free(q3);
}

/* One queue for several sources: the tag tells them apart. */
static void test_tags_tell_sources_apart(void **state)
{
    (void)state;
    env_t e;
    env_server(&e, 0, NULL);
    e.cq = truflux_queue_new(0);
    e.client = new_client(&e, e.sq, CLIENT_TAG, NULL); /* the client reports into sq too */
    int server_opens = 0, client_opens = 0;
    for (int i = 0; i < 2; i++) {
        tf_event_t *ev = expect_event(e.loop, e.sq, TRUFLUX_EVENT_OPEN);
        if (tf_event_tag(ev) == SERVER_TAG)
            server_opens++;
        else if (tf_event_tag(ev) == CLIENT_TAG)
            client_opens++;
        truflux_event_free(ev);
    }
    assert_int_equal(server_opens, 1);
    assert_int_equal(client_opens, 1);
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_empty),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_wake_coalesces),
        cmocka_unit_test(test_messages_in_order),
        cmocka_unit_test(test_event_outlives_its_source),
        cmocka_unit_test(test_error_then_close),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_overflow_closes_the_connection),
        cmocka_unit_test(test_open_refused_while_full),
        cmocka_unit_test(test_tags_tell_sources_apart),
    };
    return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
