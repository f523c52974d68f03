// lib/core: the client: one connection that keeps its identity across reconnects.
#pragma once
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <truflux/client.h>

#include "core/conn.h"

struct event;
namespace tfx {
struct transport;
}

struct tf_client : tfcore::endpoint {
    tf_conn *conn = nullptr;       // created by the first connect, owned by the client
    tfcore::url target;
    const tfx::transport *tr = nullptr;  // the target's transport
    void *tr_ctx = nullptr;              // its per-client state
    std::string url_text;
    bool closing = false;          // tf_client_close: no more reconnects
    bool final_close = false;      // the current socket's end is final
    uint32_t attempt = 0;          // reconnect attempts since the last open
    event *retry_ev = nullptr;     // reconnect timer
    event *connect_ev = nullptr;   // TCP connect in progress
    int connect_fd = -1;
    std::vector<sockaddr_storage> addrs;
    std::vector<socklen_t> addr_lens;
    size_t addr_next = 0;
    int last_connect_error = 0;

    void conn_opened(tf_conn *c) override;
    void conn_ended(tf_conn *c, int reason, bool remote, bool was_open) override;
    void conn_gone(tf_conn *c) override;
};

tf_client *tfcore_client_new(tf_loop *loop, tf_protocol *proto, const tf_options *opts, int *err);
void tfcore_client_free(tf_client *cl);
int tfcore_client_set_callbacks(tf_client *cl, const tf_callbacks_t *cbs);
int tfcore_client_connect(tf_client *cl, const char *url);
int tfcore_client_close(tf_client *cl, int flags);
