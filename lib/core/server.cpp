// lib/core: the server (see server.h).
#include "core/server.h"

#include <event2/event.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include <truflux/error.h>

#include "api/last_error.h"
#include "proto/protocol.h"
#include "transport/stream.h"
#include "wire/frame.h"

using namespace tfcore;

static constexpr size_t MAX_REJECTING = 64;  // over-limit sockets told CLOSE(ELIMIT) at once
static constexpr int ACCEPTS_PER_WAKE = 64;

static void release_later(void *arg) { conn_release(static_cast<tf_conn *>(arg)); }

static void report_done_later(void *arg) {
    tf_server *s = static_cast<tf_server *>(arg);
    // Deferred work runs in order, so a free() that follows is still ahead of us.
    if (!s->silent && s->cbs.on_close) s->cbs.on_close(s->cbs.user, nullptr, 0, 0);
}

// Reports the end of a shutdown once every connection is gone. With several loops the
// server is done when its last part is, and that part's loop reports it (the parts share
// the application's callbacks).
static void maybe_done(tf_server *s) {
    if (!s->close_ran || s->done_reported || s->silent || s->head) return;
    s->done_reported = true;
    if (s->primary->busy_parts.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    defer(s->loop, report_done_later, s);
}

// Takes a place under max_connections, shared by every loop of the server.
static bool reserve_place(tf_server *s) {
    std::atomic<size_t> &r = s->primary->reserved;
    size_t n = r.load(std::memory_order_relaxed);
    do {
        if (n >= s->cfg.max_connections) return false;
    } while (!r.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
    return true;
}

static void release_place(tf_server *s) {
    s->primary->reserved.fetch_sub(1, std::memory_order_relaxed);
}

void tf_server::conn_opened(tf_conn *) {
    open_count.fetch_add(1, std::memory_order_relaxed);
    counters.opened++;
}

void tf_server::conn_ended(tf_conn *c, int reason, bool remote, bool was_open) {
    if (!c->reject) counters.ended(reason, remote);
    if (!was_open) return;
    open_count.fetch_sub(1, std::memory_order_relaxed);
    if (!silent && cbs.on_close) cbs.on_close(cbs.user, c, reason, remote ? 1 : 0);
}

void tf_server::conn_gone(tf_conn *c) {
    if (c->prev) c->prev->next = c->next;
    else if (head == c) head = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = nullptr;
    if (c->reject) rejecting--;
    else release_place(this);
    counters.gone(c);
    c->owner = nullptr;
    defer(loop, release_later, c);
    maybe_done(this);
}

static void link_conn(tf_server *s, tf_conn *c) {
    c->next = s->head;
    if (s->head) s->head->prev = c;
    s->head = c;
}

static int set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

// Takes a connected socket, and the stream over it when one is ready (`ready`, owned from
// now on), else wraps it with tr. Returns 0 (fd now owned) or an error (caller keeps fd).
static int add_socket(tf_server *s, int fd, const tfx::transport *tr, void *ctx,
                      tfx::stream *ready = nullptr) {
    bool over = !reserve_place(s);
    s->counters.accepted++;
    if (over) s->counters.refused_limit++;
    tf_conn *c = over && s->rejecting >= MAX_REJECTING ? nullptr : conn_new(s);
    if (!c) {
        if (!over) release_place(s);
        delete ready;
        return over ? TRUFLUX_ELIMIT : TRUFLUX_ENOMEM;
    }
    c->reject = over;
    if (!over)
        for (auto hook : s->ext_hooks) hook(c, s);
    int rc = 0;
    tfx::stream *io = ready ? ready : tr->wrap(ctx, fd, true, std::string(), &rc);
    if (!io) {
        if (!over) release_place(s);
        conn_release(c);
        return rc;
    }
    // Linked and counted before the transport's first step, which may end the connection at
    // once (an HTTP upgrade already received and refused): conn_gone then undoes both.
    link_conn(s, c);
    if (over) s->rejecting++;
    // An over-limit socket is refused in transport_ready(), once its transport can carry the
    // CLOSE frame: at once over TCP, after the TLS handshake or HTTP upgrade otherwise.
    rc = conn_attach(c, fd, io);
    if (rc != 0) {
        s->conn_gone(c);  // unlinks, uncounts, releases (the caller keeps fd)
        return rc;
    }
    return 0;
}

void tf_server::transport_ready(tf_conn *c) {
    if (!c->reject) return;
    // Told why, then closed; the application hears of it once, without a connection.
    bool was_silent = silent;
    silent = true;
    conn_fail(c, TRUFLUX_ELIMIT, "server connection limit reached");
    silent = was_silent;
    if (!silent && cbs.on_error)
        cbs.on_error(cbs.user, nullptr, TRUFLUX_ELIMIT, "server connection limit reached");
}

static void on_resume(evutil_socket_t, short, void *arg) {
    tf_server *s = static_cast<tf_server *>(arg);
    for (auto *l : s->listeners) event_add(l->ev, nullptr);
}

static void on_accept(evutil_socket_t lfd, short, void *arg) {
    tf_server::listener *l = static_cast<tf_server::listener *>(arg);
    tf_server *s = l->server;
    scope sc(s->loop);
    for (int i = 0; i < ACCEPTS_PER_WAKE && !s->closing.load(); i++) {
        int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                errno == ECONNABORTED)
                return;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                // Out of descriptors: pause accepting briefly instead of spinning.
                for (auto *x : s->listeners) event_del(x->ev);
                struct timeval tv = {0, 100000};
                if (s->resume_ev) event_add(s->resume_ev, &tv);
                if (s->cbs.on_error) s->cbs.on_error(s->cbs.user, nullptr, TRUFLUX_EIO, strerror(errno));
            }
            return;
        }
        int rc = add_socket(s, fd, l->tr, l->ctx);
        if (rc != 0) {
            close(fd);
            if (s->cbs.on_error) s->cbs.on_error(s->cbs.user, nullptr, rc, tf_strerror(rc));
        }
    }
}

tf_server *tfcore_server_new(tf_loop *loop, tf_protocol *proto, const tf_options *opts, int *err) {
    tf_server *s = new (std::nothrow) tf_server();
    if (!s) {
        *err = TRUFLUX_ENOMEM;
        return nullptr;
    }
    s->loop = loop;
    s->proto = proto;
    proto->freeze();
    proto->retain();
    s->cfg = config_from(opts);
    s->cbs.size = sizeof s->cbs;
    build_hello(s);
    s->resume_ev = event_new(loop->base, -1, 0, on_resume, s);
    call_sync(loop, [&] { loop->objects++; });
    return s;
}

// Stops accepting. The transports' contexts (e.g. TLS configuration) stay alive until the
// server is deleted: connections accepted through them may still be closing.
static void close_listeners(tf_server *s) {
    for (auto *l : s->listeners) {
        event_free(l->ev);
        close(l->fd);
        if (l->ctx && l->tr->ctx_free) s->retired.push_back({l->tr, l->ctx});
        delete l;
    }
    s->listeners.clear();
    if (s->resume_ev) event_del(s->resume_ev);
}

static void delete_server(void *arg) {
    tf_server *s = static_cast<tf_server *>(arg);
    for (auto &r : s->retired) r.first->ctx_free(r.second);
    if (s->resume_ev) event_free(s->resume_ev);
    s->proto->release();
    s->loop->objects--;
    delete s;
}

static void free_part(tf_server *s) {
    call_sync(s->loop, [s] {
        s->silent = true;
        for (const task &t : s->at_free) t.fn(t.arg);
        s->at_free.clear();
        close_listeners(s);
        while (s->head) {
            tf_conn *c = s->head;
            conn_abort_silent(c);  // unlinks through conn_gone
            if (s->head == c) s->head = c->next;  // defensive: never loop forever
        }
        // After the current callback (and after any report already deferred).
        defer(s->loop, delete_server, s);
        if (s->loop->depth == 0 && !s->loop->running.load()) {
            // Nobody runs the loop now: run the deferred work at once.
            std::vector<task> d;
            d.swap(s->loop->deferred);
            for (auto &t : d) t.fn(t.arg);
        }
    });
}

void tfcore_server_free(tf_server *s) {
    // The parts first: once silent, none of them can report the server done.
    std::vector<tf_server *> parts;
    parts.swap(s->parts);
    for (tf_server *p : parts) free_part(p);
    free_part(s);
}

int tfcore_server_set_callbacks(tf_server *s, const tf_callbacks_t *cbs) {
    if (!cbs || cbs->size < sizeof(size_t) + sizeof(void *)) return TRUFLUX_EINVAL;
    tf_callbacks_t c{};
    memcpy(&c, cbs, std::min(cbs->size, sizeof c));
    c.size = sizeof c;
    call_sync(s->loop, [&] { s->cbs = c; });
    for (tf_server *p : s->parts) call_sync(p->loop, [&] { p->cbs = c; });
    return 0;
}

namespace {
// Where a listen of the primary bound, for its parts to bind there too.
struct bound_at {
    const tfx::transport *tr = nullptr;
    url u;
    sockaddr_storage addr{};
    socklen_t len = 0;
};
}  // namespace

// Makes the transport's per-listener context (NULL when it has none). Returns 0 or an error
// (last error set).
static int make_ctx(tf_server *s, const tfx::transport *tr, const url &u, void **ctx) {
    *ctx = nullptr;
    if (!tr->ctx_new && !tr->ctx_new_at) return 0;
    int err = TRUFLUX_EINVAL;
    std::string detail;
    *ctx = tr->ctx_new_at ? tr->ctx_new_at(s->cfg, true, u, &err, &detail)
                          : tr->ctx_new(s->cfg, true, &err, &detail);
    if (!*ctx) {
        tfapi::set_last_error(err, "%s", detail.c_str());
        return err;
    }
    return 0;
}

// Opens one listening socket on addr and starts accepting on it. `shared`: the server has
// several loops, whose sockets on the same address form one SO_REUSEPORT group. On
// success the listener owns ctx; on error the caller keeps it.
static int open_listener(tf_server *s, const sockaddr *addr, socklen_t alen, bool shared,
                         const tfx::transport *tr, void *ctx, const char *text) {
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        tfapi::set_last_error(TRUFLUX_EIO, "socket %s: %s", text, strerror(errno));
        return TRUFLUX_EIO;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (shared && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        tfapi::set_last_error(TRUFLUX_EIO, "SO_REUSEPORT %s: %s", text, strerror(errno));
        close(fd);
        return TRUFLUX_EIO;
    }
    if (addr->sa_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, addr, alen) != 0) {
        int e = errno;
        int rc = e == EADDRINUSE ? TRUFLUX_EADDRINUSE : TRUFLUX_EIO;
        tfapi::set_last_error(rc, "bind %s: %s", text, strerror(e));
        close(fd);
        return rc;
    }
    if (listen(fd, s->cfg.backlog) != 0) {
        int e = errno;
        int rc = e == EADDRINUSE ? TRUFLUX_EADDRINUSE : TRUFLUX_EIO;
        tfapi::set_last_error(rc, "listen %s: %s", text, strerror(e));
        close(fd);
        return rc;
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len);
    int bound = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port)
                                         : ntohs(reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
    auto *l = new (std::nothrow) tf_server::listener{fd, bound, nullptr, tr, ctx, s};
    event *ev = l ? event_new(s->loop->base, fd, EV_READ | EV_PERSIST, on_accept, l) : nullptr;
    if (!ev) {
        delete l;
        close(fd);
        return TRUFLUX_ENOMEM;
    }
    try {
        s->listeners.push_back(l);
    } catch (...) {
        event_free(ev);
        delete l;
        close(fd);
        return TRUFLUX_ENOMEM;
    }
    l->ev = ev;
    event_add(ev, nullptr);
    return 0;
}

// Undoes the last open_listener (a part could not follow the primary). Its context is
// retired, not freed: a connection may have been accepted through it meanwhile.
static void drop_last_listener(tf_server *s) {
    if (s->listeners.empty()) return;
    tf_server::listener *l = s->listeners.back();
    s->listeners.pop_back();
    event_free(l->ev);
    close(l->fd);
    if (l->ctx && l->tr->ctx_free) s->retired.push_back({l->tr, l->ctx});
    delete l;
}

static int listen_url(tf_server *s, const char *text, bound_at *at) {
    url u;
    if (url_parse(text, &u) != 0) {
        tfapi::set_last_error(TRUFLUX_EBADURL, "bad URL: %s", text ? text : "(null)");
        return TRUFLUX_EBADURL;
    }
    if (s->closing.load()) return TRUFLUX_ECLOSED;
    const tfx::transport *tr = tfx::find_transport(u.scheme);
    // The option makes plain TCP listeners tell WebSocket clients apart by their first octet
    // (TLS ones, after the TLS handshake).
    if (tr && s->cfg.accept_websocket && u.scheme == "tcp") tr = tfx::find_transport("tcp+ws");
    if (tr && s->cfg.accept_websocket && u.scheme == "tls") tr = tfx::find_transport("tls+ws");
    if (!tr || (!u.path.empty() && !tr->ctx_new_at)) {
        tfapi::set_last_error(TRUFLUX_EBADURL, tr ? "%s:// URLs take no path" : "unsupported scheme: %s",
                              u.scheme.c_str());
        return TRUFLUX_EBADURL;
    }
    void *ctx = nullptr;
    int rc = make_ctx(s, tr, u, &ctx);
    if (rc) return rc;
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    std::string port = std::to_string(u.port);
    int g = getaddrinfo(u.host == "*" ? nullptr : u.host.c_str(), port.c_str(), &hints, &res);
    if (g != 0) {
        if (ctx && tr->ctx_free) tr->ctx_free(ctx);
        tfapi::set_last_error(TRUFLUX_ERESOLVE, "%s: %s", u.host.c_str(), gai_strerror(g));
        return TRUFLUX_ERESOLVE;
    }
    rc = TRUFLUX_EIO;
    bool shared = !s->parts.empty();
    for (addrinfo *ai = res; ai; ai = ai->ai_next) {
        rc = open_listener(s, ai->ai_addr, ai->ai_addrlen, shared, tr, ctx, text);
        if (rc != 0) continue;
        ctx = nullptr;  // owned by the listener now
        // The address as bound: with port 0 the kernel chose the port the parts reuse.
        at->tr = tr;
        at->u = u;
        at->len = sizeof at->addr;
        getsockname(s->listeners.back()->fd, reinterpret_cast<sockaddr *>(&at->addr), &at->len);
        break;
    }
    freeaddrinfo(res);
    if (ctx && tr->ctx_free) tr->ctx_free(ctx);
    return rc;
}

// A part listens where its primary just did (part's loop thread).
static int listen_part(tf_server *p, const bound_at &at, const char *text) {
    if (p->closing.load()) return TRUFLUX_ECLOSED;
    void *ctx = nullptr;
    int rc = make_ctx(p, at.tr, at.u, &ctx);
    if (rc) return rc;
    rc = open_listener(p, reinterpret_cast<const sockaddr *>(&at.addr), at.len, true, at.tr, ctx,
                       text);
    if (rc != 0 && ctx && at.tr->ctx_free) at.tr->ctx_free(ctx);
    return rc;
}

namespace {
// A listen's result and last-error detail, carried from the loop thread that ran it (the
// last error is per thread) back to the caller.
struct outcome {
    int rc = 0;
    std::string detail;
    void take() {  // on the loop thread, after the work
        if (rc == 0) return;
        const char *d = tf_last_error() == rc ? tf_last_error_detail() : nullptr;
        detail = d && *d ? d : tf_strerror(rc);
    }
};

// "tcp://127.0.0.1:4242": the scheme of the URL and the address a listener is bound to.
std::string describe(const bound_at &at) {
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (at.addr.ss_family == AF_INET6) {
        auto *a = reinterpret_cast<const sockaddr_in6 *>(&at.addr);
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        return at.u.scheme + "://[" + host + "]:" + std::to_string(port);
    }
    auto *a = reinterpret_cast<const sockaddr_in *>(&at.addr);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
    return at.u.scheme + "://" + host + ":" + std::to_string(port);
}
}  // namespace

int tfcore_server_listen(tf_server *s, const char *url) {
    bound_at at;
    outcome out;
    s->listened.store(true);
    call_sync(s->loop, [&] {
        tfapi::set_last_error(0, "%s", "");
        out.rc = listen_url(s, url, &at);
        out.take();
    });
    size_t done = 0;
    if (out.rc == 0 && !s->parts.empty()) {
        // The parts bind the address the primary got (its port, when the URL said 0); the
        // detail of a failure names it and the loop.
        std::string where = describe(at);
        for (; done < s->parts.size(); done++) {
            tf_server *p = s->parts[done];
            std::string text = where + " (added loop " + std::to_string(done + 1) + ")";
            call_sync(p->loop, [&] {
                tfapi::set_last_error(0, "%s", "");
                out.rc = listen_part(p, at, text.c_str());
                out.take();
            });
            if (out.rc) break;
        }
        if (out.rc) {
            // All loops listen on the address or none does.
            for (size_t i = 0; i < done; i++) {
                tf_server *p = s->parts[i];
                call_sync(p->loop, [p] { drop_last_listener(p); });
            }
            call_sync(s->loop, [s] { drop_last_listener(s); });
        }
    }
    if (out.rc) tfapi::set_last_error(out.rc, "%s", out.detail.c_str());
    return out.rc;
}

int tfcore_server_port(const tf_server *s) {
    return s->listeners.empty() ? 0 : s->listeners.front()->port;
}

int tfcore_server_adopt(tf_server *s, int fd) {
    if (fd < 0) return TRUFLUX_EINVAL;
    int rc = 0;
    call_sync(s->loop, [&] {
        if (s->closing.load()) {
            rc = TRUFLUX_ECLOSED;
            return;
        }
        if (s->primary->reserved.load(std::memory_order_relaxed) >= s->cfg.max_connections) {
            s->counters.accepted++;
            s->counters.refused_limit++;
            rc = TRUFLUX_ELIMIT;
            return;
        }
        if (set_nonblocking(fd) != 0) {
            rc = TRUFLUX_EINVAL;
            return;
        }
        rc = add_socket(s, fd, tfx::find_transport("tcp"), nullptr);
    });
    return rc;
}

int tfcore_server_adopt_stream(tf_server *s, int fd, tfx::stream *io) {
    if (s->closing.load()) {
        delete io;
        return TRUFLUX_ECLOSED;
    }
    return add_socket(s, fd, nullptr, nullptr, io);
}

// Broadcast on the loop thread; frame is header + payload.
static int broadcast_frame(tf_server *s, uint32_t id, const uint8_t *frame, size_t n, size_t len,
                           tf_conn_t *const *exclude, size_t nexclude) {
    int count = 0;
    for (tf_conn *c = s->head; c; c = c->next) {
        if (c->phase.load(std::memory_order_relaxed) != PH_OPEN) continue;
        if (nexclude && std::find(exclude, exclude + nexclude, c) != exclude + nexclude) continue;
        if (!peer_knows(c, id) || len > c->peer_max) continue;
        if (!conn_reserve(c, n)) continue;
        conn_push_frame(c, frame, n);
        count++;
    }
    return count;
}

namespace {
struct bcast_post {
    tf_server *s;
    uint32_t id;
    std::vector<uint8_t> frame;
    size_t len;
    std::vector<tf_conn_t *> exclude;
};
}  // namespace

// Broadcasts on one part: at once when the caller is on its loop (returns the count),
// else posted to its loop (returns 0). frame is header + payload.
static int broadcast_part(tf_server *t, uint32_t id, const std::vector<uint8_t> &frame, size_t len,
                          tf_conn_t *const *exclude, size_t nexclude) {
    if (in_loop(t->loop))
        return broadcast_frame(t, id, frame.data(), frame.size(), len, exclude, nexclude);
    auto *p = new (std::nothrow) bcast_post();
    if (!p) return TRUFLUX_ENOMEM;
    try {
        p->s = t;
        p->id = id;
        p->len = len;
        p->frame = frame;
        p->exclude.assign(exclude, exclude + nexclude);
    } catch (...) {
        delete p;
        return TRUFLUX_ENOMEM;
    }
    // The server must outlive the post: free() runs on the loop after it (inbox order).
    int prc = post(t->loop, [](void *a) {
        auto *bp = static_cast<bcast_post *>(a);
        if (!bp->s->silent)
            broadcast_frame(bp->s, bp->id, bp->frame.data(), bp->frame.size(), bp->len,
                            bp->exclude.data(), bp->exclude.size());
        delete bp;
    }, p);
    if (prc != 0) {
        delete p;
        return prc;
    }
    return 0;
}

int tfcore_server_broadcast(tf_server *s, uint32_t id, int type, const void *data, size_t len,
                            tf_conn_t *const *exclude, size_t nexclude) {
    if (type < TRUFLUX_TYPE_EMPTY || type > TRUFLUX_TYPE_MSGPACK) return TRUFLUX_EINVAL;
    if ((!data && len) || (!exclude && nexclude)) return TRUFLUX_EINVAL;
    const tfp::message *m = s->proto->find(id);
    if (!m) return TRUFLUX_ENOTFOUND;
    int rc = tf_protocol::check(*m, type, data, len, s->cfg.max_message);
    if (rc) return rc;
    if (s->closing.load()) return TRUFLUX_ECLOSED;
    size_t n = tfw::HEADER_SIZE + len;
    std::vector<uint8_t> frame;
    try {
        frame.resize(n);
    } catch (...) {
        return TRUFLUX_ENOMEM;
    }
    tfw::header_write(frame.data(), (uint8_t)(tfw::KIND_MSG | type), id, (uint32_t)len);
    if (len) memcpy(frame.data() + tfw::HEADER_SIZE, data, len);
    // Each loop queues to its own connections; only the caller's loop counts at once.
    int count = broadcast_part(s, id, frame, len, exclude, nexclude);
    if (count < 0) return count;
    for (tf_server *p : s->parts) {
        int r = broadcast_part(p, id, frame, len, exclude, nexclude);
        if (r < 0) return r;
        count += r;
    }
    return count;
}

static void close_in_loop(tf_server *s, int flags) {
    s->closing.store(true);
    s->close_ran = true;
    close_listeners(s);
    std::vector<tf_conn *> all;
    for (tf_conn *c = s->head; c; c = c->next) all.push_back(c);
    for (tf_conn *c : all) conn_retain(c);
    for (tf_conn *c : all) {
        int ph = c->phase.load(std::memory_order_relaxed);
        if (ph == PH_OPEN && flags == TRUFLUX_CLOSE_GRACEFUL) {
            conn_close(c, TRUFLUX_CLOSE_GRACEFUL, TRUFLUX_ESHUTDOWN);
        } else if (ph < PH_LINGER) {
            conn_close(c, TRUFLUX_CLOSE_FORCE, TRUFLUX_ESHUTDOWN);
        } else if (flags == TRUFLUX_CLOSE_FORCE) {
            conn_abort_silent(c);
        }
    }
    for (tf_conn *c : all) conn_release(c);
    maybe_done(s);
}

// Starts the shutdown of one part on its loop (its `closing` is already set).
static int close_part(tf_server *s, int flags) {
    if (in_loop(s->loop)) {
        close_in_loop(s, flags);
        return 0;
    }
    struct cp {
        tf_server *s;
        int flags;
    };
    auto *p = new (std::nothrow) cp{s, flags};
    if (!p) return TRUFLUX_ENOMEM;
    if (post(s->loop, [](void *a) {
            auto *q = static_cast<cp *>(a);
            if (!q->s->silent) close_in_loop(q->s, q->flags);
            delete q;
        }, p) != 0) {
        delete p;
        return TRUFLUX_ECLOSED;
    }
    return 0;
}

int tfcore_server_close(tf_server *s, int flags) {
    if (flags != TRUFLUX_CLOSE_GRACEFUL && flags != TRUFLUX_CLOSE_FORCE) return TRUFLUX_EINVAL;
    if (s->closing.exchange(true)) return TRUFLUX_ECLOSED;
    // Set before any part can finish: the last of them reports the server done.
    s->busy_parts.store(1 + s->parts.size(), std::memory_order_release);
    for (tf_server *p : s->parts) p->closing.store(true);
    int rc = 0;
    for (tf_server *p : s->parts) {
        int r = close_part(p, flags);
        if (r && !rc) rc = r;
    }
    int r = close_part(s, flags);
    return rc ? rc : r;
}

int tfcore_server_add_loop(tf_server *s, tf_loop *loop,
                           const std::function<int(tf_server *, std::string *)> &setup,
                           std::string *detail) {
    if (!loop || loop == s->loop || s->primary != s) return TRUFLUX_EINVAL;
    if (s->listened.load() || s->closing.load()) return TRUFLUX_EINVAL;
    for (tf_server *p : s->parts)
        if (p->loop == loop) return TRUFLUX_EINVAL;
    std::unique_ptr<tf_server> p(new (std::nothrow) tf_server());
    if (!p) return TRUFLUX_ENOMEM;
    p->primary = s;
    p->loop = loop;
    p->proto = s->proto;
    p->cfg = s->cfg;
    call_sync(s->loop, [&] { p->cbs = s->cbs; });
    s->parts.reserve(s->parts.size() + 1);
    // On the loop's thread: it may be running already. The loop cannot be freed before the
    // server (its part lives on it).
    int rc = 0;
    call_sync(loop, [&] {
        // Nothing may escape into the loop that runs this.
        try {
            build_hello(p.get());
            if (setup) rc = setup(p.get(), detail);
        } catch (...) {
            rc = TRUFLUX_ENOMEM;
        }
        if (rc) return;
        p->resume_ev = event_new(loop->base, -1, 0, on_resume, p.get());
        if (!p->resume_ev) {
            rc = TRUFLUX_ENOMEM;
            return;
        }
        loop->objects++;
    });
    // A part that failed held no connection: its layers' objects can go from here.
    if (rc) return rc;
    p->proto->retain();
    s->parts.push_back(p.release());
    return 0;
}

size_t tfcore_server_count(const tf_server *s) {
    size_t n = s->open_count.load(std::memory_order_relaxed);
    for (const tf_server *p : s->parts) n += p->open_count.load(std::memory_order_relaxed);
    return n;
}

int tfcore_server_stats(const tf_server *s, tf_server_stats_t *out) {
    // Every member after `size` is a uint64_t counter: the parts' figures add up.
    static_assert((sizeof(tf_server_stats_t) - offsetof(tf_server_stats_t, accepted)) %
                          sizeof(uint64_t) == 0,
                  "tf_server_stats_t: counters only after size");
    tf_server_stats_t sum;
    memset(&sum, 0, sizeof sum);
    sum.size = sizeof sum;
    call_sync(s->loop, [&] { server_stats(s, &sum); });
    for (const tf_server *p : s->parts) {
        tf_server_stats_t one;
        memset(&one, 0, sizeof one);
        one.size = sizeof one;
        call_sync(p->loop, [&] { server_stats(p, &one); });
        uint64_t *to = &sum.accepted;
        const uint64_t *from = &one.accepted;
        size_t k = (sizeof sum - offsetof(tf_server_stats_t, accepted)) / sizeof(uint64_t);
        for (size_t i = 0; i < k; i++) to[i] += from[i];
    }
    size_t n = std::min(out->size, sizeof sum);
    memcpy(out, &sum, n);
    out->size = n;
    return 0;
}
