// lib/transport: the WebSocket opening handshake (RFC 6455 section 4) over a parsed HTTP
// head: checking an upgrade request and building the answer (server), building the request
// and checking the answer (client). Pure: no I/O; the HTTP parsing is http_head.h.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "transport/http_head.h"

namespace tfx {
namespace ws {

// The subprotocol under which truflux frames ride (docs/PROTOCOL.md section 3.3).
constexpr const char *SUBPROTOCOL = "truflux.v1";

// A request's parts as the server checks them; filled from our parser or from another
// HTTP server's (the evhttp binding).
struct upgrade_request {
    std::string_view method, target;
    int version_minor = 1;  // HTTP/1.x
    std::vector<http::field> fields;
};

struct upgrade_answer {
    int status = 0;        // 101 on success, else the refusal's HTTP status
    const char *why = "";  // refusal reason
    std::string text;      // the complete response head to send
};

// The request from our own parser's head.
upgrade_request request_of(const http::head_parser &h);

// Checks a WebSocket upgrade request (RFC 6455 4.2.1) for the path `path` (empty: any path;
// the query string is ignored) and builds the answer: 101 with Sec-WebSocket-Accept and our
// subprotocol when offered; 400 (malformed), 404 (other path), 405 (not GET), 426 (not an
// upgrade, or another WebSocket version; with Sec-WebSocket-Version: 13). A client that
// offers subprotocols but not ours is refused with 400. Returns the answer's status.
int check_request(const upgrade_request &r, std::string_view path, upgrade_answer *out);

// The reason phrase of the HTTP statuses a refusal uses.
const char *status_text(int status);

// An HTTP refusal with a short text body and Connection: close.
std::string refusal_text(int status, const char *why, bool version_hint);

// The client's request: GET `target` with Host `host`, the key, and our subprotocol.
std::string build_request(std::string_view host, std::string_view target, std::string_view key);

// Checks the server's answer (RFC 6455 4.1): status 101, Upgrade and Connection tokens, the
// accept value for `key`, no extension, and a subprotocol that is ours or none. Returns true,
// or false with *why set.
bool check_response(const http::head_parser &h, std::string_view key, std::string *why);

}  // namespace ws
}  // namespace tfx
