// lib/core: the server: listening sockets, accepted connections, broadcast and shutdown.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <truflux/server.h>

#include "core/conn.h"
#include "core/stats.h"

struct event;
namespace tfx {
struct transport;
class stream;
}

struct tf_server : tfcore::endpoint {
    struct listener {
        int fd;
        int port;
        event *ev;
        const tfx::transport *tr;
        void *ctx;  // the transport's per-listener state
        tf_server *server;
    };
    std::vector<listener *> listeners;
    // Contexts of closed listeners, freed with the server (after every connection's stream).
    std::vector<std::pair<const tfx::transport *, void *>> retired;
    event *resume_ev = nullptr;   // re-enables accepting after EMFILE
    tf_conn *head = nullptr;      // every connection with a socket
    size_t rejecting = 0;         // over-limit sockets being told CLOSE(ELIMIT)
    std::atomic<size_t> open_count{0};
    std::atomic<bool> closing{false};
    // close_in_loop() has run. A close from another thread sets `closing` before its task
    // reaches the loop: the shutdown is not done (nor reportable) before that task ran.
    bool close_ran = false;
    bool done_reported = false;
    std::vector<tfcore::task> at_free;  // run first when the server is freed (HTTP bindings)
    tfcore::server_counters counters;   // tf_server_stats (loop thread)

    // Several loops (tf_server_add_loop): the handle the application holds is the primary;
    // each added loop gets a part, a server of its own on that loop with the primary's
    // configuration, whose listeners share the primary's addresses (SO_REUSEPORT). A
    // connection belongs to the part that accepted it, so it lives on one loop only. Each
    // part owns its layers' state (secure settings, file callbacks), touched on its own loop
    // only: a setter reaches every part through tfcore_server_each, never by sharing an
    // object that two loops would read while one of them changes it.
    tf_server *primary = this;        // a part's primary; the primary itself otherwise
    std::vector<tf_server *> parts;   // primary: fixed once it listens (read from any thread)
    std::atomic<bool> listened{false};
    // Primary: connections counted against max_connections on every loop, reserved before
    // one is admitted so that two loops cannot both take the last place.
    std::atomic<size_t> reserved{0};
    // Primary: parts (itself included) whose shutdown is not finished; the one that takes it
    // to zero reports the server done.
    std::atomic<size_t> busy_parts{0};

    void transport_ready(tf_conn *c) override;
    void conn_opened(tf_conn *c) override;
    void conn_ended(tf_conn *c, int reason, bool remote, bool was_open) override;
    void conn_gone(tf_conn *c) override;
};

tf_server *tfcore_server_new(tf_loop *loop, tf_protocol *proto, const tf_options *opts, int *err);
void tfcore_server_free(tf_server *s);
int tfcore_server_set_callbacks(tf_server *s, const tf_callbacks_t *cbs);
int tfcore_server_listen(tf_server *s, const char *url);
int tfcore_server_port(const tf_server *s);
int tfcore_server_adopt(tf_server *s, int fd);
// Loop thread: takes a connected socket and the stream over it (both owned from now on on
// success; the stream is freed, the fd kept by the caller, on error), e.g. a WebSocket that
// another HTTP server upgraded.
int tfcore_server_adopt_stream(tf_server *s, int fd, tfx::stream *io);
int tfcore_server_broadcast(tf_server *s, uint32_t id, int type, const void *data, size_t len,
                            tf_conn_t *const *exclude, size_t nexclude);
int tfcore_server_close(tf_server *s, int flags);
// Before the first listen: the server also accepts on `loop` (see tf_server_add_loop).
// `setup` (may be empty) runs on that loop with the new part before it joins the server,
// to give it the layers the primary has; nonzero: the loop is not added, and that code and
// *detail are the result.
int tfcore_server_add_loop(tf_server *s, tf_loop *loop,
                           const std::function<int(tf_server *part, std::string *detail)> &setup,
                           std::string *detail);
// Runs fn(endpoint) on the server's loop, then on each added loop with its part (each on
// its own thread, waiting for it), stopping at the first nonzero result, which it returns.
// For setters whose state each loop keeps. From a callback of one of the server's loops it
// waits for the others: not from callbacks of two of them at once.
template <class F>
int tfcore_server_each(tf_server *s, F &&fn) {
    int rc = 0;
    tfcore::call_sync(s->loop, [&] { rc = fn(static_cast<tf_server *>(s)); });
    for (tf_server *p : s->parts) {
        if (rc) break;
        tfcore::call_sync(p->loop, [&] { rc = fn(p); });
    }
    return rc;
}
// Sums over every loop of the server (tf_server_count, tf_server_stats).
size_t tfcore_server_count(const tf_server *s);
int tfcore_server_stats(const tf_server *s, tf_server_stats_t *out);
