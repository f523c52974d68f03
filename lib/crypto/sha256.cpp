// lib/crypto: SHA-256 over mbedTLS 2.28.
#include "crypto/sha256.h"

#include <mbedtls/sha256.h>

namespace tfc {

void sha256(const void *data, size_t len, uint8_t out[32]) {
    // The _ret variant is 2.28's non-deprecated one-shot; it fails only on bad arguments,
    // which a (data, len) pair with a 32-byte output cannot be.
    mbedtls_sha256_ret(static_cast<const unsigned char *>(data), len, out, 0);
}

}  // namespace tfc
