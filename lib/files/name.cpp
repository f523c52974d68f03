// lib/files: file name rules (see name.h).
#include "files/name.h"

#include <cstring>

#include <truflux/error.h>

#include "wire/validate.h"

namespace tff {

namespace {

constexpr size_t NAME_MAX_OCTETS = 255;
constexpr size_t TEMP_NAME_KEEP = 200;

// Length of the UTF-8 sequence starting at p (within n octets) if it is valid, else 0.
size_t utf8_seq(const uint8_t *p, size_t n) {
    size_t len = p[0] < 0x80 ? 1 : (p[0] >> 5) == 6 ? 2 : (p[0] >> 4) == 14 ? 3
                 : (p[0] >> 3) == 30 ? 4 : 0;
    if (len == 0 || len > n) return 0;
    return tfw::utf8_valid(p, len) ? len : 0;
}

// C0 controls, DEL, and C1 controls (U+0080-U+009F, encoded C2 80 - C2 9F).
bool is_control(const uint8_t *p, size_t len) {
    if (len == 1) return p[0] < 0x20 || p[0] == 0x7F;
    return len == 2 && p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F;
}

}  // namespace

int check_name(const std::string &name) {
    const uint8_t *p = reinterpret_cast<const uint8_t *>(name.data());
    size_t n = name.size();
    if (n == 0 || n > NAME_MAX_OCTETS) return TRUFLUX_EFILENAME;
    if (name == "." || name == "..") return TRUFLUX_EFILENAME;
    if (name.compare(0, std::strlen(TEMP_PREFIX), TEMP_PREFIX) == 0) return TRUFLUX_EFILENAME;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq(p + i, n - i);
        if (len == 0 || is_control(p + i, len)) return TRUFLUX_EFILENAME;
        if (len == 1 && (p[i] == '/' || p[i] == '\\')) return TRUFLUX_EFILENAME;
        i += len;
    }
    return 0;
}

std::string name_from_path(const std::string &path) {
    std::string base = path;
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    size_t slash = base.rfind('/');
    if (slash != std::string::npos) base.erase(0, slash + 1);
    const uint8_t *p = reinterpret_cast<const uint8_t *>(base.data());
    std::string out;
    for (size_t i = 0; i < base.size();) {
        size_t len = utf8_seq(p + i, base.size() - i);
        bool bad = len == 0 || is_control(p + i, len) ||
                   (len == 1 && (p[i] == '/' || p[i] == '\\'));
        if (bad) len = len ? len : 1;
        if (out.size() + (bad ? 1 : len) > NAME_MAX_OCTETS) break;
        if (bad) {
            out.push_back('_');
        } else {
            out.append(base, i, len);
        }
        i += len;
    }
    if (out.empty() || out == "." || out == "..") return "_";
    if (out.compare(0, std::strlen(TEMP_PREFIX), TEMP_PREFIX) == 0) out[0] = '_';
    return out;
}

std::string printable_name(const std::string &raw) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char ch : raw) {
        if (ch >= 0x20 && ch < 0x7F && ch != '\\' && ch != '"') {
            out.push_back(char(ch));
        } else {
            out += "\\x";
            out.push_back(hex[ch >> 4]);
            out.push_back(hex[ch & 15]);
        }
        if (out.size() > 1024) break;
    }
    return out;
}

std::string temp_name(const std::string &name, const uint8_t key[16]) {
    static const char hex[] = "0123456789abcdef";
    std::string out = TEMP_PREFIX;
    for (int i = 0; i < 16; i++) {
        out.push_back(hex[key[i] >> 4]);
        out.push_back(hex[key[i] & 15]);
    }
    out.push_back('-');
    out.append(name, 0, name.size() < TEMP_NAME_KEEP ? name.size() : TEMP_NAME_KEEP);
    return out;
}

}  // namespace tff
