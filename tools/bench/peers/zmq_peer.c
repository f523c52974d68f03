/* tools/bench/peers/zmq_peer.c: the ZeroMQ peer: REQ/REP over tcp://, plain or with CURVE
 * (`--curve 1`: the server makes a key pair and prints its public key after the port).
 * Each side uses ZeroMQ's fastest calls: the client sends its buffer without a copy
 * (zmq_msg_init_data), the server echoes the message object it received.
 *
 * A ZeroMQ connection is not observable from the API, so the client makes one 1-octet
 * roundtrip before the timer starts: that completes the TCP and CURVE handshakes. REQ/REP
 * has no end-of-connection event either: the client ends with a two-part request, which no
 * row sends, and the server answers it and exits.
 *
 * Command line and output: tools/bench/peer_common.h.
 */
#include <zmq.h>

#include "../peer_common.h"

static void check(int rc, const char *what) {
    if (rc < 0) {
        fprintf(stderr, "zmq peer: %s: %s\n", what, zmq_strerror(zmq_errno()));
        exit(1);
    }
}

static int run_server(int curve) {
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_REP);
    char pub[41] = "", sec[41] = "";
    if (curve) {
        int one = 1;
        check(zmq_curve_keypair(pub, sec), "curve keypair");
        check(zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one), "curve server");
        check(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40), "curve secret key");
    }
    check(zmq_bind(s, "tcp://127.0.0.1:*"), "bind");
    char ep[256];
    size_t eplen = sizeof ep;
    check(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &eplen), "endpoint");
    const char *colon = strrchr(ep, ':');
    if (!colon) peer_die("no port in the endpoint");
    peer_ready(atoi(colon + 1), curve ? pub : NULL);
    double cpu0 = -1;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        check(zmq_msg_recv(&m, s, 0), "recv");
        if (cpu0 < 0) cpu0 = peer_cpu();
        if (zmq_msg_more(&m)) {
            /* The end marker: drain its parts, answer, stop. */
            do {
                zmq_msg_close(&m);
                zmq_msg_init(&m);
                check(zmq_msg_recv(&m, s, 0), "recv");
            } while (zmq_msg_more(&m));
            zmq_msg_close(&m);
            check(zmq_send(s, "", 0, 0), "send");
            break;
        }
        check(zmq_msg_send(&m, s, 0), "send");
    }
    peer_server_cpu(peer_cpu() - cpu0);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}

static void roundtrip(void *s, void *buf, size_t len) {
    zmq_msg_t m;
    /* No free function: the buffer outlives every message made from it. */
    check(zmq_msg_init_data(&m, buf, len, NULL, NULL), "msg init");
    check(zmq_msg_send(&m, s, 0), "send");
    zmq_msg_init(&m);
    int n = zmq_msg_recv(&m, s, 0);
    check(n, "recv");
    if ((size_t)n != len) peer_die("echo has the wrong size");
    zmq_msg_close(&m);
}

static int run_client(const peer_args *a, int curve) {
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_REQ);
    if (curve) {
        char pub[41], sec[41];
        if (!a->extra || strlen(a->extra) != 40) peer_die("--extra must be the server's key");
        check(zmq_curve_keypair(pub, sec), "curve keypair");
        check(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, a->extra, 40), "curve server key");
        check(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40), "curve public key");
        check(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40), "curve secret key");
    }
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", a->port);
    check(zmq_connect(s, ep), "connect");
    size_t len = (size_t)a->size;
    unsigned char *buf = peer_buffer(len), one = 1;
    roundtrip(s, &one, 1);
    double cpu0 = peer_cpu(), t0 = peer_now();
    for (long long i = 0; i < a->count; i++) roundtrip(s, buf, len);
    double elapsed = peer_now() - t0, cpu = peer_cpu() - cpu0;
    check(zmq_send(s, "", 0, ZMQ_SNDMORE), "send");
    check(zmq_send(s, "end", 3, 0), "send");
    char sink[8];
    check(zmq_recv(s, sink, sizeof sink, 0), "recv");
    peer_result(elapsed, cpu);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}

int main(int argc, char **argv) {
    peer_args a;
    peer_parse(argc, argv, &a);
    int curve = atoi(peer_opt(&a, "curve", "0"));
    return a.server ? run_server(curve) : run_client(&a, curve);
}
