// lib/crypto: AES-256-GCM on the x86 AES-NI and PCLMULQDQ instructions. mbedTLS 2.28 (the
// default backend) uses them too, but one block at a time through its generic cipher layer,
// each GHASH step reduced and waiting on the previous one: about 240 MB/s here, which is what
// an encrypted connection is bound by. Eight blocks at a time, the AES rounds interleaved with
// an aggregated GHASH, run some twenty times faster. The mbedTLS backend's aead uses this
// where the CPU has the instructions and mbedTLS's GCM elsewhere; tests check the two against
// each other.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tfc {

// True when this CPU has AES-NI, PCLMULQDQ, SSSE3 and SSE4.1 (always false off x86-64).
bool aesgcm_ni_available();

// An expanded key: the AES-256 round keys, and H^1..H^8 (H = AES_K(0^128)) byte-reversed for
// GHASH, with the XOR of each power's halves for Karatsuba multiplication, two per slot.
struct aesgcm_ni_key {
    alignas(16) uint8_t rk[15 * 16];
    alignas(16) uint8_t h[8 * 16];
    alignas(16) uint8_t hk[4 * 16];
};

// The functions below only when aesgcm_ni_available(). NIST SP 800-38D with a 96-bit IV and
// a 16-octet tag.
void aesgcm_ni_init(aesgcm_ni_key *k, const uint8_t key[32]);

// Wipes the key material.
void aesgcm_ni_clear(aesgcm_ni_key *k);

// Encrypts len octets of pt into ct (ct may be pt) and writes the tag.
void aesgcm_ni_seal(const aesgcm_ni_key *k, const uint8_t iv[12], const uint8_t *ad,
                    size_t ad_len, const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[16]);

// Decrypts len octets of ct into pt (pt may be ct) and checks the tag in constant time; false
// when it does not match, pt then zeroed.
bool aesgcm_ni_open(const aesgcm_ni_key *k, const uint8_t iv[12], const uint8_t *ad,
                    size_t ad_len, const uint8_t *ct, size_t len, const uint8_t tag[16],
                    uint8_t *pt);

}  // namespace tfc
