// lib/api: the C API of truflux/client.h.
#include <truflux/client.h>
#include <truflux/error.h>

#include "api/guard.h"
#include "api/last_error.h"
#include "secure/settings.h"
#include "core/client.h"
#include "proto/protocol.h"

extern "C" {

TRUFLUX_API tf_client_t *truflux_client_new(tf_loop_t *loop, tf_protocol_t *protocol,
                                            const tf_options_t *options) {
    if (!loop || !protocol) {
        tfapi::set_last_error(TRUFLUX_EINVAL, "client: loop and protocol are required");
        return nullptr;
    }
    int err = TRUFLUX_ENOMEM;
    tf_client *c = nullptr;
    try {
        c = tfcore_client_new(loop, protocol, options, &err);
    } catch (...) {
        c = nullptr;
    }
    if (!c) {
        tfapi::set_last_error(err, "client: cannot create");
        return nullptr;
    }
    // The secure layer reads its options (keys, lists) now, so that a bad one fails here.
    std::string detail;
    int rc = tfapi::guard<int>([&] { return tfsec::setup_endpoint(c, &detail); });
    if (rc != 0) {
        tfcore_client_free(c);
        tfapi::set_last_error(rc, "client: %s", detail.c_str());
        return nullptr;
    }
    return c;
}

TRUFLUX_API void truflux_client_free(tf_client_t *client) {
    if (client) tfapi::guard_void([&] { tfcore_client_free(client); });
}

TRUFLUX_API int tf_client_set_callbacks(tf_client_t *client, const tf_callbacks_t *cbs) {
    if (!client) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfcore_client_set_callbacks(client, cbs); });
}

TRUFLUX_API int tf_client_connect(tf_client_t *client, const char *url) {
    if (!client || !url) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfcore_client_connect(client, url); });
}

TRUFLUX_API tf_conn_t *tf_client_conn(tf_client_t *client) {
    return client ? client->conn : nullptr;
}

TRUFLUX_API int tf_client_send(tf_client_t *client, uint32_t id, int type, const void *data,
                               size_t len) {
    if (!client) return TRUFLUX_EINVAL;
    tf_conn_t *c = client->conn;
    if (!c) return TRUFLUX_ECLOSED;
    return tf_send(c, id, type, data, len);
}

TRUFLUX_API int tf_client_send_name(tf_client_t *client, const char *name, int type,
                                    const void *data, size_t len) {
    if (!client) return TRUFLUX_EINVAL;
    tf_conn_t *c = client->conn;
    if (!c) return TRUFLUX_ECLOSED;
    return tf_send_name(c, name, type, data, len);
}

TRUFLUX_API int tf_client_close(tf_client_t *client, int flags) {
    if (!client) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfcore_client_close(client, flags); });
}

}  // extern "C"
