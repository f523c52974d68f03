// _truflux: connections (truflux/conn.h).
#include "common.h"

#include "conn.h"

namespace tfpy {

payload_view::payload_view(const py::object &data) {
    if (data.is_none()) return;
    if (PyBytes_Check(data.ptr())) {
        ptr_ = PyBytes_AS_STRING(data.ptr());
        len_ = (size_t)PyBytes_GET_SIZE(data.ptr());
        return;
    }
    if (PyObject_GetBuffer(data.ptr(), &view_, PyBUF_SIMPLE) != 0) throw py::error_already_set();
    held_ = true;
    ptr_ = view_.buf;
    len_ = (size_t)view_.len;
}

payload_view::~payload_view() {
    if (held_) PyBuffer_Release(&view_);
}

conn::conn(host_ptr h, tf_conn_t *c) : host_(std::move(h)), c_(tf_conn_retain(c)) {}

conn::~conn() { tf_conn_release(c_); }

int conn::send(const std::string &name, int type, const py::object &data) {
    payload_view v(data);
    return guarded(*host_, v.large(), [&] {
        return tf_send_name(c_, name.c_str(), type, v.data(), v.size());
    });
}

int conn::close(int flags, int code) {
    return guarded(*host_, false, [&] { return tf_conn_close(c_, flags, code); });
}

bool conn::is_open() const { return tf_conn_is_open(c_) != 0; }

py::object conn::address(bool local) const {
    char host[64];
    int port = 0;
    int rc = local ? tf_conn_local_addr(c_, host, sizeof host, &port)
                   : tf_conn_remote_addr(c_, host, sizeof host, &port);
    if (rc != 0) return py::none();
    return py::make_tuple(py::str(host), port);
}

py::dict conn::stats() const {
    tf_conn_stats_t s;
    s.size = sizeof s;
    check(tf_conn_stats(c_, &s));
    py::dict d;
    d["msgs_in"] = s.msgs_in;
    d["msgs_out"] = s.msgs_out;
    d["bytes_in"] = s.bytes_in;
    d["bytes_out"] = s.bytes_out;
    d["queued"] = s.queued;
    return d;
}

void init_conn(py::module_ &m) {
    py::class_<conn, std::shared_ptr<conn>>(m, "Conn", "A connection (truflux/conn.h).")
        .def("send", &conn::send, py::arg("name"), py::arg("type"), py::arg("data"),
             "tf_send_name: data None or bytes-like. Returns 0 or a negative error code "
             "(TRUFLUX_EAGAIN above the high-water mark: a DRAIN event follows).")
        .def("close", &conn::close, py::arg("flags") = 0, py::arg("code") = 0,
             "tf_conn_close. Returns 0 or a negative error code.")
        .def_property_readonly("is_open", &conn::is_open)
        .def_property_readonly("key", &conn::key, "Identifies the connection in events.")
        .def_property_readonly("loop", &conn::loop_index,
                               "Which of its server's loops it lives on (0: the server's own).")
        .def_property_readonly("local_address", [](const conn &c) { return c.address(true); })
        .def_property_readonly("remote_address", [](const conn &c) { return c.address(false); })
        .def("stats", &conn::stats);
}

}  // namespace tfpy
