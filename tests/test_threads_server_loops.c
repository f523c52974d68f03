/* tests/test_threads_server_loops.c (label: threads, run under TSan): one server spread over
 * two loops (tf_server_add_loop), each run by a library thread, and clients on a third loop:
 * both loops accept, a broadcast reaches every client once, count and stats sum the loops,
 * max_connections limits the total, echo works on each loop, close reports done once; an
 * authoriser set after listening judges the connections of both loops; a bind that fails on
 * the added loop reports where; file callbacks set after listening (and removed) reach both
 * loops; an evhttp of the added loop upgrades onto that loop.
 *
 * Callbacks run on three threads while the test thread waits: everything they share with
 * the test is read and written under `mu`. */
#include "support/tfsupport.h"

#include <event2/http.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <unistd.h>

#define NCLIENTS 40
#define LIMIT 30
#define WAIT_MS 60000 /* TSan is slow; a passing run returns as soon as its condition holds */
#define SPREAD_TRIES 3

typedef struct client_st {
    struct world *w;
    tf_client_t *client;
    int opened, closes, close_reason;
    int bcast, excluded_msg, end, echoes;
    int secure;
    int file_ends, declined; /* offers of this client that ended, declined */
} client_st_t;

typedef struct world {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tf_loop_t *l1, *l2, *lc;
    tf_protocol_t *sp, *cp;
    tf_server_t *server;
    int port;
    /* server side */
    int opens_on[2];                 /* on_open per server loop */
    int bad_thread;                  /* a callback on none of the server's loops */
    int server_closes, done_reports, limit_errors;
    int echo_on[2];                  /* echo handled per server loop */
    int secure_conns;                /* server connections that opened encrypted */
    int offers_on[2];                /* file offers seen per server loop */
    int auth_on[2];                  /* authoriser calls per server loop */
    int auth_refused;
    uint8_t good_pub[32];            /* the one client key the authoriser accepts */
    tf_conn_t *conns[NCLIENTS];      /* retained in on_open */
    int loop_of[NCLIENTS];
    int nconns;
    void (*after_free)(struct world *w); /* once the loops stopped and the server is gone */
    void *extra;
    /* client side */
    client_st_t cl[NCLIENTS];
    int id_bcast, id_partial, id_end, id_echo; /* the clients' protocol ids */
} world_t;

static world_t *g_w;

static void signal_locked(world_t *w) { pthread_cond_broadcast(&w->cv); }

/* Waits until `cond` (read under the mutex) holds, or WAIT_MS. */
#define WAIT_FOR(w, cond)                                                                \
    do {                                                                                 \
        struct timespec dl_;                                                             \
        clock_gettime(CLOCK_REALTIME, &dl_);                                             \
        dl_.tv_sec += WAIT_MS / 1000;                                                    \
        pthread_mutex_lock(&(w)->mu);                                                    \
        while (!(cond) && pthread_cond_timedwait(&(w)->cv, &(w)->mu, &dl_) == 0) {      \
        }                                                                                \
        pthread_mutex_unlock(&(w)->mu);                                                  \
    } while (0)

static int locked_int(world_t *w, const int *v)
{
    pthread_mutex_lock(&w->mu);
    int x = *v;
    pthread_mutex_unlock(&w->mu);
    return x;
}

/* Which server loop runs the calling thread: 0, 1, or -1 (neither). */
static int server_loop_index(world_t *w)
{
    int in1 = tf_loop_in_thread(w->l1), in2 = tf_loop_in_thread(w->l2);
    if (in1 && !in2)
        return 0;
    if (in2 && !in1)
        return 1;
    return -1;
}

/* ---- server callbacks ------------------------------------------------------------ */

static void s_on_open(void *user, tf_conn_t *conn)
{
    world_t *w = (world_t *)user;
    int at = server_loop_index(w);
    int secure = tf_conn_secure(conn, TRUFLUX_DIR_SEND) == 1;
    pthread_mutex_lock(&w->mu);
    if (at < 0) {
        w->bad_thread++;
    } else {
        w->opens_on[at]++;
        if (w->nconns < NCLIENTS) {
            w->loop_of[w->nconns] = at;
            w->conns[w->nconns++] = tf_conn_retain(conn);
        }
    }
    w->secure_conns += secure;
    signal_locked(w);
    pthread_mutex_unlock(&w->mu);
}

static void s_on_close(void *user, tf_conn_t *conn, int reason, int remote)
{
    world_t *w = (world_t *)user;
    (void)reason;
    (void)remote;
    int at = server_loop_index(w);
    pthread_mutex_lock(&w->mu);
    if (at < 0)
        w->bad_thread++;
    if (conn)
        w->server_closes++;
    else
        w->done_reports++;
    signal_locked(w);
    pthread_mutex_unlock(&w->mu);
}

static void s_on_error(void *user, tf_conn_t *conn, int code, const char *detail)
{
    world_t *w = (world_t *)user;
    (void)detail;
    pthread_mutex_lock(&w->mu);
    if (!conn && code == TRUFLUX_ELIMIT)
        w->limit_errors++;
    signal_locked(w);
    pthread_mutex_unlock(&w->mu);
}

static int s_authorize(void *user, tf_conn_t *conn, const uint8_t key[32])
{
    world_t *w = (world_t *)user;
    (void)conn;
    int at = server_loop_index(w);
    int ok = memcmp(key, w->good_pub, 32) == 0;
    pthread_mutex_lock(&w->mu);
    if (at < 0)
        w->bad_thread++;
    else
        w->auth_on[at]++;
    w->auth_refused += !ok;
    signal_locked(w);
    pthread_mutex_unlock(&w->mu);
    return ok;
}

static void h_echo(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)user;
    world_t *w = g_w;
    int at = server_loop_index(w);
    pthread_mutex_lock(&w->mu);
    if (at < 0)
        w->bad_thread++;
    else
        w->echo_on[at]++;
    pthread_mutex_unlock(&w->mu);
    tf_send(conn, m->id, m->type, m->data, m->len);
}

/* ---- client callbacks ------------------------------------------------------------ */

static void c_on_open(void *user, tf_conn_t *conn)
{
    client_st_t *c = (client_st_t *)user;
    int secure = tf_conn_secure(conn, TRUFLUX_DIR_SEND) == 1;
    pthread_mutex_lock(&c->w->mu);
    c->opened++;
    c->secure = secure;
    signal_locked(c->w);
    pthread_mutex_unlock(&c->w->mu);
}

static void c_on_close(void *user, tf_conn_t *conn, int reason, int remote)
{
    client_st_t *c = (client_st_t *)user;
    (void)conn;
    (void)remote;
    pthread_mutex_lock(&c->w->mu);
    c->closes++;
    c->close_reason = reason;
    signal_locked(c->w);
    pthread_mutex_unlock(&c->w->mu);
}

static void c_on_message(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    client_st_t *c = (client_st_t *)user;
    world_t *w = c->w;
    int id = (int)m->id;
    (void)conn;
    pthread_mutex_lock(&w->mu);
    if (id == w->id_bcast)
        c->bcast++;
    else if (id == w->id_partial)
        c->excluded_msg++;
    else if (id == w->id_end)
        c->end++;
    else if (id == w->id_echo)
        c->echoes++;
    signal_locked(c->w);
    pthread_mutex_unlock(&c->w->mu);
}

/* ---- set-up ---------------------------------------------------------------------- */

static tf_protocol_t *make_proto(int server)
{
    tf_protocol_t *p = truflux_protocol_new();
    assert_non_null(p);
    assert_true(tf_protocol_add(p, "echo", 0, 0) >= 0);
    assert_true(tf_protocol_add(p, "bcast", 0, 0) >= 0);
    assert_true(tf_protocol_add(p, "partial", 0, 0) >= 0);
    assert_true(tf_protocol_add(p, "end", 0, 0) >= 0);
    if (server)
        assert_int_equal(tf_protocol_on(p, "echo", h_echo, NULL), 0);
    return p;
}

/* secure: 0 off, 1 required, 2 required with a static key (clients may authenticate). */
static void world_init(world_t *w, int max_connections, int secure)
{
    memset(w, 0, sizeof *w);
    g_w = w;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->l1 = truflux_loop_new();
    w->l2 = truflux_loop_new();
    w->lc = truflux_loop_new();
    assert_non_null(w->l1);
    assert_non_null(w->l2);
    assert_non_null(w->lc);
    w->sp = make_proto(1);
    w->cp = make_proto(0);
    w->id_bcast = tf_protocol_id(w->cp, "bcast");
    w->id_partial = tf_protocol_id(w->cp, "partial");
    w->id_end = tf_protocol_id(w->cp, "end");
    w->id_echo = tf_protocol_id(w->cp, "echo");

    tf_options_t *so = tfs_options();
    if (max_connections)
        tfs_opt(so, TRUFLUX_OPT_MAX_CONNECTIONS, max_connections);
    if (secure)
        tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
    if (secure == 2) {
        uint8_t priv[32], pub[32];
        assert_int_equal(tf_keypair_generate(priv, pub), 0);
        assert_int_equal(tf_options_set_bytes(so, TRUFLUX_OPT_STATIC_KEY, priv, 32), 0);
    }
    w->server = truflux_server_new(w->l1, w->sp, so);
    truflux_options_free(so);
    assert_non_null(w->server);
    tf_callbacks_t scb = TRUFLUX_CALLBACKS_INIT;
    scb.user = w;
    scb.on_open = s_on_open;
    scb.on_close = s_on_close;
    scb.on_error = s_on_error;
    assert_int_equal(tf_server_set_callbacks(w->server, &scb), 0);

    /* The contract's refusals. */
    assert_int_equal(tf_server_add_loop(NULL, w->l2), TRUFLUX_EINVAL);
    assert_int_equal(tf_server_add_loop(w->server, NULL), TRUFLUX_EINVAL);
    assert_int_equal(tf_server_add_loop(w->server, w->l1), TRUFLUX_EINVAL);
    assert_int_equal(tf_server_add_loop(w->server, w->l2), 0);
    assert_int_equal(tf_server_add_loop(w->server, w->l2), TRUFLUX_EINVAL);

    /* Both server loops run on library threads before the server listens. */
    assert_int_equal(tf_loop_start(w->l1), 0);
    assert_int_equal(tf_loop_start(w->l2), 0);
    assert_int_equal(tf_server_listen(w->server, "tcp://127.0.0.1:0"), 0);
    assert_int_equal(tf_server_add_loop(w->server, w->lc), TRUFLUX_EINVAL); /* after listen */
    w->port = tf_server_port(w->server);
    assert_true(w->port > 0);
    assert_int_equal(tf_loop_start(w->lc), 0);
}

/* Connects clients [from, to) from the client loop; keys: NULL, or a static key per client. */
static void connect_keyed(world_t *w, int from, int to, int secure, uint8_t (*keys)[32])
{
    char url[64];
    tfs_url(url, sizeof url, w->port);
    for (int i = from; i < to; i++) {
        client_st_t *c = &w->cl[i];
        c->w = w;
        tf_options_t *co = tfs_options();
        if (secure)
            tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
        if (keys)
            assert_int_equal(tf_options_set_bytes(co, TRUFLUX_OPT_STATIC_KEY, keys[i], 32), 0);
        /* Created and connected from this thread while the loop runs: the client's own
         * calls are marshalled to its loop. */
        c->client = truflux_client_new(w->lc, w->cp, co);
        truflux_options_free(co);
        assert_non_null(c->client);
        tf_callbacks_t ccb = TRUFLUX_CALLBACKS_INIT;
        ccb.user = c;
        ccb.on_open = c_on_open;
        ccb.on_close = c_on_close;
        ccb.on_message = c_on_message;
        assert_int_equal(tf_client_set_callbacks(c->client, &ccb), 0);
        assert_int_equal(tf_client_connect(c->client, url), 0);
    }
}

static void connect_clients(world_t *w, int from, int to, int secure)
{
    connect_keyed(w, from, to, secure, NULL);
}

static int count_opened(world_t *w)
{
    int n = 0;
    for (int i = 0; i < NCLIENTS; i++)
        n += w->cl[i].opened;
    return n;
}

static int count_ends(world_t *w)
{
    int n = 0;
    for (int i = 0; i < NCLIENTS; i++)
        n += w->cl[i].end > 0;
    return n;
}

static int count_echoes(world_t *w)
{
    int n = 0;
    for (int i = 0; i < NCLIENTS; i++)
        n += w->cl[i].echoes;
    return n;
}

static int count_closes(world_t *w)
{
    int n = 0;
    for (int i = 0; i < NCLIENTS; i++)
        n += w->cl[i].closes;
    return n;
}

static int count_closed_with(world_t *w, int reason)
{
    int n = 0;
    for (int i = 0; i < NCLIENTS; i++)
        n += w->cl[i].closes > 0 && w->cl[i].close_reason == reason;
    return n;
}

/* Closes the clients (forced) and waits until the server has let go of them. */
static void drop_clients(world_t *w)
{
    int before = locked_int(w, &w->server_closes);
    pthread_mutex_lock(&w->mu);
    int n = w->nconns;
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < NCLIENTS; i++) {
        if (w->cl[i].client)
            truflux_client_free(w->cl[i].client); /* forced close, from this thread */
        w->cl[i].client = NULL;
    }
    WAIT_FOR(w, w->server_closes >= before + n);
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->nconns; i++)
        tf_conn_release(w->conns[i]);
    w->nconns = 0;
    w->opens_on[0] = w->opens_on[1] = 0;
    memset(w->cl, 0, sizeof w->cl);
    pthread_mutex_unlock(&w->mu);
}

/* Shuts down: close from this thread, then stop every loop and free. */
static void world_close_and_free(world_t *w, int expect_conns, int expect_clients)
{
    assert_int_equal(tf_server_close(w->server, TRUFLUX_CLOSE_GRACEFUL), 0);
    assert_int_equal(tf_server_close(w->server, TRUFLUX_CLOSE_GRACEFUL), TRUFLUX_ECLOSED);
    WAIT_FOR(w, w->done_reports >= 1 && w->server_closes >= expect_conns);
    pthread_mutex_lock(&w->mu);
    int closes = w->server_closes, done = w->done_reports, shut = 0;
    pthread_mutex_unlock(&w->mu);
    assert_int_equal(closes, expect_conns);
    assert_int_equal(done, 1);
    assert_int_equal(tf_server_count(w->server), 0);
    /* Every client heard the server go away. */
    WAIT_FOR(w, count_closed_with(w, TRUFLUX_ESHUTDOWN) >= expect_clients);
    pthread_mutex_lock(&w->mu);
    shut = count_closed_with(w, TRUFLUX_ESHUTDOWN);
    pthread_mutex_unlock(&w->mu);
    assert_int_equal(shut, expect_clients);

    assert_int_equal(tf_loop_stop(w->lc), 0);
    assert_int_equal(tf_loop_stop(w->l2), 0);
    assert_int_equal(tf_loop_stop(w->l1), 0);
    /* Reported once only, also after every loop ran what it still had. */
    assert_int_equal(w->done_reports, 1);
    assert_int_equal(w->bad_thread, 0);
    for (int i = 0; i < NCLIENTS; i++)
        if (w->cl[i].client)
            truflux_client_free(w->cl[i].client);
    truflux_server_free(w->server);
    if (w->after_free)
        w->after_free(w);
    for (int i = 0; i < w->nconns; i++)
        tf_conn_release(w->conns[i]);
    truflux_protocol_free(w->sp);
    truflux_protocol_free(w->cp);
    /* The loops are free to go only once the server (and its part on l2) is gone. */
    assert_int_equal(truflux_loop_free(w->lc), 0);
    assert_int_equal(truflux_loop_free(w->l2), 0);
    assert_int_equal(truflux_loop_free(w->l1), 0);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    g_w = NULL;
}

/* Connects NCLIENTS clients until both server loops have at least one of them. */
static void connect_spread(world_t *w, int secure)
{
    for (int round = 0; round < SPREAD_TRIES; round++) {
        connect_clients(w, 0, NCLIENTS, secure);
        WAIT_FOR(w, count_opened(w) == NCLIENTS && w->nconns == NCLIENTS);
        pthread_mutex_lock(&w->mu);
        int opened = count_opened(w), on0 = w->opens_on[0], on1 = w->opens_on[1];
        pthread_mutex_unlock(&w->mu);
        assert_int_equal(opened, NCLIENTS);
        assert_int_equal(on0 + on1, NCLIENTS);
        fprintf(stderr, "  round %d: %d connections on the first loop, %d on the second\n",
                round, on0, on1);
        if (on0 > 0 && on1 > 0)
            return;
        drop_clients(w); /* the kernel's hash put them all on one loop: new ports */
    }
    fail_msg("every connection went to one loop, %d times", SPREAD_TRIES);
}

static void run_spread(int secure)
{
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    world_init(w, 0, secure);
    connect_spread(w, secure);
    assert_int_equal(tf_server_count(w->server), NCLIENTS);
    if (secure) {
        pthread_mutex_lock(&w->mu);
        int sc = w->secure_conns, cs = 0;
        for (int i = 0; i < NCLIENTS; i++)
            cs += w->cl[i].secure;
        pthread_mutex_unlock(&w->mu);
        fprintf(stderr, "  secure: %d server connections, %d clients\n", sc, cs);
        assert_true(sc >= NCLIENTS); /* earlier rounds may add some */
        assert_int_equal(cs, NCLIENTS);
    }

    /* A broadcast from this thread (no loop) reaches every client once: "end", queued after
     * it on each connection's loop, marks when to count. */
    uint32_t bcast = (uint32_t)tf_protocol_id(w->sp, "bcast");
    uint32_t partial = (uint32_t)tf_protocol_id(w->sp, "partial");
    uint32_t end = (uint32_t)tf_protocol_id(w->sp, "end");
    assert_int_equal(tf_server_broadcast(w->server, bcast, TRUFLUX_TYPE_TEXT, "hi", 2, NULL, 0), 0);
    /* The exclude list works across loops: one connection of each loop left out. */
    tf_conn_t *ex[2] = { NULL, NULL };
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->nconns; i++)
        if (!ex[w->loop_of[i]])
            ex[w->loop_of[i]] = w->conns[i];
    pthread_mutex_unlock(&w->mu);
    assert_non_null(ex[0]);
    assert_non_null(ex[1]);
    assert_int_equal(tf_server_broadcast(w->server, partial, TRUFLUX_TYPE_EMPTY, NULL, 0, ex, 2), 0);
    assert_int_equal(tf_server_broadcast(w->server, end, TRUFLUX_TYPE_EMPTY, NULL, 0, NULL, 0), 0);
    WAIT_FOR(w, count_ends(w) == NCLIENTS);
    pthread_mutex_lock(&w->mu);
    int once = 0, got_partial = 0;
    for (int i = 0; i < NCLIENTS; i++) {
        once += w->cl[i].bcast == 1 && w->cl[i].end == 1;
        got_partial += w->cl[i].excluded_msg;
    }
    pthread_mutex_unlock(&w->mu);
    assert_int_equal(once, NCLIENTS);
    assert_int_equal(got_partial, NCLIENTS - 2);

    /* Echo on every client: both loops handle some. */
    uint32_t echo = (uint32_t)tf_protocol_id(w->cp, "echo");
    for (int i = 0; i < NCLIENTS; i++)
        assert_int_equal(tf_client_send(w->cl[i].client, echo, TRUFLUX_TYPE_TEXT, "e", 1), 0);
    WAIT_FOR(w, count_echoes(w) == NCLIENTS);
    pthread_mutex_lock(&w->mu);
    int echoed = count_echoes(w), e0 = w->echo_on[0], e1 = w->echo_on[1];
    pthread_mutex_unlock(&w->mu);
    assert_int_equal(echoed, NCLIENTS);
    assert_true(e0 > 0 && e1 > 0);
    assert_int_equal(e0 + e1, NCLIENTS);

    /* Stats sum both loops (asked from this thread while they run). */
    tf_server_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_int_equal(tf_server_stats(w->server, &st), 0);
    assert_int_equal(st.active, NCLIENTS);
    assert_true(st.opened >= NCLIENTS);
    assert_int_equal(st.accepted, st.opened); /* every socket opened, none refused */
    assert_int_equal(st.refused_limit, 0);
    assert_int_equal(st.msgs_in, NCLIENTS);
    assert_int_equal(st.msgs_out, 3 * NCLIENTS - 2 + NCLIENTS);

    world_close_and_free(w, (int)st.opened, NCLIENTS);
    free(w);
}

static void test_threads_server_loops_spread(void **state)
{
    (void)state;
    run_spread(0);
}

static void test_threads_server_loops_secure(void **state)
{
    (void)state;
    run_spread(1);
}

/* max_connections is one budget for both loops. */
static void test_threads_server_loops_limit(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    world_init(w, LIMIT, 0);
    connect_clients(w, 0, NCLIENTS, 0);
    WAIT_FOR(w, w->nconns == LIMIT && count_closed_with(w, TRUFLUX_ELIMIT) == NCLIENTS - LIMIT &&
                    w->limit_errors == NCLIENTS - LIMIT);
    pthread_mutex_lock(&w->mu);
    int admitted = w->nconns, refused = count_closed_with(w, TRUFLUX_ELIMIT);
    int errors = w->limit_errors, opened = count_opened(w);
    pthread_mutex_unlock(&w->mu);
    assert_int_equal(admitted, LIMIT);
    assert_int_equal(opened, LIMIT);
    assert_int_equal(refused, NCLIENTS - LIMIT);
    assert_int_equal(errors, NCLIENTS - LIMIT);
    assert_int_equal(tf_server_count(w->server), LIMIT);
    tf_server_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_int_equal(tf_server_stats(w->server, &st), 0);
    assert_int_equal(st.accepted, NCLIENTS);
    assert_int_equal(st.refused_limit, NCLIENTS - LIMIT);
    assert_int_equal(st.active, LIMIT);
    world_close_and_free(w, LIMIT, LIMIT);
    free(w);
}

/* Freed from another thread while both loops run, without a close first: every loop's part
 * goes, silently, and the clients see their connections drop. */
static void test_threads_server_loops_free_running(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    world_init(w, 0, 0);
    connect_clients(w, 0, NCLIENTS, 0);
    WAIT_FOR(w, w->nconns == NCLIENTS);
    assert_int_equal(locked_int(w, &w->nconns), NCLIENTS);
    truflux_server_free(w->server);
    w->server = NULL;
    WAIT_FOR(w, count_closes(w) == NCLIENTS);
    pthread_mutex_lock(&w->mu);
    int closed = count_closes(w), server_closes = w->server_closes, done = w->done_reports;
    pthread_mutex_unlock(&w->mu);
    assert_int_equal(closed, NCLIENTS);
    assert_int_equal(server_closes, 0); /* freed: no on_close */
    assert_int_equal(done, 0);
    assert_int_equal(tf_loop_stop(w->lc), 0);
    assert_int_equal(tf_loop_stop(w->l2), 0);
    assert_int_equal(tf_loop_stop(w->l1), 0);
    for (int i = 0; i < NCLIENTS; i++)
        truflux_client_free(w->cl[i].client);
    for (int i = 0; i < w->nconns; i++)
        tf_conn_release(w->conns[i]);
    truflux_protocol_free(w->sp);
    truflux_protocol_free(w->cp);
    assert_int_equal(truflux_loop_free(w->lc), 0);
    assert_int_equal(truflux_loop_free(w->l2), 0);
    assert_int_equal(truflux_loop_free(w->l1), 0);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    g_w = NULL;
    free(w);
}

/* An authoriser set after listening, while both loops accept, judges the connections of
 * both; removed again, it judges none of them. */
static void test_threads_server_loops_authorizer_after_listen(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    world_init(w, 0, 2);
    /* Even clients hold the accepted key, odd ones another. */
    static uint8_t keys[NCLIENTS][32];
    uint8_t good[32], bad[32], pub[32];
    assert_int_equal(tf_keypair_generate(good, w->good_pub), 0);
    assert_int_equal(tf_keypair_generate(bad, pub), 0);
    for (int i = 0; i < NCLIENTS; i++)
        memcpy(keys[i], i % 2 ? bad : good, 32);
    assert_int_equal(tf_server_set_authorizer(w->server, s_authorize, w), 0);

    int round = 0, judged0 = 0, judged1 = 0;
    for (; round < SPREAD_TRIES; round++) {
        connect_keyed(w, 0, NCLIENTS, 1, keys);
        WAIT_FOR(w, w->auth_on[0] + w->auth_on[1] == NCLIENTS && w->nconns == NCLIENTS / 2 &&
                        count_opened(w) == NCLIENTS / 2 &&
                        count_closed_with(w, TRUFLUX_EAUTH) == NCLIENTS / 2);
        pthread_mutex_lock(&w->mu);
        judged0 = w->auth_on[0];
        judged1 = w->auth_on[1];
        int refused = w->auth_refused, nconns = w->nconns, wrong = 0;
        int eauth = count_closed_with(w, TRUFLUX_EAUTH);
        for (int i = 0; i < NCLIENTS; i++)
            wrong += i % 2 ? w->cl[i].opened != 0 : w->cl[i].opened != 1;
        w->auth_on[0] = w->auth_on[1] = w->auth_refused = 0;
        pthread_mutex_unlock(&w->mu);
        fprintf(stderr, "  round %d: %d keys judged on the first loop, %d on the second\n",
                round, judged0, judged1);
        assert_int_equal(judged0 + judged1, NCLIENTS);
        assert_int_equal(refused, NCLIENTS / 2);
        assert_int_equal(nconns, NCLIENTS / 2);
        assert_int_equal(eauth, NCLIENTS / 2);
        assert_int_equal(wrong, 0);
        drop_clients(w);
        if (judged0 > 0 && judged1 > 0)
            break;
    }
    if (round == SPREAD_TRIES)
        fail_msg("every connection went to one loop, %d times", SPREAD_TRIES);

    /* Removed: every key passes on both loops, and the callback is not called. */
    assert_int_equal(tf_server_set_authorizer(w->server, NULL, NULL), 0);
    connect_keyed(w, 0, NCLIENTS, 1, keys);
    WAIT_FOR(w, count_opened(w) == NCLIENTS && w->nconns == NCLIENTS);
    pthread_mutex_lock(&w->mu);
    int opened = count_opened(w), on0 = w->opens_on[0], on1 = w->opens_on[1];
    int calls = w->auth_on[0] + w->auth_on[1];
    pthread_mutex_unlock(&w->mu);
    assert_int_equal(opened, NCLIENTS);
    assert_int_equal(calls, 0);
    fprintf(stderr, "  without the authoriser: %d opened on the first loop, %d on the second\n",
            on0, on1);

    tf_server_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_int_equal(tf_server_stats(w->server, &st), 0);
    world_close_and_free(w, (int)st.opened, NCLIENTS);
    free(w);
}

/* A listen that fails on the added loop says where. The added loop's socket belongs to
 * another user (this thread's file-system uid while the loop is not running: its part's
 * work then runs here), so the kernel keeps it out of the first loop's SO_REUSEPORT group. */
static void test_threads_server_loops_bind_detail(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        fprintf(stderr, "  needs root (a socket of another user)\n");
        skip();
    }
    tf_loop_t *l1 = truflux_loop_new(), *l2 = truflux_loop_new();
    assert_non_null(l1);
    assert_non_null(l2);
    tf_protocol_t *sp = make_proto(1);
    tf_server_t *server = truflux_server_new(l1, sp, NULL);
    assert_non_null(server);
    assert_int_equal(tf_server_add_loop(server, l2), 0);
    assert_int_equal(tf_loop_start(l1), 0);

    int old = setfsuid(65534);
    int rc = tf_server_listen(server, "tcp://127.0.0.1:0");
    setfsuid((uid_t)old);
    char detail[256];
    snprintf(detail, sizeof detail, "%s", tf_last_error_detail());
    fprintf(stderr, "  %s: %s\n", tf_errname(rc), detail);
    assert_int_equal(rc, TRUFLUX_EADDRINUSE);
    assert_int_equal(tf_last_error(), TRUFLUX_EADDRINUSE);
    /* The address as bound (the port the first loop got, not the URL's 0) and the loop. */
    const char *at = strstr(detail, "tcp://127.0.0.1:");
    assert_non_null(at);
    assert_true(atoi(at + strlen("tcp://127.0.0.1:")) > 0);
    assert_non_null(strstr(detail, "added loop 1"));
    assert_non_null(strstr(detail, "bind"));
    /* Neither loop kept the address. */
    assert_int_equal(tf_server_port(server), 0);

    /* With a socket of the same user the added loop joins, and both accept. */
    assert_int_equal(tf_server_listen(server, "tcp://127.0.0.1:0"), 0);
    assert_true(tf_server_port(server) > 0);
    assert_int_equal(tf_loop_stop(l1), 0);
    truflux_server_free(server);
    truflux_protocol_free(sp);
    assert_int_equal(truflux_loop_free(l2), 0);
    assert_int_equal(truflux_loop_free(l1), 0);
}

/* ---- files enabled after listening ------------------------------------------------ */

static void s_file_offer(void *user, tf_conn_t *conn, tf_file_t *file)
{
    world_t *w = (world_t *)user;
    (void)conn;
    int at = server_loop_index(w);
    pthread_mutex_lock(&w->mu);
    if (at < 0)
        w->bad_thread++;
    else
        w->offers_on[at]++;
    signal_locked(w);
    pthread_mutex_unlock(&w->mu);
    tf_file_decline(file);
}

static void c_file_end(void *user, tf_file_t *file, int status)
{
    client_st_t *c = (client_st_t *)user;
    (void)file;
    pthread_mutex_lock(&c->w->mu);
    c->file_ends++;
    c->declined += status == TRUFLUX_EDECLINED;
    signal_locked(c->w);
    pthread_mutex_unlock(&c->w->mu);
}

static int count_file_ends(world_t *w, int *declined)
{
    int n = 0, d = 0;
    for (int i = 0; i < NCLIENTS; i++) {
        n += w->cl[i].file_ends;
        d += w->cl[i].declined;
    }
    *declined = d;
    return n;
}

/* Every client offers the file once (from this thread) and the test waits for the ends. */
static void offer_round(world_t *w, const char *path, int round)
{
    for (int i = 0; i < NCLIENTS; i++)
        assert_int_equal(tf_file_send_path(tf_client_conn(w->cl[i].client), path, "f.txt", NULL), 0);
    int declined = 0;
    WAIT_FOR(w, count_file_ends(w, &declined) == NCLIENTS * round);
    pthread_mutex_lock(&w->mu);
    int ends = count_file_ends(w, &declined);
    pthread_mutex_unlock(&w->mu);
    assert_int_equal(ends, NCLIENTS * round);
    assert_int_equal(declined, NCLIENTS * round);
}

/* File callbacks set while both loops accept reach the connections of both (they announce
 * files and offers arrive on each loop); set to NULL, no loop calls them any more. */
static void test_threads_server_loops_files_after_listen(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    world_init(w, 0, 0);
    char path[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/tf_loops_offer_%d.txt", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("offered\n", f);
    fclose(f);

    tf_file_callbacks_t sf = TRUFLUX_FILE_CALLBACKS_INIT;
    sf.user = w;
    sf.on_offer = s_file_offer;
    assert_int_equal(tf_server_set_file_callbacks(w->server, &sf), 0);

    char url[64];
    tfs_url(url, sizeof url, w->port);
    for (int i = 0; i < NCLIENTS; i++) {
        client_st_t *c = &w->cl[i];
        c->w = w;
        c->client = truflux_client_new(w->lc, w->cp, NULL);
        assert_non_null(c->client);
        tf_callbacks_t ccb = TRUFLUX_CALLBACKS_INIT;
        ccb.user = c;
        ccb.on_open = c_on_open;
        ccb.on_close = c_on_close;
        tf_file_callbacks_t cf = TRUFLUX_FILE_CALLBACKS_INIT;
        cf.user = c;
        cf.on_end = c_file_end;
        assert_int_equal(tf_client_set_callbacks(c->client, &ccb), 0);
        assert_int_equal(tf_client_set_file_callbacks(c->client, &cf), 0);
        assert_int_equal(tf_client_connect(c->client, url), 0);
    }
    WAIT_FOR(w, count_opened(w) == NCLIENTS && w->nconns == NCLIENTS);
    assert_int_equal(locked_int(w, &w->nconns), NCLIENTS);

    offer_round(w, path, 1);
    pthread_mutex_lock(&w->mu);
    int o0 = w->offers_on[0], o1 = w->offers_on[1];
    pthread_mutex_unlock(&w->mu);
    fprintf(stderr, "  offers: %d on the first loop, %d on the second\n", o0, o1);
    assert_int_equal(o0 + o1, NCLIENTS);
    assert_true(o0 > 0 && o1 > 0);

    /* Removed: every offer is declined without a call, on both loops. */
    assert_int_equal(tf_server_set_file_callbacks(w->server, NULL), 0);
    offer_round(w, path, 2);
    pthread_mutex_lock(&w->mu);
    int after = w->offers_on[0] + w->offers_on[1];
    pthread_mutex_unlock(&w->mu);
    assert_int_equal(after, NCLIENTS);

    unlink(path);
    world_close_and_free(w, NCLIENTS, NCLIENTS);
    free(w);
}

/* An evhttp on the added loop, made and bound on that loop's thread. */
typedef struct http_on_loop {
    world_t *w;
    struct evhttp *http;
    int port, bind_rc, unbind_rc, step;
} http_on_loop_t;

static void http_make(void *arg)
{
    http_on_loop_t *h = (http_on_loop_t *)arg;
    world_t *w = h->w;
    int port = 0, rc = TRUFLUX_EIO;
    h->http = evhttp_new((struct event_base *)tf_loop_event_base(w->l2));
    struct evhttp_bound_socket *bs =
        h->http ? evhttp_bind_socket_with_handle(h->http, "127.0.0.1", 0) : NULL;
    if (bs) {
        struct sockaddr_in a;
        socklen_t len = sizeof a;
        if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&a, &len) == 0)
            port = ntohs(a.sin_port);
        rc = tf_server_bind_http(w->server, h->http, "/ws");
    }
    pthread_mutex_lock(&w->mu);
    h->port = port;
    h->bind_rc = rc;
    h->step = 1;
    signal_locked(w);
    pthread_mutex_unlock(&w->mu);
}

static void http_unbind(void *arg)
{
    http_on_loop_t *h = (http_on_loop_t *)arg;
    int rc = tf_server_unbind_http(h->w->server, h->http, "/ws");
    pthread_mutex_lock(&h->w->mu);
    h->unbind_rc = rc;
    h->step = 2;
    signal_locked(h->w);
    pthread_mutex_unlock(&h->w->mu);
}

static void http_free_after(world_t *w)
{
    http_on_loop_t *h = (http_on_loop_t *)w->extra;
    evhttp_free(h->http); /* its loop no longer runs */
}

/* tf_server_bind_http from the added loop's thread binds that loop's part: the WebSocket
 * connections the evhttp upgrades open (and call back) on the added loop. */
static void test_threads_server_loops_http_on_added_loop(void **state)
{
    (void)state;
    enum { NWS = 6 };
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    world_init(w, 0, 0);
    http_on_loop_t h;
    memset(&h, 0, sizeof h);
    h.w = w;
    assert_int_equal(tf_loop_call(w->l2, http_make, &h), 0);
    WAIT_FOR(w, h.step == 1);
    assert_int_equal(locked_int(w, &h.step), 1);
    assert_int_equal(h.bind_rc, 0);
    assert_true(h.port > 0);
    w->extra = &h;
    w->after_free = http_free_after;

    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", h.port);
    for (int i = 0; i < NWS; i++) {
        client_st_t *c = &w->cl[i];
        c->w = w;
        c->client = truflux_client_new(w->lc, w->cp, NULL);
        assert_non_null(c->client);
        tf_callbacks_t ccb = TRUFLUX_CALLBACKS_INIT;
        ccb.user = c;
        ccb.on_open = c_on_open;
        ccb.on_close = c_on_close;
        ccb.on_message = c_on_message;
        assert_int_equal(tf_client_set_callbacks(c->client, &ccb), 0);
        assert_int_equal(tf_client_connect(c->client, url), 0);
    }
    WAIT_FOR(w, count_opened(w) == NWS && w->nconns == NWS);
    uint32_t echo = (uint32_t)tf_protocol_id(w->cp, "echo");
    for (int i = 0; i < NWS; i++)
        assert_int_equal(tf_client_send(w->cl[i].client, echo, TRUFLUX_TYPE_TEXT, "e", 1), 0);
    WAIT_FOR(w, count_echoes(w) == NWS);
    pthread_mutex_lock(&w->mu);
    int opened = count_opened(w), on0 = w->opens_on[0], on1 = w->opens_on[1];
    int echoes = count_echoes(w), e1 = w->echo_on[1];
    pthread_mutex_unlock(&w->mu);
    assert_int_equal(opened, NWS);
    assert_int_equal(on0, 0);
    assert_int_equal(on1, NWS);
    assert_int_equal(echoes, NWS);
    assert_int_equal(e1, NWS);

    /* Unbound on the same thread; the connections stay until the server closes them. */
    assert_int_equal(tf_loop_call(w->l2, http_unbind, &h), 0);
    WAIT_FOR(w, h.step == 2);
    assert_int_equal(locked_int(w, &h.step), 2);
    assert_int_equal(h.unbind_rc, 0);
    assert_int_equal(tf_server_count(w->server), NWS);
    world_close_and_free(w, NWS, NWS);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_server_loops_spread),
        cmocka_unit_test(test_threads_server_loops_secure),
        cmocka_unit_test(test_threads_server_loops_limit),
        cmocka_unit_test(test_threads_server_loops_free_running),
        cmocka_unit_test(test_threads_server_loops_authorizer_after_listen),
        cmocka_unit_test(test_threads_server_loops_bind_detail),
        cmocka_unit_test(test_threads_server_loops_files_after_listen),
        cmocka_unit_test(test_threads_server_loops_http_on_added_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
