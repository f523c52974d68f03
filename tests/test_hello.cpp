// HELLO / WELCOME payload codec (lib/wire/hello.h, docs/PROTOCOL.md "Hello payload").
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka 1.1.5 (Debian 12) declares its functions without extern "C".
extern "C" {
#include <cmocka.h>
}

#include <cstring>
#include <vector>

#include <truflux/error.h>

#include "wire/hello.h"

namespace {

tfw::hello sample() {
    tfw::hello h;
    h.major = 1;
    h.minor = 3;
    h.flags = tfw::HELLO_FLAG_STRICT;
    h.caps = 0x00000002;
    h.max_message = 16u << 20;
    h.heartbeat_ms = 15000;
    for (int i = 0; i < 32; i++) h.fingerprint[i] = uint8_t(0xA0 + i);
    h.ids = {1, 0x224bf9ab, 0x7FFFFFFF};
    h.exts.push_back(tfw::hello_ext{7, {1, 2, 3}});
    h.exts.push_back(tfw::hello_ext{0xFFFF, {}});
    return h;
}

void put_u16(std::vector<uint8_t> &v, size_t at, uint16_t x) {
    v[at] = uint8_t(x >> 8);
    v[at + 1] = uint8_t(x);
}

void put_u32(std::vector<uint8_t> &v, size_t at, uint32_t x) {
    v[at] = uint8_t(x >> 24);
    v[at + 1] = uint8_t(x >> 16);
    v[at + 2] = uint8_t(x >> 8);
    v[at + 3] = uint8_t(x);
}

void test_layout(void **) {
    std::vector<uint8_t> out = {0xEE};  // encode appends
    tfw::hello_encode(sample(), &out);
    assert_int_equal(out.size(), 1 + 54 + 12 + (4 + 3) + 4);
    const uint8_t *p = out.data() + 1;
    const uint8_t head[] = {'T', 'F', 'L', 'X', 1, 3, 0, 1, 0, 0, 0, 2,
                            0x01, 0, 0, 0, 0, 0, 0x3A, 0x98};
    assert_memory_equal(p, head, sizeof head);
    assert_int_equal(p[20], 0xA0);
    assert_int_equal(p[51], 0xA0 + 31);
    assert_int_equal(p[52], 0);
    assert_int_equal(p[53], 3);
    const uint8_t ids[] = {0, 0, 0, 1, 0x22, 0x4b, 0xf9, 0xab, 0x7f, 0xff, 0xff, 0xff};
    assert_memory_equal(p + 54, ids, sizeof ids);
    const uint8_t exts[] = {0, 7, 0, 3, 1, 2, 3, 0xff, 0xff, 0, 0};
    assert_memory_equal(p + 66, exts, sizeof exts);
}

void test_round_trip(void **) {
    tfw::hello in = sample();
    std::vector<uint8_t> buf;
    tfw::hello_encode(in, &buf);
    tfw::hello out;
    assert_int_equal(tfw::hello_decode(buf.data(), buf.size(), &out), 0);
    assert_int_equal(out.major, 1);
    assert_int_equal(out.minor, 3);
    assert_int_equal(out.flags, tfw::HELLO_FLAG_STRICT);
    assert_int_equal(out.caps, 2);
    assert_int_equal(out.max_message, 16u << 20);
    assert_int_equal(out.heartbeat_ms, 15000);
    assert_memory_equal(out.fingerprint, in.fingerprint, 32);
    assert_true(out.ids == in.ids);
    assert_int_equal(out.exts.size(), 2);
    assert_int_equal(out.exts[0].type, 7);
    assert_true(out.exts[0].value == in.exts[0].value);
    assert_int_equal(out.exts[1].type, 0xFFFF);
    assert_true(out.exts[1].value.empty());
    std::vector<uint8_t> again;
    tfw::hello_encode(out, &again);
    assert_true(again == buf);

    // The smallest hello: no ids, no extensions.
    tfw::hello empty;
    buf.clear();
    tfw::hello_encode(empty, &buf);
    assert_int_equal(buf.size(), tfw::HELLO_FIXED_SIZE);
    assert_int_equal(tfw::hello_decode(buf.data(), buf.size(), &out), 0);
    assert_true(out.ids.empty());
    assert_true(out.exts.empty());
    assert_int_equal(out.major, 1);
    assert_int_equal(out.minor, 0);
}

void test_full_id_list(void **) {
    tfw::hello h;
    for (uint32_t i = 0; i < 4096; i++) h.ids.push_back(i * 1000 + 5);
    std::vector<uint8_t> buf;
    tfw::hello_encode(h, &buf);
    tfw::hello out;
    assert_int_equal(tfw::hello_decode(buf.data(), buf.size(), &out), 0);
    assert_int_equal(out.ids.size(), 4096);
    assert_int_equal(out.ids[4095], 4095u * 1000 + 5);
}

void test_bad_magic(void **) {
    std::vector<uint8_t> buf;
    tfw::hello_encode(sample(), &buf);
    for (int i = 0; i < 4; i++) {
        std::vector<uint8_t> b = buf;
        b[i] ^= 0x20;  // e.g. "tFLX"
        tfw::hello out;
        assert_int_equal(tfw::hello_decode(b.data(), b.size(), &out), TRUFLUX_EPROTO);
    }
    // An HTTP request is not a hello.
    const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n.........................................";
    tfw::hello out;
    assert_int_equal(tfw::hello_decode(reinterpret_cast<const uint8_t *>(get), sizeof get - 1,
                                       &out),
                     TRUFLUX_EPROTO);
}

void test_short(void **) {
    tfw::hello h;
    h.ids = {5, 6};
    std::vector<uint8_t> buf;
    tfw::hello_encode(h, &buf);
    tfw::hello out;
    // Every truncation is refused: into the fixed part, or into the id list.
    for (size_t len = 0; len < buf.size(); len++)
        assert_int_equal(tfw::hello_decode(buf.data(), len, &out), TRUFLUX_EPROTO);
    assert_int_equal(tfw::hello_decode(buf.data(), buf.size(), &out), 0);
}

void test_unsorted_ids(void **) {
    tfw::hello h;
    h.ids = {10, 20, 30};
    std::vector<uint8_t> buf;
    tfw::hello_encode(h, &buf);
    tfw::hello out;
    std::vector<uint8_t> b = buf;
    put_u32(b, 58, 5);  // 10, 5, 30
    assert_int_equal(tfw::hello_decode(b.data(), b.size(), &out), TRUFLUX_EPROTO);
    b = buf;
    put_u32(b, 58, 10);  // duplicate: not strictly ascending
    assert_int_equal(tfw::hello_decode(b.data(), b.size(), &out), TRUFLUX_EPROTO);
    b = buf;
    put_u32(b, 62, 21);  // 10, 20, 21: fine
    assert_int_equal(tfw::hello_decode(b.data(), b.size(), &out), 0);
}

void test_id_high_bit(void **) {
    tfw::hello h;
    h.ids = {10, 20};
    std::vector<uint8_t> buf;
    tfw::hello_encode(h, &buf);
    put_u32(buf, 58, 0x80000014u);  // ascending, but bit 31 set
    tfw::hello out;
    assert_int_equal(tfw::hello_decode(buf.data(), buf.size(), &out), TRUFLUX_EPROTO);
}

void test_count_over_limit(void **) {
    tfw::hello h;
    for (uint32_t i = 0; i < 4097; i++) h.ids.push_back(i);
    std::vector<uint8_t> buf;
    tfw::hello_encode(h, &buf);
    put_u16(buf, 52, 4097);
    tfw::hello out;
    assert_int_equal(tfw::hello_decode(buf.data(), buf.size(), &out), TRUFLUX_EPROTO);
    // A count claiming more ids than the payload holds.
    tfw::hello small;
    small.ids = {1};
    buf.clear();
    tfw::hello_encode(small, &buf);
    put_u16(buf, 52, 2);
    assert_int_equal(tfw::hello_decode(buf.data(), buf.size(), &out), TRUFLUX_EPROTO);
}

void test_truncated_extension(void **) {
    tfw::hello h;
    h.exts.push_back(tfw::hello_ext{1, {9, 9, 9, 9}});
    std::vector<uint8_t> buf;
    tfw::hello_encode(h, &buf);
    tfw::hello out;
    assert_int_equal(tfw::hello_decode(buf.data(), buf.size(), &out), 0);
    // Cut inside the value, and inside the extension's own header.
    for (size_t cut = 1; cut < 8; cut++)
        assert_int_equal(tfw::hello_decode(buf.data(), buf.size() - cut, &out), TRUFLUX_EPROTO);
    // A length running past the end.
    put_u16(buf, 56, 5);
    assert_int_equal(tfw::hello_decode(buf.data(), buf.size(), &out), TRUFLUX_EPROTO);
}

void test_unknown_extension_kept(void **) {
    std::vector<uint8_t> buf;
    tfw::hello h;
    h.ids = {3};
    tfw::hello_encode(h, &buf);
    const uint8_t ext[] = {0x12, 0x34, 0, 2, 0xAA, 0xBB, 0x00, 0x01, 0, 0};
    buf.insert(buf.end(), ext, ext + sizeof ext);
    tfw::hello out;
    assert_int_equal(tfw::hello_decode(buf.data(), buf.size(), &out), 0);
    assert_int_equal(out.exts.size(), 2);
    assert_int_equal(out.exts[0].type, 0x1234);
    assert_int_equal(out.exts[0].value.size(), 2);
    assert_int_equal(out.exts[0].value[0], 0xAA);
    assert_int_equal(out.exts[0].value[1], 0xBB);
    assert_int_equal(out.exts[1].type, 1);
    assert_true(out.exts[1].value.empty());
    std::vector<uint8_t> again;
    tfw::hello_encode(out, &again);
    assert_true(again == buf);
}

void test_other_versions_and_flags_read_as_is(void **) {
    std::vector<uint8_t> buf;
    tfw::hello_encode(tfw::hello(), &buf);
    buf[4] = 2;
    buf[5] = 9;
    put_u16(buf, 6, 0xFFFF);
    tfw::hello out;
    assert_int_equal(tfw::hello_decode(buf.data(), buf.size(), &out), 0);
    assert_int_equal(out.major, 2);
    assert_int_equal(out.minor, 9);
    assert_int_equal(out.flags, 0xFFFF);
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_full_id_list),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_short),
        cmocka_unit_test(test_unsorted_ids),
        cmocka_unit_test(test_id_high_bit),
        cmocka_unit_test(test_count_over_limit),
        cmocka_unit_test(test_truncated_extension),
        cmocka_unit_test(test_unknown_extension_kept),
        cmocka_unit_test(test_other_versions_and_flags_read_as_is),
    };
    return cmocka_run_group_tests_name("test_hello", tests, nullptr, nullptr);
}
