// tests/support/crypto_check.hpp: helpers of the tests that hold the library's own cipher code
// (aesgcm_ni, chachapoly_simd) against mbedTLS: hex input, a zero check, and a seeded
// generator so that a failure reproduces. Include after <cmocka.h>.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tfcheck {

using bytes = std::vector<uint8_t>;

// Lower-case hex, two digits an octet.
inline bytes hex(const char *s) {
    bytes out;
    auto nib = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    for (size_t i = 0; s[i]; i += 2) {
        int hi = nib(s[i]), lo = nib(s[i + 1]);
        assert_true(hi >= 0 && lo >= 0);
        out.push_back(uint8_t(hi << 4 | lo));
    }
    return out;
}

inline bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

// SplitMix64: deterministic, so that a failure reproduces.
struct prng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    void fill(uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++) p[i] = uint8_t(next() >> 24);
    }
};

}  // namespace tfcheck
