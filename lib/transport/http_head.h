// lib/transport: a pure HTTP/1.1 message-head parser (request line or status line, then
// header fields, up to the empty line), with hard limits. It reads only what the WebSocket
// opening handshake needs: no bodies, no chunking. Fuzzed by fuzz/fuzz_http_upgrade.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tfx {
namespace http {

struct head_limits {
    size_t max_head = 8192;    // the whole head, request line to the empty line
    size_t max_line = 4096;    // one line
    size_t max_fields = 64;    // header fields
};

struct field {
    std::string_view name, value;  // value without surrounding whitespace
};

// Usage:  long used = p.feed(data, n);  // < 0: error (sticky); p.done(): head complete
// feed() copies the head into the parser's own buffer (bounded by max_head) and returns how
// many of the given octets belonged to it: what follows the head is the caller's. Lines end
// with CRLF (a bare LF is accepted, as RFC 9112 section 2.2 allows).
class head_parser {
public:
    enum kind_t { REQUEST, RESPONSE };
    explicit head_parser(kind_t kind, const head_limits &lim = head_limits());
    head_parser(const head_parser &) = delete;
    head_parser &operator=(const head_parser &) = delete;

    long feed(const uint8_t *data, size_t len);
    bool done() const { return done_; }
    bool failed() const { return status_ != 0; }
    // After an error: the HTTP status a server answers with (400, 414, 431, 505) and why.
    int error_status() const { return status_; }
    const char *why() const { return why_; }

    // The parsed head; valid once done() (views into the parser's buffer).
    std::string_view method() const { return method_; }
    std::string_view target() const { return target_; }
    std::string_view reason() const { return reason_; }
    int status() const { return code_; }
    int version_minor() const { return minor_; }  // HTTP/1.x
    size_t field_count() const { return nfields_; }
    const field &field_at(size_t i) const { return fields_[i]; }
    // The first field of that name (case-insensitive), or NULL.
    const field *find(std::string_view name) const;
    // True when some field of that name holds `token` in its comma-separated list
    // (case-insensitive), as Connection and Upgrade do.
    bool has_token(std::string_view name, std::string_view token) const;

private:
    static constexpr size_t FIELD_CAP = 128;  // storage; max_fields is the limit enforced
    int set_error(int status, const char *why);
    bool parse_line(const char *b, size_t n);
    bool parse_start(const char *b, size_t n);

    kind_t kind_;
    head_limits lim_;
    std::string buf_;
    size_t line_start_ = 0;  // offset in buf_ of the line being received
    bool started_ = false, done_ = false;
    int status_ = 0;
    const char *why_ = "";
    // Offsets of the parsed parts (buf_ may move while it grows; views are made at the end).
    struct span {
        size_t off = 0, len = 0;
    };
    span method_s_, target_s_, reason_s_;
    span names_[FIELD_CAP], values_[FIELD_CAP];
    size_t nfields_ = 0;
    int code_ = 0, minor_ = 0;
    std::string_view method_, target_, reason_;
    field fields_[FIELD_CAP];
};

// Case-insensitive ASCII comparison.
bool iequals(std::string_view a, std::string_view b);

}  // namespace http
}  // namespace tfx
