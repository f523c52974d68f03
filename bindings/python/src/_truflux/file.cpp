// _truflux: file transfers (truflux/file.h) and protocol states on a connection. A transfer's
// events come through the endpoint's queue (endpoint.cpp); this file binds the handle and
// the calls that start and steer transfers.
#include "file.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>

#include "conn.h"

namespace tfpy {

file::file(host_ptr h, tf_file_t *f) : host_(std::move(h)), f_(tf_file_retain(f)) {}

file::~file() { tf_file_release(f_); }

namespace {

// One call on the loop's thread, shared by the caller (who may give up waiting) and the
// loop (which may run it late).
struct loop_call {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    int rc = 0;
    std::function<int()> fn;
};

void run_loop_call(void *arg) {
    auto *p = static_cast<std::shared_ptr<loop_call> *>(arg);
    std::shared_ptr<loop_call> c = *p;
    delete p;
    int rc = c->fn();
    {
        std::lock_guard<std::mutex> g(c->mu);
        c->rc = rc;
        c->done = true;
    }
    c->cv.notify_all();
}

py::object file_stats_dict(tf_file_t *f) {
    tf_file_stats_t s;
    s.size = sizeof s;
    check(tf_file_stats(f, &s));
    py::dict d;
    d["total"] = s.total;
    d["offset"] = s.offset;
    d["position"] = s.position;
    d["buffered"] = s.buffered;
    d["peak_buffered"] = s.peak_buffered;
    d["credit"] = s.credit;
    d["zero_copy"] = s.zero_copy;
    return d;
}

std::shared_ptr<file> started(const std::shared_ptr<conn> &c, tf_file_t *f) {
    auto out = std::make_shared<file>(c->owner(), f);
    tf_file_release(f);  // the send call's reference: `out` holds its own
    return out;
}

}  // namespace

int on_loop(host &h, size_t which, std::function<int()> fn) {
    auto c = std::make_shared<loop_call>();
    c->fn = std::move(fn);
    return guarded(h, true, [&] {
        auto *arg = new std::shared_ptr<loop_call>(c);
        int rc = tf_loop_call(h.loop_at(which), run_loop_call, arg);
        if (rc < 0) {
            delete arg;
            return rc;
        }
        std::unique_lock<std::mutex> lk(c->mu);
        if (!c->cv.wait_for(lk, std::chrono::seconds(5), [&] { return c->done; }))
            return (int)TRUFLUX_ETIMEDOUT;
        return c->rc;
    });
}

void init_file(py::module_ &m) {
    py::class_<file, std::shared_ptr<file>>(m, "File",
        "A file transfer (truflux/file.h). Controls return 0 or a negative error code.")
        .def_property_readonly("key", &file::key, "Identifies the transfer in events.")
        .def_property_readonly("name",
                               [](const file &f) { return std::string(tf_file_name(f.raw())); })
        .def_property_readonly("size", [](const file &f) { return tf_file_size(f.raw()); })
        .def_property_readonly("is_stream",
                               [](const file &f) { return tf_file_is_stream(f.raw()) != 0; })
        .def_property_readonly("is_paused",
                               [](const file &f) { return tf_file_is_paused(f.raw()) != 0; })
        .def_property_readonly("is_incoming",
                               [](const file &f) { return tf_file_is_incoming(f.raw()) != 0; })
        .def_property_readonly("id", [](const file &f) { return tf_file_id(f.raw()); })
        .def_property_readonly("conn_key", [](const file &f) {
            return reinterpret_cast<uintptr_t>(tf_file_conn(f.raw()));
        })
        .def("stats", [](const file &f) { return file_stats_dict(f.raw()); })
        .def("accept_path", [](file &f, const std::string &path) {
            return f.control([&](tf_file_t *x) { return tf_file_accept_path(x, path.c_str()); });
        }, py::arg("path"))
        .def("accept_dir", [](file &f, const std::string &dir) {
            return f.control([&](tf_file_t *x) { return tf_file_accept_dir(x, dir.c_str()); });
        }, py::arg("dir"))
        .def("accept_fd", [](file &f, int fd) {
            // Takes fd over whatever happens: the library on success, closed here otherwise.
            int rc = f.control([&](tf_file_t *x) { return tf_file_accept_fd(x, fd); });
            if (rc < 0) close(fd);
            return rc;
        }, py::arg("fd"), "Takes the descriptor over (closed here on failure).")
        .def("decline", [](file &f) { return f.control(tf_file_decline); })
        .def("cancel", [](file &f) { return f.control(tf_file_cancel); })
        .def("pause", [](file &f) { return f.control(tf_file_pause); })
        .def("resume", [](file &f) { return f.control(tf_file_resume); });

    auto conn_cls = py::reinterpret_borrow<py::class_<conn, std::shared_ptr<conn>>>(m.attr("Conn"));
    conn_cls
        .def("send_file_path",
             [](const std::shared_ptr<conn> &c, const std::string &path,
                const std::optional<std::string> &name) {
                 tf_file_t *f = nullptr;
                 check(guarded(*c->owner(), true, [&] {
                           return tf_file_send_path(c->raw(), path.c_str(),
                                                    name ? name->c_str() : nullptr, &f);
                       }),
                       path.c_str());
                 return started(c, f);
             },
             py::arg("path"), py::arg("name") = py::none(),
             "tf_file_send_path: offers the file; raises the mapped error.")
        .def("send_file_fd",
             [](const std::shared_ptr<conn> &c, int fd, const std::string &name, int64_t size) {
                 tf_file_t *f = nullptr;
                 int rc = guarded(*c->owner(), true, [&] {
                     return tf_file_send_fd(c->raw(), fd, name.c_str(), size, &f);
                 });
                 if (rc < 0) {
                     close(fd);
                     throw error{rc, name};
                 }
                 return started(c, f);
             },
             py::arg("fd"), py::arg("name"), py::arg("size") = -1,
             "tf_file_send_fd: takes the descriptor over (closed here on failure).")
        .def("state",
             [](const std::shared_ptr<conn> &c) {
                 tf_conn_t *raw = c->raw();
                 return check(on_loop(*c->owner(), c->loop_index(),
                                      [raw] { return tf_conn_state(raw); }));
             },
             "tf_conn_state, read on the loop's thread.")
        .def("set_state",
             [](const std::shared_ptr<conn> &c, int state) {
                 tf_conn_t *raw = c->raw();
                 check(on_loop(*c->owner(), c->loop_index(),
                               [raw, state] { return tf_conn_set_state(raw, state); }),
                       "set_state");
             },
             py::arg("state"), "tf_conn_set_state, on the loop's thread (waits for it).");

    m.attr("FILE_SIZE_UNKNOWN") = static_cast<int64_t>(TRUFLUX_FILE_SIZE_UNKNOWN);
}

}  // namespace tfpy
