// _truflux: protocol definitions (truflux/protocol.h). Handlers stay in Python: messages reach
// Python through the event queue, so no C handler is ever set here.
#include "common.h"

#include <string>

#include "protocol.h"

namespace tfpy {

protocol::protocol() : p(truflux_protocol_new()) {
    if (!p) throw error{TRUFLUX_ENOMEM, "cannot create a protocol"};
}

protocol::~protocol() { truflux_protocol_free(p); }

void init_protocol(py::module_ &m) {
    py::class_<protocol, std::shared_ptr<protocol>>(m, "Protocol",
        "A protocol definition: message names (ids derived from them) with optional schemas. "
        "Frozen once a server or client uses it.")
        .def(py::init<>())
        .def(
            "add",
            [](protocol &self, const std::string &name, unsigned types, uint32_t max_size) {
                return (int64_t)check((int)tf_protocol_add(self.p, name.c_str(), types, max_size),
                                      name.c_str());
            },
            py::arg("name"), py::arg("types") = 0u, py::arg("max_size") = 0u,
            "Defines a message: `types` a mask of 1 << TYPE_* (0: any), `max_size` in bytes "
            "(0: the connection's maximum). Returns its id.")
        .def(
            "id",
            [](const protocol &self, const std::string &name) {
                return (int64_t)check((int)tf_protocol_id(self.p, name.c_str()), name.c_str());
            },
            py::arg("name"), "The id of a defined message.")
        .def(
            "name",
            [](const protocol &self, uint32_t id) -> py::object {
                const char *n = tf_protocol_name(self.p, id);
                if (!n) return py::none();
                return py::str(n);
            },
            py::arg("id"), "The name of a defined id, or None.")
        .def(
            "add_state",
            [](protocol &self, const std::string &state) {
                return check(tf_protocol_add_state(self.p, state.c_str()), state.c_str());
            },
            py::arg("state"), "Defines a state; returns its number (0 for the first).")
        .def(
            "allow",
            [](protocol &self, const std::string &message, const std::string &state) {
                check(tf_protocol_allow(self.p, message.c_str(), state.c_str()),
                      (message + " in " + state).c_str());
            },
            py::arg("message"), py::arg("state"), "Makes a message valid in a state.")
        .def(
            "state",
            [](const protocol &self, const std::string &state) {
                return check(tf_protocol_state(self.p, state.c_str()), state.c_str());
            },
            py::arg("state"), "The number of a defined state.")
        .def("count", [](const protocol &self) { return tf_protocol_count(self.p); })
        .def(
            "fingerprint",
            [](const protocol &self) {
                uint8_t fp[32];
                check(tf_protocol_fingerprint(self.p, fp));
                return py::bytes(reinterpret_cast<const char *>(fp), sizeof fp);
            },
            "The definition's 32-byte SHA-256 fingerprint, as sent in the hello.");
    m.def(
        "name_id", [](const std::string &name) { return tf_protocol_name_id(name.c_str()); },
        py::arg("name"), "The id every implementation derives from a message name.");
}

}  // namespace tfpy
