// libFuzzer target: the HTTP/1.1 head parser (lib/transport/http_head.h) and the WebSocket
// opening handshake checks on what it parses (ws_handshake.h). Whole and chunked feeds must
// agree; limits must hold; an accepted upgrade must carry the right accept key.
// Input: byte 0: bit 0 parse a response (client side) instead of a request; bits 1-2 pick
// the limits; byte 1: n-1 chunk sizes (n = 1..8), cycled over the rest (the head).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "transport/http_head.h"
#include "transport/ws_handshake.h"
#include "transport/ws_sha1.h"

namespace {

[[noreturn]] void fail() { std::abort(); }

struct result {
    long used = 0;
    int status = 0;
    bool done = false;
    std::string summary;
};

void run(const uint8_t *in, size_t len, const uint8_t *chunks, size_t nchunks, bool response,
         const tfx::http::head_limits &lim, result *out) {
    using tfx::http::head_parser;
    head_parser h(response ? head_parser::RESPONSE : head_parser::REQUEST, lim);
    size_t at = 0, ci = 0;
    while (at < len && !h.done()) {
        size_t n = nchunks ? (size_t)chunks[ci++ % nchunks] + 1 : len;
        if (n > len - at) n = len - at;
        long r = h.feed(in + at, n);
        if (r < 0) {
            out->used = -1;  // how much went in before the error depends on the chunking
            out->status = h.error_status();
            if (h.feed(in, len) != -1) fail();  // sticky
            return;
        }
        if ((size_t)r > n || (!h.done() && (size_t)r != n)) fail();
        out->used += r;
        at += n;
    }
    out->done = h.done();
    if (!h.done()) return;
    if ((size_t)out->used > lim.max_head || h.field_count() > lim.max_fields) fail();
    out->summary = std::string(h.method()) + "|" + std::string(h.target()) + "|" +
                   std::to_string(h.status()) + "|" + std::to_string(h.field_count());
    for (size_t i = 0; i < h.field_count(); i++) {
        const tfx::http::field &f = h.field_at(i);
        if (f.name.empty()) fail();
        out->summary += "|" + std::string(f.name) + "=" + std::string(f.value);
    }
    if (response) {
        std::string why;
        bool ok = tfx::ws::check_response(h, "dGhlIHNhbXBsZSBub25jZQ==", &why);
        if (ok && h.status() != 101) fail();
        return;
    }
    for (const char *path : {"", "/", "/chat"}) {
        tfx::ws::upgrade_answer a;
        int st = tfx::ws::check_request(tfx::ws::request_of(h), path, &a);
        if (st != a.status) fail();
        if (a.text.size() < 4 || a.text.compare(0, 9, "HTTP/1.1 ") != 0) fail();
        if (st == 101) {
            const tfx::http::field *key = h.find("Sec-WebSocket-Key");
            if (!key) fail();
            std::string want = "Sec-WebSocket-Accept: " + tfx::ws::accept_key(std::string(key->value));
            if (a.text.find(want) == std::string::npos) fail();
            if (a.text.compare(a.text.size() - 4, 4, "\r\n\r\n") != 0) fail();
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    bool response = data[0] & 1;
    tfx::http::head_limits lim;
    switch ((data[0] >> 1) & 3) {
    case 1: lim.max_head = 256; lim.max_line = 64; lim.max_fields = 4; break;
    case 2: lim.max_head = 1024; lim.max_line = 1024; lim.max_fields = 16; break;
    default: break;
    }
    size_t nchunks = (data[1] & 7) + 1;
    if (size < 2 + nchunks) return 0;
    const uint8_t *chunks = data + 2;
    const uint8_t *in = data + 2 + nchunks;
    size_t len = size - 2 - nchunks;
    result whole, parts;
    run(in, len, nullptr, 0, response, lim, &whole);
    run(in, len, chunks, nchunks, response, lim, &parts);
    if (whole.status != parts.status || whole.done != parts.done || whole.used != parts.used ||
        whole.summary != parts.summary)
        fail();
    return 0;
}
