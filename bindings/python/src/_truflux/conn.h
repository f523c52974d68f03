// _truflux: a connection handed out by an OPEN event (or a client's own), with its own
// reference (tf_conn_retain) and a share of its host, so that it stays safe to call after
// the server or client that made it is gone (calls then give TRUFLUX_ECLOSED).
#pragma once
#include "common.h"

namespace tfpy {

class conn {
public:
    conn(host_ptr h, tf_conn_t *c);  // takes a new reference to c
    ~conn();
    conn(const conn &) = delete;
    conn &operator=(const conn &) = delete;

    // tf_send_name; returns 0 or the negative code (the Python layer decides: EAGAIN waits).
    int send(const std::string &name, int type, const py::object &data);
    // tf_conn_close; returns 0 or the negative code.
    int close(int flags, int code);
    bool is_open() const;
    py::object address(bool local) const;
    py::dict stats() const;
    uintptr_t key() const { return reinterpret_cast<uintptr_t>(c_); }
    // Which of its server's loops the connection lives on (host::loop_at): server.cpp tags
    // connections of added loops through tf_conn_set_user before their first event.
    size_t loop_index() const { return reinterpret_cast<uintptr_t>(tf_conn_user(c_)); }
    tf_conn_t *raw() const { return c_; }
    const host_ptr &owner() const { return host_; }

private:
    host_ptr host_;
    tf_conn_t *c_;
};

// A read-only view of a bytes-like object, or of nothing (None). Holds the GIL's objects:
// create and destroy it with the GIL held.
class payload_view {
public:
    explicit payload_view(const py::object &data);
    ~payload_view();
    payload_view(const payload_view &) = delete;
    payload_view &operator=(const payload_view &) = delete;
    const void *data() const { return ptr_; }
    size_t size() const { return len_; }
    // Large payloads are copied by the library without the GIL.
    bool large() const { return len_ > 64 * 1024; }

private:
    Py_buffer view_{};
    bool held_ = false;
    const void *ptr_ = nullptr;
    size_t len_ = 0;
};

// Runs f() -> int under the shared side of the host's guard (TRUFLUX_ECLOSED once the host
// is gone), without the GIL when `release` is set.
template <class F>
int guarded(host &h, bool release, F &&f) {
    auto run = [&] {
        std::shared_lock<std::shared_mutex> lk(h.mu);
        return h.alive ? f() : TRUFLUX_ECLOSED;
    };
    if (release) {
        py::gil_scoped_release nogil;
        return run();
    }
    return run();
}

}  // namespace tfpy
