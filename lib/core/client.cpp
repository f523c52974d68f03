// lib/core: the client (see client.h): resolving, TCP connect, reconnect with backoff.
#include "core/client.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <random>
#include <string>

#include <truflux/error.h>

#include "api/last_error.h"
#include "proto/protocol.h"
#include "transport/stream.h"

using namespace tfcore;

static int errno_code(int e) {
    switch (e) {
    case ECONNREFUSED: return TRUFLUX_ECONNREFUSED;
    case ETIMEDOUT: return TRUFLUX_ETIMEDOUT;
    case ECONNRESET: return TRUFLUX_ECONNRESET;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EADDRNOTAVAIL: return TRUFLUX_ECONNREFUSED;
    default: return TRUFLUX_EIO;
    }
}

void tf_client::conn_opened(tf_conn *) { attempt = 0; }

static void schedule_retry(tf_client *cl) {
    uint32_t lo = cl->cfg.reconnect_min_ms, hi = cl->cfg.reconnect_max_ms;
    uint64_t d = (uint64_t)lo << std::min<uint32_t>(cl->attempt, 20);
    if (d > hi) d = hi;
    // Equal jitter: half fixed, half random, so that a crowd of clients spreads out.
    static thread_local std::minstd_rand rng{std::random_device{}()};
    uint64_t half = d / 2;
    uint64_t delay = half + (half ? rng() % (half + 1) : 0);
    if (delay == 0) delay = 1;
    cl->attempt++;
    struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)((delay % 1000) * 1000)};
    event_add(cl->retry_ev, &tv);
}

void tf_client::conn_ended(tf_conn *c, int reason, bool remote, bool was_open) {
    bool retry = cfg.reconnect && !closing && !silent;
    final_close = !retry;
    if (c->fd < 0) c->phase.store(retry ? PH_IDLE : PH_CLOSED, std::memory_order_release);
    if (!silent && cbs.on_close && (was_open || !retry))
        cbs.on_close(cbs.user, c, reason, remote ? 1 : 0);
    if (retry && !closing && !silent) schedule_retry(this);
}

void tf_client::conn_gone(tf_conn *c) {
    c->phase.store(final_close ? PH_CLOSED : PH_IDLE, std::memory_order_release);
}

static void free_event_later(void *arg) { event_free(static_cast<event *>(arg)); }

static void stop_connecting(tf_client *cl) {
    if (cl->connect_ev) {
        event_del(cl->connect_ev);
        defer(cl->loop, free_event_later, cl->connect_ev);
        cl->connect_ev = nullptr;
    }
    if (cl->connect_fd >= 0) close(cl->connect_fd);
    cl->connect_fd = -1;
}

static void try_next_addr(tf_client *cl);

static void connected(tf_client *cl, int fd) {
    int rc = 0;
    tfx::stream *io = cl->tr->wrap(cl->tr_ctx, fd, false, cl->target.host, &rc);
    if (io) rc = conn_attach(cl->conn, fd, io);
    if (rc != 0) {
        close(fd);
        conn_connect_failed(cl->conn, rc, "cannot set up the connection");
    }
}

static void on_connect_ready(evutil_socket_t fd, short what, void *arg) {
    tf_client *cl = static_cast<tf_client *>(arg);
    scope s(cl->loop);
    int err = 0;
    if (what & EV_TIMEOUT) {
        err = ETIMEDOUT;
    } else {
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
    event_del(cl->connect_ev);
    defer(cl->loop, free_event_later, cl->connect_ev);
    cl->connect_ev = nullptr;
    cl->connect_fd = -1;
    if (cl->closing || cl->silent ||
        cl->conn->phase.load(std::memory_order_relaxed) != PH_CONNECTING) {
        close(fd);
        return;
    }
    if (err) {
        close(fd);
        cl->last_connect_error = err;
        try_next_addr(cl);
        return;
    }
    connected(cl, fd);
}

static void try_next_addr(tf_client *cl) {
    while (cl->addr_next < cl->addrs.size()) {
        size_t i = cl->addr_next++;
        const sockaddr *sa = reinterpret_cast<const sockaddr *>(&cl->addrs[i]);
        int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            cl->last_connect_error = errno;
            continue;
        }
        if (connect(fd, sa, cl->addr_lens[i]) == 0) {
            connected(cl, fd);
            return;
        }
        if (errno != EINPROGRESS) {
            cl->last_connect_error = errno;
            close(fd);
            continue;
        }
        cl->connect_ev = event_new(cl->loop->base, fd, EV_WRITE, on_connect_ready, cl);
        if (!cl->connect_ev) {
            close(fd);
            cl->last_connect_error = ENOMEM;
            continue;
        }
        cl->connect_fd = fd;
        uint32_t ms = cl->cfg.handshake_ms ? cl->cfg.handshake_ms : 10000;
        struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
        event_add(cl->connect_ev, &tv);
        return;
    }
    int e = cl->last_connect_error ? cl->last_connect_error : ECONNREFUSED;
    char detail[512];
    snprintf(detail, sizeof detail, "connect %s: %s", cl->url_text.c_str(), strerror(e));
    conn_connect_failed(cl->conn, errno_code(e), detail);
}

// Resolves the target. Numeric addresses never touch the resolver. Names use getaddrinfo on
// the loop thread: /etc/hosts and a local resolver answer at once; a slow DNS server stalls
// the loop for its timeout (docs: prefer numeric addresses in latency-critical programs).
static int resolve(tf_client *cl, std::string *detail) {
    cl->addrs.clear();
    cl->addr_lens.clear();
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    std::string port = std::to_string(cl->target.port);
    int g = getaddrinfo(cl->target.host.c_str(), port.c_str(), &hints, &res);
    if (g == EAI_ADDRFAMILY || g == EAI_NONAME) {
        // AI_ADDRCONFIG hides loopback-only families on hosts without other addresses.
        hints.ai_flags = AI_NUMERICSERV;
        if (res) freeaddrinfo(res);
        res = nullptr;
        g = getaddrinfo(cl->target.host.c_str(), port.c_str(), &hints, &res);
    }
    if (g != 0) {
        *detail = "resolve " + cl->target.host + ": " + gai_strerror(g);
        return TRUFLUX_ERESOLVE;
    }
    for (addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
        sockaddr_storage ss{};
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        cl->addrs.push_back(ss);
        cl->addr_lens.push_back((socklen_t)ai->ai_addrlen);
    }
    freeaddrinfo(res);
    return cl->addrs.empty() ? TRUFLUX_ERESOLVE : 0;
}

static void on_retry(evutil_socket_t, short, void *arg) {
    tf_client *cl = static_cast<tf_client *>(arg);
    scope s(cl->loop);
    if (cl->closing || cl->silent || !cl->conn) return;
    tf_conn *c = cl->conn;
    if (c->fd >= 0) return;  // still lingering; the next end schedules again
    c->phase.store(PH_CONNECTING, std::memory_order_release);
    std::string detail;
    int rc = resolve(cl, &detail);
    if (rc != 0) {
        conn_connect_failed(c, rc, detail.c_str());
        return;
    }
    cl->addr_next = 0;
    cl->last_connect_error = 0;
    try_next_addr(cl);
}

tf_client *tfcore_client_new(tf_loop *loop, tf_protocol *proto, const tf_options *opts, int *err) {
    tf_client *cl = new (std::nothrow) tf_client();
    if (!cl) {
        *err = TRUFLUX_ENOMEM;
        return nullptr;
    }
    cl->is_client = true;
    cl->loop = loop;
    cl->proto = proto;
    proto->freeze();
    proto->retain();
    cl->cfg = config_from(opts);
    cl->cbs.size = sizeof cl->cbs;
    build_hello(cl);
    cl->retry_ev = event_new(loop->base, -1, 0, on_retry, cl);
    if (!cl->retry_ev) {
        proto->release();
        delete cl;
        *err = TRUFLUX_ENOMEM;
        return nullptr;
    }
    call_sync(loop, [&] { loop->objects++; });
    return cl;
}

static void free_transport_ctx(tf_client *cl) {
    if (cl->tr_ctx && cl->tr && cl->tr->ctx_free) cl->tr->ctx_free(cl->tr_ctx);
    cl->tr_ctx = nullptr;
}

static void delete_client(void *arg) {
    tf_client *cl = static_cast<tf_client *>(arg);
    free_transport_ctx(cl);
    event_free(cl->retry_ev);
    cl->proto->release();
    cl->loop->objects--;
    delete cl;
}

void tfcore_client_free(tf_client *cl) {
    call_sync(cl->loop, [cl] {
        cl->silent = true;
        cl->closing = true;
        event_del(cl->retry_ev);
        stop_connecting(cl);
        if (cl->conn) {
            conn_abort_silent(cl->conn);
            cl->conn->owner = nullptr;
            conn_release(cl->conn);
            cl->conn = nullptr;
        }
        defer(cl->loop, delete_client, cl);
        if (cl->loop->depth == 0 && !cl->loop->running.load()) {
            std::vector<task> d;
            d.swap(cl->loop->deferred);
            for (auto &t : d) t.fn(t.arg);
        }
    });
}

int tfcore_client_set_callbacks(tf_client *cl, const tf_callbacks_t *cbs) {
    if (!cbs || cbs->size < sizeof(size_t) + sizeof(void *)) return TRUFLUX_EINVAL;
    call_sync(cl->loop, [&] {
        tf_callbacks_t c{};
        memcpy(&c, cbs, std::min(cbs->size, sizeof c));
        c.size = sizeof c;
        cl->cbs = c;
    });
    return 0;
}

int tfcore_client_connect(tf_client *cl, const char *text) {
    url u;
    if (url_parse(text, &u) != 0) {
        tfapi::set_last_error(TRUFLUX_EBADURL, "bad URL: %s", text ? text : "(null)");
        return TRUFLUX_EBADURL;
    }
    const tfx::transport *tr = tfx::find_transport(u.scheme);
    if (!tr || (!u.path.empty() && !tr->ctx_new_at)) {
        tfapi::set_last_error(TRUFLUX_EBADURL, tr ? "%s:// URLs take no path" : "unsupported scheme: %s",
                              u.scheme.c_str());
        return TRUFLUX_EBADURL;
    }
    int rc = 0;
    call_sync(cl->loop, [&] {
        if (cl->conn) {
            int ph = cl->conn->phase.load(std::memory_order_relaxed);
            if ((ph != PH_IDLE && ph != PH_CLOSED) || event_pending(cl->retry_ev, EV_TIMEOUT, nullptr)) {
                rc = TRUFLUX_EBUSY;
                return;
            }
        } else {
            cl->conn = conn_new(cl);
            if (!cl->conn) {
                rc = TRUFLUX_ENOMEM;
                return;
            }
            for (auto hook : cl->ext_hooks) hook(cl->conn, cl);
        }
        void *ctx = nullptr;
        if (tr->ctx_new || tr->ctx_new_at) {
            std::string detail;
            rc = TRUFLUX_EINVAL;
            ctx = tr->ctx_new_at ? tr->ctx_new_at(cl->cfg, false, u, &rc, &detail)
                                 : tr->ctx_new(cl->cfg, false, &rc, &detail);
            if (!ctx) {
                tfapi::set_last_error(rc, "%s", detail.c_str());
                return;
            }
            rc = 0;
        }
        free_transport_ctx(cl);
        cl->tr = tr;
        cl->tr_ctx = ctx;
        cl->target = u;
        cl->url_text = text;
        cl->closing = false;
        cl->final_close = false;
        cl->attempt = 0;
        cl->conn->phase.store(PH_IDLE, std::memory_order_release);
        // The attempt starts from the loop, so its callbacks never run inside this call.
        struct timeval zero = {0, 0};
        event_add(cl->retry_ev, &zero);
    });
    return rc;
}

int tfcore_client_close(tf_client *cl, int flags) {
    if (flags != TRUFLUX_CLOSE_GRACEFUL && flags != TRUFLUX_CLOSE_FORCE) return TRUFLUX_EINVAL;
    int rc = 0;
    call_sync(cl->loop, [&] {
        if (!cl->conn || cl->closing) {
            rc = TRUFLUX_ECLOSED;
            return;
        }
        cl->closing = true;
        bool was_waiting = event_pending(cl->retry_ev, EV_TIMEOUT, nullptr) != 0;
        event_del(cl->retry_ev);
        bool was_connecting = cl->connect_fd >= 0;
        stop_connecting(cl);
        int ph = cl->conn->phase.load(std::memory_order_relaxed);
        if (ph >= PH_LINGER && !was_waiting) {
            rc = TRUFLUX_ECLOSED;
            return;
        }
        if (ph == PH_CONNECTING || ph == PH_IDLE || was_connecting) {
            cl->final_close = true;
            cl->conn->phase.store(PH_CLOSED, std::memory_order_release);
            if (!cl->silent && cl->cbs.on_close) cl->cbs.on_close(cl->cbs.user, cl->conn, 0, 0);
            return;
        }
        rc = conn_close(cl->conn, flags, 0);
    });
    return rc;
}
