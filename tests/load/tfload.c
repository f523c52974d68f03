/* tests/load/tfload.c: many concurrent clients exchange sequence-numbered messages with one
 * echo server for a bounded time, and every message is accounted for.
 *
 *   tfload [--clients N] [--seconds D] [--inflight K] [--size BYTES] [--ramp R]
 *          [--host ADDR] [--port PORT] [--max-seconds S] [--reconnect MIN_OPENS]
 *
 * Without --port the server runs in this process, on its own loop and thread (so a sanitizer
 * build checks both sides for leaks); with --port it is any echo server on 127.0.0.1:PORT
 * whose protocol has an "echo" message sent back to its sender (`truflux serve`).
 * The clients share one loop on the main thread. Phases: connect all N (at most R
 * attempts at once), then each keeps K messages in flight for D seconds, then every client
 * waits for its last echo, then all close gracefully. It checks, per client, that each echo
 * comes back once, in order, unaltered, and that sent == received; it prints totals and the
 * p50/p99/max round-trip latency. Exit status 0 when everything was accounted for, 1 on any
 * loss, reordering, unexpected close or missed bound, 2 on bad usage.
 * --reconnect MIN_OPENS turns TRUFLUX_OPT_RECONNECT on (tests/test_faults.sh: links cut,
 * server restarted): a dropped connection is then no failure, but each client must open at
 * least MIN_OPENS times, and after each open it starts a new epoch whose echoes must again
 * come back complete and in order (what was in flight when a connection dropped is counted
 * as lost_in_drops: nothing carries a message across a dropped socket).
 * Public API only. Every wait is bounded (--max-seconds overall). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <truflux/truflux.h>

/* ---- latency histogram: 64 linear sub-buckets per power of two (< 1.6% error) ---------- */

#define SUB 64
#define NBUCKETS (SUB + 58 * SUB)
static uint64_t g_hist[NBUCKETS];
static uint64_t g_lat_max;

static int bucket_of(uint64_t us)
{
    if (us < SUB)
        return (int)us;
    int e = 63 - __builtin_clzll(us); /* >= 6 */
    int sub = (int)(us >> (e - 6)) - SUB;
    int idx = SUB + (e - 6) * SUB + sub;
    return idx < NBUCKETS ? idx : NBUCKETS - 1;
}

static uint64_t bucket_low(int idx)
{
    if (idx < SUB)
        return (uint64_t)idx;
    int e = (idx - SUB) / SUB + 6, sub = (idx - SUB) % SUB;
    return (uint64_t)(SUB + sub) << (e - 6);
}

static uint64_t percentile(double p)
{
    uint64_t total = 0;
    for (int i = 0; i < NBUCKETS; i++)
        total += g_hist[i];
    if (!total)
        return 0;
    uint64_t want = (uint64_t)(p * (double)total + 0.5), seen = 0;
    if (want < 1)
        want = 1;
    for (int i = 0; i < NBUCKETS; i++) {
        seen += g_hist[i];
        if (seen >= want)
            return bucket_low(i);
    }
    return g_lat_max;
}

/* ---- state ----------------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Payload: client index, epoch (its count of opens), sequence number in the epoch, send
 * time; then filler derived from them, so an echo mixed up between clients or corrupted is
 * caught. */
#define HDR_LEN 24

typedef struct client {
    tf_client_t *cl;
    uint32_t idx;
    int opened, closed, close_reason;
    uint32_t opens, epoch;
    uint64_t sent, received;           /* in the current epoch */
    uint64_t sent_all, received_all;   /* over every epoch */
} client_t;

static struct {
    int n, inflight, size, reconnect;
    uint64_t drops, lost_in_drops, stale;
    uint32_t echo_id;
    int sending;             /* the timed phase is on: each echo triggers the next send */
    int closing;             /* the final close has begun */
    int started; /* clients created and connecting (a prefix of `clients`) */
    int connecting, opened, closed, connect_failed, unexpected_close, send_errors;
    uint64_t order_errors, payload_errors, foreign;
    client_t *clients;
} g;

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint8_t filler(uint32_t idx, uint64_t seq, int i)
{
    return (uint8_t)(idx * 31u + (uint32_t)seq * 7u + (uint32_t)i);
}

static void send_next(client_t *c)
{
    uint8_t buf[65536];
    put_u32(buf, c->idx);
    put_u32(buf + 4, c->epoch);
    put_u64(buf + 8, c->sent);
    put_u64(buf + 16, now_ns());
    for (int i = HDR_LEN; i < g.size; i++)
        buf[i] = filler(c->idx, c->sent, i);
    int rc = tf_client_send(c->cl, g.echo_id, TRUFLUX_TYPE_BINARY, buf, (size_t)g.size);
    if (rc != 0) {
        if (g.send_errors++ < 5)
            fprintf(stderr, "tfload: client %u: send: %s\n", c->idx, tf_strerror(rc));
        return;
    }
    c->sent++;
    c->sent_all++;
}

static void on_open(void *user, tf_conn_t *conn)
{
    (void)conn;
    client_t *c = user;
    c->opens++;
    if (c->opens > 1) {
        /* A reconnect: what was in flight on the old socket is gone; start a new epoch. */
        g.lost_in_drops += c->sent - c->received;
        c->epoch++;
        c->sent = c->received = 0;
        if (g.sending)
            for (int k = 0; k < g.inflight; k++)
                send_next(c);
        return;
    }
    c->opened = 1;
    g.connecting--;
    g.opened++;
}

static void on_message(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)conn;
    client_t *c = user;
    const uint8_t *p = m->data;
    if (m->id != g.echo_id || m->len != (size_t)g.size) {
        g.payload_errors++;
        return;
    }
    uint64_t t = now_ns();
    if (get_u32(p) != c->idx) {
        g.foreign++;
        return;
    }
    if (get_u32(p + 4) != c->epoch) {
        g.stale++;
        return;
    }
    uint64_t seq = get_u64(p + 8), sent_at = get_u64(p + 16);
    if (seq != c->received) {
        if (g.order_errors++ < 5)
            fprintf(stderr, "tfload: client %u: echo %" PRIu64 " where %" PRIu64 " was due\n",
                    c->idx, seq, c->received);
    }
    for (int i = HDR_LEN; i < g.size; i++)
        if (p[i] != filler(c->idx, seq, i)) {
            g.payload_errors++;
            break;
        }
    c->received++;
    c->received_all++;
    uint64_t us = (t - sent_at) / 1000;
    g_hist[bucket_of(us)]++;
    if (us > g_lat_max)
        g_lat_max = us;
    if (g.sending)
        send_next(c);
}

static void on_close(void *user, tf_conn_t *conn, int reason, int remote)
{
    (void)conn;
    client_t *c = user;
    if (c->closed)
        return;
    if (g.reconnect && c->opened && reason != 0 && !g.closing) {
        g.drops++; /* it reconnects by itself */
        return;
    }
    c->closed = 1;
    c->close_reason = reason;
    g.closed++;
    if (!c->opened) {
        g.connecting--;
        if (g.connect_failed++ < 5)
            fprintf(stderr, "tfload: client %u: connect failed: %s\n", c->idx,
                    tf_strerror(reason));
    } else if (reason != 0) {
        if (g.unexpected_close++ < 5)
            fprintf(stderr, "tfload: client %u: closed %s: %s\n", c->idx,
                    remote ? "by the server" : "locally", tf_strerror(reason));
    }
}

/* ---- the in-process server ------------------------------------------------------------ */

static void h_echo(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    uint64_t *refused = user;
    if (tf_send(conn, m->id, m->type, m->data, m->len) != 0)
        (*refused)++;
}

typedef struct server {
    tf_loop_t *loop;
    tf_protocol_t *proto;
    tf_server_t *server;
    uint64_t echo_refused; /* server loop thread only, read after it stopped */
} server_t;

static int server_start(server_t *s, int n)
{
    memset(s, 0, sizeof *s);
    s->loop = truflux_loop_new();
    s->proto = truflux_protocol_new();
    tf_options_t *o = truflux_options_new();
    if (!s->loop || !s->proto || !o)
        return -1;
    if (tf_protocol_add(s->proto, "echo", TRUFLUX_TYPES_BINARY, 0) < 0 ||
        tf_protocol_on(s->proto, "echo", h_echo, &s->echo_refused) != 0)
        return -1;
    tf_options_set_int(o, TRUFLUX_OPT_MAX_CONNECTIONS, n + 16);
    tf_options_set_int(o, TRUFLUX_OPT_BACKLOG, 4096);
    s->server = truflux_server_new(s->loop, s->proto, o);
    truflux_options_free(o);
    if (!s->server || tf_server_listen(s->server, "tcp://127.0.0.1:0") != 0)
        return -1;
    return tf_loop_start(s->loop) == 0 ? tf_server_port(s->server) : -1;
}

static void server_free(server_t *s)
{
    if (s->loop)
        tf_loop_stop(s->loop);
    truflux_server_free(s->server);
    truflux_protocol_free(s->proto);
    if (s->loop && truflux_loop_free(s->loop) != 0)
        fprintf(stderr, "tfload: server loop still busy at exit\n");
}

/* ---- driver ---------------------------------------------------------------------------- */

static long raise_nofile(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if ((long)rl.rlim_cur < want) {
        struct rlimit r2 = rl;
        r2.rlim_cur = (rlim_t)want;
        if ((long)r2.rlim_max < want)
            r2.rlim_max = (rlim_t)want; /* root only */
        if (setrlimit(RLIMIT_NOFILE, &r2) != 0) {
            r2.rlim_cur = r2.rlim_max = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &r2);
        }
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

static int usage(void)
{
    fprintf(stderr, "usage: tfload [--clients N] [--seconds D] [--inflight K] [--size BYTES] "
                    "[--ramp R] [--port PORT] [--max-seconds S]\n");
    return 2;
}

/* Runs the client loop until cond() or the deadline (ns); returns cond(). */
static int pump_until(tf_loop_t *loop, int (*cond)(void), uint64_t deadline)
{
    while (!cond() && now_ns() < deadline)
        tf_loop_run_once(loop, 10);
    return cond();
}

static int all_echoed(void)
{
    for (int i = 0; i < g.n; i++)
        if (!g.clients[i].closed && g.clients[i].received < g.clients[i].sent)
            return 0;
    return 1;
}
static int all_closed(void) { return g.closed == g.started; }

int main(int argc, char **argv)
{
    long n = 500, seconds = 3, inflight = 1, size = 64, ramp = 256, port = 0, max_seconds = 0;
    long reconnect = 0;
    const char *host = "127.0.0.1";
    for (int i = 1; i < argc; i++) {
        long *dst = NULL;
        if (!strcmp(argv[i], "--clients")) dst = &n;
        else if (!strcmp(argv[i], "--seconds")) dst = &seconds;
        else if (!strcmp(argv[i], "--inflight")) dst = &inflight;
        else if (!strcmp(argv[i], "--size")) dst = &size;
        else if (!strcmp(argv[i], "--ramp")) dst = &ramp;
        else if (!strcmp(argv[i], "--port")) dst = &port;
        else if (!strcmp(argv[i], "--max-seconds")) dst = &max_seconds;
        else if (!strcmp(argv[i], "--reconnect")) dst = &reconnect;
        else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
            host = argv[++i];
            continue;
        }
        if (!dst || i + 1 >= argc)
            return usage();
        char *end;
        *dst = strtol(argv[++i], &end, 10);
        if (*end)
            return usage();
    }
    if (n < 1 || n > 100000 || seconds < 1 || inflight < 1 || inflight > 64 ||
        size < HDR_LEN || size > 65536 || ramp < 1 || port < 0 || port > 65535 ||
        reconnect < 0)
        return usage();
    /* Connecting, draining and closing each get time in proportion to the client count. */
    if (max_seconds <= 0)
        max_seconds = seconds + 30 + n / 200;
    g.n = (int)n;
    g.inflight = (int)inflight;
    g.size = (int)size;
    g.reconnect = (int)reconnect;
    g.echo_id = tf_protocol_name_id("echo");

    long fds = raise_nofile(2 * n + 256);
    if (fds < (port ? n : 2 * n) + 64) {
        fprintf(stderr, "tfload: need %ld descriptors, have %ld (raise ulimit -n)\n",
                (port ? n : 2 * n) + 64, fds);
        return 1;
    }

    uint64_t t_start = now_ns(), hard_deadline = t_start + (uint64_t)max_seconds * 1000000000u;
    server_t srv;
    memset(&srv, 0, sizeof srv);
    if (!port) {
        long p = server_start(&srv, (int)n);
        if (p <= 0) {
            fprintf(stderr, "tfload: cannot start the server: %s\n", tf_last_error_detail());
            server_free(&srv);
            return 1;
        }
        port = p;
    }

    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *proto = truflux_protocol_new();
    tf_options_t *co = truflux_options_new();
    g.clients = calloc((size_t)n, sizeof *g.clients);
    if (!loop || !proto || !co || !g.clients ||
        tf_protocol_add(proto, "echo", TRUFLUX_TYPES_BINARY, 0) < 0) {
        fprintf(stderr, "tfload: setup failed\n");
        return 1;
    }
    char url[64];
    snprintf(url, sizeof url, "tcp://%s:%ld", host, port);
    if (reconnect) {
        tf_options_set_int(co, TRUFLUX_OPT_RECONNECT, 1);
        tf_options_set_int(co, TRUFLUX_OPT_RECONNECT_MIN, 100);
        tf_options_set_int(co, TRUFLUX_OPT_RECONNECT_MAX, 1000);
        /* A server killed while its RST was lost leaves a socket that looks alive and a
         * client waiting for an echo: the heartbeat finds it within the idle timeout. */
        tf_options_set_int(co, TRUFLUX_OPT_HEARTBEAT, 500);
        tf_options_set_int(co, TRUFLUX_OPT_IDLE_TIMEOUT, 3000);
    }

    /* Connect, at most `ramp` attempts at once (a burst of SYNs beyond the listen backlog
     * would only be retried a second later by the kernel). */
    int next = 0;
    g.started = 0;
    while ((next < g.n || g.connecting > 0) && now_ns() < hard_deadline &&
           g.connect_failed == 0) {
        while (next < g.n && g.connecting < ramp) {
            client_t *c = &g.clients[next];
            c->idx = (uint32_t)next;
            c->cl = truflux_client_new(loop, proto, co);
            tf_callbacks_t cb = TRUFLUX_CALLBACKS_INIT;
            cb.user = c;
            cb.on_open = on_open;
            cb.on_message = on_message;
            cb.on_close = on_close;
            if (!c->cl || tf_client_set_callbacks(c->cl, &cb) != 0 ||
                tf_client_connect(c->cl, url) != 0) {
                fprintf(stderr, "tfload: client %d: cannot start: %s\n", next,
                            tf_last_error_detail());
                g.connect_failed++;
                break;
            }
            g.connecting++;
            next++;
            g.started = next;
        }
        tf_loop_run_once(loop, 10);
    }
    uint64_t t_conn = now_ns();
    int ok = g.opened == g.n && g.connect_failed == 0;
    printf("tfload: %d/%d clients connected in %.2f s\n", g.opened, g.n,
           (double)(t_conn - t_start) / 1e9);
    fflush(stdout);

    /* The timed phase: all connected at once, K in flight each. */
    uint64_t sent_total = 0, recv_total = 0;
    double run_s = 0;
    if (ok) {
        g.sending = 1;
        for (int i = 0; i < g.n; i++)
            for (int k = 0; k < g.inflight; k++)
                send_next(&g.clients[i]);
        uint64_t t0 = now_ns(), stop = t0 + (uint64_t)seconds * 1000000000u;
        if (stop > hard_deadline)
            stop = hard_deadline;
        while (now_ns() < stop && g.unexpected_close == 0)
            tf_loop_run_once(loop, 10);
        g.sending = 0;
        run_s = (double)(now_ns() - t0) / 1e9;
        if (!pump_until(loop, all_echoed, hard_deadline)) {
            fprintf(stderr, "tfload: some echoes never came back within the bound\n");
            ok = 0;
        }
    }
    for (int i = 0; i < g.n; i++) {
        client_t *c = &g.clients[i];
        sent_total += c->sent_all;
        recv_total += c->received_all;
        if (c->opened && (c->sent != c->received || c->received_all == 0)) {
            if (ok)
                fprintf(stderr, "tfload: client %d: sent %" PRIu64 ", received %" PRIu64 "\n",
                        i, c->sent, c->received);
            ok = 0;
        }
        if (c->opened && c->opens < (uint32_t)reconnect) {
            if (ok)
                fprintf(stderr, "tfload: client %d opened %u times, %ld expected\n", i,
                        c->opens, reconnect);
            ok = 0;
        }
    }

    /* Graceful close of every client; the server must see no error from it. */
    g.closing = 1;
    for (int i = 0; i < next; i++)
        if (g.clients[i].cl && !g.clients[i].closed)
            tf_client_close(g.clients[i].cl, TRUFLUX_CLOSE_GRACEFUL);
    if (!pump_until(loop, all_closed, hard_deadline)) {
        fprintf(stderr, "tfload: %d of %d clients still not closed at the bound\n",
                g.started - g.closed, g.started);
        ok = 0;
    }
    uint64_t t_end = now_ns();

    if (g.order_errors || g.payload_errors || g.foreign || g.unexpected_close || g.send_errors)
        ok = 0;
    printf("tfload: clients=%d seconds=%.2f inflight=%d size=%d sent=%" PRIu64
           " received=%" PRIu64 " out_of_order=%" PRIu64 " corrupt=%" PRIu64
           " misrouted=%" PRIu64 " unexpected_close=%d send_errors=%d rate=%.0f msg/s\n",
           g.n, run_s, g.inflight, g.size, sent_total, recv_total, g.order_errors,
           g.payload_errors, g.foreign, g.unexpected_close, g.send_errors,
           run_s > 0 ? (double)recv_total / run_s : 0.0);
    if (reconnect)
        printf("tfload: reconnect drops=%" PRIu64 " lost_in_drops=%" PRIu64 " stale=%" PRIu64
               "\n", g.drops, g.lost_in_drops, g.stale);
    printf("tfload: latency p50=%" PRIu64 "us p99=%" PRIu64 "us max=%" PRIu64 "us\n",
           percentile(0.50), percentile(0.99), g_lat_max);

    for (int i = 0; i < next; i++)
        truflux_client_free(g.clients[i].cl);
    truflux_protocol_free(proto);
    truflux_options_free(co);
    if (truflux_loop_free(loop) != 0) {
        fprintf(stderr, "tfload: client loop still busy at exit\n");
        ok = 0;
    }

    if (srv.server) {
        /* The server's own account must match the clients' (graceful closes: nothing lost,
         * nothing counted as a violation). Read once its loop has stopped. */
        tf_loop_stop(srv.loop);
        tf_server_stats_t st;
        memset(&st, 0, sizeof st);
        st.size = sizeof st;
        tf_server_stats(srv.server, &st);
        printf("tfload: server accepted=%" PRIu64 " opened=%" PRIu64 " active=%" PRIu64
               " msgs_in=%" PRIu64 " msgs_out=%" PRIu64 " peer_lost=%" PRIu64
               " violations=%" PRIu64 " echo_refused=%" PRIu64 "\n",
               st.accepted, st.opened, st.active, st.msgs_in, st.msgs_out, st.peer_lost,
               st.refused_limit + st.message_size + st.handshake_timeouts + st.idle_timeouts +
                   st.protocol_errors + st.secure_errors + st.transport_errors,
               srv.echo_refused);
        if (st.opened != (uint64_t)g.opened || st.msgs_in != sent_total ||
            st.msgs_out != recv_total || srv.echo_refused ||
            st.refused_limit + st.message_size + st.handshake_timeouts + st.idle_timeouts +
                    st.protocol_errors + st.secure_errors + st.transport_errors != 0) {
            fprintf(stderr, "tfload: the server's counters disagree with the clients'\n");
            ok = 0;
        }
        server_free(&srv);
    }
    free(g.clients);
    printf("tfload: %s in %.2f s\n", ok ? "OK" : "FAILED", (double)(t_end - t_start) / 1e9);
    return ok ? 0 : 1;
}
