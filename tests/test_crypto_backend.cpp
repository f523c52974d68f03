// Known-answer tests of lib/crypto/backend.h against the RFC and NIST values, run against
// whichever backend this build compiled in (mbedTLS by default, OpenSSL with
// TRUFLUX_CRYPTO_OPENSSL). The expected values were cross-checked with Python's
// `cryptography` package (OpenSSL), independent of both backends' code here.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

// cmocka 1.1.5 (Debian 12) declares its functions without extern "C".
extern "C" {
#include <cmocka.h>
}

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <truflux/error.h>

#include "crypto/backend.h"

using bytes = std::vector<uint8_t>;

namespace {

bytes hex(const char *s) {
    bytes out;
    auto nib = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (size_t i = 0; s[i];) {
        if (s[i] == ' ') {
            i++;
            continue;
        }
        int hi = nib(s[i]), lo = nib(s[i + 1]);
        assert_true(hi >= 0 && lo >= 0);
        out.push_back(uint8_t(hi << 4 | lo));
        i += 2;
    }
    return out;
}

void assert_bytes(const uint8_t *got, const bytes &want) {
    assert_memory_equal(got, want.data(), want.size());
}

bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

// ---- SHA-256, HMAC, HKDF -----------------------------------------------------------------

void test_sha256_abc(void **) {
    std::printf("# backend: %s\n", tfc::backend_name());
    uint8_t out[32];
    const uint8_t abc[] = {'a', 'b', 'c'};
    tfc::span one{abc, 3};
    assert_int_equal(tfc::hash_sha256(&one, 1, out), 0);
    assert_bytes(out, hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    // The parts are hashed as their concatenation, empty parts included.
    tfc::span parts[3] = {{abc, 1}, {nullptr, 0}, {abc + 1, 2}};
    std::memset(out, 0, sizeof out);
    assert_int_equal(tfc::hash_sha256(parts, 3, out), 0);
    assert_bytes(out, hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    assert_int_equal(tfc::hash_sha256(nullptr, 0, out), 0);
    assert_bytes(out, hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
}

// RFC 4231 test case 2.
void test_hmac_rfc4231_case2(void **) {
    const char *key = "Jefe";
    const char *data = "what do ya want for nothing?";
    uint8_t out[32];
    tfc::span one{reinterpret_cast<const uint8_t *>(data), std::strlen(data)};
    assert_int_equal(tfc::hmac_sha256(reinterpret_cast<const uint8_t *>(key), 4, &one, 1, out),
                     0);
    bytes want = hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_bytes(out, want);
    tfc::span split[2] = {{one.data, 10}, {one.data + 10, one.len - 10}};
    std::memset(out, 0, sizeof out);
    assert_int_equal(tfc::hmac_sha256(reinterpret_cast<const uint8_t *>(key), 4, split, 2, out),
                     0);
    assert_bytes(out, want);
}

// Noise's HKDF is RFC 5869 with salt = ck and empty info, its outputs the blocks T(1),
// T(2), T(3). RFC 5869 test case 3 has an empty salt, which HMAC pads to 32 zero bytes:
// the same as ck = 32 zeros. Its OKM (42 bytes) is T(1) || T(2)[0..10); T(3) was
// computed with Python's hmac module.
void test_hkdf_rfc5869_case3(void **) {
    uint8_t ck[32] = {}, o1[32], o2[32], o3[32];
    bytes ikm(22, 0x0b);
    assert_int_equal(tfc::hkdf(ck, ikm.data(), ikm.size(), o1, o2, o3), 0);
    bytes okm = hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                    "9d201395faa4b61a96c8");
    assert_memory_equal(o1, okm.data(), 32);
    assert_memory_equal(o2, okm.data() + 32, 10);
    assert_bytes(o3, hex("36def6dc129c29271a0eb7ab14bd2ca88259f8a3a92ac2ec0e3e4fa046a4b90b"));
    // Outputs may alias the chaining key, as MixKey uses it.
    uint8_t ck2[32] = {}, k[32];
    assert_int_equal(tfc::hkdf(ck2, ikm.data(), ikm.size(), ck2, k, nullptr), 0);
    assert_memory_equal(ck2, o1, 32);
    assert_memory_equal(k, o2, 32);
}

// ---- X25519 ------------------------------------------------------------------------------

const char *ALICE_PRIV = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const char *ALICE_PUB = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const char *BOB_PRIV = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
const char *BOB_PUB = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
const char *SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

// RFC 7748 section 6.1. The private keys are unclamped: the backend must clamp them.
void test_x25519_rfc7748_6_1(void **) {
    bytes a = hex(ALICE_PRIV), b = hex(BOB_PRIV);
    uint8_t pub[32], k[32];
    assert_int_equal(tfc::x25519_public(a.data(), pub), 0);
    assert_bytes(pub, hex(ALICE_PUB));
    assert_int_equal(tfc::x25519_public(b.data(), pub), 0);
    assert_bytes(pub, hex(BOB_PUB));
    assert_int_equal(tfc::x25519(a.data(), hex(BOB_PUB).data(), k), 0);
    assert_bytes(k, hex(SHARED));
    std::memset(k, 0, sizeof k);
    assert_int_equal(tfc::x25519(b.data(), hex(ALICE_PUB).data(), k), 0);
    assert_bytes(k, hex(SHARED));
}

// RFC 7748 section 5.2: arbitrary scalars and u-coordinates; the second u has its top bit
// set, which X25519 must ignore.
void test_x25519_rfc7748_5_2(void **) {
    struct {
        const char *k, *u, *out;
    } v[] = {
        {"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
         "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
         "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
        {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
         "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
         "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
    };
    for (auto &t : v) {
        uint8_t out[32];
        assert_int_equal(tfc::x25519(hex(t.k).data(), hex(t.u).data(), out), 0);
        assert_bytes(out, hex(t.out));
    }
}

// A low-order public key would make the shared secret all zeros (known to everyone).
void test_x25519_low_order_rejected(void **) {
    bytes a = hex(ALICE_PRIV);
    const char *bad[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    };
    for (const char *u : bad) {
        uint8_t out[32];
        std::memset(out, 0xAA, sizeof out);
        assert_int_equal(tfc::x25519(a.data(), hex(u).data(), out), TRUFLUX_EPROTO);
        assert_true(all_zero(out, sizeof out));
    }
}

void test_x25519_keypair(void **) {
    uint8_t a[32], ap[32], b[32], bp[32], p[32], k1[32], k2[32];
    assert_int_equal(tfc::x25519_keypair(a, ap), 0);
    assert_int_equal(tfc::x25519_keypair(b, bp), 0);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(tfc::x25519_public(a, p), 0);
    assert_memory_equal(p, ap, 32);
    assert_int_equal(tfc::x25519(a, bp, k1), 0);
    assert_int_equal(tfc::x25519(b, ap, k2), 0);
    assert_memory_equal(k1, k2, 32);
    assert_false(all_zero(k1, 32));
}

// ---- AEAD --------------------------------------------------------------------------------

const char *SUNSCREEN =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
    "future, sunscreen would be it.";

void check_aead(tfc::cipher c, const bytes &key, const bytes &iv, const bytes &ad,
                const bytes &pt, const bytes &ct_tag) {
    tfc::aead a;
    assert_false(a.has_key());
    assert_int_equal(a.set_key(c, key.data()), 0);
    assert_true(a.has_key());
    bytes out(pt.size() + tfc::TAG_LEN);
    assert_int_equal(a.encrypt_iv(iv.data(), ad.data(), ad.size(), pt.data(), pt.size(),
                                  out.data()),
                     0);
    assert_int_equal(out.size(), ct_tag.size());
    assert_memory_equal(out.data(), ct_tag.data(), ct_tag.size());

    bytes back(pt.size());
    assert_int_equal(a.decrypt_iv(iv.data(), ad.data(), ad.size(), ct_tag.data(), ct_tag.size(),
                                  back.data()),
                     0);
    assert_memory_equal(back.data(), pt.data(), pt.size());

    // In place, both ways.
    bytes buf = pt;
    buf.resize(pt.size() + tfc::TAG_LEN);
    assert_int_equal(a.encrypt_iv(iv.data(), ad.data(), ad.size(), buf.data(), pt.size(),
                                  buf.data()),
                     0);
    assert_memory_equal(buf.data(), ct_tag.data(), ct_tag.size());
    assert_int_equal(a.decrypt_iv(iv.data(), ad.data(), ad.size(), buf.data(), buf.size(),
                                  buf.data()),
                     0);
    assert_memory_equal(buf.data(), pt.data(), pt.size());

    // Any flipped bit (ciphertext, tag, associated data) fails, and nothing decrypted
    // survives in the output.
    for (size_t i : {size_t(0), pt.size() - 1, ct_tag.size() - 1}) {
        bytes bad = ct_tag;
        bad[i] ^= 0x01;
        std::fill(back.begin(), back.end(), 0x55);
        assert_int_equal(a.decrypt_iv(iv.data(), ad.data(), ad.size(), bad.data(), bad.size(),
                                      back.data()),
                         tfc::ERR_DECRYPT);
        assert_true(all_zero(back.data(), back.size()));
    }
    bytes bad_ad = ad;
    bad_ad[0] ^= 0x80;
    assert_int_equal(a.decrypt_iv(iv.data(), bad_ad.data(), bad_ad.size(), ct_tag.data(),
                                  ct_tag.size(), back.data()),
                     tfc::ERR_DECRYPT);
    assert_int_equal(a.decrypt_iv(iv.data(), ad.data(), ad.size(), ct_tag.data(),
                                  tfc::TAG_LEN - 1, back.data()),
                     TRUFLUX_EINVAL);

    a.clear();
    assert_false(a.has_key());
    assert_int_equal(a.encrypt_iv(iv.data(), nullptr, 0, pt.data(), pt.size(), out.data()),
                     TRUFLUX_EINVAL);
}

// RFC 8439 section 2.8.2.
void test_chachapoly_rfc8439_2_8_2(void **) {
    bytes key(32);
    for (int i = 0; i < 32; i++) key[i] = uint8_t(0x80 + i);
    bytes pt(SUNSCREEN, SUNSCREEN + std::strlen(SUNSCREEN));
    assert_int_equal(pt.size(), 114);
    check_aead(tfc::cipher::chachapoly, key, hex("070000004041424344454647"),
               hex("50515253c0c1c2c3c4c5c6c7"), pt,
               hex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
                   "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
                   "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
                   "3ff4def08e4b7a9de576d26586cec64b6116"
                   "1ae10b594f09e26a7e902ecbd0600691"));
}

// The GCM specification's (McGrew and Viega) Test Case 16: AES-256, 96-bit IV, 60-byte
// plaintext, 20-byte associated data.
void test_aesgcm_test_case_16(void **) {
    check_aead(tfc::cipher::aesgcm,
               hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"),
               hex("cafebabefacedbaddecaf888"), hex("feedfacedeadbeeffeedfacedeadbeefabaddad2"),
               hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                   "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"),
               hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                   "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
                   "76fc6ece0f4e1768cddf8853bb2d551b"));
}

// Noise's nonce layout (section 12): 4 zero bytes, then the counter in each cipher's own
// byte order; encrypt(n) must be encrypt_iv of exactly that nonce.
void test_noise_nonce_layout(void **) {
    uint8_t iv[12];
    tfc::noise_nonce(tfc::cipher::chachapoly, 0x0102030405060708ull, iv);
    assert_bytes(iv, hex("000000000807060504030201"));
    tfc::noise_nonce(tfc::cipher::aesgcm, 0x0102030405060708ull, iv);
    assert_bytes(iv, hex("000000000102030405060708"));

    bytes key(32, 0x42), pt(100, 0x17);
    for (tfc::cipher c : {tfc::cipher::chachapoly, tfc::cipher::aesgcm}) {
        tfc::aead a;
        assert_int_equal(a.set_key(c, key.data()), 0);
        assert_true(a.kind() == c);
        bytes x(pt.size() + 16), y(pt.size() + 16);
        uint64_t n = 0x00000001000000ffull;
        assert_int_equal(a.encrypt(n, nullptr, 0, pt.data(), pt.size(), x.data()), 0);
        tfc::noise_nonce(c, n, iv);
        assert_int_equal(a.encrypt_iv(iv, nullptr, 0, pt.data(), pt.size(), y.data()), 0);
        assert_memory_equal(x.data(), y.data(), x.size());
        assert_int_equal(a.encrypt(n + 1, nullptr, 0, pt.data(), pt.size(), y.data()), 0);
        assert_memory_not_equal(x.data(), y.data(), x.size());
        bytes back(pt.size());
        assert_int_equal(a.decrypt(n, nullptr, 0, x.data(), x.size(), back.data()), 0);
        assert_memory_equal(back.data(), pt.data(), pt.size());
        assert_int_equal(a.decrypt(n + 1, nullptr, 0, x.data(), x.size(), back.data()),
                         tfc::ERR_DECRYPT);
        // Empty plaintext: only the tag.
        assert_int_equal(a.encrypt(0, nullptr, 0, nullptr, 0, x.data()), 0);
        assert_int_equal(a.decrypt(0, nullptr, 0, x.data(), 16, nullptr), 0);
    }
}

// The moved-from aead has no key; the destination works.
void test_aead_move(void **) {
    bytes key(32, 7), pt(10, 1), out(26), back(10);
    tfc::aead a;
    assert_int_equal(a.set_key(tfc::cipher::aesgcm, key.data()), 0);
    tfc::aead b(std::move(a));
    assert_false(a.has_key());
    assert_true(b.has_key());
    assert_true(b.kind() == tfc::cipher::aesgcm);
    assert_int_equal(b.encrypt(3, nullptr, 0, pt.data(), 10, out.data()), 0);
    tfc::aead c;
    c = std::move(b);
    assert_false(b.has_key());
    assert_int_equal(c.decrypt(3, nullptr, 0, out.data(), 26, back.data()), 0);
    assert_memory_equal(back.data(), pt.data(), 10);
}

// ---- CSPRNG, wipe ------------------------------------------------------------------------

void test_random_bytes(void **) {
    uint8_t a[32], b[32];
    assert_int_equal(tfc::random_bytes(a, sizeof a), 0);
    assert_int_equal(tfc::random_bytes(b, sizeof b), 0);
    assert_memory_not_equal(a, b, sizeof a);
    // Longer than one DRBG request (mbedTLS's limit is 1024 bytes): all of it is filled.
    std::vector<uint8_t> big(5000, 0);
    assert_int_equal(tfc::random_bytes(big.data(), big.size()), 0);
    size_t zeros = 0;
    for (uint8_t x : big) zeros += x == 0;
    assert_true(zeros < 100);  // about 20 expected; an unfilled tail would give > 100
    assert_false(all_zero(big.data() + 4968, 32));
}

// Each thread has its own generator state (mbedTLS backend): two threads' outputs differ.
void test_random_bytes_threads(void **) {
    uint8_t a[32] = {}, b[32] = {};
    int ra = -100, rb = -100;
    std::thread t1([&] { ra = tfc::random_bytes(a, sizeof a); });
    std::thread t2([&] { rb = tfc::random_bytes(b, sizeof b); });
    t1.join();
    t2.join();
    assert_int_equal(ra, 0);
    assert_int_equal(rb, 0);
    assert_memory_not_equal(a, b, sizeof a);
}

// A forked child must not replay its parent's random stream (its ephemeral keys would
// repeat the parent's).
void test_random_bytes_after_fork(void **) {
    uint8_t warm[16];
    assert_int_equal(tfc::random_bytes(warm, sizeof warm), 0);  // seed before forking
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t c[32];
        int rc = tfc::random_bytes(c, sizeof c);
        ssize_t w = rc == 0 ? write(fds[1], c, sizeof c) : -1;
        _exit(w == ssize_t(sizeof c) ? 0 : 1);
    }
    close(fds[1]);
    uint8_t p[32], c[32];
    assert_int_equal(tfc::random_bytes(p, sizeof p), 0);
    size_t got = 0;
    while (got < sizeof c) {
        ssize_t r = read(fds[0], c + got, sizeof c - got);
        if (r <= 0) break;
        got += size_t(r);
    }
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(got, sizeof c);
    assert_memory_not_equal(p, c, sizeof p);
}

void test_wipe(void **) {
    uint8_t buf[40];
    std::memset(buf, 0xEE, sizeof buf);
    tfc::wipe(buf + 4, 32);
    assert_int_equal(buf[3], 0xEE);
    assert_true(all_zero(buf + 4, 32));
    assert_int_equal(buf[36], 0xEE);
    tfc::wipe(nullptr, 0);  // harmless
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_abc),
        cmocka_unit_test(test_hmac_rfc4231_case2),
        cmocka_unit_test(test_hkdf_rfc5869_case3),
        cmocka_unit_test(test_x25519_rfc7748_6_1),
        cmocka_unit_test(test_x25519_rfc7748_5_2),
        cmocka_unit_test(test_x25519_low_order_rejected),
        cmocka_unit_test(test_x25519_keypair),
        cmocka_unit_test(test_chachapoly_rfc8439_2_8_2),
        cmocka_unit_test(test_aesgcm_test_case_16),
        cmocka_unit_test(test_noise_nonce_layout),
        cmocka_unit_test(test_aead_move),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_random_bytes_threads),
        cmocka_unit_test(test_random_bytes_after_fork),
        cmocka_unit_test(test_wipe),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
