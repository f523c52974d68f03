/* tools/bench/floor/io.h: the blocking socket loops the floors share (floor.c, file_floor.c). */
#ifndef TRUFLUX_BENCH_FLOOR_IO_H
#define TRUFLUX_BENCH_FLOOR_IO_H

#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Reads exactly len bytes: 1 when done, 0 when the peer ended first, -1 on an error. */
static inline int floor_read_full(int fd, void *buf, size_t len) {
    uint8_t *p = (uint8_t *)buf;
    while (len) {
        ssize_t n = recv(fd, p, len, MSG_WAITALL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n == 0) {
            return 0;
        } else if (errno != EINTR) {
            return -1;
        }
    }
    return 1;
}

/* Writes every byte of the vectors (which it advances): 0, or -1 on an error. One system
 * call unless the kernel takes less than all. */
static inline int floor_writev_full(int fd, struct iovec *v, int nv) {
    while (nv > 0) {
        ssize_t n = writev(fd, v, nv);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        while (nv > 0 && (size_t)n >= v->iov_len) {
            n -= (ssize_t)v->iov_len;
            v++;
            nv--;
        }
        if (nv > 0) {
            v->iov_base = (uint8_t *)v->iov_base + n;
            v->iov_len -= (size_t)n;
        }
    }
    return 0;
}

#endif
