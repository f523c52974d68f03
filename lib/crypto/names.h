// lib/crypto: the text forms of security settings: Noise pattern and cipher names, keys in
// base64, SHA-256 fingerprints in hex. Pure; shared by the option checks (lib/core), the
// secure layer and the TLS transport.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "crypto/noise.h"

namespace tfc {

// "NN", "NK", "XX", "IK" and "ChaChaPoly", "AESGCM" (the names in Noise protocol names).
const char *pattern_name(pattern p);
const char *cipher_name(cipher c);

// Comma-separated lists, case-insensitive, spaces around names allowed, no duplicates, at
// least one name. Ciphers also accept "chacha20-poly1305" and "aes-256-gcm". Returns 0 or
// TRUFLUX_EINVAL; out may be NULL (check only).
int parse_patterns(const std::string &text, std::vector<pattern> *out);
int parse_ciphers(const std::string &text, std::vector<cipher> *out);

// A key as 44 characters of base64 ('=' padded); out receives 45 bytes with the NUL.
void key_encode(const uint8_t key[DH_LEN], char out[45]);
// Base64 text of exactly 32 bytes, surrounding white space allowed. 0 or TRUFLUX_EINVAL
// (key zeroed).
int key_decode(const char *text, size_t len, uint8_t key[DH_LEN]);
// A key given as an option value: 32 raw bytes, or its base64 text. 0 or TRUFLUX_EINVAL.
int key_from_value(const std::string &value, uint8_t key[DH_LEN]);

// A SHA-256 digest in hex, upper or lower case, optionally with ':' between bytes.
// 0 or TRUFLUX_EINVAL; out may be NULL.
int parse_sha256_hex(const std::string &text, uint8_t *out);

}  // namespace tfc
