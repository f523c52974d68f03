// _truflux: servers (truflux/server.h), reporting into their endpoint's event queue.
#include "endpoint.h"

#include <cstring>
#include <string>
#include <vector>

#include "conn.h"
#include "options.h"

namespace tfpy {

namespace {

// The queue's callbacks, forwarded through these so that a connection of an added loop
// carries its loop's index (tf_conn_set_user; conn::loop_index) before the queue hears of
// it: its protocol state may only be read or moved on that loop's thread (file.cpp's
// on_loop), and the C API cannot tell a connection's loop. The tag goes on at the first
// event that hands the connection to Python: on_open, or on_secure when the open waits for
// the handshake. Callbacks of two loops may run here at once: they only read `loops` (filled
// before the server listens) and report into the queue, which has a lock of its own.
struct loop_tagger {
    tf_callbacks_t inner = TRUFLUX_CALLBACKS_INIT;
    std::vector<tf_loop_t *> loops;  // the added loops, as host::added

    tf_callbacks_t wrapped() {
        tf_callbacks_t cbs = TRUFLUX_CALLBACKS_INIT;
        cbs.user = this;
        cbs.on_open = [](void *u, tf_conn_t *c) {
            loop_tagger *t = of(u);
            t->tag(c);
            if (t->inner.on_open) t->inner.on_open(t->inner.user, c);
        };
        cbs.on_secure = [](void *u, tf_conn_t *c) {
            loop_tagger *t = of(u);
            t->tag(c);
            if (t->inner.on_secure) t->inner.on_secure(t->inner.user, c);
        };
        cbs.on_message = [](void *u, tf_conn_t *c, const tf_message_t *m) {
            loop_tagger *t = of(u);
            if (t->inner.on_message) t->inner.on_message(t->inner.user, c, m);
        };
        cbs.on_close = [](void *u, tf_conn_t *c, int reason, int remote) {
            loop_tagger *t = of(u);
            if (t->inner.on_close) t->inner.on_close(t->inner.user, c, reason, remote);
        };
        cbs.on_error = [](void *u, tf_conn_t *c, int code, const char *detail) {
            loop_tagger *t = of(u);
            if (t->inner.on_error) t->inner.on_error(t->inner.user, c, code, detail);
        };
        cbs.on_drain = [](void *u, tf_conn_t *c) {
            loop_tagger *t = of(u);
            if (t->inner.on_drain) t->inner.on_drain(t->inner.user, c);
        };
        cbs.on_secure_fail = [](void *u, tf_conn_t *c, int code, const char *detail) {
            loop_tagger *t = of(u);
            if (t->inner.on_secure_fail) t->inner.on_secure_fail(t->inner.user, c, code, detail);
        };
        return cbs;
    }

private:
    static loop_tagger *of(void *u) { return static_cast<loop_tagger *>(u); }

    // On the connection's loop thread. The server's own loop leaves the tag at 0.
    void tag(tf_conn_t *c) const {
        for (size_t i = 0; i < loops.size(); i++) {
            if (tf_loop_in_thread(loops[i])) {
                tf_conn_set_user(c, reinterpret_cast<void *>(static_cast<uintptr_t>(i + 1)));
                return;
            }
        }
    }
};

class server : public endpoint {
public:
    // Adds the loops and listens on every URL before the loop starts, so that a failure
    // (address in use, bad URL) is an exception here and never a half-started server.
    server(std::shared_ptr<protocol> proto, const options *opts, size_t queue_max,
           const std::vector<std::string> &urls, int loops)
        : endpoint(std::move(proto), queue_max) {
        if (loops < 1) throw error{TRUFLUX_EINVAL, "loops: at least 1"};
        s_ = truflux_server_new(host_->loop, proto_->p, raw(opts));
        if (!s_) throw_last_error("cannot create the server");
        try {
            tagger_.inner = callbacks();
            tf_callbacks_t cbs = tagger_.wrapped();
            check(tf_server_set_callbacks(s_, &cbs));
            // Files are always enabled: offers nobody handles are declined in Python.
            tf_file_callbacks_t fcbs = file_callbacks();
            check(tf_server_set_file_callbacks(s_, &fcbs));
            for (int i = 1; i < loops; i++) add_loop();
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

    // One more loop, on a library thread of its own (tf_server_add_loop's rules: before the
    // server listens, else TRUFLUX_EINVAL). The loop runs before it joins the server, so
    // that a failure leaves nothing half-added.
    void add_loop() {
        check_alive();
        bool listened = listen_called_;
        py::gil_scoped_release nogil;
        // Excludes every other call on the server (they hold the shared side), as
        // tf_server_add_loop requires.
        std::unique_lock<std::shared_mutex> lk(host_->mu);
        if (started_ && !host_->alive) throw error{TRUFLUX_ECLOSED, "add_loop: already closed"};
        // Room first: once the server has a part on the loop, the loop must be recorded, to
        // be freed after the server.
        host_->added.reserve(host_->added.size() + 1);
        tagger_.loops.reserve(tagger_.loops.size() + 1);
        tf_loop_t *l = truflux_loop_new();
        if (!l) throw_last_error("add_loop: cannot create the event loop");
        int rc = tf_loop_start(l);
        if (rc == 0) rc = tf_server_add_loop(s_, l);
        if (rc < 0) {
            std::string detail = "add_loop";
            if (listened)
                detail += ": only before the server listens";
            else if (tf_last_error() == rc && *tf_last_error_detail())
                detail += std::string(": ") + tf_last_error_detail();
            tf_loop_stop(l);
            truflux_loop_free(l);
            throw error{rc, detail};
        }
        host_->added.push_back(l);
        tagger_.loops.push_back(l);
    }

    // The server's own loop and the added ones.
    size_t loops() {
        std::shared_lock<std::shared_mutex> lk(host_->mu);
        return 1 + host_->added.size();
    }

    // tf_server_stats (summed over every loop; it waits for each loop in turn).
    py::dict stats() {
        tf_server_stats_t st;
        memset(&st, 0, sizeof st);
        st.size = sizeof st;
        check(guarded(*host_, true, [&] { return tf_server_stats(s_, &st); }), "stats");
        py::dict d;
        d["accepted"] = st.accepted;
        d["opened"] = st.opened;
        d["active"] = st.active;
        d["refused_limit"] = st.refused_limit;
        d["message_size"] = st.message_size;
        d["handshake_timeouts"] = st.handshake_timeouts;
        d["idle_timeouts"] = st.idle_timeouts;
        d["protocol_errors"] = st.protocol_errors;
        d["secure_errors"] = st.secure_errors;
        d["transport_errors"] = st.transport_errors;
        d["peer_lost"] = st.peer_lost;
        d["msgs_in"] = st.msgs_in;
        d["msgs_out"] = st.msgs_out;
        d["bytes_in"] = st.bytes_in;
        d["bytes_out"] = st.bytes_out;
        return d;
    }

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
        listen_called_ = true;  // the library counts even a failed listen
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
    bool listen_called_ = false;  // under the GIL
    loop_tagger tagger_;  // the server's callbacks point here: freed after the server
};

}  // namespace

void init_server(py::module_ &m) {
    py::class_<server, endpoint>(m, "Server", "A server on a loop of its own (truflux/server.h).")
        .def(py::init<std::shared_ptr<protocol>, const options *, size_t,
                      const std::vector<std::string> &, int>(),
             py::arg("protocol"), py::arg("options"), py::arg("queue_max"), py::arg("urls"),
             py::arg("loops") = 1)
        .def("listen", &server::listen, py::arg("url"))
        .def("add_loop", &server::add_loop,
             "tf_server_add_loop on a new loop run by a library thread; before listening.")
        .def_property_readonly("loops", &server::loops)
        .def("stats", &server::stats, "tf_server_stats as a dict, summed over every loop.")
        .def_property_readonly("port", &server::port)
        .def_property_readonly("count", &server::count)
        .def("broadcast", &server::broadcast, py::arg("name"), py::arg("type"), py::arg("data"),
             py::arg("exclude"))
        .def("close", &server::close, py::arg("flags") = 0);
}

}  // namespace tfpy
