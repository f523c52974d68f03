/* tests/test_ws.c: truflux over WebSocket through the public API, on loopback: ws:// server
 * and client, every payload type, large messages (fragmented by the client, batched by the
 * server), paths, one port for raw truflux and WebSocket, HTTP refusals, WebSocket-level
 * ping and close, and violations answered with the right close status. Raw peers here speak
 * RFC 6455 by hand, so the library is checked against the RFC, not against itself. */
#include "support/tfsupport.h"

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
    assert_true(tf_protocol_add(p, "seq", TRUFLUX_TYPES_BINARY, 0) >= 0);
    if (server)
        assert_int_equal(tf_protocol_on(p, "echo", h_echo, NULL), 0);
    return p;
}

typedef tfs_env_t env_t;

static void env_start(env_t *e, const char *listen_url, const tf_options_t *sopts)
{
    tfs_env_start(e, listen_url, sopts, make_proto(1), make_proto(0));
}

static void env_free(env_t *e) { tfs_env_free(e); }

static tf_client_t *client_to(env_t *e, tfs_rec_t *rec, const char *url)
{
    tfs_rec_init(rec, "client");
    tf_client_t *c = truflux_client_new(e->loop, e->cp, NULL);
    assert_non_null(c);
    tf_callbacks_t cb = tfs_rec_callbacks(rec);
    assert_int_equal(tf_client_set_callbacks(c, &cb), 0);
    assert_int_equal(tf_client_connect(c, url), 0);
    return c;
}

/* ------------------------------------------------------------------------------------ */

static void test_ws_roundtrip_every_type(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, "ws://127.0.0.1:0", NULL);
    char url[96];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/anything", e.port);
    tfs_rec_t crec;
    tf_client_t *c = client_to(&e, &crec, url);
    TFS_WAIT(e.loop, crec.opens == 1 && e.srec.opens == 1, TFS_WAIT_MS);
    assert_int_equal(crec.opens, 1);
    assert_int_equal(e.srec.opens, 1);
    assert_string_equal(tf_conn_transport(e.srec.conns[0]), "ws");
    assert_string_equal(tf_conn_transport(crec.conns[0]), "ws");

    const uint8_t bin[] = { 0, 0xff, 0x10, 0x80 };
    const uint8_t mp[] = { 0x81, 0xa1, 'a', 0x01 };
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_EMPTY, NULL, 0), 0);
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_BINARY, bin, sizeof bin), 0);
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_TEXT, "héllo", 6), 0);
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_MSGPACK, mp, sizeof mp), 0);
    TFS_WAIT(e.loop, crec.nmsgs == 4, TFS_WAIT_MS);
    assert_int_equal(crec.nmsgs, 4);
    assert_int_equal(crec.msgs[0].type, TRUFLUX_TYPE_EMPTY);
    assert_int_equal(crec.msgs[1].type, TRUFLUX_TYPE_BINARY);
    assert_memory_equal(crec.msgs[1].data, bin, sizeof bin);
    assert_int_equal(crec.msgs[2].type, TRUFLUX_TYPE_TEXT);
    assert_string_equal((const char *)crec.msgs[2].data, "héllo");
    assert_int_equal(crec.msgs[3].type, TRUFLUX_TYPE_MSGPACK);
    assert_memory_equal(crec.msgs[3].data, mp, sizeof mp);

    /* A graceful close by the client: the server hears reason 0 from the peer. */
    assert_int_equal(tf_client_close(c, TRUFLUX_CLOSE_GRACEFUL), 0);
    TFS_WAIT(e.loop, e.srec.closes == 1 && crec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(e.srec.closes, 1);
    assert_int_equal(e.srec.last_close_reason, 0);
    assert_int_equal(e.srec.last_close_remote, 1);
    assert_int_equal(crec.last_close_reason, 0);
    assert_int_equal(e.srec.errors, 0);
    assert_int_equal(crec.errors, 0);
    truflux_client_free(c);
    tfs_rec_free(&crec);
    env_free(&e);
}

/* Large messages: the client fragments (64 KiB) and masks; the server batches frames into
 * messages of up to 1 MiB and sends a larger frame alone. Order is kept throughout. */
static void test_ws_large_and_many(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, "ws://127.0.0.1:0", NULL);
    char url[96];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d", e.port);
    tfs_rec_t crec;
    tf_client_t *c = client_to(&e, &crec, url);
    TFS_WAIT(e.loop, crec.opens == 1, TFS_WAIT_MS);
    assert_int_equal(crec.opens, 1);

    size_t big = 3u << 20;
    uint8_t *data = (uint8_t *)malloc(big);
    assert_non_null(data);
    for (size_t i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 31 + (i >> 13));
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_BINARY, data, big), 0);
    enum { SMALL = 2000 };
    for (int i = 0; i < SMALL; i++) {
        char t[32];
        int n = snprintf(t, sizeof t, "m%05d", i);
        int rc;
        /* The queue is bounded: wait for room when it says so. */
        while ((rc = tf_client_send_name(c, "echo", TRUFLUX_TYPE_TEXT, t, (size_t)n)) ==
               TRUFLUX_EAGAIN)
            tfs_pump_once(e.loop, 10);
        assert_int_equal(rc, 0);
    }
    TFS_WAIT(e.loop, crec.nmsgs == 1 + SMALL, 20000);
    assert_int_equal(crec.nmsgs, 1 + SMALL);
    assert_int_equal(crec.msgs[0].len, big);
    assert_memory_equal(crec.msgs[0].data, data, big);
    for (int i = 0; i < SMALL; i++) {
        char t[32];
        snprintf(t, sizeof t, "m%05d", i);
        assert_string_equal((const char *)crec.msgs[1 + i].data, t);
    }
    free(data);
    truflux_client_free(c);
    tfs_rec_free(&crec);
    env_free(&e);
}

static void test_ws_path_filter(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, "ws://127.0.0.1:0/tf", NULL);
    char url[96];
    tfs_rec_t bad, good;
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/other", e.port);
    tf_client_t *c1 = client_to(&e, &bad, url);
    TFS_WAIT(e.loop, bad.closes == 1, TFS_WAIT_MS);
    assert_int_equal(bad.closes, 1);
    assert_int_equal(bad.opens, 0);
    assert_int_equal(bad.last_close_reason, TRUFLUX_EHTTP);
    assert_true(tfs_rec_has_error(&bad, TRUFLUX_EHTTP));
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/tf?user=1", e.port);
    tf_client_t *c2 = client_to(&e, &good, url);
    TFS_WAIT(e.loop, good.opens == 1, TFS_WAIT_MS);
    assert_int_equal(good.opens, 1);
    assert_int_equal(e.srec.opens, 1);
    truflux_client_free(c1);
    truflux_client_free(c2);
    tfs_rec_free(&bad);
    tfs_rec_free(&good);
    env_free(&e);
}

static void test_ws_urls(void **state)
{
    (void)state;
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *p = make_proto(0);
    tf_server_t *s = truflux_server_new(loop, p, NULL);
    tf_client_t *c = truflux_client_new(loop, p, NULL);
    assert_int_equal(tf_server_listen(s, "tcp://127.0.0.1:0/path"), TRUFLUX_EBADURL);
    assert_int_equal(tf_server_listen(s, "ws://127.0.0.1:0/a b"), TRUFLUX_EBADURL);
    assert_int_equal(tf_client_connect(c, "tcp+ws://127.0.0.1:1"), TRUFLUX_EBADURL);
    assert_int_equal(tf_client_connect(c, "tcp://127.0.0.1:1/x"), TRUFLUX_EBADURL);
    truflux_client_free(c);
    truflux_server_free(s);
    truflux_protocol_free(p);
    assert_int_equal(truflux_loop_free(loop), 0);
}

/* TRUFLUX_OPT_ACCEPT_WEBSOCKET: raw truflux and WebSocket clients on one tcp:// port. */
static void test_one_port_for_both(void **state)
{
    (void)state;
    tf_options_t *o = tfs_options();
    tfs_opt(o, TRUFLUX_OPT_ACCEPT_WEBSOCKET, 1);
    env_t e;
    env_start(&e, "tcp://127.0.0.1:0", o);
    truflux_options_free(o);
    char url[96];
    tfs_rec_t rt, rw;
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", e.port);
    tf_client_t *ct = client_to(&e, &rt, url);
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", e.port);
    tf_client_t *cw = client_to(&e, &rw, url);
    TFS_WAIT(e.loop, rt.opens == 1 && rw.opens == 1 && e.srec.opens == 2, TFS_WAIT_MS);
    assert_int_equal(e.srec.opens, 2);
    int ws = 0, tcp = 0;
    for (int i = 0; i < 2; i++) {
        const char *t = tf_conn_transport(e.srec.conns[i]);
        ws += strcmp(t, "ws") == 0;
        tcp += strcmp(t, "tcp") == 0;
    }
    assert_int_equal(ws, 1);
    assert_int_equal(tcp, 1);
    assert_int_equal(tf_client_send_name(ct, "echo", TRUFLUX_TYPE_TEXT, "raw", 3), 0);
    assert_int_equal(tf_client_send_name(cw, "echo", TRUFLUX_TYPE_TEXT, "web", 3), 0);
    TFS_WAIT(e.loop, rt.nmsgs == 1 && rw.nmsgs == 1, TFS_WAIT_MS);
    assert_string_equal((const char *)rt.msgs[0].data, "raw");
    assert_string_equal((const char *)rw.msgs[0].data, "web");
    truflux_client_free(ct);
    truflux_client_free(cw);
    tfs_rec_free(&rt);
    tfs_rec_free(&rw);
    env_free(&e);
}

/* ------------------------------------------------------------------------------------ */
/* Raw HTTP and WebSocket peers                                                          */

/* Reads until `needle` shows up, the socket ends, or the time is up; 1 when found. */
static int raw_read_until(tf_loop_t *loop, tfs_raw_t *r, const char *needle, int ms)
{
    int64_t deadline = tfs_now_ms() + ms;
    for (;;) {
        tfs_raw_poll_in(r);
        tfs_buf_reserve(&r->in, 1);
        r->in.p[r->in.len] = 0;
        if (strstr((const char *)r->in.p, needle))
            return 1;
        if (r->ended || tfs_now_ms() >= deadline)
            return 0;
        tfs_pump_once(loop, 10);
    }
}

static void raw_http(env_t *e, tfs_raw_t *r, const char *text)
{
    assert_int_equal(tfs_raw_connect(r, e->port), 0);
    assert_int_equal(tfs_raw_send(e->loop, r, text, strlen(text), TFS_WAIT_MS), 0);
}

static void test_http_refusals(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, "ws://127.0.0.1:0/tf", NULL);
    struct {
        const char *req;
        const char *status;
    } cases[] = {
        { "GET /tf HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 426 " },
        { "GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          "HTTP/1.1 404 " },
        { "POST /tf HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405 " },
        { "GET /tf HTTP/1.1\r\nBroken header\r\n\r\n", "HTTP/1.1 400 " },
        { "GET /tf HTTP/3.0\r\n\r\n", "HTTP/1.1 505 " },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tfs_raw_t r;
        raw_http(&e, &r, cases[i].req);
        int found = raw_read_until(e.loop, &r, cases[i].status, TFS_WAIT_MS);
        if (!found)
            fprintf(stderr, "  case %zu: got \"%s\"\n", i, r.in.p ? (char *)r.in.p : "");
        assert_true(found);
        tfs_raw_close(&r);
    }
    /* An endless header line: 431 once past the limit, without buffering it all. */
    tfs_raw_t r;
    raw_http(&e, &r, "GET /tf HTTP/1.1\r\nX-Long: ");
    char junk[1024];
    memset(junk, 'a', sizeof junk);
    for (int i = 0; i < 16 && !r.ended; i++)
        tfs_raw_send(e.loop, &r, junk, sizeof junk, TFS_WAIT_MS);
    assert_true(raw_read_until(e.loop, &r, "HTTP/1.1 431 ", TFS_WAIT_MS));
    tfs_raw_close(&r);
    assert_int_equal(e.srec.opens, 0);
    env_free(&e);
}

/* A masked client frame. */
static void ws_put(tfs_buf_t *b, uint8_t b0, const void *data, size_t len)
{
    static const uint8_t key[4] = { 0x12, 0x34, 0x56, 0x78 };
    tfs_buf_u8(b, b0);
    if (len < 126) {
        tfs_buf_u8(b, (uint8_t)(0x80 | len));
    } else {
        tfs_buf_u8(b, 0x80 | 126);
        tfs_buf_u16(b, (uint16_t)len);
    }
    tfs_buf_put(b, key, 4);
    const uint8_t *p = (const uint8_t *)data;
    for (size_t i = 0; i < len; i++)
        tfs_buf_u8(b, p[i] ^ key[i & 3]);
}

/* Opens a raw WebSocket to the server (handshake checked), ready for frames. */
static void ws_raw_open(env_t *e, tfs_raw_t *r)
{
    raw_http(e, r, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Protocol: truflux.v1\r\n\r\n");
    assert_true(raw_read_until(e->loop, r, "\r\n\r\n", TFS_WAIT_MS));
    char *end = strstr((char *)r->in.p, "\r\n\r\n");
    *end = 0;
    assert_non_null(strstr((char *)r->in.p, "HTTP/1.1 101 "));
    assert_non_null(strstr((char *)r->in.p, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert_non_null(strstr((char *)r->in.p, "Sec-WebSocket-Protocol: truflux.v1"));
    size_t head = (size_t)(end + 4 - (char *)r->in.p);
    memmove(r->in.p, r->in.p + head, r->in.len - head);
    r->in.len -= head;
}

/* Reads one server frame (unmasked): opcode and payload. 1, or 0 if none in time. */
static int ws_read(env_t *e, tfs_raw_t *r, uint8_t *op, tfs_buf_t *payload)
{
    int64_t deadline = tfs_now_ms() + TFS_WAIT_MS;
    for (;;) {
        tfs_raw_poll_in(r);
        if (r->in.len >= 2) {
            size_t len = r->in.p[1] & 0x7f, at = 2;
            assert_int_equal(r->in.p[1] & 0x80, 0); /* server frames are not masked */
            if (len == 126 && r->in.len >= 4) {
                len = tfs_get_u16(r->in.p + 2);
                at = 4;
            }
            if (len != 126 && len != 127 && r->in.len >= at + len) {
                *op = r->in.p[0];
                payload->len = 0;
                tfs_buf_put(payload, r->in.p + at, len);
                memmove(r->in.p, r->in.p + at + len, r->in.len - at - len);
                r->in.len -= at + len;
                return 1;
            }
        }
        if (r->ended || tfs_now_ms() >= deadline)
            return 0;
        tfs_pump_once(e->loop, 10);
    }
}

/* Waits for the server to end the socket (EOF or reset), discarding what arrives. */
static int ws_wait_end(env_t *e, tfs_raw_t *r)
{
    int64_t deadline = tfs_now_ms() + TFS_WAIT_MS;
    while (!r->ended && tfs_now_ms() < deadline) {
        tfs_raw_discard(r);
        tfs_pump_once(e->loop, 10);
    }
    return r->ended != 0;
}

static void hello_frame(env_t *e, tfs_buf_t *tf)
{
    static const char *const names[] = { "echo", "seq" };
    tfs_hello_t h;
    tfs_hello_init(&h, e->cp, names, 2);
    tfs_hello_frame(tf, TFS_KIND_HELLO, &h);
}

static void test_raw_ws_ping_fragments_and_close(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, "ws://127.0.0.1:0", NULL);
    tfs_raw_t r;
    ws_raw_open(&e, &r);
    tfs_buf_t tf = { 0 }, ws = { 0 }, pl = { 0 };
    hello_frame(&e, &tf);
    /* The HELLO in three fragments, a ping between them. */
    size_t a = 5, b = 20;
    ws_put(&ws, 0x02, tf.p, a);
    ws_put(&ws, 0x89, "hi", 2);
    ws_put(&ws, 0x00, tf.p + a, b);
    ws_put(&ws, 0x80, tf.p + a + b, tf.len - a - b);
    assert_int_equal(tfs_raw_send(e.loop, &r, ws.p, ws.len, TFS_WAIT_MS), 0);
    uint8_t op = 0;
    assert_true(ws_read(&e, &r, &op, &pl));
    assert_int_equal(op, 0x8A); /* pong first: it was due before the WELCOME */
    assert_int_equal(pl.len, 2);
    assert_memory_equal(pl.p, "hi", 2);
    assert_true(ws_read(&e, &r, &op, &pl));
    assert_int_equal(op, 0x82);
    assert_true(pl.len >= TFS_HDR);
    assert_int_equal(pl.p[0], TFS_KIND_WELCOME);
    /* Two truflux messages in one WebSocket message come back in order. */
    tf.len = ws.len = 0;
    uint32_t echo = tf_protocol_name_id("echo");
    tfs_frame_put(&tf, TFS_KIND_MSG_TEXT, echo, "one", 3);
    tfs_frame_put(&tf, TFS_KIND_MSG_TEXT, echo, "two", 3);
    ws_put(&ws, 0x82, tf.p, tf.len);
    assert_int_equal(tfs_raw_send(e.loop, &r, ws.p, ws.len, TFS_WAIT_MS), 0);
    tfs_buf_t got = { 0 };
    while (got.len < 2 * (TFS_HDR + 3)) {
        assert_true(ws_read(&e, &r, &op, &pl));
        assert_int_equal(op, 0x82);
        tfs_buf_put(&got, pl.p, pl.len);
    }
    assert_int_equal(got.len, 2 * (TFS_HDR + 3));
    assert_memory_equal(got.p + TFS_HDR, "one", 3);
    assert_memory_equal(got.p + 2 * TFS_HDR + 3, "two", 3);
    /* A WebSocket close (1001) is answered with the same code; the connection ends. */
    ws.len = 0;
    uint8_t cl[2] = { 0x03, 0xe9 };
    ws_put(&ws, 0x88, cl, 2);
    assert_int_equal(tfs_raw_send(e.loop, &r, ws.p, ws.len, TFS_WAIT_MS), 0);
    assert_true(ws_read(&e, &r, &op, &pl));
    assert_int_equal(op, 0x88);
    assert_int_equal(pl.len, 2);
    assert_int_equal(tfs_get_u16(pl.p), 1001);
    TFS_WAIT(e.loop, e.srec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(e.srec.closes, 1);
    assert_int_equal(e.srec.last_close_remote, 1);
    tfs_buf_free(&tf);
    tfs_buf_free(&ws);
    tfs_buf_free(&pl);
    tfs_buf_free(&got);
    tfs_raw_close(&r);
    env_free(&e);
}

/* The server's end of the raw peer's connection (same process): the descriptor whose peer
 * is r's local address. -1 if none. */
static int server_side_fd(const tfs_raw_t *r)
{
    struct sockaddr_in me, peer;
    socklen_t len = sizeof me;
    if (getsockname(r->fd, (struct sockaddr *)&me, &len) != 0)
        return -1;
    for (int fd = 3; fd < 4096; fd++) {
        len = sizeof peer;
        if (fd == r->fd || getpeername(fd, (struct sockaddr *)&peer, &len) != 0)
            continue;
        if (peer.sin_family == AF_INET && peer.sin_port == me.sin_port &&
            peer.sin_addr.s_addr == me.sin_addr.s_addr)
            return fd;
    }
    return -1;
}

/* Many small echoes, over small socket buffers, to a reader that lets them fill. The server
 * writes each echo straight from the connection while nothing is queued, and through its
 * queue once the socket is full. Every echo comes back whole and in order, in well-formed
 * unmasked frames (any length encoding). (Writes the socket takes only in part are checked
 * at the stream's level in test_ws_direct.cpp.) */
static void test_raw_ws_echoes_under_backpressure(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, "ws://127.0.0.1:0", NULL);
    tfs_raw_t r;
    ws_raw_open(&e, &r);
    /* A small send buffer on the server's side, so that its socket fills sooner. (Not a
     * small receive buffer: below the loopback MSS its window would hardly reopen.) */
    int small = 4096;
    TFS_WAIT(e.loop, server_side_fd(&r) >= 0, TFS_WAIT_MS);
    int sfd = server_side_fd(&r);
    assert_true(sfd >= 0);
    assert_int_equal(setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    tfs_buf_t tf = { 0 }, ws = { 0 }, got = { 0 };
    hello_frame(&e, &tf);
    ws_put(&ws, 0x82, tf.p, tf.len);
    assert_int_equal(tfs_raw_send(e.loop, &r, ws.p, ws.len, TFS_WAIT_MS), 0);

    /* One echo a read first (each written directly, until the socket is full), then 50 a
     * message (the queue's path). */
    enum { N = 30000, SINGLE = 20000, BATCH = 50 };
    uint32_t echo = tf_protocol_name_id("echo");
    for (int i = 0, step = 1; i < N; i += step) {
        step = i < SINGLE ? 1 : BATCH;
        tf.len = ws.len = 0;
        for (int k = i; k < i + step; k++) {
            char t[16];
            int n = snprintf(t, sizeof t, "m%05d", k);
            tfs_frame_put(&tf, TFS_KIND_MSG_TEXT, echo, t, (size_t)n);
        }
        ws_put(&ws, 0x82, tf.p, tf.len);
        /* Reads only when its own send would block: the server's side fills meanwhile. */
        assert_int_equal(tfs_raw_send(e.loop, &r, ws.p, ws.len, 20000), 0);
        if (step == 1) {
            tfs_pump_once(e.loop, 0);
            /* Now and then make room, so that direct writes resume and meet a full socket
             * again. */
            if (i % 16 == 15) {
                tfs_raw_poll_in(&r);
                tfs_pump_once(e.loop, 0);
            }
        }
    }
    /* The WebSocket payloads, joined: the WELCOME, then the echoes. */
    size_t echoes = (size_t)N * (TFS_HDR + 6), at = 0, welcome = 0;
    int64_t deadline = tfs_now_ms() + 20000;
    while (tfs_now_ms() < deadline && !r.ended) {
        tfs_raw_poll_in(&r);
        for (;;) {
            const uint8_t *p = r.in.p + at;
            size_t have = r.in.len - at, h = 2;
            if (have < 2)
                break;
            assert_int_equal(p[0], 0x82);         /* whole binary messages, FIN set */
            assert_int_equal(p[1] & 0x80, 0);     /* not masked */
            uint64_t len = p[1] & 0x7f;
            if (len == 126) {
                if (have < 4)
                    break;
                len = tfs_get_u16(p + 2);
                h = 4;
            } else if (len == 127) {
                if (have < 10)
                    break;
                len = (uint64_t)tfs_get_u32(p + 2) << 32 | tfs_get_u32(p + 6);
                h = 10;
            }
            if (have < h + len)
                break;
            if (got.len == 0) { /* the WELCOME comes first */
                assert_true(len >= TFS_HDR);
                assert_int_equal(p[h], TFS_KIND_WELCOME);
                welcome = TFS_HDR + tfs_get_u32(p + h + 5);
            }
            tfs_buf_put(&got, p + h, (size_t)len);
            at += h + (size_t)len;
        }
        if (welcome && got.len >= welcome + echoes)
            break;
        tfs_pump_once(e.loop, 5);
    }
    if (got.len != welcome + echoes)
        fprintf(stderr, "  got %zu of %zu bytes; ended %d, server errors %d closes %d reason %d\n",
                got.len, welcome + echoes, r.ended, e.srec.errors, e.srec.closes,
                e.srec.last_close_reason);
    assert_true(welcome > 0);
    assert_int_equal(got.len, welcome + echoes);
    size_t off = welcome;
    for (int k = 0; k < N; k++) {
        char t[16];
        snprintf(t, sizeof t, "m%05d", k);
        assert_int_equal(got.p[off], TFS_KIND_MSG_TEXT);
        assert_int_equal(tfs_get_u32(got.p + off + 5), 6);
        assert_memory_equal(got.p + off + TFS_HDR, t, 6);
        off += TFS_HDR + 6;
    }
    assert_int_equal(e.srec.errors, 0);
    tfs_buf_free(&tf);
    tfs_buf_free(&ws);
    tfs_buf_free(&got);
    tfs_raw_close(&r);
    env_free(&e);
}

/* Each violation gets a close frame with its status, then the end of the socket. */
static void expect_ws_close(env_t *e, const uint8_t *frames, size_t len, uint16_t status)
{
    tfs_raw_t r;
    tfs_buf_t pl = { 0 };
    ws_raw_open(e, &r);
    assert_int_equal(tfs_raw_send(e->loop, &r, frames, len, TFS_WAIT_MS), 0);
    uint8_t op = 0;
    int got = ws_read(e, &r, &op, &pl);
    while (got && op != 0x88)
        got = ws_read(e, &r, &op, &pl);
    assert_true(got);
    assert_true(pl.len >= 2);
    if (tfs_get_u16(pl.p) != status)
        fprintf(stderr, "  close status %u, want %u\n", tfs_get_u16(pl.p), status);
    assert_int_equal(tfs_get_u16(pl.p), status);
    assert_true(ws_wait_end(e, &r));
    tfs_buf_free(&pl);
    tfs_raw_close(&r);
}

static void test_raw_ws_violations(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, "ws://127.0.0.1:0", NULL);
    tfs_buf_t tf = { 0 }, ws = { 0 };
    hello_frame(&e, &tf);

    ws_put(&ws, 0x81, "text", 4); /* text messages do not carry truflux */
    expect_ws_close(&e, ws.p, ws.len, 1003);
    ws.len = 0;
    uint8_t unmasked[] = { 0x82, 0x01, 0x00 };
    expect_ws_close(&e, unmasked, sizeof unmasked, 1002);
    ws_put(&ws, 0xC2, tf.p, tf.len); /* RSV1 without an extension */
    expect_ws_close(&e, ws.p, ws.len, 1002);
    ws.len = 0;
    ws_put(&ws, 0x82, tf.p, 4); /* a truflux frame cut at a message's end */
    expect_ws_close(&e, ws.p, ws.len, 1002);
    ws.len = 0;
    ws_put(&ws, 0x82, "", 0); /* an empty message carries no frame */
    expect_ws_close(&e, ws.p, ws.len, 1002);
    ws.len = 0;
    ws_put(&ws, 0x09, "p", 1); /* fragmented ping */
    expect_ws_close(&e, ws.p, ws.len, 1002);
    assert_int_equal(e.srec.opens, 0);
    tfs_buf_free(&tf);
    tfs_buf_free(&ws);
    env_free(&e);
}

/* A server close: the truflux CLOSE, then the WebSocket close (1000), then the socket ends. */
static void test_server_close_sends_ws_close(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, "ws://127.0.0.1:0", NULL);
    tfs_raw_t r;
    ws_raw_open(&e, &r);
    tfs_buf_t tf = { 0 }, ws = { 0 }, pl = { 0 };
    hello_frame(&e, &tf);
    ws_put(&ws, 0x82, tf.p, tf.len);
    assert_int_equal(tfs_raw_send(e.loop, &r, ws.p, ws.len, TFS_WAIT_MS), 0);
    uint8_t op = 0;
    assert_true(ws_read(&e, &r, &op, &pl));
    assert_int_equal(pl.p[0], TFS_KIND_WELCOME);
    TFS_WAIT(e.loop, e.srec.opens == 1, TFS_WAIT_MS);
    assert_int_equal(tf_conn_close(e.srec.conns[0], TRUFLUX_CLOSE_GRACEFUL, 0), 0);
    assert_true(ws_read(&e, &r, &op, &pl));
    assert_int_equal(op, 0x82);
    assert_int_equal(pl.p[0], TFS_KIND_CLOSE);
    /* Answer the truflux CLOSE; the server then ends the WebSocket. */
    tf.len = ws.len = 0;
    tfs_frame_put(&tf, TFS_KIND_CLOSE, 0, NULL, 0);
    ws_put(&ws, 0x82, tf.p, tf.len);
    assert_int_equal(tfs_raw_send(e.loop, &r, ws.p, ws.len, TFS_WAIT_MS), 0);
    assert_true(ws_read(&e, &r, &op, &pl));
    assert_int_equal(op, 0x88);
    assert_int_equal(tfs_get_u16(pl.p), 1000);
    ws.len = 0;
    uint8_t cl[2] = { 0x03, 0xe8 };
    ws_put(&ws, 0x88, cl, 2);
    tfs_raw_send(e.loop, &r, ws.p, ws.len, TFS_WAIT_MS);
    assert_true(ws_wait_end(&e, &r));
    TFS_WAIT(e.loop, e.srec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(e.srec.last_close_reason, 0);
    tfs_buf_free(&tf);
    tfs_buf_free(&ws);
    tfs_buf_free(&pl);
    tfs_raw_close(&r);
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_roundtrip_every_type),
        cmocka_unit_test(test_ws_large_and_many),
        cmocka_unit_test(test_ws_path_filter),
        cmocka_unit_test(test_ws_urls),
        cmocka_unit_test(test_one_port_for_both),
        cmocka_unit_test(test_http_refusals),
        cmocka_unit_test(test_raw_ws_ping_fragments_and_close),
        cmocka_unit_test(test_raw_ws_echoes_under_backpressure),
        cmocka_unit_test(test_raw_ws_violations),
        cmocka_unit_test(test_server_close_sends_ws_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
