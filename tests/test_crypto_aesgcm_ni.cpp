// lib/crypto/aesgcm_ni: AES-256-GCM on AES-NI/PCLMULQDQ against the GCM specification's
// (McGrew and Viega) AES-256 test cases with a 96-bit IV, and against mbedTLS's GCM for every
// short length, lengths around the eight-block steps and large records, in place and not,
// with tampering of ciphertext, tag and associated data. Skipped (with a message) on CPUs
// without the instructions.
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

#include <mbedtls/gcm.h>

#include "crypto/aesgcm_ni.h"
#include "crypto/backend.h"

#include "support/crypto_check.hpp"

using tfcheck::bytes;
using tfcheck::hex;
using tfcheck::all_zero;
using tfcheck::prng;

namespace {

int skip_without_ni(void **) {
    if (tfc::aesgcm_ni_available()) return 0;
    print_message("aesgcm_ni: this CPU lacks AES-NI/PCLMULQDQ/SSE4.1/SSSE3: skipped\n");
    return 0;
}

#define REQUIRE_NI()                           \
    do {                                       \
        if (!tfc::aesgcm_ni_available()) {     \
            skip();                            \
            return;                            \
        }                                      \
    } while (0)

void check_vector(const char *key, const char *iv, const char *ad, const char *pt,
                  const char *ct_tag) {
    bytes k = hex(key), n = hex(iv), a = hex(ad), p = hex(pt), want = hex(ct_tag);
    assert_int_equal(want.size(), p.size() + 16);
    tfc::aesgcm_ni_key ks;
    tfc::aesgcm_ni_init(&ks, k.data());
    bytes out(p.size() + 1), tag(16);
    tfc::aesgcm_ni_seal(&ks, n.data(), a.data(), a.size(), p.data(), p.size(), out.data(),
                        tag.data());
    assert_memory_equal(out.data(), want.data(), p.size());
    assert_memory_equal(tag.data(), want.data() + p.size(), 16);
    bytes back(p.size() + 1);
    assert_true(tfc::aesgcm_ni_open(&ks, n.data(), a.data(), a.size(), want.data(), p.size(),
                                    want.data() + p.size(), back.data()));
    assert_memory_equal(back.data(), p.data(), p.size());
    tfc::aesgcm_ni_clear(&ks);
    assert_true(all_zero(reinterpret_cast<const uint8_t *>(&ks), sizeof ks));
}

const char *const KEY_15 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
const char *const IV_15 = "cafebabefacedbaddecaf888";
const char *const PT_15 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";

// Test cases 13-16 (17 and 18 have IVs other than 96 bits, which Noise never uses).
void test_gcm_spec_cases(void **) {
    REQUIRE_NI();
    const char *zero_key = "0000000000000000000000000000000000000000000000000000000000000000";
    check_vector(zero_key, "000000000000000000000000", "", "", "530f8afbc74536b9a963b4f1c4cb738b");
    check_vector(zero_key, "000000000000000000000000", "", "00000000000000000000000000000000",
                 "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
    check_vector(KEY_15, IV_15, "", PT_15,
                 "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                 "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"
                 "b094dac5d93471bdec1a502270e3cc6c");
    // Case 16: case 15's first 60 octets, with associated data.
    check_vector(KEY_15, IV_15, "feedfacedeadbeeffeedfacedeadbeefabaddad2",
                 "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                 "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
                 "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                 "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
                 "76fc6ece0f4e1768cddf8853bb2d551b");
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
    r.fill(pt.data(), len);

    mbedtls_gcm_context ref;
    mbedtls_gcm_init(&ref);
    assert_int_equal(mbedtls_gcm_setkey(&ref, MBEDTLS_CIPHER_ID_AES, key, 256), 0);
    assert_int_equal(mbedtls_gcm_crypt_and_tag(&ref, MBEDTLS_GCM_ENCRYPT, len, iv, 12, ad.data(),
                                               ad_len, pt.data(), want.data(), 16,
                                               want_tag.data()),
                     0);
    mbedtls_gcm_free(&ref);

    tfc::aesgcm_ni_key k;
    tfc::aesgcm_ni_init(&k, key);
    bytes ct(len + 1), tag(16);
    tfc::aesgcm_ni_seal(&k, iv, ad.data(), ad_len, pt.data(), len, ct.data(), tag.data());
    assert_memory_equal(ct.data(), want.data(), len);
    assert_memory_equal(tag.data(), want_tag.data(), 16);

    bytes inplace = pt;
    tfc::aesgcm_ni_seal(&k, iv, ad.data(), ad_len, inplace.data(), len, inplace.data(),
                        tag.data());
    assert_memory_equal(inplace.data(), want.data(), len);
    assert_memory_equal(tag.data(), want_tag.data(), 16);

    bytes back(len + 1);
    assert_true(tfc::aesgcm_ni_open(&k, iv, ad.data(), ad_len, ct.data(), len, tag.data(),
                                    back.data()));
    assert_memory_equal(back.data(), pt.data(), len);
    assert_true(
        tfc::aesgcm_ni_open(&k, iv, ad.data(), ad_len, inplace.data(), len, tag.data(), inplace.data()));
    assert_memory_equal(inplace.data(), pt.data(), len);

    if (tamper) {
        uint64_t pick = r.next();
        if (len) {
            bytes bad = ct;
            bad[pick % len] ^= uint8_t(1u << (pick >> 32) % 8);
            std::memcpy(back.data(), pt.data(), len);
            assert_false(tfc::aesgcm_ni_open(&k, iv, ad.data(), ad_len, bad.data(), len,
                                             tag.data(), back.data()));
            assert_true(all_zero(back.data(), len));
            // In place: the ciphertext is gone too.
            assert_false(tfc::aesgcm_ni_open(&k, iv, ad.data(), ad_len, bad.data(), len,
                                             tag.data(), bad.data()));
            assert_true(all_zero(bad.data(), len));
        }
        bytes bad_tag = tag;
        bad_tag[pick % 16] ^= 0x80;
        std::memcpy(back.data(), pt.data(), len);
        assert_false(tfc::aesgcm_ni_open(&k, iv, ad.data(), ad_len, ct.data(), len,
                                         bad_tag.data(), back.data()));
        assert_true(all_zero(back.data(), len));
        if (ad_len) {
            bytes bad_ad = ad;
            bad_ad[pick % ad_len] ^= 0x01;
            std::memcpy(back.data(), pt.data(), len);
            assert_false(tfc::aesgcm_ni_open(&k, iv, bad_ad.data(), ad_len, ct.data(), len,
                                             tag.data(), back.data()));
            assert_true(all_zero(back.data(), len));
        }
        // Nothing past len is touched.
        assert_int_equal(back[len], pt[len]);
    }
    tfc::aesgcm_ni_clear(&k);
}

const size_t AD_LENS[] = {0, 1, 9, 13, 64, 100};

void test_every_short_length(void **) {
    REQUIRE_NI();
    prng r{1};
    for (size_t len = 0; len <= 1100; len++)
        for (size_t ad : AD_LENS) cross_check(r, len, ad, true);
}

void test_long_lengths(void **) {
    REQUIRE_NI();
    prng r{2};
    for (size_t len : {size_t(4096), size_t(65519), size_t(65535), size_t(65536),
                       (size_t(1) << 20) + 5})
        for (size_t ad : AD_LENS) cross_check(r, len, ad, true);
    // Associated data longer than eight blocks, and of every length near one.
    for (size_t ad = 120; ad <= 300; ad++) cross_check(r, 40, ad, ad % 16 == 0);
}

// The mbedTLS backend's aead takes this path for AES-GCM; its output must still be
// mbedTLS's, and a bad tag must still be ERR_DECRYPT with the output wiped.
void test_backend_aead(void **) {
    prng r{3};
    uint8_t key[32], iv[12], ad[13];
    r.fill(key, sizeof key);
    r.fill(iv, sizeof iv);
    r.fill(ad, sizeof ad);
    tfc::aead a;
    assert_int_equal(a.set_key(tfc::cipher::aesgcm, key), 0);
    for (size_t len : {size_t(0), size_t(64), size_t(1000), size_t(16384)}) {
        bytes pt(len), out(len + 16), want(len + 16);
        r.fill(pt.data(), len);
        mbedtls_gcm_context ref;
        mbedtls_gcm_init(&ref);
        assert_int_equal(mbedtls_gcm_setkey(&ref, MBEDTLS_CIPHER_ID_AES, key, 256), 0);
        assert_int_equal(mbedtls_gcm_crypt_and_tag(&ref, MBEDTLS_GCM_ENCRYPT, len, iv, 12, ad,
                                                   sizeof ad, pt.data(), want.data(), 16,
                                                   want.data() + len),
                         0);
        mbedtls_gcm_free(&ref);
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
    }
    bool mbed = std::strcmp(tfc::backend_name(), "mbedtls") == 0;
    print_message("aead aesgcm: %s\n", !mbed                           ? tfc::backend_name()
                                       : tfc::aesgcm_ni_available() ? "AES-NI/PCLMULQDQ"
                                                                    : "mbedTLS's GCM");
}

// Throughput, printed (not asserted: the machine is shared), bounded to about a second:
// seal and open here, and mbedTLS's GCM on the same records.
double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void test_throughput(void **) {
    REQUIRE_NI();
    uint8_t key[32] = {1}, iv[12] = {2}, ad[8] = {3}, tag[16];
    tfc::aesgcm_ni_key k;
    tfc::aesgcm_ni_init(&k, key);
    mbedtls_gcm_context ref;
    mbedtls_gcm_init(&ref);
    assert_int_equal(mbedtls_gcm_setkey(&ref, MBEDTLS_CIPHER_ID_AES, key, 256), 0);
    for (size_t len : {size_t(64), size_t(1024), size_t(16384), size_t(65536)}) {
        bytes buf(len, 0x5A);
        size_t reps = (size_t(64) << 20) / len;
        if (reps > 200000) reps = 200000;
        auto t0 = std::chrono::steady_clock::now();
        for (size_t i = 0; i < reps; i++)
            tfc::aesgcm_ni_seal(&k, iv, ad, sizeof ad, buf.data(), len, buf.data(), tag);
        double seal = seconds_since(t0);
        tfc::aesgcm_ni_seal(&k, iv, ad, sizeof ad, buf.data(), len, buf.data(), tag);
        bytes ct = buf;
        t0 = std::chrono::steady_clock::now();
        for (size_t i = 0; i < reps; i++) {
            assert_true(tfc::aesgcm_ni_open(&k, iv, ad, sizeof ad, ct.data(), len, tag,
                                            buf.data()));
        }
        double open = seconds_since(t0);
        size_t ref_reps = reps / 16 + 1;
        t0 = std::chrono::steady_clock::now();
        for (size_t i = 0; i < ref_reps; i++)
            mbedtls_gcm_crypt_and_tag(&ref, MBEDTLS_GCM_ENCRYPT, len, iv, 12, ad, sizeof ad,
                                      buf.data(), buf.data(), 16, tag);
        double mbed = seconds_since(t0);
        auto gbs = [&](double s, size_t n) { return double(len) * double(n) / s / 1e9; };
        print_message("%6zu B: seal %.2f GB/s (%.0f ns), open %.2f GB/s, mbedTLS %.2f GB/s\n",
                      len, gbs(seal, reps), seal / double(reps) * 1e9, gbs(open, reps),
                      gbs(mbed, ref_reps));
    }
    mbedtls_gcm_free(&ref);
    tfc::aesgcm_ni_clear(&k);
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gcm_spec_cases),
        cmocka_unit_test(test_every_short_length),
        cmocka_unit_test(test_long_lengths),
        cmocka_unit_test(test_backend_aead),
        cmocka_unit_test(test_throughput),
    };
    return cmocka_run_group_tests(tests, skip_without_ni, nullptr);
}
