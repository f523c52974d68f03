// lib/transport: truflux over WebSocket (docs/PROTOCOL.md section 3.3): a stream whose
// handshake is the HTTP upgrade and whose bytes ride in binary WebSocket messages. One
// class serves the three ways in: a ws:// listener or client, a listener that also takes raw
// truflux on the same port (sniff.cpp), and a socket another HTTP server upgraded
// (lib/http, the evhttp binding).
#pragma once
#include <string>

#include "transport/stream.h"

namespace tfx {

struct ws_ctx {
    bool sniff = false;     // server: raw truflux (first octet 0x01) is welcome too
    std::string path;       // server: the only path accepted ("" any); client: the target
    std::string authority;  // client: the Host header ("host:port")
};

// The stream of a ws:// endpoint (ctx from ws_ctx_new), or of a sniffing listener.
stream *ws_wrap(const ws_ctx *ctx, int fd, bool server, int *err);

// A WebSocket over another stream (wss://: over TLS), which it owns from now on (also when
// it fails: then NULL, *err set). It passes on the inner stream's has_output() and
// has_pending(), and runs the inner handshake before its own.
stream *ws_wrap_over(const ws_ctx *ctx, stream *inner, bool server, int *err);

// The stream of a socket whose upgrade another HTTP server accepted: `answer` is the
// 101 response still to be written, before any frame. `release(arg)` runs last when the
// stream is freed (the HTTP server lets go of its side of the socket then), also when this
// fails. NULL (with *err) on failure.
stream *ws_adopt(int fd, std::string answer, void (*release)(void *), void *arg, int *err);

// The `ws` transport and the sniffing `tcp+ws` one (sniff.cpp).
extern const transport ws_transport;
extern const transport tcp_ws_transport;

}  // namespace tfx
