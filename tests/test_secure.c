/* tests/test_secure.c: the secure layer (Noise) between a real server and client over
 * loopback: every pattern and cipher, policies, negotiation failures, key pinning,
 * authorisation, per-direction switching with message order, rekeying, large messages. */
#include "support/tfsupport.h"

#include <sys/stat.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <truflux/security.h>

/* A recorder plus the secure-layer events. `rec` first: the callbacks' user pointer
 * serves both. */
typedef struct sec_rec {
    tfs_rec_t rec;
    int secures, fails;
    int fail_codes[8];
    long secure_seq;
    int secure_at_open; /* tf_conn_secure(SEND) seen in on_open */
    int auth_calls, auth_answer;
    uint8_t auth_key[32];
} sec_rec_t;

static void sec_on_secure(void *user, tf_conn_t *conn)
{
    sec_rec_t *r = (sec_rec_t *)user;
    (void)conn;
    r->secures++;
    r->secure_seq = tfs_next_seq();
}

static void sec_on_fail(void *user, tf_conn_t *conn, int code, const char *detail)
{
    sec_rec_t *r = (sec_rec_t *)user;
    (void)conn;
    if (getenv("TFS_VERBOSE"))
        fprintf(stderr, "  [%s] on_secure_fail %s: %s\n", r->rec.label, tf_errname(code), detail);
    if (r->fails < 8)
        r->fail_codes[r->fails] = code;
    r->fails++;
}

static void sec_on_open(void *user, tf_conn_t *conn)
{
    sec_rec_t *r = (sec_rec_t *)user;
    r->secure_at_open = tf_conn_secure(conn, TRUFLUX_DIR_SEND);
    tfs_rec_on_open_(user, conn);
}

static int sec_authorize(void *user, tf_conn_t *conn, const uint8_t key[32])
{
    sec_rec_t *r = (sec_rec_t *)user;
    (void)conn;
    r->auth_calls++;
    memcpy(r->auth_key, key, 32);
    return r->auth_answer;
}

static tf_callbacks_t sec_callbacks(sec_rec_t *r, const char *label)
{
    memset(r, 0, sizeof *r);
    tfs_rec_init(&r->rec, label);
    tf_callbacks_t cbs = tfs_rec_callbacks(&r->rec);
    cbs.on_open = sec_on_open;
    cbs.on_secure = sec_on_secure;
    cbs.on_secure_fail = sec_on_fail;
    return cbs;
}

static int sec_has_fail(const sec_rec_t *r, int code)
{
    for (int i = 0; i < r->fails && i < 8; i++)
        if (r->fail_codes[i] == code)
            return 1;
    return 0;
}

/* A loop, a protocol {echo, chat}, a server and a client with their own options. */
typedef struct world {
    tf_loop_t *loop;
    tf_protocol_t *proto;
    tf_server_t *server;
    tf_client_t *client;
    sec_rec_t s, c;
    int port;
    uint8_t spriv[32], spub[32], cpriv[32], cpub[32];
} world_t;

static void world_init(world_t *w)
{
    memset(w, 0, sizeof *w);
    w->loop = truflux_loop_new();
    assert_non_null(w->loop);
    w->proto = truflux_protocol_new();
    assert_non_null(w->proto);
    assert_true(tf_protocol_add(w->proto, "echo", 0, 0) >= 0);
    assert_true(tf_protocol_add(w->proto, "chat", 0, 0) >= 0);
    assert_int_equal(tf_keypair_generate(w->spriv, w->spub), 0);
    assert_int_equal(tf_keypair_generate(w->cpriv, w->cpub), 0);
}

/* Starts the server with sopts (may be NULL) and the client with copts; does not wait. */
static void world_start(world_t *w, const tf_options_t *sopts, const tf_options_t *copts)
{
    char url[64];
    w->server = truflux_server_new(w->loop, w->proto, sopts);
    assert_non_null(w->server);
    tf_callbacks_t scb = sec_callbacks(&w->s, "server");
    assert_int_equal(tf_server_set_callbacks(w->server, &scb), 0);
    assert_int_equal(tf_server_listen(w->server, "tcp://127.0.0.1:0"), 0);
    w->port = tf_server_port(w->server);
    w->client = truflux_client_new(w->loop, w->proto, copts);
    if (!w->client)
        fprintf(stderr, "  client: %s\n", tf_last_error_detail());
    assert_non_null(w->client);
    tf_callbacks_t ccb = sec_callbacks(&w->c, "client");
    assert_int_equal(tf_client_set_callbacks(w->client, &ccb), 0);
    assert_int_equal(tf_client_connect(w->client, tfs_url(url, sizeof url, w->port)), 0);
}

static void world_free(world_t *w)
{
    truflux_client_free(w->client);
    truflux_server_free(w->server);
    tfs_rec_free(&w->c.rec);
    tfs_rec_free(&w->s.rec);
    truflux_protocol_free(w->proto);
    assert_int_equal(truflux_loop_free(w->loop), 0);
}

static tf_conn_t *server_conn(world_t *w)
{
    return w->s.rec.opens > 0 ? w->s.rec.conns[0] : NULL;
}

static void opt_key(tf_options_t *o, int key, const uint8_t k[32])
{
    assert_int_equal(tf_options_set_bytes(o, key, k, 32), 0);
}

static void opt_str(tf_options_t *o, int key, const char *v)
{
    assert_int_equal(tf_options_set_str(o, key, v), 0);
}

static int wait_open(world_t *w)
{
    TFS_WAIT(w->loop, w->c.rec.opens >= 1 && w->s.rec.opens >= 1, TFS_WAIT_MS);
    return w->c.rec.opens == 1 && w->s.rec.opens == 1;
}

/* Sends `n` text messages "<tag> <i>" on conn and waits until `into` logged them all. */
static void send_numbered(world_t *w, tf_conn_t *conn, const char *tag, int n, tfs_rec_t *into)
{
    size_t before = into->nmsgs;
    char text[64];
    for (int i = 0; i < n; i++) {
        snprintf(text, sizeof text, "%s %d", tag, i);
        int rc;
        while ((rc = tf_send_name(conn, "chat", TRUFLUX_TYPE_TEXT, text, strlen(text))) ==
               TRUFLUX_EAGAIN)
            tfs_pump_once(w->loop, 1);
        assert_int_equal(rc, 0);
    }
    TFS_WAIT(w->loop, into->nmsgs >= before + (size_t)n, 4 * TFS_WAIT_MS);
    assert_int_equal(into->nmsgs, before + (size_t)n);
    for (int i = 0; i < n; i++) {
        snprintf(text, sizeof text, "%s %d", tag, i);
        assert_string_equal((const char *)into->msgs[before + (size_t)i].data, text);
    }
}

/* AES-NI, PCLMULQDQ, SSSE3 and SSE4.1, as the library tests them (lib/crypto/aesgcm_ni.cpp). */
static int cpu_has_aes_ni(void)
{
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c & (1u << 1)) && (c & (1u << 9)) && (c & (1u << 19)) && (c & (1u << 25));
#else
    return 0;
#endif
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_secure_nn_both_optional(void **state)
{
    (void)state;
    world_t w;
    world_init(&w);
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    world_start(&w, so, co);
    assert_true(wait_open(&w));
    TFS_WAIT(w.loop, w.s.secures == 1 && w.c.secures == 1, TFS_WAIT_MS);
    assert_int_equal(w.s.secures, 1);
    assert_int_equal(w.c.secures, 1);
    assert_int_equal(w.s.fails + w.c.fails, 0);

    tf_conn_t *cc = tf_client_conn(w.client), *sc = server_conn(&w);
    send_numbered(&w, cc, "up", 50, &w.s.rec);
    send_numbered(&w, sc, "down", 50, &w.c.rec);
    assert_int_equal(tf_conn_secure(cc, TRUFLUX_DIR_SEND), 1);
    assert_int_equal(tf_conn_secure(cc, TRUFLUX_DIR_RECV), 1);
    assert_int_equal(tf_conn_secure(sc, TRUFLUX_DIR_SEND), 1);
    assert_int_equal(tf_conn_secure(sc, TRUFLUX_DIR_RECV), 1);

    tf_secure_info_t ci, si;
    ci.size = si.size = sizeof ci;
    assert_int_equal(tf_conn_secure_info(cc, &ci), 0);
    assert_int_equal(tf_conn_secure_info(sc, &si), 0);
    assert_int_equal(ci.established, 1);
    assert_int_equal(si.established, 1);
    assert_int_equal(ci.pattern, TRUFLUX_NOISE_NN);
    /* The default priority: AES-GCM first where the CPU has AES-NI and PCLMULQDQ. */
    assert_int_equal(ci.cipher, cpu_has_aes_ni() ? TRUFLUX_CIPHER_AESGCM : TRUFLUX_CIPHER_CHACHAPOLY);
    assert_int_equal(ci.has_peer_key, 0);
    assert_memory_equal(ci.handshake_hash, si.handshake_hash, 32);
    assert_true(ci.records_sent > 0 && si.records_received == ci.records_sent);

    truflux_options_free(so);
    truflux_options_free(co);
    world_free(&w);
}

/* Every pattern with both ciphers, each side learning exactly the keys it should. */
static void test_secure_patterns_and_ciphers(void **state)
{
    (void)state;
    const char *patterns[] = { "NN", "NK", "XX", "IK" };
    const int codes[] = { TRUFLUX_NOISE_NN, TRUFLUX_NOISE_NK, TRUFLUX_NOISE_XX, TRUFLUX_NOISE_IK };
    const char *ciphers[] = { "ChaChaPoly", "AESGCM" };
    for (int p = 0; p < 4; p++) {
        for (int k = 0; k < 2; k++) {
            world_t w;
            world_init(&w);
            tf_options_t *so = tfs_options(), *co = tfs_options();
            tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
            tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
            opt_str(so, TRUFLUX_OPT_SECURE_PATTERNS, patterns[p]);
            opt_str(so, TRUFLUX_OPT_SECURE_CIPHERS, ciphers[k]);
            if (p != 0)
                opt_key(so, TRUFLUX_OPT_STATIC_KEY, w.spriv);
            if (p == 1 || p == 3)
                opt_key(co, TRUFLUX_OPT_PEER_KEY, w.spub);
            if (p >= 2)
                opt_key(co, TRUFLUX_OPT_STATIC_KEY, w.cpriv);
            world_start(&w, so, co);
            assert_true(wait_open(&w));
            assert_int_equal(w.s.secures, 1);
            assert_int_equal(w.c.secures, 1);
            /* Required: on_secure came first and on_open already saw encryption. */
            assert_true(w.s.secure_seq < w.s.rec.last_open_seq);
            assert_int_equal(w.s.secure_at_open, 1);
            assert_int_equal(w.c.secure_at_open, 1);

            tf_conn_t *cc = tf_client_conn(w.client), *sc = server_conn(&w);
            tf_secure_info_t ci, si;
            ci.size = si.size = sizeof ci;
            assert_int_equal(tf_conn_secure_info(cc, &ci), 0);
            assert_int_equal(tf_conn_secure_info(sc, &si), 0);
            assert_int_equal(ci.pattern, codes[p]);
            assert_int_equal(si.pattern, codes[p]);
            assert_int_equal(ci.cipher, k);
            assert_int_equal(si.cipher, k);
            assert_memory_equal(ci.handshake_hash, si.handshake_hash, 32);
            /* The client learns the server's key in NK, XX, IK; the server the client's in
             * XX, IK. */
            assert_int_equal(ci.has_peer_key, p != 0);
            if (p != 0)
                assert_memory_equal(ci.peer_key, w.spub, 32);
            assert_int_equal(si.has_peer_key, p >= 2);
            if (p >= 2)
                assert_memory_equal(si.peer_key, w.cpub, 32);

            send_numbered(&w, cc, "c", 20, &w.s.rec);
            send_numbered(&w, sc, "s", 20, &w.c.rec);
            truflux_options_free(so);
            truflux_options_free(co);
            world_free(&w);
        }
    }
}

/* ---- a relay that records both directions (and may rewrite the server's) --------------- */

typedef struct relay {
    int lfd, cfd, sfd, server_port, port;
    int c_eof, s_eof;
    tfs_buf_t up, down; /* client -> server, server -> client */
    const uint8_t *find, *replace; /* 32 bytes: rewritten in the server's stream */
} relay_t;

static void relay_start(relay_t *r, int server_port)
{
    memset(r, 0, sizeof *r);
    r->cfd = r->sfd = -1;
    r->server_port = server_port;
    r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(r->lfd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(r->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(r->lfd, 4), 0);
    socklen_t len = sizeof a;
    getsockname(r->lfd, (struct sockaddr *)&a, &len);
    r->port = ntohs(a.sin_port);
}

static void relay_pipe(int from, int to, tfs_buf_t *cap, int *eof, const relay_t *r, int rewrite)
{
    uint8_t buf[65536];
    while (!*eof) {
        ssize_t n = recv(from, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        if (n == 0) {
            *eof = 1;
            shutdown(to, SHUT_WR);
            break;
        }
        size_t start = cap->len;
        tfs_buf_put(cap, buf, (size_t)n);
        if (rewrite && r->find) {
            /* The key sits in one read on loopback (the WELCOME is small). */
            for (size_t i = start; i + 32 <= cap->len; i++)
                if (memcmp(cap->p + i, r->find, 32) == 0)
                    memcpy(cap->p + i, r->replace, 32);
        }
        size_t off = start;
        while (off < cap->len) {
            ssize_t m = send(to, cap->p + off, cap->len - off, MSG_NOSIGNAL);
            if (m <= 0)
                break;
            off += (size_t)m;
        }
    }
}

static void relay_step(relay_t *r)
{
    if (r->cfd < 0) {
        r->cfd = accept(r->lfd, NULL, NULL);
        if (r->cfd < 0)
            return;
        r->sfd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)r->server_port);
        assert_int_equal(connect(r->sfd, (struct sockaddr *)&a, sizeof a), 0);
    }
    relay_pipe(r->cfd, r->sfd, &r->up, &r->c_eof, r, 0);
    relay_pipe(r->sfd, r->cfd, &r->down, &r->s_eof, r, 1);
}

static void relay_free(relay_t *r)
{
    if (r->cfd >= 0)
        close(r->cfd);
    if (r->sfd >= 0)
        close(r->sfd);
    close(r->lfd);
    tfs_buf_free(&r->up);
    tfs_buf_free(&r->down);
}

#define RELAY_WAIT(loop, r, cond, ms)                                                   \
    do {                                                                                \
        int64_t relay_deadline_ = tfs_now_ms() + (ms);                                  \
        while (!(cond) && tfs_now_ms() < relay_deadline_) {                             \
            relay_step(r);                                                              \
            tfs_pump_once((loop), 2);                                                   \
        }                                                                               \
    } while (0)

static int contains(const tfs_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->p + i, s, n) == 0)
            return 1;
    return 0;
}

/* Whether a captured stream holds an application frame (kinds 0x10-0x13, or anything past
 * the HELLO/WELCOME that is not the secure layer's or a CLOSE). */
static int has_app_frame(const tfs_buf_t *b)
{
    size_t off = 0;
    while (off + TFS_HDR <= b->len) {
        uint8_t kind = b->p[off];
        uint32_t len = tfs_get_u32(b->p + off + 5);
        if ((kind & 0xFC) == 0x10)
            return 1;
        if (kind == 0x21) /* an encrypted record: nothing readable, but data all the same */
            return 1;
        off += TFS_HDR + len;
    }
    return 0;
}

static void server_sends_on_open(void *user, tf_conn_t *conn)
{
    sec_on_open(user, conn);
    tf_send_name(conn, "chat", TRUFLUX_TYPE_TEXT, "SERVER-SECRET", 13);
}

/* Connects a client through the relay with copts; the server has sopts; the client queues
 * CLIENT-SECRET before the open and the server sends SERVER-SECRET at its open. */
static void relay_world(world_t *w, relay_t *r, const tf_options_t *sopts,
                        const tf_options_t *copts)
{
    char url[64];
    w->server = truflux_server_new(w->loop, w->proto, sopts);
    assert_non_null(w->server);
    tf_callbacks_t scb = sec_callbacks(&w->s, "server");
    scb.on_open = server_sends_on_open;
    assert_int_equal(tf_server_set_callbacks(w->server, &scb), 0);
    assert_int_equal(tf_server_listen(w->server, "tcp://127.0.0.1:0"), 0);
    w->port = tf_server_port(w->server);
    relay_start(r, w->port);
    w->client = truflux_client_new(w->loop, w->proto, copts);
    assert_non_null(w->client);
    tf_callbacks_t ccb = sec_callbacks(&w->c, "client");
    assert_int_equal(tf_client_set_callbacks(w->client, &ccb), 0);
    assert_int_equal(tf_client_connect(w->client, tfs_url(url, sizeof url, r->port)), 0);
    assert_int_equal(tf_client_send_name(w->client, "chat", TRUFLUX_TYPE_TEXT, "CLIENT-SECRET", 13), 0);
}

/* A pinned key that does not match: EPIN, and no application data in either direction. */
static void test_secure_pin_mismatch_sends_nothing(void **state)
{
    (void)state;
    for (int pattern = 0; pattern < 3; pattern++) {
        world_t w;
        relay_t r;
        world_init(&w);
        uint8_t other_priv[32], other_pub[32];
        assert_int_equal(tf_keypair_generate(other_priv, other_pub), 0);
        tf_options_t *so = tfs_options(), *co = tfs_options();
        /* The server only optional: it is the client's pin that holds both opens. */
        tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
        opt_key(so, TRUFLUX_OPT_STATIC_KEY, w.spriv);
        opt_key(co, TRUFLUX_OPT_PEER_KEY, other_pub);
        opt_str(co, TRUFLUX_OPT_SECURE_PATTERNS, pattern == 0 ? "NK" : pattern == 1 ? "XX" : "IK");
        if (pattern != 0)
            opt_key(co, TRUFLUX_OPT_STATIC_KEY, w.cpriv);
        relay_world(&w, &r, so, co);
        RELAY_WAIT(w.loop, &r, w.c.rec.closes >= 1 && r.c_eof && r.s_eof, TFS_WAIT_MS);
        assert_int_equal(w.c.rec.closes, 1);
        assert_true(tfs_rec_has_error(&w.c.rec, TRUFLUX_EPIN));
        assert_true(sec_has_fail(&w.c, TRUFLUX_EPIN));
        assert_int_equal(w.c.rec.opens, 0);
        assert_int_equal(w.s.rec.opens, 0);
        assert_int_equal((int)w.s.rec.nmsgs, 0);
        assert_int_equal((int)w.c.rec.nmsgs, 0);
        assert_false(contains(&r.up, "SECRET"));
        assert_false(contains(&r.down, "SECRET"));
        assert_false(has_app_frame(&r.up));
        assert_false(has_app_frame(&r.down));
        relay_free(&r);
        truflux_options_free(so);
        truflux_options_free(co);
        world_free(&w);
    }
}

/* The same relay with the right pin: the data flows, and never in clear. */
static void test_secure_pin_match_encrypts(void **state)
{
    (void)state;
    world_t w;
    relay_t r;
    world_init(&w);
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    opt_key(so, TRUFLUX_OPT_STATIC_KEY, w.spriv);
    opt_key(co, TRUFLUX_OPT_PEER_KEY, w.spub);
    relay_world(&w, &r, so, co);
    RELAY_WAIT(w.loop, &r, w.s.rec.nmsgs >= 1 && w.c.rec.nmsgs >= 1, TFS_WAIT_MS);
    assert_int_equal((int)w.s.rec.nmsgs, 1);
    assert_int_equal((int)w.c.rec.nmsgs, 1);
    assert_string_equal((const char *)w.s.rec.msgs[0].data, "CLIENT-SECRET");
    assert_string_equal((const char *)w.c.rec.msgs[0].data, "SERVER-SECRET");
    assert_false(contains(&r.up, "SECRET"));
    assert_false(contains(&r.down, "SECRET"));
    tf_secure_info_t ci;
    ci.size = sizeof ci;
    assert_int_equal(tf_conn_secure_info(tf_client_conn(w.client), &ci), 0);
    assert_int_equal(ci.pattern, TRUFLUX_NOISE_NK);
    relay_free(&r);
    truflux_options_free(so);
    truflux_options_free(co);
    world_free(&w);
}

/* A man in the middle that rewrites the server's announced key into the pinned one gets
 * through the early check, then the handshake fails: still no application data. */
static void test_secure_tampered_announcement_fails_handshake(void **state)
{
    (void)state;
    world_t w;
    relay_t r;
    world_init(&w);
    uint8_t other_priv[32], other_pub[32];
    assert_int_equal(tf_keypair_generate(other_priv, other_pub), 0);
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    opt_key(so, TRUFLUX_OPT_STATIC_KEY, w.spriv);
    opt_key(co, TRUFLUX_OPT_PEER_KEY, other_pub);
    relay_world(&w, &r, so, co);
    r.find = w.spub;
    r.replace = other_pub;
    RELAY_WAIT(w.loop, &r, w.c.rec.closes >= 1 && r.c_eof && r.s_eof, TFS_WAIT_MS);
    assert_int_equal(w.c.rec.closes, 1);
    assert_int_equal(w.c.rec.opens, 0);
    assert_int_equal(w.s.rec.opens, 0);
    assert_true(sec_has_fail(&w.s, TRUFLUX_EHANDSHAKE));
    assert_true(sec_has_fail(&w.c, TRUFLUX_EHANDSHAKE));
    assert_false(contains(&r.up, "SECRET"));
    assert_false(contains(&r.down, "SECRET"));
    assert_false(has_app_frame(&r.up));
    assert_false(has_app_frame(&r.down));
    relay_free(&r);
    truflux_options_free(so);
    truflux_options_free(co);
    world_free(&w);
}

/* ---- negotiation ------------------------------------------------------------------------ */

static void test_secure_no_common_cipher(void **state)
{
    (void)state;
    for (int required = 0; required < 2; required++) {
        world_t w;
        world_init(&w);
        tf_options_t *so = tfs_options(), *co = tfs_options();
        tfs_opt(so, TRUFLUX_OPT_SECURE, required ? TRUFLUX_SECURE_REQUIRED : TRUFLUX_SECURE_OPTIONAL);
        tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
        opt_str(so, TRUFLUX_OPT_SECURE_CIPHERS, "AESGCM");
        opt_str(co, TRUFLUX_OPT_SECURE_CIPHERS, "ChaChaPoly");
        world_start(&w, so, co);
        if (!required) {
            /* Both merely optional: failSecure on both sides, then plaintext. */
            assert_true(wait_open(&w));
            TFS_WAIT(w.loop, w.c.fails >= 1, TFS_WAIT_MS);
            assert_true(sec_has_fail(&w.s, TRUFLUX_ENOCIPHER));
            assert_true(sec_has_fail(&w.c, TRUFLUX_ENOCIPHER));
            assert_int_equal(w.s.secures + w.c.secures, 0);
            send_numbered(&w, tf_client_conn(w.client), "plain", 5, &w.s.rec);
            assert_int_equal(tf_conn_secure(tf_client_conn(w.client), TRUFLUX_DIR_SEND), 0);
            assert_int_equal(tf_conn_set_secure(tf_client_conn(w.client), TRUFLUX_DIR_SEND, 1),
                             TRUFLUX_ENOTSUP);
        } else {
            TFS_WAIT(w.loop, w.c.rec.closes >= 1, TFS_WAIT_MS);
            assert_int_equal(w.c.rec.closes, 1);
            assert_int_equal(w.c.rec.last_close_reason, TRUFLUX_ENOCIPHER);
            assert_true(sec_has_fail(&w.s, TRUFLUX_ENOCIPHER));
            assert_true(sec_has_fail(&w.c, TRUFLUX_ENOCIPHER));
            assert_int_equal(w.s.rec.opens + w.c.rec.opens, 0);
        }
        truflux_options_free(so);
        truflux_options_free(co);
        world_free(&w);
    }
}

static void test_secure_required_against_plain_peer(void **state)
{
    (void)state;
    for (int side = 0; side < 2; side++) {
        world_t w;
        world_init(&w);
        tf_options_t *so = tfs_options(), *co = tfs_options();
        tfs_opt(side == 0 ? so : co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
        world_start(&w, so, co);
        TFS_WAIT(w.loop, w.c.rec.closes >= 1, TFS_WAIT_MS);
        assert_int_equal(w.c.rec.closes, 1);
        assert_int_equal(w.c.rec.last_close_reason, TRUFLUX_ENOTSECURE);
        /* The side that requires never opens; a plain server opens at the hello. */
        assert_int_equal(side == 0 ? w.s.rec.opens : w.c.rec.opens, 0);
        assert_true(sec_has_fail(side == 0 ? &w.s : &w.c, TRUFLUX_ENOTSECURE));
        truflux_options_free(so);
        truflux_options_free(co);
        world_free(&w);
    }
}

/* ---- authorisation ---------------------------------------------------------------------- */

static void test_secure_authorizer(void **state)
{
    (void)state;
    for (int pattern = 0; pattern < 2; pattern++) {
        for (int answer = 0; answer < 2; answer++) {
            world_t w;
            world_init(&w);
            tf_options_t *so = tfs_options(), *co = tfs_options();
            tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
            opt_key(so, TRUFLUX_OPT_STATIC_KEY, w.spriv);
            opt_key(co, TRUFLUX_OPT_STATIC_KEY, w.cpriv);
            if (pattern == 1)
                opt_key(co, TRUFLUX_OPT_PEER_KEY, w.spub); /* IK */
            else
                tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED); /* XX */
            w.server = truflux_server_new(w.loop, w.proto, so);
            assert_non_null(w.server);
            tf_callbacks_t scb = sec_callbacks(&w.s, "server");
            w.s.auth_answer = answer;
            assert_int_equal(tf_server_set_callbacks(w.server, &scb), 0);
            assert_int_equal(tf_server_set_authorizer(w.server, sec_authorize, &w.s), 0);
            assert_int_equal(tf_server_listen(w.server, "tcp://127.0.0.1:0"), 0);
            char url[64];
            w.client = truflux_client_new(w.loop, w.proto, co);
            assert_non_null(w.client);
            tf_callbacks_t ccb = sec_callbacks(&w.c, "client");
            assert_int_equal(tf_client_set_callbacks(w.client, &ccb), 0);
            assert_int_equal(tf_client_connect(w.client, tfs_url(url, sizeof url, tf_server_port(w.server))), 0);
            assert_int_equal(tf_client_send_name(w.client, "chat", TRUFLUX_TYPE_TEXT, "hello", 5), 0);
            if (answer) {
                assert_true(wait_open(&w));
                TFS_WAIT(w.loop, w.s.rec.nmsgs >= 1, TFS_WAIT_MS);
                assert_int_equal((int)w.s.rec.nmsgs, 1);
                tf_secure_info_t si;
                si.size = sizeof si;
                assert_int_equal(tf_conn_secure_info(server_conn(&w), &si), 0);
                assert_int_equal(si.pattern, pattern == 1 ? TRUFLUX_NOISE_IK : TRUFLUX_NOISE_XX);
            } else {
                TFS_WAIT(w.loop, w.c.rec.closes >= 1, TFS_WAIT_MS);
                assert_int_equal(w.c.rec.closes, 1);
                assert_int_equal(w.c.rec.last_close_reason, TRUFLUX_EAUTH);
                assert_true(sec_has_fail(&w.c, TRUFLUX_EAUTH));
                assert_true(sec_has_fail(&w.s, TRUFLUX_EAUTH));
                assert_int_equal(w.s.rec.opens + w.c.rec.opens, 0);
                assert_int_equal((int)w.s.rec.nmsgs, 0);
            }
            assert_int_equal(w.s.auth_calls, 1);
            assert_memory_equal(w.s.auth_key, w.cpub, 32);
            truflux_options_free(so);
            truflux_options_free(co);
            world_free(&w);
        }
    }
}

static void test_secure_authorized_keys_file(void **state)
{
    (void)state;
    world_t w;
    world_init(&w);
    uint8_t other_priv[32], other_pub[32];
    assert_int_equal(tf_keypair_generate(other_priv, other_pub), 0);
    char text[45], path[] = "secure_authorized_keys.txt";
    assert_int_equal(tf_key_encode(w.cpub, text), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# clients allowed in\n\n  %s  laptop\n", text);
    fclose(f);
    tf_options_t *so = tfs_options(), *co = tfs_options(), *bad = tfs_options();
    opt_key(so, TRUFLUX_OPT_STATIC_KEY, w.spriv);
    opt_str(so, TRUFLUX_OPT_AUTHORIZED_KEYS_FILE, path);
    opt_key(co, TRUFLUX_OPT_STATIC_KEY, w.cpriv);
    tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
    world_start(&w, so, co);
    assert_true(wait_open(&w));
    assert_int_equal(w.c.secures, 1);

    /* A second client whose key is not in the file. */
    opt_key(bad, TRUFLUX_OPT_STATIC_KEY, other_priv);
    tfs_opt(bad, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    tf_client_t *c2 = truflux_client_new(w.loop, w.proto, bad);
    assert_non_null(c2);
    sec_rec_t r2;
    tf_callbacks_t cb2 = sec_callbacks(&r2, "client2");
    assert_int_equal(tf_client_set_callbacks(c2, &cb2), 0);
    char url[64];
    assert_int_equal(tf_client_connect(c2, tfs_url(url, sizeof url, w.port)), 0);
    TFS_WAIT(w.loop, r2.rec.closes >= 1, TFS_WAIT_MS);
    assert_int_equal(r2.rec.last_close_reason, TRUFLUX_EAUTH);
    assert_true(sec_has_fail(&r2, TRUFLUX_EAUTH));
    truflux_client_free(c2);
    tfs_rec_free(&r2.rec);

    /* A file that does not parse fails at creation, saying where. */
    f = fopen(path, "w");
    fprintf(f, "%s\nnot-a-key\n", text);
    fclose(f);
    tf_server_t *s2 = truflux_server_new(w.loop, w.proto, so);
    assert_null(s2);
    assert_int_equal(tf_last_error(), TRUFLUX_EINVAL);
    assert_non_null(strstr(tf_last_error_detail(), "line 2"));
    remove(path);
    truflux_options_free(so);
    truflux_options_free(co);
    truflux_options_free(bad);
    world_free(&w);
}

/* ---- switching ------------------------------------------------------------------------- */

static void test_secure_switching_keeps_order(void **state)
{
    (void)state;
    world_t w;
    world_init(&w);
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    world_start(&w, so, co);
    assert_true(wait_open(&w));
    TFS_WAIT(w.loop, w.c.secures == 1 && w.s.secures == 1, TFS_WAIT_MS);
    tf_conn_t *cc = tf_client_conn(w.client), *sc = server_conn(&w);

    /* Off and on again between sends: every message arrives, in order. */
    char text[32];
    for (int i = 0; i < 300; i++) {
        if (i % 50 == 25)
            assert_int_equal(tf_conn_set_secure(cc, TRUFLUX_DIR_SEND, 0), 0);
        if (i % 50 == 0)
            assert_int_equal(tf_conn_set_secure(cc, TRUFLUX_DIR_SEND, 1), 0);
        snprintf(text, sizeof text, "m %d", i);
        assert_int_equal(tf_send_name(cc, "chat", TRUFLUX_TYPE_TEXT, text, strlen(text)), 0);
    }
    TFS_WAIT(w.loop, w.s.rec.nmsgs >= 300, TFS_WAIT_MS);
    assert_int_equal((int)w.s.rec.nmsgs, 300);
    for (int i = 0; i < 300; i++) {
        snprintf(text, sizeof text, "m %d", i);
        assert_string_equal((const char *)w.s.rec.msgs[i].data, text);
    }
    /* The last switch was off (i = 275): the server sees plaintext now. */
    assert_int_equal(tf_conn_secure(cc, TRUFLUX_DIR_SEND), 0);
    assert_int_equal(tf_conn_secure(sc, TRUFLUX_DIR_RECV), 0);

    /* The server asks the client to encrypt, then to stop: the client follows. */
    assert_int_equal(tf_conn_set_secure(sc, TRUFLUX_DIR_RECV, 1), 0);
    TFS_WAIT(w.loop, tf_conn_secure(cc, TRUFLUX_DIR_SEND) == 1, TFS_WAIT_MS);
    assert_int_equal(tf_conn_secure(cc, TRUFLUX_DIR_SEND), 1);
    send_numbered(&w, cc, "after-request", 3, &w.s.rec);
    assert_int_equal(tf_conn_secure(sc, TRUFLUX_DIR_RECV), 1);
    assert_int_equal(tf_conn_set_secure(sc, TRUFLUX_DIR_RECV, 0), 0);
    TFS_WAIT(w.loop, tf_conn_secure(cc, TRUFLUX_DIR_SEND) == 0, TFS_WAIT_MS);
    assert_int_equal(tf_conn_secure(cc, TRUFLUX_DIR_SEND), 0);
    /* The server's own direction was never touched. */
    assert_int_equal(tf_conn_secure(sc, TRUFLUX_DIR_SEND), 1);
    send_numbered(&w, sc, "down", 3, &w.c.rec);
    assert_int_equal(tf_conn_set_secure(cc, 4, 1), TRUFLUX_EINVAL);
    truflux_options_free(so);
    truflux_options_free(co);
    world_free(&w);
}

/* A wish expressed before the connection exists applies when the handshake finishes,
 * unless a side requires encryption. */
static void test_secure_switch_before_connect(void **state)
{
    (void)state;
    for (int required = 0; required < 2; required++) {
        world_t w;
        world_init(&w);
        tf_options_t *so = tfs_options(), *co = tfs_options();
        tfs_opt(so, TRUFLUX_OPT_SECURE, required ? TRUFLUX_SECURE_REQUIRED : TRUFLUX_SECURE_OPTIONAL);
        tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
        char url[64];
        w.server = truflux_server_new(w.loop, w.proto, so);
        tf_callbacks_t scb = sec_callbacks(&w.s, "server");
        assert_int_equal(tf_server_set_callbacks(w.server, &scb), 0);
        assert_int_equal(tf_server_listen(w.server, "tcp://127.0.0.1:0"), 0);
        w.client = truflux_client_new(w.loop, w.proto, co);
        tf_callbacks_t ccb = sec_callbacks(&w.c, "client");
        assert_int_equal(tf_client_set_callbacks(w.client, &ccb), 0);
        assert_int_equal(tf_client_connect(w.client, tfs_url(url, sizeof url, tf_server_port(w.server))), 0);
        tf_conn_t *cc = tf_client_conn(w.client);
        assert_int_equal(tf_conn_set_secure(cc, TRUFLUX_DIR_SEND, 0), 0);
        assert_true(wait_open(&w));
        TFS_WAIT(w.loop, w.c.secures == 1 && w.s.secures == 1, TFS_WAIT_MS);
        send_numbered(&w, cc, "wish", 5, &w.s.rec);
        assert_int_equal(tf_conn_secure(cc, TRUFLUX_DIR_SEND), required);
        assert_int_equal(tf_conn_secure(server_conn(&w), TRUFLUX_DIR_RECV), required);
        assert_int_equal(tf_conn_secure(cc, TRUFLUX_DIR_RECV), 1);
        truflux_options_free(so);
        truflux_options_free(co);
        world_free(&w);
    }
}

static void test_secure_required_cannot_switch_off(void **state)
{
    (void)state;
    world_t w;
    world_init(&w);
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
    tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    world_start(&w, so, co);
    assert_true(wait_open(&w));
    tf_conn_t *cc = tf_client_conn(w.client), *sc = server_conn(&w);
    assert_int_equal(tf_conn_set_secure(cc, TRUFLUX_DIR_SEND, 0), TRUFLUX_ENOTSECURE);
    assert_int_equal(tf_conn_set_secure(sc, TRUFLUX_DIR_RECV, 0), TRUFLUX_ENOTSECURE);
    assert_int_equal(tf_conn_set_secure(cc, TRUFLUX_DIR_SEND, 1), 0);
    send_numbered(&w, cc, "x", 3, &w.s.rec);
    truflux_options_free(so);
    truflux_options_free(co);
    world_free(&w);
}

/* ---- rekey ------------------------------------------------------------------------------ */

static void rekey_run(int key, int64_t value, int count, size_t size, int spread_ms)
{
    world_t w;
    world_init(&w);
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
    tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    tfs_opt(so, key, value);
    tfs_opt(co, key, value);
    world_start(&w, so, co);
    assert_true(wait_open(&w));
    tf_conn_t *cc = tf_client_conn(w.client), *sc = server_conn(&w);
    uint8_t *buf = malloc(size + 16);
    assert_non_null(buf);
    int64_t start = tfs_now_ms();
    for (int i = 0; i < count; i++) {
        memset(buf, 'a' + i % 26, size);
        int n = snprintf((char *)buf, 16, "%d.", i);
        (void)n;
        for (int dir = 0; dir < 2; dir++) {
            int rc;
            while ((rc = tf_send_name(dir ? sc : cc, "chat", TRUFLUX_TYPE_BINARY, buf, size)) ==
                   TRUFLUX_EAGAIN)
                tfs_pump_once(w.loop, 1);
            assert_int_equal(rc, 0);
        }
        if (spread_ms) {
            /* Stretch the run over spread_ms so that the interval passes several times. */
            while (tfs_now_ms() < start + (int64_t)spread_ms * (i + 1) / count)
                tfs_pump_once(w.loop, 1);
        } else if (i % 64 == 0) {
            tfs_pump_once(w.loop, 0);
        }
    }
    TFS_WAIT(w.loop, w.s.rec.nmsgs >= (size_t)count && w.c.rec.nmsgs >= (size_t)count,
             6 * TFS_WAIT_MS);
    assert_int_equal((int)w.s.rec.nmsgs, count);
    assert_int_equal((int)w.c.rec.nmsgs, count);
    for (int i = 0; i < count; i++) {
        memset(buf, 'a' + i % 26, size);
        snprintf((char *)buf, 16, "%d.", i);
        assert_int_equal(w.s.rec.msgs[i].len, size);
        assert_memory_equal(w.s.rec.msgs[i].data, buf, size);
        assert_memory_equal(w.c.rec.msgs[i].data, buf, size);
    }
    tf_secure_info_t ci, si;
    ci.size = si.size = sizeof ci;
    assert_int_equal(tf_conn_secure_info(cc, &ci), 0);
    assert_int_equal(tf_conn_secure_info(sc, &si), 0);
    fprintf(stderr, "  rekeys: client sent %llu, server sent %llu\n",
            (unsigned long long)ci.rekeys_sent, (unsigned long long)si.rekeys_sent);
    assert_true(ci.rekeys_sent >= 3 && si.rekeys_sent >= 3);
    assert_int_equal(ci.rekeys_sent, si.rekeys_received);
    assert_int_equal(si.rekeys_sent, ci.rekeys_received);
    free(buf);
    truflux_options_free(so);
    truflux_options_free(co);
    world_free(&w);
}

static void test_secure_rekey_by_messages(void **state)
{
    (void)state;
    rekey_run(TRUFLUX_OPT_REKEY_MESSAGES, 7, 3000, 24, 0);
}

static void test_secure_rekey_by_bytes(void **state)
{
    (void)state;
    rekey_run(TRUFLUX_OPT_REKEY_BYTES, 5000, 400, 3000, 0);
}

static void test_secure_rekey_by_time(void **state)
{
    (void)state;
    rekey_run(TRUFLUX_OPT_REKEY_INTERVAL, 20, 100, 100, 300);
}

/* ---- large messages, split over records -------------------------------------------------- */

static void test_secure_large_messages(void **state)
{
    (void)state;
    world_t w;
    world_init(&w);
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
    tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    opt_str(so, TRUFLUX_OPT_SECURE_CIPHERS, "AESGCM");
    tfs_opt(so, TRUFLUX_OPT_SEND_HWM, 64 << 20);
    tfs_opt(co, TRUFLUX_OPT_SEND_HWM, 64 << 20);
    world_start(&w, so, co);
    assert_true(wait_open(&w));
    w.s.rec.echo = 1;
    const size_t sizes[] = { 0, 1, 65510, 65511, 65519, 65520, 131038, 200000, 1u << 20, 5u << 20 };
    size_t n = sizeof sizes / sizeof sizes[0];
    uint8_t *buf = malloc(5u << 20);
    assert_non_null(buf);
    for (size_t i = 0; i < (5u << 20); i++)
        buf[i] = (uint8_t)(i * 131 + (i >> 9));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tf_client_send_name(w.client, "echo", TRUFLUX_TYPE_BINARY, buf, sizes[i]), 0);
    TFS_WAIT(w.loop, w.c.rec.nmsgs >= n, 6 * TFS_WAIT_MS);
    assert_int_equal((int)w.c.rec.nmsgs, (int)n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(w.c.rec.msgs[i].len, sizes[i]);
        assert_memory_equal(w.c.rec.msgs[i].data, buf, sizes[i]);
    }
    free(buf);
    truflux_options_free(so);
    truflux_options_free(co);
    world_free(&w);
}

/* A large message with nothing queued before it is sealed a record at a time and written
 * while the socket takes it; what it does not take waits in the queue. Each message here
 * goes alone, the peer reading on the same thread only after tf_send returned: the socket
 * fills within the call for the larger ones, so both ends of that path run. */
static void direct_run(const char *cipher)
{
    world_t w;
    world_init(&w);
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
    tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    opt_str(so, TRUFLUX_OPT_SECURE_CIPHERS, cipher);
    tfs_opt(so, TRUFLUX_OPT_SEND_HWM, 64 << 20);
    tfs_opt(co, TRUFLUX_OPT_SEND_HWM, 64 << 20);
    world_start(&w, so, co);
    assert_true(wait_open(&w));
    tf_conn_t *cc = tf_client_conn(w.client);
    const size_t direct_min = 100u << 10;  /* lib/secure/session.cpp */
    const size_t sizes[] = { direct_min - 1, direct_min, 131072, (1u << 20) + 1,
                             65510 * 17 + 3, (3u << 20) + 7, 9u << 20 };
    size_t n = sizeof sizes / sizeof sizes[0];
    uint8_t *buf = malloc(9u << 20);
    assert_non_null(buf);
    for (size_t i = 0; i < (9u << 20); i++)
        buf[i] = (uint8_t)(i * 131 + (i >> 9));
    for (size_t i = 0; i < n; i++) {
        tf_conn_stats_t before = { .size = sizeof before }, after = { .size = sizeof after };
        assert_int_equal(tf_conn_stats(cc, &before), 0);
        assert_int_equal(before.queued, 0);
        buf[0] = (uint8_t)i;
        assert_int_equal(tf_send_name(cc, "chat", TRUFLUX_TYPE_BINARY, buf, sizes[i]), 0);
        assert_int_equal(tf_conn_stats(cc, &after), 0);
        /* From direct_min on, bytes reach the socket inside tf_send (this thread runs the
         * loop); below it, everything waits for the flush. */
        if (sizes[i] >= direct_min)
            assert_true(after.bytes_out - before.bytes_out >= 65536);
        else
            assert_int_equal(after.bytes_out, before.bytes_out);
        assert_true(after.bytes_out - before.bytes_out + after.queued >= sizes[i]);
        TFS_WAIT(w.loop, w.s.rec.nmsgs >= i + 1, 6 * TFS_WAIT_MS);
        assert_int_equal((int)w.s.rec.nmsgs, (int)(i + 1));
        assert_int_equal(w.s.rec.msgs[i].len, sizes[i]);
        assert_memory_equal(w.s.rec.msgs[i].data, buf, sizes[i]);
        TFS_WAIT(w.loop, tf_conn_stats(cc, &after) == 0 && after.queued == 0, 6 * TFS_WAIT_MS);
    }
    /* Small messages after the large ones still share records and arrive in order. */
    send_numbered(&w, cc, "chat", 20, &w.s.rec);
    free(buf);
    truflux_options_free(so);
    truflux_options_free(co);
    world_free(&w);
}

static void test_secure_large_direct_aesgcm(void **state)
{
    (void)state;
    direct_run("AESGCM");
}

static void test_secure_large_direct_chachapoly(void **state)
{
    (void)state;
    direct_run("ChaChaPoly");
}

/* ---- small records meeting a full socket ------------------------------------------------- */

/* The descriptor of a connected TCP socket of this process whose local (want_local) or peer
 * port is `port`; -1 if none. */
static int socket_with_port(int port, int want_local)
{
    for (int fd = 3; fd < 4096; fd++) {
        struct sockaddr_in me, peer;
        socklen_t a = sizeof me, b = sizeof peer;
        if (getsockname(fd, (struct sockaddr *)&me, &a) != 0 ||
            getpeername(fd, (struct sockaddr *)&peer, &b) != 0 || me.sin_family != AF_INET)
            continue;
        if (ntohs(want_local ? me.sin_port : peer.sin_port) == port)
            return fd;
    }
    return -1;
}

/* A record is sealed where its small messages were gathered and written from there while
 * nothing is queued; when the socket does not take it (the server here does not read: its
 * loop is not run), it is queued and later messages queue behind it. Once the server reads
 * again every message arrives, in order. (Loopback TCP takes a record of up to 16 KiB whole
 * or not at all; a write taken in part is checked on a socket pair in test_ws_direct.cpp.) */
static void partial_run(const char *cipher)
{
    tf_loop_t *sl = truflux_loop_new(), *cl = truflux_loop_new();
    assert_non_null(sl);
    assert_non_null(cl);
    tf_protocol_t *proto = truflux_protocol_new();
    assert_true(tf_protocol_add(proto, "chat", 0, 0) >= 0);
    sec_rec_t s, c;
    memset(&s, 0, sizeof s);
    memset(&c, 0, sizeof c);
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
    tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    opt_str(so, TRUFLUX_OPT_SECURE_CIPHERS, cipher);
    tf_server_t *server = truflux_server_new(sl, proto, so);
    assert_non_null(server);
    tf_callbacks_t scb = sec_callbacks(&s, "server");
    assert_int_equal(tf_server_set_callbacks(server, &scb), 0);
    assert_int_equal(tf_server_listen(server, "tcp://127.0.0.1:0"), 0);
    int port = tf_server_port(server);
    tf_client_t *client = truflux_client_new(cl, proto, co);
    assert_non_null(client);
    tf_callbacks_t ccb = sec_callbacks(&c, "client");
    assert_int_equal(tf_client_set_callbacks(client, &ccb), 0);
    char url[64];
    assert_int_equal(tf_client_connect(client, tfs_url(url, sizeof url, port)), 0);
    int64_t deadline = tfs_now_ms() + TFS_WAIT_MS;
    while ((c.rec.opens < 1 || s.rec.opens < 1 || c.secures < 1) && tfs_now_ms() < deadline) {
        tfs_pump_once(sl, 1);
        tfs_pump_once(cl, 1);
    }
    assert_int_equal(c.rec.opens, 1);
    assert_int_equal(s.rec.opens, 1);
    tf_conn_t *cc = tf_client_conn(client);
    /* A small send buffer: the socket is full soon after the server's receive buffer. (Not
     * a small receive buffer: below the loopback MSS its window would hardly reopen.) */
    int cfd = socket_with_port(port, 0);
    assert_true(cfd >= 0);
    int small = 4096;
    assert_int_equal(setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);

    enum { MAX = 20000 };
    char text[400];
    int sent = 0, partial = 0, behind = 0;
    for (int round = 0; sent < MAX && behind < 200; round++) {
        tf_conn_stats_t before = { .size = sizeof before }, after = { .size = sizeof after };
        assert_int_equal(tf_conn_stats(cc, &before), 0);
        /* 1 to 40 messages a record, so that records of many sizes meet the socket's room. */
        for (int k = 0; k <= round % 40 && sent < MAX; k++, sent++) {
            snprintf(text, sizeof text, "message %06d of a stalled reader %0300d", sent, sent);
            assert_int_equal(tf_send_name(cc, "chat", TRUFLUX_TYPE_TEXT, text, strlen(text)),
                             0);
        }
        tfs_pump_once(cl, 0); /* the flush: seal, write */
        assert_int_equal(tf_conn_stats(cc, &after), 0);
        if (before.queued == 0 && after.queued > 0)
            partial++;
        if (partial)
            behind++;
    }
    assert_true(partial >= 1);
    deadline = tfs_now_ms() + 4 * TFS_WAIT_MS;
    while (s.rec.nmsgs < (size_t)sent && tfs_now_ms() < deadline) {
        tfs_pump_once(sl, 1);
        tfs_pump_once(cl, 0);
    }
    assert_int_equal((int)s.rec.nmsgs, sent);
    for (int i = 0; i < sent; i++) {
        snprintf(text, sizeof text, "message %06d of a stalled reader %0300d", i, i);
        assert_string_equal((const char *)s.rec.msgs[i].data, text);
    }
    assert_int_equal(s.fails, 0);
    assert_int_equal(c.fails, 0);
    truflux_client_free(client);
    truflux_server_free(server);
    tfs_rec_free(&c.rec);
    tfs_rec_free(&s.rec);
    truflux_options_free(so);
    truflux_options_free(co);
    truflux_protocol_free(proto);
    /* Each loop runs its own deferred frees. */
    for (int i = 0; i < 5; i++) {
        tfs_pump_once(sl, 0);
        tfs_pump_once(cl, 0);
    }
    assert_int_equal(truflux_loop_free(cl), 0);
    assert_int_equal(truflux_loop_free(sl), 0);
}

static void test_secure_small_partial_aesgcm(void **state)
{
    (void)state;
    partial_run("AESGCM");
}

static void test_secure_small_partial_chachapoly(void **state)
{
    (void)state;
    partial_run("ChaChaPoly");
}

/* ---- a new handshake after a reconnect -------------------------------------------------- */

static void test_secure_reconnect_handshakes_again(void **state)
{
    (void)state;
    world_t w;
    world_init(&w);
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
    opt_key(so, TRUFLUX_OPT_STATIC_KEY, w.spriv);
    opt_key(co, TRUFLUX_OPT_PEER_KEY, w.spub);
    tfs_opt(co, TRUFLUX_OPT_RECONNECT, 1);
    tfs_opt(co, TRUFLUX_OPT_RECONNECT_MIN, 10);
    world_start(&w, so, co);
    assert_true(wait_open(&w));
    assert_int_equal(tf_conn_close(server_conn(&w), TRUFLUX_CLOSE_FORCE, 0), 0);
    TFS_WAIT(w.loop, w.c.rec.opens >= 2 && w.s.rec.opens >= 2, TFS_WAIT_MS);
    assert_int_equal(w.c.rec.opens, 2);
    assert_int_equal(w.c.secures, 2);
    send_numbered(&w, tf_client_conn(w.client), "again", 10, &w.s.rec);
    truflux_options_free(so);
    truflux_options_free(co);
    world_free(&w);
}

/* ---- options ----------------------------------------------------------------------------- */

static void test_secure_option_checks(void **state)
{
    (void)state;
    world_t w;
    world_init(&w);
    tf_options_t *o = tfs_options();
    assert_int_equal(tf_options_set_int(o, TRUFLUX_OPT_SECURE, 3), TRUFLUX_EINVAL);
    assert_int_equal(tf_options_set_str(o, TRUFLUX_OPT_SECURE_PATTERNS, "NN,QQ"), TRUFLUX_EINVAL);
    assert_int_equal(tf_options_set_str(o, TRUFLUX_OPT_SECURE_PATTERNS, "NN,NN"), TRUFLUX_EINVAL);
    assert_int_equal(tf_options_set_str(o, TRUFLUX_OPT_SECURE_CIPHERS, "aes-256-gcm, chachapoly"), 0);
    assert_int_equal(tf_options_set_str(o, TRUFLUX_OPT_SECURE_CIPHERS, "rot13"), TRUFLUX_EINVAL);
    assert_int_equal(tf_options_set_str(o, TRUFLUX_OPT_STATIC_KEY, "x"), TRUFLUX_EINVAL);
    /* A key that is not one fails at creation, naming the option. */
    assert_int_equal(tf_options_set_bytes(o, TRUFLUX_OPT_STATIC_KEY, "short", 5), 0);
    assert_null(truflux_server_new(w.loop, w.proto, o));
    assert_int_equal(tf_last_error(), TRUFLUX_EINVAL);
    assert_non_null(strstr(tf_last_error_detail(), "static key"));
    /* Base64 text works as well as raw bytes. */
    char text[45];
    assert_int_equal(tf_key_encode(w.spriv, text), 0);
    assert_int_equal(tf_options_set_bytes(o, TRUFLUX_OPT_STATIC_KEY, text, strlen(text)), 0);
    /* A pattern the keys cannot do, asked for explicitly. */
    assert_int_equal(tf_options_set_str(o, TRUFLUX_OPT_SECURE_PATTERNS, "NK"), 0);
    tf_server_t *s = truflux_server_new(w.loop, w.proto, o);
    assert_non_null(s);
    truflux_server_free(s);
    truflux_options_free(o);
    o = tfs_options();
    tfs_opt(o, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    assert_int_equal(tf_options_set_str(o, TRUFLUX_OPT_SECURE_PATTERNS, "NK"), 0);
    assert_null(truflux_server_new(w.loop, w.proto, o));
    assert_non_null(strstr(tf_last_error_detail(), "NK"));
    /* A missing key file. */
    assert_int_equal(tf_options_set_str(o, TRUFLUX_OPT_STATIC_KEY_FILE, "/nonexistent/k.key"), 0);
    assert_null(truflux_client_new(w.loop, w.proto, o));
    assert_non_null(strstr(tf_last_error_detail(), "/nonexistent/k.key"));
    truflux_options_free(o);
    /* Key helpers. */
    uint8_t k[32], back[32];
    assert_int_equal(tf_key_decode(text, strlen(text), back), 0);
    assert_memory_equal(back, w.spriv, 32);
    char spaced[64];
    snprintf(spaced, sizeof spaced, "  %s\n", text);
    assert_int_equal(tf_key_decode(spaced, strlen(spaced), back), 0);
    text[10] = '*';
    assert_int_equal(tf_key_decode(text, strlen(text), k), TRUFLUX_EINVAL);
    assert_int_equal(tf_key_public(w.spriv, k), 0);
    assert_memory_equal(k, w.spub, 32);
    assert_true(strcmp(tf_crypto_backend(), "mbedtls") == 0 || strcmp(tf_crypto_backend(), "openssl") == 0);
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secure_nn_both_optional),
        cmocka_unit_test(test_secure_patterns_and_ciphers),
        cmocka_unit_test(test_secure_pin_mismatch_sends_nothing),
        cmocka_unit_test(test_secure_pin_match_encrypts),
        cmocka_unit_test(test_secure_tampered_announcement_fails_handshake),
        cmocka_unit_test(test_secure_no_common_cipher),
        cmocka_unit_test(test_secure_required_against_plain_peer),
        cmocka_unit_test(test_secure_authorizer),
        cmocka_unit_test(test_secure_authorized_keys_file),
        cmocka_unit_test(test_secure_switching_keeps_order),
        cmocka_unit_test(test_secure_switch_before_connect),
        cmocka_unit_test(test_secure_required_cannot_switch_off),
        cmocka_unit_test(test_secure_rekey_by_messages),
        cmocka_unit_test(test_secure_rekey_by_bytes),
        cmocka_unit_test(test_secure_rekey_by_time),
        cmocka_unit_test(test_secure_large_messages),
        cmocka_unit_test(test_secure_large_direct_aesgcm),
        cmocka_unit_test(test_secure_large_direct_chachapoly),
        cmocka_unit_test(test_secure_small_partial_aesgcm),
        cmocka_unit_test(test_secure_small_partial_chachapoly),
        cmocka_unit_test(test_secure_reconnect_handshakes_again),
        cmocka_unit_test(test_secure_option_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
