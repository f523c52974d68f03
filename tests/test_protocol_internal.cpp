// Protocol internals the public API cannot reach: freezing, the schema check, ordering,
// reference counting, and the thread-local last error.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka 1.1.5 (Debian 12) declares its functions without extern "C".
extern "C" {
#include <cmocka.h>
}

#include <cstring>
#include <string>
#include <thread>

#include <truflux/error.h>
#include <truflux/protocol.h>

#include "api/last_error.h"
#include "proto/protocol.h"

namespace {

void noop(void *, tf_conn_t *, const tf_message_t *) {}

void test_frozen_is_immutable(void **) {
    tf_protocol_t *p = truflux_protocol_new();
    assert_int_equal(tf_protocol_add_state(p, "s"), 0);
    assert_true(tf_protocol_add(p, "chat", 0, 0) >= 0);
    uint8_t before[32];
    assert_int_equal(tf_protocol_fingerprint(p, before), 0);
    p->freeze();
    p->freeze();  // idempotent
    assert_true(p->frozen.load());
    assert_memory_equal(p->fp, before, 32);

    assert_int_equal(tf_protocol_add(p, "more", 0, 0), TRUFLUX_EBUSY);
    assert_int_equal(tf_protocol_add(p, "chat", 0, 0), TRUFLUX_EBUSY);
    assert_int_equal(tf_protocol_add_state(p, "t"), TRUFLUX_EBUSY);
    assert_int_equal(tf_protocol_allow(p, "chat", "s"), TRUFLUX_EBUSY);
    assert_int_equal(tf_protocol_on(p, "chat", noop, nullptr), TRUFLUX_EBUSY);
    assert_int_equal(tf_protocol_on(p, "chat", nullptr, nullptr), TRUFLUX_EBUSY);
    assert_int_equal(tf_protocol_count(p), 1);

    // Reads still work, and the fingerprint is the frozen one.
    uint8_t after[32];
    assert_int_equal(tf_protocol_fingerprint(p, after), 0);
    assert_memory_equal(after, before, 32);
    assert_int_equal(tf_protocol_id(p, "chat"), tf_protocol_name_id("chat"));
    assert_int_equal(tf_protocol_state(p, "s"), 0);
    truflux_protocol_free(p);
}

void test_sorted_by_id(void **) {
    tf_protocol p;
    const char *names[] = {"zeta", "alpha", "chat", "ping", "m", "hello", "a", "b"};
    for (const char *n : names) assert_true(p.add(n, 0, 0) >= 0);
    std::vector<uint32_t> ids = p.ids();
    assert_int_equal(ids.size(), 8);
    for (size_t i = 1; i < ids.size(); i++) assert_true(ids[i - 1] < ids[i]);
    for (const char *n : names) {
        const tfp::message *m = p.find(n);
        assert_non_null(m);
        assert_string_equal(m->name.c_str(), n);
        assert_ptr_equal(p.find(m->id), m);
        assert_int_equal(m->types, TRUFLUX_TYPES_ANY);  // 0 is stored as "any"
        assert_int_equal(m->states, 0);
    }
    assert_null(p.find("nope"));
    assert_null(p.find(uint32_t(12345)));
}

void test_allow_and_handlers_stored(void **) {
    tf_protocol p;
    assert_int_equal(p.add_state("login"), 0);
    assert_int_equal(p.add_state("ready"), 1);
    assert_true(p.add("chat", TRUFLUX_TYPES_TEXT, 10) >= 0);
    assert_int_equal(p.allow("chat", "ready"), 0);
    assert_int_equal(p.allow("chat", "login"), 0);
    int tag = 0;
    assert_int_equal(p.on("chat", noop, &tag), 0);
    const tfp::message *m = p.find("chat");
    assert_int_equal(m->states, 3);
    assert_int_equal(m->types, TRUFLUX_TYPES_TEXT);
    assert_int_equal(m->max_size, 10);
    assert_true(m->cb == noop);
    assert_ptr_equal(m->user, &tag);
    assert_int_equal(p.on("chat", nullptr, &tag), 0);
    assert_null(m->cb);
}

void test_check(void **) {
    tfp::message any{1, "any", TRUFLUX_TYPES_ANY, 0, 0};
    tfp::message text{2, "text", TRUFLUX_TYPES_TEXT, 8, 0};
    tfp::message bin{3, "bin", TRUFLUX_TYPES_BINARY | TRUFLUX_TYPES_EMPTY, 0, 0};
    tfp::message pack{4, "pack", TRUFLUX_TYPES_MSGPACK, 0, 0};

    assert_int_equal(tf_protocol::check(any, TRUFLUX_TYPE_EMPTY, nullptr, 0, 100), 0);
    assert_int_equal(tf_protocol::check(any, TRUFLUX_TYPE_EMPTY, "x", 1, 100), TRUFLUX_ESCHEMA);
    assert_int_equal(tf_protocol::check(any, TRUFLUX_TYPE_BINARY, "\xff\x00", 2, 100), 0);
    assert_int_equal(tf_protocol::check(any, TRUFLUX_TYPE_TEXT, "h\xc3\xa9", 3, 100), 0);
    assert_int_equal(tf_protocol::check(any, TRUFLUX_TYPE_TEXT, "\xc3", 1, 100), TRUFLUX_EUTF8);
    assert_int_equal(tf_protocol::check(any, TRUFLUX_TYPE_MSGPACK, "\x92\x01\x02", 3, 100), 0);
    assert_int_equal(tf_protocol::check(any, TRUFLUX_TYPE_MSGPACK, "\x92\x01", 2, 100),
                     TRUFLUX_ESCHEMA);
    assert_int_equal(tf_protocol::check(any, TRUFLUX_TYPE_MSGPACK, "", 0, 100), TRUFLUX_ESCHEMA);
    assert_int_equal(tf_protocol::check(any, 4, "x", 1, 100), TRUFLUX_EINVAL);
    assert_int_equal(tf_protocol::check(any, -1, "x", 1, 100), TRUFLUX_EINVAL);
    // The connection's maximum.
    char big[101];
    std::memset(big, 'a', sizeof big);
    assert_int_equal(tf_protocol::check(any, TRUFLUX_TYPE_BINARY, big, 100, 100), 0);
    assert_int_equal(tf_protocol::check(any, TRUFLUX_TYPE_BINARY, big, 101, 100),
                     TRUFLUX_EMSGSIZE);

    // The message's own maximum and type mask.
    assert_int_equal(tf_protocol::check(text, TRUFLUX_TYPE_TEXT, big, 8, 100), 0);
    assert_int_equal(tf_protocol::check(text, TRUFLUX_TYPE_TEXT, big, 9, 100), TRUFLUX_EMSGSIZE);
    assert_int_equal(tf_protocol::check(text, TRUFLUX_TYPE_BINARY, big, 1, 100),
                     TRUFLUX_ESCHEMA);
    assert_int_equal(tf_protocol::check(text, TRUFLUX_TYPE_EMPTY, nullptr, 0, 100),
                     TRUFLUX_ESCHEMA);
    assert_int_equal(tf_protocol::check(bin, TRUFLUX_TYPE_EMPTY, nullptr, 0, 100), 0);
    assert_int_equal(tf_protocol::check(bin, TRUFLUX_TYPE_TEXT, "x", 1, 100), TRUFLUX_ESCHEMA);
    assert_int_equal(tf_protocol::check(pack, TRUFLUX_TYPE_MSGPACK, "\xc0", 1, 100), 0);
    assert_int_equal(tf_protocol::check(pack, TRUFLUX_TYPE_MSGPACK, "\xc1", 1, 100),
                     TRUFLUX_ESCHEMA);
    assert_int_equal(tf_protocol::check(pack, TRUFLUX_TYPE_BINARY, "\xc0", 1, 100),
                     TRUFLUX_ESCHEMA);
}

void test_refcount(void **) {
    // Under ASan a missed delete shows as a leak, a double one as a use after free.
    tf_protocol_t *p = truflux_protocol_new();
    p->retain();
    p->retain();
    assert_int_equal(p->refs.load(), 3);
    truflux_protocol_free(p);
    p->release();
    assert_int_equal(p->refs.load(), 1);
    assert_true(tf_protocol_add(p, "still-alive", 0, 0) >= 0);
    truflux_protocol_free(p);
}

void test_last_error(void **) {
    tfapi::set_last_error(TRUFLUX_ECONNREFUSED, "connect %s:%d: %s", "127.0.0.1", 9,
                          "Connection refused");
    assert_int_equal(tf_last_error(), TRUFLUX_ECONNREFUSED);
    assert_string_equal(tf_last_error_detail(), "connect 127.0.0.1:9: Connection refused");

    std::string longer(400, 'x');
    tfapi::set_last_error(TRUFLUX_EBADURL, "%s", longer.c_str());
    assert_int_equal(std::strlen(tf_last_error_detail()), 255);

    tfapi::set_last_error(TRUFLUX_ENOMEM, nullptr);
    assert_string_equal(tf_last_error_detail(), tf_strerror(TRUFLUX_ENOMEM));

    // Another thread sees its own, untouched, state.
    int other_code = 1;
    std::string other_detail = "unset";
    std::thread t([&] {
        other_code = tf_last_error();
        other_detail = tf_last_error_detail();
        tfapi::set_last_error(TRUFLUX_EIO, "from the thread");
    });
    t.join();
    assert_int_equal(other_code, 0);
    assert_string_equal(other_detail.c_str(), "");
    assert_int_equal(tf_last_error(), TRUFLUX_ENOMEM);
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frozen_is_immutable),
        cmocka_unit_test(test_sorted_by_id),
        cmocka_unit_test(test_allow_and_handlers_stored),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_last_error),
    };
    return cmocka_run_group_tests_name("test_protocol_internal", tests, nullptr, nullptr);
}
