// lib/crypto: X25519 (RFC 7748) in portable C++17. mbedTLS 2.28 (the default backend) does
// X25519 with its generic elliptic-curve code: a group load, big-number arithmetic and a
// blinded ladder per call, about 0.6 ms a scalar multiplication here, which bounds how fast
// encrypted connections are set up (four per Noise NN handshake pair). Field elements in five
// 51-bit limbs with 128-bit products bring it to about 45 us, over ten times less. The
// mbedTLS backend's x25519_* functions use this where the compiler has a 128-bit integer
// type (GCC and Clang on 64-bit targets) and mbedTLS's ECP code elsewhere; tests check the two
// against each other and against RFC 7748's vectors.
//
// Constant time: the ladder's swaps are masks, never branches or table indices chosen by the
// scalar, and the field arithmetic has no data-dependent branches, so the time taken does not
// depend on the private key or on the peer's public key.
#pragma once
#include <cstdint>

#if defined(__SIZEOF_INT128__)
#define TFC_X25519_NATIVE 1
#else
#define TFC_X25519_NATIVE 0
#endif

namespace tfc {

#if TFC_X25519_NATIVE
// out = X25519(k, u): k is clamped and u's top bit ignored (RFC 7748 section 5), so any 32
// bytes are accepted; a non-canonical u (>= 2^255 - 19) is reduced. out is fully reduced mod
// p, and all zeros for a low-order u: the caller decides whether that is an error. out may
// alias k or u.
void x25519_scalarmult(uint8_t out[32], const uint8_t k[32], const uint8_t u[32]);

// out = X25519(k, 9): the public key of k.
void x25519_scalarmult_base(uint8_t out[32], const uint8_t k[32]);
#endif

}  // namespace tfc
