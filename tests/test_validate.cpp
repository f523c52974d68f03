// Strict UTF-8 and MessagePack well-formedness (lib/wire/validate.h).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka 1.1.5 (Debian 12) declares its functions without extern "C".
extern "C" {
#include <cmocka.h>
}

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "wire/validate.h"

namespace {

using bytes = std::vector<uint8_t>;

bool utf8(const std::string &s) {
    return tfw::utf8_valid(reinterpret_cast<const uint8_t *>(s.data()), s.size());
}

bool mp(const bytes &b, int depth = 64) { return tfw::msgpack_valid(b.data(), b.size(), depth); }

void test_utf8_accept(void **) {
    const char *good[] = {
        "",
        "plain ascii, long enough to take the eight-byte path more than once",
        "\x7f",
        "\xc2\x80",                  // U+0080, smallest 2-byte
        "\xdf\xbf",                  // U+07FF
        "\xe0\xa0\x80",              // U+0800, smallest 3-byte
        "\xed\x9f\xbf",              // U+D7FF, just below the surrogates
        "\xee\x80\x80",              // U+E000, just above
        "\xef\xbf\xbf",              // U+FFFF
        "\xf0\x90\x80\x80",          // U+10000, smallest 4-byte
        "\xf4\x8f\xbf\xbf",          // U+10FFFF, the largest
        "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80 end",
        "12345678\xc3\xa9" "abcdefgh",  // a multibyte sequence between ASCII blocks
    };
    for (const char *s : good) assert_true(utf8(s));
    // NUL is a valid code point.
    assert_true(tfw::utf8_valid(reinterpret_cast<const uint8_t *>("a\0b"), 3));
}

void test_utf8_reject(void **) {
    const char *bad[] = {
        "\x80",                      // lone continuation
        "abc\xbf",                   // continuation after ASCII
        "\xc0\x80",                  // overlong NUL
        "\xc1\xbf",                  // overlong 2-byte
        "\xe0\x80\x80",              // overlong 3-byte
        "\xe0\x9f\xbf",              // overlong U+07FF
        "\xf0\x80\x80\x80",          // overlong 4-byte
        "\xf0\x8f\xbf\xbf",          // overlong U+FFFF
        "\xed\xa0\x80",              // U+D800 (surrogate)
        "\xed\xbf\xbf",              // U+DFFF
        "\xed\xa0\x80\xed\xb0\x80",  // a CESU-8 surrogate pair
        "\xf4\x90\x80\x80",          // U+110000
        "\xf5\x80\x80\x80",          // lead byte above F4
        "\xf8\x88\x80\x80\x80",      // 5-byte form
        "\xfc\x84\x80\x80\x80\x80",  // 6-byte form
        "\xfe",
        "\xff",
        "\xc3",                      // truncated 2-byte
        "\xe2\x82",                  // truncated 3-byte
        "\xf0\x9f\x98",              // truncated 4-byte
        "abcdefgh\xe2\x82",          // truncated after an ASCII block
        "\xc3\x28",                  // bad continuation
        "\xe2\x28\xa1",
        "\xe2\x82\x28",
        "\xf0\x28\x8c\xbc",
        "\xf0\x90\x28\xbc",
        "\xf0\x9f\x98\x28",
        "\xc3\xa9\xc3",              // good then truncated
    };
    for (const char *s : bad) {
        if (utf8(s)) fail_msg("accepted invalid UTF-8 (first byte 0x%02x)", uint8_t(s[0]));
    }
}

void test_utf8_every_code_point(void **) {
    // Encode every scalar value and check acceptance; encode every surrogate and refuse it.
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        uint8_t b[4];
        size_t n;
        if (cp < 0x80) {
            b[0] = uint8_t(cp);
            n = 1;
        } else if (cp < 0x800) {
            b[0] = uint8_t(0xC0 | (cp >> 6));
            b[1] = uint8_t(0x80 | (cp & 0x3F));
            n = 2;
        } else if (cp < 0x10000) {
            b[0] = uint8_t(0xE0 | (cp >> 12));
            b[1] = uint8_t(0x80 | ((cp >> 6) & 0x3F));
            b[2] = uint8_t(0x80 | (cp & 0x3F));
            n = 3;
        } else {
            b[0] = uint8_t(0xF0 | (cp >> 18));
            b[1] = uint8_t(0x80 | ((cp >> 12) & 0x3F));
            b[2] = uint8_t(0x80 | ((cp >> 6) & 0x3F));
            b[3] = uint8_t(0x80 | (cp & 0x3F));
            n = 4;
        }
        bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
        if (tfw::utf8_valid(b, n) == surrogate) fail_msg("code point U+%04X", unsigned(cp));
    }
}

// Every MessagePack format, one value each.
std::vector<bytes> every_format() {
    std::vector<bytes> v = {
        {0x00}, {0x7f},                          // positive fixint
        {0xe0}, {0xff},                          // negative fixint
        {0xc0}, {0xc2}, {0xc3},                  // nil, false, true
        {0xcc, 0xff},                            // uint8
        {0xcd, 0xff, 0xff},                      // uint16
        {0xce, 1, 2, 3, 4},                      // uint32
        {0xcf, 1, 2, 3, 4, 5, 6, 7, 8},          // uint64
        {0xd0, 0x80},                            // int8
        {0xd1, 0x80, 0},                         // int16
        {0xd2, 0x80, 0, 0, 0},                   // int32
        {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0},       // int64
        {0xca, 0x3f, 0x80, 0, 0},                // float32
        {0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0},    // float64
        {0xa0},                                  // fixstr ""
        {0xa3, 'a', 'b', 'c'},                   // fixstr
        {0xd9, 2, 'h', 'i'},                     // str8
        {0xda, 0, 1, 'x'},                       // str16
        {0xdb, 0, 0, 0, 2, 'o', 'k'},            // str32
        {0xc4, 0},                               // bin8 empty
        {0xc4, 2, 0xde, 0xad},                   // bin8
        {0xc5, 0, 1, 0xff},                      // bin16
        {0xc6, 0, 0, 0, 1, 0xff},                // bin32
        {0x90},                                  // fixarray empty
        {0x92, 0x01, 0x02},                      // fixarray
        {0xdc, 0, 2, 0xc0, 0xc3},                // array16
        {0xdd, 0, 0, 0, 1, 0x05},                // array32
        {0x80},                                  // fixmap empty
        {0x81, 0xa1, 'k', 0x01},                 // fixmap
        {0xde, 0, 1, 0x01, 0x02},                // map16
        {0xdf, 0, 0, 0, 1, 0xc0, 0xc0},          // map32
        {0xd4, 1, 0xaa},                         // fixext1
        {0xd5, 1, 0xaa, 0xbb},                   // fixext2
        {0xd6, 0xff, 1, 2, 3, 4},                // fixext4 (timestamp32)
        {0xd7, 0xff, 1, 2, 3, 4, 5, 6, 7, 8},    // fixext8
        {0xd8, 5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},  // fixext16
        {0xc7, 0, 9},                            // ext8 empty
        {0xc7, 3, 9, 1, 2, 3},                   // ext8
        {0xc8, 0, 1, 9, 0xaa},                   // ext16
        {0xc9, 0, 0, 0, 2, 9, 0xaa, 0xbb},       // ext32
    };
    return v;
}

void test_msgpack_accept_every_format(void **) {
    std::vector<bytes> all = every_format();
    for (size_t i = 0; i < all.size(); i++)
        if (!mp(all[i])) fail_msg("format #%zu (0x%02x) refused", i, all[i][0]);

    // All of them inside one array and as values of one map.
    bytes arr = {0xdc, 0, uint8_t(all.size())};
    bytes map = {0xde, 0, uint8_t(all.size())};
    for (size_t i = 0; i < all.size(); i++) {
        arr.insert(arr.end(), all[i].begin(), all[i].end());
        map.push_back(uint8_t(i));
        map.insert(map.end(), all[i].begin(), all[i].end());
    }
    assert_true(mp(arr));
    assert_true(mp(map));
}

void test_msgpack_accept_nested(void **) {
    // {"a": [1, [2, {}], {"b": []}], "c": nil}
    bytes v = {0x82, 0xa1, 'a', 0x93, 0x01, 0x92, 0x02, 0x80, 0x81, 0xa1, 'b', 0x90,
               0xa1, 'c', 0xc0};
    assert_true(mp(v));
    // Maps as keys, nested arrays closing together.
    bytes w = {0x81, 0x81, 0x01, 0x02, 0x91, 0x91, 0x91, 0x03};
    assert_true(mp(w));
    // Exactly at the depth limit.
    bytes deep(64, 0x91);
    deep.push_back(0x01);
    assert_true(mp(deep, 64));
    assert_false(mp(deep, 63));
}

void test_msgpack_reject_truncated(void **) {
    // Every proper prefix of every multi-byte format is incomplete.
    for (const bytes &b : every_format()) {
        for (size_t len = 0; len < b.size(); len++) {
            if (tfw::msgpack_valid(b.data(), len, 64))
                fail_msg("prefix of %zu bytes of 0x%02x accepted", len, b[0]);
        }
    }
    assert_false(mp({}));
    assert_false(mp({0x92, 0x01}));            // array missing an element
    assert_false(mp({0x81, 0x01}));            // map missing a value
    assert_false(mp({0xa5, 'a', 'b'}));        // str shorter than its length
}

void test_msgpack_reject_trailing(void **) {
    assert_false(mp({0x01, 0x02}));
    assert_false(mp({0x90, 0x90}));
    assert_false(mp({0x91, 0x01, 0x01}));
    assert_false(mp({0xc0, 0x00}));
}

void test_msgpack_reject_c1(void **) {
    assert_false(mp({0xc1}));
    assert_false(mp({0x91, 0xc1}));
    assert_false(mp({0x81, 0x01, 0xc1}));
}

void test_msgpack_huge_counts_fail_fast(void **) {
    const bytes claims[] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff},        // array32 of 2^32-1 elements in 5 bytes
        {0xdf, 0xff, 0xff, 0xff, 0xff},        // map32
        {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01},  // ... with one element present
        {0xdc, 0xff, 0xff, 0x01},              // array16
        {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},   // str32
        {0xc6, 0xff, 0xff, 0xff, 0xff},        // bin32
        {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01},  // ext32
    };
    // A validator that walked the claimed counts would spin for billions of steps here; the
    // CTest timeout turns that into a failure (speed itself is a benchmark's business).
    for (int rep = 0; rep < 1000; rep++)
        for (const bytes &b : claims) assert_false(mp(b));

    // A map whose doubled count would still fit in the buffer if it were not doubled.
    bytes m = {0x82, 0x01, 0x02, 0x03};
    assert_false(mp(m));
}

void test_msgpack_depth_limit(void **) {
    bytes deep(1000, 0x91);
    deep.push_back(0xc0);
    assert_false(mp(deep, 64));
    assert_true(mp(deep, 1000));
    assert_false(mp(deep, 999));
    // Empty containers count as a level too.
    bytes empty_at_65(64, 0x91);
    empty_at_65.push_back(0x90);
    assert_false(mp(empty_at_65, 64));
    // Depth 0: scalars only.
    assert_true(mp({0x05}, 0));
    assert_false(mp({0x90}, 0));
    // A million nested arrays: refused without recursion.
    bytes huge(1000000, 0x91);
    huge.push_back(0x01);
    assert_false(mp(huge, 64));
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_accept),
        cmocka_unit_test(test_utf8_reject),
        cmocka_unit_test(test_utf8_every_code_point),
        cmocka_unit_test(test_msgpack_accept_every_format),
        cmocka_unit_test(test_msgpack_accept_nested),
        cmocka_unit_test(test_msgpack_reject_truncated),
        cmocka_unit_test(test_msgpack_reject_trailing),
        cmocka_unit_test(test_msgpack_reject_c1),
        cmocka_unit_test(test_msgpack_huge_counts_fail_fast),
        cmocka_unit_test(test_msgpack_depth_limit),
    };
    return cmocka_run_group_tests_name("test_validate", tests, nullptr, nullptr);
}
