// lib/core: the server: listening sockets, accepted connections, broadcast and shutdown.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
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
    size_t total = 0;             // connections counted against the limit
    size_t rejecting = 0;         // over-limit sockets being told CLOSE(ELIMIT)
    std::atomic<size_t> open_count{0};
    std::atomic<bool> closing{false};
    // close_in_loop() has run. A close from another thread sets `closing` before its task
    // reaches the loop: the shutdown is not done (nor reportable) before that task ran.
    bool close_ran = false;
    bool done_reported = false;
    std::vector<tfcore::task> at_free;  // run first when the server is freed (HTTP bindings)
    tfcore::server_counters counters;   // tf_server_stats (loop thread)

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
