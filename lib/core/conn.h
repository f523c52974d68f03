// lib/core: a connection's state machine over one TCP socket: hello exchange, frame
// dispatch through the protocol, send queue with high/low-water marks, heartbeat, idle and
// handshake timeouts, and the close handshake.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <truflux/conn.h>

#include "core/config.h"
#include "core/loop.h"
#include "wire/frame.h"
#include "wire/hello.h"

struct evbuffer;
struct event;
struct tf_protocol;

namespace tfx {
class stream;
}
namespace tff {
struct settings;
}
struct evbuffer_file_segment;

namespace tfcore {

enum phase : int {
    PH_IDLE = 0,     // client: not connected (before connect, or waiting to reconnect)
    PH_CONNECTING,   // client: resolving or TCP connect in progress
    PH_TRANSPORT,    // socket up, transport handshake (TLS, HTTP upgrade) in progress
    PH_HELLO,        // socket up, hello exchange in progress
    PH_SECURING,     // hello done, an extension holds the open (the secure handshake)
    PH_OPEN,         // ready
    PH_CLOSING,      // we sent CLOSE and wait for the peer's
    PH_LINGER,       // ended: flushing what is queued, then draining until EOF
    PH_CLOSED        // no socket; final for a server connection
};

struct ext_factory;

// What a connection needs from the server or client that owns it.
struct endpoint {
    tf_loop *loop = nullptr;
    tf_protocol *proto = nullptr;
    config cfg;
    tf_callbacks_t cbs{};
    std::vector<uint8_t> hello;  // our HELLO/WELCOME payload, built once
    bool silent = false;         // being freed: no more callbacks
    bool is_client = false;
    uint32_t caps = 0;                     // capability bits our hello announces (§9.1)
    std::shared_ptr<tff::settings> files;  // file transfer enabled (lib/files)
    // Called for each new connection, before its socket is attached: the layers the
    // endpoint enables (files) add their conn_ext there.
    std::vector<void (*)(tf_conn *c, endpoint *ep)> ext_hooks;
    std::vector<tfw::hello_ext> hello_exts;  // extensions our hello carries (§6.4)
    // Make the extensions of each new connection (conn_new), e.g. the secure layer's.
    std::vector<std::shared_ptr<ext_factory>> ext_factories;

    virtual ~endpoint() = default;
    // The transport's handshake finished (TLS, HTTP upgrade): frames can go out now.
    virtual void transport_ready(tf_conn *) {}
    // The hello exchange finished.
    virtual void conn_opened(tf_conn *c) = 0;
    // The connection ended (callbacks already ran). was_open: it had reached PH_OPEN.
    virtual void conn_ended(tf_conn *c, int reason, bool remote, bool was_open) = 0;
    // The socket is gone (after linger).
    virtual void conn_gone(tf_conn *c) = 0;
};

void build_hello(endpoint *ep);

// A layer riding on a connection's frames, such as a sub-protocol that owns a range of
// frame kinds (files) or the secure layer. Owned by the connection once added.
struct conn_ext {
    uint8_t kind_lo = 0, kind_hi = 0;  // incoming kinds [lo, hi] routed to on_frame
    virtual ~conn_ext() = default;
    // An incoming frame of its kinds (loop thread). Returns false when the connection
    // stopped reading (it closed or failed).
    virtual bool on_frame(tf_conn *c, const tfw::frame &f) = 0;
    virtual void on_open(tf_conn *) {}                 // the hello exchange finished
    virtual void on_flushed(tf_conn *) {}              // the send queue became empty
    virtual void on_end(tf_conn *, int /*reason*/) {}  // the connection ended
    // The open connection's periodic tick (heartbeat and idle timeout, a quarter of the
    // shorter): a time to free what an idle connection need not hold.
    virtual void on_tick(tf_conn *) {}
    // A socket was attached (a client reattaches after a reconnect): start afresh.
    virtual void on_attach(tf_conn *) {}
    // The peer's hello was accepted (c->peer_caps and c->peer_exts are set), before the
    // server's WELCOME is queued. Returns 0, HOLD_OPEN to keep the application from seeing
    // the open until the extension calls conn_finish_open (phase PH_SECURING meanwhile), or
    // a negative code that refuses the peer (CLOSE with it).
    static constexpr int HOLD_OPEN = 1;
    virtual int on_hello(tf_conn *) { return 0; }
};

// Makes one extension for each new connection of an endpoint.
struct ext_factory {
    virtual ~ext_factory() = default;
    virtual conn_ext *make(tf_conn *c) = 0;  // NULL: none for this connection
};

// The hook that sees every incoming frame after the hello instead of the core (the secure
// layer): it hands the frames it lets through, or decrypts, to conn_dispatch. Returns
// false when the connection stopped reading.
struct rx_filter {
    virtual ~rx_filter() = default;
    virtual bool on_frame(tf_conn *c, const tfw::frame &f) = 0;
    // The peer ended the socket without a CLOSE; returns the code to report (e.g. a
    // truncation of an encrypted stream instead of TRUFLUX_EEOF).
    virtual int on_eof(tf_conn *, int code) { return code; }
};

// The hook that turns outgoing frames into their wire form (the secure layer). When a
// connection has one, every frame emitted after the hello goes through it.
struct tx_filter {
    virtual ~tx_filter() = default;
    virtual void emit(tf_conn *c, evbuffer *out, uint8_t kind, uint32_t id, const void *data,
                      size_t len) = 0;
    // Before the queue goes to the socket: a filter that batches frames appends them now.
    virtual void flush(tf_conn *, evbuffer *) {}
};

}  // namespace tfcore

struct tf_conn {
    std::atomic<int> refs{1};
    tf_loop *loop;
    tfcore::endpoint *owner;        // NULL once the owner let go of it
    tf_protocol *proto;             // own reference
    tfcore::config cfg;             // copy: the connection may outlive its owner
    std::atomic<int> phase{tfcore::PH_IDLE};

    int fd = -1;
    tfx::stream *io = nullptr;      // the transport over fd
    std::atomic<const char *> transport{"tcp"};  // io->name() once its handshake is done
    event *rev = nullptr, *wev = nullptr, *flush_ev = nullptr, *more_ev = nullptr;
    event *timer = nullptr, *tick = nullptr;
    tfw::decoder in;
    evbuffer *out = nullptr;      // frames ready for the socket
    // Small frames queued while `out` is empty wait here instead, and are written from here:
    // libevent allocates a chain for each frame added to an empty evbuffer and frees it once
    // written, an allocation per message. Never non-empty together with `out` (spill_small()
    // moves them into `out` before anything else is queued there). Loop thread only.
    static constexpr size_t SMALL_CAP = 128;
    uint8_t small_len = 0;
    uint8_t small[SMALL_CAP];
    evbuffer *pending = nullptr;  // client: messages sent before the hello finished
    std::atomic<uint64_t> queued{0};
    std::atomic<bool> want_drain{false};
    bool flush_scheduled = false;
    bool in_read = false;    // inside on_read: the flush waits for the end of the callback
    bool wev_armed = false;  // wev is added (event_del of an idle event is not free)

    std::vector<uint32_t> peer_ids;  // ascending; written before PH_OPEN is published
    uint32_t peer_max = 0;
    uint32_t peer_caps = 0;          // capability bits of the peer's hello
    std::vector<tfw::hello_ext> peer_exts;  // extensions of the peer's hello, until the
                                            // extensions saw them (on_hello)
    int state = 0;
    std::atomic<void *> user{nullptr};

    std::atomic<uint64_t> msgs_in{0}, msgs_out{0}, bytes_in{0}, bytes_out{0};
    uint64_t last_rx = 0, last_ping = 0;

    int close_code = 0;             // code of the CLOSE we sent (graceful local close)
    bool reject = false;            // server: accepted over the limit, only told to go away
    bool reported = false;          // on_close delivered (or not due)

    mutable std::mutex addr_mu;
    std::string local_host, remote_host;
    int local_port = 0, remote_port = 0;

    tf_conn *prev = nullptr, *next = nullptr;  // owner's list (server)

    std::vector<tfcore::conn_ext *> exts;  // owned
    tfcore::tx_filter *txf = nullptr;      // not owned (one of exts, usually)
    tfcore::rx_filter *rxf = nullptr;      // not owned (one of exts, usually)

    tf_conn(tfcore::endpoint *ep);
    ~tf_conn();
};

namespace tfcore {

tf_conn *conn_new(endpoint *ep);
void conn_retain(tf_conn *c);
void conn_release(tf_conn *c);

// Takes a connected, non-blocking socket and the transport stream over it (owned from now
// on, also on error). After the transport's handshake: server waits for HELLO, client sends
// HELLO. Returns 0 or an error (the caller keeps fd on error).
int conn_attach(tf_conn *c, int fd, tfx::stream *io);

// The public tf_send, any thread.
int conn_send(tf_conn *c, uint32_t id, int type, const void *data, size_t len);
// Reserves n bytes of send queue; false (and a drain request) when over the high-water mark.
bool conn_reserve(tf_conn *c, uint64_t n);
// Appends a ready frame (header included) to the queue; loop thread, open connections.
// `reserved` bytes were already counted in `queued` (conn_reserve).
void conn_push_frame(tf_conn *c, const uint8_t *frame, size_t n);
// Queues one frame through the connection's tx filter, if any (loop thread). `reserved`:
// bytes of it already counted in `queued` by conn_reserve.
void conn_emit(tf_conn *c, uint8_t kind, uint32_t id, const void *data, size_t len,
               uint64_t reserved = 0);
// Queues one frame as is, bypassing the tx filter (the secure layer's own handshake).
void conn_emit_raw(tf_conn *c, uint8_t kind, uint32_t id, const void *data, size_t len);
// Queues a frame whose payload is `len` bytes of a file segment from `off`, written with
// sendfile(2) (lib/files). Only for a "tcp" stream without tx filter (the bytes never pass
// through user space, so no filter could see them). Returns 0 or TRUFLUX_ENOMEM (nothing
// queued).
int conn_emit_file(tf_conn *c, uint8_t kind, uint32_t id, evbuffer_file_segment *seg,
                   uint64_t off, size_t len);
// Adds an extension (ownership passes to the connection).
void conn_add_ext(tf_conn *c, conn_ext *ext);
// Handles a frame after the hello as the core does without an rx filter (the secure layer
// passes plaintext frames and decrypted inner frames here). Loop thread. Returns false
// when the connection stopped reading.
bool conn_dispatch(tf_conn *c, const tfw::frame &f);
// Ends a HOLD_OPEN (conn_ext::on_hello): the connection opens for the application
// (on_open; a client sends what it queued). Loop thread; no-op unless PH_SECURING.
void conn_finish_open(tf_conn *c);
// The public tf_conn_close, any thread.
int conn_close(tf_conn *c, int flags, int code);
// Loop thread: closes now without callbacks (owner being freed).
void conn_abort_silent(tf_conn *c);
// Loop thread: ends the connection with an error of ours, sending CLOSE(code).
void conn_fail(tf_conn *c, int code, const char *detail);
// Loop thread: a client connection attempt failed before a socket was attached.
void conn_connect_failed(tf_conn *c, int code, const char *detail);

bool peer_knows(const tf_conn *c, uint32_t id);

}  // namespace tfcore
