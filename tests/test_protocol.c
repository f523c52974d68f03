/* Protocol definitions and the error list, through the public C API only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <truflux/error.h>
#include <truflux/protocol.h>
#include <truflux/version.h>

/* FNV-1a 32 & 0x7FFFFFFF, computed independently (python3, see docs/PROTOCOL.md). */
#define ID_CHAT 0x224bf9abu
#define ID_HELLO 0x4f9f2cabu
#define ID_PING 0x165df089u
#define ID_A 0x640c292cu        /* full FNV-1a of "a" is 0xe40c292c: the mask matters */
#define ID_HELLO_E 0x4aa48540u  /* "h\xc3\xa9llo" */

/* Two pairs of names whose FNV-1a hashes differ only in bit 31: their 31-bit ids collide. */
#define COLLIDE_A "m329698"       /* FNV-1a 0xdf47207b */
#define COLLIDE_B "m901416"       /* FNV-1a 0x5f47207b */
#define MASK_COLLIDE_A "n305078"   /* FNV-1a 0x182fa980 */
#define MASK_COLLIDE_B "n1220242"  /* FNV-1a 0x982fa980 */

/* sha256("165df089 ping 15 0 *\n224bf9ab chat 4 1024 ready\n#states login,ready\n") */
static const char FP_SMALL[] =
    "840e93f46fd1bc9cfaec5378670a114557a1d4a26a5addc9ecdb11f7ca213021";
/* sha256("0037f946 typing 6 0 login,ready\n153fa84f auth 8 4096 login\n#states login,ready\n"):
 * an id with leading zeros, and a message valid in two states. */
static const char FP_TWO_STATES[] =
    "6a14d04e05f6f786017eff9338b5c1b01395fe986ea771c3ade722bc4d7597f4";
/* sha256("") : the empty protocol */
static const char FP_EMPTY[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static void hex(const uint8_t fp[32], char out[65]) {
    int i;
    for (i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", fp[i]);
}

static void fingerprint_hex(const tf_protocol_t *p, char out[65]) {
    uint8_t fp[32];
    assert_int_equal(tf_protocol_fingerprint(p, fp), 0);
    hex(fp, out);
}

static void test_known_ids(void **state) {
    tf_protocol_t *p = truflux_protocol_new();
    (void)state;
    assert_non_null(p);
    assert_int_equal(tf_protocol_name_id("chat"), ID_CHAT);
    assert_int_equal(tf_protocol_name_id("hello"), ID_HELLO);
    assert_int_equal(tf_protocol_name_id("ping"), ID_PING);
    assert_int_equal(tf_protocol_name_id("a"), ID_A);
    assert_int_equal(tf_protocol_name_id("h\xc3\xa9llo"), ID_HELLO_E);

    assert_int_equal(tf_protocol_add(p, "chat", TRUFLUX_TYPES_TEXT, 0), ID_CHAT);
    assert_int_equal(tf_protocol_add(p, "a", 0, 0), ID_A);
    assert_int_equal(tf_protocol_add(p, "h\xc3\xa9llo", 0, 0), ID_HELLO_E);
    assert_int_equal(tf_protocol_count(p), 3);
    assert_int_equal(tf_protocol_id(p, "chat"), ID_CHAT);
    assert_int_equal(tf_protocol_id(p, "a"), ID_A);
    assert_int_equal(tf_protocol_id(p, "nope"), TRUFLUX_ENOTFOUND);
    assert_string_equal(tf_protocol_name(p, ID_CHAT), "chat");
    assert_string_equal(tf_protocol_name(p, ID_HELLO_E), "h\xc3\xa9llo");
    assert_null(tf_protocol_name(p, ID_PING));
    truflux_protocol_free(p);
}

static void test_name_rules(void **state) {
    tf_protocol_t *p = truflux_protocol_new();
    char name[300];
    (void)state;
    assert_int_equal(tf_protocol_add(p, "", 0, 0), TRUFLUX_EINVAL);
    assert_int_equal(tf_protocol_add(p, "\xff", 0, 0), TRUFLUX_EINVAL);
    assert_int_equal(tf_protocol_add(p, "bad\xc0\x80", 0, 0), TRUFLUX_EINVAL);
    assert_int_equal(tf_protocol_add(p, "half\xe2\x82", 0, 0), TRUFLUX_EINVAL);
    assert_int_equal(tf_protocol_add(p, NULL, 0, 0), TRUFLUX_EINVAL);
    assert_int_equal(tf_protocol_add(p, "m", 0x10, 0), TRUFLUX_EINVAL);
    assert_int_equal(tf_protocol_add(p, "m", 0xFFFFFFFFu, 0), TRUFLUX_EINVAL);
    memset(name, 'x', 256);
    name[256] = '\0';
    assert_int_equal(tf_protocol_add(p, name, 0, 0), TRUFLUX_EINVAL);
    name[255] = '\0';
    assert_int_equal(tf_protocol_add(p, name, 0, 0), tf_protocol_name_id(name));
    assert_int_equal(tf_protocol_count(p), 1);
    assert_int_equal(tf_protocol_add(NULL, "x", 0, 0), TRUFLUX_EINVAL);
    truflux_protocol_free(p);
}

static void test_duplicates_and_collisions(void **state) {
    tf_protocol_t *p = truflux_protocol_new();
    (void)state;
    assert_true(tf_protocol_add(p, "chat", 0, 0) >= 0);
    assert_int_equal(tf_protocol_add(p, "chat", TRUFLUX_TYPES_BINARY, 9), TRUFLUX_EEXIST);

    assert_int_equal(tf_protocol_name_id(COLLIDE_A), tf_protocol_name_id(COLLIDE_B));
    assert_true(tf_protocol_add(p, COLLIDE_A, 0, 0) >= 0);
    assert_int_equal(tf_protocol_add(p, COLLIDE_B, 0, 0), TRUFLUX_EEXIST);

    assert_int_equal(tf_protocol_name_id(MASK_COLLIDE_A), 0x182fa980u);
    assert_int_equal(tf_protocol_name_id(MASK_COLLIDE_B), 0x182fa980u);
    assert_true(tf_protocol_add(p, MASK_COLLIDE_B, 0, 0) >= 0);
    assert_int_equal(tf_protocol_add(p, MASK_COLLIDE_A, 0, 0), TRUFLUX_EEXIST);

    assert_int_equal(tf_protocol_count(p), 3);
    assert_string_equal(tf_protocol_name(p, 0x182fa980u), MASK_COLLIDE_B);
    assert_int_equal(tf_protocol_id(p, COLLIDE_B), TRUFLUX_ENOTFOUND);
    truflux_protocol_free(p);
}

static void test_message_limit(void **state) {
    tf_protocol_t *p = truflux_protocol_new();
    char name[32];
    int i;
    (void)state;
    /* msg0 .. msg4096 have 4097 distinct ids (checked when this test was written). */
    for (i = 0; i < TRUFLUX_MAX_MESSAGES; i++) {
        snprintf(name, sizeof name, "msg%d", i);
        assert_int_equal(tf_protocol_add(p, name, 0, 0), tf_protocol_name_id(name));
    }
    assert_int_equal(tf_protocol_count(p), TRUFLUX_MAX_MESSAGES);
    snprintf(name, sizeof name, "msg%d", TRUFLUX_MAX_MESSAGES);
    assert_int_equal(tf_protocol_add(p, name, 0, 0), TRUFLUX_ELIMIT);
    assert_int_equal(tf_protocol_count(p), TRUFLUX_MAX_MESSAGES);
    /* Every one still found, by name and by id. */
    for (i = 0; i < TRUFLUX_MAX_MESSAGES; i += 97) {
        snprintf(name, sizeof name, "msg%d", i);
        assert_int_equal(tf_protocol_id(p, name), tf_protocol_name_id(name));
        assert_string_equal(tf_protocol_name(p, tf_protocol_name_id(name)), name);
    }
    truflux_protocol_free(p);
}

static void test_states(void **state) {
    tf_protocol_t *p = truflux_protocol_new();
    char name[16];
    int i;
    (void)state;
    assert_int_equal(tf_protocol_state(p, "login"), TRUFLUX_ENOTFOUND);
    assert_int_equal(tf_protocol_add_state(p, "login"), 0);
    assert_int_equal(tf_protocol_add_state(p, "ready"), 1);
    assert_int_equal(tf_protocol_add_state(p, "login"), TRUFLUX_EEXIST);
    assert_int_equal(tf_protocol_add_state(p, ""), TRUFLUX_EINVAL);
    assert_int_equal(tf_protocol_add_state(p, "\xed\xa0\x80"), TRUFLUX_EINVAL);
    assert_int_equal(tf_protocol_add_state(p, NULL), TRUFLUX_EINVAL);
    assert_int_equal(tf_protocol_state(p, "login"), 0);
    assert_int_equal(tf_protocol_state(p, "ready"), 1);
    for (i = 2; i < TRUFLUX_MAX_STATES; i++) {
        snprintf(name, sizeof name, "s%d", i);
        assert_int_equal(tf_protocol_add_state(p, name), i);
    }
    assert_int_equal(tf_protocol_add_state(p, "one-too-many"), TRUFLUX_ELIMIT);
    assert_int_equal(tf_protocol_state(p, "s31"), 31);
    assert_int_equal(tf_protocol_state(p, "one-too-many"), TRUFLUX_ENOTFOUND);

    assert_true(tf_protocol_add(p, "chat", 0, 0) >= 0);
    assert_int_equal(tf_protocol_allow(p, "chat", "ready"), 0);
    assert_int_equal(tf_protocol_allow(p, "chat", "s31"), 0);
    assert_int_equal(tf_protocol_allow(p, "chat", "nowhere"), TRUFLUX_ENOTFOUND);
    assert_int_equal(tf_protocol_allow(p, "nothing", "ready"), TRUFLUX_ENOTFOUND);
    assert_int_equal(tf_protocol_allow(p, NULL, "ready"), TRUFLUX_EINVAL);
    truflux_protocol_free(p);
}

static int handler_calls;
static void handler(void *user, tf_conn_t *conn, const tf_message_t *msg) {
    (void)user;
    (void)conn;
    (void)msg;
    handler_calls++;
}

static void test_handlers(void **state) {
    tf_protocol_t *p = truflux_protocol_new();
    (void)state;
    assert_true(tf_protocol_add(p, "chat", 0, 0) >= 0);
    assert_int_equal(tf_protocol_on(p, "chat", handler, &handler_calls), 0);
    assert_int_equal(tf_protocol_on(p, "chat", NULL, NULL), 0);
    assert_int_equal(tf_protocol_on(p, "other", handler, NULL), TRUFLUX_ENOTFOUND);
    assert_int_equal(tf_protocol_on(NULL, "chat", handler, NULL), TRUFLUX_EINVAL);
    assert_int_equal(tf_protocol_on(p, NULL, handler, NULL), TRUFLUX_EINVAL);
    assert_int_equal(handler_calls, 0);
    truflux_protocol_free(p);
}

static tf_protocol_t *small_protocol(int reversed) {
    tf_protocol_t *p = truflux_protocol_new();
    if (!reversed) {
        assert_int_equal(tf_protocol_add_state(p, "login"), 0);
        assert_int_equal(tf_protocol_add_state(p, "ready"), 1);
        assert_true(tf_protocol_add(p, "chat", TRUFLUX_TYPES_TEXT, 1024) >= 0);
        assert_true(tf_protocol_add(p, "ping", 0, 0) >= 0);
        assert_int_equal(tf_protocol_allow(p, "chat", "ready"), 0);
    } else {
        assert_true(tf_protocol_add(p, "ping", TRUFLUX_TYPES_ANY, 0) >= 0);
        assert_true(tf_protocol_add(p, "chat", TRUFLUX_TYPES_TEXT, 1024) >= 0);
        assert_int_equal(tf_protocol_add_state(p, "login"), 0);
        assert_int_equal(tf_protocol_add_state(p, "ready"), 1);
        assert_int_equal(tf_protocol_allow(p, "chat", "ready"), 0);
        assert_int_equal(tf_protocol_on(p, "chat", handler, NULL), 0);  /* not in the fp */
    }
    return p;
}

static void test_fingerprint(void **state) {
    char a[65], b[65], c[65];
    tf_protocol_t *p = small_protocol(0), *q = small_protocol(1), *r;
    uint8_t fp[32];
    (void)state;
    fingerprint_hex(p, a);
    fingerprint_hex(q, b);
    assert_string_equal(a, FP_SMALL);
    assert_string_equal(b, FP_SMALL);
    truflux_protocol_free(q);

    r = truflux_protocol_new();
    fingerprint_hex(r, c);
    assert_string_equal(c, FP_EMPTY);
    truflux_protocol_free(r);

    r = truflux_protocol_new();
    assert_int_equal(tf_protocol_add(r, "auth", TRUFLUX_TYPES_MSGPACK, 4096), 0x153fa84f);
    assert_int_equal(tf_protocol_add(r, "typing", TRUFLUX_TYPES_BINARY | TRUFLUX_TYPES_TEXT, 0),
                     0x0037f946);
    assert_int_equal(tf_protocol_add_state(r, "login"), 0);
    assert_int_equal(tf_protocol_add_state(r, "ready"), 1);
    assert_int_equal(tf_protocol_allow(r, "typing", "ready"), 0);
    assert_int_equal(tf_protocol_allow(r, "typing", "login"), 0);
    assert_int_equal(tf_protocol_allow(r, "auth", "login"), 0);
    fingerprint_hex(r, c);
    assert_string_equal(c, FP_TWO_STATES);
    truflux_protocol_free(r);

    /* One more message changes it. */
    assert_true(tf_protocol_add(p, "hello", 0, 0) >= 0);
    fingerprint_hex(p, c);
    assert_string_not_equal(c, FP_SMALL);
    truflux_protocol_free(p);

    /* A different type mask. */
    r = truflux_protocol_new();
    tf_protocol_add_state(r, "login");
    tf_protocol_add_state(r, "ready");
    tf_protocol_add(r, "chat", TRUFLUX_TYPES_TEXT | TRUFLUX_TYPES_EMPTY, 1024);
    tf_protocol_add(r, "ping", 0, 0);
    tf_protocol_allow(r, "chat", "ready");
    fingerprint_hex(r, c);
    assert_string_not_equal(c, FP_SMALL);
    truflux_protocol_free(r);

    /* A different maximum size. */
    r = truflux_protocol_new();
    tf_protocol_add_state(r, "login");
    tf_protocol_add_state(r, "ready");
    tf_protocol_add(r, "chat", TRUFLUX_TYPES_TEXT, 1025);
    tf_protocol_add(r, "ping", 0, 0);
    tf_protocol_allow(r, "chat", "ready");
    fingerprint_hex(r, c);
    assert_string_not_equal(c, FP_SMALL);
    truflux_protocol_free(r);

    /* The message allowed in another state. */
    r = truflux_protocol_new();
    tf_protocol_add_state(r, "login");
    tf_protocol_add_state(r, "ready");
    tf_protocol_add(r, "chat", TRUFLUX_TYPES_TEXT, 1024);
    tf_protocol_add(r, "ping", 0, 0);
    tf_protocol_allow(r, "chat", "login");
    fingerprint_hex(r, c);
    assert_string_not_equal(c, FP_SMALL);
    truflux_protocol_free(r);

    /* States declared in another order (numbers change). */
    r = truflux_protocol_new();
    tf_protocol_add_state(r, "ready");
    tf_protocol_add_state(r, "login");
    tf_protocol_add(r, "chat", TRUFLUX_TYPES_TEXT, 1024);
    tf_protocol_add(r, "ping", 0, 0);
    tf_protocol_allow(r, "chat", "ready");
    fingerprint_hex(r, c);
    assert_string_not_equal(c, FP_SMALL);
    truflux_protocol_free(r);

    /* A third state nobody uses still changes the #states line. */
    r = small_protocol(0);
    tf_protocol_add_state(r, "gone");
    fingerprint_hex(r, c);
    assert_string_not_equal(c, FP_SMALL);
    truflux_protocol_free(r);

    assert_int_equal(tf_protocol_fingerprint(NULL, fp), TRUFLUX_EINVAL);
    r = truflux_protocol_new();
    assert_int_equal(tf_protocol_fingerprint(r, NULL), TRUFLUX_EINVAL);
    truflux_protocol_free(r);
}

static void test_null_arguments(void **state) {
    (void)state;
    truflux_protocol_free(NULL);
    assert_int_equal(tf_protocol_count(NULL), 0);
    assert_null(tf_protocol_name(NULL, 1));
    assert_int_equal(tf_protocol_id(NULL, "x"), TRUFLUX_EINVAL);
    assert_int_equal(tf_protocol_state(NULL, "x"), TRUFLUX_EINVAL);
    assert_int_equal(tf_protocol_add_state(NULL, "x"), TRUFLUX_EINVAL);
    assert_int_equal(tf_protocol_allow(NULL, "x", "y"), TRUFLUX_EINVAL);
    assert_int_equal(tf_protocol_name_id(NULL), 0);
}

static void test_error_strings(void **state) {
    int code;
    (void)state;
#define CHECK_ONE(name, num, msg)                       \
    assert_string_equal(tf_strerror(num), msg);         \
    assert_string_equal(tf_errname(num), #name);        \
    assert_int_equal(TRUFLUX_##name, num);
    TRUFLUX_ERRNO_MAP(CHECK_ONE)
#undef CHECK_ONE
    /* Stable numbers, spelled out so that a renumbering fails here. */
    assert_int_equal(TRUFLUX_EPROTO, -9);
    assert_int_equal(TRUFLUX_EMSGSIZE, -12);
    assert_int_equal(TRUFLUX_EINTERNAL, -31);
    assert_string_equal(tf_errname(-9), "EPROTO");
    assert_string_equal(tf_strerror(0), "success");
    assert_string_equal(tf_errname(0), "OK");
    for (code = -31; code <= 0; code++) {
        assert_string_not_equal(tf_strerror(code), "unknown error");
        assert_string_not_equal(tf_errname(code), "UNKNOWN");
    }
    assert_string_equal(tf_strerror(-32), "unknown error");
    assert_string_equal(tf_strerror(1), "unknown error");
    assert_string_equal(tf_strerror(-1000000), "unknown error");
    assert_string_equal(tf_errname(-32), "UNKNOWN");
    assert_string_equal(tf_errname(7), "UNKNOWN");
}

static void test_version_and_last_error(void **state) {
    (void)state;
    assert_string_equal(tf_version(), TRUFLUX_VERSION_STRING);
    assert_non_null(tf_last_error_detail());
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_ids),
        cmocka_unit_test(test_name_rules),
        cmocka_unit_test(test_duplicates_and_collisions),
        cmocka_unit_test(test_message_limit),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_handlers),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_error_strings),
        cmocka_unit_test(test_version_and_last_error),
    };
    return cmocka_run_group_tests_name("test_protocol", tests, NULL, NULL);
}
