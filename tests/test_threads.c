/* tests/test_threads.c (label: threads, run under TSan): loops on their own thread, sending
 * and closing from other threads, tf_loop_call, tf_loop_stop, and a loop attached to a
 * caller-owned event_base. Public API plus libevent for the attached loop.
 *
 * Callbacks here run on the loop's thread while the test thread waits: everything they share
 * with the test goes through `sync_t` (a mutex and a condition variable), never a plain
 * variable read in a polling loop. */
#include "support/tfsupport.h"

#include <pthread.h>
#include <event2/event.h>

#define WAIT_MS 60000 /* TSan is slow; a passing run returns as soon as its condition holds */

/* ------------------------------------------------------------------------------------ */
/* Cross-thread waiting                                                                  */

typedef struct sync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
} sync_t;

static void sync_init(sync_t *s)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, &a);
    pthread_condattr_destroy(&a);
}

static void sync_destroy(sync_t *s)
{
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

/* Waits (mutex held by the caller) until the condition variable is signalled or the
 * deadline passes. Returns 0 on timeout. */
static int sync_wait_until(sync_t *s, const struct timespec *deadline)
{
    return pthread_cond_timedwait(&s->cv, &s->mu, deadline) != ETIMEDOUT;
}

static struct timespec deadline_in(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Waits until `cond` (read under the mutex) holds, or WAIT_MS. */
#define SYNC_WAIT(s, cond)                                                              \
    do {                                                                                \
        struct timespec dl_ = deadline_in(WAIT_MS);                                     \
        pthread_mutex_lock(&(s)->mu);                                                   \
        while (!(cond) && sync_wait_until((s), &dl_)) {                                 \
        }                                                                               \
        pthread_mutex_unlock(&(s)->mu);                                                 \
    } while (0)

/* Reads an int under the mutex. */
static int sync_read(sync_t *s, const int *v)
{
    pthread_mutex_lock(&s->mu);
    int x = *v;
    pthread_mutex_unlock(&s->mu);
    return x;
}

/* ------------------------------------------------------------------------------------ */
/* Shared state of a loop-thread server and client                                       */

#define NTHREADS 4
#define PER_THREAD 5000

typedef struct shared {
    sync_t sync;
    int client_open, client_closes, client_close_reason, client_close_remote;
    int server_opens, server_closes, server_close_reason, server_close_remote;
    tf_conn_t *server_conn; /* retained in on_open */
    /* the numbered messages */
    int received, bad, out_of_order;
    uint32_t next[NTHREADS];
    int per_thread[NTHREADS];
    int echoes;
} shared_t;

static shared_t *g_sh;

static void c_on_open(void *user, tf_conn_t *conn)
{
    shared_t *sh = (shared_t *)user;
    (void)conn;
    pthread_mutex_lock(&sh->sync.mu);
    sh->client_open++;
    pthread_cond_broadcast(&sh->sync.cv);
    pthread_mutex_unlock(&sh->sync.mu);
}

static void c_on_close(void *user, tf_conn_t *conn, int reason, int remote)
{
    shared_t *sh = (shared_t *)user;
    (void)conn;
    pthread_mutex_lock(&sh->sync.mu);
    sh->client_closes++;
    sh->client_close_reason = reason;
    sh->client_close_remote = remote;
    pthread_cond_broadcast(&sh->sync.cv);
    pthread_mutex_unlock(&sh->sync.mu);
}

static void c_on_message(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    shared_t *sh = (shared_t *)user;
    (void)conn;
    (void)m;
    pthread_mutex_lock(&sh->sync.mu);
    sh->echoes++;
    pthread_cond_broadcast(&sh->sync.cv);
    pthread_mutex_unlock(&sh->sync.mu);
}

static void s_on_open(void *user, tf_conn_t *conn)
{
    shared_t *sh = (shared_t *)user;
    pthread_mutex_lock(&sh->sync.mu);
    if (!sh->server_conn)
        sh->server_conn = tf_conn_retain(conn);
    sh->server_opens++;
    pthread_cond_broadcast(&sh->sync.cv);
    pthread_mutex_unlock(&sh->sync.mu);
}

static void s_on_close(void *user, tf_conn_t *conn, int reason, int remote)
{
    shared_t *sh = (shared_t *)user;
    if (!conn)
        return;
    pthread_mutex_lock(&sh->sync.mu);
    sh->server_closes++;
    sh->server_close_reason = reason;
    sh->server_close_remote = remote;
    pthread_cond_broadcast(&sh->sync.cv);
    pthread_mutex_unlock(&sh->sync.mu);
}

/* Checks every numbered message: known thread, next in that thread's sequence. */
static void h_num(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)user;
    (void)conn;
    shared_t *sh = g_sh;
    pthread_mutex_lock(&sh->sync.mu);
    if (m->len != 8) {
        sh->bad++;
    } else {
        uint32_t t = tfs_get_u32((const uint8_t *)m->data);
        uint32_t seq = tfs_get_u32((const uint8_t *)m->data + 4);
        if (t >= NTHREADS) {
            sh->bad++;
        } else {
            if (seq != sh->next[t])
                sh->out_of_order++;
            sh->next[t] = seq + 1;
            sh->per_thread[t]++;
        }
    }
    sh->received++;
    if (sh->received == NTHREADS * PER_THREAD)
        pthread_cond_broadcast(&sh->sync.cv);
    pthread_mutex_unlock(&sh->sync.mu);
}

static void h_echo(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)user;
    tf_send(conn, m->id, m->type, m->data, m->len);
}

static tf_protocol_t *make_proto(int server)
{
    tf_protocol_t *p = truflux_protocol_new();
    assert_non_null(p);
    assert_true(tf_protocol_add(p, "num", TRUFLUX_TYPES_BINARY, 8) >= 0);
    assert_true(tf_protocol_add(p, "echo", 0, 0) >= 0);
    if (server) {
        assert_int_equal(tf_protocol_on(p, "num", h_num, NULL), 0);
        assert_int_equal(tf_protocol_on(p, "echo", h_echo, NULL), 0);
    }
    return p;
}

/* A server and a connected client on a loop the library runs on its own thread. */
typedef struct world {
    tf_loop_t *loop;
    tf_protocol_t *sp, *cp;
    tf_server_t *server;
    tf_client_t *client;
    shared_t sh;
} world_t;

static void world_start(world_t *w, const tf_options_t *copts)
{
    memset(w, 0, sizeof *w);
    sync_init(&w->sh.sync);
    g_sh = &w->sh;
    w->loop = truflux_loop_new();
    assert_non_null(w->loop);
    w->sp = make_proto(1);
    w->cp = make_proto(0);

    /* Everything is created before the loop runs, as the API asks. */
    w->server = truflux_server_new(w->loop, w->sp, NULL);
    assert_non_null(w->server);
    tf_callbacks_t scb = TRUFLUX_CALLBACKS_INIT;
    scb.user = &w->sh;
    scb.on_open = s_on_open;
    scb.on_close = s_on_close;
    assert_int_equal(tf_server_set_callbacks(w->server, &scb), 0);
    assert_int_equal(tf_server_listen(w->server, "tcp://127.0.0.1:0"), 0);

    w->client = truflux_client_new(w->loop, w->cp, copts);
    assert_non_null(w->client);
    tf_callbacks_t ccb = TRUFLUX_CALLBACKS_INIT;
    ccb.user = &w->sh;
    ccb.on_open = c_on_open;
    ccb.on_close = c_on_close;
    ccb.on_message = c_on_message;
    assert_int_equal(tf_client_set_callbacks(w->client, &ccb), 0);
    char url[64];
    assert_int_equal(tf_client_connect(w->client, tfs_url(url, sizeof url,
                                                          tf_server_port(w->server))), 0);

    assert_int_equal(tf_loop_start(w->loop), 0);
    SYNC_WAIT(&w->sh.sync, w->sh.client_open == 1 && w->sh.server_opens == 1);
    assert_int_equal(sync_read(&w->sh.sync, &w->sh.client_open), 1);
    assert_int_equal(sync_read(&w->sh.sync, &w->sh.server_opens), 1);
}

static void world_free(world_t *w)
{
    assert_int_equal(tf_loop_stop(w->loop), 0);
    /* The loop's thread has ended: the rest is single-threaded. */
    truflux_client_free(w->client);
    truflux_server_free(w->server);
    if (w->sh.server_conn)
        tf_conn_release(w->sh.server_conn);
    truflux_protocol_free(w->sp);
    truflux_protocol_free(w->cp);
    assert_int_equal(truflux_loop_free(w->loop), 0);
    sync_destroy(&w->sh.sync);
    g_sh = NULL;
}

/* ------------------------------------------------------------------------------------ */
/* Many senders on one connection                                                        */

typedef struct sender {
    pthread_t th;
    uint32_t index;
    tf_conn_t *conn;
    uint32_t id;
    int errors, last_error, eagains;
    int timed_out;
} sender_t;

static void *sender_main(void *arg)
{
    sender_t *s = (sender_t *)arg;
    int64_t deadline = tfs_now_ms() + 60000;
    for (uint32_t seq = 0; seq < PER_THREAD; seq++) {
        uint8_t b[8];
        uint32_t v[2] = { s->index, seq };
        for (int k = 0; k < 2; k++) {
            b[4 * k] = (uint8_t)(v[k] >> 24);
            b[4 * k + 1] = (uint8_t)(v[k] >> 16);
            b[4 * k + 2] = (uint8_t)(v[k] >> 8);
            b[4 * k + 3] = (uint8_t)v[k];
        }
        for (;;) {
            int rc = tf_send(s->conn, s->id, TRUFLUX_TYPE_BINARY, b, sizeof b);
            if (rc == 0)
                break;
            if (rc != TRUFLUX_EAGAIN) {
                s->errors++;
                s->last_error = rc;
                return NULL;
            }
            s->eagains++;
            if (tfs_now_ms() > deadline) {
                s->timed_out = 1;
                return NULL;
            }
            struct timespec ts = { 0, 200000 }; /* backpressure: retry after a short pause */
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

static void test_concurrent_senders(void **state)
{
    (void)state;
    world_t w;
    tf_options_t *co = tfs_options();
    /* A small queue, so that EAGAIN and on_drain happen while the threads race. */
    tfs_opt(co, TRUFLUX_OPT_SEND_HWM, 16 * 1024);
    tfs_opt(co, TRUFLUX_OPT_SEND_LWM, 4 * 1024);
    world_start(&w, co);
    truflux_options_free(co);

    tf_conn_t *conn = tf_conn_retain(tf_client_conn(w.client));
    assert_non_null(conn);
    sender_t s[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].index = (uint32_t)i;
        s[i].conn = conn;
        s[i].id = (uint32_t)tf_protocol_id(w.cp, "num");
        assert_int_equal(pthread_create(&s[i].th, NULL, sender_main, &s[i]), 0);
    }
    int eagains = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(s[i].th, NULL);
        if (s[i].errors)
            fprintf(stderr, "  sender %d: %s\n", i, tf_errname(s[i].last_error));
        assert_int_equal(s[i].errors, 0);
        assert_int_equal(s[i].timed_out, 0);
        eagains += s[i].eagains;
    }
    fprintf(stderr, "  %d EAGAIN retries over %d sends\n", eagains, NTHREADS * PER_THREAD);

    SYNC_WAIT(&w.sh.sync, w.sh.received == NTHREADS * PER_THREAD);
    pthread_mutex_lock(&w.sh.sync.mu);
    int received = w.sh.received, bad = w.sh.bad, ooo = w.sh.out_of_order;
    int per[NTHREADS];
    memcpy(per, w.sh.per_thread, sizeof per);
    pthread_mutex_unlock(&w.sh.sync.mu);
    assert_int_equal(received, NTHREADS * PER_THREAD);
    assert_int_equal(bad, 0);
    assert_int_equal(ooo, 0);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(per[i], PER_THREAD);

    tf_conn_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_int_equal(tf_conn_stats(conn, &st), 0); /* any thread */
    assert_int_equal(st.msgs_out, NTHREADS * PER_THREAD);
    tf_conn_release(conn);
    world_free(&w);
}

/* ------------------------------------------------------------------------------------ */
/* tf_loop_call                                                                          */

#define NCALLS 500

typedef struct calls {
    sync_t sync;
    tf_loop_t *loop;
    pthread_t main_thread;
    int order[2 * NCALLS + 100];
    int n, wrong_thread;
} calls_t;

typedef struct call_arg {
    calls_t *c;
    int value;
} call_arg_t;

static void record_call(void *arg)
{
    call_arg_t *a = (call_arg_t *)arg;
    calls_t *c = a->c;
    int in = tf_loop_in_thread(c->loop);
    pthread_mutex_lock(&c->sync.mu);
    if (!in || pthread_equal(pthread_self(), c->main_thread))
        c->wrong_thread++;
    if (c->n < (int)(sizeof c->order / sizeof c->order[0]))
        c->order[c->n] = a->value;
    c->n++;
    pthread_cond_broadcast(&c->sync.cv);
    pthread_mutex_unlock(&c->sync.mu);
}

typedef struct caller {
    pthread_t th;
    calls_t *c;
    call_arg_t args[NCALLS];
    int base, errors;
} caller_t;

static void *caller_main(void *arg)
{
    caller_t *k = (caller_t *)arg;
    for (int i = 0; i < NCALLS; i++) {
        k->args[i].c = k->c;
        k->args[i].value = k->base + i;
        if (tf_loop_call(k->c->loop, record_call, &k->args[i]) != 0)
            k->errors++;
    }
    return NULL;
}

static void test_loop_call_from_other_threads(void **state)
{
    (void)state;
    calls_t c;
    memset(&c, 0, sizeof c);
    sync_init(&c.sync);
    c.main_thread = pthread_self();
    c.loop = truflux_loop_new();
    assert_non_null(c.loop);
    assert_int_equal(tf_loop_start(c.loop), 0);
    assert_int_equal(tf_loop_in_thread(c.loop), 0);

    caller_t k[2];
    for (int i = 0; i < 2; i++) {
        memset(&k[i], 0, sizeof k[i]);
        k[i].c = &c;
        k[i].base = i * 10000;
        assert_int_equal(pthread_create(&k[i].th, NULL, caller_main, &k[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(k[i].th, NULL);
        assert_int_equal(k[i].errors, 0);
    }
    SYNC_WAIT(&c.sync, c.n == 2 * NCALLS);
    assert_int_equal(tf_loop_stop(c.loop), 0);

    /* Each caller's functions ran once each, in its call order, on the loop's thread. */
    assert_int_equal(c.n, 2 * NCALLS);
    assert_int_equal(c.wrong_thread, 0);
    int next[2] = { 0, 10000 };
    for (int i = 0; i < c.n; i++) {
        int who = c.order[i] >= 10000;
        assert_int_equal(c.order[i], next[who]);
        next[who]++;
    }
    assert_int_equal(next[0], NCALLS);
    assert_int_equal(next[1], 10000 + NCALLS);
    assert_int_equal(truflux_loop_free(c.loop), 0);
    sync_destroy(&c.sync);
}

/* ------------------------------------------------------------------------------------ */
/* Closing a connection from another thread                                              */

static void test_conn_close_from_other_thread(void **state)
{
    (void)state;
    world_t w;
    world_start(&w, NULL);
    pthread_mutex_lock(&w.sh.sync.mu);
    tf_conn_t *sc = w.sh.server_conn;
    pthread_mutex_unlock(&w.sh.sync.mu);
    assert_non_null(sc);

    assert_int_equal(tf_conn_close(sc, TRUFLUX_CLOSE_GRACEFUL, 0), 0);
    SYNC_WAIT(&w.sh.sync, w.sh.client_closes == 1 && w.sh.server_closes == 1);
    pthread_mutex_lock(&w.sh.sync.mu);
    int cc = w.sh.client_closes, cr = w.sh.client_close_reason, crm = w.sh.client_close_remote;
    int sc_n = w.sh.server_closes, sr = w.sh.server_close_reason, srm = w.sh.server_close_remote;
    pthread_mutex_unlock(&w.sh.sync.mu);
    assert_int_equal(cc, 1);
    assert_int_equal(cr, 0);
    assert_int_equal(crm, 1);
    assert_int_equal(sc_n, 1);
    assert_int_equal(sr, 0);
    assert_int_equal(srm, 0);
    assert_int_equal(tf_conn_is_open(sc), 0);
    assert_int_equal(tf_conn_close(sc, TRUFLUX_CLOSE_GRACEFUL, 0), TRUFLUX_ECLOSED);
    assert_int_equal(tf_send_name(sc, "echo", TRUFLUX_TYPE_EMPTY, NULL, 0), TRUFLUX_ECLOSED);
    assert_int_equal(tf_server_count(w.server), 0);
    world_free(&w);
}

static void test_send_and_echo_across_threads(void **state)
{
    (void)state;
    world_t w;
    world_start(&w, NULL);
    for (int i = 0; i < 100; i++)
        assert_int_equal(tf_client_send_name(w.client, "echo", TRUFLUX_TYPE_TEXT, "x", 1), 0);
    SYNC_WAIT(&w.sh.sync, w.sh.echoes == 100);
    assert_int_equal(sync_read(&w.sh.sync, &w.sh.echoes), 100);
    /* tf_server_close from another thread: the client sees the shutdown. */
    assert_int_equal(tf_server_close(w.server, TRUFLUX_CLOSE_GRACEFUL), 0);
    SYNC_WAIT(&w.sh.sync, w.sh.client_closes == 1);
    pthread_mutex_lock(&w.sh.sync.mu);
    int cc = w.sh.client_closes, cr = w.sh.client_close_reason;
    pthread_mutex_unlock(&w.sh.sync.mu);
    assert_int_equal(cc, 1);
    assert_int_equal(cr, TRUFLUX_ESHUTDOWN);
    world_free(&w);
}

/* ------------------------------------------------------------------------------------ */
/* tf_loop_stop                                                                          */

/* Thread-specific data whose destructor runs when the loop's thread exits. */
static pthread_key_t g_key;
static int g_thread_gone;      /* written by the destructor, read after tf_loop_stop */
static int g_marked;
static sync_t g_stop_sync;

static void on_thread_exit(void *v)
{
    (void)v;
    pthread_mutex_lock(&g_stop_sync.mu);
    g_thread_gone = 1;
    pthread_mutex_unlock(&g_stop_sync.mu);
}

static void mark_thread(void *arg)
{
    (void)arg;
    pthread_setspecific(g_key, &g_key);
    pthread_mutex_lock(&g_stop_sync.mu);
    g_marked = 1;
    pthread_cond_broadcast(&g_stop_sync.cv);
    pthread_mutex_unlock(&g_stop_sync.mu);
}

static void test_loop_stop_joins_thread(void **state)
{
    (void)state;
    sync_init(&g_stop_sync);
    assert_int_equal(pthread_key_create(&g_key, on_thread_exit), 0);
    g_thread_gone = 0;
    g_marked = 0;
    tf_loop_t *loop = truflux_loop_new();
    assert_int_equal(tf_loop_start(loop), 0);
    assert_int_equal(tf_loop_start(loop), TRUFLUX_EBUSY);
    assert_int_equal(tf_loop_run_once(loop, 0), TRUFLUX_EBUSY);
    assert_int_equal(tf_loop_call(loop, mark_thread, NULL), 0);
    SYNC_WAIT(&g_stop_sync, g_marked);
    assert_int_equal(sync_read(&g_stop_sync, &g_marked), 1);

    assert_int_equal(tf_loop_stop(loop), 0);
    /* tf_loop_stop returned: the thread has exited (its TSD destructor ran). */
    assert_int_equal(sync_read(&g_stop_sync, &g_thread_gone), 1);
    assert_int_equal(tf_loop_stop(loop), 0); /* idempotent */
    assert_int_equal(tf_loop_run_once(loop, 0), 0); /* no longer running anywhere */

    /* It can be started again, and freeing stops and joins a running thread. */
    g_thread_gone = 0;
    assert_int_equal(tf_loop_start(loop), 0);
    assert_int_equal(truflux_loop_free(loop), 0);
    pthread_key_delete(g_key);
    sync_destroy(&g_stop_sync);
}

/* ------------------------------------------------------------------------------------ */
/* A loop attached to the caller's event_base                                            */

static void tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* Runs the caller's base (never longer than a 10 ms tick) until `cond` or `ms`. */
#define BASE_WAIT(base, cond, ms)                                                       \
    do {                                                                                \
        int64_t dl_ = tfs_now_ms() + (ms);                                              \
        while (!(cond) && tfs_now_ms() < dl_)                                           \
            event_base_loop((base), EVLOOP_ONCE);                                       \
    } while (0)

static void test_attached_event_base(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    assert_non_null(base);
    struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = { 0, 10000 };
    event_add(t, &tv);

    tf_loop_t *loop = truflux_loop_new_from_base(base);
    assert_non_null(loop);
    assert_ptr_equal(tf_loop_event_base(loop), base);
    assert_int_equal(tf_loop_run(loop), TRUFLUX_ENOTSUP);
    assert_int_equal(tf_loop_start(loop), TRUFLUX_ENOTSUP);
    assert_int_equal(tf_loop_run_once(loop, 0), TRUFLUX_ENOTSUP);

    tf_protocol_t *sp = make_proto(1), *cp = make_proto(0);
    tfs_rec_t srec, crec;
    tfs_rec_init(&srec, "server");
    tfs_rec_init(&crec, "client");
    tf_server_t *s = truflux_server_new(loop, sp, NULL);
    tf_callbacks_t scb = tfs_rec_callbacks(&srec);
    assert_int_equal(tf_server_set_callbacks(s, &scb), 0);
    assert_int_equal(tf_server_listen(s, "tcp://127.0.0.1:0"), 0);
    tf_client_t *c = truflux_client_new(loop, cp, NULL);
    tf_callbacks_t ccb = tfs_rec_callbacks(&crec);
    assert_int_equal(tf_client_set_callbacks(c, &ccb), 0);
    char url[64];
    assert_int_equal(tf_client_connect(c, tfs_url(url, sizeof url, tf_server_port(s))), 0);
    BASE_WAIT(base, crec.opens == 1 && srec.opens == 1, TFS_WAIT_MS);
    assert_int_equal(crec.opens, 1);
    assert_int_equal(srec.opens, 1);

    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_TEXT, "attached", 8), 0);
    BASE_WAIT(base, crec.nmsgs == 1, TFS_WAIT_MS);
    assert_int_equal(crec.nmsgs, 1);
    assert_memory_equal(crec.msgs[0].data, "attached", 8);

    truflux_client_free(c);
    truflux_server_free(s);
    tfs_rec_free(&crec);
    tfs_rec_free(&srec);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(loop), 0);
    /* The base is still ours and still works. */
    assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 0);
    event_free(t);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_senders),
        cmocka_unit_test(test_loop_call_from_other_threads),
        cmocka_unit_test(test_conn_close_from_other_thread),
        cmocka_unit_test(test_send_and_echo_across_threads),
        cmocka_unit_test(test_loop_stop_joins_thread),
        cmocka_unit_test(test_attached_event_base),
    };
    return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
