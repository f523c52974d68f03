// lib/crypto/chachapoly_simd: ChaCha20-Poly1305 on SSSE3/AVX2 against RFC 8439's AEAD test
// vector (section 2.8.2) and against mbedTLS's ChaChaPoly for every short length, lengths
// around the four- and eight-block steps and large records, in place and not, with tampering
// of ciphertext, tag and associated data. Skipped (with a message) on CPUs without SSSE3.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka 1.1.5 (Debian 12) declares its functions without extern "C".
extern "C" {
#include <cmocka.h>
}

#include <chrono>
#include <cstring>
#include <vector>

#include <mbedtls/chachapoly.h>

#include "crypto/backend.h"
#include "crypto/chachapoly_simd.h"

#include "support/crypto_check.hpp"

using tfcheck::bytes;
using tfcheck::hex;
using tfcheck::all_zero;
using tfcheck::prng;

namespace {

int skip_without_simd(void **) {
    if (tfc::chachapoly_simd_available()) return 0;
    print_message("chachapoly_simd: this CPU lacks SSSE3: skipped\n");
    return 0;
}

#define REQUIRE_SIMD()                            \
    do {                                          \
        if (!tfc::chachapoly_simd_available()) {  \
            skip();                               \
            return;                               \
        }                                         \
    } while (0)

const char *SUNSCREEN =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
    "future, sunscreen would be it.";

// RFC 8439 section 2.8.2, sealed and opened, in place and not.
void test_rfc8439_2_8_2(void **) {
    REQUIRE_SIMD();
    uint8_t key[32];
    for (int i = 0; i < 32; i++) key[i] = uint8_t(0x80 + i);
    bytes iv = hex("070000004041424344454647"), ad = hex("50515253c0c1c2c3c4c5c6c7");
    bytes pt(SUNSCREEN, SUNSCREEN + std::strlen(SUNSCREEN));
    bytes want = hex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
                     "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
                     "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
                     "3ff4def08e4b7a9de576d26586cec64b6116");
    bytes want_tag = hex("1ae10b594f09e26a7e902ecbd0600691");
    assert_int_equal(pt.size(), 114);

    tfc::chachapoly_simd_key k;
    tfc::chachapoly_simd_init(&k, key);
    bytes ct(pt.size()), tag(16);
    tfc::chachapoly_simd_seal(&k, iv.data(), ad.data(), ad.size(), pt.data(), pt.size(),
                              ct.data(), tag.data());
    assert_memory_equal(ct.data(), want.data(), want.size());
    assert_memory_equal(tag.data(), want_tag.data(), 16);

    bytes buf = pt;
    tfc::chachapoly_simd_seal(&k, iv.data(), ad.data(), ad.size(), buf.data(), buf.size(),
                              buf.data(), tag.data());
    assert_memory_equal(buf.data(), want.data(), want.size());
    assert_true(tfc::chachapoly_simd_open(&k, iv.data(), ad.data(), ad.size(), buf.data(),
                                          buf.size(), want_tag.data(), buf.data()));
    assert_memory_equal(buf.data(), pt.data(), pt.size());
    tfc::chachapoly_simd_clear(&k);
    assert_true(all_zero(reinterpret_cast<const uint8_t *>(&k), sizeof k));
}

// One message through both implementations: equal ciphertext and tag, in place or not; open
// restores it; a flipped bit in the ciphertext, the tag or the associated data fails and
// zeroes the output.
void cross_check(prng &r, size_t len, size_t ad_len, bool tamper) {
    uint8_t key[32], iv[12];
    r.fill(key, sizeof key);
    r.fill(iv, sizeof iv);
    bytes ad(ad_len + 1), pt(len + 1), want(len + 1), want_tag(16);
    r.fill(ad.data(), ad_len);
    r.fill(pt.data(), len + 1);

    mbedtls_chachapoly_context ref;
    mbedtls_chachapoly_init(&ref);
    assert_int_equal(mbedtls_chachapoly_setkey(&ref, key), 0);
    assert_int_equal(mbedtls_chachapoly_encrypt_and_tag(&ref, len, iv, ad.data(), ad_len,
                                                        pt.data(), want.data(),
                                                        want_tag.data()),
                     0);
    mbedtls_chachapoly_free(&ref);

    tfc::chachapoly_simd_key k;
    tfc::chachapoly_simd_init(&k, key);
    bytes ct(len + 1, 0xC5), tag(16);
    tfc::chachapoly_simd_seal(&k, iv, ad.data(), ad_len, pt.data(), len, ct.data(), tag.data());
    assert_memory_equal(ct.data(), want.data(), len);
    assert_memory_equal(tag.data(), want_tag.data(), 16);
    assert_int_equal(ct[len], 0xC5);  // nothing written past len

    bytes inplace = pt;
    tfc::chachapoly_simd_seal(&k, iv, ad.data(), ad_len, inplace.data(), len, inplace.data(),
                              tag.data());
    assert_memory_equal(inplace.data(), want.data(), len);
    assert_memory_equal(tag.data(), want_tag.data(), 16);
    assert_int_equal(inplace[len], pt[len]);

    bytes back(len + 1);
    back[len] = pt[len];  // a sentinel: open must not write past len
    assert_true(tfc::chachapoly_simd_open(&k, iv, ad.data(), ad_len, ct.data(), len, tag.data(),
                                          back.data()));
    assert_memory_equal(back.data(), pt.data(), len);
    assert_true(tfc::chachapoly_simd_open(&k, iv, ad.data(), ad_len, inplace.data(), len,
                                          tag.data(), inplace.data()));
    assert_memory_equal(inplace.data(), pt.data(), len);

    if (tamper) {
        uint64_t pick = r.next();
        if (len) {
            bytes bad = ct;
            bad[pick % len] ^= uint8_t(1u << (pick >> 32) % 8);
            std::memcpy(back.data(), pt.data(), len);
            assert_false(tfc::chachapoly_simd_open(&k, iv, ad.data(), ad_len, bad.data(), len,
                                                   tag.data(), back.data()));
            assert_true(all_zero(back.data(), len));
            // In place: the ciphertext is gone too.
            assert_false(tfc::chachapoly_simd_open(&k, iv, ad.data(), ad_len, bad.data(), len,
                                                   tag.data(), bad.data()));
            assert_true(all_zero(bad.data(), len));
        }
        bytes bad_tag = tag;
        bad_tag[pick % 16] ^= uint8_t(1u << (pick >> 40) % 8);
        std::memcpy(back.data(), pt.data(), len);
        assert_false(tfc::chachapoly_simd_open(&k, iv, ad.data(), ad_len, ct.data(), len,
                                               bad_tag.data(), back.data()));
        assert_true(all_zero(back.data(), len));
        if (ad_len) {
            bytes bad_ad = ad;
            bad_ad[pick % ad_len] ^= 0x01;
            std::memcpy(back.data(), pt.data(), len);
            assert_false(tfc::chachapoly_simd_open(&k, iv, bad_ad.data(), ad_len, ct.data(), len,
                                                   tag.data(), back.data()));
            assert_true(all_zero(back.data(), len));
        }
        // Nothing past len is touched.
        assert_int_equal(back[len], pt[len]);
    }
    tfc::chachapoly_simd_clear(&k);
}

const size_t AD_LENS[] = {0, 1, 9, 13, 64, 100};

void test_every_short_length(void **) {
    REQUIRE_SIMD();
    prng r{1};
    for (size_t len = 0; len <= 1100; len++)
        for (size_t ad : AD_LENS) cross_check(r, len, ad, true);
}

void test_long_lengths(void **) {
    REQUIRE_SIMD();
    prng r{2};
    for (size_t len : {size_t(4096), size_t(65519), size_t(65535), size_t(65536),
                       (size_t(1) << 20) + 5})
        for (size_t ad : AD_LENS) cross_check(r, len, ad, true);
    // Every tail shape after the 192-octet head and 4096-octet chunks of the AVX2 and SSSE3
    // steps.
    for (size_t len = 4096 + 192 - 20; len <= 4096 + 192 + 600; len += 7) cross_check(r, len, 13, false);
    // Associated data of every length near a few blocks.
    for (size_t ad = 120; ad <= 300; ad++) cross_check(r, 40, ad, ad % 16 == 0);
}

// The same on the SSSE3 code alone, which CPUs without AVX2 run (on those, this repeats the
// tests above).
void test_ssse3_only(void **) {
    REQUIRE_SIMD();
    tfc::chachapoly_simd_use_avx2(false);
    prng r{4};
    for (size_t len = 0; len <= 1100; len++) cross_check(r, len, len % 7 == 0 ? 13 : 0, len % 3 == 0);
    for (size_t len : {size_t(4096), size_t(65519), size_t(65536), (size_t(1) << 20) + 5})
        cross_check(r, len, 9, true);
    bool avx2 = tfc::chachapoly_simd_use_avx2(true);
    print_message("chachapoly_simd: AVX2 %s\n", avx2 ? "present (tests above ran on it)" : "absent");
}

// The mbedTLS backend's aead takes this path for ChaCha20-Poly1305; its output must still be
// mbedTLS's, and a bad tag must still be ERR_DECRYPT with the output wiped.
void test_backend_aead(void **) {
    prng r{3};
    uint8_t key[32], iv[12], ad[13];
    r.fill(key, sizeof key);
    r.fill(iv, sizeof iv);
    r.fill(ad, sizeof ad);
    tfc::aead a;
    assert_int_equal(a.set_key(tfc::cipher::chachapoly, key), 0);
    for (size_t len : {size_t(0), size_t(64), size_t(1000), size_t(16384), size_t(65537)}) {
        bytes pt(len), out(len + 16), want(len + 16);
        r.fill(pt.data(), len);
        mbedtls_chachapoly_context ref;
        mbedtls_chachapoly_init(&ref);
        assert_int_equal(mbedtls_chachapoly_setkey(&ref, key), 0);
        assert_int_equal(mbedtls_chachapoly_encrypt_and_tag(&ref, len, iv, ad, sizeof ad,
                                                            pt.data(), want.data(),
                                                            want.data() + len),
                         0);
        mbedtls_chachapoly_free(&ref);
        assert_int_equal(a.encrypt_iv(iv, ad, sizeof ad, pt.data(), len, out.data()), 0);
        assert_memory_equal(out.data(), want.data(), len + 16);
        bytes back(len + 1, 0xEE);
        assert_int_equal(a.decrypt_iv(iv, ad, sizeof ad, out.data(), len + 16, back.data()), 0);
        assert_memory_equal(back.data(), pt.data(), len);
        out[len] ^= 1;
        assert_int_equal(a.decrypt_iv(iv, ad, sizeof ad, out.data(), len + 16, back.data()),
                         tfc::ERR_DECRYPT);
        assert_true(all_zero(back.data(), len));
        assert_int_equal(back[len], 0xEE);
        // In place, through the Noise-nonce entry points too.
        bytes buf(len + 16);
        if (len) std::memcpy(buf.data(), pt.data(), len);
        assert_int_equal(a.encrypt(7, ad, sizeof ad, buf.data(), len, buf.data()), 0);
        assert_int_equal(a.decrypt(7, ad, sizeof ad, buf.data(), len + 16, buf.data()), 0);
        assert_memory_equal(buf.data(), pt.data(), len);
    }
    bool mbed = std::strcmp(tfc::backend_name(), "mbedtls") == 0;
    print_message("aead chachapoly: %s\n", !mbed ? tfc::backend_name()
                                          : tfc::chachapoly_simd_available() ? "SSSE3/AVX2"
                                                                             : "mbedTLS's");
}

// Throughput, printed (not asserted: the machine is shared), bounded to about a second:
// seal and open here, and mbedTLS's ChaChaPoly on the same records.
double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void test_throughput(void **) {
    REQUIRE_SIMD();
    uint8_t key[32] = {1}, iv[12] = {2}, ad[8] = {3}, tag[16];
    tfc::chachapoly_simd_key k;
    tfc::chachapoly_simd_init(&k, key);
    mbedtls_chachapoly_context ref;
    mbedtls_chachapoly_init(&ref);
    assert_int_equal(mbedtls_chachapoly_setkey(&ref, key), 0);
    for (size_t len : {size_t(64), size_t(1024), size_t(16384), size_t(65536)}) {
        bytes buf(len, 0x5A);
        size_t reps = (size_t(64) << 20) / len;
        if (reps > 200000) reps = 200000;
        auto t0 = std::chrono::steady_clock::now();
        for (size_t i = 0; i < reps; i++)
            tfc::chachapoly_simd_seal(&k, iv, ad, sizeof ad, buf.data(), len, buf.data(), tag);
        double seal = seconds_since(t0);
        tfc::chachapoly_simd_seal(&k, iv, ad, sizeof ad, buf.data(), len, buf.data(), tag);
        bytes ct = buf;
        t0 = std::chrono::steady_clock::now();
        for (size_t i = 0; i < reps; i++) {
            assert_true(tfc::chachapoly_simd_open(&k, iv, ad, sizeof ad, ct.data(), len, tag,
                                                  buf.data()));
        }
        double open = seconds_since(t0);
        size_t ref_reps = reps / 8 + 1;
        t0 = std::chrono::steady_clock::now();
        for (size_t i = 0; i < ref_reps; i++)
            mbedtls_chachapoly_encrypt_and_tag(&ref, len, iv, ad, sizeof ad, buf.data(),
                                               buf.data(), tag);
        double mbed = seconds_since(t0);
        auto gbs = [&](double s, size_t n) { return double(len) * double(n) / s / 1e9; };
        print_message("%6zu B: seal %.2f GB/s (%.0f ns), open %.2f GB/s, mbedTLS %.2f GB/s\n",
                      len, gbs(seal, reps), seal / double(reps) * 1e9, gbs(open, reps),
                      gbs(mbed, ref_reps));
    }
    mbedtls_chachapoly_free(&ref);
    tfc::chachapoly_simd_clear(&k);
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc8439_2_8_2),
        cmocka_unit_test(test_every_short_length),
        cmocka_unit_test(test_long_lengths),
        cmocka_unit_test(test_ssse3_only),
        cmocka_unit_test(test_backend_aead),
        cmocka_unit_test(test_throughput),
    };
    return cmocka_run_group_tests(tests, skip_without_simd, nullptr);
}
