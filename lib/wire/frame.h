// lib/wire: frame encoder and incremental decoder. Pure: no I/O, no allocation beyond the
// decoder's own buffer; fuzzable alone (fuzz/fuzz_frame.cpp). docs/PROTOCOL.md is normative.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tfw {

// Frame kinds (octet 0 of the 9-octet header).
enum kind : uint8_t {
    KIND_HELLO = 0x01,    // client -> server, first frame
    KIND_WELCOME = 0x02,  // server -> client, answer to HELLO
    KIND_PING = 0x03,
    KIND_PONG = 0x04,
    KIND_CLOSE = 0x05,    // id = reason code magnitude, payload = UTF-8 reason text
    KIND_ERROR = 0x06,    // id = message id concerned, payload = u32 code magnitude + text
    KIND_MSG = 0x10,      // 0x10..0x13: application message, low 2 bits = payload type
    // 0x20..0x24: the secure layer (docs/PROTOCOL.md §24; lib/secure/record.h).
    KIND_SECURE_NOISE = 0x20,    // a Noise handshake message
    KIND_SECURE_RECORD = 0x21,   // an encrypted record
    KIND_SECURE_SWITCH = 0x22,   // inside records only
    KIND_SECURE_REQUEST = 0x23,
    KIND_SECURE_REKEY = 0x24,    // inside records only
    // 0x30..0x39: file transfer (docs/PROTOCOL.md §23; codec in lib/files/wire.h).
    KIND_FILE_OFFER = 0x30,
    KIND_FILE_ACCEPT = 0x31,
    KIND_FILE_DECLINE = 0x32,
    KIND_FILE_PAUSE = 0x33,
    KIND_FILE_RESUME = 0x34,
    KIND_FILE_CANCEL = 0x35,
    KIND_FILE_CHUNK = 0x36,
    KIND_FILE_END = 0x37,
    KIND_FILE_CREDIT = 0x38,
    KIND_FILE_DONE = 0x39,
};

constexpr size_t HEADER_SIZE = 9;
constexpr uint32_t MAX_CONTROL_PAYLOAD = 125;   // PING, PONG, CLOSE
constexpr uint32_t MAX_ERROR_PAYLOAD = 1024;    // ERROR
constexpr uint32_t MAX_HELLO_PAYLOAD = 65536;   // HELLO, WELCOME
constexpr uint32_t MAX_FILE_CONTROL = 1024;     // file OFFER
constexpr uint32_t MAX_FILE_CHUNK = 65536;      // file CHUNK data

struct frame {
    uint8_t kind;            // raw kind octet
    uint32_t id;             // 31-bit id
    uint32_t len;            // payload length
    const uint8_t *payload;  // points into the decoder's buffer (or the parsed input)
};

inline bool is_msg_kind(uint8_t k) { return (k & 0xFC) == KIND_MSG; }
inline int msg_type(uint8_t k) { return k & 0x03; }

// Writes a header. id must be < 2^31.
void header_write(uint8_t out[HEADER_SIZE], uint8_t kind, uint32_t id, uint32_t len);

// Checks a complete 9-octet header: known kind, reserved bit clear, length within the
// kind's limit (max_msg for messages; the fixed limits above for the others; 0 for an
// empty-typed message). Returns 0, TRUFLUX_EPROTO or TRUFLUX_EMSGSIZE.
int header_check(const uint8_t hdr[HEADER_SIZE], uint32_t max_msg);

// Parses one frame from a contiguous buffer. Returns the bytes consumed (> 0) with *out
// filled, 0 when more bytes are needed, or a negative TRUFLUX_E* code (header_check's).
// A header is rejected as soon as its 9 octets are present, before its payload arrives.
long parse(const uint8_t *buf, size_t len, uint32_t max_msg, frame *out);

// Incremental decoder over its own page-aligned buffer. Typical use by a socket reader:
//   size_t room; uint8_t *p = d.prepare(65536, &room); n = recv(fd, p, room); d.commit(n);
//   while ((r = d.next(&f)) > 0) handle(f);   // r < 0: sticky error
// Frames from next() point into the buffer and stay valid until the next prepare()/feed().
// The buffer grows only to what one frame needs (bounded by max_msg + HEADER_SIZE); once
// drained, a large one is kept while frames of its size keep coming and freed after a much
// smaller frame.
class decoder {
public:
    explicit decoder(uint32_t max_msg = 16u << 20);
    ~decoder();
    decoder(const decoder &) = delete;
    decoder &operator=(const decoder &) = delete;

    void set_max(uint32_t max_msg) { max_ = max_msg; }
    // Returns a pointer where at least min(want, ...) bytes may be written, and in *room how
    // many; compacts consumed bytes and grows as the pending frame needs. NULL on ENOMEM.
    uint8_t *prepare(size_t want, size_t *room);
    void commit(size_t n);
    // Copies bytes in (prepare + memcpy + commit). Returns 0 or TRUFLUX_ENOMEM.
    int feed(const void *data, size_t len);
    // 1: a frame in *out; 0: need more bytes; < 0: sticky error code.
    int next(frame *out);
    // Bytes buffered and not yet returned as frames.
    size_t pending() const { return end_ - start_; }
    // Bytes the frame being received still needs (0 if unknown/complete).
    size_t missing() const;
    int error() const { return err_; }
    size_t capacity() const { return lent_ ? 0 : cap_; }

    // Reading into a buffer the caller lends (a loop's one receive buffer, shared by its
    // connections), so that a connection between frames holds no buffer of its own. Only
    // while the decoder holds nothing and no error: returns `buf` with *room = len and frees
    // the decoder's own (empty) buffer; else NULL (use prepare()). Then commit() and next()
    // as usual, and settle() before the lent buffer is used for anything else.
    uint8_t *lend(uint8_t *buf, size_t len, size_t *room);
    // Ends a loan: what next() has not returned yet (a partial frame, frames left for later)
    // moves into a buffer of the decoder's own, sized to it. Frames returned before are no
    // longer valid. 0, or TRUFLUX_ENOMEM. A no-op without a loan.
    int settle();
    bool lent() const { return lent_; }

private:
    uint8_t *buf_ = nullptr;
    size_t cap_ = 0, start_ = 0, end_ = 0;
    bool lent_ = false;
    size_t last_ = 0;  // the size of the last frame next() returned
    uint32_t max_;
    int err_ = 0;
};

}  // namespace tfw
