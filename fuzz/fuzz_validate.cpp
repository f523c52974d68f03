// libFuzzer target: the payload validators. utf8_valid is checked against a plain
// decode-and-re-check reference; msgpack_valid against a recursive reference parser (safe
// here because its depth is bounded by the limit under test).
// Input: byte 0 is the MessagePack depth limit (mod 80), the rest the payload.
#include <cstdint>
#include <cstdlib>

#include "wire/validate.h"

namespace {

// Decodes each sequence into a code point, then refuses what RFC 3629 forbids: overlong
// forms, surrogates, values above U+10FFFF. Deliberately written differently from the
// library's range tables.
bool ref_utf8(const uint8_t *p, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        int n;
        uint32_t cp;
        if (c < 0x80) { n = 0; cp = c; }
        else if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
        else return false;
        if (len - i <= size_t(n)) return false;  // truncated sequence
        for (int k = 1; k <= n; k++) {
            uint8_t cc = p[i + size_t(k)];
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n]) return false;
        if (cp >= 0xD800 && cp <= 0xDFFF) return false;
        if (cp > 0x10FFFF) return false;
        i += size_t(n) + 1;
    }
    return true;
}

struct ref_mp {
    const uint8_t *p;
    size_t len;
    size_t pos = 0;
    int max_depth;

    bool take(size_t n) {
        if (len - pos < n) return false;
        pos += n;
        return true;
    }
    bool num(int bytes, uint64_t *v) {
        if (len - pos < size_t(bytes)) return false;
        *v = 0;
        for (int i = 0; i < bytes; i++) *v = (*v << 8) | p[pos++];
        return true;
    }
    bool items(uint64_t n, int depth) {
        if (depth >= max_depth) return false;
        for (uint64_t i = 0; i < n; i++)
            if (!value(depth + 1)) return false;
        return true;
    }
    bool value(int depth) {
        if (pos >= len) return false;
        uint8_t c = p[pos++];
        uint64_t n;
        if (c <= 0x7f || c >= 0xe0) return true;
        if (c <= 0x8f) return items(uint64_t(c & 0x0f) * 2, depth);
        if (c <= 0x9f) return items(c & 0x0f, depth);
        if (c <= 0xbf) return take(c & 0x1f);
        switch (c) {
        case 0xc0: case 0xc2: case 0xc3: return true;
        case 0xc4: case 0xd9: return num(1, &n) && take(n);
        case 0xc5: case 0xda: return num(2, &n) && take(n);
        case 0xc6: case 0xdb: return num(4, &n) && take(n);
        case 0xc7: return num(1, &n) && take(n + 1);
        case 0xc8: return num(2, &n) && take(n + 1);
        case 0xc9: return num(4, &n) && take(n + 1);
        case 0xca: return take(4);
        case 0xcb: return take(8);
        case 0xcc: case 0xd0: return take(1);
        case 0xcd: case 0xd1: return take(2);
        case 0xce: case 0xd2: return take(4);
        case 0xcf: case 0xd3: return take(8);
        case 0xd4: return take(2);
        case 0xd5: return take(3);
        case 0xd6: return take(5);
        case 0xd7: return take(9);
        case 0xd8: return take(17);
        case 0xdc: return num(2, &n) && items(n, depth);
        case 0xdd: return num(4, &n) && items(n, depth);
        case 0xde: return num(2, &n) && items(n * 2, depth);
        case 0xdf: return num(4, &n) && items(n * 2, depth);
        default: return false;  // 0xc1
        }
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int depth = data[0] % 80;
    const uint8_t *p = data + 1;
    size_t len = size - 1;

    if (tfw::utf8_valid(p, len) != ref_utf8(p, len)) std::abort();

    bool got = tfw::msgpack_valid(p, len, depth);
    ref_mp r{p, len, 0, depth};
    bool want = r.value(0) && r.pos == len;
    if (got != want) std::abort();
    return 0;
}
