/* tools/bench/malloc_count.c: a heap-call counter, preloaded (LD_PRELOAD) into a benchmark
 * process by `truflux bench --allocs`. It forwards every call to glibc's own allocator
 * (the __libc_* entry points, so no dlsym bootstrap is needed) and, at exit, writes
 *   allocs N   (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc)
 *   frees N
 *   bytes N    (bytes requested)
 * to the file named by TFBENCH_MALLOC_OUT. C++'s operator new lands in malloc, so it is
 * counted too. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static atomic_ulong n_allocs, n_frees, n_bytes;

static void counted(size_t n) {
    atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&n_bytes, n, memory_order_relaxed);
}

void *malloc(size_t n) {
    counted(n);
    return __libc_malloc(n);
}

void *calloc(size_t k, size_t n) {
    counted(k * n);
    return __libc_calloc(k, n);
}

void *realloc(void *p, size_t n) {
    counted(n);
    return __libc_realloc(p, n);
}

void free(void *p) {
    if (p) atomic_fetch_add_explicit(&n_frees, 1, memory_order_relaxed);
    __libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    counted(n);
    void *p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t n) {
    counted(n);
    return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n) {
    counted(n);
    return __libc_memalign(align, n);
}

void *valloc(size_t n) {
    counted(n);
    return __libc_memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

__attribute__((destructor)) static void report(void) {
    const char *path = getenv("TFBENCH_MALLOC_OUT");
    if (!path || !*path) return;
    char buf[160];
    int len = snprintf(buf, sizeof buf, "allocs %lu\nfrees %lu\nbytes %lu\n",
                       atomic_load(&n_allocs), atomic_load(&n_frees), atomic_load(&n_bytes));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return;
    ssize_t w = write(fd, buf, (size_t)len);
    (void)w;
    close(fd);
}
