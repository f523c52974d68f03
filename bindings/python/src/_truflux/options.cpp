// _truflux: options (truflux/options.h). The keys are exported as OPT_* constants taken from
// the C enum, so that the Python table of keyword arguments (truflux/_options.py) cannot name
// a key the library lacks.
#include "common.h"

#include <string>

#include "options.h"

namespace tfpy {

options::options() : o(truflux_options_new()) {
    if (!o) throw error{TRUFLUX_ENOMEM, "cannot create options"};
}

options::~options() { truflux_options_free(o); }

void init_options(py::module_ &m) {
    py::class_<options>(m, "Options", "Connection options (truflux/options.h), copied by the "
                                      "server or client that takes them.")
        .def(py::init<>())
        .def(
            "set_int",
            [](options &self, int key, int64_t value) {
                check(tf_options_set_int(self.o, key, value), "option");
            },
            py::arg("key"), py::arg("value"))
        .def(
            "get_int",
            [](const options &self, int key) {
                int64_t v = 0;
                check(tf_options_get_int(self.o, key, &v), "option");
                return v;
            },
            py::arg("key"))
        .def(
            "set_str",
            [](options &self, int key, const std::string &value) {
                check(tf_options_set_str(self.o, key, value.c_str()), "option");
            },
            py::arg("key"), py::arg("value"))
        .def(
            "set_bytes",
            [](options &self, int key, const py::bytes &value) {
                // No copy of our own: the library copies, and wipes its copy when freed.
                char *data = nullptr;
                Py_ssize_t len = 0;
                if (PyBytes_AsStringAndSize(value.ptr(), &data, &len) != 0)
                    throw py::error_already_set();
                check(tf_options_set_bytes(self.o, key, data, (size_t)len), "option");
            },
            py::arg("key"), py::arg("value"));

#define TFPY_OPT_(name) m.attr("OPT_" #name) = static_cast<int>(TRUFLUX_OPT_##name);
    TFPY_OPT_(NODELAY)
    TFPY_OPT_(MAX_CONNECTIONS)
    TFPY_OPT_(MAX_MESSAGE_SIZE)
    TFPY_OPT_(HANDSHAKE_TIMEOUT)
    TFPY_OPT_(IDLE_TIMEOUT)
    TFPY_OPT_(HEARTBEAT)
    TFPY_OPT_(SEND_HWM)
    TFPY_OPT_(SEND_LWM)
    TFPY_OPT_(CLOSE_TIMEOUT)
    TFPY_OPT_(STRICT)
    TFPY_OPT_(RECONNECT)
    TFPY_OPT_(RECONNECT_MIN)
    TFPY_OPT_(RECONNECT_MAX)
    TFPY_OPT_(BACKLOG)
    TFPY_OPT_(SECURE)
    TFPY_OPT_(SECURE_PATTERNS)
    TFPY_OPT_(SECURE_CIPHERS)
    TFPY_OPT_(STATIC_KEY)
    TFPY_OPT_(STATIC_KEY_FILE)
    TFPY_OPT_(PEER_KEY)
    TFPY_OPT_(PEER_KEY_FILE)
    TFPY_OPT_(AUTHORIZED_KEYS_FILE)
    TFPY_OPT_(REKEY_MESSAGES)
    TFPY_OPT_(REKEY_BYTES)
    TFPY_OPT_(REKEY_INTERVAL)
    TFPY_OPT_(TLS_CERT_FILE)
    TFPY_OPT_(TLS_KEY_FILE)
    TFPY_OPT_(TLS_CA_FILE)
    TFPY_OPT_(TLS_PIN_SHA256)
    TFPY_OPT_(TLS_CLIENT_CERT)
    TFPY_OPT_(TLS_SERVER_NAME)
    TFPY_OPT_(TLS_INSECURE)
    TFPY_OPT_(FILE_WINDOW)
    TFPY_OPT_(FILE_CHUNK)
    TFPY_OPT_(FILE_MAX_TRANSFERS)
    TFPY_OPT_(FILE_MAX_SIZE)
    TFPY_OPT_(FILE_QUEUE)
    TFPY_OPT_(FILE_SYNC)
    TFPY_OPT_(FILE_SENDFILE)
#undef TFPY_OPT_
}

}  // namespace tfpy
