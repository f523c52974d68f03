/* tests/test_server.c: the server over real loopback sockets, through the public API only
 * (plus raw POSIX sockets where a hand-written peer is the point). */
#include "support/tfsupport.h"

#include <sys/un.h>

/* ------------------------------------------------------------------------------------ */
/* Protocols                                                                             */

/* Counts of the server-side handlers; reset by each test that reads them. */
static int g_echo_errors;
static int g_handled;
static void *g_handled_user;
static void *g_handled_conn_user;

static void h_echo(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)user;
    if (tf_send(conn, m->id, m->type, m->data, m->len) != 0)
        g_echo_errors++;
}

static void h_handled(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)m;
    g_handled++;
    g_handled_user = user;
    g_handled_conn_user = tf_conn_user(conn);
}

static const char *const k_names[] = { "echo", "handled", "unhandled", "bin", "txt",
                                       "pack", "none", "reg", "bcast" };
#define K_NNAMES (sizeof k_names / sizeof k_names[0])

static int g_handled_tag; /* its address is the handler's user pointer */

/* The test protocol. The server's copy has handlers; the client's has none, so everything
 * the client receives lands in its recorder. Handlers are not part of the fingerprint. */
static tf_protocol_t *make_proto(int server)
{
    tf_protocol_t *p = truflux_protocol_new();
    assert_non_null(p);
    assert_true(tf_protocol_add(p, "echo", TRUFLUX_TYPES_ANY, 0) >= 0);
    assert_true(tf_protocol_add(p, "handled", 0, 0) >= 0);
    assert_true(tf_protocol_add(p, "unhandled", 0, 0) >= 0);
    assert_true(tf_protocol_add(p, "bin", TRUFLUX_TYPES_BINARY, 16) >= 0);
    assert_true(tf_protocol_add(p, "txt", TRUFLUX_TYPES_TEXT, 0) >= 0);
    assert_true(tf_protocol_add(p, "pack", TRUFLUX_TYPES_MSGPACK, 0) >= 0);
    assert_true(tf_protocol_add(p, "none", TRUFLUX_TYPES_EMPTY, 0) >= 0);
    assert_true(tf_protocol_add(p, "reg", TRUFLUX_TYPES_BINARY, 0) >= 0);
    assert_true(tf_protocol_add(p, "bcast", TRUFLUX_TYPES_ANY, 0) >= 0);
    if (server) {
        assert_int_equal(tf_protocol_on(p, "echo", h_echo, NULL), 0);
        assert_int_equal(tf_protocol_on(p, "handled", h_handled, &g_handled_tag), 0);
    }
    return p;
}

static uint32_t id_of(const tf_protocol_t *p, const char *name)
{
    int64_t id = tf_protocol_id(p, name);
    assert_true(id >= 0);
    return (uint32_t)id;
}

/* A loop plus the server/client protocols, the usual start of a test. */
typedef struct env {
    tf_loop_t *loop;
    tf_protocol_t *sproto, *cproto;
    tfs_pair_t pair;
} env_t;

static void env_start(env_t *e, const tf_options_t *sopts, const tf_options_t *copts)
{
    memset(e, 0, sizeof *e);
    g_echo_errors = 0;
    g_handled = 0;
    g_handled_user = NULL;
    g_handled_conn_user = NULL;
    e->loop = truflux_loop_new();
    assert_non_null(e->loop);
    e->sproto = make_proto(1);
    e->cproto = make_proto(0);
    tfs_pair_start(&e->pair, e->loop, e->sproto, e->cproto, sopts, copts);
}

static void env_free(env_t *e)
{
    tfs_pair_free(&e->pair);
    truflux_protocol_free(e->sproto);
    truflux_protocol_free(e->cproto);
    assert_int_equal(truflux_loop_free(e->loop), 0);
    assert_int_equal(g_echo_errors, 0);
}

/* ------------------------------------------------------------------------------------ */
/* Listening                                                                             */

static void test_listen_ipv4(void **state)
{
    (void)state;
    tf_loop_t *loop = truflux_loop_new();
    assert_non_null(loop);
    tf_protocol_t *p = make_proto(1);
    tf_server_t *s = truflux_server_new(loop, p, NULL);
    assert_non_null(s);
    assert_int_equal(tf_server_port(s), 0);
    assert_int_equal(tf_server_listen(s, "tcp://127.0.0.1:0"), 0);
    int port = tf_server_port(s);
    assert_true(port > 0 && port <= 65535);

    /* The port is really listening: a raw connect reaches it. */
    tfs_raw_t raw;
    assert_int_equal(tfs_raw_connect(&raw, port), 0);
    tfs_raw_close(&raw);

    truflux_server_free(s);
    truflux_protocol_free(p);
    assert_int_equal(truflux_loop_free(loop), 0);
}

static void test_listen_ipv6(void **state)
{
    (void)state;
    if (!tfs_ipv6_loopback_ok())
        TFS_SKIP("::1 cannot be bound on this machine (no IPv6 loopback)");
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *sp = make_proto(1), *cp = make_proto(0);
    tfs_pair_t pr;
    memset(&pr, 0, sizeof pr);
    tfs_rec_init(&pr.srec, "server");
    tfs_rec_init(&pr.crec, "client");
    pr.server = truflux_server_new(loop, sp, NULL);
    assert_non_null(pr.server);
    tf_callbacks_t scb = tfs_rec_callbacks(&pr.srec);
    assert_int_equal(tf_server_set_callbacks(pr.server, &scb), 0);
    assert_int_equal(tf_server_listen(pr.server, "tcp://[::1]:0"), 0);
    int port = tf_server_port(pr.server);
    assert_true(port > 0 && port <= 65535);

    pr.client = truflux_client_new(loop, cp, NULL);
    tf_callbacks_t ccb = tfs_rec_callbacks(&pr.crec);
    assert_int_equal(tf_client_set_callbacks(pr.client, &ccb), 0);
    char url[64];
    snprintf(url, sizeof url, "tcp://[::1]:%d", port);
    assert_int_equal(tf_client_connect(pr.client, url), 0);
    TFS_WAIT(loop, pr.crec.opens == 1 && pr.srec.opens == 1, TFS_WAIT_MS);
    assert_int_equal(pr.crec.opens, 1);
    assert_int_equal(pr.srec.opens, 1);

    char host[64];
    int rport = 0;
    assert_int_equal(tf_conn_remote_addr(tf_client_conn(pr.client), host, sizeof host, &rport), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(rport, port);

    tfs_pair_free(&pr);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(loop), 0);
}

static void test_bad_urls(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "127.0.0.1:0",            /* no scheme */
        "udp://127.0.0.1:0",      /* unknown scheme */
        "tcp://127.0.0.1",        /* no port */
        "tcp://127.0.0.1:",       /* empty port */
        "tcp://127.0.0.1:65536",  /* port out of range */
        "tcp://127.0.0.1:99999999999",
        "tcp://127.0.0.1:-1",
        "tcp://127.0.0.1:12ab",
        "tcp://[::1:0",           /* unclosed bracket */
        "",
    };
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *p = make_proto(1);
    tf_server_t *s = truflux_server_new(loop, p, NULL);
    assert_non_null(s);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = tf_server_listen(s, bad[i]);
        if (rc != TRUFLUX_EBADURL)
            fprintf(stderr, "  url \"%s\": got %s, want EBADURL\n", bad[i], tf_errname(rc));
        assert_int_equal(rc, TRUFLUX_EBADURL);
    }
    assert_int_equal(tf_server_port(s), 0);
    truflux_server_free(s);
    truflux_protocol_free(p);
    assert_int_equal(truflux_loop_free(loop), 0);
}

static void test_addr_in_use(void **state)
{
    (void)state;
    /* A plain listener without SO_REUSEPORT occupies the port: whatever options the library
     * sets on its own socket, the bind must fail. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    int port = ntohs(a.sin_port);

    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *p = make_proto(1);
    tf_server_t *s = truflux_server_new(loop, p, NULL);
    char url[64];
    assert_int_equal(tf_server_listen(s, tfs_url(url, sizeof url, port)), TRUFLUX_EADDRINUSE);
    assert_int_equal(tf_server_port(s), 0);
    truflux_server_free(s);
    truflux_protocol_free(p);
    assert_int_equal(truflux_loop_free(loop), 0);
    close(fd);
}

/* ------------------------------------------------------------------------------------ */
/* Opening and messages                                                                  */

static void test_open_after_hello(void **state)
{
    (void)state;
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *p = make_proto(1);
    tfs_pair_t pr;
    tfs_pair_start(&pr, loop, p, NULL, NULL, NULL);

    tfs_raw_t raw;
    assert_int_equal(tfs_raw_connect(&raw, pr.port), 0);
    tfs_pump_for(loop, 200);
    assert_int_equal(pr.srec.opens, 0); /* a TCP connection is not a truflux connection */
    assert_int_equal(tf_server_count(pr.server), 0);

    tfs_hello_t h, w;
    tfs_hello_init(&h, p, k_names, K_NNAMES);
    assert_int_equal(tfs_raw_handshake(loop, &raw, &h, &w), 0);
    assert_int_equal(w.major, 1);
    assert_int_equal(w.minor, 0);
    assert_int_equal(w.flags & TFS_HELLO_STRICT, 0);
    uint8_t fp[32];
    assert_int_equal(tf_protocol_fingerprint(p, fp), 0);
    assert_memory_equal(w.fingerprint, fp, 32);
    assert_int_equal(w.nids, K_NNAMES);
    for (size_t i = 0; i < K_NNAMES; i++)
        assert_true(tfs_hello_has_id(&w, tf_protocol_name_id(k_names[i])));

    TFS_WAIT(loop, pr.srec.opens == 1, TFS_WAIT_MS);
    assert_int_equal(pr.srec.opens, 1);
    assert_int_equal(tf_server_count(pr.server), 1);

    /* Vanishing without a CLOSE frame is reported as EEOF. */
    tfs_raw_close(&raw);
    TFS_WAIT(loop, pr.srec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(pr.srec.closes, 1);
    assert_int_equal(pr.srec.last_close_reason, TRUFLUX_EEOF);
    assert_int_equal(tf_server_count(pr.server), 0);

    tfs_pair_free(&pr);
    truflux_protocol_free(p);
    assert_int_equal(truflux_loop_free(loop), 0);
}

static void test_echo_types(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, NULL, NULL);
    tf_conn_t *c = tf_client_conn(e.pair.client);
    uint32_t echo = id_of(e.cproto, "echo");

    uint8_t bin[256];
    for (int i = 0; i < 256; i++)
        bin[i] = (uint8_t)i;
    static const char text[] = "h\xc3\xa9llo \xe2\x9c\x93 w\xc3\xb6rld \xf0\x9f\x98\x80";
    static const uint8_t pack[] = { 0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x93, 0x01, 0x02, 0x03 };

    assert_int_equal(tf_send(c, echo, TRUFLUX_TYPE_EMPTY, NULL, 0), 0);
    assert_int_equal(tf_send(c, echo, TRUFLUX_TYPE_BINARY, bin, sizeof bin), 0);
    assert_int_equal(tf_send(c, echo, TRUFLUX_TYPE_TEXT, text, sizeof text - 1), 0);
    assert_int_equal(tf_send(c, echo, TRUFLUX_TYPE_MSGPACK, pack, sizeof pack), 0);
    assert_int_equal(tf_send_name(c, "echo", TRUFLUX_TYPE_BINARY, "", 0), 0);

    TFS_WAIT(e.loop, e.pair.crec.nmsgs >= 5, TFS_WAIT_MS);
    assert_int_equal(e.pair.crec.nmsgs, 5);
    const tfs_msg_t *m = e.pair.crec.msgs;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(m[i].id, echo);
        assert_string_equal(m[i].name, "echo");
    }
    assert_int_equal(m[0].type, TRUFLUX_TYPE_EMPTY);
    assert_int_equal(m[0].len, 0);
    assert_int_equal(m[1].type, TRUFLUX_TYPE_BINARY);
    assert_int_equal(m[1].len, sizeof bin);
    assert_memory_equal(m[1].data, bin, sizeof bin);
    assert_int_equal(m[2].type, TRUFLUX_TYPE_TEXT);
    assert_int_equal(m[2].len, sizeof text - 1);
    assert_memory_equal(m[2].data, text, sizeof text - 1);
    assert_int_equal(m[3].type, TRUFLUX_TYPE_MSGPACK);
    assert_int_equal(m[3].len, sizeof pack);
    assert_memory_equal(m[3].data, pack, sizeof pack);
    /* An empty binary stays binary: the tag, not the length, carries the type. */
    assert_int_equal(m[4].type, TRUFLUX_TYPE_BINARY);
    assert_int_equal(m[4].len, 0);
    env_free(&e);
}

static void test_handler_vs_fallback(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, NULL, NULL);
    tf_client_t *cl = e.pair.client;
    for (int i = 0; i < 2; i++)
        assert_int_equal(tf_client_send_name(cl, "handled", TRUFLUX_TYPE_BINARY, "h", 1), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tf_client_send_name(cl, "unhandled", TRUFLUX_TYPE_BINARY, "u", 1), 0);
    TFS_WAIT(e.loop, g_handled == 2 && e.pair.srec.nmsgs == 3, TFS_WAIT_MS);
    assert_int_equal(g_handled, 2);
    assert_ptr_equal(g_handled_user, &g_handled_tag);
    assert_int_equal(e.pair.srec.nmsgs, 3);
    assert_int_equal(tfs_rec_count_name(&e.pair.srec, "unhandled"), 3);
    assert_int_equal(tfs_rec_count_name(&e.pair.srec, "handled"), 0);
    /* A server froze the protocol: its handlers can no longer change. */
    assert_int_equal(tf_protocol_on(e.sproto, "handled", NULL, NULL), TRUFLUX_EBUSY);
    env_free(&e);
}

static void test_server_count(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, NULL, NULL);
    assert_int_equal(tf_server_count(e.pair.server), 1);

    tf_client_t *more[2];
    tfs_rec_t mrec[2];
    char url[64];
    for (int i = 0; i < 2; i++) {
        tfs_rec_init(&mrec[i], "more");
        more[i] = truflux_client_new(e.loop, e.cproto, NULL);
        assert_non_null(more[i]);
        tf_callbacks_t cb = tfs_rec_callbacks(&mrec[i]);
        assert_int_equal(tf_client_set_callbacks(more[i], &cb), 0);
        assert_int_equal(tf_client_connect(more[i], tfs_url(url, sizeof url, e.pair.port)), 0);
    }
    TFS_WAIT(e.loop, e.pair.srec.opens == 3, TFS_WAIT_MS);
    assert_int_equal(e.pair.srec.opens, 3);
    assert_int_equal(tf_server_count(e.pair.server), 3);

    truflux_client_free(more[0]);
    TFS_WAIT(e.loop, e.pair.srec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(e.pair.srec.closes, 1);
    assert_int_equal(tf_server_count(e.pair.server), 2);

    truflux_client_free(more[1]);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mrec[i].closes, 0); /* freeing does not call on_close */
        tfs_rec_free(&mrec[i]);
    }
    TFS_WAIT(e.loop, e.pair.srec.closes == 2, TFS_WAIT_MS);
    assert_int_equal(tf_server_count(e.pair.server), 1);
    env_free(&e);
}

/* ------------------------------------------------------------------------------------ */
/* Broadcast                                                                             */

#define NB 4
typedef struct bcast_ctx {
    tf_conn_t *slot[NB];        /* server-side connection of client i (retained) */
    tf_server_t *server;
    uint32_t id;
    tf_conn_t *exclude[NB];
    size_t nexclude;
    int result, called;
} bcast_ctx_t;

static bcast_ctx_t *g_bcast;

static void h_reg(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)user;
    if (g_bcast && m->len == 1 && m->data && ((const uint8_t *)m->data)[0] < NB) {
        int i = ((const uint8_t *)m->data)[0];
        if (!g_bcast->slot[i])
            g_bcast->slot[i] = tf_conn_retain(conn);
    }
}

static void do_broadcast(void *arg)
{
    bcast_ctx_t *b = (bcast_ctx_t *)arg;
    b->result = tf_server_broadcast(b->server, b->id, TRUFLUX_TYPE_TEXT, "all", 3,
                                    b->nexclude ? b->exclude : NULL, b->nexclude);
    b->called++;
}

static void test_broadcast_exclude(void **state)
{
    (void)state;
    bcast_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    g_bcast = &ctx;
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *sp = make_proto(1), *cp = make_proto(0);
    assert_int_equal(tf_protocol_on(sp, "reg", h_reg, NULL), 0);
    tfs_pair_t pr;
    tfs_pair_start(&pr, loop, sp, NULL, NULL, NULL);

    tf_client_t *cl[NB];
    tfs_rec_t rec[NB];
    char url[64];
    for (int i = 0; i < NB; i++) {
        tfs_rec_init(&rec[i], "client");
        cl[i] = truflux_client_new(loop, cp, NULL);
        tf_callbacks_t cb = tfs_rec_callbacks(&rec[i]);
        assert_int_equal(tf_client_set_callbacks(cl[i], &cb), 0);
        assert_int_equal(tf_client_connect(cl[i], tfs_url(url, sizeof url, pr.port)), 0);
        uint8_t idx = (uint8_t)i;
        assert_int_equal(tf_client_send_name(cl[i], "reg", TRUFLUX_TYPE_BINARY, &idx, 1), 0);
    }
    TFS_WAIT(loop, ctx.slot[0] && ctx.slot[1] && ctx.slot[2] && ctx.slot[3], TFS_WAIT_MS);
    for (int i = 0; i < NB; i++)
        assert_non_null(ctx.slot[i]);

    ctx.server = pr.server;
    ctx.id = id_of(sp, "bcast");
    ctx.exclude[0] = ctx.slot[1];
    ctx.exclude[1] = ctx.slot[3];
    ctx.nexclude = 2;
    /* On the loop thread the return value is the number of connections reached. */
    assert_int_equal(tf_loop_call(loop, do_broadcast, &ctx), 0);
    TFS_WAIT(loop, ctx.called && rec[0].nmsgs == 1 && rec[2].nmsgs == 1, TFS_WAIT_MS);
    assert_int_equal(ctx.called, 1);
    assert_int_equal(ctx.result, 2);
    tfs_pump_for(loop, 100); /* give a wrongly reached client time to show it */
    assert_int_equal(rec[0].nmsgs, 1);
    assert_int_equal(rec[1].nmsgs, 0);
    assert_int_equal(rec[2].nmsgs, 1);
    assert_int_equal(rec[3].nmsgs, 0);
    assert_string_equal(rec[0].msgs[0].name, "bcast");
    assert_int_equal(rec[0].msgs[0].type, TRUFLUX_TYPE_TEXT);
    assert_int_equal(rec[0].msgs[0].len, 3);
    assert_memory_equal(rec[0].msgs[0].data, "all", 3);

    /* Without exclusions every open connection is reached. */
    ctx.nexclude = 0;
    assert_int_equal(tf_loop_call(loop, do_broadcast, &ctx), 0);
    TFS_WAIT(loop, ctx.called == 2 && rec[0].nmsgs == 2 && rec[1].nmsgs == 1 &&
             rec[2].nmsgs == 2 && rec[3].nmsgs == 1, TFS_WAIT_MS);
    assert_int_equal(ctx.result, NB);
    assert_int_equal(rec[1].nmsgs, 1);
    assert_int_equal(rec[3].nmsgs, 1);

    for (int i = 0; i < NB; i++) {
        truflux_client_free(cl[i]);
        tfs_rec_free(&rec[i]);
        tf_conn_release(ctx.slot[i]);
    }
    g_bcast = NULL;
    tfs_pair_free(&pr);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(loop), 0);
}

/* ------------------------------------------------------------------------------------ */
/* Connection accessors                                                                  */

static void test_stats(void **state)
{
    (void)state;
    enum { N = 10, LEN = 100 };
    env_t e;
    env_start(&e, NULL, NULL);
    tf_conn_t *c = tf_client_conn(e.pair.client);
    uint8_t payload[LEN];
    memset(payload, 0xA5, sizeof payload);
    for (int i = 0; i < N; i++)
        assert_int_equal(tf_send_name(c, "echo", TRUFLUX_TYPE_BINARY, payload, LEN), 0);
    TFS_WAIT(e.loop, e.pair.crec.nmsgs == N, TFS_WAIT_MS);
    assert_int_equal(e.pair.crec.nmsgs, N);

    tf_conn_stats_t cs, ss;
    memset(&cs, 0, sizeof cs);
    memset(&ss, 0, sizeof ss);
    cs.size = sizeof cs;
    ss.size = sizeof ss;
    assert_int_equal(tf_conn_stats(c, &cs), 0);
    assert_int_equal(tf_conn_stats(e.pair.srec.conns[0], &ss), 0);
    assert_int_equal(cs.msgs_out, N);
    assert_int_equal(cs.msgs_in, N);
    assert_int_equal(ss.msgs_in, N);
    assert_int_equal(ss.msgs_out, N);
    assert_true(cs.bytes_out >= (uint64_t)N * (TFS_HDR + LEN));
    assert_true(cs.bytes_in >= (uint64_t)N * (TFS_HDR + LEN));
    /* Frames and hellos included, and nothing else in flight (no heartbeat within 20 s): what
     * one side wrote the other read. */
    assert_int_equal(cs.bytes_out, ss.bytes_in);
    assert_int_equal(ss.bytes_out, cs.bytes_in);
    /* No more than the messages, the two hellos and a little slack for extensions. */
    assert_true(cs.bytes_out < (uint64_t)N * (TFS_HDR + LEN) + 1024);
    assert_int_equal(cs.queued, 0);
    assert_int_equal(ss.queued, 0);
    assert_int_equal(tf_conn_stats(NULL, &cs), TRUFLUX_EINVAL);
    env_free(&e);
}

static void test_addresses(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, NULL, NULL);
    tf_conn_t *c = tf_client_conn(e.pair.client);
    tf_conn_t *s = e.pair.srec.conns[0];
    char host[64];
    int port = -1, cport = -1;

    assert_int_equal(tf_conn_local_addr(s, host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, e.pair.port);

    assert_int_equal(tf_conn_local_addr(c, host, sizeof host, &cport), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_true(cport > 0 && cport != e.pair.port);

    assert_int_equal(tf_conn_remote_addr(s, host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, cport);

    assert_int_equal(tf_conn_remote_addr(c, NULL, 0, &port), 0); /* host may be NULL */
    assert_int_equal(port, e.pair.port);

    char tiny[4];
    assert_int_equal(tf_conn_remote_addr(c, tiny, sizeof tiny, &port), TRUFLUX_EINVAL);
    env_free(&e);
}

static void test_user_pointer(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, NULL, NULL);
    tf_conn_t *s = e.pair.srec.conns[0];
    int marker = 0;
    assert_null(tf_conn_user(s));
    tf_conn_set_user(s, &marker);
    assert_ptr_equal(tf_conn_user(s), &marker);
    /* The recorder itself is the callbacks' user pointer: that the pair opened proves it. */
    assert_int_equal(tf_client_send_name(e.pair.client, "handled", TRUFLUX_TYPE_EMPTY, NULL, 0), 0);
    TFS_WAIT(e.loop, g_handled == 1, TFS_WAIT_MS);
    assert_int_equal(g_handled, 1);
    assert_ptr_equal(g_handled_conn_user, &marker);
    assert_ptr_equal(g_handled_user, &g_handled_tag);
    assert_ptr_equal(tf_conn_protocol(s), e.sproto);
    env_free(&e);
}

/* ------------------------------------------------------------------------------------ */
/* Closing                                                                               */

typedef struct close_ctx {
    tf_server_t *server;
    tf_conn_t *conn;
    uint32_t id;
    int n, send_errors, close_rc, called;
} close_ctx_t;

static void send_then_close(void *arg)
{
    close_ctx_t *x = (close_ctx_t *)arg;
    for (int i = 0; i < x->n; i++) {
        uint8_t seq[4] = { (uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
        if (tf_send(x->conn, x->id, TRUFLUX_TYPE_BINARY, seq, 4) != 0)
            x->send_errors++;
    }
    x->close_rc = tf_server_close(x->server, TRUFLUX_CLOSE_GRACEFUL);
    x->called = 1;
}

static void test_graceful_server_close(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, NULL, NULL);
    close_ctx_t x;
    memset(&x, 0, sizeof x);
    x.server = e.pair.server;
    x.conn = e.pair.srec.conns[0];
    x.id = id_of(e.sproto, "bcast");
    x.n = 50;
    assert_int_equal(tf_loop_call(e.loop, send_then_close, &x), 0);
    TFS_WAIT(e.loop, e.pair.crec.closes == 1 && e.pair.srec.server_done == 1, TFS_WAIT_MS);
    assert_int_equal(x.called, 1);
    assert_int_equal(x.send_errors, 0);
    assert_int_equal(x.close_rc, 0);

    /* Everything queued before the close arrived, in order, before on_close. */
    assert_int_equal(e.pair.crec.nmsgs, 50);
    for (int i = 0; i < 50; i++) {
        const tfs_msg_t *m = &e.pair.crec.msgs[i];
        assert_int_equal(m->len, 4);
        assert_int_equal((int)tfs_get_u32(m->data), i);
        assert_true(m->seq < e.pair.crec.last_close_seq);
    }
    assert_int_equal(e.pair.crec.closes, 1);
    assert_int_equal(e.pair.crec.last_close_reason, TRUFLUX_ESHUTDOWN);
    assert_int_equal(e.pair.crec.last_close_remote, 1);

    /* The server's own connection closed before the server reported itself done. */
    assert_int_equal(e.pair.srec.closes, 1);
    assert_int_equal(e.pair.srec.server_done, 1);
    assert_true(e.pair.srec.last_close_seq < e.pair.srec.server_done_seq);
    assert_int_equal(e.pair.srec.server_done_reason, 0);
    assert_int_equal(e.pair.srec.server_done_remote, 0);
    assert_int_equal(tf_server_count(e.pair.server), 0);
    assert_int_equal(tf_server_close(e.pair.server, TRUFLUX_CLOSE_GRACEFUL), TRUFLUX_ECLOSED);

    /* It stopped listening. */
    tfs_raw_t raw;
    assert_int_equal(tfs_raw_connect(&raw, e.pair.port), -ECONNREFUSED);
    /* A retained connection that has closed is still valid to call. */
    assert_int_equal(tf_conn_is_open(x.conn), 0);
    assert_int_equal(tf_send(x.conn, x.id, TRUFLUX_TYPE_EMPTY, NULL, 0), TRUFLUX_ECLOSED);
    env_free(&e);
}

static void test_forced_server_close(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, NULL, NULL);
    assert_int_equal(tf_server_close(e.pair.server, TRUFLUX_CLOSE_FORCE), 0);
    TFS_WAIT(e.loop, e.pair.crec.closes == 1 && e.pair.srec.server_done == 1, TFS_WAIT_MS);
    assert_int_equal(e.pair.crec.closes, 1);
    int r = e.pair.crec.last_close_reason;
    if (r != TRUFLUX_EEOF && r != TRUFLUX_ECONNRESET && r != TRUFLUX_ESHUTDOWN)
        fprintf(stderr, "  client close reason after a forced server close: %s\n", tf_errname(r));
    assert_true(r == TRUFLUX_EEOF || r == TRUFLUX_ECONNRESET || r == TRUFLUX_ESHUTDOWN);
    assert_int_equal(e.pair.srec.closes, 1);
    assert_int_equal(e.pair.srec.server_done, 1);
    assert_true(e.pair.srec.last_close_seq < e.pair.srec.server_done_seq);
    assert_int_equal(tf_server_count(e.pair.server), 0);
    env_free(&e);
}

/* ------------------------------------------------------------------------------------ */
/* Adopting a socket                                                                     */

static void test_adopt_socketpair(void **state)
{
    (void)state;
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *p = make_proto(1);
    tf_server_t *s = truflux_server_new(loop, p, NULL);
    tfs_rec_t rec;
    tfs_rec_init(&rec, "server");
    tf_callbacks_t cb = tfs_rec_callbacks(&rec);
    assert_int_equal(tf_server_set_callbacks(s, &cb), 0);
    assert_int_equal(tf_server_adopt(s, -1), TRUFLUX_EINVAL);

    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(tf_server_adopt(s, sv[0]), 0); /* ownership of sv[0] moves */
    tfs_raw_t raw;
    tfs_raw_from_fd(&raw, sv[1]);

    tfs_hello_t h, w;
    tfs_hello_init(&h, p, k_names, K_NNAMES);
    assert_int_equal(tfs_raw_handshake(loop, &raw, &h, &w), 0);
    assert_int_equal(w.major, 1);
    uint8_t fp[32];
    tf_protocol_fingerprint(p, fp);
    assert_memory_equal(w.fingerprint, fp, 32);
    assert_int_equal(w.nids, tf_protocol_count(p));
    TFS_WAIT(loop, rec.opens == 1, TFS_WAIT_MS);
    assert_int_equal(rec.opens, 1);
    assert_int_equal(tf_server_count(s), 1);

    uint32_t echo = tf_protocol_name_id("echo");
    assert_int_equal(tfs_raw_send_frame(loop, &raw, TFS_KIND_MSG_BINARY, echo, "adopted", 7), 0);
    tfs_frame_t f;
    assert_int_equal(tfs_raw_next_frame(loop, &raw, &f, TFS_WAIT_MS), 1);
    assert_int_equal(f.kind, TFS_KIND_MSG_BINARY);
    assert_int_equal(f.id, echo);
    assert_int_equal(f.len, 7);
    assert_memory_equal(f.payload, "adopted", 7);
    tfs_frame_free(&f);

    /* A graceful close from the peer: CLOSE(0) is answered with CLOSE(0), then the end. */
    assert_int_equal(tfs_raw_send_frame(loop, &raw, TFS_KIND_CLOSE, 0, NULL, 0), 0);
    assert_int_equal(tfs_raw_expect_close(loop, &raw, TFS_WAIT_MS), 0);
    TFS_WAIT(loop, rec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(rec.closes, 1);
    assert_int_equal(rec.last_close_reason, 0);
    assert_int_equal(rec.last_close_remote, 1);
    tfs_raw_close(&raw);

    truflux_server_free(s);
    tfs_rec_free(&rec);
    truflux_protocol_free(p);
    assert_int_equal(truflux_loop_free(loop), 0);
}

/* ------------------------------------------------------------------------------------ */
/* Stateful protocol                                                                     */

static void h_login_server(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    int *errs = (int *)user;
    int st = tf_protocol_state(tf_conn_protocol(conn), "authed");
    if (st < 0 || tf_conn_set_state(conn, st) != 0)
        (*errs)++;
    if (tf_send(conn, m->id, m->type, m->data, m->len) != 0)
        (*errs)++;
}

static void h_login_client(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    int *errs = (int *)user;
    (void)m;
    /* The client also checks the states of what it receives, so it moves too. */
    int st = tf_protocol_state(tf_conn_protocol(conn), "authed");
    if (st < 0 || tf_conn_set_state(conn, st) != 0)
        (*errs)++;
}

static tf_protocol_t *make_stateful(int server, int *errs)
{
    tf_protocol_t *p = truflux_protocol_new();
    assert_int_equal(tf_protocol_add_state(p, "start"), 0);
    assert_int_equal(tf_protocol_add_state(p, "authed"), 1);
    assert_true(tf_protocol_add(p, "login", 0, 0) >= 0);
    assert_true(tf_protocol_add(p, "secret", 0, 0) >= 0);
    assert_int_equal(tf_protocol_allow(p, "secret", "authed"), 0);
    assert_int_equal(tf_protocol_allow(p, "secret", "nope"), TRUFLUX_ENOTFOUND);
    if (server) {
        assert_int_equal(tf_protocol_on(p, "login", h_login_server, errs), 0);
        assert_int_equal(tf_protocol_on(p, "secret", h_echo, NULL), 0);
    } else {
        assert_int_equal(tf_protocol_on(p, "login", h_login_client, errs), 0);
    }
    return p;
}

static void test_stateful(void **state)
{
    (void)state;
    int serrs = 0, cerrs = 0;
    g_echo_errors = 0;
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *sp = make_stateful(1, &serrs), *cp = make_stateful(0, &cerrs);
    tfs_pair_t pr;
    tfs_pair_start(&pr, loop, sp, cp, NULL, NULL);
    assert_int_equal(tf_conn_state(pr.srec.conns[0]), 0);

    /* Out of state: the server refuses with ESTATE and closes. */
    assert_int_equal(tf_client_send_name(pr.client, "secret", TRUFLUX_TYPE_TEXT, "s", 1), 0);
    TFS_WAIT(loop, pr.crec.closes == 1 && pr.srec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(pr.crec.closes, 1);
    assert_int_equal(pr.crec.last_close_reason, TRUFLUX_ESTATE);
    assert_int_equal(pr.crec.last_close_remote, 1);
    assert_int_equal(pr.srec.closes, 1);
    assert_int_equal(pr.srec.last_close_reason, TRUFLUX_ESTATE);
    assert_int_equal(pr.srec.last_close_remote, 0);
    assert_int_equal(pr.srec.nmsgs, 0);

    /* In state: login moves both sides to "authed", then secret is accepted and echoed. */
    tfs_rec_t rec;
    tfs_rec_init(&rec, "client2");
    tf_client_t *c2 = truflux_client_new(loop, cp, NULL);
    tf_callbacks_t cb = tfs_rec_callbacks(&rec);
    assert_int_equal(tf_client_set_callbacks(c2, &cb), 0);
    char url[64];
    assert_int_equal(tf_client_connect(c2, tfs_url(url, sizeof url, pr.port)), 0);
    assert_int_equal(tf_client_send_name(c2, "login", TRUFLUX_TYPE_TEXT, "me", 2), 0);
    assert_int_equal(tf_client_send_name(c2, "secret", TRUFLUX_TYPE_TEXT, "s2", 2), 0);
    TFS_WAIT(loop, rec.nmsgs == 1 || rec.closes, TFS_WAIT_MS);
    assert_int_equal(rec.closes, 0);
    assert_int_equal(rec.nmsgs, 1);
    assert_string_equal(rec.msgs[0].name, "secret");
    assert_memory_equal(rec.msgs[0].data, "s2", 2);
    assert_int_equal(serrs, 0);
    assert_int_equal(cerrs, 0);
    assert_int_equal(pr.srec.opens, 2);
    assert_int_equal(tf_conn_state(pr.srec.conns[1]), 1);
    assert_int_equal(tf_conn_state(tf_client_conn(c2)), 1);
    assert_int_equal(tf_conn_set_state(pr.srec.conns[1], 2), TRUFLUX_EINVAL);
    assert_int_equal(tf_conn_set_state(pr.srec.conns[1], -1), TRUFLUX_EINVAL);

    truflux_client_free(c2);
    tfs_rec_free(&rec);
    tfs_pair_free(&pr);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(loop), 0);
    assert_int_equal(g_echo_errors, 0);
}

/* ------------------------------------------------------------------------------------ */
/* Strict mode and differing protocols                                                   */

static tf_protocol_t *make_named(const char *const *names, size_t n)
{
    tf_protocol_t *p = truflux_protocol_new();
    for (size_t i = 0; i < n; i++)
        assert_true(tf_protocol_add(p, names[i], 0, 0) >= 0);
    return p;
}

/* Connects a client with `cp` to a server with `sp`; returns when the client opened or
 * closed. The caller inspects and frees. */
static void connect_with(tf_loop_t *loop, tfs_pair_t *pr, tf_protocol_t *sp, tf_protocol_t *cp,
                         int server_strict, int client_strict)
{
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_STRICT, server_strict);
    tfs_opt(co, TRUFLUX_OPT_STRICT, client_strict);
    memset(pr, 0, sizeof *pr);
    tfs_rec_init(&pr->srec, "server");
    tfs_rec_init(&pr->crec, "client");
    pr->server = truflux_server_new(loop, sp, so);
    tf_callbacks_t scb = tfs_rec_callbacks(&pr->srec);
    assert_int_equal(tf_server_set_callbacks(pr->server, &scb), 0);
    assert_int_equal(tf_server_listen(pr->server, "tcp://127.0.0.1:0"), 0);
    pr->port = tf_server_port(pr->server);
    pr->client = truflux_client_new(loop, cp, co);
    tf_callbacks_t ccb = tfs_rec_callbacks(&pr->crec);
    assert_int_equal(tf_client_set_callbacks(pr->client, &ccb), 0);
    char url[64];
    assert_int_equal(tf_client_connect(pr->client, tfs_url(url, sizeof url, pr->port)), 0);
    truflux_options_free(so); /* copied by the constructors */
    truflux_options_free(co);
    TFS_WAIT(loop, (pr->crec.opens && pr->srec.opens) || pr->crec.closes, TFS_WAIT_MS);
}

static void check_refused(tf_loop_t *loop, tfs_pair_t *pr)
{
    TFS_WAIT(loop, pr->crec.closes == 1 && pr->srec.errors >= 1, TFS_WAIT_MS);
    assert_int_equal(pr->crec.opens, 0);
    assert_int_equal(pr->srec.opens, 0);
    assert_int_equal(pr->crec.closes, 1);
    assert_int_equal(pr->crec.last_close_reason, TRUFLUX_EFINGERPRINT);
    assert_int_equal(pr->crec.last_close_remote, 1);
    assert_true(tfs_rec_has_error(&pr->srec, TRUFLUX_EFINGERPRINT));
    assert_int_equal(tf_server_count(pr->server), 0);
}

static void test_strict_server_refuses(void **state)
{
    (void)state;
    static const char *const a[] = { "echo", "a" };
    static const char *const b[] = { "echo", "a", "b" };
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *sp = make_named(a, 2), *cp = make_named(b, 3);
    tfs_pair_t pr;
    connect_with(loop, &pr, sp, cp, 1, 0);
    check_refused(loop, &pr);
    tfs_pair_free(&pr);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(loop), 0);
}

static void test_strict_client_refused(void **state)
{
    (void)state;
    /* The client asks for strictness in its HELLO: the server applies it (docs/PROTOCOL.md,
     * Opening, step 2: either side's STRICT flag). */
    static const char *const a[] = { "echo", "a" };
    static const char *const b[] = { "echo", "a", "b" };
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *sp = make_named(a, 2), *cp = make_named(b, 3);
    tfs_pair_t pr;
    connect_with(loop, &pr, sp, cp, 0, 1);
    check_refused(loop, &pr);
    tfs_pair_free(&pr);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(loop), 0);
}

static void test_strict_identical(void **state)
{
    (void)state;
    static const char *const a[] = { "echo", "a", "b" };
    static const char *const b[] = { "b", "echo", "a" }; /* order of definition is irrelevant */
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *sp = make_named(a, 3), *cp = make_named(b, 3);
    uint8_t f1[32], f2[32];
    tf_protocol_fingerprint(sp, f1);
    tf_protocol_fingerprint(cp, f2);
    assert_memory_equal(f1, f2, 32);
    assert_int_equal(tf_protocol_on(sp, "echo", h_echo, NULL), 0);
    g_echo_errors = 0;
    tfs_pair_t pr;
    connect_with(loop, &pr, sp, cp, 1, 1);
    assert_int_equal(pr.crec.opens, 1);
    assert_int_equal(pr.srec.opens, 1);
    assert_int_equal(tf_client_send_name(pr.client, "echo", TRUFLUX_TYPE_TEXT, "hi", 2), 0);
    TFS_WAIT(loop, pr.crec.nmsgs == 1, TFS_WAIT_MS);
    assert_int_equal(pr.crec.nmsgs, 1);
    assert_memory_equal(pr.crec.msgs[0].data, "hi", 2);
    tfs_pair_free(&pr);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(loop), 0);
    assert_int_equal(g_echo_errors, 0);
}

static void test_peer_unknown(void **state)
{
    (void)state;
    static const char *const a[] = { "echo" };
    static const char *const b[] = { "echo", "extra" };
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *sp = make_named(a, 1), *cp = make_named(b, 2);
    assert_int_equal(tf_protocol_on(sp, "echo", h_echo, NULL), 0);
    g_echo_errors = 0;
    tfs_pair_t pr;
    connect_with(loop, &pr, sp, cp, 0, 0);
    assert_int_equal(pr.crec.opens, 1);
    assert_int_equal(pr.srec.opens, 1);

    tf_conn_t *c = tf_client_conn(pr.client);
    assert_int_equal(tf_send_name(c, "extra", TRUFLUX_TYPE_TEXT, "x", 1), TRUFLUX_EPEERUNKNOWN);
    assert_int_equal(tf_send(c, tf_protocol_name_id("extra"), TRUFLUX_TYPE_TEXT, "x", 1),
                     TRUFLUX_EPEERUNKNOWN);
    assert_int_equal(tf_send_name(c, "echo", TRUFLUX_TYPE_TEXT, "y", 1), 0);
    TFS_WAIT(loop, pr.crec.nmsgs == 1, TFS_WAIT_MS);
    assert_int_equal(pr.crec.nmsgs, 1);
    assert_memory_equal(pr.crec.msgs[0].data, "y", 1);

    /* Nothing of "extra" went on the wire: the server saw one message and stays open. */
    tf_conn_stats_t ss;
    memset(&ss, 0, sizeof ss);
    ss.size = sizeof ss;
    assert_int_equal(tf_conn_stats(pr.srec.conns[0], &ss), 0);
    assert_int_equal(ss.msgs_in, 1);
    assert_int_equal(pr.srec.errors, 0);
    assert_int_equal(pr.srec.closes, 0);
    assert_int_equal(pr.crec.closes, 0);

    tfs_pair_free(&pr);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(loop), 0);
    assert_int_equal(g_echo_errors, 0);
}

static void test_schema_send(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, NULL, NULL);
    tf_conn_t *c = tf_client_conn(e.pair.client);
    uint32_t bin = id_of(e.cproto, "bin"), txt = id_of(e.cproto, "txt");
    uint32_t pack = id_of(e.cproto, "pack"), none = id_of(e.cproto, "none");
    uint8_t b17[17] = { 0 };

    assert_int_equal(tf_send(c, bin, TRUFLUX_TYPE_TEXT, "x", 1), TRUFLUX_ESCHEMA);
    assert_int_equal(tf_send(c, bin, TRUFLUX_TYPE_EMPTY, NULL, 0), TRUFLUX_ESCHEMA);
    assert_int_equal(tf_send(c, bin, TRUFLUX_TYPE_BINARY, b17, 17), TRUFLUX_EMSGSIZE);
    assert_int_equal(tf_send(c, txt, TRUFLUX_TYPE_TEXT, "\xc3\x28", 2), TRUFLUX_EUTF8);
    assert_int_equal(tf_send(c, txt, TRUFLUX_TYPE_TEXT, "\xed\xa0\x80", 3), TRUFLUX_EUTF8);
    assert_int_equal(tf_send(c, txt, TRUFLUX_TYPE_TEXT, "\xc0\xaf", 2), TRUFLUX_EUTF8);
    assert_int_equal(tf_send(c, txt, TRUFLUX_TYPE_BINARY, "ok", 2), TRUFLUX_ESCHEMA);
    static const uint8_t trunc[] = { 0x92, 0x01 };       /* array of 2 holding 1 */
    static const uint8_t two[] = { 0x01, 0x02 };         /* two values, not one */
    assert_int_equal(tf_send(c, pack, TRUFLUX_TYPE_MSGPACK, trunc, 2), TRUFLUX_ESCHEMA);
    assert_int_equal(tf_send(c, pack, TRUFLUX_TYPE_MSGPACK, two, 2), TRUFLUX_ESCHEMA);
    assert_int_equal(tf_send(c, pack, TRUFLUX_TYPE_MSGPACK, NULL, 0), TRUFLUX_ESCHEMA);
    assert_int_equal(tf_send(c, none, TRUFLUX_TYPE_EMPTY, "x", 1), TRUFLUX_ESCHEMA);
    assert_int_equal(tf_send(c, bin, 7, "x", 1), TRUFLUX_EINVAL);
    assert_int_equal(tf_send(c, bin, TRUFLUX_TYPE_BINARY, NULL, 5), TRUFLUX_EINVAL);
    assert_int_equal(tf_send(NULL, bin, TRUFLUX_TYPE_BINARY, "x", 1), TRUFLUX_EINVAL);
    assert_int_equal(tf_send(c, 0x12345u, TRUFLUX_TYPE_BINARY, "x", 1), TRUFLUX_ENOTFOUND);
    assert_int_equal(tf_send_name(c, "nope", TRUFLUX_TYPE_BINARY, "x", 1), TRUFLUX_ENOTFOUND);

    tf_conn_stats_t cs;
    memset(&cs, 0, sizeof cs);
    cs.size = sizeof cs;
    assert_int_equal(tf_conn_stats(c, &cs), 0);
    assert_int_equal(cs.msgs_out, 0);
    assert_int_equal(cs.queued, 0);

    /* The first message the server ever gets is the valid one sent last. */
    uint8_t b16[16];
    memset(b16, 7, sizeof b16);
    assert_int_equal(tf_send(c, bin, TRUFLUX_TYPE_BINARY, b16, 16), 0);
    assert_int_equal(tf_send(c, pack, TRUFLUX_TYPE_MSGPACK, "\xc0", 1), 0); /* nil */
    TFS_WAIT(e.loop, e.pair.srec.nmsgs == 2, TFS_WAIT_MS);
    assert_int_equal(e.pair.srec.nmsgs, 2);
    assert_string_equal(e.pair.srec.msgs[0].name, "bin");
    assert_int_equal(e.pair.srec.msgs[0].len, 16);
    assert_string_equal(e.pair.srec.msgs[1].name, "pack");
    assert_int_equal(e.pair.crec.closes, 0);
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_ipv4),
        cmocka_unit_test(test_listen_ipv6),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_addr_in_use),
        cmocka_unit_test(test_open_after_hello),
        cmocka_unit_test(test_echo_types),
        cmocka_unit_test(test_handler_vs_fallback),
        cmocka_unit_test(test_server_count),
        cmocka_unit_test(test_broadcast_exclude),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_user_pointer),
        cmocka_unit_test(test_graceful_server_close),
        cmocka_unit_test(test_forced_server_close),
        cmocka_unit_test(test_adopt_socketpair),
        cmocka_unit_test(test_stateful),
        cmocka_unit_test(test_strict_server_refuses),
        cmocka_unit_test(test_strict_client_refused),
        cmocka_unit_test(test_strict_identical),
        cmocka_unit_test(test_peer_unknown),
        cmocka_unit_test(test_schema_send),
    };
    return cmocka_run_group_tests_name("server", tests, NULL, NULL);
}
