/* tests/test_files_hostile.c: a hand-written peer speaking docs/PROTOCOL.md §23 to a server
 * that accepts files into a directory (hostile names and sizes, and the integrity rules):
 * hostile names never write outside the directory, more or fewer bytes than offered and a
 * wrong checksum end the transfer with their documented codes, and frames for unknown
 * transfers or beyond the credit close the connection with theirs. */
#include "support/tfsupport.h"
#include "support/tffiles.h"

#include <mbedtls/sha256.h>

static char g_parent[64], g_dir[96];

static int setup(void **state)
{
    (void)state;
    tff_tempdir(g_parent);
    snprintf(g_dir, sizeof g_dir, "%s/in", g_parent);
    return mkdir(g_dir, 0700);
}

static int teardown(void **state)
{
    (void)state;
    tff_rmtree(g_parent);
    return 0;
}

/* A server accepting files into g_dir (unless pending: offers then wait), and a raw client
 * that has said HELLO with the files capability (or not). */
typedef struct env {
    tff_pair_t p;
    tfs_raw_t raw;
    tfs_hello_t welcome;
} env_t;

static void env_start(env_t *e, int raw_caps, int accept, const tf_options_t *sopts)
{
    memset(e, 0, sizeof *e);
    tff_pair_start_ex(&e->p, sopts, NULL, 1, 0, 1);
    if (accept)
        e->p.sf.accept_dir = g_dir;
    assert_int_equal(tfs_raw_connect(&e->raw, e->p.port), 0);
    static const char *const names[] = { "echo" };
    tfs_hello_t h;
    tfs_hello_init(&h, e->p.proto, names, 1);
    h.caps = (uint32_t)raw_caps;
    assert_int_equal(tfs_raw_handshake(e->p.loop, &e->raw, &h, &e->welcome), 0);
}

static void env_free(env_t *e)
{
    tfs_raw_close(&e->raw);
    tff_pair_free(&e->p);
}

static void send_chunk(env_t *e, uint32_t id, const void *data, size_t len)
{
    assert_int_equal(tfs_raw_send_frame(e->p.loop, &e->raw, TFF_CHUNK, id, data, len), 0);
}

static void send_end(env_t *e, uint32_t id, uint64_t total, const uint8_t digest[32])
{
    tfs_buf_t b = { 0, 0, 0 };
    tff_buf_u64(&b, total);
    tfs_buf_put(&b, digest, 32);
    assert_int_equal(tfs_raw_send_frame(e->p.loop, &e->raw, TFF_END, id, b.p, b.len), 0);
    tfs_buf_free(&b);
}

/* Waits for a DECLINE or CANCEL about `id` and returns its code. */
static int expect_reason(env_t *e, uint8_t kind, uint32_t id)
{
    tfs_frame_t f;
    int rc = tff_raw_expect(e->p.loop, &e->raw, kind, &f, TFS_WAIT_MS);
    assert_int_equal(rc, 1);
    assert_int_equal(f.id, id);
    assert_true(f.len >= 4);
    int code = (int)tfs_get_u32(f.payload);
    tfs_frame_free(&f);
    return code;
}

/* Waits for the ACCEPT of `id` and returns its credit. */
static uint32_t expect_accept(env_t *e, uint32_t id)
{
    tfs_frame_t f;
    assert_int_equal(tff_raw_expect(e->p.loop, &e->raw, TFF_ACCEPT, &f, TFS_WAIT_MS), 1);
    assert_int_equal(f.id, id);
    assert_int_equal(f.len, 12);
    assert_int_equal(tfs_get_u32(f.payload), 0); /* offset: high half */
    assert_int_equal(tfs_get_u32(f.payload + 4), 0);
    uint32_t credit = tfs_get_u32(f.payload + 8);
    tfs_frame_free(&f);
    return credit;
}

/* ------------------------------------------------------------------------------------ */

static void test_capability_announced(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, TFF_CAP_FILES, 1, NULL);
    assert_true(e.welcome.caps & TFF_CAP_FILES);
    env_free(&e);

    /* A server without files does not announce it, and refuses file frames. */
    tff_pair_t p;
    tff_pair_start_ex(&p, NULL, NULL, 0, 0, 1);
    tfs_raw_t raw;
    assert_int_equal(tfs_raw_connect(&raw, p.port), 0);
    static const char *const names[] = { "echo" };
    tfs_hello_t h, w;
    tfs_hello_init(&h, p.proto, names, 1);
    h.caps = TFF_CAP_FILES;
    assert_int_equal(tfs_raw_handshake(p.loop, &raw, &h, &w), 0);
    assert_int_equal(w.caps & TFF_CAP_FILES, 0);
    assert_int_equal(tff_raw_offer(p.loop, &raw, 1, 5, "a.txt", 5), 0);
    assert_int_equal(tfs_raw_expect_close(p.loop, &raw, TFS_WAIT_MS), 9);
    tfs_raw_close(&raw);
    tff_pair_free(&p);
}

static void test_file_frames_without_capability(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, 0, 1, NULL); /* the raw peer does not announce files */
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 1, 5, "a.txt", 5), 0);
    assert_int_equal(tfs_raw_expect_close(e.p.loop, &e.raw, TFS_WAIT_MS), 9);
    assert_int_equal(e.p.sf.offers, 0);
    env_free(&e);
}

static void test_hostile_names(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, TFF_CAP_FILES, 1, NULL);
    static const struct {
        const char *name;
        size_t len;
    } bad[] = {
        { "../evil", 7 },   { "a/b", 3 },          { "x\0y", 3 },        { "\001ctl", 4 },
        { "..", 2 },        { ".", 1 },            { "tab\tname", 8 },   { "del\177", 4 },
        { "nel\302\205", 5 }, { "\377\376bad", 5 }, { "back\\slash", 10 }, { "/etc/passwd", 11 },
        { ".tfpart-0123456789abcdef0123456789abcdef-x", 42 },
    };
    const int n = (int)(sizeof bad / sizeof bad[0]);
    for (int i = 0; i < n; i++) {
        uint32_t id = 1 + 2 * (uint32_t)i;
        assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, id, 4, bad[i].name, bad[i].len), 0);
        assert_int_equal(expect_reason(&e, TFF_DECLINE, id), 63); /* EFILENAME */
        /* Even if the peer pushes content anyway, it lands nowhere (dropped: the transfer
         * ended). */
        send_chunk(&e, id, "data", 4);
    }
    TFS_WAIT(e.p.loop, e.p.sf.ends == n, TFS_WAIT_MS);
    assert_int_equal(e.p.sf.ends, n);
    assert_int_equal(e.p.sf.offers, 0); /* never offered to the application */
    for (int i = 0; i < n; i++) {
        assert_int_equal(e.p.sf.end_status[i], TRUFLUX_EFILENAME);
        assert_int_equal(e.p.sf.error_codes[i], TRUFLUX_EFILENAME);
        /* The handle shows the name escaped, never raw. */
        const char *shown = tf_file_name(e.p.sf.ended[i]);
        for (const char *c = shown; *c; c++)
            assert_true(*c >= 0x20 && *c < 0x7f);
    }
    /* Nothing was written, in the directory or beside it. */
    assert_int_equal(tff_count_entries(g_dir, NULL), 0);
    assert_int_equal(tff_count_entries(g_parent, NULL), 1);
    /* The connection is still fine: a proper name goes through. */
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 101, 2, "ok.txt", 6), 0);
    expect_accept(&e, 101);
    env_free(&e);
}

static void test_planted_symlink_not_followed(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, TFF_CAP_FILES, 1, NULL);
    /* A resumable offer: its temporary name is known in advance, so plant a link there. */
    uint8_t key[16];
    memset(key, 0xAB, sizeof key);
    char link[256], target[128];
    snprintf(link, sizeof link, "%s/.tfpart-abababababababababababababababab-link.txt", g_dir);
    snprintf(target, sizeof target, "%s/outside.txt", g_parent);
    assert_int_equal(symlink(target, link), 0);
    tfs_buf_t b = { 0, 0, 0 };
    tff_offer_payload(&b, 5, key, "link.txt", 8);
    assert_int_equal(tfs_raw_send_frame(e.p.loop, &e.raw, TFF_OFFER, 1, b.p, b.len), 0);
    tfs_buf_free(&b);
    TFS_WAIT(e.p.loop, e.p.sf.offers == 1, TFS_WAIT_MS);
    assert_int_equal(e.p.sf.offers, 1);
    /* The accept failed (the link is refused, not followed): the offer stays pending. */
    assert_int_equal(e.p.sf.accept_rc, TRUFLUX_EIO);
    assert_false(tff_exists(target));
    assert_int_equal(tf_file_decline(e.p.sf.offered[0]), 0);
    assert_int_equal(expect_reason(&e, TFF_DECLINE, 1), 0);
    unlink(link);
    env_free(&e);
}

static void test_more_bytes_than_offered(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, TFF_CAP_FILES, 1, NULL);
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 1, 100, "more.txt", 8), 0);
    expect_accept(&e, 1);
    uint8_t data[150];
    memset(data, 'm', sizeof data);
    send_chunk(&e, 1, data, 60);
    send_chunk(&e, 1, data, 90); /* 150 > 100 */
    assert_int_equal(expect_reason(&e, TFF_CANCEL, 1), 61); /* EFILESIZE */
    TFS_WAIT(e.p.loop, e.p.sf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(e.p.sf.end_status[0], TRUFLUX_EFILESIZE);
    assert_true(tff_rec_has_error(&e.p.sf, TRUFLUX_EFILESIZE));
    assert_int_equal(tff_count_entries(g_dir, NULL), 0);
    /* Transfer-level: the connection carries on. */
    assert_int_equal(tf_conn_is_open(e.p.srec.conns[0]), 1);
    env_free(&e);
}

static void test_fewer_bytes_than_offered(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, TFF_CAP_FILES, 1, NULL);
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 1, 100, "fewer.txt", 9), 0);
    expect_accept(&e, 1);
    uint8_t data[50], digest[32];
    memset(data, 'f', sizeof data);
    send_chunk(&e, 1, data, sizeof data);
    assert_int_equal(mbedtls_sha256_ret(data, sizeof data, digest, 0), 0);
    send_end(&e, 1, 50, digest);
    assert_int_equal(expect_reason(&e, TFF_CANCEL, 1), 61); /* EFILESIZE */
    TFS_WAIT(e.p.loop, e.p.sf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(e.p.sf.end_status[0], TRUFLUX_EFILESIZE);
    assert_int_equal(tff_count_entries(g_dir, NULL), 0);
    env_free(&e);
}

static void test_checksum(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, TFF_CAP_FILES, 1, NULL);
    uint8_t digest[32];
    char path[160];

    /* A wrong digest: ECHECKSUM, and nothing under either name. */
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 1, 5, "bad.txt", 7), 0);
    expect_accept(&e, 1);
    send_chunk(&e, 1, "hello", 5);
    assert_int_equal(mbedtls_sha256_ret((const unsigned char *)"hellO", 5, digest, 0), 0);
    send_end(&e, 1, 5, digest);
    assert_int_equal(expect_reason(&e, TFF_CANCEL, 1), 62); /* ECHECKSUM */
    TFS_WAIT(e.p.loop, e.p.sf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(e.p.sf.end_status[0], TRUFLUX_ECHECKSUM);
    assert_int_equal(tff_count_entries(g_dir, NULL), 0);

    /* The right one: DONE, and the file under its name. */
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 3, 5, "good.txt", 8), 0);
    expect_accept(&e, 3);
    send_chunk(&e, 3, "hel", 3);
    send_chunk(&e, 3, "lo", 2);
    assert_int_equal(mbedtls_sha256_ret((const unsigned char *)"hello", 5, digest, 0), 0);
    send_end(&e, 3, 5, digest);
    tfs_frame_t f;
    assert_int_equal(tff_raw_expect(e.p.loop, &e.raw, TFF_DONE, &f, TFS_WAIT_MS), 1);
    assert_int_equal(f.id, 3);
    assert_int_equal(f.len, 0);
    tfs_frame_free(&f);
    TFS_WAIT(e.p.loop, e.p.sf.ends == 2, TFS_WAIT_MS);
    assert_int_equal(e.p.sf.end_status[1], 0);
    snprintf(path, sizeof path, "%s/good.txt", g_dir);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char got[16] = { 0 };
    assert_int_equal(fread(got, 1, sizeof got, fp), 5);
    fclose(fp);
    assert_memory_equal(got, "hello", 5);
    assert_int_equal(tff_count_entries(g_dir, NULL), 1);
    env_free(&e);
}

static void test_chunk_for_unknown_transfer(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, TFF_CAP_FILES, 1, NULL);
    send_chunk(&e, 99, "zz", 2); /* never offered */
    assert_int_equal(tfs_raw_expect_close(e.p.loop, &e.raw, TFS_WAIT_MS), 60);
    TFS_WAIT(e.p.loop, e.p.srec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(e.p.srec.last_close_reason, TRUFLUX_EFILEUNKNOWN);
    assert_true(tfs_rec_has_error(&e.p.srec, TRUFLUX_EFILEUNKNOWN));
    env_free(&e);

    /* Also for an id of the server's own parity, and for an END or CREDIT. */
    static const uint8_t kinds[] = { TFF_CHUNK, TFF_END, TFF_CREDIT, TFF_ACCEPT };
    static const uint32_t ids[] = { 2, 5, 2, 1 };
    for (int i = 0; i < 4; i++) {
        env_start(&e, TFF_CAP_FILES, 1, NULL);
        uint8_t payload[40] = { 0 };
        size_t len = kinds[i] == TFF_END ? 40 : kinds[i] == TFF_CREDIT ? 4 : kinds[i] == TFF_ACCEPT ? 12 : 3;
        payload[3] = 1;
        assert_int_equal(tfs_raw_send_frame(e.p.loop, &e.raw, kinds[i], ids[i], payload, len), 0);
        assert_int_equal(tfs_raw_expect_close(e.p.loop, &e.raw, TFS_WAIT_MS), 60);
        env_free(&e);
    }
}

static long take_nothing(void *arg, tf_file_t *f, const void *data, size_t len)
{
    (void)arg;
    (void)f;
    (void)data;
    (void)len;
    return 0;
}

static void test_chunk_beyond_credit(void **state)
{
    (void)state;
    env_t e;
    /* Offers left pending: content before ACCEPT is beyond any credit. */
    env_start(&e, TFF_CAP_FILES, 0, NULL);
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 1, 10, "early.txt", 9), 0);
    send_chunk(&e, 1, "0123456789", 10);
    assert_int_equal(tfs_raw_expect_close(e.p.loop, &e.raw, TFS_WAIT_MS), 64);
    env_free(&e);

    /* After ACCEPT, one byte more than the credit granted (into a sink that takes nothing,
     * so no credit comes back). */
    tf_options_t *o = tfs_options();
    tfs_opt(o, TRUFLUX_OPT_FILE_WINDOW, 64 * 1024);
    env_start(&e, TFF_CAP_FILES, 0, o);
    truflux_options_free(o);
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 1, 1 << 20, "flood.bin", 9), 0);
    TFS_WAIT(e.p.loop, e.p.sf.offers == 1, TFS_WAIT_MS);
    tf_file_io_t io = TRUFLUX_FILE_IO_INIT;
    io.write = take_nothing;
    assert_int_equal(tf_file_accept_stream(e.p.sf.offered[0], &io), 0);
    uint32_t credit = expect_accept(&e, 1);
    assert_int_equal(credit, 64 * 1024);
    static uint8_t data[65536];
    send_chunk(&e, 1, data, sizeof data);
    send_chunk(&e, 1, data, 1);
    assert_int_equal(tfs_raw_expect_close(e.p.loop, &e.raw, TFS_WAIT_MS), 64);
    TFS_WAIT(e.p.loop, e.p.sf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(e.p.sf.end_status[0], TRUFLUX_EFLOWCONTROL);
    env_free(&e);
}

static void test_malformed_file_frames(void **state)
{
    (void)state;
    env_t e;
    /* An OFFER with an empty name, one with the server's parity, one not above the last. */
    env_start(&e, TFF_CAP_FILES, 1, NULL);
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 1, 5, "", 0), 0);
    assert_int_equal(tfs_raw_expect_close(e.p.loop, &e.raw, TFS_WAIT_MS), 9);
    env_free(&e);
    env_start(&e, TFF_CAP_FILES, 1, NULL);
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 2, 5, "a.txt", 5), 0);
    assert_int_equal(tfs_raw_expect_close(e.p.loop, &e.raw, TFS_WAIT_MS), 9);
    env_free(&e);
    env_start(&e, TFF_CAP_FILES, 1, NULL);
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 5, 5, "a.txt", 5), 0);
    expect_accept(&e, 5);
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 3, 5, "b.txt", 5), 0);
    assert_int_equal(tfs_raw_expect_close(e.p.loop, &e.raw, TFS_WAIT_MS), 9);
    env_free(&e);
    /* A PAUSE with a payload is over its kind's limit (0): EMSGSIZE in the header. */
    env_start(&e, TFF_CAP_FILES, 1, NULL);
    assert_int_equal(tfs_raw_send_frame(e.p.loop, &e.raw, TFF_PAUSE, 1, "x", 1), 0);
    assert_int_equal(tfs_raw_expect_close(e.p.loop, &e.raw, TFS_WAIT_MS), 12);
    env_free(&e);
    /* A kind of the range that §23 leaves undefined. */
    env_start(&e, TFF_CAP_FILES, 1, NULL);
    assert_int_equal(tfs_raw_send_frame(e.p.loop, &e.raw, 0x3A, 1, NULL, 0), 0);
    assert_int_equal(tfs_raw_expect_close(e.p.loop, &e.raw, TFS_WAIT_MS), 9);
    env_free(&e);
}

static void test_limits_on_offers(void **state)
{
    (void)state;
    tf_options_t *o = tfs_options();
    tfs_opt(o, TRUFLUX_OPT_FILE_MAX_TRANSFERS, 2);
    tfs_opt(o, TRUFLUX_OPT_FILE_MAX_SIZE, 1000);
    env_t e;
    env_start(&e, TFF_CAP_FILES, 0, o); /* offers stay pending */
    truflux_options_free(o);
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 1, 1001, "big.bin", 7), 0);
    assert_int_equal(expect_reason(&e, TFF_DECLINE, 1), 61); /* EFILESIZE */
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 3, 10, "a", 1), 0);
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 5, 10, "b", 1), 0);
    assert_int_equal(tff_raw_offer(e.p.loop, &e.raw, 7, 10, "c", 1), 0);
    assert_int_equal(expect_reason(&e, TFF_DECLINE, 7), 66); /* EFILELIMIT */
    TFS_WAIT(e.p.loop, e.p.sf.offers == 2, TFS_WAIT_MS);
    assert_int_equal(e.p.sf.offers, 2);
    assert_true(tff_rec_has_error(&e.p.sf, TRUFLUX_EFILELIMIT));
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capability_announced),
        cmocka_unit_test(test_file_frames_without_capability),
        cmocka_unit_test(test_hostile_names),
        cmocka_unit_test(test_planted_symlink_not_followed),
        cmocka_unit_test(test_more_bytes_than_offered),
        cmocka_unit_test(test_fewer_bytes_than_offered),
        cmocka_unit_test(test_checksum),
        cmocka_unit_test(test_chunk_for_unknown_transfer),
        cmocka_unit_test(test_chunk_beyond_credit),
        cmocka_unit_test(test_malformed_file_frames),
        cmocka_unit_test(test_limits_on_offers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
