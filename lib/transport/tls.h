// lib/transport: TLS 1.2 (tls:// URLs) as a stream over another stream. The tls transport
// puts it over plain TCP; another transport can compose it the other way round, e.g. a
// WebSocket over TLS (wss://):
//
//     void *ctx = tls_ctx_new(cfg, server, &err, &detail);       // once per endpoint
//     stream *tcp = tcp_transport.wrap(nullptr, fd, server, host, &err);
//     stream *tls = tls_stream_over(ctx, tcp, server, host, &err);  // owns tcp
//     stream *ws  = <a WebSocket stream over tls>;                  // owns tls
//
// The TLS stream runs its handshake in handshake(), before the outer stream's own; it has
// output of its own (records that the inner stream could not take yet, has_output()) and
// decrypted input the socket will not signal again (has_pending()), which an outer stream
// must pass on in its own has_output() and has_pending(). Once its handshake is done with
// the library's record layer it also has a gather write (stream::writev), which seals
// records straight from an outer stream's vectors (the WebSocket header and the queue).
#pragma once
#include <string>

#include "transport/stream.h"

namespace tfx {

extern const transport tls_transport;

// The endpoint's TLS state from its options (TRUFLUX_OPT_TLS_*): certificates, key, CAs,
// pin. NULL on failure with *err and *detail.
void *tls_ctx_new(const tfcore::config &cfg, bool server, int *err, std::string *detail);
void tls_ctx_free(void *ctx);

// TLS over `inner`, which it owns from now on (also when it fails: then NULL, *err set).
// `host`: the name a client verifies (TRUFLUX_OPT_TLS_SERVER_NAME, if set, wins).
stream *tls_stream_over(void *ctx, stream *inner, bool server, const std::string &host, int *err);

}  // namespace tfx
