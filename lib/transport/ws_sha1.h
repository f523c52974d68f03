// lib/transport: SHA-1 and base64, only for the WebSocket opening handshake's
// Sec-WebSocket-Accept (RFC 6455 4.2.2), where SHA-1 is a fixed part of the protocol and no
// security property rests on it. Pure.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace tfx {
namespace ws {

// SHA-1 (FIPS 180-4) of a whole buffer.
void sha1(const void *data, size_t len, uint8_t out[20]);

// Standard base64 with padding.
std::string base64_encode(const uint8_t *p, size_t n);
// Decodes strict padded base64; false on any other character or length.
bool base64_decode(const std::string &in, std::string *out);

// base64(SHA-1(key + the RFC 6455 GUID)): the server's answer to a Sec-WebSocket-Key.
std::string accept_key(const std::string &key);

}  // namespace ws
}  // namespace tfx
