/* tests/test_files_memory.c: credit-based flow control bounds memory on both sides whatever
 * the speeds. A sender streams 64 MiB to a receiver whose sink is always the
 * slower side; the sender's send queue, the receiver's buffer and the process's peak
 * resident size must stay within the configured bounds, far below the content's size. Alone
 * in its executable so that the process's peak RSS (getrusage) measures this transfer only. */
#include "support/tfsupport.h"
#include "support/tffiles.h"

#include <sys/resource.h>

/* ASan keeps freed memory in quarantine, so the process's resident size says nothing about
 * what the library holds there; the library's own counters are checked in every build. */
#if defined(__SANITIZE_ADDRESS__)
#define TFF_RSS_MEANINGFUL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TFF_RSS_MEANINGFUL 0
#endif
#endif
#ifndef TFF_RSS_MEANINGFUL
#define TFF_RSS_MEANINGFUL 1
#endif

#define MiB (1024 * 1024)
#define TOTAL (64 * MiB)
#define WINDOW (1 * MiB)
#define QUEUE (256 * 1024)

typedef struct gen {
    uint64_t at;
} gen_t;

static long gen_read(void *arg, tf_file_t *f, void *buf, size_t len)
{
    (void)f;
    gen_t *g = (gen_t *)arg;
    size_t n = TOTAL - g->at < len ? (size_t)(TOTAL - g->at) : len;
    tff_fill((uint8_t *)buf, n, 5, g->at);
    g->at += n;
    return (long)n;
}

typedef struct slow {
    uint64_t at, budget;
    int bad;
} slow_t;

static long slow_write(void *arg, tf_file_t *f, const void *data, size_t len)
{
    (void)f;
    slow_t *s = (slow_t *)arg;
    size_t n = len < s->budget ? len : (size_t)s->budget;
    if (!tff_same((const uint8_t *)data, n, 5, s->at))
        s->bad++;
    s->at += n;
    s->budget -= n;
    return (long)n;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_slow_receiver_bounded_memory(void **state)
{
    (void)state;
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_FILE_WINDOW, WINDOW);
    tfs_opt(co, TRUFLUX_OPT_FILE_QUEUE, QUEUE);
    tff_pair_t p;
    tff_pair_start(&p, so, co);
    truflux_options_free(so);
    truflux_options_free(co);

    gen_t g = { 0 };
    tf_file_io_t io = TRUFLUX_FILE_IO_INIT;
    io.arg = &g;
    io.read = gen_read;
    tf_file_t *out = NULL;
    assert_int_equal(tf_file_send_stream(p.cconn, &io, "big", TOTAL, &out), 0);
    TFS_WAIT(p.loop, p.sf.offers == 1, TFS_WAIT_MS);
    assert_int_equal(p.sf.offers, 1);
    tf_file_t *in = p.sf.offered[0];
    slow_t s = { 0, 0, 0 };
    tf_file_io_t sink = TRUFLUX_FILE_IO_INIT;
    sink.arg = &s;
    sink.write = slow_write;
    assert_int_equal(tf_file_accept_stream(in, &sink), 0);

    long rss_before = peak_rss_kib();
    uint64_t max_queued = 0, max_buffered = 0, max_credit = 0;
    int64_t start = tfs_now_ms(), deadline = start + 60000;
    uint64_t sent = 0;
    while (p.sf.ends == 0 && tfs_now_ms() < deadline) {
        /* The sink is slower than the sender whatever the machine's speed: it takes a slice
         * only once the sender has filled half the window, or has sent everything. */
        tf_file_stats_t rs;
        memset(&rs, 0, sizeof rs);
        rs.size = sizeof rs;
        assert_int_equal(tf_file_stats(in, &rs), 0);
        s.budget = rs.buffered >= WINDOW / 2 || sent == TOTAL ? 256 * 1024 : 0;
        tf_file_wake(in);
        tfs_pump_once(p.loop, 2);
        tf_conn_stats_t cs;
        memset(&cs, 0, sizeof cs);
        cs.size = sizeof cs;
        assert_int_equal(tf_conn_stats(p.cconn, &cs), 0);
        if (cs.queued > max_queued)
            max_queued = cs.queued;
        tf_file_stats_t fs;
        memset(&fs, 0, sizeof fs);
        fs.size = sizeof fs;
        assert_int_equal(tf_file_stats(in, &fs), 0);
        if (fs.buffered > max_buffered)
            max_buffered = fs.buffered;
        memset(&fs, 0, sizeof fs);
        fs.size = sizeof fs;
        assert_int_equal(tf_file_stats(out, &fs), 0);
        if (fs.credit > max_credit)
            max_credit = fs.credit;
        sent = fs.position;
    }
    long rss_after = peak_rss_kib();
    if (p.cf.max_queued > max_queued)
        max_queued = p.cf.max_queued;
    TFS_WAIT(p.loop, p.cf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(p.sf.ends, 1);
    assert_int_equal(p.cf.ends, 1);
    assert_int_equal(p.sf.end_status[0], 0);
    assert_int_equal(p.cf.end_status[0], 0);
    assert_int_equal(s.at, TOTAL);
    assert_int_equal(s.bad, 0);

    tf_file_stats_t fin;
    memset(&fin, 0, sizeof fin);
    fin.size = sizeof fin;
    assert_int_equal(tf_file_stats(in, &fin), 0);
    fprintf(stderr,
            "  64 MiB in %lld ms: sender queue peak %llu KiB, receiver buffer peak %llu KiB, "
            "sender credit peak %llu KiB, peak RSS +%ld KiB\n",
            (long long)(tfs_now_ms() - start), (unsigned long long)max_queued / 1024,
            (unsigned long long)fin.peak_buffered / 1024, (unsigned long long)max_credit / 1024,
            rss_after - rss_before);
    /* The receiver was the slow side: data waited for its sink, within the window. */
    assert_true(fin.peak_buffered >= WINDOW / 2);
    assert_true(fin.peak_buffered <= WINDOW);
    assert_true(max_buffered <= WINDOW);
    assert_true(max_credit <= WINDOW);
    /* The sender never queued more than its bound (plus the chunk that crossed it and a
     * few small control frames). */
    assert_true(max_queued <= QUEUE + 65536 + 9 + 1024);
    /* Neither side held the content: the process grew by a few MiB at most. */
    if (TFF_RSS_MEANINGFUL)
        assert_true(rss_after - rss_before < 16 * 1024);
    tf_file_release(out);
    tff_pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_receiver_bounded_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
