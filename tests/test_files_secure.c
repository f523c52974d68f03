/* tests/test_files_secure.c: file transfers on encrypted connections: with
 * the secure layer on, a file's chunks travel inside the encrypted records like every other
 * frame (never through sendfile(2), which would bypass the encryption), and the file
 * arrives whole; switching encryption off and on again in the middle of a transfer keeps
 * the content intact. */
#include "support/tfsupport.h"
#include "support/tffiles.h"

#include <truflux/security.h>

#define MiB (1024 * 1024)

static char g_dir[64];

static int setup(void **state)
{
    (void)state;
    tff_tempdir(g_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tff_rmtree(g_dir);
    return 0;
}

static tf_file_stats_t stats_of(tf_file_t *f)
{
    tf_file_stats_t s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    assert_int_equal(tf_file_stats(f, &s), 0);
    return s;
}

static void start_secure(tff_pair_t *p)
{
    tf_options_t *o = tfs_options();
    tfs_opt(o, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
    tff_pair_start(p, o, o);
    truflux_options_free(o);
    TFS_WAIT(p->loop,
             tf_conn_secure(p->cconn, TRUFLUX_DIR_SEND) == 1 &&
                 tf_conn_secure(p->sconn, TRUFLUX_DIR_SEND) == 1,
             TFS_WAIT_MS);
    assert_int_equal(tf_conn_secure(p->cconn, TRUFLUX_DIR_SEND), 1);
    assert_int_equal(tf_conn_secure(p->sconn, TRUFLUX_DIR_SEND), 1);
}

static void test_file_over_encrypted_connection(void **state)
{
    (void)state;
    char src[128], dst[96], out[160];
    snprintf(src, sizeof src, "%s/enc.bin", g_dir);
    snprintf(dst, sizeof dst, "%s/in", g_dir);
    assert_int_equal(mkdir(dst, 0700), 0);
    tff_make_file(src, 3 * MiB + 7, 81);
    tff_pair_t p;
    start_secure(&p);
    p.sf.accept_dir = dst;
    tf_file_t *f = NULL;
    assert_int_equal(tf_file_send_path(p.cconn, src, NULL, &f), 0);
    TFS_WAIT(p.loop, p.cf.ends == 1 && p.sf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(p.cf.end_status[0], 0);
    assert_int_equal(p.sf.end_status[0], 0);
    snprintf(out, sizeof out, "%s/enc.bin", dst);
    assert_true(tff_check_file(out, 3 * MiB + 7, 81));
    /* Not a byte went around the encryption. */
    assert_int_equal(stats_of(f).zero_copy, 0);
    tf_file_release(f);
    tff_pair_free(&p);
}

static void test_switch_encryption_during_transfer(void **state)
{
    (void)state;
    char src[128], dst[96], out[160];
    snprintf(src, sizeof src, "%s/switch.bin", g_dir);
    snprintf(dst, sizeof dst, "%s/sw", g_dir);
    assert_int_equal(mkdir(dst, 0700), 0);
    tff_make_file(src, 6 * MiB, 82);
    tf_options_t *o = tfs_options();
    tfs_opt(o, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    tfs_opt(o, TRUFLUX_OPT_FILE_WINDOW, 1 * MiB);
    tff_pair_t p;
    tff_pair_start(&p, o, o);
    truflux_options_free(o);
    TFS_WAIT(p.loop, tf_conn_secure(p.cconn, TRUFLUX_DIR_SEND) == 1, TFS_WAIT_MS);
    p.sf.accept_dir = dst;
    p.sf.pause_at = 2 * MiB;
    tf_file_t *f = NULL;
    assert_int_equal(tf_file_send_path(p.cconn, src, NULL, &f), 0);
    TFS_WAIT(p.loop, p.cf.pauses == 1, TFS_WAIT_MS);
    assert_int_equal(p.cf.pauses, 1);
    /* The sender switches its direction off: the rest may go plain (and by sendfile). */
    assert_int_equal(tf_conn_set_secure(p.cconn, TRUFLUX_DIR_SEND, 0), 0);
    TFS_WAIT(p.loop, tf_conn_secure(p.cconn, TRUFLUX_DIR_SEND) == 0, TFS_WAIT_MS);
    assert_int_equal(tf_file_resume(p.sf.paused_file), 0);
    TFS_WAIT(p.loop, p.cf.ends == 1 && p.sf.ends == 1, TFS_WAIT_MS);
    assert_int_equal(p.cf.end_status[0], 0);
    assert_int_equal(p.sf.end_status[0], 0);
    snprintf(out, sizeof out, "%s/switch.bin", dst);
    assert_true(tff_check_file(out, 6 * MiB, 82));
    tf_file_release(f);
    tff_pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_over_encrypted_connection),
        cmocka_unit_test(test_switch_encryption_during_transfer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
