// lib/wire: payload validators for the typed payloads. Pure; fuzzable.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tfw {

// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
bool utf8_valid(const uint8_t *p, size_t len);

// Exactly one well-formed MessagePack value spanning [p, p+len), nesting at most max_depth,
// every length within the buffer. Iterative (no recursion), O(len).
bool msgpack_valid(const uint8_t *p, size_t len, int max_depth = 64);

}  // namespace tfw
