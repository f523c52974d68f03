// lib/crypto: text forms of security settings (see names.h).
#include "crypto/names.h"

#include <cctype>
#include <cstring>

#include <truflux/error.h>

namespace tfc {

namespace {

const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

bool iequal(const std::string &a, const char *b) {
    size_t n = strlen(b);
    if (a.size() != n) return false;
    for (size_t i = 0; i < n; i++)
        if (std::tolower((unsigned char)a[i]) != std::tolower((unsigned char)b[i])) return false;
    return true;
}

// Splits on commas, trimming spaces; false for an empty item.
bool split_list(const std::string &text, std::vector<std::string> *items) {
    size_t start = 0;
    for (;;) {
        size_t comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                          : comma - start);
        size_t a = item.find_first_not_of(" \t");
        size_t b = item.find_last_not_of(" \t");
        if (a == std::string::npos) return false;
        items->push_back(item.substr(a, b - a + 1));
        if (comma == std::string::npos) return true;
        start = comma + 1;
    }
}

template <class T, class F>
int parse_list(const std::string &text, std::vector<T> *out, F lookup) {
    std::vector<std::string> items;
    if (!split_list(text, &items)) return TRUFLUX_EINVAL;
    std::vector<T> got;
    for (const std::string &it : items) {
        T v;
        if (!lookup(it, &v)) return TRUFLUX_EINVAL;
        for (T g : got)
            if (g == v) return TRUFLUX_EINVAL;
        got.push_back(v);
    }
    if (out) *out = std::move(got);
    return 0;
}

}  // namespace

const char *pattern_name(pattern p) {
    switch (p) {
    case pattern::NN: return "NN";
    case pattern::NK: return "NK";
    case pattern::XX: return "XX";
    case pattern::IK: return "IK";
    }
    return "?";
}

const char *cipher_name(cipher c) { return c == cipher::aesgcm ? "AESGCM" : "ChaChaPoly"; }

int parse_patterns(const std::string &text, std::vector<pattern> *out) {
    return parse_list<pattern>(text, out, [](const std::string &s, pattern *p) {
        for (pattern q : {pattern::NN, pattern::NK, pattern::XX, pattern::IK}) {
            if (iequal(s, pattern_name(q))) {
                *p = q;
                return true;
            }
        }
        return false;
    });
}

int parse_ciphers(const std::string &text, std::vector<cipher> *out) {
    return parse_list<cipher>(text, out, [](const std::string &s, cipher *c) {
        if (iequal(s, "ChaChaPoly") || iequal(s, "chacha20-poly1305")) {
            *c = cipher::chachapoly;
            return true;
        }
        if (iequal(s, "AESGCM") || iequal(s, "aes-256-gcm")) {
            *c = cipher::aesgcm;
            return true;
        }
        return false;
    });
}

void key_encode(const uint8_t key[DH_LEN], char out[45]) {
    size_t o = 0;
    for (size_t i = 0; i < DH_LEN; i += 3) {
        uint32_t v = (uint32_t)key[i] << 16;
        size_t n = DH_LEN - i < 3 ? DH_LEN - i : 3;
        if (n > 1) v |= (uint32_t)key[i + 1] << 8;
        if (n > 2) v |= key[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = n > 1 ? B64[(v >> 6) & 63] : '=';
        out[o++] = n > 2 ? B64[v & 63] : '=';
    }
    out[o] = '\0';
}

int key_decode(const char *text, size_t len, uint8_t key[DH_LEN]) {
    memset(key, 0, DH_LEN);
    if (!text) return TRUFLUX_EINVAL;
    while (len && std::isspace((unsigned char)text[0])) {
        text++;
        len--;
    }
    while (len && std::isspace((unsigned char)text[len - 1])) len--;
    // 32 bytes: ten full groups and one group of two bytes ("xxx=").
    if (len != 44 || text[43] != '=' || text[42] == '=') return TRUFLUX_EINVAL;
    uint8_t tmp[33];
    size_t o = 0;
    for (size_t i = 0; i < 44; i += 4) {
        int a = b64_value(text[i]), b = b64_value(text[i + 1]), c = b64_value(text[i + 2]);
        int d = i + 4 < 44 ? b64_value(text[i + 3]) : 0;
        if (a < 0 || b < 0 || c < 0 || d < 0) {
            wipe(tmp, sizeof tmp);
            return TRUFLUX_EINVAL;
        }
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        tmp[o++] = (uint8_t)(v >> 16);
        tmp[o++] = (uint8_t)(v >> 8);
        if (i + 4 < 44) tmp[o++] = (uint8_t)v;
    }
    // The last group's unused bits must be zero, so that one key has one text.
    bool canonical = o == 32 && (b64_value(text[42]) & 3) == 0;
    if (canonical) memcpy(key, tmp, DH_LEN);
    wipe(tmp, sizeof tmp);
    return canonical ? 0 : TRUFLUX_EINVAL;
}

int key_from_value(const std::string &value, uint8_t key[DH_LEN]) {
    if (value.size() == DH_LEN) {
        memcpy(key, value.data(), DH_LEN);
        return 0;
    }
    return key_decode(value.data(), value.size(), key);
}

int parse_sha256_hex(const std::string &text, uint8_t *out) {
    uint8_t d[HASH_LEN];
    size_t n = 0, i = 0;
    auto hex = [](char ch) {
        if (ch >= '0' && ch <= '9') return ch - '0';
        if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
        return -1;
    };
    while (i < text.size()) {
        if (n == HASH_LEN || i + 1 >= text.size()) return TRUFLUX_EINVAL;
        int hi = hex(text[i]), lo = hex(text[i + 1]);
        if (hi < 0 || lo < 0) return TRUFLUX_EINVAL;
        d[n++] = (uint8_t)(hi << 4 | lo);
        i += 2;
        if (i < text.size() && text[i] == ':') {
            if (i + 1 == text.size()) return TRUFLUX_EINVAL;
            i++;
        }
    }
    if (n != HASH_LEN) return TRUFLUX_EINVAL;
    if (out) memcpy(out, d, HASH_LEN);
    return 0;
}

}  // namespace tfc
