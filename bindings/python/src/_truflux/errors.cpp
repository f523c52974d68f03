// _truflux: the error list, taken from TRUFLUX_ERRNO_MAP when this file is compiled, and the
// translation of a failed C call into the Python exception that truflux.errors generates for
// its code.
#include "common.h"

namespace tfpy {

namespace {

// truflux.errors registers a callable (code, detail) -> exception instance at import.
py::object &factory() {
    static py::object *f = new py::object();  // never destroyed: outlives interpreter teardown
    return *f;
}

py::list error_table() {
    py::list out;
#define TFPY_ERROR_ROW_(name, num, msg) out.append(py::make_tuple(num, #name, msg));
    TRUFLUX_ERRNO_MAP(TFPY_ERROR_ROW_)
#undef TFPY_ERROR_ROW_
    return out;
}

void raise_python(const error &e) {
    py::object &f = factory();
    if (!f) {
        std::string what = std::string(tf_errname(e.code)) + ": " + tf_strerror(e.code);
        if (!e.detail.empty()) what += " (" + e.detail + ")";
        PyErr_SetString(PyExc_RuntimeError, what.c_str());
        return;
    }
    try {
        py::object exc = f(e.code, e.detail);
        PyErr_SetObject(reinterpret_cast<PyObject *>(Py_TYPE(exc.ptr())), exc.ptr());
    } catch (py::error_already_set &failed) {
        failed.restore();  // the factory's own failure is what the caller sees
    }
}

}  // namespace

[[noreturn]] void throw_last_error(const char *what) {
    int code = tf_last_error();
    std::string detail = tf_last_error_detail();
    if (code >= 0) code = TRUFLUX_EINTERNAL;
    throw error{code, detail.empty() ? std::string(what) : std::string(what) + ": " + detail};
}

void init_errors(py::module_ &m) {
    m.def("error_table", &error_table,
          "[(code, name, message), ...] for every code of the C library's error list.");
    m.def("strerror", [](int code) { return std::string(tf_strerror(code)); },
          "The C library's message for an error code.");
    m.def("errname", [](int code) { return std::string(tf_errname(code)); },
          "The C library's name for an error code, e.g. 'EPROTO'.");
    m.def(
        "set_error_factory", [](py::object f) { factory() = std::move(f); },
        "Registers f(code, detail) -> exception, used for every failed call.");
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const error &e) {
            raise_python(e);
        }
    });
}

}  // namespace tfpy
