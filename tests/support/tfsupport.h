/* tests/support/tfsupport.h: shared helpers for the integration tests (header-only, because
 * tests/CMakeLists.txt builds each tests/test_*.c as a one-file executable).
 *
 * Include it FIRST in a test file (it sets _GNU_SOURCE before any system header):
 *     #include "support/tfsupport.h"
 *
 * What is here:
 *  - time and loop pumping: every wait is bounded by a deadline (tfs_pump_until, TFS_WAIT);
 *  - an event recorder (tfs_rec_t) that servers and clients report into. Callbacks never call
 *    cmocka assertions (a longjmp through the library's C++ frames is undefined): they record,
 *    and the test body asserts;
 *  - raw peers speaking docs/PROTOCOL.md by hand over non-blocking POSIX sockets: frame and
 *    hello builders, an incremental frame reader, and tfs_raw_expect_close(). A raw peer and
 *    the truflux loop share the test's thread, so every raw wait pumps the loop too.
 *
 * Raw-peer return conventions: 1 a frame, 0 the socket ended (EOF or reset), -1 timeout.
 */
#ifndef TFSUPPORT_H
#define TFSUPPORT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <truflux/truflux.h>

#if defined(__GNUC__)
#define TFS_UNUSED __attribute__((unused))
#else
#define TFS_UNUSED
#endif

/* Wire constants from docs/PROTOCOL.md (written out here on purpose: the tests check the
 * library against the document, not against the library's own tables). */
#define TFS_HDR 9
#define TFS_KIND_HELLO 0x01
#define TFS_KIND_WELCOME 0x02
#define TFS_KIND_PING 0x03
#define TFS_KIND_PONG 0x04
#define TFS_KIND_CLOSE 0x05
#define TFS_KIND_ERROR 0x06
#define TFS_KIND_MSG_EMPTY 0x10
#define TFS_KIND_MSG_BINARY 0x11
#define TFS_KIND_MSG_TEXT 0x12
#define TFS_KIND_MSG_MSGPACK 0x13
#define TFS_HELLO_STRICT 0x0001

/* Default bound of a wait; sanitizer builds are slow, so be generous: a passing test returns
 * as soon as its condition holds. */
#define TFS_WAIT_MS 5000

/* ------------------------------------------------------------------------------------ */
/* Time and pumping                                                                      */

static TFS_UNUSED int64_t tfs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static TFS_UNUSED void tfs_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* One bounded loop iteration (at most `ms`, capped at 10 ms). */
static TFS_UNUSED void tfs_pump_once(tf_loop_t *loop, int ms)
{
    if (ms > 10)
        ms = 10;
    if (ms < 0)
        ms = 0;
    tf_loop_run_once(loop, ms);
}

/* Runs the loop for `ms` milliseconds: only for asserting that something does NOT happen. */
static TFS_UNUSED void tfs_pump_for(tf_loop_t *loop, int ms)
{
    int64_t deadline = tfs_now_ms() + ms;
    int64_t left;
    while ((left = deadline - tfs_now_ms()) > 0)
        tfs_pump_once(loop, (int)left);
}

/* Runs the loop until *flag is nonzero or `ms` passed. Returns *flag. */
static TFS_UNUSED int tfs_pump_until(tf_loop_t *loop, const volatile int *flag, int ms)
{
    int64_t deadline = tfs_now_ms() + ms;
    while (!*flag && tfs_now_ms() < deadline)
        tfs_pump_once(loop, 10);
    return *flag;
}

/* Runs the loop until `cond` holds or `ms` passed; the caller then asserts `cond`. */
#define TFS_WAIT(loop, cond, ms)                                                        \
    do {                                                                                \
        int64_t tfs_deadline_ = tfs_now_ms() + (ms);                                    \
        while (!(cond) && tfs_now_ms() < tfs_deadline_)                                 \
            tfs_pump_once((loop), 10);                                                  \
    } while (0)

/* ------------------------------------------------------------------------------------ */
/* Growable byte buffer                                                                  */

typedef struct tfs_buf {
    uint8_t *p;
    size_t len, cap;
} tfs_buf_t;

static TFS_UNUSED void tfs_buf_reserve(tfs_buf_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *p = (uint8_t *)realloc(b->p, cap);
    if (!p) {
        fprintf(stderr, "tfsupport: out of memory\n");
        abort();
    }
    b->p = p;
    b->cap = cap;
}

static TFS_UNUSED void tfs_buf_put(tfs_buf_t *b, const void *data, size_t len)
{
    tfs_buf_reserve(b, len);
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
}

static TFS_UNUSED void tfs_buf_u8(tfs_buf_t *b, uint8_t v) { tfs_buf_put(b, &v, 1); }

static TFS_UNUSED void tfs_buf_u16(tfs_buf_t *b, uint16_t v)
{
    uint8_t o[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    tfs_buf_put(b, o, 2);
}

static TFS_UNUSED void tfs_buf_u32(tfs_buf_t *b, uint32_t v)
{
    uint8_t o[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    tfs_buf_put(b, o, 4);
}

static TFS_UNUSED void tfs_buf_free(tfs_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static TFS_UNUSED uint32_t tfs_get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static TFS_UNUSED uint16_t tfs_get_u16(const uint8_t *p)
{
    return (uint16_t)(((unsigned)p[0] << 8) | p[1]);
}

/* ------------------------------------------------------------------------------------ */
/* Frame and hello builders (docs/PROTOCOL.md)                                           */

/* Appends a frame: kind, 31-bit id, length, payload. `len_field` is written as given, so a
 * test can lie about the length; pass payload NULL to append the header alone. */
static TFS_UNUSED void tfs_frame_put_raw(tfs_buf_t *b, uint8_t kind, uint32_t id,
                                         uint32_t len_field, const void *payload,
                                         size_t payload_len)
{
    tfs_buf_u8(b, kind);
    tfs_buf_u32(b, id);
    tfs_buf_u32(b, len_field);
    if (payload && payload_len)
        tfs_buf_put(b, payload, payload_len);
}

static TFS_UNUSED void tfs_frame_put(tfs_buf_t *b, uint8_t kind, uint32_t id,
                                     const void *payload, size_t len)
{
    tfs_frame_put_raw(b, kind, id, (uint32_t)len, payload, len);
}

/* Message kind for a tf_type_t. */
static TFS_UNUSED uint8_t tfs_msg_kind(int type) { return (uint8_t)(0x10 | (type & 3)); }

static TFS_UNUSED int tfs_cmp_u32_(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct tfs_hello {
    uint8_t major, minor;
    uint16_t flags;
    uint32_t caps;
    uint32_t max_message;
    uint32_t heartbeat_ms;
    uint8_t fingerprint[32];
    uint32_t ids[TRUFLUX_MAX_MESSAGES];
    size_t nids;
} tfs_hello_t;

/* A hello for version 1.0, non-strict, accepting 16 MiB, for the given message names (ids
 * derived with tf_protocol_name_id and sorted), fingerprint taken from `proto` if not NULL
 * (else all zero). */
static TFS_UNUSED void tfs_hello_init(tfs_hello_t *h, const tf_protocol_t *proto,
                                      const char *const *names, size_t n)
{
    memset(h, 0, sizeof *h);
    h->major = 1;
    h->minor = 0;
    h->max_message = 16u << 20;
    if (proto)
        tf_protocol_fingerprint(proto, h->fingerprint);
    for (size_t i = 0; i < n && i < TRUFLUX_MAX_MESSAGES; i++)
        h->ids[h->nids++] = tf_protocol_name_id(names[i]);
    qsort(h->ids, h->nids, sizeof h->ids[0], tfs_cmp_u32_);
}

/* Appends the hello payload (no frame header). */
static TFS_UNUSED void tfs_hello_payload(tfs_buf_t *b, const tfs_hello_t *h)
{
    tfs_buf_put(b, "TFLX", 4);
    tfs_buf_u8(b, h->major);
    tfs_buf_u8(b, h->minor);
    tfs_buf_u16(b, h->flags);
    tfs_buf_u32(b, h->caps);
    tfs_buf_u32(b, h->max_message);
    tfs_buf_u32(b, h->heartbeat_ms);
    tfs_buf_put(b, h->fingerprint, 32);
    tfs_buf_u16(b, (uint16_t)h->nids);
    for (size_t i = 0; i < h->nids; i++)
        tfs_buf_u32(b, h->ids[i]);
}

/* Appends a complete frame (HELLO or WELCOME kind) carrying the hello. */
static TFS_UNUSED void tfs_hello_frame(tfs_buf_t *b, uint8_t kind, const tfs_hello_t *h)
{
    tfs_buf_t p = { 0, 0, 0 };
    tfs_hello_payload(&p, h);
    tfs_frame_put(b, kind, 0, p.p, p.len);
    tfs_buf_free(&p);
}

/* Parses a hello payload. Returns 0, or -1 if it is malformed per docs/PROTOCOL.md. */
static TFS_UNUSED int tfs_hello_parse(const uint8_t *p, size_t len, tfs_hello_t *h)
{
    memset(h, 0, sizeof *h);
    if (len < 54 || memcmp(p, "TFLX", 4) != 0)
        return -1;
    h->major = p[4];
    h->minor = p[5];
    h->flags = tfs_get_u16(p + 6);
    h->caps = tfs_get_u32(p + 8);
    h->max_message = tfs_get_u32(p + 12);
    h->heartbeat_ms = tfs_get_u32(p + 16);
    memcpy(h->fingerprint, p + 20, 32);
    size_t n = tfs_get_u16(p + 52);
    if (n > TRUFLUX_MAX_MESSAGES || len < 54 + 4 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        h->ids[i] = tfs_get_u32(p + 54 + 4 * i);
        if (h->ids[i] & 0x80000000u)
            return -1;
        if (i > 0 && h->ids[i] <= h->ids[i - 1])
            return -1;
    }
    h->nids = n;
    return 0;
}

static TFS_UNUSED int tfs_hello_has_id(const tfs_hello_t *h, uint32_t id)
{
    for (size_t i = 0; i < h->nids; i++)
        if (h->ids[i] == id)
            return 1;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Sockets                                                                               */

static TFS_UNUSED void tfs_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* A port on 127.0.0.1 where nothing listens: bound, then closed at once. */
static TFS_UNUSED int tfs_dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Whether ::1 can be bound here (containers often lack IPv6). */
static TFS_UNUSED int tfs_ipv6_loopback_ok(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* ------------------------------------------------------------------------------------ */
/* Raw peer                                                                              */

typedef struct tfs_raw {
    int fd;
    tfs_buf_t in;    /* bytes received and not yet parsed */
    size_t in_off;   /* parse position in `in` */
    int ended;       /* 1 EOF, 2 reset/error */
    int end_errno;
} tfs_raw_t;

typedef struct tfs_frame {
    uint8_t kind;
    uint32_t id;    /* 31-bit id field; bit 31 kept in `reserved` */
    int reserved;
    uint32_t len;
    uint8_t *payload; /* malloc'd copy (NUL-terminated for convenience), or NULL */
} tfs_frame_t;

static TFS_UNUSED void tfs_frame_free(tfs_frame_t *f)
{
    free(f->payload);
    f->payload = NULL;
}

/* Wraps an already connected socket (made non-blocking). */
static TFS_UNUSED void tfs_raw_from_fd(tfs_raw_t *r, int fd)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    tfs_set_nonblock(fd);
}

/* Connects to 127.0.0.1:port. rcvbuf > 0 shrinks SO_RCVBUF first (slow-reader tests).
 * Returns 0 or -errno. The connect is blocking: loopback completes it in the kernel's accept
 * queue without the server's loop running. */
static TFS_UNUSED int tfs_raw_connect_buf(tfs_raw_t *r, int port, int rcvbuf)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    tfs_raw_from_fd(r, fd);
    return 0;
}

static TFS_UNUSED int tfs_raw_connect(tfs_raw_t *r, int port)
{
    return tfs_raw_connect_buf(r, port, 0);
}

static TFS_UNUSED void tfs_raw_close(tfs_raw_t *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    tfs_buf_free(&r->in);
    r->in_off = 0;
}

/* Reads what is available now, without blocking. Returns bytes read (0 if none). */
static TFS_UNUSED size_t tfs_raw_poll_in(tfs_raw_t *r)
{
    size_t total = 0;
    while (!r->ended) {
        /* Compact parsed bytes away so the buffer stays small during long reads. */
        if (r->in_off > 0 && r->in_off == r->in.len) {
            r->in.len = 0;
            r->in_off = 0;
        }
        tfs_buf_reserve(&r->in, 65536);
        ssize_t n = recv(r->fd, r->in.p + r->in.len, r->in.cap - r->in.len, MSG_DONTWAIT);
        if (n > 0) {
            r->in.len += (size_t)n;
            total += (size_t)n;
        } else if (n == 0) {
            r->ended = 1;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else {
            r->ended = 2;
            r->end_errno = errno;
        }
    }
    return total;
}

/* Reads and discards what is available now. Returns bytes discarded. */
static TFS_UNUSED size_t tfs_raw_discard(tfs_raw_t *r)
{
    size_t n = tfs_raw_poll_in(r);
    r->in.len = 0;
    r->in_off = 0;
    return n;
}

/* Sends all of [data, len), pumping the loop while the socket is full (the server that must
 * drain it runs on this thread). Returns 0, -errno on a socket error, -ETIMEDOUT after ms. */
static TFS_UNUSED int tfs_raw_send(tf_loop_t *loop, tfs_raw_t *r, const void *data,
                                   size_t len, int ms)
{
    const uint8_t *p = (const uint8_t *)data;
    int64_t deadline = tfs_now_ms() + ms;
    while (len > 0) {
        ssize_t n = send(r->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        if (tfs_now_ms() >= deadline)
            return -ETIMEDOUT;
        tfs_raw_poll_in(r); /* keep our own receive side from stalling the server */
        tfs_pump_once(loop, 5);
    }
    return 0;
}

static TFS_UNUSED int tfs_raw_send_frame(tf_loop_t *loop, tfs_raw_t *r, uint8_t kind,
                                         uint32_t id, const void *payload, size_t len)
{
    tfs_buf_t b = { 0, 0, 0 };
    tfs_frame_put(&b, kind, id, payload, len);
    int rc = tfs_raw_send(loop, r, b.p, b.len, TFS_WAIT_MS);
    tfs_buf_free(&b);
    return rc;
}

/* Takes one complete frame out of the buffer if there is one. */
static TFS_UNUSED int tfs_raw_take_frame(tfs_raw_t *r, tfs_frame_t *f)
{
    size_t avail = r->in.len - r->in_off;
    if (avail < TFS_HDR)
        return 0;
    const uint8_t *h = r->in.p + r->in_off;
    uint32_t len = tfs_get_u32(h + 5);
    if (avail - TFS_HDR < len)
        return 0;
    memset(f, 0, sizeof *f);
    f->kind = h[0];
    f->id = tfs_get_u32(h + 1) & 0x7FFFFFFFu;
    f->reserved = (h[1] & 0x80) != 0;
    f->len = len;
    f->payload = (uint8_t *)malloc((size_t)len + 1);
    if (!f->payload)
        abort();
    memcpy(f->payload, h + TFS_HDR, len);
    f->payload[len] = 0;
    r->in_off += TFS_HDR + (size_t)len;
    return 1;
}

/* Waits for the next frame, pumping the loop. 1: *f filled (free it); 0: the socket ended
 * before a complete frame; -1: timeout. */
static TFS_UNUSED int tfs_raw_next_frame(tf_loop_t *loop, tfs_raw_t *r, tfs_frame_t *f, int ms)
{
    int64_t deadline = tfs_now_ms() + ms;
    for (;;) {
        if (tfs_raw_take_frame(r, f))
            return 1;
        if (r->ended)
            return 0;
        if (tfs_raw_poll_in(r) > 0 || r->ended)
            continue;
        if (tfs_now_ms() >= deadline)
            return -1;
        tfs_pump_once(loop, 5);
    }
}

/* Waits until the socket ends (EOF, or a reset: the server closing with our bytes unread in
 * its buffer makes the kernel send RST, which is a legitimate end too). Frames that arrive
 * meanwhile are counted in *extra (may be NULL) and dropped. 1 ended, -1 timeout. */
static TFS_UNUSED int tfs_raw_wait_end(tf_loop_t *loop, tfs_raw_t *r, int *extra, int ms)
{
    int64_t deadline = tfs_now_ms() + ms;
    tfs_frame_t f;
    for (;;) {
        int rc = tfs_raw_next_frame(loop, r, &f, (int)(deadline - tfs_now_ms()));
        if (rc == 1) {
            if (extra)
                (*extra)++;
            tfs_frame_free(&f);
            continue;
        }
        return rc == 0 ? 1 : -1;
    }
}

/* Result codes of tfs_raw_expect_close beyond a code magnitude (>= 0). */
#define TFS_NO_CLOSE -1      /* timeout: no CLOSE frame */
#define TFS_EOF_NO_CLOSE -2  /* the socket ended without a CLOSE frame */
#define TFS_NO_EOF -3        /* CLOSE arrived but the socket stayed open */

/* Pumps the loop and reads frames until a CLOSE arrives (skipping WELCOME, PING, messages),
 * answers it with CLOSE(0) as docs/PROTOCOL.md asks (the write may fail if the server has
 * gone: ignored), then requires the socket to end. Returns the CLOSE code magnitude or one of
 * the TFS_* results above. The close text is printed to help a failing run. *pings (may be
 * NULL) counts the PING frames seen before the CLOSE. */
static TFS_UNUSED int tfs_raw_expect_close_ex(tf_loop_t *loop, tfs_raw_t *r, int ms,
                                              int *pings)
{
    int64_t deadline = tfs_now_ms() + ms;
    tfs_frame_t f;
    for (;;) {
        int rc = tfs_raw_next_frame(loop, r, &f, (int)(deadline - tfs_now_ms()));
        if (rc == -1)
            return TFS_NO_CLOSE;
        if (rc == 0) {
            fprintf(stderr, "  raw peer: socket ended without CLOSE (%s)\n",
                    r->ended == 2 ? strerror(r->end_errno) : "EOF");
            return TFS_EOF_NO_CLOSE;
        }
        if (f.kind != TFS_KIND_CLOSE) {
            if (f.kind == TFS_KIND_PING && pings)
                (*pings)++;
            tfs_frame_free(&f);
            continue;
        }
        int code = (int)f.id;
        if (f.len)
            fprintf(stderr, "  raw peer: CLOSE(%d %s) \"%s\"\n", code, tf_errname(-code),
                    (const char *)f.payload);
        tfs_frame_free(&f);
        tfs_buf_t b = { 0, 0, 0 };
        tfs_frame_put(&b, TFS_KIND_CLOSE, 0, NULL, 0);
        (void)send(r->fd, b.p, b.len, MSG_DONTWAIT | MSG_NOSIGNAL);
        tfs_buf_free(&b);
        int left = (int)(deadline - tfs_now_ms());
        if (tfs_raw_wait_end(loop, r, NULL, left > 1000 ? left : 1000) != 1)
            return TFS_NO_EOF;
        return code;
    }
}

static TFS_UNUSED int tfs_raw_expect_close(tf_loop_t *loop, tfs_raw_t *r, int ms)
{
    return tfs_raw_expect_close_ex(loop, r, ms, NULL);
}

/* Sends a HELLO and waits for the WELCOME. Returns 0 (the WELCOME is parsed into *welcome if
 * not NULL), or -1 no WELCOME (timeout, end, CLOSE or another frame; printed). */
static TFS_UNUSED int tfs_raw_handshake(tf_loop_t *loop, tfs_raw_t *r, const tfs_hello_t *h,
                                        tfs_hello_t *welcome)
{
    tfs_buf_t b = { 0, 0, 0 };
    tfs_hello_frame(&b, TFS_KIND_HELLO, h);
    int rc = tfs_raw_send(loop, r, b.p, b.len, TFS_WAIT_MS);
    tfs_buf_free(&b);
    if (rc != 0)
        return -1;
    tfs_frame_t f;
    rc = tfs_raw_next_frame(loop, r, &f, TFS_WAIT_MS);
    if (rc != 1) {
        fprintf(stderr, "  raw peer: no WELCOME (%s)\n", rc == 0 ? "socket ended" : "timeout");
        return -1;
    }
    if (f.kind != TFS_KIND_WELCOME) {
        fprintf(stderr, "  raw peer: expected WELCOME, got kind 0x%02x id %u\n", f.kind, f.id);
        tfs_frame_free(&f);
        return -1;
    }
    tfs_hello_t tmp;
    int bad = tfs_hello_parse(f.payload, f.len, welcome ? welcome : &tmp) != 0 || f.id != 0;
    tfs_frame_free(&f);
    return bad ? -1 : 0;
}

/* ------------------------------------------------------------------------------------ */
/* Event recorder                                                                        */

#define TFS_REC_CONNS 32
#define TFS_REC_ERRORS 64

typedef struct tfs_msg {
    uint32_t id;
    int type;
    char name[TRUFLUX_MAX_NAME + 1];
    uint8_t *data; /* malloc'd copy, NUL-terminated */
    size_t len;
    tf_conn_t *conn; /* as seen in the callback; compare only */
    long seq;
} tfs_msg_t;

typedef struct tfs_rec {
    const char *label;
    int opens, closes, errors, drains, server_done;
    int server_done_reason, server_done_remote;
    int last_close_reason, last_close_remote;
    tf_conn_t *last_close_conn;
    long last_open_seq, last_close_seq, server_done_seq, first_error_seq;
    int error_codes[TFS_REC_ERRORS];
    tf_conn_t *error_conns[TFS_REC_ERRORS];
    tf_conn_t *conns[TFS_REC_CONNS]; /* retained in on_open; released by tfs_rec_free */
    tfs_msg_t *msgs;
    size_t nmsgs, capmsgs;
    int echo; /* nonzero: on_message echoes every message back with tf_send */
    int echo_errors;
    void *tag; /* free for the test */
} tfs_rec_t;

/* A global event counter, to assert the order of events across recorders. */
static TFS_UNUSED long tfs_seq_;

static TFS_UNUSED long tfs_next_seq(void) { return ++tfs_seq_; }

static TFS_UNUSED void tfs_rec_log_msg(tfs_rec_t *r, tf_conn_t *conn, const tf_message_t *m)
{
    if (r->nmsgs == r->capmsgs) {
        size_t cap = r->capmsgs ? r->capmsgs * 2 : 64;
        tfs_msg_t *p = (tfs_msg_t *)realloc(r->msgs, cap * sizeof *p);
        if (!p)
            abort();
        r->msgs = p;
        r->capmsgs = cap;
    }
    tfs_msg_t *x = &r->msgs[r->nmsgs++];
    memset(x, 0, sizeof *x);
    x->id = m->id;
    x->type = m->type;
    if (m->name)
        snprintf(x->name, sizeof x->name, "%s", m->name);
    x->data = (uint8_t *)malloc(m->len + 1);
    if (!x->data)
        abort();
    if (m->len)
        memcpy(x->data, m->data, m->len);
    x->data[m->len] = 0;
    x->len = m->len;
    x->conn = conn;
    x->seq = tfs_next_seq();
}

static TFS_UNUSED void tfs_rec_on_open_(void *user, tf_conn_t *conn)
{
    tfs_rec_t *r = (tfs_rec_t *)user;
    if (r->opens < TFS_REC_CONNS)
        r->conns[r->opens] = tf_conn_retain(conn);
    r->opens++;
    r->last_open_seq = tfs_next_seq();
}

static TFS_UNUSED void tfs_rec_on_message_(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    tfs_rec_t *r = (tfs_rec_t *)user;
    tfs_rec_log_msg(r, conn, m);
    if (r->echo && tf_send(conn, m->id, m->type, m->data, m->len) != 0)
        r->echo_errors++;
}

static TFS_UNUSED void tfs_rec_on_close_(void *user, tf_conn_t *conn, int reason, int remote)
{
    tfs_rec_t *r = (tfs_rec_t *)user;
    if (!conn) {
        r->server_done++;
        r->server_done_reason = reason;
        r->server_done_remote = remote;
        r->server_done_seq = tfs_next_seq();
        return;
    }
    r->closes++;
    r->last_close_reason = reason;
    r->last_close_remote = remote;
    r->last_close_conn = conn;
    r->last_close_seq = tfs_next_seq();
}

static TFS_UNUSED void tfs_rec_on_error_(void *user, tf_conn_t *conn, int code, const char *detail)
{
    tfs_rec_t *r = (tfs_rec_t *)user;
    if (getenv("TFS_VERBOSE"))
        fprintf(stderr, "  [%s] on_error %s: %s\n", r->label ? r->label : "?",
                tf_errname(code), detail ? detail : "(null)");
    if (r->errors == 0)
        r->first_error_seq = tfs_next_seq();
    if (r->errors < TFS_REC_ERRORS) {
        r->error_codes[r->errors] = code;
        r->error_conns[r->errors] = conn;
    }
    r->errors++;
}

static TFS_UNUSED void tfs_rec_on_drain_(void *user, tf_conn_t *conn)
{
    (void)conn;
    ((tfs_rec_t *)user)->drains++;
}

static TFS_UNUSED void tfs_rec_init(tfs_rec_t *r, const char *label)
{
    memset(r, 0, sizeof *r);
    r->label = label;
}

/* Callbacks reporting into `r`. */
static TFS_UNUSED tf_callbacks_t tfs_rec_callbacks(tfs_rec_t *r)
{
    tf_callbacks_t cbs = TRUFLUX_CALLBACKS_INIT;
    cbs.user = r;
    cbs.on_open = tfs_rec_on_open_;
    cbs.on_message = tfs_rec_on_message_;
    cbs.on_close = tfs_rec_on_close_;
    cbs.on_error = tfs_rec_on_error_;
    cbs.on_drain = tfs_rec_on_drain_;
    return cbs;
}

/* Whether `code` was reported through on_error. */
static TFS_UNUSED int tfs_rec_has_error(const tfs_rec_t *r, int code)
{
    for (int i = 0; i < r->errors && i < TFS_REC_ERRORS; i++)
        if (r->error_codes[i] == code)
            return 1;
    return 0;
}

/* Number of messages recorded with this name. */
static TFS_UNUSED int tfs_rec_count_name(const tfs_rec_t *r, const char *name)
{
    int n = 0;
    for (size_t i = 0; i < r->nmsgs; i++)
        if (strcmp(r->msgs[i].name, name) == 0)
            n++;
    return n;
}

/* Index of the first recorded message with these exact bytes, or -1. */
static TFS_UNUSED int tfs_rec_find(const tfs_rec_t *r, const void *data, size_t len)
{
    for (size_t i = 0; i < r->nmsgs; i++)
        if (r->msgs[i].len == len && (len == 0 || memcmp(r->msgs[i].data, data, len) == 0))
            return (int)i;
    return -1;
}

static TFS_UNUSED void tfs_rec_clear_msgs(tfs_rec_t *r)
{
    for (size_t i = 0; i < r->nmsgs; i++)
        free(r->msgs[i].data);
    r->nmsgs = 0;
}

/* Releases the retained connections and the message log. */
static TFS_UNUSED void tfs_rec_free(tfs_rec_t *r)
{
    for (int i = 0; i < r->opens && i < TFS_REC_CONNS; i++)
        tf_conn_release(r->conns[i]);
    r->opens = 0;
    tfs_rec_clear_msgs(r);
    free(r->msgs);
    r->msgs = NULL;
    r->capmsgs = 0;
}

/* ------------------------------------------------------------------------------------ */
/* Small conveniences                                                                    */

static TFS_UNUSED tf_options_t *tfs_options(void)
{
    tf_options_t *o = truflux_options_new();
    if (!o)
        abort();
    return o;
}

static TFS_UNUSED void tfs_opt(tf_options_t *o, int key, int64_t v)
{
    if (tf_options_set_int(o, key, v) != 0) {
        fprintf(stderr, "tfsupport: option %d=%lld refused\n", key, (long long)v);
        abort();
    }
}

/* "tcp://127.0.0.1:<port>" */
static TFS_UNUSED const char *tfs_url(char *buf, size_t n, int port)
{
    snprintf(buf, n, "tcp://127.0.0.1:%d", port);
    return buf;
}

/* Prints the test's skip reason and skips (cmocka). */
#define TFS_SKIP(why)                                                                   \
    do {                                                                                \
        fprintf(stderr, "  skipped: %s\n", (why));                                      \
        skip();                                                                         \
    } while (0)

/* ------------------------------------------------------------------------------------ */
/* A server and one client on one loop (test body only: it asserts)                      */

typedef struct tfs_pair {
    tf_loop_t *loop;
    tf_server_t *server;
    tf_client_t *client;
    tfs_rec_t srec, crec;
    int port;
} tfs_pair_t;

/* Creates the server (listening on 127.0.0.1:0) and, if cproto is not NULL, a client
 * connected to it, and waits until both sides reported on_open. Set fields of p->srec /
 * p->crec (e.g. .echo) after this call; the recorders are initialised here. */
static TFS_UNUSED void tfs_pair_start(tfs_pair_t *p, tf_loop_t *loop, tf_protocol_t *sproto,
                                      tf_protocol_t *cproto, const tf_options_t *sopts,
                                      const tf_options_t *copts)
{
    char url[64];
    memset(p, 0, sizeof *p);
    p->loop = loop;
    tfs_rec_init(&p->srec, "server");
    tfs_rec_init(&p->crec, "client");
    p->server = truflux_server_new(loop, sproto, sopts);
    assert_non_null(p->server);
    tf_callbacks_t scb = tfs_rec_callbacks(&p->srec);
    assert_int_equal(tf_server_set_callbacks(p->server, &scb), 0);
    assert_int_equal(tf_server_listen(p->server, "tcp://127.0.0.1:0"), 0);
    p->port = tf_server_port(p->server);
    assert_true(p->port > 0 && p->port <= 65535);
    if (!cproto)
        return;
    p->client = truflux_client_new(loop, cproto, copts);
    assert_non_null(p->client);
    tf_callbacks_t ccb = tfs_rec_callbacks(&p->crec);
    assert_int_equal(tf_client_set_callbacks(p->client, &ccb), 0);
    assert_int_equal(tf_client_connect(p->client, tfs_url(url, sizeof url, p->port)), 0);
    TFS_WAIT(loop, p->crec.opens >= 1 && p->srec.opens >= 1, TFS_WAIT_MS);
    assert_int_equal(p->crec.opens, 1);
    assert_int_equal(p->srec.opens, 1);
}

/* Frees the client and the server and releases what the recorders hold (not the loop). */
static TFS_UNUSED void tfs_pair_free(tfs_pair_t *p)
{
    truflux_client_free(p->client);
    truflux_server_free(p->server);
    p->client = NULL;
    p->server = NULL;
    tfs_rec_free(&p->crec);
    tfs_rec_free(&p->srec);
}


/* A loop and a server listening on `url` (options `sopts`) whose events a recorder (srec)
 * keeps; the test makes the protocols: sp for the server, cp for the clients it starts. */
typedef struct tfs_env {
    tf_loop_t *loop;
    tf_protocol_t *sp, *cp;
    tf_server_t *server;
    tfs_rec_t srec;
    int port;
} tfs_env_t;

static TFS_UNUSED void tfs_env_start(tfs_env_t *e, const char *url, const tf_options_t *sopts,
                                     tf_protocol_t *sp, tf_protocol_t *cp)
{
    memset(e, 0, sizeof *e);
    e->loop = truflux_loop_new();
    assert_non_null(e->loop);
    e->sp = sp;
    e->cp = cp;
    tfs_rec_init(&e->srec, "server");
    e->server = truflux_server_new(e->loop, e->sp, sopts);
    assert_non_null(e->server);
    tf_callbacks_t cb = tfs_rec_callbacks(&e->srec);
    assert_int_equal(tf_server_set_callbacks(e->server, &cb), 0);
    assert_int_equal(tf_server_listen(e->server, url), 0);
    e->port = tf_server_port(e->server);
    assert_true(e->port > 0);
}

static TFS_UNUSED void tfs_env_free(tfs_env_t *e)
{
    truflux_server_free(e->server);
    tfs_rec_free(&e->srec);
    truflux_protocol_free(e->sp);
    truflux_protocol_free(e->cp);
    assert_int_equal(truflux_loop_free(e->loop), 0);
}

#endif
