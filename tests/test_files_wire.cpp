// tests/test_files_wire.cpp: the pure parts of the file sub-protocol: the header limits of
// kinds 0x30-0x39, the codec of their payloads (byte for byte as docs/PROTOCOL.md §23 lays
// them out), the name rules, and the incremental SHA-256.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <cstring>
#include <string>
#include <vector>

#include <truflux/error.h>

#include "crypto/sha256.h"
#include "crypto/sha256_shani.h"
#include "crypto/sha256_stream.h"
#include "files/name.h"
#include "files/wire.h"
#include "wire/frame.h"

namespace {

void check_limit(uint8_t kind, uint32_t limit) {
    uint8_t h[tfw::HEADER_SIZE];
    tfw::header_write(h, kind, 1, limit);
    assert_int_equal(tfw::header_check(h, 10), 0);
    tfw::header_write(h, kind, 1, limit + 1);
    assert_int_equal(tfw::header_check(h, 10), TRUFLUX_EMSGSIZE);
}

void test_header_limits(void **) {
    check_limit(0x30, 1024);   // OFFER
    check_limit(0x31, 12);     // ACCEPT
    check_limit(0x32, 129);    // DECLINE
    check_limit(0x33, 0);      // PAUSE
    check_limit(0x34, 0);      // RESUME
    check_limit(0x35, 129);    // CANCEL
    check_limit(0x36, 65536);  // CHUNK: fixed, whatever the max message size
    check_limit(0x37, 40);     // END
    check_limit(0x38, 4);      // CREDIT
    check_limit(0x39, 0);      // DONE
    for (int k = 0x3A; k <= 0x3F; k++) {
        uint8_t h[tfw::HEADER_SIZE];
        tfw::header_write(h, uint8_t(k), 1, 0);
        assert_int_equal(tfw::header_check(h, 10), TRUFLUX_EPROTO);
    }
}

std::vector<uint8_t> hex(const char *s) {
    std::vector<uint8_t> out;
    for (; s[0] && s[1]; s += 2) {
        if (*s == ' ') {
            s--;
            continue;
        }
        out.push_back(uint8_t(std::stoi(std::string(s, 2), nullptr, 16)));
    }
    return out;
}

void test_offer_layout(void **) {
    tff::offer o;
    o.size = 0x0102030405;
    for (int i = 0; i < 16; i++) o.key[i] = uint8_t(0xA0 + i);
    o.name = "a.txt";
    std::vector<uint8_t> p;
    tff::offer_encode(o, &p);
    assert_true(p == hex("0000000102030405 a0a1a2a3a4a5a6a7a8a9aaabacadaeaf 0000 0005 612e747874"));
    tff::offer d;
    assert_int_equal(tff::offer_decode(p.data(), p.size(), &d), 0);
    assert_int_equal(d.size, 0x0102030405);
    assert_memory_equal(d.key, o.key, 16);
    assert_string_equal(d.name.c_str(), "a.txt");
    // Octets after the name are reserved for later revisions: ignored.
    p.push_back(0xEE);
    assert_int_equal(tff::offer_decode(p.data(), p.size(), &d), 0);
    assert_string_equal(d.name.c_str(), "a.txt");
    // Too short for its name, an empty name, or a short fixed part: EPROTO.
    assert_int_equal(tff::offer_decode(p.data(), 30, &d), TRUFLUX_EPROTO);
    assert_int_equal(tff::offer_decode(p.data(), 27, &d), TRUFLUX_EPROTO);
    std::vector<uint8_t> empty = hex("0000000000000001 00000000000000000000000000000000 0000 0000");
    assert_int_equal(tff::offer_decode(empty.data(), empty.size(), &d), TRUFLUX_EPROTO);
    // A stream: the size is all ones.
    tff::offer s;
    s.name = "x";
    p.clear();
    tff::offer_encode(s, &p);
    assert_int_equal(tff::offer_decode(p.data(), p.size(), &d), 0);
    assert_true(d.size == tff::SIZE_UNKNOWN);
    assert_true(tff::key_is_zero(d.key));
}

void test_other_payloads(void **) {
    std::vector<uint8_t> p;
    tff::accept a;
    a.offset = 0x1122334455;
    a.credit = 0x00200000;
    tff::accept_encode(a, &p);
    assert_true(p == hex("0000001122334455 00200000"));
    tff::accept ad;
    assert_int_equal(tff::accept_decode(p.data(), p.size(), &ad), 0);
    assert_int_equal(ad.offset, a.offset);
    assert_int_equal(ad.credit, a.credit);
    assert_int_equal(tff::accept_decode(p.data(), 11, &ad), TRUFLUX_EPROTO);

    p.clear();
    tff::reason_encode(62, "bad", &p);
    assert_true(p == hex("0000003e 626164"));
    tff::reason r;
    assert_int_equal(tff::reason_decode(p.data(), p.size(), &r), 0);
    assert_int_equal(r.code, 62);
    assert_string_equal(r.text.c_str(), "bad");
    assert_int_equal(tff::reason_decode(p.data(), 3, &r), TRUFLUX_EPROTO);

    p.clear();
    tff::end e;
    e.total = 5;
    memset(e.digest, 0x5A, sizeof e.digest);
    tff::end_encode(e, &p);
    assert_int_equal(p.size(), 40);
    tff::end ed;
    assert_int_equal(tff::end_decode(p.data(), p.size(), &ed), 0);
    assert_int_equal(ed.total, 5);
    assert_memory_equal(ed.digest, e.digest, 32);
    assert_int_equal(tff::end_decode(p.data(), 39, &ed), TRUFLUX_EPROTO);

    p.clear();
    tff::credit_encode(65536, &p);
    assert_true(p == hex("00010000"));
    uint32_t c = 0;
    assert_int_equal(tff::credit_decode(p.data(), p.size(), &c), 0);
    assert_int_equal(c, 65536);
    const uint8_t zero[4] = {0, 0, 0, 0};
    assert_int_equal(tff::credit_decode(zero, 4, &c), TRUFLUX_EPROTO);
}

void test_name_rules(void **) {
    const char *good[] = {"a", "a.txt", "..a", "a..", "...", " space ", ".hidden", "héllo",
                          "日本語.txt", "emoji-😀"};
    for (const char *n : good) assert_int_equal(tff::check_name(n), 0);
    const std::string bad[] = {
        "", ".", "..", "a/b", "/abs", "a\\b", std::string("x\0y", 3), "\x01", "a\tb", "a\nb",
        "del\x7f", "c1\xc2\x85", "\xff", "\xc0\xaf", "\xed\xa0\x80", ".tfpart-x",
        std::string(256, 'a')};
    for (const std::string &n : bad) assert_int_equal(tff::check_name(n), TRUFLUX_EFILENAME);
    assert_int_equal(tff::check_name(std::string(255, 'a')), 0);

    // Names derived from paths always pass.
    assert_string_equal(tff::name_from_path("/tmp/dir/report.pdf").c_str(), "report.pdf");
    assert_string_equal(tff::name_from_path("dir/").c_str(), "dir");
    assert_string_equal(tff::name_from_path("a\tb").c_str(), "a_b");
    assert_string_equal(tff::name_from_path("/").c_str(), "_");
    assert_string_equal(tff::name_from_path("..").c_str(), "_");
    assert_string_equal(tff::name_from_path("x/.tfpart-y").c_str(), "_tfpart-y");
    assert_int_equal(tff::check_name(tff::name_from_path(std::string("bad\xff\x01", 5))), 0);
    assert_int_equal(tff::name_from_path(std::string(300, 'b')).size(), 255);

    assert_string_equal(tff::printable_name(std::string("a\0/\"\x7f", 5)).c_str(),
                        "a\\x00/\\x22\\x7f");
    uint8_t key[16];
    memset(key, 0x0F, sizeof key);
    assert_string_equal(tff::temp_name("f.bin", key).c_str(),
                        ".tfpart-0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f-f.bin");
    assert_true(tff::temp_name(std::string(255, 'n'), key).size() <= 255);
}

void test_sha256_stream(void **) {
    std::vector<uint8_t> data(200000);
    for (size_t i = 0; i < data.size(); i++) data[i] = uint8_t(i * 31 + 7);
    uint8_t one[32], inc[32];
    tfc::sha256(data.data(), data.size(), one);
    tfc::sha256_stream s;
    size_t step = 1;
    for (size_t at = 0; at < data.size(); at += step, step = step * 3 + 1)
        s.update(data.data() + at, std::min(step, data.size() - at));
    s.finish(inc);
    assert_memory_equal(one, inc, 32);
    // FIPS 180-2's "abc".
    s.update("abc", 3);
    s.finish(inc);
    assert_true(std::vector<uint8_t>(inc, inc + 32) ==
                hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

// The SHA-extensions path (taken by sha256_stream where the CPU has them) against the
// one-shot digest for every length across several blocks and for uneven pieces.
void test_sha256_lengths(void **) {
    std::vector<uint8_t> data(1100);
    for (size_t i = 0; i < data.size(); i++) data[i] = uint8_t(i * 131 + 17);
    tfc::sha256_stream s;
    for (size_t len = 0; len <= data.size(); len++) {
        uint8_t one[32], inc[32], blocks[32];
        tfc::sha256(data.data(), len, one);
        for (size_t at = 0, step = 1 + len % 7; at < len; at += step, step = step * 2 + 1)
            s.update(data.data() + at, std::min(step, len - at));
        s.finish(inc);
        assert_memory_equal(one, inc, 32);
        // Whole blocks straight from the caller's buffer, then the tail.
        s.update(data.data(), len / 64 * 64);
        s.update(data.data() + len / 64 * 64, len % 64);
        s.finish(blocks);
        assert_memory_equal(one, blocks, 32);
    }
    print_message("sha256_stream: %s\n", tfc::sha256_shani_available() ? "SHA extensions" : "portable");
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_limits),  cmocka_unit_test(test_offer_layout),
        cmocka_unit_test(test_other_payloads), cmocka_unit_test(test_name_rules),
        cmocka_unit_test(test_sha256_stream),
        cmocka_unit_test(test_sha256_lengths),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
