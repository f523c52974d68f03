// lib/wire: strict UTF-8 and MessagePack well-formedness checks (see validate.h).
#include "wire/validate.h"

#include <cstring>
#include <vector>

namespace tfw {

bool utf8_valid(const uint8_t *p, size_t len) {
    size_t i = 0;
    while (i < len) {
        // Text is mostly ASCII: skip it eight bytes at a time.
        while (len - i >= 8) {
            uint64_t w;
            std::memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= len) break;
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;              // continuation bytes
        uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the first continuation byte
        if (c < 0xC2) {
            return false;      // stray continuation, or overlong 2-byte form (C0, C1)
        } else if (c < 0xE0) {
            n = 1;
        } else if (c < 0xF0) {
            n = 2;
            if (c == 0xE0) lo = 0xA0;        // overlong 3-byte form
            else if (c == 0xED) hi = 0x9F;   // UTF-16 surrogates D800-DFFF
        } else if (c < 0xF5) {
            n = 3;
            if (c == 0xF0) lo = 0x90;        // overlong 4-byte form
            else if (c == 0xF4) hi = 0x8F;   // above U+10FFFF
        } else {
            return false;
        }
        if (len - i <= n) return false;
        uint8_t c1 = p[i + 1];
        if (c1 < lo || c1 > hi) return false;
        for (size_t k = 2; k <= n; k++)
            if ((p[i + k] & 0xC0) != 0x80) return false;
        i += n + 1;
    }
    return true;
}

namespace {

inline uint64_t be(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

constexpr int INLINE_DEPTH = 64;

}  // namespace

// One pass over the bytes. A stack holds, per open container, how many elements it still
// expects; a container claiming more elements than bytes remain is refused at once, since
// every element takes at least one byte. Hence O(len) time and O(max_depth) memory whatever
// the counts claim.
bool msgpack_valid(const uint8_t *p, size_t len, int max_depth) {
    if (max_depth < 0) max_depth = 0;
    uint64_t inline_stack[INLINE_DEPTH];
    std::vector<uint64_t> heap_stack;
    uint64_t *stack = inline_stack;
    if (max_depth > INLINE_DEPTH) {
        heap_stack.resize(size_t(max_depth));
        stack = heap_stack.data();
    }
    int sp = 0;
    size_t pos = 0;

    for (;;) {
        if (pos >= len) return false;
        uint8_t c = p[pos++];
        size_t rest = len - pos;
        uint64_t skip = 0;     // bytes of payload after the marker (and its length field)
        uint64_t count = 0;    // elements of a container
        bool container = false;

        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
            // fixint, nil, bool: the marker is the value
        } else if (c <= 0x8f) {
            container = true;
            count = uint64_t(c & 0x0f) * 2;
        } else if (c <= 0x9f) {
            container = true;
            count = c & 0x0f;
        } else if (c <= 0xbf) {
            skip = c & 0x1f;
        } else {
            int lenbytes = 0;  // size of a length field that follows the marker
            switch (c) {
            case 0xc1:
                return false;  // never used
            case 0xc4: case 0xd9: lenbytes = 1; break;          // bin8, str8
            case 0xc5: case 0xda: lenbytes = 2; break;          // bin16, str16
            case 0xc6: case 0xdb: lenbytes = 4; break;          // bin32, str32
            case 0xc7: lenbytes = 1; skip = 1; break;           // ext8: + type byte
            case 0xc8: lenbytes = 2; skip = 1; break;           // ext16
            case 0xc9: lenbytes = 4; skip = 1; break;           // ext32
            case 0xca: skip = 4; break;                         // float32
            case 0xcb: skip = 8; break;                         // float64
            case 0xcc: case 0xd0: skip = 1; break;              // (u)int8
            case 0xcd: case 0xd1: skip = 2; break;              // (u)int16
            case 0xce: case 0xd2: skip = 4; break;              // (u)int32
            case 0xcf: case 0xd3: skip = 8; break;              // (u)int64
            case 0xd4: skip = 2; break;                         // fixext1: type + 1
            case 0xd5: skip = 3; break;                         // fixext2
            case 0xd6: skip = 5; break;                         // fixext4
            case 0xd7: skip = 9; break;                         // fixext8
            case 0xd8: skip = 17; break;                        // fixext16
            case 0xdc: container = true; lenbytes = 2; break;   // array16
            case 0xdd: container = true; lenbytes = 4; break;   // array32
            case 0xde: container = true; lenbytes = 2; break;   // map16
            case 0xdf: container = true; lenbytes = 4; break;   // map32
            default:
                return false;  // unreachable: every marker is covered above
            }
            if (lenbytes) {
                if (rest < size_t(lenbytes)) return false;
                uint64_t n = be(p + pos, lenbytes);
                pos += size_t(lenbytes);
                rest -= size_t(lenbytes);
                if (container)
                    count = (c == 0xde || c == 0xdf) ? n * 2 : n;
                else
                    skip += n;
            }
        }

        if (container) {
            if (sp >= max_depth) return false;
            if (count > rest) return false;
            if (count > 0) {
                stack[sp++] = count;
                continue;
            }
        } else {
            if (skip > rest) return false;
            pos += size_t(skip);
        }

        // A value is complete: close every container it completes.
        for (;;) {
            if (sp == 0) return pos == len;
            if (--stack[sp - 1] > 0) break;
            sp--;
        }
    }
}

}  // namespace tfw
