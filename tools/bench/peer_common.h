/* tools/bench/peer_common.h: what every C benchmark peer shares with the driver
 * (tools/bench/runner.cpp): its command line, its clock and the lines it prints.
 *
 *   PROG server [OPTIONS]          prints "READY <port> [<extra>]", serves ONE connection,
 *                                  then prints "CPU <seconds>" (CPU time of the whole
 *                                  process from the connection's first message to its end)
 *                                  and exits 0.
 *   PROG client --port P --size S --count N [--extra X] [OPTIONS]
 *                                  connects, finishes every handshake, then times N
 *                                  roundtrips of S bytes with one message in flight, and
 *                                  prints "RESULT <elapsed seconds> <CPU seconds>" (both over
 *                                  the timed part only) and exits 0.
 * Anything wrong: a line on stderr and exit 1. Header-only so that each peer is one file.
 */
#ifndef TRUFLUX_BENCH_PEER_COMMON_H
#define TRUFLUX_BENCH_PEER_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PEER_PAGE 4096

typedef struct {
    int server;          /* 1: server role, 0: client role */
    int port;
    long long size;
    long long count;
    const char *extra;   /* what the server printed after its port (e.g. a public key) */
    const char *opt[8];  /* peer-specific "--name value" pairs, by name */
    const char *val[8];
    int nopt;
} peer_args;

static inline double peer_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of every thread of the process (ZeroMQ and NNG do their I/O on threads). */
static inline double peer_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void peer_die(const char *what) {
    fprintf(stderr, "bench peer: %s\n", what);
    exit(1);
}

/* The value of a peer-specific option, or def. */
static inline const char *peer_opt(const peer_args *a, const char *name, const char *def) {
    for (int i = 0; i < a->nopt; i++)
        if (strcmp(a->opt[i], name) == 0) return a->val[i];
    return def;
}

/* Options without a value are given as "--name 1" by the driver, so every option has one. */
static inline void peer_parse(int argc, char **argv, peer_args *a) {
    memset(a, 0, sizeof *a);
    if (argc < 2) peer_die("usage: PROG server|client [--name value ...]");
    if (strcmp(argv[1], "server") == 0)
        a->server = 1;
    else if (strcmp(argv[1], "client") != 0)
        peer_die("first argument must be server or client");
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc || strncmp(argv[i], "--", 2) != 0) peer_die("options are --name value");
        const char *n = argv[i] + 2, *v = argv[i + 1];
        if (strcmp(n, "port") == 0)
            a->port = atoi(v);
        else if (strcmp(n, "size") == 0)
            a->size = atoll(v);
        else if (strcmp(n, "count") == 0)
            a->count = atoll(v);
        else if (strcmp(n, "extra") == 0)
            a->extra = v;
        else if (a->nopt < 8) {
            a->opt[a->nopt] = n;
            a->val[a->nopt++] = v;
        } else
            peer_die("too many options");
    }
    if (!a->server && (a->port <= 0 || a->size < 0 || a->count <= 0))
        peer_die("client needs --port, --size and --count");
}

/* A page-aligned buffer: an unaligned one makes the kernel's copy of large messages much
 * slower. Filled with a pattern so the echo can be checked. */
static inline unsigned char *peer_buffer(size_t len) {
    void *p = NULL;
    size_t cap = (len + PEER_PAGE - 1) / PEER_PAGE * PEER_PAGE;
    if (cap == 0) cap = PEER_PAGE;
    if (posix_memalign(&p, PEER_PAGE, cap) != 0) peer_die("out of memory");
    unsigned char *b = (unsigned char *)p;
    for (size_t i = 0; i < len; i++) b[i] = (unsigned char)(i * 131u + 7u);
    return b;
}

static inline void peer_ready(int port, const char *extra) {
    printf("READY %d%s%s\n", port, extra ? " " : "", extra ? extra : "");
    fflush(stdout);
}

static inline void peer_result(double elapsed, double cpu) {
    printf("RESULT %.9f %.9f\n", elapsed, cpu);
    fflush(stdout);
}

static inline void peer_server_cpu(double cpu) {
    printf("CPU %.9f\n", cpu);
    fflush(stdout);
}

#endif
