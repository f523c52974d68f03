/* tools/bench/peers/nng_peer.c: the NNG peer: req0/rep0 over `--transport tcp`, `ws` or
 * `tls` (TLS over TCP, NNG's mbedTLS engine; the server needs `--certkey FILE`, one PEM file
 * holding the certificate and its key). The server echoes the message object it received
 * (no copy); the client sends its buffer with nng_send, NNG's usual call.
 *
 * The client dials synchronously (handshakes done), then makes one 1-octet roundtrip before
 * the timer starts, as the ZeroMQ peer does. The server ends when its one pipe goes away.
 *
 * Command line and output: tools/bench/peer_common.h.
 */
#include <stdatomic.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "../peer_common.h"

static void check(int rc, const char *what) {
    if (rc != 0) {
        fprintf(stderr, "nng peer: %s: %s\n", what, nng_strerror(rc));
        exit(1);
    }
}

static atomic_int pipe_gone;

static void on_pipe_removed(nng_pipe p, nng_pipe_ev ev, void *arg) {
    (void)p, (void)ev, (void)arg;
    atomic_store(&pipe_gone, 1);
}

static void url_of(char *out, size_t n, const char *transport, int port) {
    if (strcmp(transport, "tcp") == 0)
        snprintf(out, n, "tcp://127.0.0.1:%d", port);
    else if (strcmp(transport, "ws") == 0)
        snprintf(out, n, "ws://127.0.0.1:%d/bench", port);
    else if (strcmp(transport, "tls") == 0)
        snprintf(out, n, "tls+tcp://127.0.0.1:%d", port);
    else
        peer_die("--transport must be tcp, ws or tls");
}

/* Messages up to the largest row, on every transport. */
static void unlimited(nng_socket s) {
    check(nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0), "recv-size-max");
}

static int run_server(const char *transport, const char *certkey) {
    nng_socket s;
    nng_listener l;
    char url[128];
    check(nng_rep0_open(&s), "rep0 open");
    unlimited(s);
    check(nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, on_pipe_removed, NULL), "pipe notify");
    url_of(url, sizeof url, transport, 0);
    check(nng_listener_create(&l, s, url), "listener");
    if (strcmp(transport, "ws") == 0)
        check(nng_listener_set_size(l, NNG_OPT_WS_RECVMAXFRAME, 0), "ws max frame");
    if (strcmp(transport, "tls") == 0) {
        if (!certkey) peer_die("tls needs --certkey");
        check(nng_listener_set_string(l, NNG_OPT_TLS_CERT_KEY_FILE, certkey), "certificate");
    }
    check(nng_listener_set_bool(l, NNG_OPT_TCP_NODELAY, true), "nodelay");
    check(nng_listener_start(l, 0), "listen");
    int port = 0;
    check(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port), "bound port");
    /* A timeout only so that the loop notices the pipe's end. */
    check(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 50), "recv timeout");
    peer_ready(port, NULL);
    double cpu0 = -1;
    for (;;) {
        nng_msg *m;
        int rc = nng_recvmsg(s, &m, 0);
        if (rc == NNG_ETIMEDOUT) {
            if (atomic_load(&pipe_gone)) break;
            continue;
        }
        check(rc, "recv");
        if (cpu0 < 0) cpu0 = peer_cpu();
        check(nng_sendmsg(s, m, 0), "send");
    }
    peer_server_cpu(cpu0 < 0 ? 0 : peer_cpu() - cpu0);
    nng_close(s);
    return 0;
}

static void roundtrip(nng_socket s, void *buf, size_t len) {
    nng_msg *m;
    check(nng_send(s, buf, len, 0), "send");
    check(nng_recvmsg(s, &m, 0), "recv");
    if (nng_msg_len(m) != len) peer_die("echo has the wrong size");
    nng_msg_free(m);
}

static int run_client(const peer_args *a, const char *transport) {
    nng_socket s;
    nng_dialer d;
    char url[128];
    check(nng_req0_open(&s), "req0 open");
    unlimited(s);
    url_of(url, sizeof url, transport, a->port);
    check(nng_dialer_create(&d, s, url), "dialer");
    if (strcmp(transport, "ws") == 0)
        check(nng_dialer_set_size(d, NNG_OPT_WS_RECVMAXFRAME, 0), "ws max frame");
    if (strcmp(transport, "tls") == 0)  /* the benchmark's certificate is self-signed */
        check(nng_dialer_set_int(d, NNG_OPT_TLS_AUTH_MODE, 0), "auth mode");
    check(nng_dialer_set_bool(d, NNG_OPT_TCP_NODELAY, true), "nodelay");
    check(nng_dialer_start(d, 0), "dial");
    size_t len = (size_t)a->size;
    unsigned char *buf = peer_buffer(len), one = 1;
    roundtrip(s, &one, 1);
    double cpu0 = peer_cpu(), t0 = peer_now();
    for (long long i = 0; i < a->count; i++) roundtrip(s, buf, len);
    double elapsed = peer_now() - t0, cpu = peer_cpu() - cpu0;
    peer_result(elapsed, cpu);
    nng_close(s);
    return 0;
}

int main(int argc, char **argv) {
    peer_args a;
    peer_parse(argc, argv, &a);
    const char *transport = peer_opt(&a, "transport", "tcp");
    return a.server ? run_server(transport, peer_opt(&a, "certkey", NULL))
                    : run_client(&a, transport);
}
