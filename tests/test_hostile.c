/* tests/test_hostile.c: hand-written hostile peers over real sockets. Each case expects the
 * documented CLOSE code (docs/PROTOCOL.md) and then the end of the socket, while a legitimate
 * tf_client on the same server keeps getting its echo answered before and after. */
#include "support/tfsupport.h"

#define MAX_MSG 1024
#define HWM (256 * 1024)
#define LWM (64 * 1024)
#define FLOOD 100000

/* Server-side handler state. */
static int g_echo_errors, g_state_errors;
static long g_count;          /* "count" messages handled */
static long g_count_at_echo;  /* g_count when the server last echoed */

static void h_echo(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)user;
    g_count_at_echo = g_count;
    if (tf_send(conn, m->id, m->type, m->data, m->len) != 0)
        g_echo_errors++;
}

static void h_login(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)user;
    (void)m;
    if (tf_conn_set_state(conn, tf_protocol_state(tf_conn_protocol(conn), "authed")) != 0)
        g_state_errors++;
}

static void h_count(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)user;
    (void)conn;
    (void)m;
    g_count++;
}

static const char *const k_names[] = { "echo", "bin", "txt", "login", "secret", "count" };
#define K_NNAMES (sizeof k_names / sizeof k_names[0])

static tf_protocol_t *make_proto(int server)
{
    tf_protocol_t *p = truflux_protocol_new();
    assert_non_null(p);
    assert_int_equal(tf_protocol_add_state(p, "start"), 0);
    assert_int_equal(tf_protocol_add_state(p, "authed"), 1);
    assert_true(tf_protocol_add(p, "echo", TRUFLUX_TYPES_ANY, 0) >= 0);
    assert_true(tf_protocol_add(p, "bin", TRUFLUX_TYPES_BINARY, 0) >= 0);
    assert_true(tf_protocol_add(p, "txt", TRUFLUX_TYPES_TEXT, 0) >= 0);
    assert_true(tf_protocol_add(p, "login", 0, 0) >= 0);
    assert_true(tf_protocol_add(p, "secret", 0, 0) >= 0);
    assert_true(tf_protocol_add(p, "count", TRUFLUX_TYPES_EMPTY, 0) >= 0);
    assert_int_equal(tf_protocol_allow(p, "secret", "authed"), 0);
    if (server) {
        assert_int_equal(tf_protocol_on(p, "echo", h_echo, NULL), 0);
        assert_int_equal(tf_protocol_on(p, "secret", h_echo, NULL), 0);
        assert_int_equal(tf_protocol_on(p, "login", h_login, NULL), 0);
        assert_int_equal(tf_protocol_on(p, "count", h_count, NULL), 0);
    }
    return p;
}

/* ------------------------------------------------------------------------------------ */
/* Fixture: a strict, tightly limited server and one legitimate client                   */

typedef struct fx {
    tf_loop_t *loop;
    tf_protocol_t *sproto, *cproto;
    tfs_pair_t pr;
    int echoes;
    tfs_raw_t raw;
} fx_t;

/* The legitimate client sends one echo and must get it back (the server carries on). */
static void fx_roundtrip(fx_t *f)
{
    char text[32];
    int n = snprintf(text, sizeof text, "legit-%d", f->echoes++);
    assert_int_equal(tf_client_send_name(f->pr.client, "echo", TRUFLUX_TYPE_TEXT, text, (size_t)n), 0);
    TFS_WAIT(f->loop, tfs_rec_find(&f->pr.crec, text, (size_t)n) >= 0, TFS_WAIT_MS);
    assert_true(tfs_rec_find(&f->pr.crec, text, (size_t)n) >= 0);
    assert_int_equal(f->pr.crec.closes, 0);
}

static void fx_start(fx_t *f)
{
    memset(f, 0, sizeof *f);
    f->raw.fd = -1;
    g_echo_errors = g_state_errors = 0;
    g_count = g_count_at_echo = 0;
    f->loop = truflux_loop_new();
    assert_non_null(f->loop);
    f->sproto = make_proto(1);
    f->cproto = make_proto(0);
    tf_options_t *o = tfs_options();
    tfs_opt(o, TRUFLUX_OPT_STRICT, 1);
    tfs_opt(o, TRUFLUX_OPT_MAX_MESSAGE_SIZE, MAX_MSG);
    tfs_opt(o, TRUFLUX_OPT_HANDSHAKE_TIMEOUT, 200);
    tfs_opt(o, TRUFLUX_OPT_SEND_HWM, HWM);
    tfs_opt(o, TRUFLUX_OPT_SEND_LWM, LWM);
    tfs_pair_start(&f->pr, f->loop, f->sproto, f->cproto, o, NULL);
    truflux_options_free(o);
    fx_roundtrip(f);
}

static void fx_end(fx_t *f)
{
    fx_roundtrip(f);
    /* Once the raw peer is gone, only the legitimate connection is left. */
    tfs_raw_close(&f->raw);
    TFS_WAIT(f->loop, tf_server_count(f->pr.server) == 1, TFS_WAIT_MS);
    assert_int_equal(tf_server_count(f->pr.server), 1);
    tfs_pair_free(&f->pr);
    truflux_protocol_free(f->sproto);
    truflux_protocol_free(f->cproto);
    assert_int_equal(truflux_loop_free(f->loop), 0);
    assert_int_equal(g_echo_errors, 0);
    assert_int_equal(g_state_errors, 0);
}

static void fx_hello(const fx_t *f, tfs_hello_t *h)
{
    tfs_hello_init(h, f->sproto, k_names, K_NNAMES);
}

/* Connects the raw peer and completes a valid hello; the server opened it. */
static void fx_raw_open(fx_t *f, int rcvbuf)
{
    tfs_hello_t h;
    int before = f->pr.srec.opens;
    assert_int_equal(tfs_raw_connect_buf(&f->raw, f->pr.port, rcvbuf), 0);
    fx_hello(f, &h);
    assert_int_equal(tfs_raw_handshake(f->loop, &f->raw, &h, NULL), 0);
    TFS_WAIT(f->loop, f->pr.srec.opens == before + 1, TFS_WAIT_MS);
    assert_int_equal(f->pr.srec.opens, before + 1);
}

/* Sends `bytes` on a fresh raw connection (no hello) and expects CLOSE(code) then the end. */
static void fx_before_open(fx_t *f, const void *bytes, size_t len, int code)
{
    assert_int_equal(tfs_raw_connect(&f->raw, f->pr.port), 0);
    int rc = tfs_raw_send(f->loop, &f->raw, bytes, len, TFS_WAIT_MS);
    assert_true(rc == 0 || rc == -EPIPE || rc == -ECONNRESET);
    assert_int_equal(tfs_raw_expect_close(f->loop, &f->raw, TFS_WAIT_MS), -code);
    /* Refused before on_open: the server reports no open and no close for it. */
    assert_int_equal(f->pr.srec.opens, 1);
    assert_int_equal(f->pr.srec.closes, 0);
}

/* Opens a raw connection validly, sends `bytes`, expects CLOSE(code), the end, and the
 * server's on_close(code, local). */
static void fx_after_open(fx_t *f, const void *bytes, size_t len, int code)
{
    fx_raw_open(f, 0);
    fx_roundtrip(f); /* the legitimate client works while the raw peer is connected */
    int rc = tfs_raw_send(f->loop, &f->raw, bytes, len, TFS_WAIT_MS);
    assert_true(rc == 0 || rc == -EPIPE || rc == -ECONNRESET);
    assert_int_equal(tfs_raw_expect_close(f->loop, &f->raw, TFS_WAIT_MS), -code);
    TFS_WAIT(f->loop, f->pr.srec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(f->pr.srec.closes, 1);
    assert_ptr_equal(f->pr.srec.last_close_conn, f->pr.srec.conns[1]);
    assert_int_equal(f->pr.srec.last_close_reason, code);
    assert_int_equal(f->pr.srec.last_close_remote, 0);
}

/* ------------------------------------------------------------------------------------ */
/* Before the hello                                                                      */

static void test_garbage_instead_of_hello(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    uint8_t junk[64];
    memset(junk, 0xFF, sizeof junk);
    fx_before_open(&f, junk, sizeof junk, TRUFLUX_EPROTO);
    fx_end(&f);
}

static void test_bad_magic(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_hello_t h;
    fx_hello(&f, &h);
    tfs_buf_t p = { 0, 0, 0 }, b = { 0, 0, 0 };
    tfs_hello_payload(&p, &h);
    memcpy(p.p, "TFLY", 4);
    tfs_frame_put(&b, TFS_KIND_HELLO, 0, p.p, p.len);
    fx_before_open(&f, b.p, b.len, TRUFLUX_EPROTO);
    tfs_buf_free(&p);
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_short_hello(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_buf_t b = { 0, 0, 0 };
    tfs_frame_put(&b, TFS_KIND_HELLO, 0, "TFLX\x01\x00", 6);
    fx_before_open(&f, b.p, b.len, TRUFLUX_EPROTO);
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_unsorted_hello_ids(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_hello_t h;
    fx_hello(&f, &h);
    uint32_t t = h.ids[0];
    h.ids[0] = h.ids[1];
    h.ids[1] = t;
    tfs_buf_t b = { 0, 0, 0 };
    tfs_hello_frame(&b, TFS_KIND_HELLO, &h);
    fx_before_open(&f, b.p, b.len, TRUFLUX_EPROTO);
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_message_before_hello(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_buf_t b = { 0, 0, 0 };
    tfs_frame_put(&b, TFS_KIND_MSG_TEXT, tf_protocol_name_id("echo"), "hi", 2);
    fx_before_open(&f, b.p, b.len, TRUFLUX_EPROTO);
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_version_2(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_hello_t h;
    fx_hello(&f, &h);
    h.major = 2;
    tfs_buf_t b = { 0, 0, 0 };
    tfs_hello_frame(&b, TFS_KIND_HELLO, &h);
    fx_before_open(&f, b.p, b.len, TRUFLUX_EVERSION);
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_newer_minor_accepted(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_hello_t h, w;
    fx_hello(&f, &h);
    h.minor = 7; /* both sides use the smaller minor */
    assert_int_equal(tfs_raw_connect(&f.raw, f.pr.port), 0);
    assert_int_equal(tfs_raw_handshake(f.loop, &f.raw, &h, &w), 0);
    assert_int_equal(w.major, 1);
    assert_int_equal(w.minor, 0);
    TFS_WAIT(f.loop, f.pr.srec.opens == 2, TFS_WAIT_MS);
    assert_int_equal(f.pr.srec.opens, 2);
    fx_roundtrip(&f);
    tfs_raw_close(&f.raw);
    TFS_WAIT(f.loop, f.pr.srec.closes == 1, TFS_WAIT_MS);
    fx_end(&f);
}

static void test_fingerprint_mismatch(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_hello_t h;
    fx_hello(&f, &h);
    h.fingerprint[0] ^= 0x01;
    tfs_buf_t b = { 0, 0, 0 };
    tfs_hello_frame(&b, TFS_KIND_HELLO, &h);
    fx_before_open(&f, b.p, b.len, TRUFLUX_EFINGERPRINT);
    assert_true(tfs_rec_has_error(&f.pr.srec, TRUFLUX_EFINGERPRINT));
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_silent_peer_hello_timeout(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    int64_t t0 = tfs_now_ms();
    assert_int_equal(tfs_raw_connect(&f.raw, f.pr.port), 0);
    assert_int_equal(tfs_raw_expect_close(f.loop, &f.raw, TFS_WAIT_MS), -TRUFLUX_EHELLOTIMEOUT);
    int64_t dt = tfs_now_ms() - t0;
    fprintf(stderr, "  hello timeout after %lld ms (limit 200)\n", (long long)dt);
    assert_true(dt >= 180);
    assert_true(dt < 3000);
    assert_int_equal(f.pr.srec.opens, 1);
    fx_end(&f);
}

/* ------------------------------------------------------------------------------------ */
/* After the hello                                                                       */

static void test_truncated_frame_then_close(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    fx_raw_open(&f, 0);
    tfs_buf_t b = { 0, 0, 0 };
    tfs_frame_put_raw(&b, TFS_KIND_MSG_BINARY, tf_protocol_name_id("bin"), 100, "0123456789", 10);
    assert_int_equal(tfs_raw_send(f.loop, &f.raw, b.p, b.len, TFS_WAIT_MS), 0);
    tfs_buf_free(&b);
    fx_roundtrip(&f);
    tfs_raw_close(&f.raw);
    TFS_WAIT(f.loop, f.pr.srec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(f.pr.srec.closes, 1);
    int r = f.pr.srec.last_close_reason;
    assert_true(r == TRUFLUX_EEOF || r == TRUFLUX_ECONNRESET);
    assert_int_equal(f.pr.srec.nmsgs, 0);
    fx_end(&f);
}

static void test_length_over_max(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    /* Only a header claiming 1 MiB: the refusal must come without any payload. */
    tfs_buf_t b = { 0, 0, 0 };
    tfs_frame_put_raw(&b, TFS_KIND_MSG_BINARY, tf_protocol_name_id("echo"), 1u << 20, NULL, 0);
    fx_after_open(&f, b.p, b.len, TRUFLUX_EMSGSIZE);
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_control_frame_over_limit(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_buf_t b = { 0, 0, 0 };
    tfs_frame_put_raw(&b, TFS_KIND_PING, 0, 126, NULL, 0); /* PING payloads are <= 125 */
    fx_after_open(&f, b.p, b.len, TRUFLUX_EMSGSIZE);
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_unknown_id(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_buf_t b = { 0, 0, 0 };
    tfs_frame_put(&b, TFS_KIND_MSG_BINARY, tf_protocol_name_id("no-such-message"), "x", 1);
    fx_after_open(&f, b.p, b.len, TRUFLUX_EUNKNOWN);
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_wrong_type(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_buf_t b = { 0, 0, 0 };
    tfs_frame_put(&b, TFS_KIND_MSG_TEXT, tf_protocol_name_id("bin"), "text", 4);
    fx_after_open(&f, b.p, b.len, TRUFLUX_ESCHEMA);
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_bad_utf8(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_buf_t b = { 0, 0, 0 };
    tfs_frame_put(&b, TFS_KIND_MSG_TEXT, tf_protocol_name_id("txt"), "ok\xff\xfe", 4);
    fx_after_open(&f, b.p, b.len, TRUFLUX_EUTF8);
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_bad_msgpack(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_buf_t b = { 0, 0, 0 };
    tfs_frame_put(&b, TFS_KIND_MSG_MSGPACK, tf_protocol_name_id("echo"), "\x92\x01", 2);
    fx_after_open(&f, b.p, b.len, TRUFLUX_ESCHEMA);
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_empty_kind_with_payload(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_buf_t b = { 0, 0, 0 };
    /* "MESSAGE, empty": length MUST be 0; the header is refused as it arrives. */
    tfs_frame_put(&b, TFS_KIND_MSG_EMPTY, tf_protocol_name_id("count"), "x", 1);
    fx_after_open(&f, b.p, b.len, TRUFLUX_EPROTO);
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_out_of_state(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_buf_t b = { 0, 0, 0 };
    tfs_frame_put(&b, TFS_KIND_MSG_TEXT, tf_protocol_name_id("secret"), "s", 1);
    fx_after_open(&f, b.p, b.len, TRUFLUX_ESTATE);
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_reserved_id_bit(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_buf_t b = { 0, 0, 0 };
    tfs_frame_put(&b, TFS_KIND_MSG_TEXT, 0x80000000u | tf_protocol_name_id("echo"), "r", 1);
    fx_after_open(&f, b.p, b.len, TRUFLUX_EPROTO);
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_unknown_kind(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_buf_t b = { 0, 0, 0 };
    tfs_frame_put(&b, 0x07, 0, NULL, 0);
    fx_after_open(&f, b.p, b.len, TRUFLUX_EPROTO);
    tfs_buf_free(&b);
    fx_end(&f);
}

static void test_hello_after_open(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    tfs_hello_t h;
    fx_hello(&f, &h);
    tfs_buf_t b = { 0, 0, 0 };
    tfs_hello_frame(&b, TFS_KIND_HELLO, &h);
    fx_after_open(&f, b.p, b.len, TRUFLUX_EPROTO);
    tfs_buf_free(&b);
    fx_end(&f);
}

/* ------------------------------------------------------------------------------------ */
/* Volume                                                                                */

static void test_flood_of_tiny_frames(void **state)
{
    (void)state;
    fx_t f;
    fx_start(&f);
    fx_raw_open(&f, 0);
    tfs_buf_t b = { 0, 0, 0 };
    uint32_t id = tf_protocol_name_id("count");
    tfs_buf_reserve(&b, (size_t)FLOOD * TFS_HDR);
    for (int i = 0; i < FLOOD; i++)
        tfs_frame_put(&b, TFS_KIND_MSG_EMPTY, id, NULL, 0);

    /* One buffer, written as fast as the socket takes it. Once the server is into it, the
     * legitimate client asks for an echo, which must be served before the flood ends. */
    size_t off = 0;
    int echo_sent = 0;
    char text[] = "during-flood";
    int64_t deadline = tfs_now_ms() + 60000;
    while (off < b.len && tfs_now_ms() < deadline) {
        ssize_t n = send(f.raw.fd, b.p + off, b.len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            off += (size_t)n;
        else
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
        if (!echo_sent) {
            TFS_WAIT(f.loop, g_count > 0, TFS_WAIT_MS);
            assert_true(g_count > 0);
            if (g_count < FLOOD) {
                g_count_at_echo = -1;
                assert_int_equal(tf_client_send_name(f.pr.client, "echo", TRUFLUX_TYPE_TEXT,
                                                     text, strlen(text)), 0);
                echo_sent = 1;
            }
        }
        if (off < b.len)
            tfs_pump_once(f.loop, 5);
    }
    assert_int_equal(off, b.len);
    fprintf(stderr, "  flood: %ld handled when the legitimate echo was sent\n", g_count);
    assert_true(echo_sent);
    TFS_WAIT(f.loop, g_count == FLOOD && tfs_rec_find(&f.pr.crec, text, strlen(text)) >= 0,
             60000);
    assert_int_equal(g_count, FLOOD);
    assert_true(tfs_rec_find(&f.pr.crec, text, strlen(text)) >= 0);
    fprintf(stderr, "  flood: the server echoed when %ld of %d were handled\n",
            g_count_at_echo, FLOOD);
    assert_true(g_count_at_echo >= 0 && g_count_at_echo < FLOOD);
    tfs_buf_free(&b);

    /* All of them were valid: nothing came back and the connection is open. */
    tfs_pump_for(f.loop, 50);
    tfs_raw_poll_in(&f.raw);
    assert_int_equal(f.raw.in.len, 0);
    assert_int_equal(f.raw.ended, 0);
    assert_int_equal(f.pr.srec.closes, 0);
    tf_conn_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_int_equal(tf_conn_stats(f.pr.srec.conns[1], &st), 0);
    assert_int_equal(st.msgs_in, FLOOD);
    fx_end(&f);
}

static void test_peer_stops_reading(void **state)
{
    (void)state;
    enum { LEN = 1000 };
    fx_t f;
    fx_start(&f);
    fx_raw_open(&f, 4096);
    tf_conn_t *c = f.pr.srec.conns[1];
    uint32_t id = tf_protocol_name_id("bin");
    uint8_t payload[LEN];
    memset(payload, 0x5A, sizeof payload);
    tf_conn_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;

    /* Send until the queue is over the high-water mark; the kernel's buffers take their share
     * first, so bound the total instead of guessing it. */
    int rc = 0;
    long sent = 0;
    uint64_t max_queued = 0;
    while (sent < 64L * 1024 * 1024 / LEN) {
        rc = tf_send(c, id, TRUFLUX_TYPE_BINARY, payload, LEN);
        if (rc == TRUFLUX_EAGAIN)
            break;
        assert_int_equal(rc, 0);
        sent++;
        assert_int_equal(tf_conn_stats(c, &st), 0);
        if (st.queued > max_queued)
            max_queued = st.queued;
        if (sent % 16 == 0)
            tf_loop_run_once(f.loop, 0);
    }
    fprintf(stderr, "  slow reader: EAGAIN after %ld messages, max queued %llu\n", sent,
            (unsigned long long)max_queued);
    assert_int_equal(rc, TRUFLUX_EAGAIN);
    assert_true(max_queued <= HWM + TFS_HDR + LEN);
    assert_int_equal(tf_conn_stats(c, &st), 0);
    assert_true(st.queued > LWM);
    assert_true(st.queued <= HWM + TFS_HDR + LEN);

    /* Still refused while the peer does not read, and the queue does not grow. */
    tfs_pump_for(f.loop, 100);
    assert_int_equal(tf_send(c, id, TRUFLUX_TYPE_BINARY, payload, LEN), TRUFLUX_EAGAIN);
    assert_int_equal(tf_conn_stats(c, &st), 0);
    assert_true(st.queued <= HWM + TFS_HDR + LEN);
    assert_int_equal(f.pr.srec.drains, 0);
    fx_roundtrip(&f); /* others are not blocked by the full connection */

    /* The peer reads again: on_drain. */
    int64_t deadline = tfs_now_ms() + 10000;
    size_t got = 0;
    while (f.pr.srec.drains == 0 && tfs_now_ms() < deadline && !f.raw.ended) {
        got += tfs_raw_discard(&f.raw);
        tfs_pump_once(f.loop, 2);
    }
    assert_int_equal(f.pr.srec.drains, 1);
    assert_int_equal(f.raw.ended, 0);
    assert_int_equal(tf_conn_stats(c, &st), 0);
    assert_true(st.queued <= LWM);
    assert_int_equal(tf_send(c, id, TRUFLUX_TYPE_BINARY, payload, LEN), 0);
    fprintf(stderr, "  slow reader: drained after reading %zu bytes\n", got);
    assert_int_equal(f.pr.srec.closes, 0);
    fx_end(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_garbage_instead_of_hello),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_short_hello),
        cmocka_unit_test(test_unsorted_hello_ids),
        cmocka_unit_test(test_message_before_hello),
        cmocka_unit_test(test_version_2),
        cmocka_unit_test(test_newer_minor_accepted),
        cmocka_unit_test(test_fingerprint_mismatch),
        cmocka_unit_test(test_silent_peer_hello_timeout),
        cmocka_unit_test(test_truncated_frame_then_close),
        cmocka_unit_test(test_length_over_max),
        cmocka_unit_test(test_control_frame_over_limit),
        cmocka_unit_test(test_unknown_id),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_bad_utf8),
        cmocka_unit_test(test_bad_msgpack),
        cmocka_unit_test(test_empty_kind_with_payload),
        cmocka_unit_test(test_out_of_state),
        cmocka_unit_test(test_reserved_id_bit),
        cmocka_unit_test(test_unknown_kind),
        cmocka_unit_test(test_hello_after_open),
        cmocka_unit_test(test_flood_of_tiny_frames),
        cmocka_unit_test(test_peer_stops_reading),
    };
    return cmocka_run_group_tests_name("hostile", tests, NULL, NULL);
}
