// Frame header codec, parse() and the incremental decoder (lib/wire/frame.h).
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

#include "wire/frame.h"

using tfw::frame;

namespace {

struct spec {
    uint8_t kind;
    uint32_t id;
    std::vector<uint8_t> payload;
};

void append_frame(std::vector<uint8_t> *out, uint8_t kind, uint32_t id, size_t len,
                  uint8_t fill = 0) {
    uint8_t h[tfw::HEADER_SIZE];
    tfw::header_write(h, kind, id, uint32_t(len));
    out->insert(out->end(), h, h + sizeof h);
    for (size_t i = 0; i < len; i++) out->push_back(uint8_t(fill + i));
}

std::vector<spec> sample_frames() {
    std::vector<spec> v;
    auto add = [&](uint8_t kind, uint32_t id, size_t len, uint8_t fill) {
        spec s{kind, id, {}};
        for (size_t i = 0; i < len; i++) s.payload.push_back(uint8_t(fill + i));
        v.push_back(s);
    };
    add(tfw::KIND_HELLO, 0, 60, 1);
    add(tfw::KIND_PING, 0, 5, 2);
    add(tfw::KIND_MSG, 0x1234, 0, 0);
    add(tfw::KIND_MSG | 1, 0x7FFFFFFF, 300, 3);
    add(tfw::KIND_MSG | 2, 42, 11, 'a');
    add(tfw::KIND_CLOSE, 9, 4, 'x');
    add(tfw::KIND_ERROR, 77, 20, 4);
    return v;
}

std::vector<uint8_t> encode(const std::vector<spec> &v) {
    std::vector<uint8_t> out;
    for (const spec &s : v) {
        size_t at = out.size();
        append_frame(&out, s.kind, s.id, s.payload.size());
        if (!s.payload.empty())
            std::memcpy(out.data() + at + tfw::HEADER_SIZE, s.payload.data(), s.payload.size());
    }
    return out;
}

void assert_frame(const frame &f, const spec &s) {
    assert_int_equal(f.kind, s.kind);
    assert_int_equal(f.id, s.id);
    assert_int_equal(f.len, s.payload.size());
    if (f.len) assert_memory_equal(f.payload, s.payload.data(), f.len);
}

// Writes bytes through prepare()/commit(), as a socket reader does, in chunks of at most
// `chunk`, draining frames after each chunk.
void pump(tfw::decoder &d, const uint8_t *p, size_t len, size_t chunk, std::vector<spec> *got) {
    while (len > 0) {
        size_t room = 0;
        uint8_t *dst = d.prepare(chunk, &room);
        assert_non_null(dst);
        assert_true(room > 0);
        size_t n = len < chunk ? len : chunk;
        if (n > room) n = room;
        std::memcpy(dst, p, n);
        d.commit(n);
        p += n;
        len -= n;
        frame f;
        int r;
        while ((r = d.next(&f)) > 0)
            got->push_back(spec{f.kind, f.id, std::vector<uint8_t>(f.payload, f.payload + f.len)});
        assert_int_equal(r, 0);
    }
}

void test_header_round_trip(void **) {
    const uint32_t ids[] = {0, 1, 0x1234567, 0x7FFFFFFF};
    const uint32_t lens[] = {0, 1, 125, 0x01020304u};
    for (uint32_t id : ids) {
        for (uint32_t len : lens) {
            uint8_t h[tfw::HEADER_SIZE];
            tfw::header_write(h, tfw::KIND_MSG | 1, id, len);
            assert_int_equal(h[0], 0x11);
            assert_int_equal(h[1], uint8_t(id >> 24));
            assert_int_equal(h[4], uint8_t(id));
            assert_int_equal(h[5], uint8_t(len >> 24));
            assert_int_equal(h[8], uint8_t(len));
            assert_int_equal(tfw::header_check(h, 0xFFFFFFFFu), 0);
        }
    }
    // Big-endian on the wire, whatever the host.
    uint8_t h[tfw::HEADER_SIZE];
    tfw::header_write(h, tfw::KIND_CLOSE, 0x01020304, 0x0A0B0C0D);
    const uint8_t want[] = {0x05, 1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D};
    assert_memory_equal(h, want, sizeof want);

    std::vector<uint8_t> buf;
    append_frame(&buf, tfw::KIND_MSG | 2, 0x7FFFFFFF, 3, 'a');
    frame f;
    assert_int_equal(tfw::parse(buf.data(), buf.size(), 100, &f), 12);
    assert_int_equal(f.kind, 0x12);
    assert_int_equal(f.id, 0x7FFFFFFF);
    assert_int_equal(f.len, 3);
    assert_ptr_equal(f.payload, buf.data() + 9);
    assert_memory_equal(f.payload, "abc", 3);
}

void check_limit(uint8_t kind, uint32_t limit, uint32_t max_msg) {
    uint8_t h[tfw::HEADER_SIZE];
    tfw::header_write(h, kind, 0, limit);
    assert_int_equal(tfw::header_check(h, max_msg), 0);
    tfw::header_write(h, kind, 0, limit + 1);
    assert_int_equal(tfw::header_check(h, max_msg), TRUFLUX_EMSGSIZE);
    tfw::header_write(h, kind, 0, 0xFFFFFFFFu);
    assert_int_equal(tfw::header_check(h, max_msg), TRUFLUX_EMSGSIZE);
}

void test_kind_limits(void **) {
    check_limit(tfw::KIND_HELLO, 65536, 10);
    check_limit(tfw::KIND_WELCOME, 65536, 10);
    check_limit(tfw::KIND_PING, 125, 1 << 20);
    check_limit(tfw::KIND_PONG, 125, 1 << 20);
    check_limit(tfw::KIND_CLOSE, 125, 1 << 20);
    check_limit(tfw::KIND_ERROR, 1024, 1 << 20);
    for (uint8_t t = 1; t <= 3; t++) {
        check_limit(tfw::KIND_MSG | t, 1000, 1000);
        check_limit(tfw::KIND_MSG | t, 0, 0);
    }
    // The decoder's max applies to messages only, not to control frames.
    check_limit(tfw::KIND_PING, 125, 0);
}

void test_empty_message_with_length(void **) {
    uint8_t h[tfw::HEADER_SIZE];
    tfw::header_write(h, tfw::KIND_MSG, 5, 0);
    assert_int_equal(tfw::header_check(h, 1 << 20), 0);
    tfw::header_write(h, tfw::KIND_MSG, 5, 1);
    assert_int_equal(tfw::header_check(h, 1 << 20), TRUFLUX_EPROTO);
    frame f;
    assert_int_equal(tfw::parse(h, sizeof h, 1 << 20, &f), TRUFLUX_EPROTO);
}

void test_reserved_bit(void **) {
    uint8_t h[tfw::HEADER_SIZE];
    tfw::header_write(h, tfw::KIND_MSG | 1, 1, 0);
    h[1] |= 0x80;
    assert_int_equal(tfw::header_check(h, 100), TRUFLUX_EPROTO);
    tfw::header_write(h, tfw::KIND_PING, 0, 0);
    h[1] = 0x80;
    assert_int_equal(tfw::header_check(h, 100), TRUFLUX_EPROTO);
    frame f;
    assert_int_equal(tfw::parse(h, sizeof h, 100, &f), TRUFLUX_EPROTO);
}

void test_unknown_kinds(void **) {
    for (int k = 0; k < 256; k++) {
        bool known = (k >= 0x01 && k <= 0x06) || (k >= 0x10 && k <= 0x13) ||
                     (k >= 0x30 && k <= 0x39) ||  // file transfer (§23), limits in test_files_wire
                     (k >= 0x20 && k <= 0x24);    // secure layer (§24), test_secure_unit
        uint8_t h[tfw::HEADER_SIZE];
        tfw::header_write(h, uint8_t(k), 0, 0);
        assert_int_equal(tfw::header_check(h, 100), known ? 0 : TRUFLUX_EPROTO);
    }
}

void test_parse_every_split(void **) {
    std::vector<spec> frames = sample_frames();
    std::vector<uint8_t> buf = encode(frames);
    for (size_t cut = 0; cut <= buf.size(); cut++) {
        // parse() on a prefix returns exactly the frames wholly inside it, then asks for more.
        size_t off = 0, n = 0;
        frame f;
        long r;
        while ((r = tfw::parse(buf.data() + off, cut - off, 1 << 20, &f)) > 0) {
            assert_frame(f, frames[n]);
            off += size_t(r);
            n++;
        }
        assert_int_equal(r, 0);
        while ((r = tfw::parse(buf.data() + off, buf.size() - off, 1 << 20, &f)) > 0) {
            assert_frame(f, frames[n]);
            off += size_t(r);
            n++;
        }
        assert_int_equal(r, 0);
        assert_int_equal(off, buf.size());
        assert_int_equal(n, frames.size());

        // The decoder given the two halves through feed() returns the same frames.
        tfw::decoder d(1 << 20);
        std::vector<spec> got;
        assert_int_equal(d.feed(buf.data(), cut), 0);
        while (d.next(&f) > 0) got.push_back(spec{f.kind, f.id, {f.payload, f.payload + f.len}});
        assert_int_equal(d.feed(buf.data() + cut, buf.size() - cut), 0);
        while ((r = d.next(&f)) > 0)
            got.push_back(spec{f.kind, f.id, {f.payload, f.payload + f.len}});
        assert_int_equal(r, 0);
        assert_int_equal(got.size(), frames.size());
        for (size_t i = 0; i < got.size(); i++) {
            assert_int_equal(got[i].kind, frames[i].kind);
            assert_true(got[i].payload == frames[i].payload);
        }
        assert_int_equal(d.pending(), 0);
    }
}

void test_decoder_byte_at_a_time(void **) {
    std::vector<spec> frames = sample_frames();
    std::vector<uint8_t> buf = encode(frames);
    tfw::decoder d(1 << 20);
    std::vector<spec> got;
    pump(d, buf.data(), buf.size(), 1, &got);
    assert_int_equal(got.size(), frames.size());
    for (size_t i = 0; i < got.size(); i++) {
        assert_int_equal(got[i].kind, frames[i].kind);
        assert_int_equal(got[i].id, frames[i].id);
        assert_true(got[i].payload == frames[i].payload);
    }
    assert_int_equal(d.pending(), 0);
    assert_int_equal(d.missing(), 0);
}

void test_decoder_many_tiny_frames(void **) {
    const size_t count = 100000;
    std::vector<uint8_t> buf;
    buf.reserve(count * 10);
    for (size_t i = 0; i < count; i++) {
        if (i % 2)
            append_frame(&buf, tfw::KIND_MSG, uint32_t(i), 0);
        else
            append_frame(&buf, tfw::KIND_MSG | 1, uint32_t(i), 1, uint8_t(i));
    }
    tfw::decoder d(1 << 20);
    assert_int_equal(d.feed(buf.data(), buf.size()), 0);
    frame f;
    size_t n = 0;
    int r;
    while ((r = d.next(&f)) > 0) {
        assert_int_equal(f.id, n);
        assert_int_equal(f.len, n % 2 ? 0 : 1);
        if (f.len) assert_int_equal(f.payload[0], uint8_t(n));
        n++;
    }
    assert_int_equal(r, 0);
    assert_int_equal(n, count);
    assert_int_equal(d.pending(), 0);

    // The same through prepare()/commit() in socket-sized reads.
    tfw::decoder d2(1 << 20);
    std::vector<spec> got;
    pump(d2, buf.data(), buf.size(), 65536, &got);
    assert_int_equal(got.size(), count);
    for (size_t i = 0; i < count; i++) assert_int_equal(got[i].id, i);
    assert_true(d2.capacity() <= (128u << 10));
}

void test_oversize_rejected_early(void **) {
    tfw::decoder d(1024);
    uint8_t h[tfw::HEADER_SIZE];
    tfw::header_write(h, tfw::KIND_MSG | 1, 1, 1u << 30);
    frame f;
    // Eight octets: not judged yet.
    assert_int_equal(d.feed(h, 8), 0);
    assert_int_equal(d.next(&f), 0);
    // The ninth: refused, with no payload buffered and no buffer grown for it.
    assert_int_equal(d.feed(h + 8, 1), 0);
    assert_int_equal(d.next(&f), TRUFLUX_EMSGSIZE);
    assert_true(d.capacity() <= (64u << 10));
    size_t room;
    assert_non_null(d.prepare(65536, &room));
    assert_true(d.capacity() <= (64u << 10));
    assert_int_equal(d.missing(), 0);

    // A legal but large announced length costs memory only as its bytes arrive.
    tfw::decoder big(64u << 20);
    tfw::header_write(h, tfw::KIND_MSG | 1, 1, 32u << 20);
    assert_int_equal(big.feed(h, sizeof h), 0);
    assert_int_equal(big.next(&f), 0);
    assert_int_equal(big.missing(), 32u << 20);
    assert_non_null(big.prepare(65536, &room));
    assert_true(big.capacity() <= (64u << 10));
    std::vector<uint8_t> chunk(65536, 0xAB);
    size_t sent = 0;
    while (sent < (1u << 20)) {
        uint8_t *p = big.prepare(chunk.size(), &room);
        assert_non_null(p);
        size_t n = room < chunk.size() ? room : chunk.size();
        std::memcpy(p, chunk.data(), n);
        big.commit(n);
        sent += n;
        assert_int_equal(big.next(&f), 0);
    }
    // Doubling from what was received, never the announced 32 MiB.
    assert_true(big.capacity() <= 4 * sent);
    assert_int_equal(big.missing(), (32u << 20) + 9 - big.pending());
}

void test_sticky_error(void **) {
    tfw::decoder d(100);
    std::vector<uint8_t> buf;
    append_frame(&buf, tfw::KIND_PING, 0, 3);
    append_frame(&buf, 0x07, 0, 0);  // unknown kind
    append_frame(&buf, tfw::KIND_PING, 0, 3);
    assert_int_equal(d.feed(buf.data(), buf.size()), 0);
    frame f;
    assert_int_equal(d.next(&f), 1);
    assert_int_equal(d.next(&f), TRUFLUX_EPROTO);
    assert_int_equal(d.error(), TRUFLUX_EPROTO);
    assert_int_equal(d.next(&f), TRUFLUX_EPROTO);
    // More good bytes do not revive it.
    std::vector<uint8_t> good;
    append_frame(&good, tfw::KIND_PONG, 0, 0);
    assert_int_equal(d.feed(good.data(), good.size()), 0);
    assert_int_equal(d.next(&f), TRUFLUX_EPROTO);
}

void test_shrink_after_large_frame(void **) {
    const uint32_t big = 4u << 20;
    tfw::decoder d(8u << 20);
    std::vector<uint8_t> buf;
    append_frame(&buf, tfw::KIND_MSG | 1, 3, big, 7);
    append_frame(&buf, tfw::KIND_PING, 0, 2, 9);
    size_t off = 0, peak = 0;
    frame f;
    int frames = 0;
    size_t room;
    while (off < buf.size()) {
        uint8_t *p = d.prepare(65536, &room);
        assert_non_null(p);
        size_t n = buf.size() - off < room ? buf.size() - off : room;
        if (n > 65536) n = 65536;
        std::memcpy(p, buf.data() + off, n);
        d.commit(n);
        off += n;
        if (d.capacity() > peak) peak = d.capacity();
        int r;
        while ((r = d.next(&f)) > 0) {
            if (frames == 0) {
                assert_int_equal(f.len, big);
                assert_int_equal(f.payload[0], 7);
                assert_int_equal(f.payload[big - 1], uint8_t(7 + big - 1));
            } else {
                assert_int_equal(f.kind, tfw::KIND_PING);
            }
            frames++;
        }
        assert_int_equal(r, 0);
    }
    assert_int_equal(frames, 2);
    assert_true(peak >= big + 9);
    assert_true(peak <= big + 9 + (64u << 10) + 4096);
    assert_non_null(d.prepare(65536, &room));
    assert_int_equal(d.capacity(), 64u << 10);
}

void test_buffer_page_aligned(void **) {
    tfw::decoder d(1 << 20);
    size_t room;
    uint8_t *p = d.prepare(100, &room);
    assert_non_null(p);
    assert_int_equal(reinterpret_cast<uintptr_t>(p) % 4096, 0);
    assert_true(room >= 100);
}

void test_compaction_keeps_partial_frame(void **) {
    // Fill the buffer to its end with whole frames plus the head of one more, consume the
    // whole ones, then ask for room: the partial frame must survive the move to the front.
    tfw::decoder d(1 << 20);
    size_t room;
    uint8_t *p = d.prepare(65536, &room);
    std::vector<uint8_t> buf;
    while (buf.size() + 109 <= room) append_frame(&buf, tfw::KIND_MSG | 1, 1, 100, 1);
    size_t whole = buf.size() / 109;
    append_frame(&buf, tfw::KIND_MSG | 2, 2, 200, 'A');
    size_t first = room;
    std::memcpy(p, buf.data(), first);
    d.commit(first);
    frame f;
    size_t n = 0;
    while (d.next(&f) > 0) n++;
    assert_int_equal(n, whole);
    size_t left = buf.size() - first;
    p = d.prepare(65536, &room);
    assert_true(room >= left);
    std::memcpy(p, buf.data() + first, left);
    d.commit(left);
    assert_int_equal(d.next(&f), 1);
    assert_int_equal(f.id, 2);
    assert_int_equal(f.len, 200);
    for (uint32_t i = 0; i < 200; i++) assert_int_equal(f.payload[i], uint8_t('A' + i));
    assert_int_equal(d.capacity(), 64u << 10);
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_kind_limits),
        cmocka_unit_test(test_empty_message_with_length),
        cmocka_unit_test(test_reserved_bit),
        cmocka_unit_test(test_unknown_kinds),
        cmocka_unit_test(test_parse_every_split),
        cmocka_unit_test(test_decoder_byte_at_a_time),
        cmocka_unit_test(test_decoder_many_tiny_frames),
        cmocka_unit_test(test_oversize_rejected_early),
        cmocka_unit_test(test_sticky_error),
        cmocka_unit_test(test_shrink_after_large_frame),
        cmocka_unit_test(test_buffer_page_aligned),
        cmocka_unit_test(test_compaction_keeps_partial_frame),
    };
    return cmocka_run_group_tests_name("test_wire", tests, nullptr, nullptr);
}
