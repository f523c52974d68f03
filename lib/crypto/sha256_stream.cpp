// lib/crypto: incremental SHA-256 (see sha256_stream.h).
#include "crypto/sha256_stream.h"

#include <new>

#ifdef TRUFLUX_CRYPTO_OPENSSL
#include <openssl/evp.h>
#else
#include <mbedtls/sha256.h>
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

struct sha256_stream::impl {
    mbedtls_sha256_context ctx;
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
void sha256_stream::reset() { mbedtls_sha256_starts_ret(&impl_->ctx, 0); }

void sha256_stream::update(const void *data, size_t len) {
    if (len) mbedtls_sha256_update_ret(&impl_->ctx, static_cast<const unsigned char *>(data), len);
}

void sha256_stream::finish(uint8_t out[32]) {
    mbedtls_sha256_finish_ret(&impl_->ctx, out);
    reset();
}

#endif

}  // namespace tfc
