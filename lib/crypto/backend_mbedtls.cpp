// lib/crypto: the default backend, over mbedTLS 2.28 (Debian 12's libmbedcrypto).
#ifndef TRUFLUX_CRYPTO_OPENSSL

#include "crypto/backend.h"
#include "crypto/aesgcm_ni.h"
#include "crypto/chachapoly_simd.h"
#include "crypto/key_state.h"
#include "crypto/x25519.h"

#include <unistd.h>

#include <cstring>
#include <new>

#include <mbedtls/chachapoly.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/gcm.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include <truflux/error.h>

namespace tfc {

const char *backend_name() { return "mbedtls"; }

void wipe(void *p, size_t len) {
    if (p && len) mbedtls_platform_zeroize(p, len);
}

// ---- CSPRNG ------------------------------------------------------------------------------

namespace {

// One CTR_DRBG per thread: no lock on the path that makes ephemeral keys, and no shared
// state for mbedTLS's non-thread-safe DRBG. Seeded lazily from the OS entropy source and
// reseeded when the process id changes, so a forked child never replays its parent's
// stream.
struct drbg {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context ctr;
    pid_t pid = -1;
    bool seeded = false;

    drbg() {
        mbedtls_entropy_init(&entropy);
        mbedtls_ctr_drbg_init(&ctr);
    }
    ~drbg() {
        mbedtls_ctr_drbg_free(&ctr);
        mbedtls_entropy_free(&entropy);
    }
    drbg(const drbg &) = delete;
    drbg &operator=(const drbg &) = delete;

    int ready() {
        pid_t now = getpid();
        if (seeded && now == pid) return 0;
        static const unsigned char pers[] = "truflux noise drbg";
        int rc = seeded ? mbedtls_ctr_drbg_reseed(&ctr, nullptr, 0)
                        : mbedtls_ctr_drbg_seed(&ctr, mbedtls_entropy_func, &entropy, pers,
                                                sizeof pers - 1);
        if (rc != 0) return TRUFLUX_EINTERNAL;
        seeded = true;
        pid = now;
        return 0;
    }
};

drbg &thread_drbg() {
    thread_local drbg d;
    return d;
}

}  // namespace

int random_bytes(uint8_t *out, size_t len) {
    drbg &d = thread_drbg();
    int rc = d.ready();
    for (size_t done = 0; rc == 0 && done < len;) {
        size_t chunk = len - done;
        if (chunk > MBEDTLS_CTR_DRBG_MAX_REQUEST) chunk = MBEDTLS_CTR_DRBG_MAX_REQUEST;
        if (mbedtls_ctr_drbg_random(&d.ctr, out + done, chunk) != 0) rc = TRUFLUX_EINTERNAL;
        done += chunk;
    }
    if (rc != 0) wipe(out, len);
    return rc;
}

// ---- X25519 ------------------------------------------------------------------------------

namespace {

#if TFC_X25519_NATIVE

// The library's own ladder (x25519.h), over ten times faster than mbedTLS's ECP code.
// It returns RFC 7748's all-zero output for a low-order u; x25519() turns that into
// TRUFLUX_EPROTO. u == NULL means the base point.
int x25519_mul(const uint8_t priv[DH_LEN], const uint8_t *u, uint8_t out[DH_LEN]) {
    if (u) {
        x25519_scalarmult(out, priv, u);
    } else {
        x25519_scalarmult_base(out, priv);
    }
    return 0;
}

#else  // no 128-bit integers: mbedTLS's ECP code

// mbedTLS's f_rng signature, for the ECP blinding it does during scalar multiplication.
int drbg_rng(void *, unsigned char *out, size_t len) {
    return random_bytes(out, len) == 0 ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}

// X25519(k, u) with mbedTLS's Montgomery ladder. mbedTLS stores Curve25519 scalars and
// u-coordinates as little-endian integers (RFC 7748's encoding), and insists on a clamped
// scalar, so the key is clamped here rather than rejected. u == NULL means the base point.
int x25519_mul(const uint8_t priv[DH_LEN], const uint8_t *u, uint8_t out[DH_LEN]) {
    uint8_t k[DH_LEN];
    std::memcpy(k, priv, DH_LEN);
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;

    mbedtls_ecp_group grp;
    mbedtls_mpi d;
    mbedtls_ecp_point P, R;
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_ecp_point_init(&P);
    mbedtls_ecp_point_init(&R);

    int rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_CURVE25519);
    if (rc == 0) rc = mbedtls_mpi_read_binary_le(&d, k, DH_LEN);
    // read_binary clears the top bit of u, as RFC 7748 section 5 asks.
    if (rc == 0 && u) rc = mbedtls_ecp_point_read_binary(&grp, &P, u, DH_LEN);
    if (rc == 0) rc = mbedtls_ecp_mul(&grp, &R, &d, u ? &P : &grp.G, drbg_rng, nullptr);
    if (rc == 0) rc = mbedtls_mpi_write_binary_le(&R.X, out, DH_LEN);

    int ret = 0;
    if (rc == MBEDTLS_ERR_MPI_ALLOC_FAILED || rc == MBEDTLS_ERR_ECP_ALLOC_FAILED) {
        ret = TRUFLUX_ENOMEM;
    } else if (u && (rc == MBEDTLS_ERR_ECP_INVALID_KEY || rc == MBEDTLS_ERR_MPI_NOT_ACCEPTABLE)) {
        // mbedTLS's public-key check refuses the known low-order u values (our clamped
        // scalar always passes its private-key check); any other low-order u would end the
        // ladder at infinity (Z = 0), which it cannot normalise. Either way the output
        // would be RFC 7748's all-zero secret: the peer's key is bad.
        ret = TRUFLUX_EPROTO;
    } else if (rc != 0) {
        ret = TRUFLUX_EINTERNAL;
    }
    if (ret != 0) wipe(out, DH_LEN);

    wipe(k, sizeof k);
    mbedtls_ecp_point_free(&R);  // the mpi frees zeroize their limbs
    mbedtls_ecp_point_free(&P);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_group_free(&grp);
    return ret;
}

#endif  // TFC_X25519_NATIVE

}  // namespace

int x25519_public(const uint8_t priv[DH_LEN], uint8_t pub[DH_LEN]) {
    return x25519_mul(priv, nullptr, pub);
}

int x25519_keypair(uint8_t priv[DH_LEN], uint8_t pub[DH_LEN]) {
    int rc = random_bytes(priv, DH_LEN);
    if (rc == 0) rc = x25519_public(priv, pub);
    if (rc != 0) wipe(priv, DH_LEN);
    return rc;
}

int x25519(const uint8_t priv[DH_LEN], const uint8_t pub[DH_LEN], uint8_t shared[DH_LEN]) {
    int rc = x25519_mul(priv, pub, shared);
    if (rc != 0) return rc;
    uint8_t acc = 0;
    for (size_t i = 0; i < DH_LEN; i++) acc |= shared[i];
    // A low-order pub: the ladder's output is all zeros (mbedTLS's already fails for them).
    return acc == 0 ? TRUFLUX_EPROTO : 0;
}

// ---- SHA-256, HMAC -----------------------------------------------------------------------

int hash_sha256(const span *parts, size_t n, uint8_t out[HASH_LEN]) {
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    int rc = mbedtls_sha256_starts_ret(&c, 0);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (parts[i].len) rc = mbedtls_sha256_update_ret(&c, parts[i].data, parts[i].len);
    if (rc == 0) rc = mbedtls_sha256_finish_ret(&c, out);
    mbedtls_sha256_free(&c);
    if (rc != 0) {
        wipe(out, HASH_LEN);
        return TRUFLUX_EINTERNAL;
    }
    return 0;
}

int hmac_sha256(const uint8_t *key, size_t key_len, const span *parts, size_t n,
                uint8_t out[HASH_LEN]) {
    mbedtls_md_context_t c;
    mbedtls_md_init(&c);
    int rc = mbedtls_md_setup(&c, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1);
    if (rc == 0) rc = mbedtls_md_hmac_starts(&c, key, key_len);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (parts[i].len) rc = mbedtls_md_hmac_update(&c, parts[i].data, parts[i].len);
    if (rc == 0) rc = mbedtls_md_hmac_finish(&c, out);
    mbedtls_md_free(&c);  // zeroizes the padded key it kept
    if (rc != 0) {
        wipe(out, HASH_LEN);
        return rc == MBEDTLS_ERR_MD_ALLOC_FAILED ? TRUFLUX_ENOMEM : TRUFLUX_EINTERNAL;
    }
    return 0;
}

// ---- AEAD --------------------------------------------------------------------------------

// AES-GCM runs on our own AES-NI/PCLMULQDQ code where the CPU has them (some twenty times
// mbedTLS's speed), on mbedTLS's elsewhere; ChaCha20-Poly1305 likewise on our SSSE3/AVX2
// code (several times mbedTLS's speed) or mbedTLS's. The choice is fixed for the process.
//
// Every encrypted connection holds two keys, so what a key holds counts: ChaCha20's state is
// the key itself (32 bytes); AES-GCM's is the expanded key and GHASH powers (432 bytes), so
// as with the OpenSSL backend (see backend.h) a key's first messages (key_state.h) use an
// expansion its thread keeps (redone, about 0.1 us, when another key used it last) and the
// key gets its own only when used more, which trim() frees again once unused. mbedTLS's
// contexts (CPUs without the instructions) are made with the key and kept.
namespace {

bool gcm_ni(cipher c) { return c == cipher::aesgcm && aesgcm_ni_available(); }
bool chacha_simd(cipher c) { return c == cipher::chachapoly && chachapoly_simd_available(); }

// The calling thread's expansion for AES-GCM keys without their own. Once the thread's
// destructors have run (an object destroyed later, at exit, may still encrypt: a close
// frame) keys get expansions of their own instead: t_ni_gone says so. (A flag of its own:
// a store into an object being destroyed may be optimised away, its lifetime ending.)
thread_local bool t_ni_gone = false;
struct shared_expansion {
    aesgcm_ni_key k;
    uint64_t keyed_for = 0;  // key id it holds; 0: none
    ~shared_expansion() {
        aesgcm_ni_clear(&k);
        t_ni_gone = true;
    }
};
thread_local shared_expansion t_ni;

}  // namespace

struct aead::impl {
    uint8_t key[KEY_LEN];             // AES-GCM on AES-NI: expanded when used
    chachapoly_simd_key simd;         // ChaCha20-Poly1305 on SSSE3/AVX2
    aesgcm_ni_key *own = nullptr;     // AES-GCM on AES-NI: made when used often
    uint8_t uses = 0;                 // messages since the last trim(), saturating
    uint64_t id = 0;                  // tells this key from others in t_ni
    mbedtls_chachapoly_context *chacha = nullptr;  // without the instructions
    mbedtls_gcm_context *gcm = nullptr;
};

void aead::clear() {
    if (!impl_) return;
    // Each zeroizes its key.
    if (impl_->own) {
        aesgcm_ni_clear(impl_->own);
        delete impl_->own;
        key_state::count_state(-1);
    }
    // Only AES-NI keys ever use the thread's expansion (others need not make it).
    if (gcm_ni(c_) && !t_ni_gone && t_ni.keyed_for == impl_->id) {
        aesgcm_ni_clear(&t_ni.k);
        t_ni.keyed_for = 0;
    }
    if (impl_->chacha) {
        mbedtls_chachapoly_free(impl_->chacha);
        delete impl_->chacha;
    }
    if (impl_->gcm) {
        mbedtls_gcm_free(impl_->gcm);
        delete impl_->gcm;
    }
    wipe(impl_->key, KEY_LEN);
    chachapoly_simd_clear(&impl_->simd);
    delete impl_;
    impl_ = nullptr;
}

void aead::trim() {
    if (!impl_) return;
    if (impl_->own && impl_->uses == 0) {
        aesgcm_ni_clear(impl_->own);
        delete impl_->own;
        impl_->own = nullptr;
        key_state::count_state(-1);
    }
    impl_->uses = 0;
}

int aead::set_key(cipher c, const uint8_t key[KEY_LEN]) {
    clear();
    impl *p = new (std::nothrow) impl;
    if (!p) return TRUFLUX_ENOMEM;
    p->id = key_state::new_id();
    std::memset(p->key, 0, KEY_LEN);
    std::memset(&p->simd, 0, sizeof p->simd);
    impl_ = p;
    c_ = c;
    if (gcm_ni(c)) {
        std::memcpy(p->key, key, KEY_LEN);
        return 0;
    }
    if (chacha_simd(c)) {
        chachapoly_simd_init(&p->simd, key);
        return 0;
    }
    int rc;
    if (c == cipher::chachapoly) {
        p->chacha = new (std::nothrow) mbedtls_chachapoly_context;
        if (!p->chacha) {
            clear();
            return TRUFLUX_ENOMEM;
        }
        mbedtls_chachapoly_init(p->chacha);
        rc = mbedtls_chachapoly_setkey(p->chacha, key);
    } else {
        p->gcm = new (std::nothrow) mbedtls_gcm_context;
        if (!p->gcm) {
            clear();
            return TRUFLUX_ENOMEM;
        }
        mbedtls_gcm_init(p->gcm);
        rc = mbedtls_gcm_setkey(p->gcm, MBEDTLS_CIPHER_ID_AES, key, KEY_LEN * 8);
    }
    if (rc != 0) {
        clear();
        return TRUFLUX_EINTERNAL;
    }
    return 0;
}

// The expanded AES-GCM key for one message: the key's own, or the thread's made for it.
static const aesgcm_ni_key *expansion_for(aead::impl *k) {
    bool own_now = key_state::count_use(k->uses) || t_ni_gone;
    if (k->own) return k->own;
    if (own_now) {
        k->own = new (std::nothrow) aesgcm_ni_key;
        if (k->own) {
            aesgcm_ni_init(k->own, k->key);
            key_state::count_state(1);
            return k->own;
        }
    }
    if (t_ni_gone || t_ni.keyed_for != k->id) {  // (gone: only when out of memory)
        aesgcm_ni_init(&t_ni.k, k->key);
        t_ni.keyed_for = k->id;
    }
    return &t_ni.k;
}

int aead::encrypt_iv(const uint8_t iv[IV_LEN], const uint8_t *ad, size_t ad_len,
                     const uint8_t *pt, size_t len, uint8_t *out) {
    if (!impl_) return TRUFLUX_EINVAL;
    if (gcm_ni(c_)) {
        aesgcm_ni_seal(expansion_for(impl_), iv, ad, ad_len, pt, len, out, out + len);
        return 0;
    }
    if (chacha_simd(c_)) {
        chachapoly_simd_seal(&impl_->simd, iv, ad, ad_len, pt, len, out, out + len);
        return 0;
    }
    int rc = c_ == cipher::chachapoly
                 ? mbedtls_chachapoly_encrypt_and_tag(impl_->chacha, len, iv, ad, ad_len, pt,
                                                      out, out + len)
                 : mbedtls_gcm_crypt_and_tag(impl_->gcm, MBEDTLS_GCM_ENCRYPT, len, iv, IV_LEN,
                                             ad, ad_len, pt, out, TAG_LEN, out + len);
    if (rc != 0) {
        wipe(out, len + TAG_LEN);
        return TRUFLUX_EINTERNAL;
    }
    return 0;
}

int aead::decrypt_iv(const uint8_t iv[IV_LEN], const uint8_t *ad, size_t ad_len,
                     const uint8_t *ct, size_t ct_len, uint8_t *out) {
    if (!impl_ || ct_len < TAG_LEN) return TRUFLUX_EINVAL;
    size_t len = ct_len - TAG_LEN;
    int rc;
    if (gcm_ni(c_)) {
        // Zeroes out itself on a bad tag.
        return aesgcm_ni_open(expansion_for(impl_), iv, ad, ad_len, ct, len, ct + len, out)
                   ? 0
                   : ERR_DECRYPT;
    }
    if (chacha_simd(c_)) {
        return chachapoly_simd_open(&impl_->simd, iv, ad, ad_len, ct, len, ct + len, out)
                   ? 0
                   : ERR_DECRYPT;
    }
    if (c_ == cipher::chachapoly) {
        rc = mbedtls_chachapoly_auth_decrypt(impl_->chacha, len, iv, ad, ad_len, ct + len, ct,
                                             out);
        if (rc == MBEDTLS_ERR_CHACHAPOLY_AUTH_FAILED) rc = ERR_DECRYPT;
    } else {
        rc = mbedtls_gcm_auth_decrypt(impl_->gcm, len, iv, IV_LEN, ad, ad_len, ct + len,
                                      TAG_LEN, ct, out);
        if (rc == MBEDTLS_ERR_GCM_AUTH_FAILED) rc = ERR_DECRYPT;
    }
    if (rc == 0) return 0;
    wipe(out, len);  // mbedTLS does so on a bad tag; make it hold for every failure
    return rc == ERR_DECRYPT ? ERR_DECRYPT : TRUFLUX_EINTERNAL;
}

}  // namespace tfc

#endif  // !TRUFLUX_CRYPTO_OPENSSL
