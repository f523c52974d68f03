// lib/crypto: SHA-256 (mbedTLS). The only place outside lib/crypto that needs a digest is the
// protocol fingerprint.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tfc {
void sha256(const void *data, size_t len, uint8_t out[32]);
}
