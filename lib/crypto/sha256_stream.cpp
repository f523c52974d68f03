// lib/crypto: incremental SHA-256 (see sha256_stream.h).
#include "crypto/sha256_stream.h"

#include <new>

#ifdef TRUFLUX_CRYPTO_OPENSSL
#include <openssl/evp.h>
#else
#include <mbedtls/sha256.h>

#include <algorithm>
#include <cstring>

#include "crypto/sha256_shani.h"
#endif

namespace tfc {

#ifdef TRUFLUX_CRYPTO_OPENSSL

struct sha256_stream::impl {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
};

sha256_stream::sha256_stream() : impl_(new impl) {
    if (!impl_->ctx) throw std::bad_alloc();
    reset();
}

sha256_stream::~sha256_stream() {
    EVP_MD_CTX_free(impl_->ctx);
    delete impl_;
}

void sha256_stream::reset() { EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr); }

void sha256_stream::update(const void *data, size_t len) {
    if (len) EVP_DigestUpdate(impl_->ctx, data, len);
}

void sha256_stream::finish(uint8_t out[32]) {
    unsigned int n = 32;
    EVP_DigestFinal_ex(impl_->ctx, out, &n);
    reset();
}

#else

// mbedTLS 2.28 hashes in portable C, at a fraction of what the SHA extensions do; where the
// CPU has them, blocks go through sha256_shani_blocks and this class does the padding.
struct sha256_stream::impl {
    mbedtls_sha256_context ctx;
    bool ni = sha256_shani_available();
    uint32_t h[8];
    uint8_t buf[64];
    size_t used = 0;
    uint64_t total = 0;
};

sha256_stream::sha256_stream() : impl_(new impl) {
    mbedtls_sha256_init(&impl_->ctx);
    reset();
}

sha256_stream::~sha256_stream() {
    mbedtls_sha256_free(&impl_->ctx);
    delete impl_;
}

// The _ret variants are 2.28's non-deprecated ones; with a valid context they cannot fail.
void sha256_stream::reset() {
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    if (!impl_->ni) {
        mbedtls_sha256_starts_ret(&impl_->ctx, 0);
        return;
    }
    std::memcpy(impl_->h, iv, sizeof iv);
    impl_->used = 0;
    impl_->total = 0;
}

void sha256_stream::update(const void *data, size_t len) {
    if (!len) return;
    const uint8_t *p = static_cast<const uint8_t *>(data);
    impl *s = impl_;
    if (!s->ni) {
        mbedtls_sha256_update_ret(&s->ctx, p, len);
        return;
    }
    s->total += len;
    if (s->used) {
        size_t n = std::min(len, sizeof s->buf - s->used);
        std::memcpy(s->buf + s->used, p, n);
        s->used += n;
        p += n;
        len -= n;
        if (s->used < sizeof s->buf) return;
        sha256_shani_blocks(s->h, s->buf, 1);
        s->used = 0;
    }
    if (len >= 64) {
        sha256_shani_blocks(s->h, p, len / 64);
        p += len / 64 * 64;
        len %= 64;
    }
    std::memcpy(s->buf, p, len);
    s->used = len;
}

void sha256_stream::finish(uint8_t out[32]) {
    impl *s = impl_;
    if (!s->ni) {
        mbedtls_sha256_finish_ret(&s->ctx, out);
        reset();
        return;
    }
    // FIPS 180-4 padding: 0x80, zeros, the length in bits as 64 big-endian bits.
    uint64_t bits = s->total * 8;
    uint8_t pad[72] = {0x80};
    size_t n = (s->used < 56 ? 56 : 120) - s->used;
    for (int i = 0; i < 8; i++) pad[n + i] = uint8_t(bits >> (56 - 8 * i));
    update(pad, n + 8);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = uint8_t(s->h[i] >> (24 - 8 * j));
    reset();
}

#endif

}  // namespace tfc
