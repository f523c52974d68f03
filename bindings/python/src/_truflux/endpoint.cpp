// _truflux: the event queue of a server or client, seen from Python.
//
// pop() returns one tuple per event, its first item the TRUFLUX_EVENT_* kind and its second
// the connection's key (Conn.key; 0 when the event has no connection):
//   (EVENT_OPEN, key, Conn)                      a connection is open
//   (EVENT_MESSAGE, key, name, type, data)       data is bytes (b"" for an empty message)
//   (EVENT_CLOSE, key, reason, remote)           key 0: the server finished closing
//   (EVENT_ERROR, key, code, detail)
//   (EVENT_DRAIN, key)
//   (EVENT_WAKE, 0)
//   (EVENT_SECURE, key, Conn, dirs, info)        info: Conn.secure_info()'s dict, as then;
//                                                may come before the connection's OPEN
//   (EVENT_SECURE_FAIL, key, code, detail)
//   (EVENT_FILE_*, key, File, ...)               FILE_PROGRESS: done, total;
//                                                FILE_ERROR: code, detail; FILE_END: status
#include "endpoint.h"

#include "conn.h"
#include "file.h"

namespace tfpy {

namespace {

// Frees a popped event however its conversion ends.
struct event_owner {
    tf_event_t *ev;
    ~event_owner() { truflux_event_free(ev); }
};

}  // namespace

endpoint::endpoint(std::shared_ptr<protocol> proto, size_t queue_max)
    : host_(std::make_shared<host>()), proto_(std::move(proto)) {
    queue_ = truflux_queue_new(queue_max);
    if (!queue_) throw_last_error("cannot create the event queue");
}

endpoint::~endpoint() {
    // The derived destructor ran free() already; what is left here is a constructor that
    // failed half-way, after cleaning up its own objects: no callback can reach the queue.
    if (queue_) {
        host_->shutdown([] {});
        truflux_queue_free(queue_);
    }
}

tf_callbacks_t endpoint::callbacks() {
    tf_callbacks_t cbs = TRUFLUX_CALLBACKS_INIT;
    check(tf_queue_callbacks(queue_, nullptr, &cbs), "event queue");
    return cbs;
}

tf_file_callbacks_t endpoint::file_callbacks() {
    tf_file_callbacks_t cbs = TRUFLUX_FILE_CALLBACKS_INIT;
    check(tf_queue_file_callbacks(queue_, nullptr, &cbs), "event queue");
    return cbs;
}

void endpoint::check_alive() const {
    if (!queue_) throw error{TRUFLUX_ECLOSED, "already closed"};
}

void endpoint::free() {
    if (!queue_) return;
    {
        py::gil_scoped_release nogil;
        host_->shutdown([this] { free_objects(); });
    }
    truflux_queue_free(queue_);
    queue_ = nullptr;
}

py::object endpoint::convert(tf_event_t *ev) {
    event_owner own{ev};
    int kind = tf_event_kind(ev);
    tf_conn_t *c = tf_event_conn(ev);
    uintptr_t key = reinterpret_cast<uintptr_t>(c);
    switch (kind) {
    case TRUFLUX_EVENT_OPEN:
        return py::make_tuple(kind, key, std::make_shared<conn>(host_, c));
    case TRUFLUX_EVENT_MESSAGE: {
        tf_message_t m;
        check(tf_event_message(ev, &m));
        return py::make_tuple(kind, key, py::str(m.name), m.type,
                              py::bytes(static_cast<const char *>(m.data), m.len));
    }
    case TRUFLUX_EVENT_CLOSE:
        return py::make_tuple(kind, key, tf_event_code(ev), tf_event_remote(ev) != 0);
    case TRUFLUX_EVENT_ERROR:
    case TRUFLUX_EVENT_SECURE_FAIL:
        return py::make_tuple(kind, key, tf_event_code(ev), py::str(tf_event_detail(ev)));
    case TRUFLUX_EVENT_SECURE: {
        tf_secure_info_t info;
        info.size = sizeof info;
        check(tf_event_secure_info(ev, &info));
        return py::make_tuple(kind, key, std::make_shared<conn>(host_, c), tf_event_code(ev),
                              secure_info_dict(info));
    }
    default:
        break;
    }
    tf_file_t *f = tf_event_file(ev);
    if (!f) return py::make_tuple(kind, key);
    auto handle = std::make_shared<file>(host_, f);
    switch (kind) {
    case TRUFLUX_EVENT_FILE_PROGRESS: {
        uint64_t done = 0;
        int64_t total = 0;
        check(tf_event_progress(ev, &done, &total));
        return py::make_tuple(kind, key, handle, done, total);
    }
    case TRUFLUX_EVENT_FILE_ERROR:
        return py::make_tuple(kind, key, handle, tf_event_code(ev), py::str(tf_event_detail(ev)));
    case TRUFLUX_EVENT_FILE_END:
        return py::make_tuple(kind, key, handle, tf_event_code(ev));
    default:
        return py::make_tuple(kind, key, handle);
    }
}

py::object endpoint::pop() {
    check_alive();
    tf_event_t *ev = tf_queue_pop(queue_);
    if (!ev) return py::none();
    return convert(ev);
}

py::list endpoint::pop_many(size_t limit) {
    check_alive();
    py::list out;
    for (size_t i = 0; i < limit; i++) {
        tf_event_t *ev = tf_queue_pop(queue_);
        if (!ev) break;
        out.append(convert(ev));
    }
    return out;
}

int endpoint::fd() const {
    check_alive();
    return tf_queue_fd(queue_);
}

void endpoint::wake() {
    check_alive();
    check(tf_queue_wake(queue_));
}

py::dict endpoint::queue_stats() const {
    check_alive();
    tf_queue_stats_t s;
    s.size = sizeof s;
    check(tf_queue_stats(queue_, &s));
    py::dict d;
    d["events"] = s.events;
    d["bytes"] = s.bytes;
    d["max_bytes"] = s.max_bytes;
    d["dropped"] = s.dropped;
    d["refused"] = s.refused;
    return d;
}

void init_endpoint(py::module_ &m) {
    py::class_<endpoint>(m, "Endpoint",
        "What servers and clients share: a loop on its own thread and an event queue.")
        .def("pop", &endpoint::pop, "The next event as a tuple, or None (never blocks).")
        .def("pop_many", &endpoint::pop_many, py::arg("limit") = 256,
             "Up to `limit` events as tuples, oldest first (never blocks).")
        .def("fd", &endpoint::fd, "A descriptor readable exactly while events wait.")
        .def("wake", &endpoint::wake, "Queues an EVENT_WAKE (coalesced), from any thread.")
        .def("queue_stats", &endpoint::queue_stats)
        .def("free", &endpoint::free,
             "Stops the loop and frees everything now (connections close at once).")
        .def_property_readonly("freed", &endpoint::freed);
    m.attr("EVENT_OPEN") = static_cast<int>(TRUFLUX_EVENT_OPEN);
    m.attr("EVENT_MESSAGE") = static_cast<int>(TRUFLUX_EVENT_MESSAGE);
    m.attr("EVENT_CLOSE") = static_cast<int>(TRUFLUX_EVENT_CLOSE);
    m.attr("EVENT_ERROR") = static_cast<int>(TRUFLUX_EVENT_ERROR);
    m.attr("EVENT_DRAIN") = static_cast<int>(TRUFLUX_EVENT_DRAIN);
    m.attr("EVENT_WAKE") = static_cast<int>(TRUFLUX_EVENT_WAKE);
#define TFPY_EV_(name) m.attr("EVENT_" #name) = static_cast<int>(TRUFLUX_EVENT_##name);
    TFPY_EV_(SECURE)
    TFPY_EV_(SECURE_FAIL)
    TFPY_EV_(FILE_OFFER)
    TFPY_EV_(FILE_ACCEPT)
    TFPY_EV_(FILE_DECLINE)
    TFPY_EV_(FILE_PAUSE)
    TFPY_EV_(FILE_RESUME)
    TFPY_EV_(FILE_PROGRESS)
    TFPY_EV_(FILE_CANCEL)
    TFPY_EV_(FILE_ERROR)
    TFPY_EV_(FILE_END)
#undef TFPY_EV_
    m.attr("QUEUE_DEFAULT_MAX") = static_cast<size_t>(TRUFLUX_QUEUE_DEFAULT_MAX);
}

}  // namespace tfpy
