/* tests/test_threads_queue.c (label: threads, run under TSan): the event queue across threads.
 * A loop on the library's thread produces events; sender threads call tf_client_send; two
 * consumer threads pop concurrently (one blocked in tf_queue_wait, one in poll(2) on the
 * descriptor); tf_queue_wake from another thread ends a blocked wait. Public API only.
 *
 * What the threads share goes through one mutex; the only waits are tf_queue_wait, poll and
 * pthread_join, each bounded. */
#include "support/tfsupport.h"

#include <pthread.h>

#define WAIT_MS 60000 /* TSan is slow; a passing run returns as soon as its condition holds */
#define NSENDERS 4
#define PER_SENDER 3000
#define TOTAL (NSENDERS * PER_SENDER)

static tf_protocol_t *make_proto(void)
{
    tf_protocol_t *p = truflux_protocol_new();
    assert_non_null(p);
    assert_true(tf_protocol_add(p, "seq", TRUFLUX_TYPES_BINARY, 8) >= 0);
    return p;
}

static uint64_t q_events(const tf_queue_t *q)
{
    tf_queue_stats_t s;
    s.size = sizeof s;
    tf_queue_stats(q, &s);
    return s.events;
}

/* Pops until an event of `kind` comes, waiting in tf_queue_wait (bounded). Other kinds are
 * freed. Returns the event or NULL on timeout. */
static tf_event_t *wait_kind(tf_queue_t *q, int kind, int ms)
{
    int64_t deadline = tfs_now_ms() + ms;
    for (;;) {
        tf_event_t *ev = tf_queue_pop(q);
        if (ev && tf_event_kind(ev) == kind)
            return ev;
        truflux_event_free(ev);
        if (ev)
            continue;
        int64_t left = deadline - tfs_now_ms();
        if (left <= 0)
            return NULL;
        tf_queue_wait(q, (int)left);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Senders and consumers                                                                 */

typedef struct sender {
    pthread_t th;
    tf_client_t *client;
    uint32_t index;
    int failures;
} sender_t;

static void *sender_main(void *arg)
{
    sender_t *s = (sender_t *)arg;
    for (uint32_t i = 0; i < PER_SENDER; i++) {
        uint8_t b[8];
        uint32_t who = s->index, seq = i;
        memcpy(b, &who, 4);
        memcpy(b + 4, &seq, 4);
        if (tf_client_send_name(s->client, "seq", TRUFLUX_TYPE_BINARY, b, sizeof b) != 0)
            s->failures++;
    }
    return NULL;
}

typedef struct board {
    pthread_mutex_t mu;
    int taken;                              /* messages popped by all consumers */
    unsigned char seen[NSENDERS][PER_SENDER];
    int duplicates, malformed;
    int done;
} board_t;

typedef struct consumer {
    pthread_t th;
    tf_queue_t *q;
    board_t *board;
    int use_poll;   /* wait on the descriptor with poll(2) instead of tf_queue_wait */
    int popped;     /* messages this consumer took */
    int other;      /* non-message events */
    uint32_t last_seq[NSENDERS]; /* order per sender as this consumer saw it */
    int reordered;
} consumer_t;

static void record(consumer_t *c, const tf_event_t *ev)
{
    tf_message_t m;
    uint32_t who, seq;
    board_t *b = c->board;
    if (tf_event_message(ev, &m) != 0 || m.len != 8) {
        pthread_mutex_lock(&b->mu);
        b->malformed++;
        pthread_mutex_unlock(&b->mu);
        return;
    }
    memcpy(&who, m.data, 4);
    memcpy(&seq, (const uint8_t *)m.data + 4, 4);
    pthread_mutex_lock(&b->mu);
    if (who >= NSENDERS || seq >= PER_SENDER) {
        b->malformed++;
    } else {
        if (b->seen[who][seq])
            b->duplicates++;
        b->seen[who][seq] = 1;
    }
    b->taken++;
    if (b->taken == TOTAL)
        b->done = 1;
    pthread_mutex_unlock(&b->mu);
    /* One queue keeps each sender's order; one consumer sees a subsequence of it. */
    if (who < NSENDERS) {
        if (c->popped > 0 && c->last_seq[who] != UINT32_MAX && seq <= c->last_seq[who])
            c->reordered++;
        c->last_seq[who] = seq;
    }
    c->popped++;
}

static void *consumer_main(void *arg)
{
    consumer_t *c = (consumer_t *)arg;
    int64_t deadline = tfs_now_ms() + WAIT_MS;
    for (int i = 0; i < NSENDERS; i++)
        c->last_seq[i] = UINT32_MAX;
    for (;;) {
        pthread_mutex_lock(&c->board->mu);
        int done = c->board->done;
        pthread_mutex_unlock(&c->board->mu);
        if (done || tfs_now_ms() > deadline)
            break;
        tf_event_t *ev;
        while ((ev = tf_queue_pop(c->q)) != NULL) {
            if (tf_event_kind(ev) == TRUFLUX_EVENT_MESSAGE)
                record(c, ev);
            else
                c->other++;
            truflux_event_free(ev);
        }
        if (c->use_poll) {
            struct pollfd p = { tf_queue_fd(c->q), POLLIN, 0 };
            poll(&p, 1, 100);
        } else {
            tf_queue_wait(c->q, 100);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------ */

/* Messages from four sender threads through the loop's thread into one queue, taken by two
 * consumer threads at once: each message exactly once, each sender's order kept. */
static void test_concurrent_producers_and_consumers(void **state)
{
    (void)state;
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *proto = make_proto();
    tf_queue_t *sq = truflux_queue_new(0), *cq = truflux_queue_new(0);
    assert_non_null(sq);
    assert_non_null(cq);
    tf_server_t *server = truflux_server_new(loop, proto, NULL);
    tf_callbacks_t cb = TRUFLUX_CALLBACKS_INIT;
    assert_int_equal(tf_queue_callbacks(sq, NULL, &cb), 0);
    assert_int_equal(tf_server_set_callbacks(server, &cb), 0);
    assert_int_equal(tf_server_listen(server, "tcp://127.0.0.1:0"), 0);
    char url[64];
    tfs_url(url, sizeof url, tf_server_port(server));

    sender_t senders[NSENDERS];
    memset(senders, 0, sizeof senders);
    for (int i = 0; i < NSENDERS; i++) {
        senders[i].index = (uint32_t)i;
        senders[i].client = truflux_client_new(loop, proto, NULL);
        assert_non_null(senders[i].client);
        tf_callbacks_t ccb = TRUFLUX_CALLBACKS_INIT;
        assert_int_equal(tf_queue_callbacks(cq, &senders[i], &ccb), 0);
        assert_int_equal(tf_client_set_callbacks(senders[i].client, &ccb), 0);
    }
    assert_int_equal(tf_loop_start(loop), 0);
    for (int i = 0; i < NSENDERS; i++)
        assert_int_equal(tf_client_connect(senders[i].client, url), 0);

    /* Every client open (its OPEN event), and the server's four. */
    int opens = 0;
    for (int i = 0; i < NSENDERS; i++) {
        tf_event_t *ev = wait_kind(cq, TRUFLUX_EVENT_OPEN, WAIT_MS);
        assert_non_null(ev);
        opens++;
        truflux_event_free(ev);
    }
    assert_int_equal(opens, NSENDERS);
    for (int i = 0; i < NSENDERS; i++) {
        tf_event_t *ev = wait_kind(sq, TRUFLUX_EVENT_OPEN, WAIT_MS);
        assert_non_null(ev);
        truflux_event_free(ev);
    }

    static board_t board;
    memset(&board, 0, sizeof board);
    pthread_mutex_init(&board.mu, NULL);
    consumer_t cons[2];
    memset(cons, 0, sizeof cons);
    for (int i = 0; i < 2; i++) {
        cons[i].q = sq;
        cons[i].board = &board;
        cons[i].use_poll = i;
        assert_int_equal(pthread_create(&cons[i].th, NULL, consumer_main, &cons[i]), 0);
    }
    for (int i = 0; i < NSENDERS; i++)
        assert_int_equal(pthread_create(&senders[i].th, NULL, sender_main, &senders[i]), 0);
    for (int i = 0; i < NSENDERS; i++)
        pthread_join(senders[i].th, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(cons[i].th, NULL);

    for (int i = 0; i < NSENDERS; i++)
        assert_int_equal(senders[i].failures, 0);
    assert_int_equal(board.taken, TOTAL);
    assert_int_equal(board.duplicates, 0);
    assert_int_equal(board.malformed, 0);
    for (int w = 0; w < NSENDERS; w++)
        for (int s = 0; s < PER_SENDER; s++)
            assert_true(board.seen[w][s]);
    assert_int_equal(cons[0].reordered + cons[1].reordered, 0);
    assert_int_equal(cons[0].popped + cons[1].popped, TOTAL);
    assert_int_equal(cons[0].other + cons[1].other, 0);
    pthread_mutex_destroy(&board.mu);

    /* Closing from this thread: each client's CLOSE (reason 0) reaches the client queue. */
    for (int i = 0; i < NSENDERS; i++)
        assert_int_equal(tf_client_close(senders[i].client, TRUFLUX_CLOSE_GRACEFUL), 0);
    int closes = 0;
    for (int i = 0; i < NSENDERS; i++) {
        tf_event_t *ev = wait_kind(cq, TRUFLUX_EVENT_CLOSE, WAIT_MS);
        assert_non_null(ev);
        assert_int_equal(tf_event_code(ev), 0);
        assert_true(tf_event_tag(ev) >= (void *)&senders[0] &&
                    tf_event_tag(ev) <= (void *)&senders[NSENDERS - 1]);
        closes++;
        truflux_event_free(ev);
    }
    assert_int_equal(closes, NSENDERS);

    assert_int_equal(tf_loop_stop(loop), 0);
    for (int i = 0; i < NSENDERS; i++)
        truflux_client_free(senders[i].client);
    truflux_server_free(server);
    truflux_queue_free(sq);
    truflux_queue_free(cq);
    truflux_protocol_free(proto);
    assert_int_equal(truflux_loop_free(loop), 0);
}

typedef struct waiter {
    pthread_t th;
    tf_queue_t *q;
    int result;
    int64_t waited_ms;
} waiter_t;

static void *waiter_main(void *arg)
{
    waiter_t *w = (waiter_t *)arg;
    int64_t t0 = tfs_now_ms();
    w->result = tf_queue_wait(w->q, WAIT_MS);
    w->waited_ms = tfs_now_ms() - t0;
    return NULL;
}

/* A thread blocked in tf_queue_wait on an empty queue returns when another thread wakes it;
 * the descriptor turns readable in the same step. */
static void test_wake_from_another_thread(void **state)
{
    (void)state;
    tf_queue_t *q = truflux_queue_new(0);
    assert_non_null(q);
    waiter_t w;
    memset(&w, 0, sizeof w);
    w.q = q;
    w.result = -99;
    assert_int_equal(pthread_create(&w.th, NULL, waiter_main, &w), 0);
    assert_int_equal(tf_queue_wake(q), 0);
    pthread_join(w.th, NULL);
    assert_int_equal(w.result, 1);
    assert_true(w.waited_ms < WAIT_MS);
    struct pollfd p = { tf_queue_fd(q), POLLIN, 0 };
    assert_int_equal(poll(&p, 1, 0), 1);
    assert_int_equal(q_events(q), 1);
    tf_event_t *ev = tf_queue_pop(q);
    assert_int_equal(tf_event_kind(ev), TRUFLUX_EVENT_WAKE);
    truflux_event_free(ev);
    assert_int_equal(poll(&p, 1, 0), 0);
    truflux_queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_producers_and_consumers),
        cmocka_unit_test(test_wake_from_another_thread),
    };
    return cmocka_run_group_tests_name("threads_queue", tests, NULL, NULL);
}
