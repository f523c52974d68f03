// lib/wire: HELLO / WELCOME payload codec (docs/PROTOCOL.md, "Hello payload").
#include "wire/hello.h"

#include <cstring>

#include <truflux/error.h>

namespace tfw {

namespace {

constexpr size_t MAX_IDS = 4096;

void put_u16(std::vector<uint8_t> *out, uint16_t v) {
    out->push_back(uint8_t(v >> 8));
    out->push_back(uint8_t(v));
}

void put_u32(std::vector<uint8_t> *out, uint32_t v) {
    out->push_back(uint8_t(v >> 24));
    out->push_back(uint8_t(v >> 16));
    out->push_back(uint8_t(v >> 8));
    out->push_back(uint8_t(v));
}

inline uint16_t get_u16(const uint8_t *p) { return uint16_t((p[0] << 8) | p[1]); }

inline uint32_t get_u32(const uint8_t *p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

}  // namespace

void hello_encode(const hello &h, std::vector<uint8_t> *out) {
    size_t ext_bytes = 0;
    for (const hello_ext &e : h.exts) ext_bytes += 4 + e.value.size();
    out->reserve(out->size() + HELLO_FIXED_SIZE + 4 * h.ids.size() + ext_bytes);
    out->insert(out->end(), HELLO_MAGIC, HELLO_MAGIC + 4);
    out->push_back(h.major);
    out->push_back(h.minor);
    put_u16(out, h.flags);
    put_u32(out, h.caps);
    put_u32(out, h.max_message);
    put_u32(out, h.heartbeat_ms);
    out->insert(out->end(), h.fingerprint, h.fingerprint + 32);
    put_u16(out, uint16_t(h.ids.size()));
    for (uint32_t id : h.ids) put_u32(out, id);
    for (const hello_ext &e : h.exts) {
        put_u16(out, e.type);
        put_u16(out, uint16_t(e.value.size()));
        out->insert(out->end(), e.value.begin(), e.value.end());
    }
}

int hello_decode(const uint8_t *p, size_t len, hello *out) {
    if (len < HELLO_FIXED_SIZE) return TRUFLUX_EPROTO;
    if (std::memcmp(p, HELLO_MAGIC, 4) != 0) return TRUFLUX_EPROTO;
    size_t n = get_u16(p + 52);
    if (n > MAX_IDS) return TRUFLUX_EPROTO;
    if (len - HELLO_FIXED_SIZE < 4 * n) return TRUFLUX_EPROTO;

    hello h;
    h.major = p[4];
    h.minor = p[5];
    h.flags = get_u16(p + 6);
    h.caps = get_u32(p + 8);
    h.max_message = get_u32(p + 12);
    h.heartbeat_ms = get_u32(p + 16);
    std::memcpy(h.fingerprint, p + 20, 32);
    h.ids.reserve(n);
    const uint8_t *q = p + HELLO_FIXED_SIZE;
    for (size_t i = 0; i < n; i++, q += 4) {
        uint32_t id = get_u32(q);
        if (id & 0x80000000u) return TRUFLUX_EPROTO;
        if (!h.ids.empty() && id <= h.ids.back()) return TRUFLUX_EPROTO;
        h.ids.push_back(id);
    }
    const uint8_t *end = p + len;
    while (q < end) {
        if (size_t(end - q) < 4) return TRUFLUX_EPROTO;
        uint16_t type = get_u16(q);
        size_t vlen = get_u16(q + 2);
        q += 4;
        if (size_t(end - q) < vlen) return TRUFLUX_EPROTO;
        h.exts.push_back(hello_ext{type, std::vector<uint8_t>(q, q + vlen)});
        q += vlen;
    }
    *out = std::move(h);
    return 0;
}

}  // namespace tfw
