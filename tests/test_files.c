/* tests/test_files.c: file transfers over real loopback sockets, through the public API:
 * whole files and streams in both directions, several at once, messages flowing beside
 * them, integrity, resume after a dropped connection, and the controls (pause, resume,
 * cancel, decline) from either side. Hostile peers are in test_files_hostile.c, the memory
 * bound in test_files_memory.c. */
#include "support/tfsupport.h"
#include "support/tffiles.h"

#include <pthread.h>

#define MiB (1024 * 1024)

static char g_dir[64], g_src[64], g_dst[64];

static int setup(void **state)
{
    (void)state;
    tff_tempdir(g_dir);
    snprintf(g_src, sizeof g_src, "%s/src", g_dir);
    snprintf(g_dst, sizeof g_dst, "%s/dst", g_dir);
    if (mkdir(g_src, 0700) != 0 || mkdir(g_dst, 0700) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tff_rmtree(g_dir);
    return 0;
}

static void src_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_src, name);
}

static void dst_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_dst, name);
}

static tf_file_stats_t stats_of(tf_file_t *f)
{
    tf_file_stats_t s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    assert_int_equal(tf_file_stats(f, &s), 0);
    return s;
}

/* ------------------------------------------------------------------------------------ */
/* A whole file, and the basics of the API                                               */

static void test_send_path(void **state)
{
    (void)state;
    char path[128], out[128];
    src_path(path, sizeof path, "a.bin");
    tff_make_file(path, 3 * MiB + 123, 1);
    tff_pair_t p;
    tff_pair_start(&p, NULL, NULL);
    p.sf.accept_dir = g_dst;

    tf_file_t *f = NULL;
    assert_int_equal(tf_file_send_path(p.cconn, path, NULL, &f), 0);
    assert_non_null(f);
    assert_string_equal(tf_file_name(f), "a.bin");
    assert_int_equal(tf_file_size(f), 3 * MiB + 123);
    assert_int_equal(tf_file_is_incoming(f), 0);
    assert_int_equal(tf_file_is_stream(f), 0);
    assert_true(tf_file_conn(f) == p.cconn);
    assert_int_equal(tf_file_id(f) & 1, 1); /* the client's ids are odd */

    TFS_WAIT(p.loop, p.cf.ends == 1 && p.sf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(p.sf.offers, 1);
    assert_int_equal(p.sf.accept_rc, 0);
    assert_int_equal(p.cf.accepts, 1);
    assert_int_equal(p.cf.ends, 1);
    assert_int_equal(p.cf.end_status[0], 0);
    assert_int_equal(p.sf.end_status[0], 0);
    assert_int_equal(p.cf.errors + p.sf.errors, 0);

    /* The receiver's view of the transfer. */
    tf_file_t *in = p.sf.offered[0];
    assert_string_equal(tf_file_name(in), "a.bin");
    assert_int_equal(tf_file_size(in), 3 * MiB + 123);
    assert_int_equal(tf_file_is_incoming(in), 1);
    assert_int_equal(tf_file_id(in), tf_file_id(f));
    tf_file_stats_t rs = stats_of(in);
    assert_int_equal(rs.position, 3 * MiB + 123);
    assert_int_equal(rs.offset, 0);

    /* On plain TCP the content went through sendfile(2). */
    tf_file_stats_t ss = stats_of(f);
    assert_int_equal(ss.position, 3 * MiB + 123);
    assert_int_equal(ss.zero_copy, 3 * MiB + 123);
    assert_true(p.cf.progress_calls > 0 && p.sf.progress_calls > 0);
    assert_int_equal(p.sf.last_progress, 3 * MiB + 123);

    dst_path(out, sizeof out, "a.bin");
    assert_true(tff_check_file(out, 3 * MiB + 123, 1));
    /* Nothing else in the directory: the temporary file became the final one. */
    assert_int_equal(tff_count_entries(g_dst, NULL), 1);

    /* Operations on an ended transfer. */
    assert_int_equal(tf_file_cancel(f), TRUFLUX_ECLOSED);
    assert_int_equal(tf_file_pause(f), TRUFLUX_ECLOSED);
    assert_int_equal(tf_file_accept_dir(in, g_dst), TRUFLUX_ECLOSED);
    tf_file_release(f);
    tff_pair_free(&p);
    unlink(out);
}

static void test_empty_file_and_explicit_name(void **state)
{
    (void)state;
    char path[128], out[128];
    src_path(path, sizeof path, "empty");
    tff_make_file(path, 0, 2);
    tff_pair_t p;
    tff_pair_start(&p, NULL, NULL);
    p.sf.accept_dir = g_dst;
    assert_int_equal(tf_file_send_path(p.cconn, path, "renamed.txt", NULL), 0);
    TFS_WAIT(p.loop, p.cf.ends == 1 && p.sf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(p.cf.end_status[0], 0);
    assert_int_equal(p.sf.end_status[0], 0);
    dst_path(out, sizeof out, "renamed.txt");
    assert_true(tff_check_file(out, 0, 2));
    /* Names that are not one safe path component are refused before anything is sent. */
    assert_int_equal(tf_file_send_path(p.cconn, path, "../x", NULL), TRUFLUX_EFILENAME);
    assert_int_equal(tf_file_send_path(p.cconn, path, "a/b", NULL), TRUFLUX_EFILENAME);
    assert_int_equal(tf_file_send_path(p.cconn, path, "", NULL), TRUFLUX_EFILENAME);
    assert_int_equal(tf_file_send_path(p.cconn, "/nonexistent/x", NULL, NULL), TRUFLUX_ENOTFOUND);
    assert_int_equal(tf_file_send_path(p.cconn, g_src, NULL, NULL), TRUFLUX_EIO);
    char fifo[128];
    src_path(fifo, sizeof fifo, "fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* Refused at once, not after waiting for a writer (tf_file_send_fd takes pipes). */
    assert_int_equal(tf_file_send_path(p.cconn, fifo, NULL, NULL), TRUFLUX_EIO);
    unlink(fifo);
    assert_int_equal(tf_file_send_path(NULL, path, NULL, NULL), TRUFLUX_EINVAL);
    tff_pair_free(&p);
    unlink(out);
}

static void test_files_need_both_sides(void **state)
{
    (void)state;
    char path[128];
    src_path(path, sizeof path, "x");
    tff_make_file(path, 10, 3);
    /* The server has files, the client does not: neither may send. */
    tff_pair_t p;
    tff_pair_start_ex(&p, NULL, NULL, 1, 0, 0);
    assert_int_equal(tf_file_send_path(p.cconn, path, NULL, NULL), TRUFLUX_ENOTSUP);
    assert_int_equal(tf_file_send_path(p.sconn, path, NULL, NULL), TRUFLUX_ENOTSUP);
    tff_pair_free(&p);
}

/* ------------------------------------------------------------------------------------ */
/* Streams: callback and pipe sources, callback and descriptor sinks                    */

typedef struct gen {
    uint32_t seed;
    uint64_t at, limit;   /* bytes produced so far, and where the stream ends */
    uint64_t stall_at;    /* return EAGAIN once at this position (0: never) */
    int stalled, closes, close_status;
} gen_t;

static long gen_read(void *arg, tf_file_t *f, void *buf, size_t len)
{
    (void)f;
    gen_t *g = (gen_t *)arg;
    if (g->stall_at && g->at >= g->stall_at && !g->stalled) {
        g->stalled = 1;
        return TRUFLUX_EAGAIN;
    }
    uint64_t left = g->limit - g->at;
    size_t n = left < len ? (size_t)left : len;
    tff_fill((uint8_t *)buf, n, g->seed, g->at);
    g->at += n;
    return (long)n;
}

static void gen_close(void *arg, tf_file_t *f, int status)
{
    (void)f;
    gen_t *g = (gen_t *)arg;
    g->closes++;
    g->close_status = status;
}

typedef struct check {
    uint32_t seed;
    uint64_t at;
    int bad, closes, close_status;
    size_t max_take; /* a slow sink takes at most this per call (0: all) */
    uint64_t budget; /* and at most this in total until refilled (UINT64_MAX: no limit) */
} check_t;

static long check_write(void *arg, tf_file_t *f, const void *data, size_t len)
{
    (void)f;
    check_t *c = (check_t *)arg;
    size_t n = len;
    if (c->max_take && n > c->max_take)
        n = c->max_take;
    if (n > c->budget)
        n = (size_t)c->budget;
    c->budget -= n;
    if (!tff_same((const uint8_t *)data, n, c->seed, c->at))
        c->bad++;
    c->at += n;
    return (long)n;
}

static void check_close(void *arg, tf_file_t *f, int status)
{
    (void)f;
    check_t *c = (check_t *)arg;
    c->closes++;
    c->close_status = status;
}

static void test_stream_unknown_length(void **state)
{
    (void)state;
    tff_pair_t p;
    tff_pair_start(&p, NULL, NULL);
    gen_t g = { 7, 0, 5 * MiB + 17, 1 * MiB, 0, 0, 0 };
    tf_file_io_t io = TRUFLUX_FILE_IO_INIT;
    io.arg = &g;
    io.read = gen_read;
    io.close = gen_close;
    tf_file_t *f = NULL;
    /* The server sends this time. */
    assert_int_equal(tf_file_send_stream(p.sconn, &io, "stream.bin", TRUFLUX_FILE_SIZE_UNKNOWN, &f),
                     0);
    assert_int_equal(tf_file_id(f) & 1, 0); /* the server's ids are even */
    assert_int_equal(tf_file_is_stream(f), 1);
    TFS_WAIT(p.loop, p.cf.offers == 1, TFS_WAIT_MS);
    assert_int_equal(p.cf.offers, 1);
    tf_file_t *in = p.cf.offered[0];
    assert_int_equal(tf_file_is_stream(in), 1);
    assert_int_equal(tf_file_size(in), TRUFLUX_FILE_SIZE_UNKNOWN);
    check_t c = { 7, 0, 0, 0, 0, 0, UINT64_MAX };
    tf_file_io_t sink = TRUFLUX_FILE_IO_INIT;
    sink.arg = &c;
    sink.write = check_write;
    sink.close = check_close;
    assert_int_equal(tf_file_accept_stream(in, &sink), 0);

    /* The source stalls once (EAGAIN); tf_file_wake gets it going again. */
    TFS_WAIT(p.loop, g.stalled, TFS_WAIT_MS);
    assert_true(g.stalled);
    tfs_pump_for(p.loop, 20);
    assert_int_equal(p.sf.ends, 0);
    assert_int_equal(tf_file_wake(f), 0);

    TFS_WAIT(p.loop, p.cf.ends == 1 && p.sf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(p.sf.end_status[0], 0);
    assert_int_equal(p.cf.end_status[0], 0);
    assert_int_equal(c.at, 5 * MiB + 17);
    assert_int_equal(c.bad, 0);
    /* Each io's close ran exactly once, with on_end's status. */
    assert_int_equal(g.closes, 1);
    assert_int_equal(c.closes, 1);
    assert_int_equal(g.close_status, 0);
    assert_int_equal(c.close_status, 0);
    tf_file_release(f);
    tff_pair_free(&p);
}

static void test_stream_shorter_than_offered(void **state)
{
    (void)state;
    tff_pair_t p;
    tff_pair_start(&p, NULL, NULL);
    gen_t g = { 8, 0, 1000, 0, 0, 0, 0 };
    tf_file_io_t io = TRUFLUX_FILE_IO_INIT;
    io.arg = &g;
    io.read = gen_read;
    io.close = gen_close;
    p.sf.accept_dir = g_dst;
    assert_int_equal(tf_file_send_stream(p.cconn, &io, "short.bin", 5000, NULL), 0);
    TFS_WAIT(p.loop, p.cf.ends == 1 && p.sf.ends == 1, TFS_WAIT_MS);
    /* The sender notices first and tells the receiver, which keeps nothing. */
    assert_int_equal(p.cf.end_status[0], TRUFLUX_EFILESIZE);
    assert_int_equal(p.sf.end_status[0], TRUFLUX_EFILESIZE);
    assert_true(tff_rec_has_error(&p.sf, TRUFLUX_EFILESIZE));
    assert_int_equal(g.closes, 1);
    assert_int_equal(g.close_status, TRUFLUX_EFILESIZE);
    assert_int_equal(tff_count_entries(g_dst, NULL), 0);
    tff_pair_free(&p);
}

static void test_pipe_source_fd_sink(void **state)
{
    (void)state;
    tff_pair_t p;
    tff_pair_start(&p, NULL, NULL);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    /* 200 KiB through a pipe: more than its buffer, so the source waits for readability. */
    const size_t total = 200 * 1024;
    uint8_t *data = (uint8_t *)malloc(total);
    assert_non_null(data);
    tff_fill(data, total, 9, 0);
    tfs_set_nonblock(fds[1]);
    assert_int_equal(tf_file_send_fd(p.cconn, fds[0], "piped", TRUFLUX_FILE_SIZE_UNKNOWN, NULL), 0);
    TFS_WAIT(p.loop, p.sf.offers == 1, TFS_WAIT_MS);
    char out[128];
    dst_path(out, sizeof out, "piped.out");
    int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(ofd >= 0);
    assert_int_equal(tf_file_accept_fd(p.sf.offered[0], ofd), 0);
    size_t sent = 0;
    int64_t deadline = tfs_now_ms() + TFS_WAIT_MS;
    while (sent < total && tfs_now_ms() < deadline) {
        ssize_t n = write(fds[1], data + sent, total - sent);
        if (n > 0)
            sent += (size_t)n;
        tfs_pump_once(p.loop, 1);
    }
    assert_int_equal(sent, total);
    close(fds[1]); /* end of the stream */
    TFS_WAIT(p.loop, p.cf.ends == 1 && p.sf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(p.cf.end_status[0], 0);
    assert_int_equal(p.sf.end_status[0], 0);
    assert_true(tff_check_file(out, total, 9));
    free(data);
    tff_pair_free(&p);
    unlink(out);
}

/* ------------------------------------------------------------------------------------ */
/* 1. Messages keep flowing while a file moves                                           */

static void test_messages_flow_during_transfer(void **state)
{
    (void)state;
    tff_pair_t p;
    tff_pair_start(&p, NULL, NULL);
    /* 64 MiB into a sink that takes at most 64 MiB/s: the transfer lasts about a second. */
    gen_t g = { 11, 0, 64 * MiB, 0, 0, 0, 0 };
    tf_file_io_t io = TRUFLUX_FILE_IO_INIT;
    io.arg = &g;
    io.read = gen_read;
    assert_int_equal(tf_file_send_stream(p.cconn, &io, "big", 64 * MiB, NULL), 0);
    TFS_WAIT(p.loop, p.sf.offers == 1, TFS_WAIT_MS);
    tf_file_t *in = p.sf.offered[0];
    check_t c = { 11, 0, 0, 0, 0, 0, 0 };
    tf_file_io_t sink = TRUFLUX_FILE_IO_INIT;
    sink.arg = &c;
    sink.write = check_write;
    assert_int_equal(tf_file_accept_stream(in, &sink), 0);

    uint32_t echo = (uint32_t)tf_protocol_id(p.proto, "echo");
    int round_trips = 0, in_flight = 0;
    int per_quarter[4] = { 0, 0, 0, 0 }; /* round trips by how far the file had got */
    int64_t sent_at = 0, worst = 0;
    int64_t start = tfs_now_ms(), deadline = start + 30000;
    while (p.sf.ends == 0 && tfs_now_ms() < deadline) {
        int64_t now = tfs_now_ms();
        c.budget = (uint64_t)(now - start + 1) * (64 * MiB / 1000) - c.at;
        tf_file_wake(in);
        if (!in_flight) {
            char msg[32];
            int n = snprintf(msg, sizeof msg, "ping %d", round_trips);
            assert_int_equal(tf_send(p.cconn, echo, TRUFLUX_TYPE_TEXT, msg, (size_t)n), 0);
            in_flight = 1;
            sent_at = now;
        }
        tfs_pump_once(p.loop, 1);
        if (in_flight && p.crec.nmsgs > (size_t)round_trips) {
            int64_t rtt = tfs_now_ms() - sent_at;
            if (rtt > worst)
                worst = rtt;
            round_trips++;
            in_flight = 0;
            uint64_t q = c.at * 4 / (64 * MiB);
            per_quarter[q > 3 ? 3 : q]++;
        }
    }
    TFS_WAIT(p.loop, p.cf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(p.sf.end_status[0], 0);
    assert_int_equal(p.cf.end_status[0], 0);
    assert_int_equal(c.bad, 0);
    int64_t took = tfs_now_ms() - start;
    fprintf(stderr,
            "  %d echo round trips during a %lld ms transfer (%d/%d/%d/%d by quarter of the "
            "file), worst %lld ms\n",
            round_trips, (long long)took, per_quarter[0], per_quarter[1], per_quarter[2],
            per_quarter[3], (long long)worst);
    /* They kept flowing: round trips completed all along the file, none waited for it to
     * finish (a message queues behind at most the window of file data, a few percent of
     * this file). Latency itself is the benchmark's business. */
    for (int q = 0; q < 4; q++)
        assert_true(per_quarter[q] >= 2);
    tff_pair_free(&p);
}

/* ------------------------------------------------------------------------------------ */
/* 3. Several transfers at once, both directions                                         */

static void test_concurrent_both_directions(void **state)
{
    (void)state;
    tff_pair_t p;
    tff_pair_start(&p, NULL, NULL);
    char cdir[96], path[128], out[160];
    snprintf(cdir, sizeof cdir, "%s/client-in", g_dir);
    assert_int_equal(mkdir(cdir, 0700), 0);
    p.sf.accept_dir = g_dst;
    p.cf.accept_dir = cdir;
    static const uint64_t sizes[3] = { 2 * MiB + 1, 700 * 1024, 3 * MiB };
    tf_file_t *files[6];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "up%d", i);
        src_path(path, sizeof path, name);
        tff_make_file(path, sizes[i], 20 + (uint32_t)i);
        assert_int_equal(tf_file_send_path(p.cconn, path, NULL, &files[i]), 0);
        snprintf(name, sizeof name, "down%d", i);
        src_path(path, sizeof path, name);
        tff_make_file(path, sizes[i], 30 + (uint32_t)i);
        assert_int_equal(tf_file_send_path(p.sconn, path, NULL, &files[3 + i]), 0);
    }
    /* Interleaved: every transfer has moved some content before any has finished. */
    int all_started = 0;
    int64_t deadline = tfs_now_ms() + TFS_WAIT_MS;
    while (p.cf.ends + p.sf.ends < 12 && tfs_now_ms() < deadline) {
        tfs_pump_once(p.loop, 5);
        if (!all_started && p.cf.ends + p.sf.ends == 0) {
            int n = 0;
            for (int i = 0; i < 6; i++)
                n += stats_of(files[i]).position > 0;
            all_started = n == 6;
        }
    }
    assert_int_equal(p.cf.ends, 6);
    assert_int_equal(p.sf.ends, 6);
    assert_true(all_started);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(p.cf.end_status[i], 0);
        assert_int_equal(p.sf.end_status[i], 0);
    }
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "up%d", i);
        dst_path(out, sizeof out, name);
        assert_true(tff_check_file(out, sizes[i], 20 + (uint32_t)i));
        snprintf(out, sizeof out, "%s/down%d", cdir, i);
        assert_true(tff_check_file(out, sizes[i], 30 + (uint32_t)i));
    }
    for (int i = 0; i < 6; i++)
        tf_file_release(files[i]);
    tff_pair_free(&p);
    tff_rmtree(cdir);
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "up%d", i);
        dst_path(out, sizeof out, name);
        unlink(out);
    }
}

/* ------------------------------------------------------------------------------------ */
/* 4. Integrity: never a partial file under the final name                               */

static void test_partial_never_under_final_name(void **state)
{
    (void)state;
    char path[128], out[128];
    src_path(path, sizeof path, "partial.bin");
    tff_make_file(path, 4 * MiB, 40);
    /* A window of 1 MiB: the receiver's pause stops the sender well before the end. */
    tf_options_t *o = tfs_options();
    tfs_opt(o, TRUFLUX_OPT_FILE_WINDOW, 1 * MiB);
    tff_pair_t p;
    tff_pair_start(&p, o, NULL);
    truflux_options_free(o);
    p.sf.accept_dir = g_dst;
    p.sf.pause_at = 1 * MiB; /* the receiver pauses part way */
    assert_int_equal(tf_file_send_path(p.cconn, path, NULL, NULL), 0);
    TFS_WAIT(p.loop, p.cf.pauses == 1, TFS_WAIT_MS);
    assert_int_equal(p.cf.pauses, 1);
    tfs_pump_for(p.loop, 50);
    tf_file_t *in = p.sf.offered[0];
    assert_int_equal(tf_file_is_paused(in), 1);
    uint64_t at = stats_of(in).position;
    assert_true(at >= 1 * MiB && at < 4 * MiB);
    /* Part of the content is on disk, under the temporary name only. */
    dst_path(out, sizeof out, "partial.bin");
    assert_false(tff_exists(out));
    assert_int_equal(tff_count_entries(g_dst, ".tfpart-"), 1);
    assert_int_equal(tf_file_resume(in), 0);
    TFS_WAIT(p.loop, p.cf.ends == 1 && p.sf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(p.cf.resumes, 1);
    assert_int_equal(p.sf.end_status[0], 0);
    assert_true(tff_check_file(out, 4 * MiB, 40));
    assert_int_equal(tff_count_entries(g_dst, ".tfpart-"), 0);
    tff_pair_free(&p);
    unlink(out);
}

/* ------------------------------------------------------------------------------------ */
/* 5. Resume after a dropped connection                                                  */

static void test_resume_after_drop(void **state)
{
    (void)state;
    char path[128], out[128], url[64];
    src_path(path, sizeof path, "resume.bin");
    tff_make_file(path, 8 * MiB + 5, 50);
    tf_options_t *o = tfs_options();
    tfs_opt(o, TRUFLUX_OPT_FILE_WINDOW, 1 * MiB);
    tff_pair_t p;
    tff_pair_start(&p, o, NULL);
    truflux_options_free(o);
    p.sf.accept_dir = g_dst;
    p.sf.pause_at = 3 * MiB;
    assert_int_equal(tf_file_send_path(p.cconn, path, NULL, NULL), 0);
    TFS_WAIT(p.loop, p.cf.pauses == 1, TFS_WAIT_MS);
    assert_int_equal(p.cf.pauses, 1);
    tfs_pump_for(p.loop, 50);
    uint64_t had = stats_of(p.sf.offered[0]).position;
    assert_true(had >= 3 * MiB);

    /* The connection drops: both transfers end with the connection's reason. */
    assert_int_equal(tf_conn_close(p.cconn, TRUFLUX_CLOSE_FORCE, 0), 0);
    TFS_WAIT(p.loop, p.cf.ends == 1 && p.sf.ends == 1, TFS_WAIT_MS);
    assert_int_not_equal(p.cf.end_status[0], 0);
    assert_int_not_equal(p.sf.end_status[0], 0);
    dst_path(out, sizeof out, "resume.bin");
    assert_false(tff_exists(out));
    assert_int_equal(tff_count_entries(g_dst, ".tfpart-"), 1);

    /* A new connection offers the same file again: it resumes where the receiver was. */
    tf_client_t *c2 = truflux_client_new(p.loop, p.proto, NULL);
    assert_non_null(c2);
    tfs_rec_t r2;
    tfs_rec_init(&r2, "client2");
    tff_rec_t f2;
    tff_rec_init(&f2, "client2");
    tf_callbacks_t cb = tfs_rec_callbacks(&r2);
    tf_file_callbacks_t fcb = tff_callbacks(&f2);
    assert_int_equal(tf_client_set_callbacks(c2, &cb), 0);
    assert_int_equal(tf_client_set_file_callbacks(c2, &fcb), 0);
    assert_int_equal(tf_client_connect(c2, tfs_url(url, sizeof url, p.port)), 0);
    TFS_WAIT(p.loop, r2.opens == 1, TFS_WAIT_MS);
    assert_int_equal(r2.opens, 1);
    p.sf.pause_at = 0;
    tf_file_t *f = NULL;
    assert_int_equal(tf_file_send_path(r2.conns[0], path, NULL, &f), 0);
    TFS_WAIT(p.loop, f2.ends == 1 && p.sf.ends == 2, TFS_WAIT_MS);
    assert_int_equal(f2.end_status[0], 0);
    assert_int_equal(p.sf.end_status[1], 0);
    tf_file_stats_t s = stats_of(f);
    assert_true(s.offset >= had && s.offset < 8 * MiB + 5);
    assert_int_equal(stats_of(p.sf.offered[1]).offset, s.offset);
    /* Only the rest moved, and the checksum (over the whole content) held. */
    assert_true(tff_check_file(out, 8 * MiB + 5, 50));
    assert_int_equal(tff_count_entries(g_dst, ".tfpart-"), 0);
    tf_file_release(f);
    tff_rec_free(&f2);
    tfs_rec_free(&r2);
    truflux_client_free(c2);
    tff_pair_free(&p);
    unlink(out);
}

/* ------------------------------------------------------------------------------------ */
/* 6. Controls from either side                                                          */

/* Starts a transfer of `size` bytes (stream seed 60) from `from` to the other side, which
 * accepts it into a slow sink; returns the sender's handle and the receiver's. */
typedef struct ctl {
    tff_pair_t p;
    gen_t g;
    check_t c;
    tf_file_t *out, *in;
    int client_sends;
} ctl_t;

static void ctl_start(ctl_t *x, int client_sends)
{
    memset(x, 0, sizeof *x);
    tff_pair_start(&x->p, NULL, NULL);
    x->client_sends = client_sends;
    x->g.seed = 60;
    x->g.limit = 4 * MiB;
    x->c.seed = 60;
    x->c.budget = 256 * 1024; /* the sink takes 256 KiB, then waits for the test */
    tf_file_io_t io = TRUFLUX_FILE_IO_INIT;
    io.arg = &x->g;
    io.read = gen_read;
    tf_conn_t *from = client_sends ? x->p.cconn : x->p.sconn;
    tff_rec_t *rx = client_sends ? &x->p.sf : &x->p.cf;
    assert_int_equal(tf_file_send_stream(from, &io, "ctl.bin", 4 * MiB, &x->out), 0);
    TFS_WAIT(x->p.loop, rx->offers == 1, TFS_WAIT_MS);
    assert_int_equal(rx->offers, 1);
    x->in = rx->offered[0];
    tf_file_io_t sink = TRUFLUX_FILE_IO_INIT;
    sink.arg = &x->c;
    sink.write = check_write;
    assert_int_equal(tf_file_accept_stream(x->in, &sink), 0);
    TFS_WAIT(x->p.loop, x->c.at == 256 * 1024, TFS_WAIT_MS);
    assert_int_equal(x->c.at, 256 * 1024);
}

static tff_rec_t *ctl_sender(ctl_t *x) { return x->client_sends ? &x->p.cf : &x->p.sf; }
static tff_rec_t *ctl_receiver(ctl_t *x) { return x->client_sends ? &x->p.sf : &x->p.cf; }

static void ctl_finish(ctl_t *x)
{
    x->c.budget = UINT64_MAX;
    tf_file_wake(x->in);
    TFS_WAIT(x->p.loop, ctl_sender(x)->ends == 1 && ctl_receiver(x)->ends == 1, TFS_WAIT_MS);
    assert_int_equal(ctl_sender(x)->end_status[0], 0);
    assert_int_equal(ctl_receiver(x)->end_status[0], 0);
    assert_int_equal(x->c.at, 4 * MiB);
    assert_int_equal(x->c.bad, 0);
}

static void ctl_free(ctl_t *x)
{
    tf_file_release(x->out);
    tff_pair_free(&x->p);
}

static void check_pause_resume(int client_sends, int by_receiver)
{
    ctl_t x;
    ctl_start(&x, client_sends);
    tf_file_t *actor = by_receiver ? x.in : x.out;
    tff_rec_t *other = by_receiver ? ctl_sender(&x) : ctl_receiver(&x);
    tff_rec_t *self = by_receiver ? ctl_receiver(&x) : ctl_sender(&x);
    assert_int_equal(tf_file_pause(actor), 0);
    assert_int_equal(tf_file_pause(actor), 0); /* already paused: no second event */
    TFS_WAIT(x.p.loop, other->pauses == 1, TFS_WAIT_MS);
    assert_int_equal(other->pauses, 1);
    assert_int_equal(self->pauses, 0);
    assert_int_equal(tf_file_is_paused(x.in), 1);
    assert_int_equal(tf_file_is_paused(x.out), 1);
    /* While paused nothing moves, even with room in the sink. */
    x.c.budget = UINT64_MAX;
    tf_file_wake(x.in);
    tfs_pump_for(x.p.loop, 30);
    uint64_t pos = stats_of(x.out).position;
    tfs_pump_for(x.p.loop, 100);
    assert_int_equal(stats_of(x.out).position, pos);
    assert_true(pos < 4 * MiB);
    assert_int_equal(tf_file_resume(actor), 0);
    TFS_WAIT(x.p.loop, other->resumes == 1, TFS_WAIT_MS);
    assert_int_equal(other->resumes, 1);
    assert_int_equal(self->resumes, 0);
    ctl_finish(&x);
    ctl_free(&x);
}

static void test_pause_resume_by_receiver(void **state)
{
    (void)state;
    check_pause_resume(1, 1);
    check_pause_resume(0, 1);
}

static void test_pause_resume_by_sender(void **state)
{
    (void)state;
    check_pause_resume(1, 0);
    check_pause_resume(0, 0);
}

static void check_cancel(int client_sends, int by_receiver)
{
    ctl_t x;
    ctl_start(&x, client_sends);
    tf_file_t *actor = by_receiver ? x.in : x.out;
    tff_rec_t *other = by_receiver ? ctl_sender(&x) : ctl_receiver(&x);
    tff_rec_t *self = by_receiver ? ctl_receiver(&x) : ctl_sender(&x);
    assert_int_equal(tf_file_cancel(actor), 0);
    assert_int_equal(tf_file_cancel(actor), TRUFLUX_ECLOSED);
    TFS_WAIT(x.p.loop, other->ends == 1 && self->ends == 1, TFS_WAIT_MS);
    assert_int_equal(other->cancels, 1);
    assert_int_equal(self->cancels, 0);
    assert_int_equal(other->end_status[0], TRUFLUX_ECANCELED);
    assert_int_equal(self->end_status[0], TRUFLUX_ECANCELED);
    /* The connection carries on: a message still goes round. */
    uint32_t echo = (uint32_t)tf_protocol_id(x.p.proto, "echo");
    assert_int_equal(tf_send(x.p.cconn, echo, TRUFLUX_TYPE_EMPTY, NULL, 0), 0);
    TFS_WAIT(x.p.loop, x.p.crec.nmsgs == 1, TFS_WAIT_MS);
    assert_int_equal(x.p.crec.nmsgs, 1);
    assert_int_equal(tf_conn_is_open(x.p.cconn), 1);
    ctl_free(&x);
}

static void test_cancel_by_receiver(void **state)
{
    (void)state;
    check_cancel(1, 1);
    check_cancel(0, 1);
}

static void test_cancel_by_sender(void **state)
{
    (void)state;
    check_cancel(1, 0);
    check_cancel(0, 0);
}

static void test_cancel_removes_partial(void **state)
{
    (void)state;
    char path[128];
    src_path(path, sizeof path, "cancelled.bin");
    tff_make_file(path, 4 * MiB, 41);
    tf_options_t *o = tfs_options();
    tfs_opt(o, TRUFLUX_OPT_FILE_WINDOW, 1 * MiB);
    tff_pair_t p;
    tff_pair_start(&p, o, NULL);
    truflux_options_free(o);
    p.sf.accept_dir = g_dst;
    p.sf.pause_at = 1 * MiB;
    tf_file_t *f;
    assert_int_equal(tf_file_send_path(p.cconn, path, NULL, &f), 0);
    TFS_WAIT(p.loop, p.cf.pauses == 1, TFS_WAIT_MS);
    assert_int_equal(tff_count_entries(g_dst, ".tfpart-"), 1);
    assert_int_equal(tf_file_cancel(f), 0);
    TFS_WAIT(p.loop, p.sf.ends == 1 && p.cf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(p.sf.cancels, 1);
    assert_int_equal(p.sf.end_status[0], TRUFLUX_ECANCELED);
    assert_int_equal(tff_count_entries(g_dst, NULL), 0);
    tf_file_release(f);
    tff_pair_free(&p);
}

static void check_decline(int client_sends)
{
    tff_pair_t p;
    tff_pair_start(&p, NULL, NULL);
    char path[128];
    src_path(path, sizeof path, "declined.bin");
    tff_make_file(path, 1000, 70);
    tff_rec_t *rx = client_sends ? &p.sf : &p.cf;
    tff_rec_t *tx = client_sends ? &p.cf : &p.sf;
    tf_file_t *f;
    assert_int_equal(tf_file_send_path(client_sends ? p.cconn : p.sconn, path, NULL, &f), 0);
    TFS_WAIT(p.loop, rx->offers == 1, TFS_WAIT_MS);
    assert_int_equal(rx->offers, 1);
    /* The offer waits for the application's answer, here given after the callback. */
    tfs_pump_for(p.loop, 20);
    assert_int_equal(tx->accepts + tx->declines + tx->ends, 0);
    assert_int_equal(tf_file_decline(rx->offered[0]), 0);
    assert_int_equal(tf_file_decline(rx->offered[0]), TRUFLUX_ECLOSED);
    TFS_WAIT(p.loop, tx->ends == 1 && rx->ends == 1, TFS_WAIT_MS);
    assert_int_equal(tx->declines, 1);
    assert_int_equal(tx->end_status[0], TRUFLUX_EDECLINED);
    assert_int_equal(rx->end_status[0], TRUFLUX_EDECLINED);
    assert_int_equal(tx->accepts, 0);
    tf_file_release(f);
    tff_pair_free(&p);
}

static void test_decline_both_directions(void **state)
{
    (void)state;
    check_decline(1);
    check_decline(0);
}

static void test_no_offer_callback_declines(void **state)
{
    (void)state;
    tff_pair_t p;
    tff_pair_start_ex(&p, NULL, NULL, 1, 1, 1);
    /* The server enables files without on_offer: every offer is declined. */
    tf_file_callbacks_t none = TRUFLUX_FILE_CALLBACKS_INIT;
    assert_int_equal(tf_server_set_file_callbacks(p.server, &none), 0);
    char url[64], path[128];
    p.client = truflux_client_new(p.loop, p.proto, NULL);
    tf_callbacks_t ccb = tfs_rec_callbacks(&p.crec);
    tf_file_callbacks_t fcb = tff_callbacks(&p.cf);
    assert_int_equal(tf_client_set_callbacks(p.client, &ccb), 0);
    assert_int_equal(tf_client_set_file_callbacks(p.client, &fcb), 0);
    assert_int_equal(tf_client_connect(p.client, tfs_url(url, sizeof url, p.port)), 0);
    TFS_WAIT(p.loop, p.crec.opens == 1, TFS_WAIT_MS);
    src_path(path, sizeof path, "nobody.bin");
    tff_make_file(path, 10, 71);
    assert_int_equal(tf_file_send_path(p.crec.conns[0], path, NULL, NULL), 0);
    TFS_WAIT(p.loop, p.cf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(p.cf.declines, 1);
    assert_int_equal(p.cf.end_status[0], TRUFLUX_EDECLINED);
    tff_pair_free(&p);
}

/* ------------------------------------------------------------------------------------ */
/* Connection end and freeing                                                            */

static void test_transfers_end_with_connection(void **state)
{
    (void)state;
    ctl_t x;
    ctl_start(&x, 1);
    /* The server is freed while a transfer runs: the client's transfer ends, once. */
    truflux_server_free(x.p.server);
    x.p.server = truflux_server_new(x.p.loop, x.p.proto, NULL);
    assert_non_null(x.p.server);
    TFS_WAIT(x.p.loop, x.p.cf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(x.p.cf.ends, 1);
    assert_true(x.p.cf.end_status[0] == TRUFLUX_EEOF ||
                x.p.cf.end_status[0] == TRUFLUX_ECONNRESET);
    tfs_pump_for(x.p.loop, 50);
    assert_int_equal(x.p.cf.ends, 1);
    /* The receiver's handle stays valid to query; its transfer has ended. */
    assert_int_equal(tf_file_pause(x.in), TRUFLUX_ECLOSED);
    ctl_free(&x);
}

/* ------------------------------------------------------------------------------------ */
/* The API from another thread than the loop's                                           */

typedef struct xthread {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tf_conn_t *conn;    /* the client's, retained in on_open */
    tf_file_t *offered; /* the server's incoming transfer, retained in on_offer */
    int sender_end, receiver_end, pauses, resumes;
} xthread_t;

static void xt_signal(xthread_t *x) { pthread_cond_broadcast(&x->cv); }

static void xt_open(void *user, tf_conn_t *conn)
{
    xthread_t *x = (xthread_t *)user;
    pthread_mutex_lock(&x->mu);
    x->conn = tf_conn_retain(conn);
    xt_signal(x);
    pthread_mutex_unlock(&x->mu);
}

static void xt_offer(void *user, tf_conn_t *conn, tf_file_t *f)
{
    (void)conn;
    xthread_t *x = (xthread_t *)user;
    pthread_mutex_lock(&x->mu);
    x->offered = tf_file_retain(f);
    xt_signal(x);
    pthread_mutex_unlock(&x->mu);
}

static void xt_pause(void *user, tf_file_t *f)
{
    (void)f;
    xthread_t *x = (xthread_t *)user;
    pthread_mutex_lock(&x->mu);
    x->pauses++;
    xt_signal(x);
    pthread_mutex_unlock(&x->mu);
}

static void xt_resume(void *user, tf_file_t *f)
{
    (void)f;
    xthread_t *x = (xthread_t *)user;
    pthread_mutex_lock(&x->mu);
    x->resumes++;
    xt_signal(x);
    pthread_mutex_unlock(&x->mu);
}

static void xt_end(void *user, tf_file_t *f, int status)
{
    xthread_t *x = (xthread_t *)user;
    pthread_mutex_lock(&x->mu);
    if (tf_file_is_incoming(f))
        x->receiver_end = status == 0 ? 2 : status;
    else
        x->sender_end = status == 0 ? 2 : status;
    xt_signal(x);
    pthread_mutex_unlock(&x->mu);
}

/* Waits (bounded) until cond holds, reading it under the mutex. */
#define XT_WAIT(x, cond)                                                                \
    do {                                                                                \
        struct timespec dl_;                                                            \
        clock_gettime(CLOCK_REALTIME, &dl_);                                            \
        dl_.tv_sec += 20;                                                               \
        pthread_mutex_lock(&(x)->mu);                                                   \
        while (!(cond) && pthread_cond_timedwait(&(x)->cv, &(x)->mu, &dl_) != ETIMEDOUT) { \
        }                                                                               \
        pthread_mutex_unlock(&(x)->mu);                                                 \
    } while (0)

static void test_api_from_another_thread(void **state)
{
    (void)state;
    char path[128], out[128], url[64];
    src_path(path, sizeof path, "threaded.bin");
    tff_make_file(path, 2 * MiB, 90);
    xthread_t x;
    memset(&x, 0, sizeof x);
    pthread_mutex_init(&x.mu, NULL);
    pthread_cond_init(&x.cv, NULL);
    tf_loop_t *loop = truflux_loop_new();
    tf_protocol_t *proto = tff_proto();
    tf_server_t *server = truflux_server_new(loop, proto, NULL);
    tf_client_t *client = truflux_client_new(loop, proto, NULL);
    assert_non_null(server);
    assert_non_null(client);
    tf_file_callbacks_t fcb = TRUFLUX_FILE_CALLBACKS_INIT;
    fcb.user = &x;
    fcb.on_offer = xt_offer;
    fcb.on_pause = xt_pause;
    fcb.on_resume = xt_resume;
    fcb.on_end = xt_end;
    assert_int_equal(tf_server_set_file_callbacks(server, &fcb), 0);
    assert_int_equal(tf_client_set_file_callbacks(client, &fcb), 0);
    tf_callbacks_t ccb = TRUFLUX_CALLBACKS_INIT;
    ccb.user = &x;
    ccb.on_open = xt_open;
    assert_int_equal(tf_client_set_callbacks(client, &ccb), 0);
    assert_int_equal(tf_server_listen(server, "tcp://127.0.0.1:0"), 0);
    assert_int_equal(tf_client_connect(client, tfs_url(url, sizeof url, tf_server_port(server))),
                     0);
    assert_int_equal(tf_loop_start(loop), 0);
    XT_WAIT(&x, x.conn != NULL);
    assert_non_null(x.conn);

    /* This thread offers, accepts, pauses, resumes and reads the counters; the loop's
     * thread runs everything else. */
    tf_file_t *f = NULL;
    assert_int_equal(tf_file_send_path(x.conn, path, NULL, &f), 0);
    XT_WAIT(&x, x.offered != NULL);
    assert_non_null(x.offered);
    assert_int_equal(tf_file_pause(f), 0);
    assert_int_equal(tf_file_is_paused(f), 1);
    XT_WAIT(&x, x.pauses == 1); /* the offer is still pending: nothing can have ended */
    assert_int_equal(x.pauses, 1);
    assert_int_equal(tf_file_is_paused(x.offered), 1);
    assert_int_equal(tf_file_accept_dir(x.offered, g_dst), 0);
    assert_int_equal(tf_file_resume(f), 0);
    XT_WAIT(&x, x.sender_end != 0 && x.receiver_end != 0);
    assert_int_equal(x.sender_end, 2);
    assert_int_equal(x.receiver_end, 2);
    assert_int_equal(x.resumes, 1);
    tf_file_stats_t st = stats_of(f);
    assert_int_equal(st.position, 2 * MiB);
    dst_path(out, sizeof out, "threaded.bin");
    assert_true(tff_check_file(out, 2 * MiB, 90));

    assert_int_equal(tf_loop_stop(loop), 0);
    tf_file_release(f);
    tf_file_release(x.offered);
    tf_conn_release(x.conn);
    truflux_client_free(client);
    truflux_server_free(server);
    truflux_protocol_free(proto);
    assert_int_equal(truflux_loop_free(loop), 0);
    pthread_cond_destroy(&x.cv);
    pthread_mutex_destroy(&x.mu);
    unlink(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_path),
        cmocka_unit_test(test_empty_file_and_explicit_name),
        cmocka_unit_test(test_files_need_both_sides),
        cmocka_unit_test(test_stream_unknown_length),
        cmocka_unit_test(test_stream_shorter_than_offered),
        cmocka_unit_test(test_pipe_source_fd_sink),
        cmocka_unit_test(test_messages_flow_during_transfer),
        cmocka_unit_test(test_concurrent_both_directions),
        cmocka_unit_test(test_partial_never_under_final_name),
        cmocka_unit_test(test_resume_after_drop),
        cmocka_unit_test(test_pause_resume_by_receiver),
        cmocka_unit_test(test_pause_resume_by_sender),
        cmocka_unit_test(test_cancel_by_receiver),
        cmocka_unit_test(test_cancel_by_sender),
        cmocka_unit_test(test_cancel_removes_partial),
        cmocka_unit_test(test_decline_both_directions),
        cmocka_unit_test(test_no_offer_callback_declines),
        cmocka_unit_test(test_transfers_end_with_connection),
        cmocka_unit_test(test_api_from_another_thread),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
