// lib/core: the server (see server.h).
#include "core/server.h"

#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
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

// Reports the end of a shutdown once every connection is gone.
static void maybe_done(tf_server *s) {
    if (!s->close_ran || s->done_reported || s->silent || s->head) return;
    s->done_reported = true;
    defer(s->loop, report_done_later, s);
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
    else total--;
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
    bool over = s->total >= s->cfg.max_connections;
    s->counters.accepted++;
    if (over) s->counters.refused_limit++;
    tf_conn *c = over && s->rejecting >= MAX_REJECTING ? nullptr : conn_new(s);
    if (!c) {
        delete ready;
        return over ? TRUFLUX_ELIMIT : TRUFLUX_ENOMEM;
    }
    c->reject = over;
    if (!over)
        for (auto hook : s->ext_hooks) hook(c, s);
    int rc = 0;
    tfx::stream *io = ready ? ready : tr->wrap(ctx, fd, true, std::string(), &rc);
    if (!io) {
        conn_release(c);
        return rc;
    }
    // Linked and counted before the transport's first step, which may end the connection at
    // once (an HTTP upgrade already received and refused): conn_gone then undoes both.
    link_conn(s, c);
    if (over) {
        s->rejecting++;
    } else {
        s->total++;
    }
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

void tfcore_server_free(tf_server *s) {
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

int tfcore_server_set_callbacks(tf_server *s, const tf_callbacks_t *cbs) {
    if (!cbs || cbs->size < sizeof(size_t) + sizeof(void *)) return TRUFLUX_EINVAL;
    call_sync(s->loop, [&] {
        tf_callbacks_t c{};
        memcpy(&c, cbs, std::min(cbs->size, sizeof c));
        c.size = sizeof c;
        s->cbs = c;
    });
    return 0;
}

static int listen_url(tf_server *s, const char *text) {
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
    if (tr->ctx_new || tr->ctx_new_at) {
        int err = TRUFLUX_EINVAL;
        std::string detail;
        ctx = tr->ctx_new_at ? tr->ctx_new_at(s->cfg, true, u, &err, &detail)
                             : tr->ctx_new(s->cfg, true, &err, &detail);
        if (!ctx) {
            tfapi::set_last_error(err, "%s", detail.c_str());
            return err;
        }
    }
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
    int rc = TRUFLUX_EIO;
    for (addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            int e = errno;
            rc = e == EADDRINUSE ? TRUFLUX_EADDRINUSE : TRUFLUX_EIO;
            tfapi::set_last_error(rc, "bind %s: %s", text, strerror(e));
            close(fd);
            continue;
        }
        if (listen(fd, s->cfg.backlog) != 0) {
            int e = errno;
            rc = e == EADDRINUSE ? TRUFLUX_EADDRINUSE : TRUFLUX_EIO;
            tfapi::set_last_error(rc, "listen %s: %s", text, strerror(e));
            close(fd);
            continue;
        }
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len);
        int bound = ss.ss_family == AF_INET6
                        ? ntohs(reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port)
                        : ntohs(reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
        auto *l = new (std::nothrow) tf_server::listener{fd, bound, nullptr, tr, ctx, s};
        event *ev = l ? event_new(s->loop->base, fd, EV_READ | EV_PERSIST, on_accept, l) : nullptr;
        if (!ev) {
            delete l;
            close(fd);
            rc = TRUFLUX_ENOMEM;
            continue;
        }
        l->ev = ev;
        event_add(ev, nullptr);
        s->listeners.push_back(l);
        ctx = nullptr;  // owned by the listener now
        rc = 0;
        break;
    }
    freeaddrinfo(res);
    if (ctx && tr->ctx_free) tr->ctx_free(ctx);
    return rc;
}

int tfcore_server_listen(tf_server *s, const char *url) {
    int rc = 0;
    call_sync(s->loop, [&] { rc = listen_url(s, url); });
    return rc;
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
        if (s->total >= s->cfg.max_connections) {
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
    if (in_loop(s->loop)) {
        std::vector<uint8_t> frame(n);
        tfw::header_write(frame.data(), (uint8_t)(tfw::KIND_MSG | type), id, (uint32_t)len);
        if (len) memcpy(frame.data() + tfw::HEADER_SIZE, data, len);
        return broadcast_frame(s, id, frame.data(), n, len, exclude, nexclude);
    }
    auto *p = new (std::nothrow) bcast_post();
    if (!p) return TRUFLUX_ENOMEM;
    try {
        p->s = s;
        p->id = id;
        p->len = len;
        p->frame.resize(n);
        tfw::header_write(p->frame.data(), (uint8_t)(tfw::KIND_MSG | type), id, (uint32_t)len);
        if (len) memcpy(p->frame.data() + tfw::HEADER_SIZE, data, len);
        p->exclude.assign(exclude, exclude + nexclude);
    } catch (...) {
        delete p;
        return TRUFLUX_ENOMEM;
    }
    // The server must outlive the post: free() runs on the loop after it (inbox order).
    int prc = post(s->loop, [](void *a) {
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

int tfcore_server_close(tf_server *s, int flags) {
    if (flags != TRUFLUX_CLOSE_GRACEFUL && flags != TRUFLUX_CLOSE_FORCE) return TRUFLUX_EINVAL;
    if (s->closing.exchange(true)) return TRUFLUX_ECLOSED;
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
