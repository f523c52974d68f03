// lib/crypto: the optional backend, over OpenSSL 3 libcrypto (EVP). It exists because
// mbedTLS 2.28's AEADs are many times slower on this CPU (docs/CRYPTO.md has the numbers).
// Compiled only with -DTRUFLUX_CRYPTO_OPENSSL; the default build compiles this file to
// nothing.
#ifdef TRUFLUX_CRYPTO_OPENSSL

#include "crypto/backend.h"
#include "crypto/key_state.h"

#include <climits>
#include <cstring>
#include <new>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <truflux/error.h>

namespace tfc {

const char *backend_name() { return "openssl"; }

void wipe(void *p, size_t len) {
    if (p && len) OPENSSL_cleanse(p, len);
}

// OpenSSL's DRBG is per thread and reseeds itself after fork().
int random_bytes(uint8_t *out, size_t len) {
    for (size_t done = 0; done < len;) {
        size_t chunk = len - done;
        if (chunk > INT_MAX) chunk = INT_MAX;
        if (RAND_bytes(out + done, int(chunk)) != 1) {
            wipe(out, len);
            return TRUFLUX_EINTERNAL;
        }
        done += chunk;
    }
    return 0;
}

// ---- X25519 ------------------------------------------------------------------------------

int x25519_public(const uint8_t priv[DH_LEN], uint8_t pub[DH_LEN]) {
    // OpenSSL clamps the raw private key itself when it uses it.
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv, DH_LEN);
    if (!k) return TRUFLUX_EINTERNAL;
    size_t len = DH_LEN;
    int ok = EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == DH_LEN;
    EVP_PKEY_free(k);  // cleanses the private key it held
    if (!ok) {
        wipe(pub, DH_LEN);
        return TRUFLUX_EINTERNAL;
    }
    return 0;
}

int x25519_keypair(uint8_t priv[DH_LEN], uint8_t pub[DH_LEN]) {
    int rc = random_bytes(priv, DH_LEN);
    if (rc == 0) rc = x25519_public(priv, pub);
    if (rc != 0) wipe(priv, DH_LEN);
    return rc;
}

int x25519(const uint8_t priv[DH_LEN], const uint8_t pub[DH_LEN], uint8_t shared[DH_LEN]) {
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv, DH_LEN);
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, pub, DH_LEN);
    EVP_PKEY_CTX *ctx = k ? EVP_PKEY_CTX_new(k, nullptr) : nullptr;
    int rc = TRUFLUX_EINTERNAL;
    if (ctx && peer && EVP_PKEY_derive_init(ctx) == 1) {
        size_t len = DH_LEN;
        // OpenSSL refuses an all-zero result (a low-order public key) in set_peer or
        // derive; everything before this point was our own key handling.
        rc = EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
                     EVP_PKEY_derive(ctx, shared, &len) == 1 && len == DH_LEN
                 ? 0
                 : TRUFLUX_EPROTO;
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(k);
    if (rc == 0) {
        uint8_t acc = 0;
        for (size_t i = 0; i < DH_LEN; i++) acc |= shared[i];
        if (acc == 0) rc = TRUFLUX_EPROTO;
    }
    if (rc != 0) wipe(shared, DH_LEN);
    return rc;
}

// ---- SHA-256, HMAC -----------------------------------------------------------------------

int hash_sha256(const span *parts, size_t n, uint8_t out[HASH_LEN]) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c) {
        wipe(out, HASH_LEN);
        return TRUFLUX_ENOMEM;
    }
    unsigned int len = 0;
    int ok = EVP_DigestInit_ex(c, EVP_sha256(), nullptr) == 1;
    for (size_t i = 0; ok && i < n; i++)
        if (parts[i].len) ok = EVP_DigestUpdate(c, parts[i].data, parts[i].len) == 1;
    ok = ok && EVP_DigestFinal_ex(c, out, &len) == 1 && len == HASH_LEN;
    EVP_MD_CTX_free(c);
    if (!ok) {
        wipe(out, HASH_LEN);
        return TRUFLUX_EINTERNAL;
    }
    return 0;
}

namespace {

// Fetched once: an implicit fetch per HMAC would search the provider store each time.
EVP_MAC *hmac_algorithm() {
    static EVP_MAC *mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    return mac;
}

}  // namespace

int hmac_sha256(const uint8_t *key, size_t key_len, const span *parts, size_t n,
                uint8_t out[HASH_LEN]) {
    EVP_MAC *mac = hmac_algorithm();
    EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : nullptr;
    if (!c) {
        wipe(out, HASH_LEN);
        return mac ? TRUFLUX_ENOMEM : TRUFLUX_EINTERNAL;
    }
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    // A NULL key means "keep the previous key" to EVP_MAC_init; an empty key is a real key.
    static const uint8_t no_key = 0;
    size_t len = 0;
    int ok = EVP_MAC_init(c, key_len ? key : &no_key, key_len, params) == 1;
    for (size_t i = 0; ok && i < n; i++)
        if (parts[i].len) ok = EVP_MAC_update(c, parts[i].data, parts[i].len) == 1;
    ok = ok && EVP_MAC_final(c, out, &len, HASH_LEN) == 1 && len == HASH_LEN;
    EVP_MAC_CTX_free(c);  // cleanses the key schedule
    if (!ok) {
        wipe(out, HASH_LEN);
        return TRUFLUX_EINTERNAL;
    }
    return 0;
}

// ---- AEAD ----------------------------------------------------------------------------

// One context per direction, each keyed once: a message then only sets its IV. (A
// HandshakeState's cipher both encrypts and decrypts, so one context would be re-keyed on
// every change of direction.) A CipherState only ever encrypts (our sending key) or only
// decrypts (the peer's), so a connection holds at most two contexts, not four.
//
// Those contexts are most of an idle encrypted connection's memory (about 1 KB each, key
// schedule and GHASH tables included), so a key does not get them at once: its first few
// messages in a direction (key_state.h) use a context of the calling thread's, re-keyed when
// another key used it last (about as long as sealing 64 B), and trim() frees a context that
// was not used since the previous trim(). A connection that sends a heartbeat now and then
// never holds one; a busy one re-keys a few times per tick at most.
namespace {

EVP_CIPHER_CTX *new_context(cipher c, const uint8_t *key, bool enc) {
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    if (!x) return nullptr;
    const EVP_CIPHER *alg = c == cipher::chachapoly ? EVP_chacha20_poly1305() : EVP_aes_256_gcm();
    int ok = enc ? EVP_EncryptInit_ex(x, alg, nullptr, key, nullptr)
                 : EVP_DecryptInit_ex(x, alg, nullptr, key, nullptr);
    if (ok != 1) {
        EVP_CIPHER_CTX_free(x);
        return nullptr;
    }
    return x;
}

// The calling thread's contexts for keys without their own, by cipher and direction.
// Once the thread's destructors have run (an object destroyed later, at exit, may still
// encrypt: a close frame) keys get contexts of their own instead: t_shared_gone says so.
// (A flag of its own: a store into an object being destroyed may be optimised away.)
thread_local bool t_shared_gone = false;
struct shared_contexts {
    EVP_CIPHER_CTX *ctx[2][2] = {};
    uint64_t keyed_for[2][2] = {};  // key id whose schedule the context holds; 0: none
    ~shared_contexts() {
        for (auto &row : ctx)
            for (EVP_CIPHER_CTX *x : row) EVP_CIPHER_CTX_free(x);  // cleanses the schedule
        t_shared_gone = true;
    }
};
thread_local shared_contexts t_shared;

}  // namespace

struct aead::impl {
    EVP_CIPHER_CTX *own[2] = {};  // [1] encrypts, [0] decrypts; made when used often
    uint8_t uses[2] = {};         // messages since the last trim(), saturating
    uint64_t id = 0;              // tells this key from others in the threads' contexts
    uint8_t key[KEY_LEN];
};

void aead::clear() {
    if (!impl_) return;
    for (EVP_CIPHER_CTX *&x : impl_->own)
        if (x) {
            EVP_CIPHER_CTX_free(x);  // cleanses the key schedule
            x = nullptr;
            key_state::count_state(-1);
        }
    // Nor does this thread's shared context keep the schedule of a key that is gone (a key
    // is cleared on the thread that used it, its connection's loop).
    for (int ci = 0; ci < 2 && !t_shared_gone; ci++)
        for (int d = 0; d < 2; d++)
            if (t_shared.keyed_for[ci][d] == impl_->id) {
                EVP_CIPHER_CTX_free(t_shared.ctx[ci][d]);
                t_shared.ctx[ci][d] = nullptr;
                t_shared.keyed_for[ci][d] = 0;
            }
    wipe(impl_->key, KEY_LEN);
    delete impl_;
    impl_ = nullptr;
}

int aead::set_key(cipher c, const uint8_t key[KEY_LEN]) {
    clear();
    impl *p = new (std::nothrow) impl;
    if (!p) return TRUFLUX_ENOMEM;
    std::memcpy(p->key, key, KEY_LEN);
    p->id = key_state::new_id();
    impl_ = p;
    c_ = c;
    return 0;
}

void aead::trim() {
    if (!impl_) return;
    for (int d = 0; d < 2; d++) {
        if (impl_->own[d] && impl_->uses[d] == 0) {
            EVP_CIPHER_CTX_free(impl_->own[d]);
            impl_->own[d] = nullptr;
            key_state::count_state(-1);
        }
        impl_->uses[d] = 0;
    }
}

// The context for one message in one direction: the key's own, or the thread's keyed for
// it; NULL when none can be made.
static EVP_CIPHER_CTX *context_for(aead::impl *k, cipher c, bool enc) {
    int d = enc ? 1 : 0;
    bool own_now = key_state::count_use(k->uses[d]) || t_shared_gone;
    if (k->own[d]) return k->own[d];
    if (own_now) {
        k->own[d] = new_context(c, k->key, enc);
        if (k->own[d]) {
            key_state::count_state(1);
            return k->own[d];
        }
    }
    if (t_shared_gone) return nullptr;  // out of memory, and the thread's contexts are freed
    int ci = c == cipher::chachapoly ? 1 : 0;
    EVP_CIPHER_CTX *&x = t_shared.ctx[ci][d];
    uint64_t &keyed = t_shared.keyed_for[ci][d];
    if (!x) {
        x = new_context(c, k->key, enc);
        if (!x) return nullptr;
    } else if (keyed != k->id) {
        int ok = enc ? EVP_EncryptInit_ex(x, nullptr, nullptr, k->key, nullptr)
                     : EVP_DecryptInit_ex(x, nullptr, nullptr, k->key, nullptr);
        if (ok != 1) {
            keyed = 0;
            return nullptr;
        }
    }
    keyed = k->id;
    return x;
}

int aead::encrypt_iv(const uint8_t iv[IV_LEN], const uint8_t *ad, size_t ad_len,
                     const uint8_t *pt, size_t len, uint8_t *out) {
    if (!impl_ || len > INT_MAX || ad_len > INT_MAX) return TRUFLUX_EINVAL;
    EVP_CIPHER_CTX *c = context_for(impl_, c_, true);
    if (!c) {
        wipe(out, len + TAG_LEN);
        return TRUFLUX_EINTERNAL;
    }
    int outl = 0, finl = 0;
    bool ok = EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, iv) == 1;
    if (ok && ad_len) ok = EVP_EncryptUpdate(c, nullptr, &outl, ad, int(ad_len)) == 1;
    outl = 0;
    if (ok && len) ok = EVP_EncryptUpdate(c, out, &outl, pt, int(len)) == 1;
    ok = ok && EVP_EncryptFinal_ex(c, out + outl, &finl) == 1 && size_t(outl + finl) == len;
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, int(TAG_LEN), out + len) == 1;
    if (!ok) {
        wipe(out, len + TAG_LEN);
        return TRUFLUX_EINTERNAL;
    }
    return 0;
}

int aead::decrypt_iv(const uint8_t iv[IV_LEN], const uint8_t *ad, size_t ad_len,
                     const uint8_t *ct, size_t ct_len, uint8_t *out) {
    if (!impl_ || ct_len < TAG_LEN || ct_len - TAG_LEN > INT_MAX || ad_len > INT_MAX)
        return TRUFLUX_EINVAL;
    size_t len = ct_len - TAG_LEN;
    EVP_CIPHER_CTX *c = context_for(impl_, c_, false);
    if (!c) {
        wipe(out, len);
        return TRUFLUX_EINTERNAL;
    }
    // The ctrl takes a non-const pointer (it only copies the tag): hand it our own copy.
    uint8_t tag[TAG_LEN];
    std::memcpy(tag, ct + len, TAG_LEN);
    int outl = 0, finl = 0;
    bool ok = EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, iv) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, int(TAG_LEN), tag) == 1;
    if (ok && ad_len) ok = EVP_DecryptUpdate(c, nullptr, &outl, ad, int(ad_len)) == 1;
    outl = 0;
    if (ok && len) ok = EVP_DecryptUpdate(c, out, &outl, ct, int(len)) == 1;
    if (!ok) {
        wipe(out, len);
        return TRUFLUX_EINTERNAL;
    }
    // Only Final checks the tag; the plaintext Update wrote must not survive a failure.
    if (EVP_DecryptFinal_ex(c, out + outl, &finl) != 1 || size_t(outl + finl) != len) {
        wipe(out, len);
        return ERR_DECRYPT;
    }
    return 0;
}

}  // namespace tfc

#endif  // TRUFLUX_CRYPTO_OPENSSL
