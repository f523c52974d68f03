// _truflux: a file transfer (truflux/file.h), handed out by FILE_* events and by
// Conn.send_file_*, with its own reference (tf_file_retain) and a share of its host, so that
// it stays safe to call after the server or client is gone (calls then give ECLOSED).
#pragma once
#include "common.h"

#include <functional>

namespace tfpy {

class file {
public:
    file(host_ptr h, tf_file_t *f);  // takes a new reference to f
    ~file();
    file(const file &) = delete;
    file &operator=(const file &) = delete;

    tf_file_t *raw() const { return f_; }
    const host_ptr &owner() const { return host_; }
    uintptr_t key() const { return reinterpret_cast<uintptr_t>(f_); }

    // Runs a tf_file_* control (it waits for the loop) without the GIL, under the host's
    // guard. Returns 0 or the negative code.
    template <class F>
    int control(F &&f) {
        return guarded(*host_, true, [&] { return f(f_); });
    }

private:
    host_ptr host_;
    tf_file_t *f_;
};

// Runs fn() -> int on the thread of the host's loop `which` (host::loop_at: a connection's
// loop_index) and waits for its result (at most 5 s: then TRUFLUX_ETIMEDOUT), without the
// GIL. For the calls truflux/conn.h allows on the loop's thread only (protocol states).
int on_loop(host &h, size_t which, std::function<int()> fn);

// A tf_secure_info_t as a dict (secure.cpp).
py::object secure_info_dict(const tf_secure_info_t &s);

void init_file(py::module_ &m);
void init_secure(py::module_ &m);

}  // namespace tfpy
