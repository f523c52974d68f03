// lib/crypto: incremental SHA-256, for digests of content that arrives in pieces (file
// transfers, lib/files). mbedTLS by default; OpenSSL's libcrypto (SHA extensions where the CPU
// has them) in a TRUFLUX_CRYPTO_OPENSSL build.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tfc {

class sha256_stream {
public:
    sha256_stream();
    ~sha256_stream();
    sha256_stream(const sha256_stream &) = delete;
    sha256_stream &operator=(const sha256_stream &) = delete;

    // Starts over (a fresh object is already started).
    void reset();
    void update(const void *data, size_t len);
    // Writes the digest of everything fed since the start; the object then starts over.
    void finish(uint8_t out[32]);

    struct impl;

private:
    impl *impl_;
};

}  // namespace tfc
