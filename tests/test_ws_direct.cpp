/* tests/test_ws_direct.cpp: a WebSocket stream's direct writes (one message from the
 * caller's memory, the way a connection writes a small frame or a large one with nothing
 * queued) when the socket takes only part of them. The connection then queues the rest and
 * writes the queue; the peer's stream must read back exactly the bytes given, in order:
 * the server's unmasked frames and the client's masked ones, small and large, on a socket
 * pair whose buffer is kept small so that partial writes and EAGAIN happen at every size. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <event2/buffer.h>

#include <cstring>
#include <string>
#include <vector>

#include "support/stream_pair.hpp"

namespace {

using tfpair::drain;
using tfpair::pair_t;

void pair_open(pair_t *p) {
    tfcore::config cfg;
    tfpair::open_streams(p, "ws", "ws://127.0.0.1:1/", 4096, cfg, cfg);
    tfpair::handshake(p, 1000);  // the HTTP upgrade
    assert_true(p->server->can_write_direct());
    assert_true(p->client->can_write_direct());
}

void pair_close(pair_t *p) { tfpair::close_streams(p); }

// What a connection does with a frame: straight from memory when nothing is queued (the
// rest queued when the socket took part), else behind the queue. Then the queue goes out as
// far as the socket takes it.
struct writer_t {
    tfx::stream *s;
    evbuffer *out = evbuffer_new();
    size_t direct = 0, partial = 0;
    ~writer_t() { evbuffer_free(out); }

    void frame(const std::vector<uint8_t> &f) {
        const size_t h = 9 < f.size() ? 9 : f.size();
        if (evbuffer_get_length(out) == 0 && !s->has_output()) {
            ssize_t w = s->write_direct(f.data(), h, f.data() + h, f.size() - h);
            if (w == tfx::IO_NO_DIRECT) {  // a client's message larger than its fragments
                evbuffer_add(out, f.data(), f.size());
                flush();
                return;
            }
            assert_true(w >= 0 || w == tfx::IO_WANT_WRITE);
            size_t done = w > 0 ? (size_t)w : 0;
            assert_true(done <= f.size());
            direct++;
            if (done < f.size()) {
                partial++;
                evbuffer_add(out, f.data() + done, f.size() - done);
            }
        } else {
            evbuffer_add(out, f.data(), f.size());
        }
        flush();
    }
    void flush() {
        for (int i = 0; i < 64 && (evbuffer_get_length(out) > 0 || s->has_output()); i++) {
            ssize_t w = s->write(out);
            if (w == tfx::IO_WANT_WRITE || w == 0) break;
            assert_true(w > 0);
        }
    }
};

// Frames of sizes that cross the socket's room at every offset: small ones (the staged
// path) and now and then a large one.
void one_direction(tfx::stream *from, tfx::stream *to) {
    writer_t w{from};
    std::vector<uint8_t> sent, got;
    uint32_t x = 12345;
    for (int i = 0; i < 3000; i++) {
        size_t n = i % 97 == 0 ? 70000 + (size_t)i : 9 + (size_t)(i % 120);
        // A well-formed truflux frame (the reader checks that none spans two messages):
        // binary message kind, id i, then the payload's length.
        std::vector<uint8_t> f(n);
        uint32_t len = (uint32_t)(n - 9);
        uint8_t hdr[9] = {0x12, (uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8),
                          (uint8_t)i, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
                          (uint8_t)(len >> 8), (uint8_t)len};
        memcpy(f.data(), hdr, 9);
        for (size_t k = 9; k < n; k++) {
            x = x * 1103515245u + 12345u;
            f[k] = (uint8_t)(x >> 16);
        }
        sent.insert(sent.end(), f.begin(), f.end());
        w.frame(f);
        // The reader keeps up only now and then: the socket is often full.
        if (i % 7 == 6) drain(to, &got);
    }
    for (int i = 0; i < 100000 && (evbuffer_get_length(w.out) > 0 || from->has_output() ||
                                   got.size() < sent.size());
         i++) {
        w.flush();
        drain(to, &got);
    }
    assert_int_equal(got.size(), sent.size());
    assert_true(got == sent);
    // The paths this is about were taken: direct writes, and some cut short.
    assert_true(w.direct > 100);
    assert_true(w.partial > 0);
    print_message("  %zu direct writes, %zu taken in part\n", w.direct, w.partial);
}

void test_server_direct_partial(void **) {
    pair_t p;
    pair_open(&p);
    one_direction(p.server, p.client);
    pair_close(&p);
}

void test_client_direct_partial(void **) {
    pair_t p;
    pair_open(&p);
    one_direction(p.client, p.server);
    pair_close(&p);
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_direct_partial),
        cmocka_unit_test(test_client_direct_partial),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
