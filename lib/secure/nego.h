// lib/secure: what each side announces in its hello (the "secure" extension, §24.2 of
// docs/PROTOCOL.md) and the choice both sides derive from the two announcements. Pure.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "crypto/noise.h"

namespace tfsec {

constexpr uint32_t CAP_SECURE = 1u << 0;     // hello capability bit 0
constexpr uint16_t HELLO_EXT_SECURE = 0x0001;
constexpr uint8_t OFFER_VERSION = 1;
constexpr uint8_t POLICY_OPTIONAL = 1, POLICY_REQUIRED = 2;

// Wire numbers of the patterns and ciphers (also the public TRUFLUX_NOISE_* and
// TRUFLUX_CIPHER_* values).
uint8_t pattern_code(tfc::pattern p);
uint8_t cipher_code(tfc::cipher c);

struct offer {
    uint8_t version = OFFER_VERSION;
    uint8_t policy = POLICY_OPTIONAL;
    std::vector<tfc::pattern> patterns;  // server: priority order; client: what it can do
    std::vector<tfc::cipher> ciphers;
    bool has_key = false;                // the sender's static public key (servers only)
    uint8_t key[tfc::DH_LEN] = {};
};

// Appends the extension's value (without the type-length header).
void offer_encode(const offer &o, std::vector<uint8_t> *out);
// Decodes a value. Pattern and cipher numbers this version does not know are skipped (a
// later version may add some); a later offer version may append fields, which are
// ignored. Returns 0 or TRUFLUX_EPROTO (short, counts over 16, duplicates, a key length
// other than 0 or 32, a policy other than 1 or 2, no pattern or no cipher known).
int offer_decode(const uint8_t *p, size_t len, offer *out);

// The pattern and cipher of a connection: the first in the server's lists that the client
// also offered. false when there is none.
bool choose(const offer &server, const offer &client, tfc::pattern *pat, tfc::cipher *cph);

}  // namespace tfsec
