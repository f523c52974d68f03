// libFuzzer target: the WebSocket frame parser (lib/transport/ws_codec.h), fed whole and in
// chunks, which must agree: the same events, the same message octets, the same error. Also
// checks that compacted data stays inside what was fed, and that a text message the parser
// accepts is valid UTF-8 by the wire layer's independent validator.
// Input: byte 0: bit 0 server (expects masked frames), bit 1 text accepted, bits 2-3 the
// message limit; byte 1: n-1 chunk sizes that follow (n = 1..8), cycled over the rest,
// which is the byte stream.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "transport/ws_codec.h"
#include "wire/validate.h"

namespace {

[[noreturn]] void fail() { std::abort(); }

struct result {
    std::vector<std::string> log;  // one entry per event, messages joined whole
    int status = 0;
};

void run(const uint8_t *in, size_t len, const uint8_t *chunks, size_t nchunks,
         const tfx::ws::parser_limits &lim, result *out) {
    tfx::ws::parser p(lim);
    std::vector<uint8_t> buf;
    std::string msg;
    uint8_t msg_op = 0;
    size_t at = 0, ci = 0;
    while (at < len) {
        size_t n = nchunks ? (size_t)chunks[ci++ % nchunks] + 1 : len;
        if (n > len - at) n = len - at;
        buf.assign(in + at, in + at + n);
        p.feed(buf.data(), buf.size());
        tfx::ws::event ev;
        int r;
        size_t data_end = 0;
        while ((r = p.next(&ev)) > 0) {
            if (ev.kind == tfx::ws::event::DATA) {
                // DATA lies back to back from the start of the feed.
                if (ev.data != buf.data() + data_end) fail();
                data_end += ev.len;
                if (data_end > n || p.compacted() != data_end) fail();
                if (ev.first) {
                    if (!msg.empty()) fail();
                    msg_op = ev.op;
                } else if (ev.op != msg_op) {
                    fail();
                }
                msg.append(reinterpret_cast<const char *>(ev.data), ev.len);
                if (ev.last) {
                    if (msg_op == tfx::ws::OP_TEXT &&
                        !tfw::utf8_valid(reinterpret_cast<const uint8_t *>(msg.data()), msg.size()))
                        fail();
                    if (msg_op == tfx::ws::OP_TEXT && !lim.text_ok) fail();
                    if (lim.max_message && msg.size() > lim.max_message) fail();
                    out->log.push_back(std::string(1, (char)msg_op) + msg);
                    msg.clear();
                }
            } else {
                if (ev.len > tfx::ws::MAX_CONTROL) fail();
                std::string e(1, (char)(0x80 | ev.kind));
                e += std::to_string(ev.code) + ":";
                e.append(reinterpret_cast<const char *>(ev.data), ev.len);
                out->log.push_back(e);
            }
        }
        if (r < 0) {
            out->status = p.status();
            if (out->status != 1002 && out->status != 1003 && out->status != 1007 &&
                out->status != 1009)
                fail();
            if (p.next(&ev) != -1) fail();  // sticky
            return;
        }
        at += n;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint64_t limits[4] = {0, 1, 125, 70000};
    if (size < 2) return 0;
    tfx::ws::parser_limits lim;
    lim.expect_masked = data[0] & 1;
    lim.text_ok = data[0] & 2;
    lim.max_message = limits[(data[0] >> 2) & 3];
    size_t nchunks = (data[1] & 7) + 1;
    if (size < 2 + nchunks) return 0;
    const uint8_t *chunks = data + 2;
    const uint8_t *stream = data + 2 + nchunks;
    size_t len = size - 2 - nchunks;
    result whole, parts;
    run(stream, len, nullptr, 0, lim, &whole);
    run(stream, len, chunks, nchunks, lim, &parts);
    if (whole.status != parts.status || whole.log != parts.log) fail();
    return 0;
}
