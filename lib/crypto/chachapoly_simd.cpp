// lib/crypto: ChaCha20-Poly1305 on SSSE3/AVX2 (see chachapoly_simd.h).
//
// ChaCha20 keeps one state word of several blocks per vector (block j in lane j), so the
// quarter rounds are plain lane-wise adds, XORs and rotates with no shuffling between rounds;
// the blocks are transposed back into byte order once, at the end. Poly1305 holds the
// accumulator in two 64-bit words plus a few bits, and r in two 64-bit words: clamping makes
// r1 a multiple of four, so the 2^130 = 5 wrap of r1's high products folds into the
// multiplier s1 = r1 + r1/4 and a block costs four 64x64 multiplies. With AVX2 the MAC of
// each 512 octets runs inside the ChaCha20 rounds of a step (scalar and vector units work
// side by side); without, each message is done chunk by chunk (cipher, then MAC, or the
// reverse to decrypt in place) while the chunk is still in L1. Compiled for SSSE3/AVX2
// function by function (target attribute), so the rest of the library keeps the baseline
// instruction set.
#include "crypto/chachapoly_simd.h"

#include "crypto/backend.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

#include <cstring>

#define TFC_SSSE3 __attribute__((target("ssse3")))
#define TFC_SSSE3_INLINE __attribute__((target("ssse3"), always_inline)) inline
#define TFC_AVX2 __attribute__((target("avx2")))
#define TFC_AVX2_INLINE __attribute__((target("avx2"), always_inline)) inline
// Loops over the state arrays must be unrolled, or GCC keeps the arrays in memory (a load and
// a store per operation).
#define TFC_UNROLL _Pragma("GCC unroll 16")

namespace tfc {

namespace {

// Octets between MAC and cipher passes where they are not interleaved (no AVX2, and the
// tail after the AVX2 steps): a multiple of 256 (one SSSE3 step) that sits in L1 with its
// output.
constexpr size_t CHUNK = 4096;

bool avx2_off = false;  // chachapoly_simd_use_avx2(false)

bool has_avx2() {
    static const bool cpu = [] {
        unsigned a, b, c, d;
        if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
        bool osxsave = c & (1u << 27), avx = c & (1u << 28);
        if (!osxsave || !avx) return false;
        // The OS must save the YMM registers on context switches (XCR0 bits 1 and 2).
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        if ((lo & 6u) != 6u) return false;
        if (__get_cpuid_max(0, nullptr) < 7) return false;
        __cpuid_count(7, 0, a, b, c, d);
        return (b & (1u << 5)) != 0;
    }();
    return cpu && !avx2_off;
}

uint32_t le32(const uint8_t *p) {
    uint32_t v;
    std::memcpy(&v, p, 4);  // x86 is little-endian
    return v;
}
uint64_t le64(const uint8_t *p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

// ---- Poly1305 ----------------------------------------------------------------------------

struct poly1305 {
    uint64_t r0, r1, s1;  // s1 = r1 * 5 / 4
    uint64_t h0, h1, h2;  // the accumulator, h2 a few bits
    uint64_t pad0, pad1;  // s, added at the end
};

void poly_init(poly1305 *p, const uint8_t key[32]) {
    p->r0 = le64(key) & 0x0ffffffc0fffffffull;
    p->r1 = le64(key + 8) & 0x0ffffffc0ffffffcull;
    p->s1 = p->r1 + (p->r1 >> 2);
    p->h0 = p->h1 = p->h2 = 0;
    p->pad0 = le64(key + 16);
    p->pad1 = le64(key + 24);
}

// The 128-bit product of a and b: the low word returned, the high one in hi. One mul
// instruction: GCC 12 passes both halves of an __int128 product through the stack, which
// put a store and a reload on the MAC's critical path.
__attribute__((always_inline)) inline uint64_t mul64(uint64_t a, uint64_t b, uint64_t &hi) {
    uint64_t lo;
    __asm__("mulq %3" : "=a"(lo), "=d"(hi) : "a"(a), "rm"(b) : "cc");
    return lo;
}

// One whole 16-octet block with its 2^128 bit (every block of the AEAD's MAC input is whole:
// the parts are zero-padded to 16): h = (h + m) * r, partly reduced.
__attribute__((always_inline)) inline void poly_block(uint64_t &h0, uint64_t &h1, uint64_t &h2,
                                                      uint64_t r0, uint64_t r1, uint64_t s1,
                                                      const uint8_t *m) {
    // 64-bit words with explicit carries: GCC spills the halves of 128-bit sums to memory.
    uint64_t m0 = le64(m), m1 = le64(m + 8);
    h0 += m0;
    uint64_t c = h0 < m0;
    h1 += c;
    uint64_t c2 = h1 < c;
    h1 += m1;
    c2 += h1 < m1;
    h2 += c2 + 1;
    // 2^130 = 5: h1*r1*2^128 = h1*s1 and h2*r1*2^192 = h2*s1*2^64. h2 is at most 6 here, so
    // h2*s1 and h2*r0 fit in 64 bits, and so do the high words' sums.
    uint64_t ah, bh;
    uint64_t d0 = mul64(h0, r0, ah), t = mul64(h1, s1, bh);
    d0 += t;
    uint64_t d0h = ah + bh + (d0 < t);
    uint64_t d1 = mul64(h0, r1, ah);
    t = mul64(h1, r0, bh);
    d1 += t;
    uint64_t d1h = ah + bh + (d1 < t);
    t = h2 * s1 + d0h;
    d1 += t;
    d1h += d1 < t;
    h0 = d0;
    h1 = d1;
    h2 = h2 * r0 + d1h;
    // Partial reduction: the bits from 2^130 up come back times 5.
    c = (h2 & ~uint64_t(3)) + (h2 >> 2);
    h2 &= 3;
    h0 += c;
    c = h0 < c;
    h1 += c;
    h2 += h1 < c;
}

void poly_blocks(poly1305 *p, const uint8_t *m, size_t blocks) {
    uint64_t h0 = p->h0, h1 = p->h1, h2 = p->h2;
    for (size_t i = 0; i < blocks; i++) poly_block(h0, h1, h2, p->r0, p->r1, p->s1, m + 16 * i);
    p->h0 = h0;
    p->h1 = h1;
    p->h2 = h2;
}

void poly_padded(poly1305 *p, const uint8_t *m, size_t len) {
    poly_blocks(p, m, len / 16);
    if (len % 16) {
        uint8_t b[16] = {0};
        std::memcpy(b, m + len / 16 * 16, len % 16);
        poly_blocks(p, b, 1);
    }
}

void poly_finish(poly1305 *p, uint8_t tag[16]) {
    typedef unsigned __int128 u128;
    uint64_t h0 = p->h0, h1 = p->h1, h2 = p->h2;
    // h < 2^130 + a little here; h - p is h + 5 - 2^130: take it when h + 5 reaches 2^130,
    // without a branch.
    u128 t = u128(h0) + 5;
    uint64_t g0 = uint64_t(t);
    t = u128(h1) + uint64_t(t >> 64);
    uint64_t g1 = uint64_t(t);
    uint64_t g2 = h2 + uint64_t(t >> 64);
    uint64_t take = 0 - (g2 >> 2);  // all ones or zero
    h0 = (h0 & ~take) | (g0 & take);
    h1 = (h1 & ~take) | (g1 & take);
    t = u128(h0) + p->pad0;
    h0 = uint64_t(t);
    h1 = h1 + p->pad1 + uint64_t(t >> 64);
    std::memcpy(tag, &h0, 8);
    std::memcpy(tag + 8, &h1, 8);
}

// ---- ChaCha20 ----------------------------------------------------------------------------

// The 16-word input block with the counter at 0.
void chacha_state(uint32_t st[16], const chachapoly_simd_key *k, const uint8_t iv[12]) {
    st[0] = 0x61707865;  // "expand 32-byte k"
    st[1] = 0x3320646e;
    st[2] = 0x79622d32;
    st[3] = 0x6b206574;
    for (int i = 0; i < 8; i++) st[4 + i] = k->k[i];
    st[12] = 0;
    st[13] = le32(iv);
    st[14] = le32(iv + 4);
    st[15] = le32(iv + 8);
}

#define TFC_QR(A, B, C, D, add, xor_, rot16, rot12, rot8, rot7) \
    do {                                                          \
        x[A] = add(x[A], x[B]);                                   \
        x[D] = rot16(xor_(x[D], x[A]));                           \
        x[C] = add(x[C], x[D]);                                   \
        x[B] = rot12(xor_(x[B], x[C]));                           \
        x[A] = add(x[A], x[B]);                                   \
        x[D] = rot8(xor_(x[D], x[A]));                            \
        x[C] = add(x[C], x[D]);                                   \
        x[B] = rot7(xor_(x[B], x[C]));                            \
    } while (0)

#define TFC_DOUBLE_ROUNDS(add, xor_, rot16, rot12, rot8, rot7)   \
    for (int r = 0; r < 10; r++) {                               \
        TFC_QR(0, 4, 8, 12, add, xor_, rot16, rot12, rot8, rot7); \
        TFC_QR(1, 5, 9, 13, add, xor_, rot16, rot12, rot8, rot7); \
        TFC_QR(2, 6, 10, 14, add, xor_, rot16, rot12, rot8, rot7); \
        TFC_QR(3, 7, 11, 15, add, xor_, rot16, rot12, rot8, rot7); \
        TFC_QR(0, 5, 10, 15, add, xor_, rot16, rot12, rot8, rot7); \
        TFC_QR(1, 6, 11, 12, add, xor_, rot16, rot12, rot8, rot7); \
        TFC_QR(2, 7, 8, 13, add, xor_, rot16, rot12, rot8, rot7); \
        TFC_QR(3, 4, 9, 14, add, xor_, rot16, rot12, rot8, rot7); \
    }

// -- SSSE3, four blocks --

TFC_SSSE3_INLINE __m128i add4(__m128i a, __m128i b) { return _mm_add_epi32(a, b); }
TFC_SSSE3_INLINE __m128i xor4(__m128i a, __m128i b) { return _mm_xor_si128(a, b); }
TFC_SSSE3_INLINE __m128i rot16_4(__m128i v) {
    return _mm_shuffle_epi8(v, _mm_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13));
}
TFC_SSSE3_INLINE __m128i rot8_4(__m128i v) {
    return _mm_shuffle_epi8(v, _mm_setr_epi8(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14));
}
TFC_SSSE3_INLINE __m128i rot12_4(__m128i v) {
    return _mm_or_si128(_mm_slli_epi32(v, 12), _mm_srli_epi32(v, 20));
}
TFC_SSSE3_INLINE __m128i rot7_4(__m128i v) {
    return _mm_or_si128(_mm_slli_epi32(v, 7), _mm_srli_epi32(v, 25));
}

// 256 octets of key stream from counter st[12] (which is advanced by 4), XORed into in when
// Xor, stored as they are otherwise.
template <bool Xor>
TFC_SSSE3_INLINE void blocks4(uint32_t st[16], const uint8_t *in, uint8_t *out) {
    __m128i x[16], s[16];
    TFC_UNROLL
    for (int i = 0; i < 16; i++) s[i] = _mm_set1_epi32(static_cast<int>(st[i]));
    s[12] = _mm_add_epi32(s[12], _mm_setr_epi32(0, 1, 2, 3));
    TFC_UNROLL
    for (int i = 0; i < 16; i++) x[i] = s[i];
    TFC_DOUBLE_ROUNDS(add4, xor4, rot16_4, rot12_4, rot8_4, rot7_4)
    TFC_UNROLL
    for (int i = 0; i < 16; i++) x[i] = _mm_add_epi32(x[i], s[i]);
    // Transpose each group of four words: u[b] = words 4g..4g+3 of block b.
    TFC_UNROLL
    for (int g = 0; g < 4; g++) {
        __m128i t0 = _mm_unpacklo_epi32(x[4 * g], x[4 * g + 1]);
        __m128i t1 = _mm_unpackhi_epi32(x[4 * g], x[4 * g + 1]);
        __m128i t2 = _mm_unpacklo_epi32(x[4 * g + 2], x[4 * g + 3]);
        __m128i t3 = _mm_unpackhi_epi32(x[4 * g + 2], x[4 * g + 3]);
        __m128i u[4] = {_mm_unpacklo_epi64(t0, t2), _mm_unpackhi_epi64(t0, t2),
                        _mm_unpacklo_epi64(t1, t3), _mm_unpackhi_epi64(t1, t3)};
        TFC_UNROLL
        for (int b = 0; b < 4; b++) {
            size_t off = size_t(64 * b + 16 * g);
            __m128i v = u[b];
            if (Xor) v = _mm_xor_si128(v, _mm_loadu_si128(reinterpret_cast<const __m128i *>(in + off)));
            _mm_storeu_si128(reinterpret_cast<__m128i *>(out + off), v);
        }
    }
    st[12] += 4;
}

TFC_SSSE3 void ssse3_xor(uint32_t st[16], const uint8_t *in, uint8_t *out, size_t steps) {
    for (size_t i = 0; i < steps; i++) blocks4<true>(st, in + 256 * i, out + 256 * i);
}

TFC_SSSE3 void ssse3_stream(uint32_t st[16], uint8_t out[256]) {
    blocks4<false>(st, nullptr, out);
}

// -- AVX2, eight blocks --

TFC_AVX2_INLINE __m256i add8(__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }
TFC_AVX2_INLINE __m256i xor8(__m256i a, __m256i b) { return _mm256_xor_si256(a, b); }
TFC_AVX2_INLINE __m256i rot16_8(__m256i v) {
    return _mm256_shuffle_epi8(v, _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15,
                                                   12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9,
                                                   14, 15, 12, 13));
}
TFC_AVX2_INLINE __m256i rot8_8(__m256i v) {
    return _mm256_shuffle_epi8(v, _mm256_setr_epi8(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12,
                                                   13, 14, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10,
                                                   15, 12, 13, 14));
}
TFC_AVX2_INLINE __m256i rot12_8(__m256i v) {
    return _mm256_or_si256(_mm256_slli_epi32(v, 12), _mm256_srli_epi32(v, 20));
}
TFC_AVX2_INLINE __m256i rot7_8(__m256i v) {
    return _mm256_or_si256(_mm256_slli_epi32(v, 7), _mm256_srli_epi32(v, 25));
}

// The Poly1305 accumulator and key in locals, so that they stay in registers.
struct poly_regs {
    uint64_t h0, h1, h2, r0, r1, s1;
};

// 512 octets: key stream from counter st[12] (advanced by 8) XORed into in. When Mac, the 32
// blocks at m go through Poly1305 meanwhile, four per double round: the MAC's multiplies and
// carries run on the scalar units while the rounds keep the vector units busy.
template <bool Mac>
TFC_AVX2_INLINE void blocks8(uint32_t st[16], const uint8_t *in, uint8_t *out, poly_regs &pr,
                             const uint8_t *m) {
    __m256i x[16], s[16];
    TFC_UNROLL
    for (int i = 0; i < 16; i++) s[i] = _mm256_set1_epi32(static_cast<int>(st[i]));
    s[12] = _mm256_add_epi32(s[12], _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    TFC_UNROLL
    for (int i = 0; i < 16; i++) x[i] = s[i];
    for (int r = 0; r < 10; r++) {
        if (Mac && r < 8)
            TFC_UNROLL
            for (int j = 0; j < 4; j++)
                poly_block(pr.h0, pr.h1, pr.h2, pr.r0, pr.r1, pr.s1, m + 64 * r + 16 * j);
        TFC_QR(0, 4, 8, 12, add8, xor8, rot16_8, rot12_8, rot8_8, rot7_8);
        TFC_QR(1, 5, 9, 13, add8, xor8, rot16_8, rot12_8, rot8_8, rot7_8);
        TFC_QR(2, 6, 10, 14, add8, xor8, rot16_8, rot12_8, rot8_8, rot7_8);
        TFC_QR(3, 7, 11, 15, add8, xor8, rot16_8, rot12_8, rot8_8, rot7_8);
        TFC_QR(0, 5, 10, 15, add8, xor8, rot16_8, rot12_8, rot8_8, rot7_8);
        TFC_QR(1, 6, 11, 12, add8, xor8, rot16_8, rot12_8, rot8_8, rot7_8);
        TFC_QR(2, 7, 8, 13, add8, xor8, rot16_8, rot12_8, rot8_8, rot7_8);
        TFC_QR(3, 4, 9, 14, add8, xor8, rot16_8, rot12_8, rot8_8, rot7_8);
    }
    TFC_UNROLL
    for (int i = 0; i < 16; i++) x[i] = _mm256_add_epi32(x[i], s[i]);
    // As in blocks4 within each 128-bit half: u[g][b] holds words 4g..4g+3 of block b in
    // its low half and of block b + 4 in its high half.
    __m256i u[4][4];
    TFC_UNROLL
    for (int g = 0; g < 4; g++) {
        __m256i t0 = _mm256_unpacklo_epi32(x[4 * g], x[4 * g + 1]);
        __m256i t1 = _mm256_unpackhi_epi32(x[4 * g], x[4 * g + 1]);
        __m256i t2 = _mm256_unpacklo_epi32(x[4 * g + 2], x[4 * g + 3]);
        __m256i t3 = _mm256_unpackhi_epi32(x[4 * g + 2], x[4 * g + 3]);
        u[g][0] = _mm256_unpacklo_epi64(t0, t2);
        u[g][1] = _mm256_unpackhi_epi64(t0, t2);
        u[g][2] = _mm256_unpacklo_epi64(t1, t3);
        u[g][3] = _mm256_unpackhi_epi64(t1, t3);
    }
    TFC_UNROLL
    for (int b = 0; b < 4; b++) {
        // 0x20: both low halves (block b), 0x31: both high halves (block b + 4).
        __m256i v[4] = {_mm256_permute2x128_si256(u[0][b], u[1][b], 0x20),
                        _mm256_permute2x128_si256(u[2][b], u[3][b], 0x20),
                        _mm256_permute2x128_si256(u[0][b], u[1][b], 0x31),
                        _mm256_permute2x128_si256(u[2][b], u[3][b], 0x31)};
        size_t offs[4] = {size_t(64 * b), size_t(64 * b + 32), size_t(64 * (b + 4)),
                          size_t(64 * (b + 4) + 32)};
        TFC_UNROLL
        for (int i = 0; i < 4; i++) {
            __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(in + offs[i]));
            _mm256_storeu_si256(reinterpret_cast<__m256i *>(out + offs[i]), _mm256_xor_si256(v[i], d));
        }
    }
    st[12] += 8;
}

// steps * 512 octets, ciphered and MACed: the ciphertext is the input when decrypting (MACed
// in the same step, before the step overwrites it in place), the output when encrypting
// (MACed one step later, and the last step's after the loop).
template <bool Encrypt>
TFC_AVX2 void avx2_xor_mac(uint32_t st[16], const uint8_t *in, uint8_t *out, size_t steps,
                           poly1305 *p) {
    poly_regs pr{p->h0, p->h1, p->h2, p->r0, p->r1, p->s1};
    for (size_t i = 0; i < steps; i++) {
        if (!Encrypt)
            blocks8<true>(st, in + 512 * i, out + 512 * i, pr, in + 512 * i);
        else if (i)
            blocks8<true>(st, in + 512 * i, out + 512 * i, pr, out + 512 * (i - 1));
        else
            blocks8<false>(st, in, out, pr, nullptr);
    }
    if (Encrypt && steps)
        for (size_t j = 0; j < 32; j++)
            poly_block(pr.h0, pr.h1, pr.h2, pr.r0, pr.r1, pr.s1, out + 512 * (steps - 1) + 16 * j);
    p->h0 = pr.h0;
    p->h1 = pr.h1;
    p->h2 = pr.h2;
}

// 256 octets of key stream from counter st[12] (advanced by 4) for short messages and tails,
// where latency counts: a vector per row of two blocks, so a double round is two quarter
// rounds and three word rotations deep rather than the four-block layout's eight quarter
// rounds; two such groups of two blocks run side by side.
TFC_AVX2_INLINE void qr_rows(__m256i &a, __m256i &b, __m256i &c, __m256i &d) {
    a = _mm256_add_epi32(a, b);
    d = rot16_8(_mm256_xor_si256(d, a));
    c = _mm256_add_epi32(c, d);
    b = rot12_8(_mm256_xor_si256(b, c));
    a = _mm256_add_epi32(a, b);
    d = rot8_8(_mm256_xor_si256(d, a));
    c = _mm256_add_epi32(c, d);
    b = rot7_8(_mm256_xor_si256(b, c));
}

TFC_AVX2 void avx2_stream(uint32_t st[16], uint8_t out[256]) {
    __m256i s[4];
    TFC_UNROLL
    for (int i = 0; i < 4; i++)
        s[i] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i *>(st + 4 * i)));
    __m256i d0 = _mm256_add_epi32(s[3], _mm256_setr_epi32(0, 0, 0, 0, 1, 0, 0, 0));
    __m256i d1 = _mm256_add_epi32(s[3], _mm256_setr_epi32(2, 0, 0, 0, 3, 0, 0, 0));
    __m256i a0 = s[0], b0 = s[1], c0 = s[2], a1 = s[0], b1 = s[1], c1 = s[2];
    const __m256i e0 = d0, e1 = d1;
    for (int r = 0; r < 10; r++) {
        qr_rows(a0, b0, c0, d0);
        qr_rows(a1, b1, c1, d1);
        // Diagonals into columns: rotate rows b, c, d by one, two and three words.
        b0 = _mm256_shuffle_epi32(b0, 0x39);
        c0 = _mm256_shuffle_epi32(c0, 0x4E);
        d0 = _mm256_shuffle_epi32(d0, 0x93);
        b1 = _mm256_shuffle_epi32(b1, 0x39);
        c1 = _mm256_shuffle_epi32(c1, 0x4E);
        d1 = _mm256_shuffle_epi32(d1, 0x93);
        qr_rows(a0, b0, c0, d0);
        qr_rows(a1, b1, c1, d1);
        b0 = _mm256_shuffle_epi32(b0, 0x93);
        c0 = _mm256_shuffle_epi32(c0, 0x4E);
        d0 = _mm256_shuffle_epi32(d0, 0x39);
        b1 = _mm256_shuffle_epi32(b1, 0x93);
        c1 = _mm256_shuffle_epi32(c1, 0x4E);
        d1 = _mm256_shuffle_epi32(d1, 0x39);
    }
    a0 = _mm256_add_epi32(a0, s[0]);
    b0 = _mm256_add_epi32(b0, s[1]);
    c0 = _mm256_add_epi32(c0, s[2]);
    d0 = _mm256_add_epi32(d0, e0);
    a1 = _mm256_add_epi32(a1, s[0]);
    b1 = _mm256_add_epi32(b1, s[1]);
    c1 = _mm256_add_epi32(c1, s[2]);
    d1 = _mm256_add_epi32(d1, e1);
    __m256i *o = reinterpret_cast<__m256i *>(out);
    // Low halves are the group's first block, high halves its second.
    _mm256_storeu_si256(o + 0, _mm256_permute2x128_si256(a0, b0, 0x20));
    _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(c0, d0, 0x20));
    _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(a0, b0, 0x31));
    _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(c0, d0, 0x31));
    _mm256_storeu_si256(o + 4, _mm256_permute2x128_si256(a1, b1, 0x20));
    _mm256_storeu_si256(o + 5, _mm256_permute2x128_si256(c1, d1, 0x20));
    _mm256_storeu_si256(o + 6, _mm256_permute2x128_si256(a1, b1, 0x31));
    _mm256_storeu_si256(o + 7, _mm256_permute2x128_si256(c1, d1, 0x31));
    st[12] += 4;
}

void stream4(uint32_t st[16], uint8_t out[256]) {
    if (has_avx2())
        avx2_stream(st, out);
    else
        ssse3_stream(st, out);
}

// XORs len octets of key stream from counter st[12] into in, advancing the counter.
void chacha_xor(uint32_t st[16], const uint8_t *in, uint8_t *out, size_t len) {
    if (len >= 256) {
        size_t steps = len / 256;
        ssse3_xor(st, in, out, steps);
        in += steps * 256;
        out += steps * 256;
        len -= steps * 256;
    }
    if (len) {
        // The tail: a whole four-block step costs little more than the one block it needs.
        uint8_t ks[256];
        stream4(st, ks);
        for (size_t i = 0; i < len; i++) out[i] = in[i] ^ ks[i];
        wipe(ks, sizeof ks);
    }
}

// ---- AEAD --------------------------------------------------------------------------------

// The shared part of seal and open: the one-time key from block 0, the first 192 octets from
// blocks 1-3 of the same step (a short message needs no other), the rest chunk by chunk. The
// MAC reads the ciphertext: after the cipher when encrypting, before it when decrypting (in
// place, the ciphertext is gone afterwards). Only the last piece can end in a partial block.
template <bool Encrypt>
void aead_run(const chachapoly_simd_key *k, const uint8_t iv[12], const uint8_t *ad,
              size_t ad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16]) {
    uint32_t st[16];
    chacha_state(st, k, iv);
    uint8_t ks[256];
    stream4(st, ks);
    poly1305 mac;
    poly_init(&mac, ks);
    if (ad_len) poly_padded(&mac, ad, ad_len);

    size_t first = len < 192 ? len : 192;
    if (!Encrypt) poly_padded(&mac, in, first);
    for (size_t i = 0; i < first; i++) out[i] = in[i] ^ ks[64 + i];
    if (Encrypt) poly_padded(&mac, out, first);
    wipe(ks, sizeof ks);

    size_t off = first;
    if (len - off >= 512 && has_avx2()) {
        size_t steps = (len - off) / 512;
        avx2_xor_mac<Encrypt>(st, in + off, out + off, steps, &mac);
        off += steps * 512;
    }
    for (; off < len; off += CHUNK) {
        size_t n = len - off < CHUNK ? len - off : CHUNK;
        if (!Encrypt) poly_padded(&mac, in + off, n);
        chacha_xor(st, in + off, out + off, n);
        if (Encrypt) poly_padded(&mac, out + off, n);
    }
    wipe(st, sizeof st);

    uint8_t lens[16];
    uint64_t al = ad_len, cl = len;
    std::memcpy(lens, &al, 8);
    std::memcpy(lens + 8, &cl, 8);
    poly_blocks(&mac, lens, 1);
    poly_finish(&mac, tag);
    wipe(&mac, sizeof mac);
}

}  // namespace

bool chachapoly_simd_available() {
    static const bool yes = [] {
        unsigned a, b, c, d;
        if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
        return (c & (1u << 9)) != 0;
    }();
    return yes;
}

void chachapoly_simd_init(chachapoly_simd_key *k, const uint8_t key[32]) {
    for (int i = 0; i < 8; i++) k->k[i] = le32(key + 4 * i);
}

void chachapoly_simd_clear(chachapoly_simd_key *k) { wipe(k, sizeof *k); }

bool chachapoly_simd_use_avx2(bool on) {
    avx2_off = !on;
    return has_avx2();
}

void chachapoly_simd_seal(const chachapoly_simd_key *k, const uint8_t iv[12], const uint8_t *ad,
                          size_t ad_len, const uint8_t *pt, size_t len, uint8_t *ct,
                          uint8_t tag[16]) {
    aead_run<true>(k, iv, ad, ad_len, pt, len, ct, tag);
}

bool chachapoly_simd_open(const chachapoly_simd_key *k, const uint8_t iv[12], const uint8_t *ad,
                          size_t ad_len, const uint8_t *ct, size_t len, const uint8_t tag[16],
                          uint8_t *pt) {
    uint8_t mine[16];
    aead_run<false>(k, iv, ad, ad_len, ct, len, pt, mine);
    // Constant time: every octet is compared whatever the others hold.
    unsigned diff = 0;
    for (int i = 0; i < 16; i++) diff |= unsigned(mine[i] ^ tag[i]);
    wipe(mine, sizeof mine);
    bool ok = diff == 0;
    if (!ok) wipe(pt, len);
    return ok;
}

}  // namespace tfc

#else

namespace tfc {
bool chachapoly_simd_available() { return false; }
bool chachapoly_simd_use_avx2(bool) { return false; }
void chachapoly_simd_init(chachapoly_simd_key *, const uint8_t *) {}
void chachapoly_simd_clear(chachapoly_simd_key *k) { wipe(k, sizeof *k); }
void chachapoly_simd_seal(const chachapoly_simd_key *, const uint8_t *, const uint8_t *, size_t,
                          const uint8_t *, size_t, uint8_t *, uint8_t *) {}
bool chachapoly_simd_open(const chachapoly_simd_key *, const uint8_t *, const uint8_t *, size_t,
                          const uint8_t *, size_t, const uint8_t *, uint8_t *) {
    return false;
}
}  // namespace tfc

#endif
