// lib/wire: the HELLO / WELCOME payload codec (docs/PROTOCOL.md, "Opening"). Pure.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tfw {

constexpr uint8_t HELLO_MAGIC[4] = {'T', 'F', 'L', 'X'};
constexpr uint16_t HELLO_FLAG_STRICT = 0x0001;
constexpr size_t HELLO_FIXED_SIZE = 54;  // up to and including the message count

struct hello_ext {
    uint16_t type;
    std::vector<uint8_t> value;
};

struct hello {
    uint8_t major = 1, minor = 0;
    uint16_t flags = 0;
    uint32_t caps = 0;
    uint32_t max_message = 0;
    uint32_t heartbeat_ms = 0;
    uint8_t fingerprint[32] = {0};
    std::vector<uint32_t> ids;        // ascending, each < 2^31, at most 4096
    std::vector<hello_ext> exts;      // unknown types are kept, and ignored by the core
};

// Encodes the payload (without the frame header) and appends it to out.
void hello_encode(const hello &h, std::vector<uint8_t> *out);

// Decodes a payload. Returns 0 or TRUFLUX_EPROTO (bad magic, short, ids not ascending or
// with the high bit set, count over 4096, truncated extension). Version numbers are
// returned as read; the caller decides on compatibility.
int hello_decode(const uint8_t *p, size_t len, hello *out);

}  // namespace tfw
