// _truflux: servers (truflux/server.h), reporting into their endpoint's event queue.
#include "endpoint.h"

#include <string>
#include <vector>

#include "conn.h"
#include "options.h"

namespace tfpy {

namespace {

class server : public endpoint {
public:
    // Listens on every URL before the loop starts, so that a failure (address in use, bad
    // URL) is an exception here and never a half-started server.
    server(std::shared_ptr<protocol> proto, const options *opts, size_t queue_max,
           const std::vector<std::string> &urls)
        : endpoint(std::move(proto), queue_max) {
        s_ = truflux_server_new(host_->loop, proto_->p, raw(opts));
        if (!s_) throw_last_error("cannot create the server");
        try {
            tf_callbacks_t cbs = callbacks();
            check(tf_server_set_callbacks(s_, &cbs));
            // Files are always enabled: offers nobody handles are declined in Python.
            tf_file_callbacks_t fcbs = file_callbacks();
            check(tf_server_set_file_callbacks(s_, &fcbs));
            for (const std::string &url : urls) listen_now(url);
            host_->start();
            started_ = true;
        } catch (...) {
            truflux_server_free(s_);
            s_ = nullptr;
            throw;
        }
    }

    ~server() override { free(); }

    void listen(const std::string &url) { listen_now(url); }

    int port() {
        return check(guarded(*host_, false, [&] { return tf_server_port(s_); }));
    }

    size_t count() {
        size_t n = 0;
        check(guarded(*host_, false, [&] {
            n = tf_server_count(s_);
            return 0;
        }));
        return n;
    }

    // Queued for the loop: the number of receivers is not known here.
    void broadcast(const std::string &name, int type, const py::object &data,
                   const std::vector<std::shared_ptr<conn>> &exclude) {
        int64_t id = tf_protocol_id(proto_->p, name.c_str());
        if (id < 0) throw error{(int)id, "no message named '" + name + "'"};
        std::vector<tf_conn_t *> ex;
        ex.reserve(exclude.size());
        for (const auto &c : exclude)
            if (c) ex.push_back(c->raw());
        payload_view v(data);
        check(guarded(*host_, true, [&] {
                  return tf_server_broadcast(s_, (uint32_t)id, type, v.data(), v.size(),
                                             ex.data(), ex.size());
              }),
              name.c_str());
    }

    // Starts the graceful (flags 0) or forced close; EVENT_CLOSE with key 0 reports the end.
    void close(int flags) {
        check(guarded(*host_, true, [&] { return tf_server_close(s_, flags); }));
    }

private:
    // Before start() the host is not alive yet, so this goes around the guard there.
    void listen_now(const std::string &url) {
        auto go = [&] { return tf_server_listen(s_, url.c_str()); };
        int rc;
        if (!started_) {
            py::gil_scoped_release nogil;
            rc = go();
        } else {
            rc = guarded(*host_, true, go);
        }
        if (rc < 0) {
            std::string detail = url;
            if (tf_last_error() == rc) detail += std::string(": ") + tf_last_error_detail();
            throw error{rc, detail};
        }
    }

    void free_objects() override {
        truflux_server_free(s_);
        s_ = nullptr;
    }

    tf_server_t *s_ = nullptr;
    bool started_ = false;
};

}  // namespace

void init_server(py::module_ &m) {
    py::class_<server, endpoint>(m, "Server", "A server on a loop of its own (truflux/server.h).")
        .def(py::init<std::shared_ptr<protocol>, const options *, size_t,
                      const std::vector<std::string> &>(),
             py::arg("protocol"), py::arg("options"), py::arg("queue_max"), py::arg("urls"))
        .def("listen", &server::listen, py::arg("url"))
        .def_property_readonly("port", &server::port)
        .def_property_readonly("count", &server::count)
        .def("broadcast", &server::broadcast, py::arg("name"), py::arg("type"), py::arg("data"),
             py::arg("exclude"))
        .def("close", &server::close, py::arg("flags") = 0);
}

}  // namespace tfpy
