// lib/crypto: ChaCha20-Poly1305 (RFC 8439) on SSSE3/AVX2. mbedTLS 2.28 (the default backend)
// runs ChaCha20 one 32-bit word at a time and Poly1305 on 32-bit limbs: about 0.33 GB/s
// here, which is what a ChaChaPoly connection is bound by. ChaCha20 on eight blocks at once
// (AVX2: one block per 32-bit lane; four with SSSE3) and Poly1305 on 64-bit words, the two
// interleaved, run four to seven times faster. The mbedTLS backend's aead uses this where the
// CPU has SSSE3 and mbedTLS's ChaChaPoly elsewhere; tests check the two against each other.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tfc {

// True when this CPU has SSSE3 (always false off x86-64). AVX2 is used on top when the CPU
// and the OS (saved YMM state) have it.
bool chachapoly_simd_available();

// For tests: false makes every later call take the SSSE3 code even where AVX2 is present
// (not thread-safe: set it before any use); true restores the default. Returns whether AVX2
// is now in use.
bool chachapoly_simd_use_avx2(bool on);

// The key as eight little-endian words, which is all ChaCha20 needs: no schedule.
struct chachapoly_simd_key {
    uint32_t k[8];
};

// The functions below only when chachapoly_simd_available(). 96-bit nonce, 16-octet tag.
void chachapoly_simd_init(chachapoly_simd_key *k, const uint8_t key[32]);

// Wipes the key.
void chachapoly_simd_clear(chachapoly_simd_key *k);

// Encrypts len octets of pt into ct (ct may be pt) and writes the tag.
void chachapoly_simd_seal(const chachapoly_simd_key *k, const uint8_t iv[12], const uint8_t *ad,
                          size_t ad_len, const uint8_t *pt, size_t len, uint8_t *ct,
                          uint8_t tag[16]);

// Decrypts len octets of ct into pt (pt may be ct) and checks the tag in constant time; false
// when it does not match, pt then zeroed.
bool chachapoly_simd_open(const chachapoly_simd_key *k, const uint8_t iv[12], const uint8_t *ad,
                          size_t ad_len, const uint8_t *ct, size_t len, const uint8_t tag[16],
                          uint8_t *pt);

}  // namespace tfc
