/* tools/bench/floor/file_floor.c: the loopback floor of a file transfer. The least a program
 * can do to move a file from one process to another over TCP and into a file there: the
 * plain floor hands the file to sendfile(2) and the receiver read(2)s it into a page-aligned
 * buffer and write(2)s it out; the encrypted floors (built with aead_mbedtls.c or
 * aead_openssl.c) read, seal and writev 64 KiB records of a 4-octet length, the ciphertext
 * and the AES-256-GCM tag, and the receiver opens and writes each. No checksum, no flow
 * control, no framing beyond the record: a file transfer of any protocol is compared with
 * this one (`truflux bench --files`).
 *
 *   PROG server --dir DIR            prints "READY <port>", receives one file into DIR/floor.bin,
 *                                    answers one octet once it is written, prints "CPU <s>".
 *   PROG client --port P --size S --count 1 --file PATH
 *                                    sends the S octets of PATH, waits for the answer, prints
 *                                    "RESULT <elapsed s> <CPU s>" (peer_common.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../peer_common.h"
#include "aead.h"
#include "io.h"

#define RECORD (64 * 1024)
#define RECV_BUF (256 * 1024)

/* Fixed key: the floor measures the cipher's cost, it protects nothing. */
static const uint8_t key[32] = {7, 1, 4, 2, 8, 5, 7, 1, 4, 2, 8, 5, 7, 1, 4, 2,
                                8, 5, 7, 1, 4, 2, 8, 5, 7, 1, 4, 2, 8, 5, 7, 1};

static void write_full(int fd, const uint8_t *p, size_t len) {
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) peer_die("write failed");
        p += n;
        len -= (size_t)n;
    }
}

static uint8_t *aligned(size_t len) {
    void *p = NULL;
    if (posix_memalign(&p, PEER_PAGE, len) != 0) peer_die("out of memory");
    return p;
}

static int run_server(const peer_args *a) {
    const char *dir = peer_opt(a, "dir", NULL);
    if (!dir) peer_die("server needs --dir");
    char path[4096];
    snprintf(path, sizeof path, "%s/floor.bin", dir);
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
    uint8_t hdr[8];
    if (floor_read_full(fd, hdr, 8) != 1) peer_die("no size");
    double cpu0 = peer_cpu();
    uint64_t size = 0;
    for (int i = 0; i < 8; i++) size = size << 8 | hdr[i];
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) peer_die("cannot create the file");
    size_t taglen = floor_aead_tag();
    floor_aead *rx = floor_aead_new(key);
    if (!rx) peer_die("cipher setup failed");
    uint8_t *buf = aligned(taglen ? RECORD : RECV_BUF), tag[FLOOR_TAG];
    uint64_t got = 0, n_in = 0;
    while (got < size) {
        size_t len;
        if (taglen) {
            uint8_t h[4];
            if (floor_read_full(fd, h, 4) != 1) peer_die("short file");
            len = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
            if (len > RECORD || len > size - got) peer_die("bad record");
            if (floor_read_full(fd, buf, len) != 1 || floor_read_full(fd, tag, taglen) != 1)
                peer_die("short record");
            if (floor_aead_open(rx, n_in++, buf, len, tag) != 0) peer_die("record failed authentication");
        } else {
            size_t want = size - got < RECV_BUF ? (size_t)(size - got) : RECV_BUF;
            ssize_t n = recv(fd, buf, want, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) peer_die("short file");
            len = (size_t)n;
        }
        write_full(out, buf, len);
        got += len;
    }
    if (close(out) != 0) peer_die("close failed");
    uint8_t ok = 1;
    write_full(fd, &ok, 1);
    peer_server_cpu(peer_cpu() - cpu0);
    char sink;
    while (recv(fd, &sink, 1, 0) > 0) {
    }
    close(fd);
    return 0;
}

static int run_client(const peer_args *a) {
    const char *file = peer_opt(a, "file", NULL);
    if (!file) peer_die("client needs --file");
    int in = open(file, O_RDONLY | O_CLOEXEC);
    if (in < 0) peer_die("cannot open the file");
    uint64_t size = (uint64_t)a->size;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)a->port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) peer_die("connect failed");
    size_t taglen = floor_aead_tag();
    floor_aead *tx = floor_aead_new(key);
    if (!tx) peer_die("cipher setup failed");
    uint8_t *buf = aligned(RECORD), tag[FLOOR_TAG];
    double cpu0 = peer_cpu(), t0 = peer_now();
    uint8_t hdr[8];
    for (int i = 0; i < 8; i++) hdr[i] = (uint8_t)(size >> (56 - 8 * i));
    write_full(fd, hdr, 8);
    uint64_t sent = 0, n_out = 0;
    while (sent < size) {
        if (!taglen) {
            off_t off = (off_t)sent;
            ssize_t n = sendfile(fd, in, &off, (size_t)(size - sent));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) peer_die("sendfile failed");
            sent += (uint64_t)n;
            continue;
        }
        size_t len = size - sent < RECORD ? (size_t)(size - sent) : RECORD;
        ssize_t n = pread(in, buf, len, (off_t)sent);
        if (n != (ssize_t)len) peer_die("short read of the file");
        if (floor_aead_seal(tx, n_out++, buf, len, tag) != 0) peer_die("seal failed");
        uint8_t h[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
        struct iovec iov[3] = {{h, 4}, {buf, len}, {tag, taglen}};
        if (floor_writev_full(fd, iov, 3) != 0) peer_die("writev failed");
        sent += len;
    }
    uint8_t ok;
    if (floor_read_full(fd, &ok, 1) != 1) peer_die("no answer");
    double elapsed = peer_now() - t0, cpu = peer_cpu() - cpu0;
    close(fd);
    close(in);
    peer_result(elapsed, cpu);
    return 0;
}

int main(int argc, char **argv) {
    peer_args a;
    peer_parse(argc, argv, &a);
    return a.server ? run_server(&a) : run_client(&a);
}
