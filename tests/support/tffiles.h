/* tests/support/tffiles.h: helpers of the file-transfer tests (tests/test_files*.c), on top
 * of tfsupport.h: a recorder of file events, a server/client pair with files enabled,
 * scratch directories and files of known content, and file frames for raw peers.
 * Include after "support/tfsupport.h". Callbacks record; test bodies assert. */
#ifndef TFFILES_H
#define TFFILES_H

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>

#include <truflux/file.h>

#define TFF_MAX 64

/* Wire constants of docs/PROTOCOL.md §23, written out on purpose. */
#define TFF_OFFER 0x30
#define TFF_ACCEPT 0x31
#define TFF_DECLINE 0x32
#define TFF_PAUSE 0x33
#define TFF_RESUME 0x34
#define TFF_CANCEL 0x35
#define TFF_CHUNK 0x36
#define TFF_END 0x37
#define TFF_CREDIT 0x38
#define TFF_DONE 0x39
#define TFF_CAP_FILES 0x00000002u

/* ------------------------------------------------------------------------------------ */
/* File events                                                                           */

typedef struct tff_rec {
    const char *label;
    int offers, accepts, declines, pauses, resumes, cancels, errors, ends;
    long progress_calls;
    uint64_t last_progress;
    int error_codes[TFF_MAX];
    int end_status[TFF_MAX];
    tf_file_t *ended[TFF_MAX];   /* retained */
    tf_file_t *offered[TFF_MAX]; /* retained */
    /* What on_offer does: decline, accept into accept_dir, or leave the offer pending. */
    int decline_all;
    const char *accept_dir;
    int accept_rc;               /* result of the last automatic accept */
    /* Pause a transfer (from this side) once its progress reaches pause_at (0: never). */
    uint64_t pause_at;
    tf_file_t *paused_file;      /* the one paused that way (borrowed from offered/ended) */
    /* The largest send queue of the file's connection seen at a progress event (a sender's
     * come right after it queued a chunk, when the queue is at its fullest). */
    uint64_t max_queued;
} tff_rec_t;

static TFS_UNUSED void tff_rec_init(tff_rec_t *r, const char *label)
{
    memset(r, 0, sizeof *r);
    r->label = label;
}

static TFS_UNUSED void tff_on_offer_(void *user, tf_conn_t *conn, tf_file_t *f)
{
    (void)conn;
    tff_rec_t *r = (tff_rec_t *)user;
    if (r->offers < TFF_MAX)
        r->offered[r->offers] = tf_file_retain(f);
    r->offers++;
    if (r->decline_all)
        tf_file_decline(f);
    else if (r->accept_dir)
        r->accept_rc = tf_file_accept_dir(f, r->accept_dir);
}

static TFS_UNUSED void tff_on_accept_(void *user, tf_file_t *f)
{
    (void)f;
    ((tff_rec_t *)user)->accepts++;
}

static TFS_UNUSED void tff_on_decline_(void *user, tf_file_t *f)
{
    (void)f;
    ((tff_rec_t *)user)->declines++;
}

static TFS_UNUSED void tff_on_pause_(void *user, tf_file_t *f)
{
    (void)f;
    ((tff_rec_t *)user)->pauses++;
}

static TFS_UNUSED void tff_on_resume_(void *user, tf_file_t *f)
{
    (void)f;
    ((tff_rec_t *)user)->resumes++;
}

static TFS_UNUSED void tff_on_progress_(void *user, tf_file_t *f, uint64_t done, int64_t total)
{
    (void)total;
    tff_rec_t *r = (tff_rec_t *)user;
    r->progress_calls++;
    r->last_progress = done;
    tf_conn_stats_t cs;
    memset(&cs, 0, sizeof cs);
    cs.size = sizeof cs;
    if (tf_conn_stats(tf_file_conn(f), &cs) == 0 && cs.queued > r->max_queued)
        r->max_queued = cs.queued;
    if (r->pause_at && done >= r->pause_at && !r->paused_file) {
        r->paused_file = f;
        tf_file_pause(f);
    }
}

static TFS_UNUSED void tff_on_cancel_(void *user, tf_file_t *f)
{
    (void)f;
    ((tff_rec_t *)user)->cancels++;
}

static TFS_UNUSED void tff_on_error_(void *user, tf_file_t *f, int code, const char *detail)
{
    tff_rec_t *r = (tff_rec_t *)user;
    if (getenv("TFS_VERBOSE"))
        fprintf(stderr, "  [%s] file %s: on_error %s: %s\n", r->label, tf_file_name(f),
                tf_errname(code), detail ? detail : "(null)");
    if (r->errors < TFF_MAX)
        r->error_codes[r->errors] = code;
    r->errors++;
}

static TFS_UNUSED void tff_on_end_(void *user, tf_file_t *f, int status)
{
    tff_rec_t *r = (tff_rec_t *)user;
    if (getenv("TFS_VERBOSE"))
        fprintf(stderr, "  [%s] file %s: on_end %s\n", r->label, tf_file_name(f),
                tf_errname(status));
    if (r->ends < TFF_MAX) {
        r->end_status[r->ends] = status;
        r->ended[r->ends] = tf_file_retain(f);
    }
    r->ends++;
}

static TFS_UNUSED tf_file_callbacks_t tff_callbacks(tff_rec_t *r)
{
    tf_file_callbacks_t c = TRUFLUX_FILE_CALLBACKS_INIT;
    c.user = r;
    c.on_offer = tff_on_offer_;
    c.on_accept = tff_on_accept_;
    c.on_decline = tff_on_decline_;
    c.on_pause = tff_on_pause_;
    c.on_resume = tff_on_resume_;
    c.on_progress = tff_on_progress_;
    c.on_cancel = tff_on_cancel_;
    c.on_error = tff_on_error_;
    c.on_end = tff_on_end_;
    return c;
}

static TFS_UNUSED int tff_rec_has_error(const tff_rec_t *r, int code)
{
    for (int i = 0; i < r->errors && i < TFF_MAX; i++)
        if (r->error_codes[i] == code)
            return 1;
    return 0;
}

/* The status on_end reported for file f, or 1 if it has not ended. */
static TFS_UNUSED int tff_end_of(const tff_rec_t *r, const tf_file_t *f)
{
    for (int i = 0; i < r->ends && i < TFF_MAX; i++)
        if (r->ended[i] == f)
            return r->end_status[i];
    return 1;
}

static TFS_UNUSED void tff_rec_free(tff_rec_t *r)
{
    for (int i = 0; i < r->offers && i < TFF_MAX; i++)
        tf_file_release(r->offered[i]);
    for (int i = 0; i < r->ends && i < TFF_MAX; i++)
        tf_file_release(r->ended[i]);
    r->offers = r->ends = 0;
}

/* ------------------------------------------------------------------------------------ */
/* A server and a client on one loop, files enabled on the sides asked for               */

typedef struct tff_pair {
    tf_loop_t *loop;
    tf_protocol_t *proto;
    tf_server_t *server;
    tf_client_t *client;
    tfs_rec_t srec, crec;
    tff_rec_t sf, cf;
    tf_conn_t *sconn, *cconn; /* borrowed from the recorders */
    int port;
} tff_pair_t;

static TFS_UNUSED tf_protocol_t *tff_proto(void)
{
    tf_protocol_t *p = truflux_protocol_new();
    assert_non_null(p);
    assert_true(tf_protocol_add(p, "echo", TRUFLUX_TYPES_ANY, 0) >= 0);
    return p;
}

/* Starts the server (with files if server_files) and, unless no_client, a client (with
 * files if client_files), and waits until both are open. The recorders are initialised
 * here, before anything can report. */
static TFS_UNUSED void tff_pair_start_ex(tff_pair_t *p, const tf_options_t *sopts,
                                         const tf_options_t *copts, int server_files,
                                         int client_files, int no_client)
{
    char url[64];
    memset(p, 0, sizeof *p);
    p->loop = truflux_loop_new();
    assert_non_null(p->loop);
    p->proto = tff_proto();
    tfs_rec_init(&p->srec, "server");
    tfs_rec_init(&p->crec, "client");
    tff_rec_init(&p->sf, "server");
    tff_rec_init(&p->cf, "client");
    p->srec.echo = 1;
    p->server = truflux_server_new(p->loop, p->proto, sopts);
    assert_non_null(p->server);
    tf_callbacks_t scb = tfs_rec_callbacks(&p->srec);
    assert_int_equal(tf_server_set_callbacks(p->server, &scb), 0);
    if (server_files) {
        tf_file_callbacks_t f = tff_callbacks(&p->sf);
        assert_int_equal(tf_server_set_file_callbacks(p->server, &f), 0);
    }
    assert_int_equal(tf_server_listen(p->server, "tcp://127.0.0.1:0"), 0);
    p->port = tf_server_port(p->server);
    if (no_client)
        return;
    p->client = truflux_client_new(p->loop, p->proto, copts);
    assert_non_null(p->client);
    tf_callbacks_t ccb = tfs_rec_callbacks(&p->crec);
    assert_int_equal(tf_client_set_callbacks(p->client, &ccb), 0);
    if (client_files) {
        tf_file_callbacks_t f = tff_callbacks(&p->cf);
        assert_int_equal(tf_client_set_file_callbacks(p->client, &f), 0);
    }
    assert_int_equal(tf_client_connect(p->client, tfs_url(url, sizeof url, p->port)), 0);
    TFS_WAIT(p->loop, p->crec.opens >= 1 && p->srec.opens >= 1, TFS_WAIT_MS);
    assert_int_equal(p->crec.opens, 1);
    assert_int_equal(p->srec.opens, 1);
    p->sconn = p->srec.conns[0];
    p->cconn = p->crec.conns[0];
}

static TFS_UNUSED void tff_pair_start(tff_pair_t *p, const tf_options_t *sopts,
                                      const tf_options_t *copts)
{
    tff_pair_start_ex(p, sopts, copts, 1, 1, 0);
}

static TFS_UNUSED void tff_pair_free(tff_pair_t *p)
{
    tff_rec_free(&p->sf);
    tff_rec_free(&p->cf);
    tfs_rec_free(&p->srec);
    tfs_rec_free(&p->crec);
    if (p->client)
        truflux_client_free(p->client);
    truflux_server_free(p->server);
    truflux_protocol_free(p->proto);
    assert_int_equal(truflux_loop_free(p->loop), 0);
}

/* ------------------------------------------------------------------------------------ */
/* Scratch directories and files                                                         */

static TFS_UNUSED int tff_rm_(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A fresh directory under /tmp; *out must hold 64 bytes. */
static TFS_UNUSED void tff_tempdir(char *out)
{
    strcpy(out, "/tmp/tff-XXXXXX");
    assert_non_null(mkdtemp(out));
}

static TFS_UNUSED void tff_rmtree(const char *dir)
{
    nftw(dir, tff_rm_, 16, FTW_DEPTH | FTW_PHYS);
}

/* Deterministic content: byte i of stream `seed`. */
static TFS_UNUSED uint8_t tff_byte(uint32_t seed, uint64_t i)
{
    uint64_t x = (i >> 3) * 0x9E3779B97F4A7C15ull + seed * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 29;
    return (uint8_t)(x >> (8 * (i & 7)));
}

/* Fills buf with bytes [at, at+n) of stream `seed` (a word per 8 bytes: fast enough for
 * tens of MiB). */
static TFS_UNUSED void tff_fill(uint8_t *buf, size_t n, uint32_t seed, uint64_t at)
{
    size_t i = 0;
    while (i < n && ((at + i) & 7))
        buf[i] = tff_byte(seed, at + i), i++;
    for (; i + 8 <= n; i += 8) {
        uint64_t x = ((at + i) >> 3) * 0x9E3779B97F4A7C15ull + seed * 0xBF58476D1CE4E5B9ull;
        x ^= x >> 31;
        x *= 0x94D049BB133111EBull;
        x ^= x >> 29;
        for (int k = 0; k < 8; k++)
            buf[i + k] = (uint8_t)(x >> (8 * k));
    }
    for (; i < n; i++)
        buf[i] = tff_byte(seed, at + i);
}

/* 1 if data holds bytes [at, at+n) of stream `seed`. */
static TFS_UNUSED int tff_same(const uint8_t *data, size_t n, uint32_t seed, uint64_t at)
{
    uint8_t want[4096];
    for (size_t off = 0; off < n; off += sizeof want) {
        size_t k = n - off < sizeof want ? n - off : sizeof want;
        tff_fill(want, k, seed, at + off);
        if (memcmp(data + off, want, k) != 0)
            return 0;
    }
    return 1;
}

/* Writes `size` bytes of stream `seed` to path. */
static TFS_UNUSED void tff_make_file(const char *path, uint64_t size, uint32_t seed)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    static uint8_t buf[1 << 16];
    for (uint64_t at = 0; at < size;) {
        size_t n = size - at < sizeof buf ? (size_t)(size - at) : sizeof buf;
        tff_fill(buf, n, seed, at);
        assert_int_equal(fwrite(buf, 1, n, fp), n);
        at += n;
    }
    assert_int_equal(fclose(fp), 0);
}

/* 1 if path holds exactly `size` bytes of stream `seed`. */
static TFS_UNUSED int tff_check_file(const char *path, uint64_t size, uint32_t seed)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    static uint8_t buf[1 << 16], want[1 << 16];
    uint64_t at = 0;
    size_t n;
    int ok = 1;
    while (ok && (n = fread(buf, 1, sizeof buf, fp)) > 0) {
        tff_fill(want, n, seed, at);
        if (memcmp(buf, want, n) != 0)
            ok = 0;
        at += n;
    }
    fclose(fp);
    return ok && at == size;
}

static TFS_UNUSED int tff_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Number of entries in dir (without . and ..); with prefix != NULL, only those starting
 * with it. */
static TFS_UNUSED int tff_count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (prefix && strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        n++;
    }
    closedir(d);
    return n;
}

/* ------------------------------------------------------------------------------------ */
/* File frames for raw peers                                                             */

static TFS_UNUSED void tff_buf_u64(tfs_buf_t *b, uint64_t v)
{
    tfs_buf_u32(b, (uint32_t)(v >> 32));
    tfs_buf_u32(b, (uint32_t)v);
}

/* An OFFER payload: size, 16-octet key (NULL: zero), flags 0, name of name_len octets. */
static TFS_UNUSED void tff_offer_payload(tfs_buf_t *b, uint64_t size, const uint8_t *key,
                                         const char *name, size_t name_len)
{
    static const uint8_t zero[16];
    tff_buf_u64(b, size);
    tfs_buf_put(b, key ? key : zero, 16);
    tfs_buf_u16(b, 0);
    tfs_buf_u16(b, (uint16_t)name_len);
    tfs_buf_put(b, name, name_len);
}

/* Sends OFFER(id) from a raw peer. */
static TFS_UNUSED int tff_raw_offer(tf_loop_t *loop, tfs_raw_t *r, uint32_t id, uint64_t size,
                                    const char *name, size_t name_len)
{
    tfs_buf_t b = { 0, 0, 0 };
    tff_offer_payload(&b, size, NULL, name, name_len);
    int rc = tfs_raw_send_frame(loop, r, TFF_OFFER, id, b.p, b.len);
    tfs_buf_free(&b);
    return rc;
}

/* Waits for the next frame of `kind` (skipping others, e.g. PING). 1, 0 (socket ended),
 * -1 (timeout). */
static TFS_UNUSED int tff_raw_expect(tf_loop_t *loop, tfs_raw_t *r, uint8_t kind, tfs_frame_t *f,
                                     int ms)
{
    int64_t deadline = tfs_now_ms() + ms;
    for (;;) {
        int rc = tfs_raw_next_frame(loop, r, f, (int)(deadline - tfs_now_ms()));
        if (rc != 1)
            return rc;
        if (f->kind == kind)
            return 1;
        if (getenv("TFS_VERBOSE"))
            fprintf(stderr, "  raw peer: skipping frame kind 0x%02x\n", f->kind);
        tfs_frame_free(f);
    }
}

#endif
