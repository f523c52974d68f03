// lib/crypto: X25519 (RFC 7748) on five 51-bit limbs (see x25519.h).
//
// A field element is h0 + h1 2^51 + h2 2^102 + h3 2^153 + h4 2^204 modulo p = 2^255 - 19.
// Limbs are not kept below 2^51 between operations: multiplication and squaring leave them
// below 2^52, additions and subtractions let them grow to below 2^54, and a product of two
// such elements still fits its 128-bit column sums (five terms of at most 2^54 * 19 * 2^54).
// Products past 2^255 wrap into the low columns times 19, since 2^255 = 19 mod p. Only the
// final encoding reduces fully.
#include "crypto/x25519.h"

#if TFC_X25519_NATIVE

#include <cstring>

#include "crypto/backend.h"

namespace tfc {

namespace {

__extension__ typedef unsigned __int128 u128;  // __extension__: no -Wpedantic warning

constexpr uint64_t MASK51 = (uint64_t(1) << 51) - 1;

struct fe {
    uint64_t v[5];
};

uint64_t load64_le(const uint8_t *p) {
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = x << 8 | p[i];
    return x;
}

void store64_le(uint8_t *p, uint64_t x) {
    for (int i = 0; i < 8; i++) p[i] = uint8_t(x >> (8 * i));
}

// The low 255 bits of s as a field element: the top bit is ignored (RFC 7748 section 5) and a
// value in [p, 2^255) is left for the arithmetic to reduce.
void fe_frombytes(fe &h, const uint8_t s[32]) {
    uint64_t w0 = load64_le(s), w1 = load64_le(s + 8), w2 = load64_le(s + 16),
             w3 = load64_le(s + 24);
    h.v[0] = w0 & MASK51;
    h.v[1] = (w0 >> 51 | w1 << 13) & MASK51;
    h.v[2] = (w1 >> 38 | w2 << 26) & MASK51;
    h.v[3] = (w2 >> 25 | w3 << 39) & MASK51;
    h.v[4] = (w3 >> 12) & MASK51;
}

// The canonical encoding: the value is reduced to [0, p) first.
void fe_tobytes(uint8_t s[32], const fe &f) {
    uint64_t h[5] = {f.v[0], f.v[1], f.v[2], f.v[3], f.v[4]};
    // Two carry passes bring every limb below 2^51 except h1, which may exceed it by a few
    // units: the value is then below 2^255 + 2^52, far below 2p.
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 4; i++) {
            h[i + 1] += h[i] >> 51;
            h[i] &= MASK51;
        }
        h[0] += 19 * (h[4] >> 51);
        h[4] &= MASK51;
    }
    h[1] += h[0] >> 51;
    h[0] &= MASK51;
    // q = floor((h + 19) / 2^255): 1 exactly when h >= p. Subtracting q p is adding 19 q and
    // dropping bit 255.
    uint64_t q = (h[0] + 19) >> 51;
    q = (h[1] + q) >> 51;
    q = (h[2] + q) >> 51;
    q = (h[3] + q) >> 51;
    q = (h[4] + q) >> 51;
    h[0] += 19 * q;
    for (int i = 0; i < 4; i++) {
        h[i + 1] += h[i] >> 51;
        h[i] &= MASK51;
    }
    h[4] &= MASK51;
    store64_le(s, h[0] | h[1] << 51);
    store64_le(s + 8, h[1] >> 13 | h[2] << 38);
    store64_le(s + 16, h[2] >> 26 | h[3] << 25);
    store64_le(s + 24, h[3] >> 39 | h[4] << 12);
    wipe(h, sizeof h);
}

void fe_add(fe &h, const fe &f, const fe &g) {
    for (int i = 0; i < 5; i++) h.v[i] = f.v[i] + g.v[i];
}

// f - g + 2p, limb by limb so that no limb goes negative: g's limbs (the output of a
// multiplication or of fe_frombytes) are below 2^52, and 2p's are 2^52 - 38 and 2^52 - 2.
// Callers never subtract a sum, whose limbs could be larger.
void fe_sub(fe &h, const fe &f, const fe &g) {
    constexpr uint64_t TWO_P0 = 0xFFFFFFFFFFFDAull, TWO_P = 0xFFFFFFFFFFFFEull;
    h.v[0] = f.v[0] + TWO_P0 - g.v[0];
    for (int i = 1; i < 5; i++) h.v[i] = f.v[i] + TWO_P - g.v[i];
}

// Brings five column sums (each below 2^115) back to limbs below 2^52. The top carry is below
// 2^64 / 19 because column 4 never holds a wrapped (times 19) term. Forced inline: GCC 12
// otherwise calls it with the ten 64-bit halves on the stack, a third of the time spent.
__attribute__((always_inline)) inline void fe_carry(fe &h, u128 t0, u128 t1, u128 t2, u128 t3, u128 t4) {
    t1 += uint64_t(t0 >> 51);
    t2 += uint64_t(t1 >> 51);
    t3 += uint64_t(t2 >> 51);
    t4 += uint64_t(t3 >> 51);
    uint64_t h0 = uint64_t(t0) & MASK51, h1 = uint64_t(t1) & MASK51;
    h0 += 19 * uint64_t(t4 >> 51);
    h1 += h0 >> 51;
    h.v[0] = h0 & MASK51;
    h.v[1] = h1;
    h.v[2] = uint64_t(t2) & MASK51;
    h.v[3] = uint64_t(t3) & MASK51;
    h.v[4] = uint64_t(t4) & MASK51;
}

void fe_mul(fe &h, const fe &f, const fe &g) {
    const uint64_t f0 = f.v[0], f1 = f.v[1], f2 = f.v[2], f3 = f.v[3], f4 = f.v[4];
    const uint64_t g0 = g.v[0], g1 = g.v[1], g2 = g.v[2], g3 = g.v[3], g4 = g.v[4];
    const uint64_t g1_19 = 19 * g1, g2_19 = 19 * g2, g3_19 = 19 * g3, g4_19 = 19 * g4;
    u128 t0 = u128(f0) * g0 + u128(f1) * g4_19 + u128(f2) * g3_19 + u128(f3) * g2_19 +
              u128(f4) * g1_19;
    u128 t1 = u128(f0) * g1 + u128(f1) * g0 + u128(f2) * g4_19 + u128(f3) * g3_19 +
              u128(f4) * g2_19;
    u128 t2 = u128(f0) * g2 + u128(f1) * g1 + u128(f2) * g0 + u128(f3) * g4_19 +
              u128(f4) * g3_19;
    u128 t3 = u128(f0) * g3 + u128(f1) * g2 + u128(f2) * g1 + u128(f3) * g0 +
              u128(f4) * g4_19;
    u128 t4 = u128(f0) * g4 + u128(f1) * g3 + u128(f2) * g2 + u128(f3) * g1 + u128(f4) * g0;
    fe_carry(h, t0, t1, t2, t3, t4);
}

// f^2: the products f_i f_j (i != j) appear twice, so they are computed once and doubled.
void fe_sq(fe &h, const fe &f) {
    const uint64_t f0 = f.v[0], f1 = f.v[1], f2 = f.v[2], f3 = f.v[3], f4 = f.v[4];
    const uint64_t f0_2 = 2 * f0, f1_2 = 2 * f1;
    const uint64_t f1_38 = 38 * f1, f2_38 = 38 * f2, f3_38 = 38 * f3;
    const uint64_t f3_19 = 19 * f3, f4_19 = 19 * f4;
    u128 t0 = u128(f0) * f0 + u128(f1_38) * f4 + u128(f2_38) * f3;
    u128 t1 = u128(f0_2) * f1 + u128(f3_19) * f3 + u128(f2_38) * f4;
    u128 t2 = u128(f0_2) * f2 + u128(f1) * f1 + u128(f3_38) * f4;
    u128 t3 = u128(f0_2) * f3 + u128(f1_2) * f2 + u128(f4_19) * f4;
    u128 t4 = u128(f0_2) * f4 + u128(f1_2) * f3 + u128(f2) * f2;
    fe_carry(h, t0, t1, t2, t3, t4);
}

// f^(2^n), n >= 1.
void fe_sqn(fe &h, const fe &f, int n) {
    fe_sq(h, f);
    for (int i = 1; i < n; i++) fe_sq(h, h);
}

// f * 121665, RFC 7748's a24 = (486662 - 2) / 4.
void fe_mul_a24(fe &h, const fe &f) {
    constexpr uint64_t A24 = 121665;
    fe_carry(h, u128(f.v[0]) * A24, u128(f.v[1]) * A24, u128(f.v[2]) * A24,
             u128(f.v[3]) * A24, u128(f.v[4]) * A24);
}

// 1/z = z^(p - 2) = z^(2^255 - 21) (Fermat; 0 for z = 0), by a fixed chain of 254 squarings
// and 11 multiplications: the exponent's bits are public, so the chain is the same for every
// z. Names give the exponent: z2_k_0 is z^(2^k - 1).
void fe_invert(fe &out, const fe &z) {
    fe z2, z9, z11, z2_5_0, z2_10_0, z2_20_0, z2_50_0, z2_100_0, t;
    fe_sq(z2, z);                 // z^2
    fe_sqn(t, z2, 2);             // z^8
    fe_mul(z9, t, z);             // z^9
    fe_mul(z11, z9, z2);          // z^11
    fe_sq(t, z11);                // z^22
    fe_mul(z2_5_0, t, z9);        // z^31 = z^(2^5 - 1)
    fe_sqn(t, z2_5_0, 5);
    fe_mul(z2_10_0, t, z2_5_0);
    fe_sqn(t, z2_10_0, 10);
    fe_mul(z2_20_0, t, z2_10_0);
    fe_sqn(t, z2_20_0, 20);
    fe_mul(t, t, z2_20_0);        // z^(2^40 - 1)
    fe_sqn(t, t, 10);
    fe_mul(z2_50_0, t, z2_10_0);
    fe_sqn(t, z2_50_0, 50);
    fe_mul(z2_100_0, t, z2_50_0);
    fe_sqn(t, z2_100_0, 100);
    fe_mul(t, t, z2_100_0);       // z^(2^200 - 1)
    fe_sqn(t, t, 50);
    fe_mul(t, t, z2_50_0);        // z^(2^250 - 1)
    fe_sqn(t, t, 5);              // z^(2^255 - 32)
    fe_mul(out, t, z11);          // z^(2^255 - 21)
    wipe(&z2, sizeof z2);
    wipe(&z9, sizeof z9);
    wipe(&z11, sizeof z11);
    wipe(&z2_5_0, sizeof z2_5_0);
    wipe(&z2_10_0, sizeof z2_10_0);
    wipe(&z2_20_0, sizeof z2_20_0);
    wipe(&z2_50_0, sizeof z2_50_0);
    wipe(&z2_100_0, sizeof z2_100_0);
    wipe(&t, sizeof t);
}

// Swaps f and g when bit is 1, leaves them when 0, with the same instructions either way.
// The empty asm hides from the compiler that mask is 0 or all ones, so that it cannot turn
// the masking back into a branch on the key bit.
void fe_cswap(fe &f, fe &g, uint64_t bit) {
    uint64_t mask = 0 - bit;
    __asm__("" : "+r"(mask));
    for (int i = 0; i < 5; i++) {
        uint64_t x = mask & (f.v[i] ^ g.v[i]);
        f.v[i] ^= x;
        g.v[i] ^= x;
    }
}

// RFC 7748 section 5's ladder over the clamped scalar's bits 254..0 (bit 255 is 0 and bit
// 254 is 1 after clamping; bits 0-2 are 0 but still stepped through, as the RFC does).
void ladder(uint8_t out[32], const uint8_t k_in[32], const fe &x1) {
    uint8_t k[32];
    std::memcpy(k, k_in, 32);
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;

    fe x2 = {{1, 0, 0, 0, 0}}, z2 = {{0, 0, 0, 0, 0}}, x3 = x1, z3 = {{1, 0, 0, 0, 0}};
    fe a, aa, b, bb, e, c, d, da, cb, t;
    uint64_t swap = 0;
    for (int pos = 254; pos >= 0; pos--) {
        uint64_t bit = (k[pos >> 3] >> (pos & 7)) & 1;
        swap ^= bit;
        fe_cswap(x2, x3, swap);
        fe_cswap(z2, z3, swap);
        swap = bit;

        fe_add(a, x2, z2);
        fe_sq(aa, a);
        fe_sub(b, x2, z2);
        fe_sq(bb, b);
        fe_sub(e, aa, bb);
        fe_add(c, x3, z3);
        fe_sub(d, x3, z3);
        fe_mul(da, d, a);
        fe_mul(cb, c, b);
        fe_add(t, da, cb);
        fe_sq(x3, t);
        fe_sub(t, da, cb);
        fe_sq(t, t);
        fe_mul(z3, x1, t);
        fe_mul(x2, aa, bb);
        fe_mul_a24(t, e);
        fe_add(t, aa, t);
        fe_mul(z2, e, t);
    }
    fe_cswap(x2, x3, swap);
    fe_cswap(z2, z3, swap);

    // A low-order u ends the ladder with z2 = 0, whose "inverse" is 0: the output is then
    // all zeros, as RFC 7748 specifies.
    fe zi;
    fe_invert(zi, z2);
    fe_mul(x2, x2, zi);
    fe_tobytes(out, x2);

    wipe(k, sizeof k);
    fe *secrets[] = {&x2, &z2, &x3, &z3, &a, &aa, &b, &bb, &e, &c, &d, &da, &cb, &t, &zi};
    for (fe *s : secrets) wipe(s, sizeof *s);
    wipe(&swap, sizeof swap);
}

}  // namespace

void x25519_scalarmult(uint8_t out[32], const uint8_t k[32], const uint8_t u[32]) {
    fe x1;
    fe_frombytes(x1, u);
    ladder(out, k, x1);
    wipe(&x1, sizeof x1);
}

void x25519_scalarmult_base(uint8_t out[32], const uint8_t k[32]) {
    const fe nine = {{9, 0, 0, 0, 0}};
    ladder(out, k, nine);
}

}  // namespace tfc

#endif  // TFC_X25519_NATIVE
