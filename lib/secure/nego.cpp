// lib/secure: the hello extension codec and the choice (see nego.h).
#include "secure/nego.h"

#include <algorithm>
#include <cstring>

#include <truflux/error.h>

namespace tfsec {

namespace {

constexpr size_t MAX_ITEMS = 16;

bool pattern_from(uint8_t code, tfc::pattern *p) {
    switch (code) {
    case 0: *p = tfc::pattern::NN; return true;
    case 1: *p = tfc::pattern::NK; return true;
    case 2: *p = tfc::pattern::XX; return true;
    case 3: *p = tfc::pattern::IK; return true;
    default: return false;
    }
}

bool cipher_from(uint8_t code, tfc::cipher *c) {
    if (code > 1) return false;
    *c = code == 0 ? tfc::cipher::chachapoly : tfc::cipher::aesgcm;
    return true;
}

// Reads a count and that many distinct codes, keeping the known ones.
template <class T, class F>
bool read_list(const uint8_t *&p, const uint8_t *end, std::vector<T> *out, F from) {
    if (p == end) return false;
    size_t n = *p++;
    if (n > MAX_ITEMS || (size_t)(end - p) < n) return false;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (p[i] == p[j]) return false;
    for (size_t i = 0; i < n; i++) {
        T v;
        if (from(p[i], &v)) out->push_back(v);
    }
    p += n;
    return !out->empty();
}

}  // namespace

uint8_t pattern_code(tfc::pattern p) {
    switch (p) {
    case tfc::pattern::NN: return 0;
    case tfc::pattern::NK: return 1;
    case tfc::pattern::XX: return 2;
    case tfc::pattern::IK: return 3;
    }
    return 0xFF;
}

uint8_t cipher_code(tfc::cipher c) { return c == tfc::cipher::aesgcm ? 1 : 0; }

void offer_encode(const offer &o, std::vector<uint8_t> *out) {
    out->push_back(o.version);
    out->push_back(o.policy);
    out->push_back((uint8_t)o.patterns.size());
    for (tfc::pattern p : o.patterns) out->push_back(pattern_code(p));
    out->push_back((uint8_t)o.ciphers.size());
    for (tfc::cipher c : o.ciphers) out->push_back(cipher_code(c));
    out->push_back(o.has_key ? (uint8_t)tfc::DH_LEN : 0);
    if (o.has_key) out->insert(out->end(), o.key, o.key + tfc::DH_LEN);
}

int offer_decode(const uint8_t *p, size_t len, offer *out) {
    const uint8_t *end = p + len;
    offer o;
    if (len < 2) return TRUFLUX_EPROTO;
    o.version = p[0];
    o.policy = p[1];
    if (o.version == 0 || (o.policy != POLICY_OPTIONAL && o.policy != POLICY_REQUIRED))
        return TRUFLUX_EPROTO;
    p += 2;
    if (!read_list(p, end, &o.patterns, pattern_from)) return TRUFLUX_EPROTO;
    if (!read_list(p, end, &o.ciphers, cipher_from)) return TRUFLUX_EPROTO;
    if (p == end) return TRUFLUX_EPROTO;
    size_t klen = *p++;
    if ((klen != 0 && klen != tfc::DH_LEN) || (size_t)(end - p) < klen) return TRUFLUX_EPROTO;
    if (klen) {
        o.has_key = true;
        memcpy(o.key, p, klen);
        p += klen;
    }
    // Version 1 ends here; what a later version appends is not ours to read.
    if (o.version == OFFER_VERSION && p != end) return TRUFLUX_EPROTO;
    *out = std::move(o);
    return 0;
}

bool choose(const offer &server, const offer &client, tfc::pattern *pat, tfc::cipher *cph) {
    auto has = [](const auto &v, auto x) { return std::find(v.begin(), v.end(), x) != v.end(); };
    bool got_p = false, got_c = false;
    for (tfc::pattern p : server.patterns) {
        if (has(client.patterns, p)) {
            *pat = p;
            got_p = true;
            break;
        }
    }
    for (tfc::cipher c : server.ciphers) {
        if (has(client.ciphers, c)) {
            *cph = c;
            got_c = true;
            break;
        }
    }
    return got_p && got_c;
}

}  // namespace tfsec
