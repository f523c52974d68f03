// libFuzzer target: the incremental frame decoder against the one-shot parse().
// Input: byte 0 picks the message limit (bits 0-2) and the write path (bit 3: feed(),
// else prepare()/commit()); byte 1 gives n-1 chunk sizes that follow (n = 1..8), cycled
// over the rest of the input, which is the byte stream.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "wire/frame.h"

namespace {

struct seen {
    uint8_t kind;
    uint32_t id;
    uint32_t len;
    uint32_t sum;
};

uint32_t checksum(const uint8_t *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

[[noreturn]] void fail() { std::abort(); }

// Every frame handed out must pass the header check it was decoded under.
void check_frame(const tfw::frame &f, uint32_t max_msg) {
    uint8_t h[tfw::HEADER_SIZE];
    tfw::header_write(h, f.kind, f.id, f.len);
    if (tfw::header_check(h, max_msg) != 0) fail();
    if (f.id & 0x80000000u) fail();
    if (f.len && !f.payload) fail();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint32_t limits[8] = {0, 1, 16, 125, 1024, 65536, 1u << 20, 0xFFFFFFFFu};
    if (size < 2) return 0;
    uint32_t max_msg = limits[data[0] & 7];
    bool use_feed = data[0] & 8;
    size_t nchunks = (data[1] & 7) + 1;
    if (size < 2 + nchunks) return 0;
    const uint8_t *chunks = data + 2;
    const uint8_t *stream = data + 2 + nchunks;
    size_t len = size - 2 - nchunks;

    // The reference: parse() over the whole stream at once.
    std::vector<seen> want;
    int want_err = 0;
    size_t off = 0;
    for (;;) {
        tfw::frame f;
        long r = tfw::parse(stream + off, len - off, max_msg, &f);
        if (r < 0) {
            want_err = int(r);
            break;
        }
        if (r == 0) break;
        check_frame(f, max_msg);
        want.push_back(seen{f.kind, f.id, f.len, checksum(f.payload, f.len)});
        off += size_t(r);
    }

    tfw::decoder d(max_msg);
    std::vector<seen> got;
    int err = 0;
    size_t pos = 0, k = 0;
    while (pos < len) {
        size_t chunk = size_t(chunks[k++ % nchunks]) + 1;
        if (chunk > len - pos) chunk = len - pos;
        if (use_feed) {
            if (d.feed(stream + pos, chunk) != 0) fail();
            pos += chunk;
        } else {
            size_t room = 0;
            uint8_t *p = d.prepare(chunk, &room);
            if (!p) fail();
            if (room == 0) fail();
            size_t n = room < chunk ? room : chunk;
            std::memcpy(p, stream + pos, n);
            d.commit(n);
            pos += n;
        }
        // The buffer never grows past one frame plus the slack, bar feed()'s own input.
        if (!use_feed && d.capacity() > size_t(max_msg) + tfw::HEADER_SIZE + (128u << 10)) fail();
        tfw::frame f;
        int r;
        while ((r = d.next(&f)) > 0) {
            check_frame(f, max_msg);
            got.push_back(seen{f.kind, f.id, f.len, checksum(f.payload, f.len)});
        }
        if (r < 0) {
            if (err && r != err) fail();
            err = r;
            if (d.next(&f) != r || d.error() != r) fail();  // sticky
        }
    }

    if (got.size() != want.size() || err != want_err) fail();
    for (size_t i = 0; i < got.size(); i++) {
        if (got[i].kind != want[i].kind || got[i].id != want[i].id ||
            got[i].len != want[i].len || got[i].sum != want[i].sum)
            fail();
    }
    if (!err && d.pending() != len - off) fail();
    return 0;
}
