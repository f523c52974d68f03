// lib/files: the file frames' codec (see wire.h).
#include "files/wire.h"

#include <cstring>

#include <truflux/error.h>

namespace tff {

namespace {

void put_u16(std::vector<uint8_t> *o, uint16_t v) {
    o->push_back(uint8_t(v >> 8));
    o->push_back(uint8_t(v));
}

void put_u32(std::vector<uint8_t> *o, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) o->push_back(uint8_t(v >> s));
}

void put_u64(std::vector<uint8_t> *o, uint64_t v) {
    for (int s = 56; s >= 0; s -= 8) o->push_back(uint8_t(v >> s));
}

uint16_t get_u16(const uint8_t *p) { return uint16_t(p[0] << 8 | p[1]); }

uint32_t get_u32(const uint8_t *p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

uint64_t get_u64(const uint8_t *p) { return uint64_t(get_u32(p)) << 32 | get_u32(p + 4); }

}  // namespace

bool key_is_zero(const uint8_t key[KEY_LEN]) {
    uint8_t acc = 0;
    for (size_t i = 0; i < KEY_LEN; i++) acc |= key[i];
    return acc == 0;
}

void offer_encode(const offer &o, std::vector<uint8_t> *out) {
    size_t n = o.name.size() > NAME_MAX_LEN ? NAME_MAX_LEN : o.name.size();
    put_u64(out, o.size);
    out->insert(out->end(), o.key, o.key + KEY_LEN);
    put_u16(out, o.flags);
    put_u16(out, uint16_t(n));
    out->insert(out->end(), o.name.begin(), o.name.begin() + long(n));
}

int offer_decode(const uint8_t *p, size_t len, offer *out) {
    if (len < OFFER_FIXED) return TRUFLUX_EPROTO;
    size_t n = get_u16(p + 26);
    if (n == 0 || n > NAME_MAX_LEN || len < OFFER_FIXED + n) return TRUFLUX_EPROTO;
    out->size = get_u64(p);
    std::memcpy(out->key, p + 8, KEY_LEN);
    out->flags = get_u16(p + 24);
    out->name.assign(reinterpret_cast<const char *>(p + OFFER_FIXED), n);
    return 0;
}

void accept_encode(const accept &a, std::vector<uint8_t> *out) {
    put_u64(out, a.offset);
    put_u32(out, a.credit);
}

int accept_decode(const uint8_t *p, size_t len, accept *out) {
    if (len != 12) return TRUFLUX_EPROTO;
    out->offset = get_u64(p);
    out->credit = get_u32(p + 8);
    return 0;
}

void reason_encode(uint32_t code, const char *text, std::vector<uint8_t> *out) {
    size_t n = text ? std::strlen(text) : 0;
    if (n > tfw::MAX_CONTROL_PAYLOAD) n = tfw::MAX_CONTROL_PAYLOAD;
    put_u32(out, code);
    if (n) out->insert(out->end(), text, text + n);
}

int reason_decode(const uint8_t *p, size_t len, reason *out) {
    if (len < 4 || len > 4 + tfw::MAX_CONTROL_PAYLOAD) return TRUFLUX_EPROTO;
    out->code = get_u32(p) & 0x7FFFFFFFu;
    out->text.assign(reinterpret_cast<const char *>(p + 4), len - 4);
    return 0;
}

void end_encode(const end &e, std::vector<uint8_t> *out) {
    put_u64(out, e.total);
    out->insert(out->end(), e.digest, e.digest + DIGEST_LEN);
}

int end_decode(const uint8_t *p, size_t len, end *out) {
    if (len != 8 + DIGEST_LEN) return TRUFLUX_EPROTO;
    out->total = get_u64(p);
    std::memcpy(out->digest, p + 8, DIGEST_LEN);
    return 0;
}

void credit_encode(uint32_t credit, std::vector<uint8_t> *out) { put_u32(out, credit); }

int credit_decode(const uint8_t *p, size_t len, uint32_t *out) {
    if (len != 4) return TRUFLUX_EPROTO;
    *out = get_u32(p);
    return *out ? 0 : TRUFLUX_EPROTO;
}

}  // namespace tff
