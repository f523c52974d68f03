/* tests/test_threads_server_loops.c (label: threads, run under TSan): one server spread over
 * two loops (tf_server_add_loop), each run by a library thread, and clients on a third loop:
 * both loops accept, a broadcast reaches every client once, count and stats sum the loops,
 * max_connections limits the total, echo works on each loop, close reports done once.
 *
 * Callbacks run on three threads while the test thread waits: everything they share with
 * the test is read and written under `mu`. */
#include "support/tfsupport.h"

#include <pthread.h>

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
    tf_conn_t *conns[NCLIENTS];      /* retained in on_open */
    int loop_of[NCLIENTS];
    int nconns;
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

/* Connects clients [from, to) from the client loop. */
static void connect_clients(world_t *w, int from, int to, int secure)
{
    char url[64];
    tfs_url(url, sizeof url, w->port);
    for (int i = from; i < to; i++) {
        client_st_t *c = &w->cl[i];
        c->w = w;
        tf_options_t *co = tfs_options();
        if (secure)
            tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_server_loops_spread),
        cmocka_unit_test(test_threads_server_loops_secure),
        cmocka_unit_test(test_threads_server_loops_limit),
        cmocka_unit_test(test_threads_server_loops_free_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
