// _truflux: clients (truflux/client.h), reporting into their endpoint's event queue.
#include "endpoint.h"

#include <string>

#include "conn.h"
#include "options.h"

namespace tfpy {

namespace {

class client : public endpoint {
public:
    client(std::shared_ptr<protocol> proto, const options *opts, size_t queue_max)
        : endpoint(std::move(proto), queue_max) {
        c_ = truflux_client_new(host_->loop, proto_->p, raw(opts));
        if (!c_) throw_last_error("cannot create the client");
        try {
            tf_callbacks_t cbs = callbacks();
            check(tf_client_set_callbacks(c_, &cbs));
            // Files are always enabled: offers nobody handles are declined in Python.
            tf_file_callbacks_t fcbs = file_callbacks();
            check(tf_client_set_file_callbacks(c_, &fcbs));
            host_->start();
        } catch (...) {
            truflux_client_free(c_);
            c_ = nullptr;
            throw;
        }
    }

    ~client() override { free(); }

    // Starts connecting; EVENT_OPEN, or EVENT_ERROR then EVENT_CLOSE, follow.
    void connect(const std::string &url) {
        int rc = guarded(*host_, true, [&] { return tf_client_connect(c_, url.c_str()); });
        if (rc < 0) {
            std::string detail = url;
            if (tf_last_error() == rc) detail += std::string(": ") + tf_last_error_detail();
            throw error{rc, detail};
        }
    }

    int send(const std::string &name, int type, const py::object &data) {
        payload_view v(data);
        return guarded(*host_, v.large(), [&] {
            return tf_client_send_name(c_, name.c_str(), type, v.data(), v.size());
        });
    }

    // Returns 0 or the negative code (TRUFLUX_ECLOSED when already closed).
    int close(int flags) {
        return guarded(*host_, true, [&] { return tf_client_close(c_, flags); });
    }

    py::object connection() {
        tf_conn_t *c = nullptr;
        check(guarded(*host_, false, [&] {
            c = tf_conn_retain(tf_client_conn(c_));  // the client may be freed right after
            return 0;
        }));
        if (!c) return py::none();
        auto out = std::make_shared<conn>(host_, c);
        tf_conn_release(c);
        return py::cast(out);
    }

private:
    void free_objects() override {
        truflux_client_free(c_);
        c_ = nullptr;
    }

    tf_client_t *c_ = nullptr;
};

}  // namespace

void init_client(py::module_ &m) {
    py::class_<client, endpoint>(m, "Client", "A client on a loop of its own (truflux/client.h).")
        .def(py::init<std::shared_ptr<protocol>, const options *, size_t>(),
             py::arg("protocol"), py::arg("options"), py::arg("queue_max"))
        .def("connect", &client::connect, py::arg("url"))
        .def("send", &client::send, py::arg("name"), py::arg("type"), py::arg("data"),
             "tf_client_send_name; returns 0 or a negative error code.")
        .def("close", &client::close, py::arg("flags") = 0)
        .def("connection", &client::connection, "The client's connection (None before connect).");
}

}  // namespace tfpy
