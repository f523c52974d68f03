// lib/core: the connection state machine (see conn.h). Everything here runs on the loop
// thread except conn_send / conn_close, which marshal through the loop's inbox when called
// from another thread.
#include "core/conn.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include <truflux/error.h>

#include "proto/protocol.h"
#include "transport/stream.h"
#include "wire/hello.h"

namespace tfcore {

static constexpr int READ_BUDGET = 1024;        // frames handled per read callback
static constexpr size_t READ_CHUNK = 64 * 1024; // minimum read size
static constexpr uint32_t LINGER_MS = 2000;     // at most this long draining after close
// Messages this large may skip the queue (emit_direct). Measured with truflux bench
// --alt-exe: at 10 MB the direct write is faster, at 1 MB slower than the queue (0.77x
// against 0.53x the floor), so only very large messages take it; a transport may ask for
// it sooner (stream::direct_min: wss, whose queue would be copied once more).
static constexpr size_t DIRECT_MIN = 4u << 20;

void build_hello(endpoint *ep) {
    tfw::hello h;
    h.major = TRUFLUX_WIRE_VERSION_MAJOR;
    h.minor = TRUFLUX_WIRE_VERSION_MINOR;
    h.flags = ep->cfg.strict ? tfw::HELLO_FLAG_STRICT : 0;
    h.caps = ep->caps;
    h.max_message = ep->cfg.max_message;
    h.heartbeat_ms = ep->cfg.heartbeat_ms;
    memcpy(h.fingerprint, ep->proto->fp, 32);
    h.ids = ep->proto->ids();
    h.exts = ep->hello_exts;
    ep->hello.clear();
    tfw::hello_encode(h, &ep->hello);
}

}  // namespace tfcore

using namespace tfcore;

tf_conn::tf_conn(endpoint *ep)
    : loop(ep->loop), owner(ep), proto(ep->proto), cfg(ep->cfg), in(ep->cfg.max_message) {
    proto->retain();
    out = evbuffer_new();
    if (ep->is_client) pending = evbuffer_new();
}

tf_conn::~tf_conn() {
    for (conn_ext *e : exts) delete e;
    delete io;
    if (out) evbuffer_free(out);
    if (pending) evbuffer_free(pending);
    proto->release();
}

namespace tfcore {

tf_conn *conn_new(endpoint *ep) {
    tf_conn *c = new (std::nothrow) tf_conn(ep);
    if (!c) return nullptr;
    if (!c->out || (ep->is_client && !c->pending)) {
        delete c;
        return nullptr;
    }
    for (auto &f : ep->ext_factories) {
        conn_ext *e = f->make(c);
        if (e) conn_add_ext(c, e);
    }
    return c;
}

void conn_retain(tf_conn *c) { c->refs.fetch_add(1, std::memory_order_relaxed); }

void conn_release(tf_conn *c) {
    if (c->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete c;
}

bool peer_knows(const tf_conn *c, uint32_t id) {
    return std::binary_search(c->peer_ids.begin(), c->peer_ids.end(), id);
}

// ---- socket helpers -------------------------------------------------------------------

static void addr_text(const sockaddr_storage &ss, std::string *host, int *port) {
    char buf[INET6_ADDRSTRLEN] = {0};
    if (ss.ss_family == AF_INET) {
        auto *a = reinterpret_cast<const sockaddr_in *>(&ss);
        inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
        *port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        auto *a = reinterpret_cast<const sockaddr_in6 *>(&ss);
        inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
        *port = ntohs(a->sin6_port);
    } else {
        snprintf(buf, sizeof buf, "local");
        *port = 0;
    }
    *host = buf;
}

static void record_addresses(tf_conn *c) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    std::string lh, rh;
    int lp = 0, rp = 0;
    memset(&ss, 0, sizeof ss);
    if (getsockname(c->fd, reinterpret_cast<sockaddr *>(&ss), &len) == 0) addr_text(ss, &lh, &lp);
    len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getpeername(c->fd, reinterpret_cast<sockaddr *>(&ss), &len) == 0) addr_text(ss, &rh, &rp);
    std::lock_guard<std::mutex> g(c->addr_mu);
    c->local_host = lh;
    c->local_port = lp;
    c->remote_host = rh;
    c->remote_port = rp;
}

static void free_event_later(void *arg) { event_free(static_cast<event *>(arg)); }

static void drop_event(tf_conn *c, event **ev) {
    if (!*ev) return;
    event_del(*ev);
    // Freed after the current callback: it may be the one running now.
    defer(c->loop, free_event_later, *ev);
    *ev = nullptr;
}

static void spill_small(tf_conn *c);

// Closes the socket and frees its events. The connection object lives on while referenced.
static void teardown(tf_conn *c) {
    if (c->fd < 0 && !c->rev) return;
    drop_event(c, &c->rev);
    drop_event(c, &c->wev);
    c->wev_armed = false;
    drop_event(c, &c->flush_ev);
    drop_event(c, &c->more_ev);
    drop_event(c, &c->timer);
    drop_event(c, &c->tick);
    delete c->io;
    c->io = nullptr;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->flush_scheduled = false;
    spill_small(c);
    size_t left = evbuffer_get_length(c->out);
    if (left) {
        evbuffer_drain(c->out, left);
        c->queued.fetch_sub(std::min<uint64_t>(left, c->queued.load()), std::memory_order_relaxed);
    }
    // The decoder is kept: a handler on the stack may still read the frame it was handed.
    endpoint *ep = c->owner;
    bool client = ep && ep->is_client;
    if (!client) c->phase.store(PH_CLOSED, std::memory_order_release);
    if (ep) ep->conn_gone(c);
}

static void arm_timer(tf_conn *c, uint32_t ms) {
    if (!c->timer) return;
    if (ms == 0) {
        event_del(c->timer);
        return;
    }
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    event_add(c->timer, &tv);
}

// ---- writing --------------------------------------------------------------------------

static void on_drained(tf_conn *c);
static void drain_check(tf_conn *c);
static void finish_linger_write(tf_conn *c);

static void arm_write(tf_conn *c) {
    if (c->wev && !c->wev_armed) {
        event_add(c->wev, nullptr);
        c->wev_armed = true;
    }
}

static void disarm_write(tf_conn *c) {
    if (c->wev && c->wev_armed) {
        event_del(c->wev);
        c->wev_armed = false;
    }
}

// Moves the small frames into `out`, which they precede.
static void spill_small(tf_conn *c) {
    if (!c->small_len) return;
    evbuffer_add(c->out, c->small, c->small_len);
    c->small_len = 0;
}

// Queues a frame in the small buffer when it fits and nothing waits in `out`. Only where the
// transport can write a frame from our memory (TCP; WebSocket; TLS once the library's record
// layer runs); no filter: the secure layer's frames take its own path.
static bool stage_small(tf_conn *c, const uint8_t *hdr, size_t hlen, const void *data,
                        size_t len) {
    if (c->txf || !c->io || !c->io->can_write_direct() ||
        hlen + len > tf_conn::SMALL_CAP - c->small_len ||
        (c->small_len == 0 && evbuffer_get_length(c->out) != 0))
        return false;
    memcpy(c->small + c->small_len, hdr, hlen);
    if (len) memcpy(c->small + c->small_len + hlen, data, len);
    c->small_len = (uint8_t)(c->small_len + hlen + len);
    return true;
}

// Writes the small frames straight from the connection (TCP); what the socket does not take,
// or a transport without direct writes, goes to `out` for the usual path.
static void write_small(tf_conn *c) {
    if (!c->small_len) return;
    ssize_t w = c->io->write_direct(c->small, c->small_len, nullptr, 0);
    size_t done = w > 0 ? (size_t)w : 0;
    if (done) {
        c->bytes_out.fetch_add(done, std::memory_order_relaxed);
        c->queued.fetch_sub(std::min<uint64_t>(done, c->queued.load()), std::memory_order_relaxed);
    }
    if (done < c->small_len) evbuffer_add(c->out, c->small + done, c->small_len - done);
    c->small_len = 0;
}

static void flush_now(tf_conn *c) {
    c->flush_scheduled = false;
    if (c->fd < 0) return;
    int ph = c->phase.load(std::memory_order_relaxed);
    if (ph < PH_HELLO) return;
    // Small frames are the whole queue when there are any (`out` is empty then).
    write_small(c);
    if (c->txf) {
        // A batching filter (the secure layer) appends what it gathered in this iteration.
        size_t before = evbuffer_get_length(c->out);
        c->txf->flush(c, c->out);
        c->queued.fetch_add(evbuffer_get_length(c->out) - before, std::memory_order_relaxed);
    }
    while (evbuffer_get_length(c->out) > 0 || c->io->has_output()) {
        ssize_t n = c->io->write(c->out);
        if (n > 0) {
            c->bytes_out.fetch_add((uint64_t)n, std::memory_order_relaxed);
            c->queued.fetch_sub(std::min<uint64_t>((uint64_t)n, c->queued.load()),
                                std::memory_order_relaxed);
            continue;
        }
        // The transport's own output (a WebSocket pong) went out and nothing else waits.
        if (n == 0 && evbuffer_get_length(c->out) == 0 && !c->io->has_output()) break;
        if (n == 0 || n == tfx::IO_WANT_WRITE || n == tfx::IO_WANT_READ) {
            if (n != tfx::IO_WANT_READ) arm_write(c);
            if (ph != PH_LINGER) drain_check(c);
            return;
        }
        // The peer is gone; what is queued cannot be delivered.
        size_t left = evbuffer_get_length(c->out);
        evbuffer_drain(c->out, left);
        c->queued.store(0, std::memory_order_relaxed);
        disarm_write(c);
        if (ph == PH_LINGER) {
            teardown(c);
        } else {
            conn_fail(c, TRUFLUX_ECONNRESET, "write failed");
        }
        return;
    }
    disarm_write(c);
    on_drained(c);
    for (size_t i = 0; i < c->exts.size() && c->fd >= 0; i++) c->exts[i]->on_flushed(c);
}

static void schedule_flush(tf_conn *c) {
    if (c->flush_scheduled || !c->flush_ev) return;
    c->flush_scheduled = true;
    // on_read flushes once it has handled every frame of its read: one write for all the
    // answers, without a trip through the event loop.
    if (c->in_read) return;
    event_active(c->flush_ev, EV_WRITE, 0);
}

static void on_drained(tf_conn *c) {
    if (c->phase.load(std::memory_order_relaxed) == PH_LINGER) {
        finish_linger_write(c);
        return;
    }
    drain_check(c);
}

// Fires on_drain once the queue is at the low-water mark after an EAGAIN.
static void drain_check(tf_conn *c) {
    if (c->want_drain.load(std::memory_order_relaxed) &&
        c->queued.load(std::memory_order_relaxed) <= c->cfg.lwm) {
        c->want_drain.store(false, std::memory_order_relaxed);
        endpoint *ep = c->owner;
        if (ep && !ep->silent && ep->cbs.on_drain) ep->cbs.on_drain(ep->cbs.user, c);
    }
}

static void put_frame(evbuffer *b, uint8_t kind, uint32_t id, const void *data, size_t len) {
    uint8_t hdr[tfw::HEADER_SIZE];
    tfw::header_write(hdr, kind, id, (uint32_t)len);
    evbuffer_add(b, hdr, sizeof hdr);
    if (len) evbuffer_add(b, data, len);
}

void conn_emit_raw(tf_conn *c, uint8_t kind, uint32_t id, const void *data, size_t len) {
    spill_small(c);
    put_frame(c->out, kind, id, data, len);
    c->queued.fetch_add(tfw::HEADER_SIZE + len, std::memory_order_relaxed);
    schedule_flush(c);
}

// A large frame with nothing queued before it goes to the socket from the caller's memory;
// only what the kernel does not take at once is copied into the queue. Saves the copy of a
// large payload into the queue. false: the
// transport has no direct write (TLS, WebSocket transform their bytes), so queue as usual.
static bool emit_direct(tf_conn *c, uint8_t kind, uint32_t id, const void *data, size_t len,
                        uint64_t reserved) {
    uint8_t hdr[tfw::HEADER_SIZE];
    tfw::header_write(hdr, kind, id, (uint32_t)len);
    ssize_t w = c->io->write_direct(hdr, sizeof hdr, data, len);
    if (w == tfx::IO_NO_DIRECT) return false;
    // An error is left to the flush, which meets it again on the queued rest and ends the
    // connection the usual way.
    size_t done = w > 0 ? (size_t)w : 0;
    c->bytes_out.fetch_add(done, std::memory_order_relaxed);
    if (done < sizeof hdr) evbuffer_add(c->out, hdr + done, sizeof hdr - done);
    size_t from = done > sizeof hdr ? done - sizeof hdr : 0;
    if (from < len) evbuffer_add(c->out, static_cast<const uint8_t *>(data) + from, len - from);
    uint64_t added = evbuffer_get_length(c->out);
    if (added >= reserved) {
        c->queued.fetch_add(added - reserved, std::memory_order_relaxed);
    } else {
        c->queued.fetch_sub(std::min<uint64_t>(reserved - added, c->queued.load()),
                            std::memory_order_relaxed);
    }
    if (added) schedule_flush(c);
    return true;
}

void conn_emit(tf_conn *c, uint8_t kind, uint32_t id, const void *data, size_t len,
               uint64_t reserved) {
    // `queued` counts what the wire will carry: the filter may add bytes to the frame.
    size_t before = evbuffer_get_length(c->out) + c->small_len;
    // Application messages only: sub-protocols (files) pace themselves on the queue emptying
    // (conn_ext::on_flushed), which a direct write would skip.
    if ((len >= DIRECT_MIN ||
         (len >= tf_conn::SMALL_CAP && c->io && len >= c->io->direct_min())) &&
        tfw::is_msg_kind(kind) && before == 0 && !c->txf && c->io &&
        c->phase.load(std::memory_order_relaxed) == PH_OPEN && emit_direct(c, kind, id, data, len, reserved))
        return;
    if (!c->txf && c->io && c->io->can_write_direct()) {
        uint8_t hdr[tfw::HEADER_SIZE];
        tfw::header_write(hdr, kind, id, (uint32_t)len);
        if (stage_small(c, hdr, sizeof hdr, data, len)) {
            uint64_t n = sizeof hdr + len;
            if (n >= reserved)
                c->queued.fetch_add(n - reserved, std::memory_order_relaxed);
            else
                c->queued.fetch_sub(std::min<uint64_t>(reserved - n, c->queued.load()),
                                    std::memory_order_relaxed);
            schedule_flush(c);
            return;
        }
    }
    spill_small(c);
    before = evbuffer_get_length(c->out);
    if (c->txf) {
        c->txf->emit(c, c->out, kind, id, data, len);
    } else {
        put_frame(c->out, kind, id, data, len);
    }
    uint64_t added = evbuffer_get_length(c->out) - before;
    if (added >= reserved) {
        c->queued.fetch_add(added - reserved, std::memory_order_relaxed);
    } else {
        c->queued.fetch_sub(std::min<uint64_t>(reserved - added, c->queued.load()),
                            std::memory_order_relaxed);
    }
    schedule_flush(c);
}

int conn_emit_file(tf_conn *c, uint8_t kind, uint32_t id, evbuffer_file_segment *seg,
                   uint64_t off, size_t len) {
    uint8_t hdr[tfw::HEADER_SIZE];
    tfw::header_write(hdr, kind, id, (uint32_t)len);
    // Built aside, so that a failure leaves no half frame in the queue. Without the flag
    // libevent would map or read the segment into memory instead of using sendfile(2).
    evbuffer *frame = evbuffer_new();
    if (!frame) return TRUFLUX_ENOMEM;
    evbuffer_set_flags(frame, EVBUFFER_FLAG_DRAINS_TO_FD);
    if (evbuffer_add(frame, hdr, sizeof hdr) != 0 ||
        evbuffer_add_file_segment(frame, seg, (ev_off_t)off, (ev_off_t)len) != 0) {
        evbuffer_free(frame);
        return TRUFLUX_ENOMEM;
    }
    if (c->io) c->io->expect_file_segments();
    spill_small(c);
    evbuffer_add_buffer(c->out, frame);
    evbuffer_free(frame);
    c->queued.fetch_add(tfw::HEADER_SIZE + len, std::memory_order_relaxed);
    schedule_flush(c);
    return 0;
}

void conn_add_ext(tf_conn *c, conn_ext *ext) { c->exts.push_back(ext); }

// Queues a control frame (counted in `queued` like any other).
static void queue_control(tf_conn *c, uint8_t kind, uint32_t id, const void *data, size_t len) {
    conn_emit(c, kind, id, data, len, 0);
}

static void queue_close(tf_conn *c, int code, const char *text) {
    size_t tl = text ? strlen(text) : 0;
    if (tl > tfw::MAX_CONTROL_PAYLOAD) tl = tfw::MAX_CONTROL_PAYLOAD;
    queue_control(c, tfw::KIND_CLOSE, (uint32_t)(code < 0 ? -code : code), text, tl);
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void conn_push_frame(tf_conn *c, const uint8_t *frame, size_t n) {
    c->msgs_out.fetch_add(1, std::memory_order_relaxed);
    if (!c->txf) {
        if (!stage_small(c, frame, n, nullptr, 0)) {
            spill_small(c);
            evbuffer_add(c->out, frame, n);
        }
        schedule_flush(c);
        return;
    }
    conn_emit(c, frame[0], get_u32(frame + 1) & 0x7FFFFFFFu, frame + tfw::HEADER_SIZE,
              n - tfw::HEADER_SIZE, n);
}

// ---- ending ---------------------------------------------------------------------------

static void enter_linger(tf_conn *c) {
    c->phase.store(PH_LINGER, std::memory_order_release);
    drop_event(c, &c->tick);
    drop_event(c, &c->more_ev);
    if (c->fd < 0) return;
    arm_timer(c, std::min(c->cfg.close_ms ? c->cfg.close_ms : LINGER_MS, LINGER_MS));
    if (evbuffer_get_length(c->out) == 0 && c->small_len == 0) {
        finish_linger_write(c);
    } else {
        schedule_flush(c);
    }
}

static void finish_linger_write(tf_conn *c) {
    if (c->fd < 0) return;
    endpoint *ep = c->owner;
    if (!ep || ep->is_client) {
        // A client reconnects on the same object, so it does not wait for the peer's EOF.
        teardown(c);
        return;
    }
    // Half-close and keep reading (discarding) until EOF, so that unread input does not turn
    // our close into a reset that could destroy the CLOSE frame in flight.
    c->io->shutdown_write();
}

// Ends the connection: reports, then lingers. send_close: queue CLOSE(code) first.
static void end_conn(tf_conn *c, int reason, bool remote, bool send_close, int close_code,
                     bool error, const char *detail) {
    int ph = c->phase.load(std::memory_order_relaxed);
    if (ph >= PH_LINGER) return;
    bool was_open = ph == PH_OPEN || ph == PH_CLOSING;
    if (send_close && c->fd >= 0 && ph >= PH_HELLO) queue_close(c, close_code, detail);
    enter_linger(c);
    for (size_t i = 0; i < c->exts.size(); i++) c->exts[i]->on_end(c, reason);
    endpoint *ep = c->owner;
    if (ep && !ep->silent) {
        if (error && ep->cbs.on_error)
            ep->cbs.on_error(ep->cbs.user, c, reason, detail ? detail : tf_strerror(reason));
    }
    if (c->owner) c->owner->conn_ended(c, reason, remote, was_open);
}

void conn_fail(tf_conn *c, int code, const char *detail) {
    end_conn(c, code, false, true, code, true, detail);
}

void conn_connect_failed(tf_conn *c, int code, const char *detail) {
    teardown(c);
    c->phase.store(PH_IDLE, std::memory_order_release);
    endpoint *ep = c->owner;
    if (ep && !ep->silent && ep->cbs.on_error) ep->cbs.on_error(ep->cbs.user, c, code, detail);
    if (c->owner) c->owner->conn_ended(c, code, false, false);
}

void conn_abort_silent(tf_conn *c) {
    int ph = c->phase.load(std::memory_order_relaxed);
    if (ph == PH_CLOSED) return;
    c->phase.store(PH_LINGER, std::memory_order_release);
    // Extensions still hear of the end (their owner is silent, so they report nothing): they
    // release what they hold, such as file transfers holding the connection.
    if (ph >= PH_TRANSPORT && ph < PH_LINGER)
        for (size_t i = 0; i < c->exts.size(); i++) c->exts[i]->on_end(c, TRUFLUX_ECLOSED);
    teardown(c);
    c->phase.store(PH_CLOSED, std::memory_order_release);
}

// ---- the hello ------------------------------------------------------------------------

static int check_hello(tf_conn *c, const tfw::frame &f, uint8_t expect_kind, const char **why) {
    if (f.kind != expect_kind) {
        *why = expect_kind == tfw::KIND_HELLO ? "first frame is not a HELLO"
                                              : "answer is not a WELCOME";
        return TRUFLUX_EPROTO;
    }
    // The version comes before the rest of the layout, which another major may change.
    if (f.len >= 6 && memcmp(f.payload, tfw::HELLO_MAGIC, 4) == 0 &&
        f.payload[4] != TRUFLUX_WIRE_VERSION_MAJOR) {
        *why = "unsupported wire protocol version";
        return TRUFLUX_EVERSION;
    }
    tfw::hello h;
    if (tfw::hello_decode(f.payload, f.len, &h) != 0) {
        *why = "malformed hello";
        return TRUFLUX_EPROTO;
    }
    if (h.major != TRUFLUX_WIRE_VERSION_MAJOR) {
        *why = "unsupported wire protocol version";
        return TRUFLUX_EVERSION;
    }
    bool strict = c->cfg.strict || (h.flags & tfw::HELLO_FLAG_STRICT);
    if (strict && memcmp(h.fingerprint, c->proto->fp, 32) != 0) {
        *why = "protocol fingerprints differ";
        return TRUFLUX_EFINGERPRINT;
    }
    c->peer_ids = std::move(h.ids);
    c->peer_max = h.max_message ? h.max_message : 0x7FFFFFFF;
    c->peer_caps = h.caps;
    c->peer_exts = std::move(h.exts);
    return 0;
}

static void start_tick(tf_conn *c);

static void announce_open(tf_conn *c) {
    endpoint *ep = c->owner;
    if (ep) ep->conn_opened(c);
    if (ep && !ep->silent && ep->cbs.on_open) ep->cbs.on_open(ep->cbs.user, c);
}

// hold: an extension keeps the application from seeing the open (PH_SECURING) until it
// calls conn_finish_open; the handshake timer keeps running meanwhile.
static void become_open(tf_conn *c, bool hold) {
    if (hold) {
        c->phase.store(PH_SECURING, std::memory_order_release);
    } else {
        arm_timer(c, 0);
        c->phase.store(PH_OPEN, std::memory_order_release);
        start_tick(c);
    }
    for (size_t i = 0; i < c->exts.size(); i++) c->exts[i]->on_open(c);
    if (!hold && c->phase.load(std::memory_order_relaxed) == PH_OPEN) announce_open(c);
}

static void release_pending(tf_conn *c);

void conn_finish_open(tf_conn *c) {
    if (c->phase.load(std::memory_order_relaxed) != PH_SECURING) return;
    arm_timer(c, 0);
    c->phase.store(PH_OPEN, std::memory_order_release);
    start_tick(c);
    announce_open(c);
    endpoint *ep = c->owner;
    if (ep && ep->is_client && c->phase.load(std::memory_order_relaxed) == PH_OPEN)
        release_pending(c);
}

// Moves what a client queued before the hello to the socket, dropping (and reporting)
// messages the peer does not define.
static void release_pending(tf_conn *c) {
    evbuffer *p = c->pending;
    while (evbuffer_get_length(p) >= tfw::HEADER_SIZE) {
        uint8_t hdr[tfw::HEADER_SIZE];
        evbuffer_copyout(p, hdr, sizeof hdr);
        uint32_t id = ((uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 8 |
                       hdr[4]) & 0x7FFFFFFFu;
        uint32_t len = (uint32_t)hdr[5] << 24 | (uint32_t)hdr[6] << 16 | (uint32_t)hdr[7] << 8 |
                       hdr[8];
        size_t n = tfw::HEADER_SIZE + len;
        if (peer_knows(c, id) && len <= c->peer_max) {
            if (!c->txf) {
                spill_small(c);
                evbuffer_remove_buffer(p, c->out, n);
            } else {
                std::vector<uint8_t> frame(n);
                evbuffer_remove(p, frame.data(), n);
                conn_emit(c, frame[0], id, frame.data() + tfw::HEADER_SIZE, len, n);
            }
        } else {
            evbuffer_drain(p, n);
            c->queued.fetch_sub(std::min<uint64_t>(n, c->queued.load()), std::memory_order_relaxed);
            endpoint *ep = c->owner;
            bool known = peer_knows(c, id);
            if (ep && !ep->silent && ep->cbs.on_error)
                ep->cbs.on_error(ep->cbs.user, c, known ? TRUFLUX_EMSGSIZE : TRUFLUX_EPEERUNKNOWN,
                                 known ? "message queued before open dropped: larger than the "
                                         "peer's maximum message size"
                                       : "message queued before open dropped: the peer does "
                                         "not define it");
        }
    }
    schedule_flush(c);
}

// ---- reading --------------------------------------------------------------------------

static void handle_close_frame(tf_conn *c, const tfw::frame &f) {
    int code = -(int)f.id;
    int ph = c->phase.load(std::memory_order_relaxed);
    if (ph == PH_CLOSING) {
        // The answer to our CLOSE: the handshake is complete.
        end_conn(c, c->close_code, false, false, 0, false, nullptr);
        return;
    }
    std::string text(reinterpret_cast<const char *>(f.payload), f.len);
    bool error = code != 0;
    std::string detail = error ? std::string("closed by peer: ") + tf_strerror(code) : "";
    if (error && !text.empty()) detail += " (" + text + ")";
    end_conn(c, code, true, true, 0, error, error ? detail.c_str() : nullptr);
}

static bool dispatch_message(tf_conn *c, const tfw::frame &f) {
    const tfp::message *m = c->proto->find(f.id);
    if (!m) {
        conn_fail(c, TRUFLUX_EUNKNOWN, "message id not defined by the receiver");
        return false;
    }
    int type = tfw::msg_type(f.kind);
    int rc = tf_protocol::check(*m, type, f.payload, f.len, c->cfg.max_message);
    if (rc != 0) {
        conn_fail(c, rc, "payload breaks the message's schema");
        return false;
    }
    if (m->states && !(m->states & (1u << c->state))) {
        conn_fail(c, TRUFLUX_ESTATE, "message not valid in the connection's state");
        return false;
    }
    c->msgs_in.fetch_add(1, std::memory_order_relaxed);
    tf_message_t msg = {f.id, m->name.c_str(), type, f.payload, f.len};
    endpoint *ep = c->owner;
    if (!ep || ep->silent) return false;
    if (m->cb) {
        m->cb(m->user, c, &msg);
    } else if (ep->cbs.on_message) {
        ep->cbs.on_message(ep->cbs.user, c, &msg);
    }
    return true;
}

// Handles one frame. Returns false when the connection stopped reading.
static bool handle_frame(tf_conn *c, const tfw::frame &f) {
    int ph = c->phase.load(std::memory_order_relaxed);
    const char *why = nullptr;
    if (ph == PH_HELLO) {
        endpoint *ep = c->owner;
        if (!ep) return false;
        if (f.kind == tfw::KIND_CLOSE) {
            handle_close_frame(c, f);
            return false;
        }
        uint8_t expect = ep->is_client ? tfw::KIND_WELCOME : tfw::KIND_HELLO;
        int rc = check_hello(c, f, expect, &why);
        if (rc != 0) {
            conn_fail(c, rc, why);
            return false;
        }
        bool hold = false;
        for (size_t i = 0; i < c->exts.size(); i++) {
            int r = c->exts[i]->on_hello(c);
            if (r < 0) {
                // Refused; the extension usually failed the connection itself, with details.
                if (c->phase.load(std::memory_order_relaxed) == PH_HELLO)
                    conn_fail(c, r, "peer refused during the opening");
                return false;
            }
            if (r == conn_ext::HOLD_OPEN) hold = true;
        }
        // The extensions have read the hello's extension values: a connection that stays
        // open for hours need not keep them.
        std::vector<tfw::hello_ext>().swap(c->peer_exts);
        if (!ep->is_client) {
            queue_control(c, tfw::KIND_WELCOME, 0, ep->hello.data(), ep->hello.size());
            become_open(c, hold);
        } else {
            become_open(c, hold);
            if (c->phase.load(std::memory_order_relaxed) == PH_OPEN) release_pending(c);
        }
        return c->phase.load(std::memory_order_relaxed) <= PH_CLOSING;
    }
    if (c->rxf) return c->rxf->on_frame(c, f);
    return conn_dispatch(c, f);
}

bool conn_dispatch(tf_conn *c, const tfw::frame &f) {
    int ph = c->phase.load(std::memory_order_relaxed);
    if (ph == PH_SECURING) {
        // Held open: only a CLOSE and the frames of the extension that holds it.
        if (f.kind == tfw::KIND_CLOSE) {
            handle_close_frame(c, f);
            return false;
        }
        for (conn_ext *e : c->exts) {
            if (f.kind >= e->kind_lo && f.kind <= e->kind_hi) {
                if (!e->on_frame(c, f)) return false;
                return c->phase.load(std::memory_order_relaxed) <= PH_CLOSING;
            }
        }
        conn_fail(c, TRUFLUX_EPROTO, "frame before the connection is open");
        return false;
    }
    if (ph != PH_OPEN && ph != PH_CLOSING) return false;
    if (tfw::is_msg_kind(f.kind)) {
        if (!dispatch_message(c, f)) return false;
        return c->phase.load(std::memory_order_relaxed) <= PH_CLOSING;
    }
    switch (f.kind) {
    case tfw::KIND_PING:
        if (ph == PH_OPEN) queue_control(c, tfw::KIND_PONG, 0, f.payload, f.len);
        return true;
    case tfw::KIND_PONG:
        return true;
    case tfw::KIND_CLOSE:
        handle_close_frame(c, f);
        return false;
    case tfw::KIND_ERROR: {
        endpoint *ep = c->owner;
        if (f.len < 4) {
            conn_fail(c, TRUFLUX_EPROTO, "ERROR frame shorter than its code");
            return false;
        }
        uint32_t mag = (uint32_t)f.payload[0] << 24 | (uint32_t)f.payload[1] << 16 |
                       (uint32_t)f.payload[2] << 8 | f.payload[3];
        std::string text(reinterpret_cast<const char *>(f.payload + 4), f.len - 4);
        if (ep && !ep->silent && ep->cbs.on_error)
            ep->cbs.on_error(ep->cbs.user, c, -(int)(mag & 0x7FFFFFFF), text.c_str());
        return c->phase.load(std::memory_order_relaxed) <= PH_CLOSING;
    }
    default:
        for (conn_ext *e : c->exts) {
            if (f.kind >= e->kind_lo && f.kind <= e->kind_hi) {
                if (!e->on_frame(c, f)) return false;
                return c->phase.load(std::memory_order_relaxed) <= PH_CLOSING;
            }
        }
        conn_fail(c, TRUFLUX_EPROTO, "unexpected frame kind after the hello");
        return false;
    }
}

// Handles buffered frames, at most READ_BUDGET; returns true if it stopped on the budget.
static bool process(tf_conn *c) {
    for (int i = 0; i < READ_BUDGET; i++) {
        tfw::frame f;
        int r = c->in.next(&f);
        if (r == 0) return false;
        if (r < 0) {
            conn_fail(c, r, r == TRUFLUX_EMSGSIZE ? "frame larger than the maximum size"
                                                  : "malformed frame");
            return false;
        }
        if (!handle_frame(c, f)) return false;
        if (c->fd < 0) return false;
    }
    return true;
}

static void read_eof(tf_conn *c, int err) {
    int ph = c->phase.load(std::memory_order_relaxed);
    if (ph == PH_LINGER) {
        teardown(c);
        return;
    }
    if (ph == PH_CLOSING) {
        // The peer closed the socket instead of answering: the close is done all the same.
        end_conn(c, c->close_code, false, false, 0, false, nullptr);
        teardown(c);
        return;
    }
    int code = err ? err : TRUFLUX_EEOF;
    // The secure layer tells a truncated encrypted stream apart from a plain end.
    int seen = c->rxf ? c->rxf->on_eof(c, code) : code;
    bool opening = ph == PH_HELLO || ph == PH_TRANSPORT || ph == PH_SECURING;
    // A violation the transport found (a WebSocket peer breaking RFC 6455 before its HELLO)
    // is an error a server reports too: a connection never open gets no on_close.
    bool violation = err && err != TRUFLUX_EEOF && err != TRUFLUX_ECONNRESET && err != TRUFLUX_EIO;
    end_conn(c, seen, true, false, 0,
             (opening && ((c->owner && c->owner->is_client) || violation)) || seen != code,
             seen != TRUFLUX_EEOF ? tf_strerror(seen)
                                  : "peer closed the connection without a close frame");
    teardown(c);
}

static void schedule_more(tf_conn *c) {
    if (!c->more_ev) return;
    struct timeval zero = {0, 0};
    event_add(c->more_ev, &zero);
}

static void transport_done(tf_conn *c) {
    c->transport.store(c->io->name(), std::memory_order_relaxed);
    c->phase.store(PH_HELLO, std::memory_order_release);
    endpoint *ep = c->owner;
    if (ep) ep->transport_ready(c);
    if (c->phase.load(std::memory_order_relaxed) != PH_HELLO) return;  // refused there
    if (ep && ep->is_client) queue_control(c, tfw::KIND_HELLO, 0, ep->hello.data(), ep->hello.size());
    if (c->io->has_pending()) schedule_more(c);
}

// Advances the transport's handshake (TLS, HTTP upgrade).
static void step_transport(tf_conn *c) {
    ssize_t r = c->io->handshake();
    if (r == 0) {
        disarm_write(c);
        transport_done(c);
    } else if (r == tfx::IO_WANT_WRITE) {
        arm_write(c);
    } else if (r == tfx::IO_WANT_READ) {
        disarm_write(c);
    } else {
        // Copied: a client's end_conn tears the stream (and its detail) down before on_error.
        const char *d = c->io->error_detail();
        std::string why = d ? d : "transport handshake failed";
        end_conn(c, (int)r, false, false, 0, true, why.c_str());
        teardown(c);
    }
}

// Discards what a lingering connection still receives, until EOF.
static void read_discard(tf_conn *c) {
    uint8_t sink[16384];
    for (int i = 0; i < 16 && c->io; i++) {
        ssize_t n = c->io->read(sink, sizeof sink);
        if (n > 0) continue;
        if (n == tfx::IO_WANT_READ || n == tfx::IO_WANT_WRITE) break;
        teardown(c);
        break;
    }
}

// One read from the transport into the decoder, then the frames it completed. Frames the
// budget leaves, and bytes the transport holds decoded, are handled on the next iteration.
// A connection between frames reads into its loop's receive buffer and keeps only a partial
// frame's bytes (decoder::settle), so an idle connection holds no receive buffer.
static uint8_t *lend_rx(tf_conn *c, size_t *room) {
    tf_loop *loop = c->loop;
    // A large buffer of the connection's own (a stream of large messages) is read into as is.
    if (loop->rx_busy || c->in.pending() != 0 || c->in.capacity() > READ_CHUNK) return nullptr;
    if (!loop->rx_buf) {
        void *p = nullptr;
        if (posix_memalign(&p, 4096, READ_CHUNK) != 0) return nullptr;
        loop->rx_buf = static_cast<uint8_t *>(p);
    }
    uint8_t *p = c->in.lend(loop->rx_buf, READ_CHUNK, room);
    if (p) loop->rx_busy = true;
    return p;
}

static void read_into(tf_conn *c, uint8_t *p, size_t room);

static void read_some(tf_conn *c) {
    size_t want = std::max(READ_CHUNK, c->in.missing());
    size_t room = 0;
    uint8_t *p = want <= READ_CHUNK ? lend_rx(c, &room) : nullptr;
    if (p) {
        read_into(c, p, room);
        c->loop->rx_busy = false;
        if (c->in.settle() != 0 && c->fd >= 0)
            conn_fail(c, TRUFLUX_ENOMEM, "no memory for the receive buffer");
        return;
    }
    p = c->in.prepare(want, &room);
    if (!p) {
        conn_fail(c, TRUFLUX_ENOMEM, "no memory for the receive buffer");
        return;
    }
    read_into(c, p, room);
}

static void read_into(tf_conn *c, uint8_t *p, size_t room) {
    if (room == 0) {
        // The buffer is full of frames the budget left for later: handle them before reading.
        if (process(c)) schedule_more(c);
        return;
    }
    ssize_t n = c->io->read(p, room);
    if (n > 0) {
        c->in.commit((size_t)n);
        c->bytes_in.fetch_add((uint64_t)n, std::memory_order_relaxed);
        c->last_rx = now_ms(c->loop);
        bool more = process(c);
        if (c->io && (more || c->io->has_pending())) schedule_more(c);
    } else if (n == 0) {
        read_eof(c, 0);
    } else if (n == tfx::IO_WANT_WRITE) {
        arm_write(c);
    } else if (n != tfx::IO_WANT_READ) {
        read_eof(c, (int)n);
    }
    // What the read made the transport answer (a WebSocket pong) goes out soon.
    if (c->io && c->io->has_output()) schedule_flush(c);
}

static void on_read(evutil_socket_t, short, void *arg) {
    tf_conn *c = static_cast<tf_conn *>(arg);
    scope s(c->loop);
    conn_retain(c);
    switch (c->phase.load(std::memory_order_relaxed)) {
    case PH_TRANSPORT: step_transport(c); break;
    case PH_LINGER: read_discard(c); break;
    case PH_HELLO:
    case PH_SECURING:
    case PH_OPEN:
    case PH_CLOSING:
        c->in_read = true;
        read_some(c);
        c->in_read = false;
        if (c->flush_scheduled) flush_now(c);
        break;
    default: break;
    }
    conn_release(c);
}

static void on_more(evutil_socket_t, short, void *arg) {
    tf_conn *c = static_cast<tf_conn *>(arg);
    scope s(c->loop);
    conn_retain(c);
    int ph = c->phase.load(std::memory_order_relaxed);
    if (ph >= PH_HELLO && ph <= PH_CLOSING) {
        if (process(c)) {
            schedule_more(c);
        } else if (c->io && c->io->has_pending() &&
                   c->phase.load(std::memory_order_relaxed) <= PH_CLOSING) {
            read_some(c);
        }
    }
    conn_release(c);
}

static void on_write(evutil_socket_t, short, void *arg) {
    tf_conn *c = static_cast<tf_conn *>(arg);
    scope s(c->loop);
    conn_retain(c);
    if (c->phase.load(std::memory_order_relaxed) == PH_TRANSPORT) {
        step_transport(c);
    } else {
        flush_now(c);
    }
    conn_release(c);
}

static void on_flush(evutil_socket_t, short, void *arg) {
    tf_conn *c = static_cast<tf_conn *>(arg);
    scope s(c->loop);
    conn_retain(c);
    flush_now(c);
    conn_release(c);
}

static void on_timer(evutil_socket_t, short, void *arg) {
    tf_conn *c = static_cast<tf_conn *>(arg);
    scope s(c->loop);
    conn_retain(c);
    switch (c->phase.load(std::memory_order_relaxed)) {
    case PH_TRANSPORT:
    case PH_HELLO:
    case PH_SECURING:
        conn_fail(c, TRUFLUX_EHELLOTIMEOUT,
                  c->phase.load(std::memory_order_relaxed) == PH_SECURING
                      ? "the secure handshake did not finish within the handshake timeout"
                      : "no hello within the handshake timeout");
        if (c->fd >= 0 && c->phase.load(std::memory_order_relaxed) == PH_LINGER &&
            evbuffer_get_length(c->out) == 0 && c->small_len == 0)
            teardown(c);
        break;
    case PH_CLOSING:
        end_conn(c, c->close_code, false, false, 0, false, nullptr);
        teardown(c);
        break;
    case PH_LINGER:
        teardown(c);
        break;
    default:
        break;
    }
    conn_release(c);
}

static void on_tick(evutil_socket_t, short, void *arg) {
    tf_conn *c = static_cast<tf_conn *>(arg);
    scope s(c->loop);
    if (c->phase.load(std::memory_order_relaxed) != PH_OPEN) return;
    conn_retain(c);
    uint64_t now = now_ms(c->loop);
    uint64_t quiet = now - c->last_rx;
    for (conn_ext *x : c->exts) x->on_tick(c);
    if (c->io) c->io->trim();
    if (c->cfg.idle_ms && quiet >= c->cfg.idle_ms) {
        conn_fail(c, TRUFLUX_EIDLE, "nothing received within the idle timeout");
    } else if (c->cfg.heartbeat_ms && quiet >= c->cfg.heartbeat_ms &&
               now - c->last_ping >= c->cfg.heartbeat_ms) {
        uint8_t stamp[8];
        for (int i = 0; i < 8; i++) stamp[i] = (uint8_t)(now >> (56 - 8 * i));
        queue_control(c, tfw::KIND_PING, 0, stamp, sizeof stamp);
        c->last_ping = now;
    }
    conn_release(c);
}

static void start_tick(tf_conn *c) {
    uint32_t a = c->cfg.idle_ms, b = c->cfg.heartbeat_ms;
    uint32_t base = a && b ? std::min(a, b) : (a ? a : b);
    if (!base) return;
    uint32_t period = std::max<uint32_t>(base / 4, 5);
    c->tick = event_new(c->loop->base, -1, EV_PERSIST, on_tick, c);
    if (!c->tick) return;
    struct timeval tv = {(time_t)(period / 1000), (suseconds_t)((period % 1000) * 1000)};
    event_add(c->tick, &tv);
}

int conn_attach(tf_conn *c, int fd, tfx::stream *io) {
    event_base *base = c->loop->base;
    c->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_read, c);
    c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    c->flush_ev = event_new(base, -1, 0, on_flush, c);
    c->more_ev = event_new(base, -1, 0, on_more, c);
    c->timer = event_new(base, -1, 0, on_timer, c);
    if (!io || !c->rev || !c->wev || !c->flush_ev || !c->more_ev || !c->timer) {
        for (event **e : {&c->rev, &c->wev, &c->flush_ev, &c->more_ev, &c->timer}) {
            if (*e) event_free(*e);
            *e = nullptr;
        }
        delete io;
        return TRUFLUX_ENOMEM;
    }
    // A fresh decoder per socket (a client reattaches after a reconnect).
    c->in.~decoder();
    new (&c->in) tfw::decoder(c->cfg.max_message);
    c->fd = fd;
    c->io = io;
    if (c->cfg.nodelay) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    record_addresses(c);
    c->last_rx = now_ms(c->loop);
    c->close_code = 0;
    c->state = 0;
    for (conn_ext *e : c->exts) e->on_attach(c);
    c->phase.store(PH_TRANSPORT, std::memory_order_release);
    event_add(c->rev, nullptr);
    arm_timer(c, c->cfg.handshake_ms);
    step_transport(c);
    return 0;
}

// ---- sending from any thread ----------------------------------------------------------

namespace {
struct send_post {
    tf_conn *c;
    size_t n;
    uint8_t frame[1];  // n bytes follow
};
}  // namespace

static void append_message(tf_conn *c, const uint8_t *frame, size_t n) {
    int ph = c->phase.load(std::memory_order_relaxed);
    if (ph == PH_OPEN) {
        conn_push_frame(c, frame, n);
    } else if (ph < PH_OPEN && c->pending) {
        evbuffer_add(c->pending, frame, n);
        c->msgs_out.fetch_add(1, std::memory_order_relaxed);
    } else {
        c->queued.fetch_sub(std::min<uint64_t>(n, c->queued.load()), std::memory_order_relaxed);
    }
}

static void run_send_post(void *arg) {
    send_post *p = static_cast<send_post *>(arg);
    append_message(p->c, p->frame, p->n);
    conn_release(p->c);
    free(p);
}

// Reserves queue space: false (EAGAIN) if the queue is non-empty and would pass the mark.
bool conn_reserve(tf_conn *c, uint64_t n) {
    uint64_t q = c->queued.load(std::memory_order_relaxed);
    for (;;) {
        if (q > 0 && q + n > c->cfg.hwm) {
            c->want_drain.store(true, std::memory_order_relaxed);
            return false;
        }
        if (c->queued.compare_exchange_weak(q, q + n, std::memory_order_relaxed)) return true;
    }
}

int conn_send(tf_conn *c, uint32_t id, int type, const void *data, size_t len) {
    if (type < TRUFLUX_TYPE_EMPTY || type > TRUFLUX_TYPE_MSGPACK) return TRUFLUX_EINVAL;
    if (!data && len) return TRUFLUX_EINVAL;
    int ph = c->phase.load(std::memory_order_acquire);
    bool client = c->pending != nullptr;
    if (ph >= PH_CLOSING || (!client && ph != PH_OPEN)) return TRUFLUX_ECLOSED;
    const tfp::message *m = c->proto->find(id);
    if (!m) return TRUFLUX_ENOTFOUND;
    int rc = tf_protocol::check(*m, type, data, len, c->cfg.max_message);
    if (rc) return rc;
    if (ph == PH_OPEN) {
        if (!peer_knows(c, id)) return TRUFLUX_EPEERUNKNOWN;
        if (len > c->peer_max) return TRUFLUX_EMSGSIZE;
    }
    size_t n = tfw::HEADER_SIZE + len;
    if (!conn_reserve(c, n)) return TRUFLUX_EAGAIN;
    uint8_t kind = (uint8_t)(tfw::KIND_MSG | type);
    if (in_loop(c->loop)) {
        c->msgs_out.fetch_add(1, std::memory_order_relaxed);
        if (ph == PH_OPEN) {
            conn_emit(c, kind, id, data, len, n);
        } else {
            put_frame(c->pending, kind, id, data, len);
        }
        return 0;
    }
    send_post *p = static_cast<send_post *>(malloc(sizeof(send_post) + n));
    if (!p) {
        c->queued.fetch_sub(n, std::memory_order_relaxed);
        return TRUFLUX_ENOMEM;
    }
    p->c = c;
    p->n = n;
    tfw::header_write(p->frame, kind, id, (uint32_t)len);
    if (len) memcpy(p->frame + tfw::HEADER_SIZE, data, len);
    conn_retain(c);
    if (post(c->loop, run_send_post, p) != 0) {
        conn_release(c);
        free(p);
        c->queued.fetch_sub(n, std::memory_order_relaxed);
        return TRUFLUX_ECLOSED;
    }
    return 0;
}

// ---- closing from any thread ----------------------------------------------------------

static void close_in_loop(tf_conn *c, int flags, int code) {
    int ph = c->phase.load(std::memory_order_relaxed);
    endpoint *ep = c->owner;
    if (ph >= PH_LINGER || (ph == PH_CLOSING && flags != TRUFLUX_CLOSE_FORCE)) return;
    if (ep && ep->is_client && ph < PH_HELLO) {
        // Not connected: nothing to say to a peer.
        teardown(c);
        c->phase.store(PH_LINGER, std::memory_order_release);
        if (ep) ep->conn_ended(c, code, false, false);
        return;
    }
    if (flags == TRUFLUX_CLOSE_FORCE || ph <= PH_HELLO) {
        end_conn(c, code, false, false, 0, false, nullptr);
        teardown(c);
        return;
    }
    c->close_code = code;
    queue_close(c, code, nullptr);
    c->phase.store(PH_CLOSING, std::memory_order_release);
    drop_event(c, &c->tick);
    arm_timer(c, c->cfg.close_ms ? c->cfg.close_ms : 1);
}

namespace {
struct close_post {
    tf_conn *c;
    int flags, code;
};
}  // namespace

static void run_close_post(void *arg) {
    close_post *p = static_cast<close_post *>(arg);
    {
        scope s(p->c->loop);
        close_in_loop(p->c, p->flags, p->code);
    }
    conn_release(p->c);
    delete p;
}

int conn_close(tf_conn *c, int flags, int code) {
    if (flags != TRUFLUX_CLOSE_GRACEFUL && flags != TRUFLUX_CLOSE_FORCE) return TRUFLUX_EINVAL;
    if (code > 0 || code < -0x7FFFFFFF) return TRUFLUX_EINVAL;
    int ph = c->phase.load(std::memory_order_acquire);
    if (ph >= PH_LINGER) return TRUFLUX_ECLOSED;
    if (in_loop(c->loop)) {
        conn_retain(c);
        close_in_loop(c, flags, code);
        conn_release(c);
        return 0;
    }
    close_post *p = new (std::nothrow) close_post{c, flags, code};
    if (!p) return TRUFLUX_ENOMEM;
    conn_retain(c);
    if (post(c->loop, run_close_post, p) != 0) {
        conn_release(c);
        delete p;
        return TRUFLUX_ECLOSED;
    }
    return 0;
}

}  // namespace tfcore
