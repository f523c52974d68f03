// lib/crypto: the primitives Noise needs, behind one small interface with two
// implementations chosen at build time: backend_mbedtls.cpp (default, mbedTLS 2.28) and
// backend_openssl.cpp (OpenSSL 3 libcrypto, when TRUFLUX_CRYPTO_OPENSSL is defined). This
// header is the same for both, so code above it never depends on the choice.
//
// Return codes: 0, TRUFLUX_EINVAL (bad arguments), TRUFLUX_ENOMEM, TRUFLUX_EINTERNAL (the
// library failed where it should not: RNG, key setup), TRUFLUX_EPROTO (a peer's X25519
// public key gives an all-zero shared secret) or tfc::ERR_DECRYPT (authentication failed).
// Every function is thread-safe; an aead object is used by one thread at a time.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tfc {

constexpr size_t DH_LEN = 32;    // X25519 keys and shared secrets
constexpr size_t KEY_LEN = 32;   // AEAD keys (both ciphers)
constexpr size_t TAG_LEN = 16;   // AEAD tags (both ciphers)
constexpr size_t HASH_LEN = 32;  // SHA-256

// Authentication of a ciphertext failed (wrong key, nonce, associated data or tampering).
// Internal only, outside the public TRUFLUX_E* range so that it cannot be confused with
// one; public_error() (noise.h) maps it to TRUFLUX_EPROTO before it leaves the library.
constexpr int ERR_DECRYPT = -1001;

enum class cipher : uint8_t { chachapoly, aesgcm };

// A byte range; a list of them is hashed or MACed as their concatenation, which saves the
// copy that HASH(h || data) would otherwise need.
struct span {
    const uint8_t *data;
    size_t len;
};

// "mbedtls" or "openssl": what this build uses, for tests, benchmarks and logs.
const char *backend_name();

// Overwrites len bytes with zeros in a way the compiler may not elide.
void wipe(void *p, size_t len);

// Fills out from a CSPRNG seeded by the operating system. TRUFLUX_EINTERNAL when the
// generator cannot be seeded; the output is then wiped, never partially random.
int random_bytes(uint8_t *out, size_t len);

// X25519 (RFC 7748). Private keys are 32 random bytes, clamped when used, so any 32 bytes
// are a valid private key and keys from other implementations give the same results.
int x25519_keypair(uint8_t priv[DH_LEN], uint8_t pub[DH_LEN]);
int x25519_public(const uint8_t priv[DH_LEN], uint8_t pub[DH_LEN]);
// shared = X25519(priv, pub). A low-order pub makes the result all zeros; that is
// TRUFLUX_EPROTO (and shared is zeroed), because it would make the secret public.
int x25519(const uint8_t priv[DH_LEN], const uint8_t pub[DH_LEN], uint8_t shared[DH_LEN]);

// SHA-256 and HMAC-SHA-256 of the concatenation of n spans. 0 or TRUFLUX_ENOMEM (the
// backends allocate a context); out is zeroed on failure.
int hash_sha256(const span *parts, size_t n, uint8_t out[HASH_LEN]);
int hmac_sha256(const uint8_t *key, size_t key_len, const span *parts, size_t n,
                uint8_t out[HASH_LEN]);

// HKDF as Noise defines it (section 4.3): temp = HMAC(ck, ikm); out1 = HMAC(temp, 0x01);
// out2 = HMAC(temp, out1 || 0x02); out3 = HMAC(temp, out2 || 0x03). out3 may be NULL for
// two outputs. Outputs may alias ck (MixKey overwrites the chaining key in place); on
// failure (TRUFLUX_ENOMEM) all outputs are zeroed.
int hkdf(const uint8_t ck[HASH_LEN], const uint8_t *ikm, size_t ikm_len,
         uint8_t out1[HASH_LEN], uint8_t out2[HASH_LEN], uint8_t *out3);

constexpr size_t IV_LEN = 12;  // the AEADs' 96-bit nonce

// Noise's 96-bit nonce for counter n (section 12): 4 zero bytes, then n little-endian for
// ChaChaPoly, big-endian for AESGCM.
void noise_nonce(cipher c, uint64_t n, uint8_t iv[IV_LEN]);

// A keyed AEAD: ChaCha20-Poly1305 (RFC 8439) or AES-256-GCM, 16-byte tag. The key lives in
// the backend's context (set once, so a message costs no key schedule) and is wiped by
// clear() and the destructor.
class aead {
public:
    aead() = default;
    ~aead() { clear(); }
    aead(const aead &) = delete;
    aead &operator=(const aead &) = delete;
    aead(aead &&o) noexcept : impl_(o.impl_), c_(o.c_) { o.impl_ = nullptr; }
    aead &operator=(aead &&o) noexcept;

    // Replaces any previous key. 0, TRUFLUX_ENOMEM or TRUFLUX_EINTERNAL (then no key).
    int set_key(cipher c, const uint8_t key[KEY_LEN]);
    void clear();
    bool has_key() const { return impl_ != nullptr; }
    cipher kind() const { return c_; }

    // ENCRYPT(k, n, ad, pt) with the nonce built from the counter n (noise_nonce).
    // out receives len + TAG_LEN bytes: the ciphertext, then the tag. out may be pt itself
    // (in place) but must not overlap it otherwise. TRUFLUX_EINVAL without a key.
    int encrypt(uint64_t n, const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t len,
                uint8_t *out);
    // DECRYPT(k, n, ad, ct): ct holds ct_len >= TAG_LEN bytes, the tag last; out receives
    // ct_len - TAG_LEN bytes and may be ct itself. ERR_DECRYPT when the tag does not
    // verify: out is then zeroed (so in-place decryption destroys the ciphertext).
    // TRUFLUX_EINVAL for ct_len < TAG_LEN or without a key.
    int decrypt(uint64_t n, const uint8_t *ad, size_t ad_len, const uint8_t *ct, size_t ct_len,
                uint8_t *out);

    // The same with any 96-bit nonce, for the RFC and NIST known-answer tests, whose
    // nonces are not of Noise's shape. Implemented by each backend.
    int encrypt_iv(const uint8_t iv[IV_LEN], const uint8_t *ad, size_t ad_len,
                   const uint8_t *pt, size_t len, uint8_t *out);
    int decrypt_iv(const uint8_t iv[IV_LEN], const uint8_t *ad, size_t ad_len,
                   const uint8_t *ct, size_t ct_len, uint8_t *out);

    // Idle memory. A key's working state (OpenSSL: an EVP_CIPHER_CTX per direction, about
    // 1 KB with its key schedule; mbedTLS build, AES-GCM on AES-NI: the expanded key and
    // GHASH powers, 432 bytes) is the bulk of an idle encrypted connection. So a key's
    // first few messages in each direction are sealed or opened with a state the calling
    // thread keeps (re-keyed when another key used it last), the key gets a state of its
    // own only when used more often, and trim() frees that state when it was not used
    // since the previous trim() (the key itself is kept: the next message works as the
    // first did). A connection calls it on its periodic tick, so one idle for two ticks
    // holds only its key. (ChaCha20 on SSSE3/AVX2 has no state beyond the key; mbedTLS's
    // own contexts, used on CPUs without those instructions, stay with the key.)
    void trim();
    // Working states held apart from keys, process-wide: what trim() can free. For tests
    // and statistics.
    static long contexts_held();

    struct impl;  // defined by the backend

private:
    impl *impl_ = nullptr;
    cipher c_ = cipher::chachapoly;
};

}  // namespace tfc
