/* tests/test_threads_secure.c: the secure layer with the loop on its own thread: tf_send,
 * tf_conn_set_secure, tf_conn_secure and tf_conn_secure_info from the application's thread,
 * while records are sealed and opened on the loop's. Every message must arrive, in order,
 * across the switches. (Named test_threads_*: the TSan build runs it.) */
#include "support/tfsupport.h"

#include <pthread.h>

#include <truflux/security.h>

#define COUNT 3000

typedef struct shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int opens, secures, received, out_of_order;
    int plain_seen, encrypted_seen;
} shared_t;

static void notify(shared_t *s)
{
    pthread_cond_broadcast(&s->cv);
}

static void on_open(void *user, tf_conn_t *conn)
{
    shared_t *s = (shared_t *)user;
    (void)conn;
    pthread_mutex_lock(&s->mu);
    s->opens++;
    notify(s);
    pthread_mutex_unlock(&s->mu);
}

static void on_secure(void *user, tf_conn_t *conn)
{
    shared_t *s = (shared_t *)user;
    (void)conn;
    pthread_mutex_lock(&s->mu);
    s->secures++;
    notify(s);
    pthread_mutex_unlock(&s->mu);
}

static void on_message(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    shared_t *s = (shared_t *)user;
    char want[32];
    pthread_mutex_lock(&s->mu);
    snprintf(want, sizeof want, "n%d", s->received);
    if (m->len != strlen(want) || memcmp(m->data, want, m->len) != 0)
        s->out_of_order++;
    if (tf_conn_secure(conn, TRUFLUX_DIR_RECV))
        s->encrypted_seen++;
    else
        s->plain_seen++;
    s->received++;
    notify(s);
    pthread_mutex_unlock(&s->mu);
}

/* Waits until *counter >= n or 10 s passed. */
static int wait_count(shared_t *s, const int *counter, int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&s->mu);
    while (*counter < n)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0)
            break;
    int got = *counter;
    pthread_mutex_unlock(&s->mu);
    return got >= n;
}

static void test_threads_secure_sends_and_switches(void **state)
{
    (void)state;
    shared_t s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);

    tf_loop_t *loop = truflux_loop_new();
    assert_non_null(loop);
    tf_protocol_t *proto = truflux_protocol_new();
    assert_true(tf_protocol_add(proto, "chat", 0, 0) >= 0);
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    tfs_opt(co, TRUFLUX_OPT_REKEY_MESSAGES, 50);
    tfs_opt(co, TRUFLUX_OPT_SEND_HWM, 64 << 20);

    tf_server_t *server = truflux_server_new(loop, proto, so);
    tf_client_t *client = truflux_client_new(loop, proto, co);
    assert_non_null(server);
    assert_non_null(client);
    tf_callbacks_t scb = TRUFLUX_CALLBACKS_INIT, ccb = TRUFLUX_CALLBACKS_INIT;
    scb.user = &s;
    scb.on_message = on_message;
    ccb.user = &s;
    ccb.on_open = on_open;
    ccb.on_secure = on_secure;
    assert_int_equal(tf_server_set_callbacks(server, &scb), 0);
    assert_int_equal(tf_client_set_callbacks(client, &ccb), 0);
    assert_int_equal(tf_server_listen(server, "tcp://127.0.0.1:0"), 0);
    char url[64];
    tfs_url(url, sizeof url, tf_server_port(server));
    assert_int_equal(tf_loop_start(loop), 0);
    assert_int_equal(tf_client_connect(client, url), 0);
    assert_true(wait_count(&s, &s.secures, 1));
    tf_conn_t *conn = tf_client_conn(client);

    char text[32];
    for (int i = 0; i < COUNT; i++) {
        /* Switches in the middle of the stream, from this thread, in order with the sends. */
        if (i == COUNT / 3)
            assert_int_equal(tf_conn_set_secure(conn, TRUFLUX_DIR_SEND, 0), 0);
        if (i == 2 * COUNT / 3)
            assert_int_equal(tf_conn_set_secure(conn, TRUFLUX_DIR_SEND, 1), 0);
        snprintf(text, sizeof text, "n%d", i);
        assert_int_equal(tf_send_name(conn, "chat", TRUFLUX_TYPE_TEXT, text, strlen(text)), 0);
        if (i % 500 == 0)
            (void)tf_conn_secure(conn, TRUFLUX_DIR_SEND);
    }
    assert_true(wait_count(&s, &s.received, COUNT));
    pthread_mutex_lock(&s.mu);
    assert_int_equal(s.received, COUNT);
    assert_int_equal(s.out_of_order, 0);
    /* A third went in plaintext, the rest encrypted. */
    assert_int_equal(s.plain_seen, COUNT / 3);
    assert_int_equal(s.encrypted_seen, COUNT - COUNT / 3);
    pthread_mutex_unlock(&s.mu);
    tf_secure_info_t info;
    info.size = sizeof info;
    assert_int_equal(tf_conn_secure_info(conn, &info), 0);
    assert_true(info.rekeys_sent >= (uint64_t)(COUNT - COUNT / 3) / 50 - 1);

    assert_int_equal(tf_loop_stop(loop), 0);
    truflux_client_free(client);
    truflux_server_free(server);
    truflux_protocol_free(proto);
    truflux_options_free(so);
    truflux_options_free(co);
    assert_int_equal(truflux_loop_free(loop), 0);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_secure_sends_and_switches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
