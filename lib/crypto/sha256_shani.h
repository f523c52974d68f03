// lib/crypto: SHA-256's compression function on the x86 SHA extensions, which make hashing
// a file several times faster than portable code (mbedTLS 2.28 has no such path; OpenSSL
// does). sha256_stream uses it where the CPU has them.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tfc {

// True when this CPU has the SHA extensions and SSE4.1 (always false off x86-64).
bool sha256_shani_available();

// Runs `blocks` 64-octet blocks of `data` through the compression function of FIPS 180-4,
// state[0..7] being its working values a..h. Only when sha256_shani_available().
void sha256_shani_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);

}  // namespace tfc
