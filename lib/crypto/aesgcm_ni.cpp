// lib/crypto: AES-256-GCM on AES-NI and PCLMULQDQ (see aesgcm_ni.h).
//
// GHASH works on byte-reversed blocks, so that GCM's bit-reflected field elements become
// ordinary 128-bit integers for pclmulqdq; the 256-bit carry-less product of two reflected
// operands then comes out one bit short, hence the shift before each reduction. Eight blocks
// are multiplied by H^8..H^1 and summed before one reduction (Karatsuba: three multiplies per
// block), and the counter-mode AES rounds of eight blocks are interleaved with those
// multiplies so that both units stay busy. Compiled for those instructions function by
// function (target attribute), so the rest of the library keeps the baseline instruction set.
#include "crypto/aesgcm_ni.h"

#include "crypto/backend.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

#include <cstring>

#define TFC_NI __attribute__((target("aes,pclmul,sse4.1,ssse3")))
#define TFC_NI_INLINE __attribute__((target("aes,pclmul,sse4.1,ssse3"), always_inline)) inline

namespace tfc {

namespace {

constexpr size_t WIDE = 8;  // blocks per aggregated step

TFC_NI_INLINE __m128i load(const uint8_t *p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
}
TFC_NI_INLINE void store(uint8_t *p, __m128i v) {
    _mm_storeu_si128(reinterpret_cast<__m128i *>(p), v);
}
TFC_NI_INLINE __m128i bswap(__m128i v) {
    return _mm_shuffle_epi8(v, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

// ---- AES-256 -----------------------------------------------------------------------------

// One step of the key schedule: w is the previous key of the same parity, t the output of
// aeskeygenassist with the word that the step uses broadcast.
TFC_NI_INLINE __m128i expand(__m128i w, __m128i t) {
    w = _mm_xor_si128(w, _mm_slli_si128(w, 4));
    w = _mm_xor_si128(w, _mm_slli_si128(w, 4));
    w = _mm_xor_si128(w, _mm_slli_si128(w, 4));
    return _mm_xor_si128(w, t);
}

// aeskeygenassist takes its round constant as an immediate.
#define TFC_EXPAND_PAIR(i, rcon)                                                               \
    do {                                                                                       \
        rk[2 * (i)] = expand(rk[2 * (i)-2],                                                    \
                             _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[2 * (i)-1], rcon), \
                                               0xFF));                                          \
        if ((i) < 7)                                                                           \
            rk[2 * (i) + 1] = expand(                                                          \
                rk[2 * (i)-1],                                                                 \
                _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[2 * (i)], 0), 0xAA));           \
    } while (0)

TFC_NI void key_schedule(__m128i rk[15], const uint8_t key[32]) {
    rk[0] = load(key);
    rk[1] = load(key + 16);
    TFC_EXPAND_PAIR(1, 0x01);
    TFC_EXPAND_PAIR(2, 0x02);
    TFC_EXPAND_PAIR(3, 0x04);
    TFC_EXPAND_PAIR(4, 0x08);
    TFC_EXPAND_PAIR(5, 0x10);
    TFC_EXPAND_PAIR(6, 0x20);
    TFC_EXPAND_PAIR(7, 0x40);
}

#undef TFC_EXPAND_PAIR

TFC_NI_INLINE __m128i rkey(const aesgcm_ni_key *k, int r) {
    return _mm_load_si128(reinterpret_cast<const __m128i *>(k->rk) + r);
}

TFC_NI_INLINE __m128i aes_block(const aesgcm_ni_key *k, __m128i b) {
    b = _mm_xor_si128(b, rkey(k, 0));
    for (int r = 1; r < 14; r++) b = _mm_aesenc_si128(b, rkey(k, r));
    return _mm_aesenclast_si128(b, rkey(k, 14));
}

// ---- GHASH -------------------------------------------------------------------------------

TFC_NI_INLINE __m128i hpow(const aesgcm_ni_key *k, size_t i) {  // H^i, 1 <= i <= 8
    return _mm_load_si128(reinterpret_cast<const __m128i *>(k->h) + (i - 1));
}
// The XOR of H^i's two halves, in the low half.
TFC_NI_INLINE __m128i hkar(const aesgcm_ni_key *k, size_t i) {
    __m128i v = _mm_load_si128(reinterpret_cast<const __m128i *>(k->hk) + (i - 1) / 2);
    return (i - 1) & 1 ? _mm_unpackhi_epi64(v, v) : v;
}

// An unreduced sum of products: lo + hi * x^128 + mid * x^64, Karatsuba's middle term not yet
// corrected by lo and hi.
struct acc {
    __m128i lo, hi, mid;
};

TFC_NI_INLINE void mul_first(acc &a, __m128i x, __m128i h, __m128i hk) {
    a.lo = _mm_clmulepi64_si128(x, h, 0x00);
    a.hi = _mm_clmulepi64_si128(x, h, 0x11);
    a.mid = _mm_clmulepi64_si128(_mm_xor_si128(x, _mm_shuffle_epi32(x, 0x4E)), hk, 0x00);
}
TFC_NI_INLINE void mul_add(acc &a, __m128i x, __m128i h, __m128i hk) {
    a.lo = _mm_xor_si128(a.lo, _mm_clmulepi64_si128(x, h, 0x00));
    a.hi = _mm_xor_si128(a.hi, _mm_clmulepi64_si128(x, h, 0x11));
    a.mid = _mm_xor_si128(
        a.mid, _mm_clmulepi64_si128(_mm_xor_si128(x, _mm_shuffle_epi32(x, 0x4E)), hk, 0x00));
}

// The sum reduced modulo GCM's polynomial, in the reversed representation.
TFC_NI_INLINE __m128i reduce(const acc &a) {
    __m128i mid = _mm_xor_si128(a.mid, _mm_xor_si128(a.lo, a.hi));
    __m128i lo = _mm_xor_si128(a.lo, _mm_slli_si128(mid, 8));
    __m128i hi = _mm_xor_si128(a.hi, _mm_srli_si128(mid, 8));

    // Shift the 256-bit product hi:lo left by one bit.
    __m128i clo = _mm_srli_epi32(lo, 31), chi = _mm_srli_epi32(hi, 31);
    lo = _mm_or_si128(_mm_slli_epi32(lo, 1), _mm_slli_si128(clo, 4));
    hi = _mm_or_si128(_mm_or_si128(_mm_slli_epi32(hi, 1), _mm_slli_si128(chi, 4)),
                      _mm_srli_si128(clo, 12));

    // Fold the low half into the high one modulo x^128 + x^7 + x^2 + x + 1: reflected, its
    // terms are the right shifts by 1, 2 and 7 (left by 31, 30, 25 for the bits that cross
    // into the next 32-bit lane), in two phases.
    __m128i t = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi32(lo, 31), _mm_slli_epi32(lo, 30)),
                              _mm_slli_epi32(lo, 25));
    __m128i carry = _mm_srli_si128(t, 4);
    lo = _mm_xor_si128(lo, _mm_slli_si128(t, 12));
    __m128i u = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi32(lo, 1), _mm_srli_epi32(lo, 2)),
                              _mm_xor_si128(_mm_srli_epi32(lo, 7), carry));
    return _mm_xor_si128(hi, _mm_xor_si128(lo, u));
}

TFC_NI_INLINE __m128i gfmul(__m128i x, __m128i h) {
    acc a;
    mul_first(a, x, h, _mm_xor_si128(h, _mm_shuffle_epi32(h, 0x4E)));
    return reduce(a);
}

// y = (y + X_1) H^n + X_2 H^(n-1) + ... + X_n H for the n (1..8) blocks at p.
TFC_NI __m128i ghash_n(const aesgcm_ni_key *k, __m128i y, const uint8_t *p, size_t n) {
    acc a;
    mul_first(a, _mm_xor_si128(y, bswap(load(p))), hpow(k, n), hkar(k, n));
    for (size_t j = 1; j < n; j++)
        mul_add(a, bswap(load(p + 16 * j)), hpow(k, n - j), hkar(k, n - j));
    return reduce(a);
}

// The same over blocks already loaded and reversed.
TFC_NI_INLINE __m128i ghash_x(const aesgcm_ni_key *k, __m128i y, const __m128i *x, size_t n) {
    acc a;
    mul_first(a, _mm_xor_si128(y, x[0]), hpow(k, n), hkar(k, n));
    for (size_t j = 1; j < n; j++) mul_add(a, x[j], hpow(k, n - j), hkar(k, n - j));
    return reduce(a);
}

// Loads the blocks of len (< 128) octets at p, the last one zero-padded; returns how many.
TFC_NI_INLINE size_t load_tail(__m128i *x, const uint8_t *p, size_t len) {
    size_t n = len / 16;
    for (size_t j = 0; j < n; j++) x[j] = bswap(load(p + 16 * j));
    if (len % 16) {
        alignas(16) uint8_t b[16] = {};
        std::memcpy(b, p + 16 * n, len % 16);
        x[n++] = bswap(_mm_load_si128(reinterpret_cast<const __m128i *>(b)));
    }
    return n;
}

// GHASH of len octets, the last block zero-padded, and then of the block `last` when
// with_last (the lengths block, so that short messages take a single reduction).
TFC_NI __m128i ghash_padded(const aesgcm_ni_key *k, __m128i y, const uint8_t *p, size_t len,
                            bool with_last, __m128i last) {
    for (; len >= 16 * WIDE; p += 16 * WIDE, len -= 16 * WIDE) y = ghash_n(k, y, p, WIDE);
    __m128i x[WIDE + 1];
    size_t n = load_tail(x, p, len);
    if (with_last) x[n++] = last;
    if (n > WIDE) {
        y = ghash_x(k, y, x, 1);
        return ghash_x(k, y, x + 1, WIDE);
    }
    return n ? ghash_x(k, y, x, n) : y;
}

// ---- counter mode ------------------------------------------------------------------------

// Counter blocks are kept byte-reversed, so that inc32 is a 32-bit add on the low lane.
TFC_NI_INLINE __m128i ctr_block(__m128i rctr, int j) {
    return bswap(_mm_add_epi32(rctr, _mm_set_epi32(0, 0, 0, j)));
}

// Eight blocks of counter mode from rctr (out = in ^ keystream), and, when G, GHASH of the
// eight blocks at g folded into y, interleaved with the AES rounds. Loads of g come before
// the stores to out, so g may be in or out (decryption in place).
template <bool G>
TFC_NI_INLINE void ctr8(const aesgcm_ni_key *k, __m128i rctr, const uint8_t *in, uint8_t *out,
                        __m128i &y, const uint8_t *g) {
    __m128i b[WIDE];
    __m128i k0 = rkey(k, 0);
#pragma GCC unroll 8
    for (size_t j = 0; j < WIDE; j++) b[j] = _mm_xor_si128(ctr_block(rctr, int(j)), k0);
    acc a;
    if (G) mul_first(a, _mm_xor_si128(y, bswap(load(g))), hpow(k, 8), hkar(k, 8));
#pragma GCC unroll 13
    for (int r = 1; r < 14; r++) {
        __m128i kr = rkey(k, r);
#pragma GCC unroll 8
        for (size_t j = 0; j < WIDE; j++) b[j] = _mm_aesenc_si128(b[j], kr);
        if (G && r < 8) {
            size_t j = size_t(r);
            mul_add(a, bswap(load(g + 16 * j)), hpow(k, WIDE - j), hkar(k, WIDE - j));
        }
    }
    if (G) y = reduce(a);
    __m128i kl = rkey(k, 14);
#pragma GCC unroll 8
    for (size_t j = 0; j < WIDE; j++) {
        __m128i v = _mm_aesenclast_si128(b[j], kl);
        store(out + 16 * j, _mm_xor_si128(v, load(in + 16 * j)));
    }
}

// Counter mode over len octets, fewer than W blocks' worth. W is fixed so that the blocks
// stay in registers through the rounds (a variable count would keep them in memory, each
// round then waiting on a store); the unused ones cost throughput, not latency.
template <size_t W>
TFC_NI_INLINE void ctr_tail_w(const aesgcm_ni_key *k, __m128i rctr, const uint8_t *in,
                              size_t len, uint8_t *out) {
    __m128i b[W];
    __m128i k0 = rkey(k, 0);
#pragma GCC unroll 8
    for (size_t j = 0; j < W; j++) b[j] = _mm_xor_si128(ctr_block(rctr, int(j)), k0);
#pragma GCC unroll 13
    for (int r = 1; r < 14; r++) {
        __m128i kr = rkey(k, r);
#pragma GCC unroll 8
        for (size_t j = 0; j < W; j++) b[j] = _mm_aesenc_si128(b[j], kr);
    }
    __m128i kl = rkey(k, 14);
#pragma GCC unroll 8
    for (size_t j = 0; j < W; j++) b[j] = _mm_aesenclast_si128(b[j], kl);
    size_t full = len / 16;
    for (size_t j = 0; j < full; j++) store(out + 16 * j, _mm_xor_si128(b[j], load(in + 16 * j)));
    if (len % 16 == 0) return;
    alignas(16) uint8_t buf[16];
    std::memcpy(buf, in + 16 * full, len % 16);
    __m128i v = b[0];
#pragma GCC unroll 8
    for (size_t j = 1; j < W; j++)  // b[full] without indexing the registers by a variable
        if (j == full) v = b[j];
    store(buf, _mm_xor_si128(v, _mm_load_si128(reinterpret_cast<const __m128i *>(buf))));
    std::memcpy(out + 16 * full, buf, len % 16);
    wipe(buf, sizeof buf);  // the rest of that block's key stream
}

TFC_NI void ctr_tail(const aesgcm_ni_key *k, __m128i rctr, const uint8_t *in, size_t len,
                     uint8_t *out) {
    if (len <= 16 * 2)
        ctr_tail_w<2>(k, rctr, in, len, out);
    else if (len <= 16 * 4)
        ctr_tail_w<4>(k, rctr, in, len, out);
    else
        ctr_tail_w<WIDE>(k, rctr, in, len, out);
}

// Counter mode from J0 + 1 over len octets, GHASH of the ciphertext (out when encrypting,
// in when decrypting) and of the lengths block lens into y.
template <bool Encrypt>
TFC_NI __m128i gcm_crypt(const aesgcm_ni_key *k, __m128i rctr, __m128i y, const uint8_t *in,
                         size_t len, uint8_t *out, __m128i lens) {
    const __m128i eight = _mm_set_epi32(0, 0, 0, int(WIDE));
    size_t i = 0;
    if (Encrypt) {
        // GHASH lags one step behind, over the ciphertext of the previous eight blocks.
        if (len >= 16 * WIDE) {
            ctr8<false>(k, rctr, in, out, y, nullptr);
            rctr = _mm_add_epi32(rctr, eight);
            for (i = 16 * WIDE; len - i >= 16 * WIDE; i += 16 * WIDE) {
                ctr8<true>(k, rctr, in + i, out + i, y, out + i - 16 * WIDE);
                rctr = _mm_add_epi32(rctr, eight);
            }
            y = ghash_n(k, y, out + i - 16 * WIDE, WIDE);
        }
        if (i < len) ctr_tail(k, rctr, in + i, len - i, out + i);
        return ghash_padded(k, y, out + i, len - i, true, lens);
    }
    for (; len - i >= 16 * WIDE; i += 16 * WIDE) {
        ctr8<true>(k, rctr, in + i, out + i, y, in + i);
        rctr = _mm_add_epi32(rctr, eight);
    }
    y = ghash_padded(k, y, in + i, len - i, true, lens);  // before in place overwrites it
    if (i < len) ctr_tail(k, rctr, in + i, len - i, out + i);
    return y;
}

// J0's counter block, byte-reversed.
TFC_NI_INLINE __m128i j0_reversed(const uint8_t iv[12]) {
    alignas(16) uint8_t j0[16];
    std::memcpy(j0, iv, 12);
    j0[12] = j0[13] = j0[14] = 0;
    j0[15] = 1;
    return bswap(_mm_load_si128(reinterpret_cast<const __m128i *>(j0)));
}

// The tag over the associated data and the message (crypted by gcm_crypt).
template <bool Encrypt>
TFC_NI_INLINE __m128i gcm(const aesgcm_ni_key *k, const uint8_t iv[12], const uint8_t *ad,
                          size_t ad_len, const uint8_t *in, size_t len, uint8_t *out) {
    __m128i rj0 = j0_reversed(iv);
    __m128i ekj0 = aes_block(k, bswap(rj0));  // first: its latency overlaps GHASH's
    __m128i y = _mm_setzero_si128();
    if (ad_len) y = ghash_padded(k, y, ad, ad_len, false, y);
    // The lengths block is len(A) || len(C) in bits, big-endian; reversed, that is len(C)
    // in the low quadword and len(A) in the high one.
    __m128i lens = _mm_set_epi64x(static_cast<long long>(uint64_t(ad_len) * 8),
                                  static_cast<long long>(uint64_t(len) * 8));
    y = gcm_crypt<Encrypt>(k, _mm_add_epi32(rj0, _mm_set_epi32(0, 0, 0, 1)), y, in, len, out,
                           lens);
    return _mm_xor_si128(bswap(y), ekj0);
}

}  // namespace

// CPUID itself, as sha256_shani does: no dependence on the compiler's feature names.
bool aesgcm_ni_available() {
    static const bool yes = [] {
        unsigned a, b, c, d;
        if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
        bool pclmul = c & (1u << 1), ssse3 = c & (1u << 9), sse41 = c & (1u << 19),
             aes = c & (1u << 25);
        return pclmul && ssse3 && sse41 && aes;
    }();
    return yes;
}

TFC_NI void aesgcm_ni_init(aesgcm_ni_key *k, const uint8_t key[32]) {
    __m128i rk[15];
    key_schedule(rk, key);
    for (int r = 0; r < 15; r++) _mm_store_si128(reinterpret_cast<__m128i *>(k->rk) + r, rk[r]);

    __m128i h = bswap(aes_block(k, _mm_setzero_si128()));
    __m128i p = h, kar[8];
    for (int i = 0; i < 8; i++) {
        if (i) p = gfmul(p, h);
        _mm_store_si128(reinterpret_cast<__m128i *>(k->h) + i, p);
        kar[i] = _mm_xor_si128(p, _mm_shuffle_epi32(p, 0x4E));
    }
    for (int i = 0; i < 4; i++)
        _mm_store_si128(reinterpret_cast<__m128i *>(k->hk) + i,
                        _mm_unpacklo_epi64(kar[2 * i], kar[2 * i + 1]));
    wipe(rk, sizeof rk);
    wipe(kar, sizeof kar);
}

void aesgcm_ni_clear(aesgcm_ni_key *k) { wipe(k, sizeof *k); }

TFC_NI void aesgcm_ni_seal(const aesgcm_ni_key *k, const uint8_t iv[12], const uint8_t *ad,
                           size_t ad_len, const uint8_t *pt, size_t len, uint8_t *ct,
                           uint8_t tag[16]) {
    store(tag, gcm<true>(k, iv, ad, ad_len, pt, len, ct));
}

TFC_NI bool aesgcm_ni_open(const aesgcm_ni_key *k, const uint8_t iv[12], const uint8_t *ad,
                           size_t ad_len, const uint8_t *ct, size_t len, const uint8_t tag[16],
                           uint8_t *pt) {
    __m128i diff = _mm_xor_si128(gcm<false>(k, iv, ad, ad_len, ct, len, pt), load(tag));
    // Constant time: one test of all sixteen octets of the difference.
    bool ok = _mm_testz_si128(diff, diff) != 0;
    if (!ok) wipe(pt, len);
    return ok;
}

}  // namespace tfc

#else

namespace tfc {
bool aesgcm_ni_available() { return false; }
void aesgcm_ni_init(aesgcm_ni_key *, const uint8_t *) {}
void aesgcm_ni_clear(aesgcm_ni_key *k) { wipe(k, sizeof *k); }
void aesgcm_ni_seal(const aesgcm_ni_key *, const uint8_t *, const uint8_t *, size_t,
                    const uint8_t *, size_t, uint8_t *, uint8_t *) {}
bool aesgcm_ni_open(const aesgcm_ni_key *, const uint8_t *, const uint8_t *, size_t,
                    const uint8_t *, size_t, const uint8_t *, uint8_t *) {
    return false;
}
}  // namespace tfc

#endif
