// lib/crypto: the parts of the backend interface that are built from its other primitives
// and so are the same for every backend (Noise's HKDF, moving an aead).
#include "crypto/backend.h"
#include "crypto/key_state.h"

#include <atomic>
#include <cstring>

#include <truflux/error.h>

namespace tfc {

namespace {
std::atomic<long> g_states{0};
std::atomic<uint64_t> g_next_key_id{1};
}  // namespace

uint64_t key_state::new_id() { return g_next_key_id.fetch_add(1, std::memory_order_relaxed); }
void key_state::count_state(long delta) { g_states.fetch_add(delta, std::memory_order_relaxed); }
long aead::contexts_held() { return g_states.load(std::memory_order_relaxed); }

aead &aead::operator=(aead &&o) noexcept {
    if (this != &o) {
        clear();
        impl_ = o.impl_;
        c_ = o.c_;
        o.impl_ = nullptr;
    }
    return *this;
}

void noise_nonce(cipher c, uint64_t n, uint8_t iv[IV_LEN]) {
    std::memset(iv, 0, 4);
    for (int i = 0; i < 8; i++) {
        uint8_t b = uint8_t(n >> (8 * i));
        if (c == cipher::chachapoly)
            iv[4 + i] = b;
        else
            iv[11 - i] = b;
    }
}

int aead::encrypt(uint64_t n, const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t len,
                  uint8_t *out) {
    if (!impl_) return TRUFLUX_EINVAL;
    uint8_t iv[IV_LEN];
    noise_nonce(kind(), n, iv);
    return encrypt_iv(iv, ad, ad_len, pt, len, out);
}

int aead::decrypt(uint64_t n, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                  size_t ct_len, uint8_t *out) {
    if (!impl_) return TRUFLUX_EINVAL;
    uint8_t iv[IV_LEN];
    noise_nonce(kind(), n, iv);
    return decrypt_iv(iv, ad, ad_len, ct, ct_len, out);
}

int hkdf(const uint8_t ck[HASH_LEN], const uint8_t *ikm, size_t ikm_len, uint8_t out1[HASH_LEN],
         uint8_t out2[HASH_LEN], uint8_t *out3) {
    // Outputs go to locals first: out1 may be ck itself, which is still needed.
    uint8_t temp[HASH_LEN], o1[HASH_LEN], o2[HASH_LEN], o3[HASH_LEN];
    static const uint8_t ctr[3] = {0x01, 0x02, 0x03};
    span in{ikm, ikm_len};
    int rc = hmac_sha256(ck, HASH_LEN, &in, 1, temp);
    span p1{ctr, 1};
    if (rc == 0) rc = hmac_sha256(temp, HASH_LEN, &p1, 1, o1);
    span p2[2] = {{o1, HASH_LEN}, {ctr + 1, 1}};
    if (rc == 0) rc = hmac_sha256(temp, HASH_LEN, p2, 2, o2);
    span p3[2] = {{o2, HASH_LEN}, {ctr + 2, 1}};
    if (rc == 0 && out3) rc = hmac_sha256(temp, HASH_LEN, p3, 2, o3);
    if (rc != 0) {
        wipe(o1, sizeof o1);
        wipe(o2, sizeof o2);
        wipe(o3, sizeof o3);
    }
    std::memcpy(out1, o1, HASH_LEN);
    std::memcpy(out2, o2, HASH_LEN);
    if (out3) std::memcpy(out3, o3, HASH_LEN);
    wipe(temp, sizeof temp);
    wipe(o1, sizeof o1);
    wipe(o2, sizeof o2);
    wipe(o3, sizeof o3);
    return rc;
}

}  // namespace tfc
