// _truflux: the private extension under the `truflux` package. It binds the public C API
// (include/truflux/*.h) and nothing else; the Pythonic surface is the pure-Python package.
//
// Threads: every server and client here owns a loop that runs on a thread of the library's
// own (tf_loop_start); a server may own several (Server.add_loop). No Python code ever runs
// on those threads: events reach Python through the event queue (truflux/queue.h), popped on
// the caller's thread. So a loop thread never needs the GIL, and every call that may wait
// for one (closing, freeing, connecting, server stats) releases the GIL first.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include <truflux/truflux.h>

namespace tfpy {

namespace py = pybind11;

// A failed C call. The exception translator (errors.cpp) turns it into the Python exception
// class generated for its code (truflux.errors).
struct error {
    int code;
    std::string detail;
};

// Throws tfpy::error for a negative return value; passes the rest through.
inline int check(int rc, const char *what = nullptr) {
    if (rc < 0) throw error{rc, what ? what : ""};
    return rc;
}

// Throws tfpy::error from tf_last_error() after a constructor returned NULL.
[[noreturn]] void throw_last_error(const char *what);

// The loop every server or client owns, and the guard that makes its connections safe to use
// from Python after it is gone: calls through a connection hold the shared side of `mu` and
// check `alive`; shutting down takes the exclusive side. No thread needs the GIL while it
// holds either side, so taking one with the GIL held cannot deadlock.
//
// A server may run on more loops (tf_server_add_loop), each on a library thread of its own:
// `added`, which grows only under the exclusive side, before the server listens. Their
// callbacks only report into the event queue (a mutex of the library's), so two loops
// reporting at once never need the GIL either.
struct host {
    tf_loop_t *loop = nullptr;
    std::vector<tf_loop_t *> added;  // guarded by mu
    std::shared_mutex mu;
    bool alive = false;  // guarded by mu

    host();        // creates the loop (not running yet)
    ~host();       // stops and frees the loops if shutdown() did not
    void start();  // starts the loop's thread, once the objects on it are set up
    host(const host &) = delete;
    host &operator=(const host &) = delete;

    // Loop `i` of the server: 0 its own, 1.. the added ones (the own loop for an index it
    // does not have). Under either side of mu.
    tf_loop_t *loop_at(size_t i) const { return i && i <= added.size() ? added[i - 1] : loop; }

    // Marks the host dead, stops every loop thread, runs free_objects (the server or
    // client), then frees the loops. Idempotent. Call without the GIL.
    template <class F>
    void shutdown(F &&free_objects) {
        std::unique_lock<std::shared_mutex> lk(mu);
        if (!loop) return;
        alive = false;
        tf_loop_stop(loop);
        for (tf_loop_t *l : added) tf_loop_stop(l);
        free_objects();
        truflux_loop_free(loop);
        loop = nullptr;
        for (tf_loop_t *l : added) truflux_loop_free(l);
        added.clear();
    }
};

using host_ptr = std::shared_ptr<host>;

class conn;

// Registration of each bound class (one file each).
void init_errors(py::module_ &m);
void init_protocol(py::module_ &m);
void init_options(py::module_ &m);
void init_conn(py::module_ &m);
void init_endpoint(py::module_ &m);
void init_server(py::module_ &m);
void init_client(py::module_ &m);
void init_file(py::module_ &m);    // after init_conn: adds to Conn
void init_secure(py::module_ &m);  // after init_conn: adds to Conn

}  // namespace tfpy
