/* examples/c/echo_client.c: a truflux client in C99 that checks an echo server.
 *
 * usage: echo_client PORT [N [HOST]]
 *
 * Connects to tcp://HOST:PORT (HOST 127.0.0.1), sends N `echo` messages of each payload type
 * (empty, binary, text, MessagePack; N is 100 by default), checks that every reply comes
 * back in order with the same type and payload, prints "ok COUNT" (COUNT replies checked)
 * and exits 0. Any mismatch, error or a run longer than 10 seconds: a message, exit 1.
 * Sending honours backpressure: when tf_send says TRUFLUX_EAGAIN it waits for on_drain.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <truflux/truflux.h>

#define N_TYPES 4
#define MAX_PAYLOAD 80

struct session {
    tf_loop_t *loop;
    uint32_t echo_id;
    long total;     /* messages to send and replies to expect: N_TYPES * N */
    long sent;      /* messages accepted by tf_send */
    long received;  /* replies checked */
    int done;       /* 1 when all replies matched, -1 on failure */
    int closed;
};

/* Message k: its type cycles through the four types; its payload depends on k. */
static int payload_of(long k, unsigned char *buf, size_t *len)
{
    long i = k / N_TYPES;
    switch (k % N_TYPES) {
    case 0:
        *len = 0;
        return TRUFLUX_TYPE_EMPTY;
    case 1: { /* binary: includes zero bytes on purpose */
        size_t n = (size_t)(i % 64) + 1, j;
        for (j = 0; j < n; ++j)
            buf[j] = (unsigned char)((i + (long)j) & 0xff);
        *len = n;
        return TRUFLUX_TYPE_BINARY;
    }
    case 2:
        *len = (size_t)sprintf((char *)buf, "message %ld", i);
        return TRUFLUX_TYPE_TEXT;
    default: /* MessagePack: a uint32 (0xce, then 4 octets big-endian) */
        buf[0] = 0xce;
        buf[1] = (unsigned char)((i >> 24) & 0xff);
        buf[2] = (unsigned char)((i >> 16) & 0xff);
        buf[3] = (unsigned char)((i >> 8) & 0xff);
        buf[4] = (unsigned char)(i & 0xff);
        *len = 5;
        return TRUFLUX_TYPE_MSGPACK;
    }
}

static void fail(struct session *s, tf_conn_t *conn, const char *what)
{
    fprintf(stderr, "echo_client: %s\n", what);
    s->done = -1;
    tf_conn_close(conn, TRUFLUX_CLOSE_FORCE, 0);
}

/* Sends until everything is queued or the queue is full (then on_drain calls again). */
static void pump(struct session *s, tf_conn_t *conn)
{
    unsigned char buf[MAX_PAYLOAD];
    size_t len;
    while (s->sent < s->total) {
        int type = payload_of(s->sent, buf, &len);
        int rc = tf_send(conn, s->echo_id, type, buf, len);
        if (rc == TRUFLUX_EAGAIN)
            return;
        if (rc != TRUFLUX_OK) {
            fprintf(stderr, "echo_client: send %ld: %s\n", s->sent, tf_strerror(rc));
            fail(s, conn, "send failed");
            return;
        }
        s->sent++;
    }
}

static void on_open(void *user, tf_conn_t *conn)
{
    pump((struct session *)user, conn);
}

static void on_drain(void *user, tf_conn_t *conn)
{
    pump((struct session *)user, conn);
}

static void on_message(void *user, tf_conn_t *conn, const tf_message_t *msg)
{
    struct session *s = (struct session *)user;
    unsigned char want[MAX_PAYLOAD];
    size_t want_len;
    int want_type;
    char what[128];

    if (s->done != 0)
        return;
    want_type = payload_of(s->received, want, &want_len);
    if (msg->id != s->echo_id || msg->type != want_type || msg->len != want_len ||
        (want_len > 0 && memcmp(msg->data, want, want_len) != 0)) {
        sprintf(what, "reply %ld differs: type %d length %lu, expected type %d length %lu",
                s->received, msg->type, (unsigned long)msg->len, want_type,
                (unsigned long)want_len);
        fail(s, conn, what);
        return;
    }
    if (++s->received == s->total) {
        s->done = 1;
        tf_conn_close(conn, TRUFLUX_CLOSE_GRACEFUL, 0);
    }
}

static void on_error(void *user, tf_conn_t *conn, int code, const char *detail)
{
    (void)user;
    (void)conn;
    fprintf(stderr, "echo_client: %s (%s)\n", tf_strerror(code), detail);
}

static void on_close(void *user, tf_conn_t *conn, int reason, int remote)
{
    struct session *s = (struct session *)user;
    (void)conn;
    if (reason != 0) {
        fprintf(stderr, "echo_client: connection closed%s: %s\n", remote ? " by the server" : "",
                tf_strerror(reason));
        if (s->done == 0)
            s->done = -1;
    }
    s->closed = 1;
}

int main(int argc, char **argv)
{
    struct session s;
    tf_callbacks_t cbs = TRUFLUX_CALLBACKS_INIT;
    tf_protocol_t *proto;
    tf_client_t *client;
    const char *port = argc > 1 ? argv[1] : NULL;
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 100;
    const char *host = argc > 3 ? argv[3] : "127.0.0.1";
    char url[300];
    time_t deadline;
    int rc;

    if (!port || n < 1 || n > 1000000 || argc > 4) {
        fprintf(stderr, "usage: echo_client PORT [N [HOST]]\n");
        return 2;
    }
    memset(&s, 0, sizeof s);
    s.total = N_TYPES * n;

    s.loop = truflux_loop_new();
    proto = truflux_protocol_new();
    if (!s.loop || !proto || tf_protocol_add(proto, "echo", TRUFLUX_TYPES_ANY, 0) < 0) {
        fprintf(stderr, "echo_client: setup failed: %s\n", tf_last_error_detail());
        return 1;
    }
    s.echo_id = (uint32_t)tf_protocol_id(proto, "echo");
    client = truflux_client_new(s.loop, proto, NULL);
    truflux_protocol_free(proto);
    if (!client) {
        fprintf(stderr, "echo_client: %s: %s\n", tf_strerror(tf_last_error()),
                tf_last_error_detail());
        return 1;
    }
    cbs.user = &s;
    cbs.on_open = on_open;
    cbs.on_message = on_message;
    cbs.on_error = on_error;
    cbs.on_close = on_close;
    cbs.on_drain = on_drain;
    tf_client_set_callbacks(client, &cbs);

    snprintf(url, sizeof url, "tcp://%s:%s", host, port);
    rc = tf_client_connect(client, url);
    if (rc != TRUFLUX_OK) {
        fprintf(stderr, "echo_client: cannot connect to %s: %s\n", url, tf_strerror(rc));
        truflux_client_free(client);
        truflux_loop_free(s.loop);
        return 1;
    }

    /* Bounded: run the loop in short steps until the connection closes or time is up. */
    deadline = time(NULL) + 10;
    while (!s.closed && time(NULL) < deadline)
        tf_loop_run_once(s.loop, 100);
    if (!s.closed && s.done == 0) {
        fprintf(stderr, "echo_client: timed out after %ld of %ld replies\n", s.received,
                s.total);
        s.done = -1;
    }

    truflux_client_free(client);
    truflux_loop_free(s.loop);
    if (s.done != 1)
        return 1;
    printf("ok %ld\n", s.received);
    return 0;
}
