// _truflux: the secure layer (truflux/security.h): key helpers, and a connection's
// encryption state. The handshake's events come through the endpoint's queue.
#include "file.h"

#include <cstring>
#include <string>

#include "conn.h"

namespace tfpy {

namespace {

const char *pattern_name(int p) {
    switch (p) {
    case TRUFLUX_NOISE_NN: return "NN";
    case TRUFLUX_NOISE_NK: return "NK";
    case TRUFLUX_NOISE_XX: return "XX";
    case TRUFLUX_NOISE_IK: return "IK";
    default: return nullptr;
    }
}

const char *cipher_name(int c) {
    switch (c) {
    case TRUFLUX_CIPHER_CHACHAPOLY: return "ChaChaPoly";
    case TRUFLUX_CIPHER_AESGCM: return "AESGCM";
    default: return nullptr;
    }
}

py::bytes key_bytes(const uint8_t *k) {
    return py::bytes(reinterpret_cast<const char *>(k), 32);
}

// 32 raw bytes from a bytes object (EINVAL otherwise).
void key_from(const py::bytes &b, uint8_t out[32]) {
    char *data = nullptr;
    Py_ssize_t len = 0;
    if (PyBytes_AsStringAndSize(b.ptr(), &data, &len) != 0) throw py::error_already_set();
    if (len != 32) throw error{TRUFLUX_EINVAL, "a key is 32 bytes"};
    memcpy(out, data, 32);
}

// A secure-info struct as a dict (also used for EVENT_SECURE's snapshot).
py::object info_to_dict(const tf_secure_info_t &s) {
    py::dict d;
    d["established"] = s.established != 0;
    const char *p = pattern_name(s.pattern), *c = cipher_name(s.cipher);
    d["pattern"] = p ? py::object(py::str(p)) : py::object(py::none());
    d["cipher"] = c ? py::object(py::str(c)) : py::object(py::none());
    d["peer_key"] = s.has_peer_key ? py::object(key_bytes(s.peer_key)) : py::object(py::none());
    d["handshake_hash"] = key_bytes(s.handshake_hash);
    d["rekeys_sent"] = s.rekeys_sent;
    d["rekeys_received"] = s.rekeys_received;
    d["records_sent"] = s.records_sent;
    d["records_received"] = s.records_received;
    return d;
}

}  // namespace

py::object secure_info_dict(const tf_secure_info_t &s) { return info_to_dict(s); }

void init_secure(py::module_ &m) {
    m.def("keypair_generate", [] {
        uint8_t priv[32], pub[32];
        check(tf_keypair_generate(priv, pub), "keypair");
        py::tuple out = py::make_tuple(key_bytes(priv), key_bytes(pub));
        tf_key_wipe(priv, sizeof priv);
        return out;
    }, "A new X25519 key pair: (private, public), 32 bytes each.");
    m.def("key_public", [](const py::bytes &priv) {
        uint8_t k[32], pub[32];
        key_from(priv, k);
        int rc = tf_key_public(k, pub);
        tf_key_wipe(k, sizeof k);
        check(rc, "key_public");
        return key_bytes(pub);
    }, py::arg("private"));
    m.def("key_encode", [](const py::bytes &key) {
        uint8_t k[32];
        key_from(key, k);
        char text[TRUFLUX_KEY_TEXT_SIZE];
        int rc = tf_key_encode(k, text);
        tf_key_wipe(k, sizeof k);
        check(rc, "key_encode");
        return std::string(text);
    }, py::arg("key"));
    m.def("key_decode", [](const std::string &text) {
        uint8_t k[32];
        check(tf_key_decode(text.data(), text.size(), k), "not a key: 44 characters of base64");
        py::bytes out = key_bytes(k);
        tf_key_wipe(k, sizeof k);
        return out;
    }, py::arg("text"));
    m.def("crypto_backend", [] { return std::string(tf_crypto_backend()); });

    auto conn_cls = py::reinterpret_borrow<py::class_<conn, std::shared_ptr<conn>>>(m.attr("Conn"));
    conn_cls
        .def("secure",
             [](const conn &c, int dir) { return check(tf_conn_secure(c.raw(), dir)) == 1; },
             py::arg("dir"), "tf_conn_secure: whether the direction is encrypted now.")
        .def("set_secure",
             [](const std::shared_ptr<conn> &c, int dirs, bool on) {
                 check(guarded(*c->owner(), true,
                               [&] { return tf_conn_set_secure(c->raw(), dirs, on ? 1 : 0); }),
                       "set_secure");
             },
             py::arg("dirs"), py::arg("on"))
        .def("secure_info", [](const conn &c) -> py::object {
            tf_secure_info_t s;
            memset(&s, 0, sizeof s);
            s.size = sizeof s;
            int rc = tf_conn_secure_info(c.raw(), &s);
            if (rc == TRUFLUX_ENOTSUP) return py::none();
            check(rc, "secure_info");
            return info_to_dict(s);
        }, "tf_conn_secure_info as a dict, or None without a secure layer.");

    m.attr("SECURE_OFF") = TRUFLUX_SECURE_OFF;
    m.attr("SECURE_OPTIONAL") = TRUFLUX_SECURE_OPTIONAL;
    m.attr("SECURE_REQUIRED") = TRUFLUX_SECURE_REQUIRED;
    m.attr("DIR_SEND") = TRUFLUX_DIR_SEND;
    m.attr("DIR_RECV") = TRUFLUX_DIR_RECV;
}

}  // namespace tfpy
