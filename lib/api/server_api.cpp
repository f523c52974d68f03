// lib/api: the C API of truflux/server.h.
#include <truflux/error.h>
#include <truflux/server.h>

#include "api/guard.h"
#include "api/last_error.h"
#include "core/server.h"
#include "files/session.h"
#include "secure/settings.h"

namespace {

// The layers a server's loop runs with, as the setters left them on the primary.
struct layers {
    tf_authorize_cb auth_cb = nullptr;
    void *auth_user = nullptr;
    bool files = false;
    tf_file_callbacks_t file_cbs{};
};

// A new part gets its own copy of every layer, built from the server's options as the
// primary's was, then given the primary's current authoriser and file callbacks: no object
// is shared between two loops, so a later setter can change each on its own thread.
int setup_part(const layers &l, tf_server *part, std::string *detail) {
    int rc = tfsec::setup_endpoint(part, detail);
    if (rc) return rc;
    if (l.auth_cb) {
        rc = tfsec::set_authorizer(part, l.auth_cb, l.auth_user);
        if (rc) {
            *detail = "cannot set the authoriser on the added loop";
            return rc;
        }
    }
    if (l.files) tff::enable(part, &l.file_cbs);
    return 0;
}

}  // namespace

extern "C" {

TRUFLUX_API tf_server_t *truflux_server_new(tf_loop_t *loop, tf_protocol_t *protocol,
                                            const tf_options_t *options) {
    if (!loop || !protocol) {
        tfapi::set_last_error(TRUFLUX_EINVAL, "server: loop and protocol are required");
        return nullptr;
    }
    int err = TRUFLUX_ENOMEM;
    tf_server *s = nullptr;
    try {
        s = tfcore_server_new(loop, protocol, options, &err);
    } catch (...) {
        s = nullptr;
    }
    if (!s) {
        tfapi::set_last_error(err, "server: cannot create");
        return nullptr;
    }
    // The secure layer reads its options (keys, lists) now, so that a bad one fails here.
    std::string detail;
    int rc = tfapi::guard<int>([&] { return tfsec::setup_endpoint(s, &detail); });
    if (rc != 0) {
        tfcore_server_free(s);
        tfapi::set_last_error(rc, "server: %s", detail.c_str());
        return nullptr;
    }
    return s;
}

TRUFLUX_API void truflux_server_free(tf_server_t *server) {
    if (server) tfapi::guard_void([&] { tfcore_server_free(server); });
}

TRUFLUX_API int tf_server_set_callbacks(tf_server_t *server, const tf_callbacks_t *cbs) {
    if (!server) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfcore_server_set_callbacks(server, cbs); });
}

TRUFLUX_API int tf_server_add_loop(tf_server_t *server, tf_loop_t *loop) {
    if (!server || !loop) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] {
        layers l;
        tfcore::call_sync(server->loop, [&] {
            if (const tfsec::settings *st = tfsec::endpoint_settings(server)) {
                l.auth_cb = st->auth_cb;
                l.auth_user = st->auth_user;
            }
            if (server->files) {
                l.files = true;
                l.file_cbs = server->files->cbs;
            }
        });
        std::string detail;
        int rc = tfcore_server_add_loop(
            server, loop, [&](tf_server *p, std::string *d) { return setup_part(l, p, d); },
            &detail);
        if (rc && !detail.empty()) tfapi::set_last_error(rc, "add loop: %s", detail.c_str());
        return rc;
    });
}

TRUFLUX_API int tf_server_listen(tf_server_t *server, const char *url) {
    if (!server || !url) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfcore_server_listen(server, url); });
}

TRUFLUX_API int tf_server_port(const tf_server_t *server) {
    return server ? tfcore_server_port(server) : 0;
}

TRUFLUX_API int tf_server_adopt(tf_server_t *server, int fd) {
    if (!server) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfcore_server_adopt(server, fd); });
}

TRUFLUX_API int tf_server_broadcast(tf_server_t *server, uint32_t id, int type, const void *data,
                                    size_t len, tf_conn_t *const *exclude, size_t nexclude) {
    if (!server) return TRUFLUX_EINVAL;
    return tfapi::guard<int>(
        [&] { return tfcore_server_broadcast(server, id, type, data, len, exclude, nexclude); });
}

TRUFLUX_API size_t tf_server_count(const tf_server_t *server) {
    return server ? tfcore_server_count(server) : 0;
}

TRUFLUX_API int tf_server_stats(const tf_server_t *server, tf_server_stats_t *out) {
    if (!server || !out || out->size < sizeof(size_t)) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfcore_server_stats(server, out); });
}

TRUFLUX_API int tf_server_close(tf_server_t *server, int flags) {
    if (!server) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfcore_server_close(server, flags); });
}

}  // extern "C"
