// lib/transport: one port for raw truflux and WebSocket clients (PROTOCOL.md 4.4). A raw
// client's first octet is 0x01 (its HELLO), never a letter; an HTTP request starts with its
// method, a token of letters. The listener peeks at the first octet (ws_stream's SNIFF mode)
// and continues as plain TCP or as an HTTP upgrade.
#include <cstdint>

namespace tfx {

bool sniff_is_http(uint8_t first) {
    return (first >= 'A' && first <= 'Z') || (first >= 'a' && first <= 'z');
}

}  // namespace tfx
