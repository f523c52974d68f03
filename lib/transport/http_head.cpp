// lib/transport: the HTTP/1.1 head parser (see http_head.h).
#include "transport/http_head.h"

#include <cstring>

namespace tfx {
namespace http {

static inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); i++)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// RFC 9110 section 5.6.2 tchar.
static bool is_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

head_parser::head_parser(kind_t kind, const head_limits &lim) : kind_(kind), lim_(lim) {
    if (lim_.max_fields > FIELD_CAP) lim_.max_fields = FIELD_CAP;
}

int head_parser::set_error(int status, const char *why) {
    status_ = status;
    why_ = why;
    return -1;
}

const field *head_parser::find(std::string_view name) const {
    for (size_t i = 0; i < nfields_; i++)
        if (iequals(fields_[i].name, name)) return &fields_[i];
    return nullptr;
}

bool head_parser::has_token(std::string_view name, std::string_view token) const {
    for (size_t i = 0; i < nfields_; i++) {
        if (!iequals(fields_[i].name, name)) continue;
        std::string_view v = fields_[i].value;
        size_t at = 0;
        while (at <= v.size()) {
            size_t comma = v.find(',', at);
            if (comma == std::string_view::npos) comma = v.size();
            std::string_view t = v.substr(at, comma - at);
            while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
            while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
            if (iequals(t, token)) return true;
            at = comma + 1;
        }
    }
    return false;
}

// "METHOD SP target SP HTTP/1.x" or "HTTP/1.x SP 3DIGIT SP reason".
bool head_parser::parse_start(const char *b, size_t n) {
    const char *end = b + n;
    auto version = [&](const char *v, size_t vl) {
        if (vl != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[7] < '0' || v[7] > '9')
            return false;
        if (v[5] != '1') {
            set_error(505, "HTTP version not supported");
            return false;
        }
        minor_ = v[7] - '0';
        return true;
    };
    if (kind_ == REQUEST) {
        const char *sp1 = static_cast<const char *>(memchr(b, ' ', n));
        if (!sp1 || sp1 == b) return set_error(400, "malformed request line") , false;
        for (const char *q = b; q < sp1; q++)
            if (!is_tchar((unsigned char)*q)) return set_error(400, "malformed method"), false;
        const char *t = sp1 + 1;
        const char *sp2 = static_cast<const char *>(memchr(t, ' ', (size_t)(end - t)));
        if (!sp2 || sp2 == t) return set_error(400, "malformed request line"), false;
        for (const char *q = t; q < sp2; q++) {
            unsigned char c = (unsigned char)*q;
            if (c <= 0x20 || c >= 0x7F) return set_error(400, "malformed request target"), false;
        }
        if (!version(sp2 + 1, (size_t)(end - sp2 - 1))) {
            if (!status_) set_error(400, "malformed HTTP version");
            return false;
        }
        method_s_ = {(size_t)(b - buf_.data()), (size_t)(sp1 - b)};
        target_s_ = {(size_t)(t - buf_.data()), (size_t)(sp2 - t)};
        return true;
    }
    if (n < 12 || b[8] != ' ') return set_error(400, "malformed status line"), false;
    if (!version(b, 8)) {
        if (!status_) set_error(400, "malformed HTTP version");
        return false;
    }
    int code = 0;
    for (int i = 9; i < 12; i++) {
        if (b[i] < '0' || b[i] > '9') return set_error(400, "malformed status code"), false;
        code = code * 10 + (b[i] - '0');
    }
    if (code < 100) return set_error(400, "malformed status code"), false;
    if (n > 12 && b[12] != ' ') return set_error(400, "malformed status line"), false;
    code_ = code;
    size_t roff = n > 13 ? 13 : n;
    reason_s_ = {(size_t)(b + roff - buf_.data()), n - roff};
    return true;
}

bool head_parser::parse_line(const char *b, size_t n) {
    if (!started_) {
        started_ = true;
        return parse_start(b, n);
    }
    if (b[0] == ' ' || b[0] == '\t') return set_error(400, "obsolete line folding"), false;
    const char *colon = static_cast<const char *>(memchr(b, ':', n));
    if (!colon || colon == b) return set_error(400, "malformed header field"), false;
    for (const char *q = b; q < colon; q++)
        if (!is_tchar((unsigned char)*q)) return set_error(400, "malformed header field name"), false;
    const char *v = colon + 1, *ve = b + n;
    for (const char *q = v; q < ve; q++) {
        unsigned char c = (unsigned char)*q;
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return set_error(400, "control character in a header field"), false;
    }
    while (v < ve && (*v == ' ' || *v == '\t')) v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
    if (nfields_ >= lim_.max_fields) return set_error(431, "too many header fields"), false;
    names_[nfields_] = {(size_t)(b - buf_.data()), (size_t)(colon - b)};
    values_[nfields_] = {(size_t)(v - buf_.data()), (size_t)(ve - v)};
    nfields_++;
    return true;
}

long head_parser::feed(const uint8_t *data, size_t len) {
    if (status_) return -1;
    if (done_) return 0;
    size_t used = 0;
    while (used < len) {
        // Copy up to the next LF (or all of it), within the head limit.
        const void *lf = memchr(data + used, '\n', len - used);
        size_t chunk = lf ? (size_t)(static_cast<const uint8_t *>(lf) - (data + used)) + 1
                          : len - used;
        if (buf_.size() + chunk > lim_.max_head) {
            return set_error(kind_ == REQUEST && !started_ ? 414 : 431, "HTTP head too large");
        }
        buf_.append(reinterpret_cast<const char *>(data + used), chunk);
        used += chunk;
        size_t line_len = buf_.size() - line_start_;
        if (!lf) {
            // + 1: the line's CR may be in while its LF is not.
            if (line_len > lim_.max_line + 1)
                return set_error(!started_ && kind_ == REQUEST ? 414 : 431, "HTTP line too long");
            break;
        }
        // A complete line: [line_start_, size - 1) without the LF, and without a CR before it.
        size_t n = line_len - 1;
        if (n && buf_[line_start_ + n - 1] == '\r') n--;
        if (n > lim_.max_line)
            return set_error(!started_ && kind_ == REQUEST ? 414 : 431, "HTTP line too long");
        if (memchr(buf_.data() + line_start_, '\r', n))
            return set_error(400, "stray CR in the HTTP head");
        if (n == 0) {
            if (!started_) return set_error(400, "empty request line");
            done_ = true;
            break;
        }
        if (!parse_line(buf_.data() + line_start_, n)) return -1;
        line_start_ = buf_.size();
    }
    if (done_) {
        const char *d = buf_.data();
        method_ = std::string_view(d + method_s_.off, method_s_.len);
        target_ = std::string_view(d + target_s_.off, target_s_.len);
        reason_ = std::string_view(d + reason_s_.off, reason_s_.len);
        for (size_t i = 0; i < nfields_; i++) {
            fields_[i].name = std::string_view(d + names_[i].off, names_[i].len);
            fields_[i].value = std::string_view(d + values_[i].off, values_[i].len);
        }
    }
    return (long)used;
}

}  // namespace http
}  // namespace tfx
