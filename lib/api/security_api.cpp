// lib/api: the C API of truflux/security.h.
#include <cstring>
#include <new>

#include <truflux/error.h>
#include <truflux/security.h>

#include "api/guard.h"
#include "core/conn.h"
#include "core/server.h"
#include "crypto/backend.h"
#include "crypto/names.h"
#include "secure/session.h"
#include "secure/settings.h"

namespace {

tfsec::secure_conn *session_of(const tf_conn_t *conn) {
    // The extensions are added when the connection is made, before any other thread can
    // see it, and never change: reading the list is safe from any thread.
    for (tfcore::conn_ext *e : conn->exts)
        if (auto *s = dynamic_cast<tfsec::secure_conn *>(e)) return s;
    return nullptr;
}

struct switch_post {
    tf_conn *c;
    int dirs, on;
};

}  // namespace

extern "C" {

TRUFLUX_API int tf_conn_set_secure(tf_conn_t *conn, int dirs, int on) {
    if (!conn || dirs <= 0 || (dirs & ~(TRUFLUX_DIR_SEND | TRUFLUX_DIR_RECV))) return TRUFLUX_EINVAL;
    tfsec::secure_conn *s = session_of(conn);
    if (!s) return TRUFLUX_ENOTSUP;
    return tfapi::guard<int>([&]() -> int {
        if (tfcore::in_loop(conn->loop)) {
            tfcore::scope sc(conn->loop);
            return s->set_secure(conn, dirs, on != 0);
        }
        // Queued behind the sends this thread made before, so the switch keeps their order.
        auto *p = new switch_post{conn, dirs, on};
        tfcore::conn_retain(conn);
        int rc = tfcore::post(conn->loop, [](void *arg) {
            auto *q = static_cast<switch_post *>(arg);
            {
                tfcore::scope sc(q->c->loop);
                if (tfsec::secure_conn *ss = session_of(q->c)) ss->set_secure(q->c, q->dirs, q->on != 0);
            }
            tfcore::conn_release(q->c);
            delete q;
        }, p);
        if (rc != 0) {
            tfcore::conn_release(conn);
            delete p;
            return TRUFLUX_ECLOSED;
        }
        return 0;
    });
}

TRUFLUX_API int tf_conn_secure(const tf_conn_t *conn, int dir) {
    if (!conn || (dir != TRUFLUX_DIR_SEND && dir != TRUFLUX_DIR_RECV)) return TRUFLUX_EINVAL;
    tfsec::secure_conn *s = session_of(conn);
    if (!s) return 0;
    return (dir == TRUFLUX_DIR_SEND ? s->sending_encrypted() : s->receiving_encrypted()) ? 1 : 0;
}

TRUFLUX_API int tf_conn_secure_info(const tf_conn_t *conn, tf_secure_info_t *out) {
    if (!conn || !out || out->size < sizeof(size_t)) return TRUFLUX_EINVAL;
    tfsec::secure_conn *s = session_of(conn);
    if (!s) return TRUFLUX_ENOTSUP;
    return tfapi::guard<int>([&] {
        tfcore::call_sync(conn->loop, [&] { s->info(out); });
        return 0;
    });
}

TRUFLUX_API int tf_server_set_authorizer(tf_server_t *server, tf_authorize_cb cb, void *user) {
    if (!server) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] {
        // Every loop of the server keeps its own settings (tf_server_add_loop).
        return tfcore_server_each(
            server, [&](tf_server *ep) { return tfsec::set_authorizer(ep, cb, user); });
    });
}

TRUFLUX_API int tf_keypair_generate(uint8_t priv[32], uint8_t pub[32]) {
    if (!priv || !pub) return TRUFLUX_EINVAL;
    return tfc::x25519_keypair(priv, pub);
}

TRUFLUX_API int tf_key_public(const uint8_t priv[32], uint8_t pub[32]) {
    if (!priv || !pub) return TRUFLUX_EINVAL;
    return tfc::x25519_public(priv, pub);
}

TRUFLUX_API int tf_key_encode(const uint8_t key[32], char out[45]) {
    if (!key || !out) return TRUFLUX_EINVAL;
    tfc::key_encode(key, out);
    return 0;
}

TRUFLUX_API int tf_key_decode(const char *text, size_t len, uint8_t key[32]) {
    if (!key) return TRUFLUX_EINVAL;
    return tfc::key_decode(text, len, key);
}

TRUFLUX_API void tf_key_wipe(void *p, size_t len) {
    if (p && len) tfc::wipe(p, len);
}

TRUFLUX_API const char *tf_crypto_backend(void) { return tfc::backend_name(); }

}  // extern "C"
