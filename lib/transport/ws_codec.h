// lib/transport: the WebSocket framing of RFC 6455, pure (no I/O): the frame header
// encoder, masking, and an incremental parser that unmasks and compacts payload in place.
// Fuzzed alone by fuzz/fuzz_ws_frame.cpp.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tfx {
namespace ws {

enum opcode : uint8_t {
    OP_CONT = 0x0,
    OP_TEXT = 0x1,
    OP_BINARY = 0x2,
    OP_CLOSE = 0x8,
    OP_PING = 0x9,
    OP_PONG = 0xA,
};

// Close status codes (RFC 6455 section 7.4.1) that this implementation sends or reports.
enum close_status : uint16_t {
    CLOSE_NORMAL = 1000,
    CLOSE_GOING_AWAY = 1001,
    CLOSE_PROTOCOL = 1002,
    CLOSE_UNSUPPORTED = 1003,
    CLOSE_NO_STATUS = 1005,    // never on the wire: a CLOSE frame without a code
    CLOSE_ABNORMAL = 1006,     // never on the wire: the TCP connection dropped
    CLOSE_BAD_DATA = 1007,     // invalid UTF-8 in a text message or a close reason
    CLOSE_POLICY = 1008,
    CLOSE_TOO_BIG = 1009,
    CLOSE_INTERNAL = 1011,
};

constexpr size_t MAX_HEADER = 14;    // 2 + 8 (64-bit length) + 4 (mask key)
constexpr size_t MAX_CONTROL = 125;  // control frame payload limit

// True for a status code a CLOSE frame may carry (RFC 6455 7.4, IANA registry): 1000-1003,
// 1007-1014, and 3000-4999 for libraries and applications.
bool close_code_sendable(unsigned code);

// Writes a frame header; `mask` NULL for an unmasked frame (server to client), else the
// 4-octet key (client to server). Returns its size (2 to 14).
size_t header_write(uint8_t out[MAX_HEADER], uint8_t op, bool fin, uint64_t len,
                    const uint8_t *mask);

// dst[i] = src[i] ^ key[(phase + i) % 4] for i < n, a machine word at a time. dst may equal
// src or lie before it (the parser compacts forwards); the ranges may then overlap.
void mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], size_t phase);

// Incremental UTF-8 check (RFC 3629: no overlongs, surrogates or code points above
// U+10FFFF) over text split at any octet. feed() fails at the first octet that can no longer
// start or continue a valid sequence, so a bad message is refused as soon as it is seen.
class utf8_stream {
public:
    bool feed(const uint8_t *p, size_t n);
    // True when no sequence is left open (the text may end here).
    bool complete() const { return need_ == 0; }
    void reset() { need_ = 0; lo_ = 0x80; hi_ = 0xBF; }

private:
    uint8_t need_ = 0;           // continuation octets still expected
    uint8_t lo_ = 0x80, hi_ = 0xBF;  // range of the next continuation octet
};

struct parser_limits {
    bool expect_masked = true;  // a server reads masked frames, a client unmasked ones
    bool text_ok = true;        // false: a text message is refused with 1003
    uint64_t max_frame = 0;     // largest frame payload, 0 for no limit (1009 above it)
    uint64_t max_message = 0;   // largest message (sum of its fragments), 0 for no limit
};

struct event {
    enum kind_t { DATA, PING, PONG, CLOSE } kind;
    uint8_t op;          // DATA: the message's opcode (OP_TEXT or OP_BINARY)
    bool first;          // DATA: these are the message's first octets
    bool last;           // DATA: the message ends with these octets
    const uint8_t *data; // DATA: inside the fed buffer (unmasked); control: the parser's own
    size_t len;
    uint16_t code;       // CLOSE: the status, CLOSE_NO_STATUS when the frame had none
};

// Incremental frame parser. Usage:
//   p.feed(buf, n);  while ((r = p.next(&ev)) > 0) handle(ev);  r < 0: sticky error
// It checks every rule of RFC 6455 section 5 that a receiver must: reserved bits, opcodes,
// the masking direction, control frames (final, at most 125 octets, allowed inside a
// fragmented message), continuation order, the 64-bit length's top bit, close codes and
// UTF-8 (text messages, close reasons), and the size limits. Data payload is unmasked and
// moved towards the start of the fed buffer, so DATA events of one feed() lie back to back
// from its first octet: the caller may hand the whole compacted run on without copying.
// Nothing is allocated; a header or control payload split across feeds is kept inside.
class parser {
public:
    explicit parser(const parser_limits &lim) : lim_(lim) {}

    // The next input. It must stay valid and writable until next() returns 0 or an error.
    void feed(uint8_t *data, size_t len);
    // 1: *ev filled; 0: the fed bytes are used up; -1: error (sticky), see status()/why().
    int next(event *ev);

    // After an error: the close status to send (1002, 1003, 1007 or 1009) and a reason.
    uint16_t status() const { return status_; }
    const char *why() const { return why_; }
    bool failed() const { return status_ != 0; }
    // Octets written to the start of the current feed's buffer so far (compacted data).
    size_t compacted() const { return (size_t)(w_ - base_); }
    bool in_message() const { return in_msg_; }

private:
    int set_error(uint16_t status, const char *why);
    int take_header();
    int finish_control(event *ev);

    parser_limits lim_;
    uint8_t *base_ = nullptr, *p_ = nullptr, *end_ = nullptr, *w_ = nullptr;

    uint8_t hdr_[MAX_HEADER];
    uint8_t hlen_ = 0;
    bool in_payload_ = false;

    // Current frame.
    uint8_t op_ = 0;
    bool fin_ = false, masked_ = false;
    uint8_t key_[4] = {0, 0, 0, 0};
    uint64_t left_ = 0;   // payload octets still to come
    size_t phase_ = 0;    // octets of payload seen (mod 4: the mask phase)

    // Current message.
    bool in_msg_ = false, first_pending_ = false;
    uint8_t msg_op_ = 0;
    uint64_t msg_size_ = 0;
    utf8_stream utf8_;

    uint8_t ctl_[MAX_CONTROL];
    size_t ctl_len_ = 0;

    uint16_t status_ = 0;
    const char *why_ = "";
};

}  // namespace ws
}  // namespace tfx
