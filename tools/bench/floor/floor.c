/* tools/bench/floor/floor.c: the loopback floor. The least a message protocol over TCP can
 * do: a 4-octet big-endian length, then the payload (and, in the encrypted floor, the
 * AES-256-GCM tag), with blocking reads and writes, TCP_NODELAY and page-aligned buffers. No
 * event loop, no framing beyond the length, one writev per message. Any library's row is
 * compared with this one; the encrypted floors (aead_mbedtls.c, aead_openssl.c) bound any
 * protocol that encrypts each message with AES-256-GCM on that library.
 *
 * Command line and output: tools/bench/peer_common.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../peer_common.h"
#include "aead.h"
#include "io.h"

/* The floor's keys are fixed: it measures the cipher's cost, it protects nothing. */
static const uint8_t key_c2s[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const uint8_t key_s2c[32] = {31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
                                    16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};

/* One system call per message unless the kernel takes less than all of it. */
static int write_msg(int fd, const uint8_t *buf, size_t len, const uint8_t *tag, size_t taglen) {
    uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                      (uint8_t)len};
    struct iovec iov[3] = {{hdr, 4}, {(void *)buf, len}, {(void *)tag, taglen}};
    return floor_writev_full(fd, iov, taglen ? 3 : 2);
}

static void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Grows a page-aligned buffer to hold len bytes. */
static uint8_t *reserve(uint8_t *buf, size_t *cap, size_t len) {
    if (len <= *cap && buf) return buf;
    size_t ncap = (len + PEER_PAGE - 1) / PEER_PAGE * PEER_PAGE;
    if (ncap == 0) ncap = PEER_PAGE;
    void *p = NULL;
    if (posix_memalign(&p, PEER_PAGE, ncap) != 0) peer_die("out of memory");
    free(buf);
    *cap = ncap;
    return p;
}

static int run_server(void) {
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 1) != 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &sl) != 0)
        peer_die("cannot listen");
    peer_ready(ntohs(sa.sin_port), NULL);
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) peer_die("accept failed");
    close(ls);
    nodelay(fd);
    floor_aead *rx = floor_aead_new(key_c2s), *tx = floor_aead_new(key_s2c);
    if (!rx || !tx) peer_die("cipher setup failed");
    size_t taglen = floor_aead_tag(), cap = 0;
    uint8_t *buf = NULL, tag[FLOOR_TAG];
    uint64_t n_in = 0, n_out = 0;
    double cpu0 = -1;
    for (;;) {
        uint8_t hdr[4];
        int r = floor_read_full(fd, hdr, 4);
        if (r == 0) break;
        if (r < 0) peer_die("read failed");
        if (cpu0 < 0) cpu0 = peer_cpu();
        size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
        buf = reserve(buf, &cap, len);
        if (floor_read_full(fd, buf, len) != 1 || (taglen && floor_read_full(fd, tag, taglen) != 1))
            peer_die("short message");
        if (taglen && floor_aead_open(rx, n_in++, buf, len, tag) != 0)
            peer_die("message failed authentication");
        if (taglen && floor_aead_seal(tx, n_out++, buf, len, tag) != 0) peer_die("seal failed");
        if (write_msg(fd, buf, len, tag, taglen) != 0) peer_die("write failed");
    }
    peer_server_cpu(cpu0 < 0 ? 0 : peer_cpu() - cpu0);
    close(fd);
    return 0;
}

static int run_client(const peer_args *a) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)a->port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) peer_die("connect failed");
    nodelay(fd);
    floor_aead *tx = floor_aead_new(key_c2s), *rx = floor_aead_new(key_s2c);
    if (!tx || !rx) peer_die("cipher setup failed");
    size_t len = (size_t)a->size, taglen = floor_aead_tag();
    uint8_t *buf = peer_buffer(len), tag[FLOOR_TAG];
    uint64_t n_out = 0, n_in = 0;
    double cpu0 = peer_cpu(), t0 = peer_now();
    for (long long i = 0; i < a->count; i++) {
        /* Sealing works in place; opening the echo in place restores the plaintext, so each
         * roundtrip sends the same message. */
        if (taglen && floor_aead_seal(tx, n_out++, buf, len, tag) != 0) peer_die("seal failed");
        if (write_msg(fd, buf, len, tag, taglen) != 0) peer_die("write failed");
        uint8_t hdr[4];
        if (floor_read_full(fd, hdr, 4) != 1) peer_die("connection lost");
        size_t got = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
        if (got != len) peer_die("echo has the wrong size");
        if (floor_read_full(fd, buf, len) != 1 || (taglen && floor_read_full(fd, tag, taglen) != 1))
            peer_die("short echo");
        if (taglen && floor_aead_open(rx, n_in++, buf, len, tag) != 0)
            peer_die("echo failed authentication");
    }
    double elapsed = peer_now() - t0, cpu = peer_cpu() - cpu0;
    for (size_t i = 0; i < len; i++)
        if (buf[i] != (uint8_t)(i * 131u + 7u)) peer_die("echo differs from the message");
    shutdown(fd, SHUT_WR);
    char sink;
    while (recv(fd, &sink, 1, 0) > 0) {
    }
    close(fd);
    peer_result(elapsed, cpu);
    return 0;
}

int main(int argc, char **argv) {
    peer_args a;
    peer_parse(argc, argv, &a);
    return a.server ? run_server() : run_client(&a);
}
