/* tests/test_wss_gather.cpp: the WebSocket stream over TLS (wss://) writing the way a
 * connection does (a large message straight from the caller's memory when nothing is
 * queued, the rest queued; small ones staged or queued), on a socket pair whose buffers are
 * kept small so that partial writes happen at every size. With the library's record layer
 * the TLS stream seals records straight from the WebSocket header and the queue's chains
 * (stream::writev); with mbedTLS's record layer the WebSocket stream copies into a buffer
 * of its own. Either way the peer must read back exactly the bytes given, in order; and a
 * peer that stops reading makes the queue grow, not what the streams hold. */
// Before cmocka.h, whose fail() macro would rewrite tls_session's member of that name.
#include "crypto/tls_engine.h"

#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <event2/buffer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <truflux/options.h>

#include "support/stream_pair.hpp"

#include "support/tfpki.h"

namespace {

std::string g_pki;  // the certificates' directory; empty when they could not be made

using tfpair::drain;
using tfpair::pair_t;

// A wss server and client on a socket pair with small buffers. `fast`: whether the TLS
// sessions may use the library's record layer (the gather write) or keep mbedTLS's.
void pair_open(pair_t *p, bool fast) {
    tfcore::config scfg, ccfg;
    auto strs = std::make_shared<std::map<int, std::string>>();
    (*strs)[TRUFLUX_OPT_TLS_CERT_FILE] = g_pki + "/server.pem";
    (*strs)[TRUFLUX_OPT_TLS_KEY_FILE] = g_pki + "/server.key";
    scfg.strs = strs;
    ccfg.tls_insecure = true;
    tfc::tls_fast_records = fast;
    tfpair::open_streams(p, "wss", "wss://127.0.0.1:1/", 8192, scfg, ccfg);
    tfc::tls_fast_records = true;
    tfpair::handshake(p, 100000);  // TLS, then the HTTP upgrade
    assert_string_equal(p->server->name(), "wss");
    // Large messages skip the queue exactly when the TLS stream can gather.
    size_t want = fast ? (size_t)64 << 10 : SIZE_MAX;
    assert_int_equal(p->server->direct_min(), want);
    assert_int_equal(p->client->direct_min(), want);
}

void pair_close(pair_t *p) { tfpair::close_streams(p); }

// What a connection does with a frame (lib/core/conn.cpp): a large one straight from memory
// when nothing is queued (the rest queued when the stream took part), a small one too; any
// other behind the queue. Then the queue goes out as far as the stream takes it. `taken`
// counts the octets the stream accepted.
struct writer_t {
    tfx::stream *s;
    evbuffer *out = evbuffer_new();
    size_t direct = 0, partial = 0, taken = 0;
    ~writer_t() { evbuffer_free(out); }

    void frame(const std::vector<uint8_t> &f) {
        bool idle = evbuffer_get_length(out) == 0 && !s->has_output();
        if (idle && (f.size() >= s->direct_min() || f.size() < 256)) {
            ssize_t w = s->write_direct(f.data(), 9, f.data() + 9, f.size() - 9);
            if (w != tfx::IO_NO_DIRECT) {
                if (w < 0 && w != tfx::IO_WANT_WRITE)
                    fail_msg("write_direct: %zd %s", w, s->error_detail());
                size_t done = w > 0 ? (size_t)w : 0;
                assert_true(done <= f.size());
                taken += done;
                direct++;
                if (done < f.size()) {
                    partial++;
                    evbuffer_add(out, f.data() + done, f.size() - done);
                }
                flush();
                return;
            }
        }
        evbuffer_add(out, f.data(), f.size());
        flush();
    }
    void flush() {
        for (int i = 0; i < 64 && (evbuffer_get_length(out) > 0 || s->has_output()); i++) {
            ssize_t w = s->write(out);
            if (w == tfx::IO_WANT_WRITE || w == 0) break;
            if (w < 0) fail_msg("write: %zd %s", w, s->error_detail());
            taken += (size_t)w;
        }
    }
};

// A well-formed truflux frame of n octets (the reader checks that none spans two messages):
// binary message kind, id i, the payload's length, then pseudo-random octets.
std::vector<uint8_t> make_frame(uint32_t i, size_t n, uint32_t *x) {
    std::vector<uint8_t> f(n);
    uint32_t len = (uint32_t)(n - 9);
    uint8_t hdr[9] = {0x12, (uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8),
                      (uint8_t)i, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
                      (uint8_t)(len >> 8), (uint8_t)len};
    memcpy(f.data(), hdr, 9);
    for (size_t k = 9; k < n; k++) {
        *x = *x * 1103515245u + 12345u;
        f[k] = (uint8_t)(*x >> 16);
    }
    return f;
}

// Lets both sides run until everything sent arrived (bounded).
void finish(writer_t *w, tfx::stream *to, std::vector<uint8_t> *got, size_t want) {
    for (int i = 0; i < 200000 && (evbuffer_get_length(w->out) > 0 || w->s->has_output() ||
                                   got->size() < want);
         i++) {
        w->flush();
        drain(to, got);
    }
}

// Messages of 64 B, 16 KiB + 3 and 200 KiB, mixed.
void mixed_sizes(tfx::stream *from, tfx::stream *to, bool direct) {
    writer_t w{from};
    std::vector<uint8_t> sent, got;
    uint32_t x = 12345;
    for (uint32_t i = 0; i < 2000; i++) {
        size_t n = i % 20 == 19 ? 200 << 10 : i % 3 == 1 ? (16 << 10) + 3 : 64;
        std::vector<uint8_t> f = make_frame(i, n, &x);
        sent.insert(sent.end(), f.begin(), f.end());
        w.frame(f);
        // Mostly the reader catches up, so that the next message finds the queue empty and
        // is written directly; every fourth it lags, so that frames queue behind others.
        if (i % 4 != 3) finish(&w, to, &got, sent.size());
    }
    finish(&w, to, &got, sent.size());
    assert_int_equal(got.size(), sent.size());
    assert_true(got == sent);
    assert_int_equal(w.taken, sent.size());
    print_message("  %zu direct writes, %zu taken in part\n", w.direct, w.partial);
    if (!direct) return;
    // The paths this is about were taken: direct writes, and some cut short.
    assert_true(w.direct > 100);
    assert_true(w.partial > 0);
}

#define NEED_PKI()                                                          \
    do {                                                                    \
        if (g_pki.empty()) {                                                \
            fprintf(stderr, "  skipped: no test certificates (python3, openssl)\n"); \
            skip();                                                         \
        }                                                                   \
    } while (0)

void test_mixed_sizes_gathered(void **) {
    NEED_PKI();
    pair_t p;
    pair_open(&p, true);
    mixed_sizes(p.server, p.client, true);
    mixed_sizes(p.client, p.server, true);
    pair_close(&p);
}

// mbedTLS's record layer (taken for AES-128-GCM suites): no gather write, the WebSocket
// stream's own buffer instead; the same bytes must arrive.
void test_mixed_sizes_without_gather(void **) {
    NEED_PKI();
    pair_t p;
    pair_open(&p, false);
    mixed_sizes(p.server, p.client, false);
    mixed_sizes(p.client, p.server, false);
    pair_close(&p);
}

size_t heap_in_use() {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

// A peer that stops reading: what the sender cannot send stays in its queue (which grows),
// the streams hold no more than a batch of records beyond what the socket took, and once
// the peer reads again everything arrives, in order.
void stalled(tfx::stream *from, tfx::stream *to) {
    writer_t w{from};
    std::vector<uint8_t> sent, got;
    // Ours, made before the heap is measured.
    sent.reserve(130 * (201 << 10));
    got.reserve(130 * (201 << 10));
    uint32_t x = 777, i = 0;
    // Until the socket is full and the queue holds something.
    for (; i < 100 && evbuffer_get_length(w.out) == 0; i++) {
        std::vector<uint8_t> f = make_frame(i, 200 << 10, &x);
        sent.insert(sent.end(), f.begin(), f.end());
        w.frame(f);
    }
    assert_true(evbuffer_get_length(w.out) > 0);
    size_t q1 = evbuffer_get_length(w.out), h1 = heap_in_use();
    for (uint32_t k = 0; k < 20; k++, i++) {
        std::vector<uint8_t> f = make_frame(i, (200 << 10) + k, &x);
        sent.insert(sent.end(), f.begin(), f.end());
        w.frame(f);
        for (int r = 0; r < 5; r++) w.flush();
    }
    size_t q2 = evbuffer_get_length(w.out), h2 = heap_in_use();
    // The queue counts what is unsent: everything given since the stall.
    assert_true(q2 >= q1 + 20 * (200 << 10));
    // What the heap gained is the queue's (evbuffer chains: up to a power of two each).
    print_message("  queued %zu -> %zu, heap +%zu\n", q1, q2, h2 - h1);
    assert_true(h2 - h1 <= 2 * (q2 - q1) + (256 << 10));
    // Taken by the streams but not yet readable by the peer: at most a batch of records
    // held for the socket, and a record half received by the reader.
    drain(to, &got);
    assert_true(w.taken >= got.size());
    print_message("  taken %zu, read %zu: %zu held\n", w.taken, got.size(), w.taken - got.size());
    assert_true(w.taken - got.size() <= tfc::TLS_WRITE_BATCH + (32 << 10));
    finish(&w, to, &got, sent.size());
    assert_int_equal(got.size(), sent.size());
    assert_true(got == sent);
}

void test_stalled_reader(void **) {
    NEED_PKI();
    pair_t p;
    pair_open(&p, true);
    stalled(p.server, p.client);
    stalled(p.client, p.server);
    pair_close(&p);
}

int pki_setup(void **) {
    char dir[512];
    int rc = tfs_pki_make(dir, sizeof dir, "wss-gather-pki");
    g_pki = dir;
    return rc < 0 ? -1 : 0;
}

int pki_teardown(void **) {
    tfs_pki_remove(g_pki.c_str());
    return 0;
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_sizes_gathered),
        cmocka_unit_test(test_mixed_sizes_without_gather),
        cmocka_unit_test(test_stalled_reader),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
