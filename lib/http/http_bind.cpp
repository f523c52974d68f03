// lib/http: binding a server to a libevent evhttp at a path (truflux/http.h). evhttp parses
// the request; the upgrade is checked by the same code as our own listeners'
// (transport/ws_handshake.h), and the socket becomes a connection of the server.
//
// Taking a socket over from evhttp: evhttp_connection_free() shuts the socket down
// (shutdown(SHUT_WR)) before closing it, so it cannot be freed while the WebSocket lives.
// The connection gets a duplicate descriptor; evhttp's connection stays, disabled and
// unanswered, until the WebSocket stream ends, and is freed then. If the application frees
// the evhttp first, its close callback tells us the connection is gone.
//
// A server spread over several loops (tf_server_add_loop) is bound by the part on the loop
// whose thread binds: an evhttp belongs to one event_base, so its requests, and the
// connections it upgrades, stay on that loop.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <new>
#include <string>

#include <truflux/error.h>
#include <truflux/http.h>

#include "api/guard.h"
#include "core/server.h"
#include "transport/ws_handshake.h"
#include "transport/ws_stream.h"

namespace {

struct binding {
    tf_server *server;
    evhttp *http;
    std::string path;
};

// evhttp's side of an upgraded socket, released when the WebSocket stream ends.
struct held_conn {
    evhttp_connection *evcon;
};

void on_evcon_freed(evhttp_connection *, void *arg) {
    static_cast<held_conn *>(arg)->evcon = nullptr;
}

void release_evcon(void *arg) {
    held_conn *h = static_cast<held_conn *>(arg);
    if (h->evcon) {
        evhttp_connection_set_closecb(h->evcon, nullptr, nullptr);
        evhttp_connection_free(h->evcon);
    }
    delete h;
}

void reply(evhttp_request *req, int status, const char *why, bool upgrade_hint) {
    evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", "text/plain");
    if (upgrade_hint) {
        evhttp_add_header(out, "Upgrade", "websocket");
        evhttp_add_header(out, "Sec-WebSocket-Version", "13");
    }
    evbuffer *body = evbuffer_new();
    if (body) evbuffer_add_printf(body, "%s\n", why);
    evhttp_send_reply(req, status, tfx::ws::status_text(status), body);
    if (body) evbuffer_free(body);
}

void on_request(evhttp_request *req, void *arg) {
    binding *b = static_cast<binding *>(arg);
    tf_server *s = b->server;
    tfcore::scope sc(s->loop);
    if (s->closing.load()) {
        reply(req, 503, "the server is shutting down", false);
        return;
    }
    tfx::ws::upgrade_request r;
    r.method = evhttp_request_get_command(req) == EVHTTP_REQ_GET ? "GET" : "OTHER";
    const char *uri = evhttp_request_get_uri(req);
    r.target = uri ? uri : "/";
    evkeyvalq *headers = evhttp_request_get_input_headers(req);
    for (evkeyval *kv = headers->tqh_first; kv; kv = kv->next.tqe_next)
        r.fields.push_back({kv->key, kv->value});
    tfx::ws::upgrade_answer a;
    // evhttp matched the path already.
    if (tfx::ws::check_request(r, std::string_view(), &a) != 101) {
        reply(req, a.status, a.why, a.status == 426);
        return;
    }
    evhttp_connection *evcon = evhttp_request_get_connection(req);
    bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : nullptr;
    int fd = bev ? (int)bufferevent_getfd(bev) : -1;
    if (fd < 0) {
        reply(req, 500, "no socket under this request", false);
        return;
    }
    if (evbuffer_get_length(bufferevent_get_input(bev)) != 0) {
        // A client must wait for the 101 before it sends frames (RFC 6455 4.1).
        reply(req, 400, "data after the upgrade request", false);
        return;
    }
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    held_conn *held = nfd >= 0 ? new (std::nothrow) held_conn{evcon} : nullptr;
    if (!held) {
        if (nfd >= 0) close(nfd);
        reply(req, 503, "out of resources", false);
        return;
    }
    bufferevent_disable(bev, EV_READ | EV_WRITE);
    evhttp_connection_set_closecb(evcon, on_evcon_freed, held);
    int err = 0;
    // From here on, freeing the stream releases evhttp's connection (and `req` with it).
    tfx::stream *io = tfx::ws_adopt(nfd, std::move(a.text), release_evcon, held, &err);
    if (!io) {
        close(nfd);
        return;
    }
    if (tfcore_server_adopt_stream(s, nfd, io) != 0) close(nfd);
}

void free_binding(void *arg) {
    binding *b = static_cast<binding *>(arg);
    evhttp_del_cb(b->http, b->path.c_str());
    delete b;
}

const char *path_or_root(const char *path) { return path ? path : "/"; }

// The server's part on the calling thread's loop, else the server itself.
tf_server *part_here(tf_server *s) {
    for (tf_server *p : s->parts)
        if (tfcore::in_loop(p->loop)) return p;
    return s;
}

}  // namespace

extern "C" {

TRUFLUX_API int tf_server_bind_http(tf_server_t *server, void *evhttp_ptr, const char *path) {
    path = path_or_root(path);
    if (!server || !evhttp_ptr || path[0] != '/') return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] {
        int rc = 0;
        tf_server *ep = part_here(server);
        tfcore::call_sync(ep->loop, [&] {
            if (ep->closing.load()) {
                rc = TRUFLUX_ECLOSED;
                return;
            }
            binding *b = new binding{ep, static_cast<evhttp *>(evhttp_ptr), path};
            int r = evhttp_set_cb(b->http, b->path.c_str(), on_request, b);
            if (r != 0) {
                delete b;
                rc = r == -1 ? TRUFLUX_EEXIST : TRUFLUX_ENOMEM;
                return;
            }
            ep->at_free.push_back({free_binding, b});
        });
        return rc;
    });
}

TRUFLUX_API int tf_server_unbind_http(tf_server_t *server, void *evhttp_ptr, const char *path) {
    path = path_or_root(path);
    if (!server || !evhttp_ptr) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] {
        int rc = TRUFLUX_ENOTFOUND;
        tf_server *ep = part_here(server);
        tfcore::call_sync(ep->loop, [&] {
            auto &v = ep->at_free;
            for (auto it = v.begin(); it != v.end(); ++it) {
                if (it->fn != free_binding) continue;
                binding *b = static_cast<binding *>(it->arg);
                if (b->http != evhttp_ptr || b->path != path) continue;
                v.erase(it);
                free_binding(b);
                rc = 0;
                return;
            }
        });
        return rc;
    });
}

}  // extern "C"
