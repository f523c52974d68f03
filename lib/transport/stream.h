// lib/transport: the byte stream under a connection (TCP; TLS over TCP; WebSocket over
// either), and the table of transports by URL scheme. The connection state machine in
// lib/core talks to a stream only through this interface.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

struct evbuffer;
struct iovec;

namespace tfcore {
struct config;
struct url;
}  // namespace tfcore

namespace tfx {

// Results of stream calls besides a byte count and a negative TRUFLUX_E* code.
constexpr ssize_t IO_WANT_READ = -100000;   // call again once the socket is readable
constexpr ssize_t IO_WANT_WRITE = -100001;  // call again once the socket is writable
constexpr ssize_t IO_NO_DIRECT = -100002;   // stream::write_direct: not this transport

class stream {
public:
    virtual ~stream() = default;
    // Transport-level opening (TLS handshake, HTTP upgrade). 0 when done, IO_WANT_*, or an
    // error. Called until it returns 0 before any read or write.
    virtual ssize_t handshake() { return 0; }
    // Reads up to len bytes of the truflux byte stream: > 0 bytes, 0 at the peer's orderly
    // end, IO_WANT_*, or an error code.
    virtual ssize_t read(uint8_t *buf, size_t len) = 0;
    // Writes from out, removing what was written: bytes removed (>= 0), IO_WANT_*, or an
    // error. Removing fewer bytes than out holds means "call again when writable".
    virtual ssize_t write(evbuffer *out) = 0;
    // Writes a frame's header and payload straight from the caller's memory, when nothing is
    // queued before them: bytes written (>= 0), IO_WANT_WRITE, or an error code; or
    // IO_NO_DIRECT when the transport must transform the bytes (TLS, WebSocket).
    // Whether write_direct() can succeed at all (false: it always answers IO_NO_DIRECT), so
    // that callers need not stage bytes for it.
    virtual bool can_write_direct() const { return false; }
    virtual ssize_t write_direct(const uint8_t *, size_t, const void *, size_t) {
        return IO_NO_DIRECT;
    }
    // Messages of at least this size are offered to write_direct() before the queue, besides
    // the connection's own threshold for very large ones: a transport that would otherwise
    // copy the queue once more (a WebSocket over TLS) gains from it sooner.
    virtual size_t direct_min() const { return SIZE_MAX; }
    // Gather write, for a stream over this one (a WebSocket over TLS) that would otherwise
    // copy its header and the queue's chains into a buffer of its own: takes as many octets
    // from the front of iov[0..n) as it can (sent, or transformed and held within the
    // stream's own bound), and returns that count (>= 0), IO_WANT_WRITE, or an error code.
    // Taking fewer than given means "call again when writable" (has_output() tells).
    // IO_NO_DIRECT (and can_writev() false): the caller copies and uses write() instead.
    virtual bool can_writev() const { return false; }
    virtual ssize_t writev(const struct iovec *, int) { return IO_NO_DIRECT; }
    // Bytes already read from the socket and decoded but not yet returned by read(): the
    // socket will not become readable for them.
    virtual bool has_pending() const { return false; }
    // The connection's periodic tick (lib/core, conn_ext::on_tick): frees what an idle stream
    // need not hold (TLS: its keys' working state, tfc::aead::trim).
    virtual void trim() {}
    // Starts the transport's orderly end of our direction (TCP FIN, TLS close_notify, ...).
    virtual void shutdown_write() {}
    // Output of the transport's own (a WebSocket pong or close) waiting for the socket: the
    // connection then calls write() even when its queue is empty.
    virtual bool has_output() const { return false; }
    // Why the last handshake() or read() failed, for humans; NULL when it has nothing to add.
    virtual const char *error_detail() const { return nullptr; }
    // The transport's name as in URLs: "tcp", "tls", "ws", "wss".
    virtual const char *name() const = 0;
    // The socket descriptor (owned by the stream's creator, not the stream).
    virtual int fd() const = 0;
    // From now on `out` may hold file segments for sendfile(2) (conn_emit_file), whose
    // memory cannot be read: write() must hand the queue to libevent for those.
    virtual void expect_file_segments() {}
};

// A transport, selected by URL scheme.
struct transport {
    const char *scheme;
    // Per-endpoint state built from the options once (e.g. parsed certificates), or NULL.
    // On failure returns NULL and sets *err (TRUFLUX_E*) and *detail.
    void *(*ctx_new)(const tfcore::config &cfg, bool server, int *err, std::string *detail);
    void (*ctx_free)(void *ctx);
    // Wraps a connected socket (not taking it over: the connection closes fd). The host of
    // the URL is passed for name checks (client side); NULL on failure with *err set.
    stream *(*wrap)(void *ctx, int fd, bool server, const std::string &host, int *err);
    // Optional; when set it is called instead of ctx_new, with the endpoint's URL (a
    // WebSocket needs its path and authority). A URL with a path is refused for transports
    // without it.
    void *(*ctx_new_at)(const tfcore::config &cfg, bool server, const tfcore::url &where,
                        int *err, std::string *detail) = nullptr;
};

// The transport for a scheme, or NULL.
const transport *find_transport(const std::string &scheme);

}  // namespace tfx
