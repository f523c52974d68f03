// lib/transport: the table of transports. Listed here explicitly (not self-registered from
// static initialisers, which a static library's linker may drop).
#include "transport/stream.h"

namespace tfx {

extern const transport tcp_transport;
extern const transport ws_transport;      // ws_stream.cpp
extern const transport tcp_ws_transport;  // tcp+ws: raw truflux and WebSocket on one port
extern const transport tls_transport;     // tls.cpp
extern const transport wss_transport;     // wss.cpp: WebSocket over TLS
extern const transport tls_ws_transport;  // tls+ws: raw truflux and WebSocket on one TLS port

static const transport *const transports[] = {
    &tcp_transport,
    &ws_transport,
    &tcp_ws_transport,
    &tls_transport,
    &wss_transport,
    &tls_ws_transport,
};

const transport *find_transport(const std::string &scheme) {
    for (const transport *t : transports)
        if (scheme == t->scheme) return t;
    return nullptr;
}

}  // namespace tfx
