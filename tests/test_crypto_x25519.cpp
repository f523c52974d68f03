// lib/crypto/x25519: the library's own X25519 against RFC 7748's vectors (section 5.2, its
// iterated test to 1000 steps, section 6.1), the input decoding rules (u's top bit ignored, a
// u at or above p reduced), the low-order inputs, and 2000 random (private, public) pairs
// against mbedTLS's ECP code called here directly, so the comparison holds whichever code
// the backend uses. The backend's x25519_* functions are checked with the same values, and
// the speed of both implementations is printed.
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

#include <mbedtls/ecp.h>

#include <truflux/error.h>

#include "crypto/backend.h"
#include "crypto/x25519.h"

#include "support/crypto_check.hpp"

using tfcheck::all_zero;
using tfcheck::bytes;
using tfcheck::hex;
using tfcheck::prng;

namespace {

#if TFC_X25519_NATIVE

struct kat {
    const char *k, *u, *out;
};

// RFC 7748 section 5.2. The second u has its top bit set, which must be ignored.
const kat RFC7748_5_2[] = {
    {"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
     "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
     "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
    {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
     "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
     "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
};

void test_rfc7748_5_2(void **) {
    for (const kat &t : RFC7748_5_2) {
        bytes k = hex(t.k), u = hex(t.u), want = hex(t.out);
        uint8_t out[32];
        tfc::x25519_scalarmult(out, k.data(), u.data());
        assert_memory_equal(out, want.data(), 32);
        // In place, over the scalar and over u.
        bytes buf = k;
        tfc::x25519_scalarmult(buf.data(), buf.data(), u.data());
        assert_memory_equal(buf.data(), want.data(), 32);
        buf = u;
        tfc::x25519_scalarmult(buf.data(), k.data(), buf.data());
        assert_memory_equal(buf.data(), want.data(), 32);
        // And through the backend.
        std::memset(out, 0, sizeof out);
        assert_int_equal(tfc::x25519(k.data(), u.data(), out), 0);
        assert_memory_equal(out, want.data(), 32);
    }
}

// Section 5.2's iteration: k, u = X25519(k, u), k from k = u = 9; checked after 1 and 1000
// steps (the 1 000 000 one takes about a minute).
void test_rfc7748_iterated(void **) {
    uint8_t k[32] = {9}, u[32] = {9}, next[32];
    bytes after1 = hex("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
    bytes after1000 = hex("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
    for (int i = 1; i <= 1000; i++) {
        tfc::x25519_scalarmult(next, k, u);
        std::memcpy(u, k, 32);
        std::memcpy(k, next, 32);
        if (i == 1) assert_memory_equal(k, after1.data(), 32);
    }
    assert_memory_equal(k, after1000.data(), 32);
}

const char *ALICE_PRIV = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const char *ALICE_PUB = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const char *BOB_PRIV = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
const char *BOB_PUB = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
const char *SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

// Section 6.1: both public keys, and the secret from both sides.
void test_rfc7748_6_1(void **) {
    bytes a = hex(ALICE_PRIV), b = hex(BOB_PRIV);
    uint8_t pub[32], k[32];
    tfc::x25519_scalarmult_base(pub, a.data());
    assert_memory_equal(pub, hex(ALICE_PUB).data(), 32);
    tfc::x25519_scalarmult_base(pub, b.data());
    assert_memory_equal(pub, hex(BOB_PUB).data(), 32);
    tfc::x25519_scalarmult(k, a.data(), hex(BOB_PUB).data());
    assert_memory_equal(k, hex(SHARED).data(), 32);
    tfc::x25519_scalarmult(k, b.data(), hex(ALICE_PUB).data());
    assert_memory_equal(k, hex(SHARED).data(), 32);

    assert_int_equal(tfc::x25519_public(a.data(), pub), 0);
    assert_memory_equal(pub, hex(ALICE_PUB).data(), 32);
    assert_int_equal(tfc::x25519(b.data(), hex(ALICE_PUB).data(), k), 0);
    assert_memory_equal(k, hex(SHARED).data(), 32);
}

// u is read modulo 2^255 (top bit ignored) and then modulo p: u + p and u + 2^255 give the
// same output as u. Values u + p below 2^255 exist for u < 19 only.
void test_noncanonical_u(void **) {
    bytes k = hex(ALICE_PRIV);
    uint8_t small[32], big[32], want[32], got[32];
    for (uint8_t v = 2; v < 19; v++) {
        std::memset(small, 0, 32);
        small[0] = v;
        // p + v = 2^255 - 19 + v: 0xed + v in the low octet, then 0xff..., top octet 0x7f.
        std::memset(big, 0xff, 32);
        big[0] = uint8_t(0xed + v);
        big[31] = 0x7f;
        tfc::x25519_scalarmult(want, k.data(), small);
        tfc::x25519_scalarmult(got, k.data(), big);
        assert_memory_equal(got, want, 32);
        big[31] |= 0x80;  // p + v with the top bit set as well
        tfc::x25519_scalarmult(got, k.data(), big);
        assert_memory_equal(got, want, 32);
        assert_false(all_zero(want, 32));
    }
    // The top bit of Bob's public key, set, changes nothing.
    bytes pub = hex(BOB_PUB);
    pub[31] |= 0x80;
    tfc::x25519_scalarmult(got, k.data(), pub.data());
    assert_memory_equal(got, hex(SHARED).data(), 32);
    assert_int_equal(tfc::x25519(k.data(), pub.data(), got), 0);
    assert_memory_equal(got, hex(SHARED).data(), 32);
}

// The u-coordinates of small order on the curve and its twist: 0, 1, the two points of order
// 8, p - 1, and p and p + 1 (0 and 1 above p). A clamped scalar is a multiple of 8, so each
// gives the all-zero output, with or without bit 255 set, whatever the scalar.
const char *LOW_ORDER[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

void test_low_order(void **) {
    prng rng{77};
    for (const char *h : LOW_ORDER) {
        for (int top = 0; top < 2; top++) {
            bytes u = hex(h);
            if (top) u[31] |= 0x80;
            for (int i = 0; i < 4; i++) {
                uint8_t k[32], out[32];
                rng.fill(k, 32);
                std::memset(out, 0xAA, 32);
                tfc::x25519_scalarmult(out, k, u.data());
                assert_true(all_zero(out, 32));
                std::memset(out, 0xAA, 32);
                assert_int_equal(tfc::x25519(k, u.data(), out), TRUFLUX_EPROTO);
                assert_true(all_zero(out, 32));
            }
        }
    }
}

// mbedTLS's generic ECP code, the reference: X25519(k, u), or X25519(k, 9) for u == NULL.
int ref_rng(void *ctx, unsigned char *out, size_t len) {
    static_cast<prng *>(ctx)->fill(out, len);
    return 0;
}

int ref_x25519(const uint8_t k_in[32], const uint8_t *u, uint8_t out[32], prng *rng) {
    uint8_t k[32];
    std::memcpy(k, k_in, 32);
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
    mbedtls_ecp_group grp;
    mbedtls_mpi d;
    mbedtls_ecp_point P, R;
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_ecp_point_init(&P);
    mbedtls_ecp_point_init(&R);
    int rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_CURVE25519);
    if (rc == 0) rc = mbedtls_mpi_read_binary_le(&d, k, 32);
    if (rc == 0 && u) rc = mbedtls_ecp_point_read_binary(&grp, &P, u, 32);
    if (rc == 0) rc = mbedtls_ecp_mul(&grp, &R, &d, u ? &P : &grp.G, ref_rng, rng);
    if (rc == 0) rc = mbedtls_mpi_write_binary_le(&R.X, out, 32);
    mbedtls_ecp_point_free(&R);
    mbedtls_ecp_point_free(&P);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_group_free(&grp);
    return rc;
}

// 2000 random pairs: random private keys with random u (about half of them on the twist,
// which X25519 accepts) and with the public key of another random private key, through the
// ladder and through the backend; each public key too.
void test_random_against_mbedtls(void **) {
    prng rng{20261130}, ref_noise{5};
    for (int i = 0; i < 2000; i++) {
        uint8_t k[32], u[32], want[32], got[32];
        rng.fill(k, 32);
        if (i % 2 == 0) {
            rng.fill(u, 32);
        } else {
            uint8_t other[32];
            rng.fill(other, 32);
            assert_int_equal(ref_x25519(other, nullptr, u, &ref_noise), 0);
            tfc::x25519_scalarmult_base(got, other);
            assert_memory_equal(got, u, 32);
        }
        assert_int_equal(ref_x25519(k, u, want, &ref_noise), 0);
        tfc::x25519_scalarmult(got, k, u);
        assert_memory_equal(got, want, 32);
        std::memset(got, 0, 32);
        assert_int_equal(tfc::x25519(k, u, got), 0);
        assert_memory_equal(got, want, 32);
        if (i % 8 == 0) {
            assert_int_equal(ref_x25519(k, nullptr, want, &ref_noise), 0);
            assert_int_equal(tfc::x25519_public(k, got), 0);
            assert_memory_equal(got, want, 32);
        }
    }
}

// keypair: pub is X25519(priv, 9), and two pairs agree on a secret.
void test_keypair(void **) {
    uint8_t a[32], apub[32], b[32], bpub[32], ka[32], kb[32], want[32];
    assert_int_equal(tfc::x25519_keypair(a, apub), 0);
    assert_int_equal(tfc::x25519_keypair(b, bpub), 0);
    tfc::x25519_scalarmult_base(want, a);
    assert_memory_equal(apub, want, 32);
    assert_int_equal(tfc::x25519(a, bpub, ka), 0);
    assert_int_equal(tfc::x25519(b, apub, kb), 0);
    assert_memory_equal(ka, kb, 32);
    assert_false(all_zero(ka, 32));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Scalar multiplications per second, printed (not asserted: the machine is shared), bounded
// to about a second: the ladder, the backend's x25519 and mbedTLS's ECP code.
void test_speed(void **) {
    uint8_t k[32], u[32], out[32];
    prng rng{1}, ref_noise{2};
    rng.fill(k, 32);
    tfc::x25519_scalarmult_base(u, k);
    const int n = 2000, ref_n = 200;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; i++) {
        tfc::x25519_scalarmult(out, k, u);
        k[0] ^= out[1];
    }
    double own = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; i++) {
        assert_int_equal(tfc::x25519(k, u, out), 0);
        k[0] ^= out[1];
    }
    double backend = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < ref_n; i++) {
        assert_int_equal(ref_x25519(k, u, out, &ref_noise), 0);
        k[0] ^= out[1];
    }
    double ref = seconds_since(t0);
    print_message("x25519: own ladder %.0f/s (%.1f us), backend (%s) %.0f/s, "
                  "mbedTLS ECP %.0f/s (%.1f us)\n",
                  n / own, own / n * 1e6, tfc::backend_name(), n / backend, ref_n / ref,
                  ref / ref_n * 1e6);
}

#else  // no 128-bit integers: the backend uses mbedTLS's ECP code, tested elsewhere

void test_no_native(void **) {
    print_message("x25519: no 128-bit integer type: the library's own X25519 is not built\n");
    skip();
}

#endif

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
#if TFC_X25519_NATIVE
        cmocka_unit_test(test_rfc7748_5_2),
        cmocka_unit_test(test_rfc7748_iterated),
        cmocka_unit_test(test_rfc7748_6_1),
        cmocka_unit_test(test_noncanonical_u),
        cmocka_unit_test(test_low_order),
        cmocka_unit_test(test_random_against_mbedtls),
        cmocka_unit_test(test_keypair),
        cmocka_unit_test(test_speed),
#else
        cmocka_unit_test(test_no_native),
#endif
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
