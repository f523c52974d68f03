/* examples/c/echo_server.c: the smallest truflux server, in C99.
 *
 * usage: echo_server [PORT [HOST]]
 *
 * Listens on tcp://HOST:PORT (HOST 127.0.0.1, PORT 0 by default: a free port), prints
 * "listening on PORT" and sends every `echo` message back to its sender with the same type
 * and payload. Runs until killed.
 */
#include <stdio.h>
#include <stdlib.h>

#include <truflux/truflux.h>

/* The protocol's handler for `echo`: runs on the loop thread; msg is borrowed. */
static void on_echo(void *user, tf_conn_t *conn, const tf_message_t *msg)
{
    int rc = tf_send(conn, msg->id, msg->type, msg->data, msg->len);
    (void)user;
    if (rc != TRUFLUX_OK)
        fprintf(stderr, "echo_server: echo not sent: %s\n", tf_strerror(rc));
}

static void on_error(void *user, tf_conn_t *conn, int code, const char *detail)
{
    (void)user;
    (void)conn;
    fprintf(stderr, "echo_server: %s (%s)\n", tf_strerror(code), detail);
}

static int parse_port(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 65535)
        return -1;
    return (int)v;
}

int main(int argc, char **argv)
{
    const char *host = argc > 2 ? argv[2] : "127.0.0.1";
    int port = argc > 1 ? parse_port(argv[1]) : 0;
    tf_callbacks_t cbs = TRUFLUX_CALLBACKS_INIT;
    tf_loop_t *loop;
    tf_protocol_t *proto;
    tf_server_t *server;
    char url[300];
    int rc;

    if (port < 0 || argc > 3) {
        fprintf(stderr, "usage: echo_server [PORT [HOST]]\n");
        return 2;
    }

    loop = truflux_loop_new();
    proto = truflux_protocol_new();
    if (!loop || !proto) {
        fprintf(stderr, "echo_server: %s\n", tf_last_error_detail());
        return 1;
    }
    if (tf_protocol_add(proto, "echo", TRUFLUX_TYPES_ANY, 0) < 0 ||
        tf_protocol_on(proto, "echo", on_echo, NULL) != TRUFLUX_OK) {
        fprintf(stderr, "echo_server: cannot define the protocol\n");
        return 1;
    }

    server = truflux_server_new(loop, proto, NULL);
    /* The server holds its own reference to the protocol. */
    truflux_protocol_free(proto);
    if (!server) {
        fprintf(stderr, "echo_server: %s: %s\n", tf_strerror(tf_last_error()),
                tf_last_error_detail());
        return 1;
    }
    cbs.on_error = on_error;
    tf_server_set_callbacks(server, &cbs);

    snprintf(url, sizeof url, "tcp://%s:%d", host, port);
    rc = tf_server_listen(server, url);
    if (rc != TRUFLUX_OK) {
        fprintf(stderr, "echo_server: cannot listen on %s: %s (%s)\n", url, tf_strerror(rc),
                tf_last_error_detail());
        truflux_server_free(server);
        truflux_loop_free(loop);
        return 1;
    }
    printf("listening on %d\n", tf_server_port(server));
    fflush(stdout);

    rc = tf_loop_run(loop);
    truflux_server_free(server);
    truflux_loop_free(loop);
    return rc == TRUFLUX_OK ? 0 : 1;
}
