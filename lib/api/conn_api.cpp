// lib/api: the C API of truflux/conn.h.
#include <cstring>

#include <truflux/conn.h>
#include <truflux/error.h>

#include "api/guard.h"
#include "core/conn.h"
#include "proto/protocol.h"

extern "C" {

TRUFLUX_API int tf_send(tf_conn_t *conn, uint32_t id, int type, const void *data, size_t len) {
    if (!conn) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfcore::conn_send(conn, id, type, data, len); });
}

TRUFLUX_API int tf_send_name(tf_conn_t *conn, const char *name, int type, const void *data,
                             size_t len) {
    if (!conn || !name) return TRUFLUX_EINVAL;
    const tfp::message *m = conn->proto->find(name);
    if (!m) return TRUFLUX_ENOTFOUND;
    return tf_send(conn, m->id, type, data, len);
}

TRUFLUX_API int tf_conn_close(tf_conn_t *conn, int flags, int code) {
    if (!conn) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfcore::conn_close(conn, flags, code); });
}

TRUFLUX_API tf_conn_t *tf_conn_retain(tf_conn_t *conn) {
    if (conn) tfcore::conn_retain(conn);
    return conn;
}

TRUFLUX_API void tf_conn_release(tf_conn_t *conn) {
    if (conn) tfcore::conn_release(conn);
}

TRUFLUX_API void tf_conn_set_user(tf_conn_t *conn, void *user) {
    if (conn) conn->user.store(user, std::memory_order_relaxed);
}

TRUFLUX_API void *tf_conn_user(const tf_conn_t *conn) {
    return conn ? conn->user.load(std::memory_order_relaxed) : nullptr;
}

TRUFLUX_API int tf_conn_state(const tf_conn_t *conn) { return conn ? conn->state : TRUFLUX_EINVAL; }

TRUFLUX_API int tf_conn_set_state(tf_conn_t *conn, int state) {
    if (!conn || state < 0 || (size_t)state >= conn->proto->states.size()) return TRUFLUX_EINVAL;
    conn->state = state;
    return 0;
}

TRUFLUX_API const char *tf_conn_transport(const tf_conn_t *conn) {
    return conn ? conn->transport.load(std::memory_order_relaxed) : nullptr;
}

TRUFLUX_API int tf_conn_is_open(const tf_conn_t *conn) {
    return conn && conn->phase.load(std::memory_order_acquire) == tfcore::PH_OPEN ? 1 : 0;
}

static int addr_out(const tf_conn_t *conn, bool local, char *host, size_t hostlen, int *port) {
    if (!conn) return TRUFLUX_EINVAL;
    std::lock_guard<std::mutex> g(conn->addr_mu);
    const std::string &h = local ? conn->local_host : conn->remote_host;
    if (h.empty()) return TRUFLUX_ECLOSED;
    if (host) {
        if (hostlen < h.size() + 1) return TRUFLUX_EINVAL;
        memcpy(host, h.c_str(), h.size() + 1);
    }
    if (port) *port = local ? conn->local_port : conn->remote_port;
    return 0;
}

TRUFLUX_API int tf_conn_local_addr(const tf_conn_t *conn, char *host, size_t hostlen, int *port) {
    return addr_out(conn, true, host, hostlen, port);
}

TRUFLUX_API int tf_conn_remote_addr(const tf_conn_t *conn, char *host, size_t hostlen, int *port) {
    return addr_out(conn, false, host, hostlen, port);
}

TRUFLUX_API int tf_conn_stats(const tf_conn_t *conn, tf_conn_stats_t *out) {
    if (!conn || !out || out->size < sizeof(size_t)) return TRUFLUX_EINVAL;
    tf_conn_stats_t s;
    s.size = sizeof s;
    s.msgs_in = conn->msgs_in.load(std::memory_order_relaxed);
    s.msgs_out = conn->msgs_out.load(std::memory_order_relaxed);
    s.bytes_in = conn->bytes_in.load(std::memory_order_relaxed);
    s.bytes_out = conn->bytes_out.load(std::memory_order_relaxed);
    s.queued = conn->queued.load(std::memory_order_relaxed);
    size_t n = out->size < sizeof s ? out->size : sizeof s;
    memcpy(out, &s, n);
    out->size = n;
    return 0;
}

TRUFLUX_API tf_protocol_t *tf_conn_protocol(const tf_conn_t *conn) {
    return conn ? conn->proto : nullptr;
}

}  // extern "C"
