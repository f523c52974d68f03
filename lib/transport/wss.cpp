// lib/transport: WebSocket over TLS (wss://, docs/PROTOCOL.md 3.3) as the composition tls.h
// describes: TCP, TLS over it, the WebSocket stream over that. Also `tls+ws`, a TLS listener
// taking raw truflux and WebSocket clients on one port (the tcp+ws sniffing, after TLS).
#include <new>

#include <truflux/error.h>

#include "core/config.h"
#include "transport/tls.h"
#include "transport/ws_stream.h"

namespace tfx {

extern const transport tcp_transport;

namespace {

struct wss_ctx {
    void *tls = nullptr;  // tls_ctx_new's
    void *ws = nullptr;   // ws_ctx, from the ws / tcp+ws transports
    const transport *ws_tr = nullptr;
    ~wss_ctx() {
        if (tls) tls_ctx_free(tls);
        if (ws && ws_tr->ctx_free) ws_tr->ctx_free(ws);
    }
};

void *ctx_new_at(const tfcore::config &cfg, bool server, const tfcore::url &u, bool sniff,
                 int *err, std::string *detail) {
    if (sniff && !server) {
        *err = TRUFLUX_EBADURL;
        *detail = "tls+ws:// is for listening; clients connect with tls:// or wss://";
        return nullptr;
    }
    auto *c = new (std::nothrow) wss_ctx();
    if (!c) {
        *err = TRUFLUX_ENOMEM;
        return nullptr;
    }
    c->ws_tr = sniff ? &tcp_ws_transport : &ws_transport;
    c->ws = c->ws_tr->ctx_new_at(cfg, server, u, err, detail);
    if (c->ws) c->tls = tls_ctx_new(cfg, server, err, detail);
    if (!c->tls) {
        delete c;
        return nullptr;
    }
    return c;
}

void *wss_ctx_new_at(const tfcore::config &cfg, bool server, const tfcore::url &u, int *err,
                     std::string *detail) {
    return ctx_new_at(cfg, server, u, false, err, detail);
}

void *sniff_ctx_new_at(const tfcore::config &cfg, bool server, const tfcore::url &u, int *err,
                       std::string *detail) {
    return ctx_new_at(cfg, server, u, true, err, detail);
}

void wss_ctx_free(void *ctx) { delete static_cast<wss_ctx *>(ctx); }

stream *wss_wrap(void *ctx, int fd, bool server, const std::string &host, int *err) {
    auto *c = static_cast<wss_ctx *>(ctx);
    stream *tcp = tcp_transport.wrap(nullptr, fd, server, host, err);
    if (!tcp) return nullptr;
    stream *tls = tls_stream_over(c->tls, tcp, server, host, err);
    if (!tls) return nullptr;
    return ws_wrap_over(static_cast<const ws_ctx *>(c->ws), tls, server, err);
}

}  // namespace

extern const transport wss_transport = {"wss", nullptr, wss_ctx_free, wss_wrap, wss_ctx_new_at};
extern const transport tls_ws_transport = {"tls+ws", nullptr, wss_ctx_free, wss_wrap,
                                           sniff_ctx_new_at};

}  // namespace tfx
