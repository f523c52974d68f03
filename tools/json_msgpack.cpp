// tools/json_msgpack.cpp: a recursive-descent JSON reader that writes MessagePack as it goes.
// Containers are encoded after their elements, whose count is only then known.
#include "json_msgpack.hpp"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace tfcli {
namespace {

constexpr int max_depth = 64;

void put_be(std::string &out, std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i)
        out += static_cast<char>((v >> (8 * i)) & 0xff);
}

void put_header(std::string &out, std::size_t n, unsigned fix, unsigned fixmax, unsigned c16,
                unsigned c32) {
    if (n <= fixmax) {
        out += static_cast<char>(fix | n);
    } else if (n <= 0xffff) {
        out += static_cast<char>(c16);
        put_be(out, n, 2);
    } else {
        out += static_cast<char>(c32);
        put_be(out, n, 4);
    }
}

void put_str(std::string &out, const std::string &s) {
    if (s.size() < 32)
        out += static_cast<char>(0xa0 | s.size());
    else if (s.size() <= 0xff) {
        out += static_cast<char>(0xd9);
        put_be(out, s.size(), 1);
    } else {
        put_header(out, s.size(), 0, 0, 0xda, 0xdb);
    }
    out += s;
}

void put_int(std::string &out, std::int64_t v) {
    if (v >= 0) {
        std::uint64_t u = static_cast<std::uint64_t>(v);
        if (u < 128) out += static_cast<char>(u);
        else if (u <= 0xff) { out += '\xcc'; put_be(out, u, 1); }
        else if (u <= 0xffff) { out += '\xcd'; put_be(out, u, 2); }
        else if (u <= 0xffffffffu) { out += '\xce'; put_be(out, u, 4); }
        else { out += '\xcf'; put_be(out, u, 8); }
        return;
    }
    std::uint64_t bits = static_cast<std::uint64_t>(v);
    if (v >= -32) out += static_cast<char>(bits & 0xff);
    else if (v >= INT8_MIN) { out += '\xd0'; put_be(out, bits, 1); }
    else if (v >= INT16_MIN) { out += '\xd1'; put_be(out, bits, 2); }
    else if (v >= INT32_MIN) { out += '\xd2'; put_be(out, bits, 4); }
    else { out += '\xd3'; put_be(out, bits, 8); }
}

void put_double(std::string &out, double d) {
    std::uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    out += '\xcb';
    put_be(out, bits, 8);
}

void put_utf8(std::string &s, std::uint32_t cp) {
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else if (cp < 0x800) {
        s += static_cast<char>(0xc0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        s += static_cast<char>(0xe0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        s += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        s += static_cast<char>(0xf0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        s += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

class Reader {
public:
    Reader(std::string_view in, std::string &out) : in_(in), out_(out) {}

    bool document(std::string &err) {
        if (!value(0)) {
            err = err_ + " at offset " + std::to_string(pos_);
            return false;
        }
        skip_ws();
        if (pos_ != in_.size()) {
            err = "trailing characters at offset " + std::to_string(pos_);
            return false;
        }
        return true;
    }

private:
    bool fail(const char *what) {
        if (err_.empty())
            err_ = what;
        return false;
    }

    void skip_ws() {
        while (pos_ < in_.size() && std::strchr(" \t\r\n", in_[pos_]) && in_[pos_] != '\0')
            ++pos_;
    }

    bool literal(const char *word) {
        std::size_t n = std::strlen(word);
        if (in_.substr(pos_, n) != word)
            return fail("invalid literal");
        pos_ += n;
        return true;
    }

    bool value(int depth) {
        if (depth > max_depth)
            return fail("nested too deeply");
        skip_ws();
        if (pos_ >= in_.size())
            return fail("unexpected end");
        char c = in_[pos_];
        switch (c) {
        case 'n': out_ += '\xc0'; return literal("null");
        case 'f': out_ += '\xc2'; return literal("false");
        case 't': out_ += '\xc3'; return literal("true");
        case '"': {
            std::string s;
            if (!string(s))
                return false;
            put_str(out_, s);
            return true;
        }
        case '[': return array(depth);
        case '{': return object(depth);
        default: return number();
        }
    }

    bool array(int depth) {
        ++pos_;
        std::string saved;
        saved.swap(out_);
        std::size_t n = 0;
        skip_ws();
        bool ok = true;
        if (pos_ < in_.size() && in_[pos_] == ']') {
            ++pos_;
        } else {
            for (;;) {
                if (!(ok = value(depth + 1)))
                    break;
                ++n;
                skip_ws();
                if (pos_ < in_.size() && in_[pos_] == ',') { ++pos_; continue; }
                if (pos_ < in_.size() && in_[pos_] == ']') { ++pos_; break; }
                ok = fail("expected , or ]");
                break;
            }
        }
        std::string body;
        body.swap(out_);
        out_.swap(saved);
        if (!ok)
            return false;
        put_header(out_, n, 0x90, 15, 0xdc, 0xdd);
        out_ += body;
        return true;
    }

    bool object(int depth) {
        ++pos_;
        std::string saved;
        saved.swap(out_);
        std::size_t n = 0;
        skip_ws();
        bool ok = true;
        if (pos_ < in_.size() && in_[pos_] == '}') {
            ++pos_;
        } else {
            for (;;) {
                skip_ws();
                std::string key;
                if (pos_ >= in_.size() || in_[pos_] != '"') { ok = fail("expected a key"); break; }
                if (!(ok = string(key)))
                    break;
                put_str(out_, key);
                skip_ws();
                if (pos_ >= in_.size() || in_[pos_] != ':') { ok = fail("expected :"); break; }
                ++pos_;
                if (!(ok = value(depth + 1)))
                    break;
                ++n;
                skip_ws();
                if (pos_ < in_.size() && in_[pos_] == ',') { ++pos_; continue; }
                if (pos_ < in_.size() && in_[pos_] == '}') { ++pos_; break; }
                ok = fail("expected , or }");
                break;
            }
        }
        std::string body;
        body.swap(out_);
        out_.swap(saved);
        if (!ok)
            return false;
        put_header(out_, n, 0x80, 15, 0xde, 0xdf);
        out_ += body;
        return true;
    }

    bool hex4(std::uint32_t &v) {
        if (pos_ + 4 > in_.size())
            return fail("short \\u escape");
        v = 0;
        for (int i = 0; i < 4; ++i) {
            char h = in_[pos_++];
            v <<= 4;
            if (h >= '0' && h <= '9') v |= static_cast<std::uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f') v |= static_cast<std::uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') v |= static_cast<std::uint32_t>(h - 'A' + 10);
            else return fail("bad \\u escape");
        }
        return true;
    }

    bool string(std::string &s) {
        ++pos_;  // opening quote
        while (pos_ < in_.size()) {
            unsigned char c = static_cast<unsigned char>(in_[pos_++]);
            if (c == '"')
                return true;
            if (c < 0x20)
                return fail("control character in string");
            if (c != '\\') {
                s += static_cast<char>(c);
                continue;
            }
            if (pos_ >= in_.size())
                break;
            char e = in_[pos_++];
            switch (e) {
            case '"': s += '"'; break;
            case '\\': s += '\\'; break;
            case '/': s += '/'; break;
            case 'b': s += '\b'; break;
            case 'f': s += '\f'; break;
            case 'n': s += '\n'; break;
            case 'r': s += '\r'; break;
            case 't': s += '\t'; break;
            case 'u': {
                std::uint32_t cp;
                if (!hex4(cp))
                    return false;
                if (cp >= 0xd800 && cp < 0xdc00) {
                    std::uint32_t lo;
                    if (in_.substr(pos_, 2) != "\\u")
                        return fail("lone surrogate");
                    pos_ += 2;
                    if (!hex4(lo))
                        return false;
                    if (lo < 0xdc00 || lo > 0xdfff)
                        return fail("bad surrogate pair");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return fail("lone surrogate");
                }
                put_utf8(s, cp);
                break;
            }
            default:
                return fail("bad escape");
            }
        }
        return fail("unterminated string");
    }

    bool number() {
        std::size_t start = pos_;
        if (pos_ < in_.size() && in_[pos_] == '-')
            ++pos_;
        if (pos_ >= in_.size() || !(in_[pos_] >= '0' && in_[pos_] <= '9'))
            return fail("invalid value");
        if (in_[pos_] == '0' && pos_ + 1 < in_.size() && in_[pos_ + 1] >= '0' && in_[pos_ + 1] <= '9')
            return fail("leading zero");
        bool integral = true;
        while (pos_ < in_.size()) {
            char c = in_[pos_];
            if (c >= '0' && c <= '9') {
                ++pos_;
            } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || (c == '-' && pos_ > start)) {
                integral = false;
                ++pos_;
            } else {
                break;
            }
        }
        std::string text(in_.substr(start, pos_ - start));
        char *end = nullptr;
        errno = 0;
        if (integral) {
            long long v = std::strtoll(text.c_str(), &end, 10);
            if (errno == 0 && *end == '\0') {
                put_int(out_, v);
                return true;
            }
            if (text[0] != '-') {  // beyond int64: maybe still a uint64
                errno = 0;
                unsigned long long u = std::strtoull(text.c_str(), &end, 10);
                if (errno == 0 && *end == '\0') {
                    out_ += '\xcf';
                    put_be(out_, u, 8);
                    return true;
                }
            }
            errno = 0;
        }
        double d = std::strtod(text.c_str(), &end);
        if (*end != '\0' || !std::isfinite(d))
            return fail("invalid number");
        put_double(out_, d);
        return true;
    }

    std::string_view in_;
    std::string &out_;
    std::size_t pos_ = 0;
    std::string err_;
};

}  // namespace

bool json_to_msgpack(std::string_view json, std::string &out, std::string &err) {
    out.clear();
    Reader r(json, out);
    return r.document(err);
}

}  // namespace tfcli
