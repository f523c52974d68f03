// _truflux: the module. Each bound class registers itself from its own file.
#include "common.h"

PYBIND11_MODULE(_truflux, m) {
    m.doc() = "Private binding of the truflux C API; use the `truflux` package.";
    m.def("version", [] { return std::string(tf_version()); },
          "The C library's version string.");
    m.attr("TYPE_EMPTY") = static_cast<int>(TRUFLUX_TYPE_EMPTY);
    m.attr("TYPE_BINARY") = static_cast<int>(TRUFLUX_TYPE_BINARY);
    m.attr("TYPE_TEXT") = static_cast<int>(TRUFLUX_TYPE_TEXT);
    m.attr("TYPE_MSGPACK") = static_cast<int>(TRUFLUX_TYPE_MSGPACK);
    m.attr("CLOSE_GRACEFUL") = static_cast<int>(TRUFLUX_CLOSE_GRACEFUL);
    m.attr("CLOSE_FORCE") = static_cast<int>(TRUFLUX_CLOSE_FORCE);
    tfpy::init_errors(m);
    tfpy::init_protocol(m);
    tfpy::init_options(m);
    tfpy::init_conn(m);
    tfpy::init_endpoint(m);
    tfpy::init_server(m);
    tfpy::init_client(m);
    tfpy::init_file(m);
    tfpy::init_secure(m);
}
