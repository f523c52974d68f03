// _truflux: what a server and a client share: the loop they own (host) and the event queue
// (truflux/queue.h) they report into, popped from Python.
#pragma once
#include "common.h"

#include "protocol.h"

namespace tfpy {

class endpoint {
public:
    endpoint(std::shared_ptr<protocol> proto, size_t queue_max);
    virtual ~endpoint();
    endpoint(const endpoint &) = delete;
    endpoint &operator=(const endpoint &) = delete;

    // The next event as a tuple (see endpoint.cpp), or None when the queue is empty.
    py::object pop();
    // Up to `limit` events, oldest first.
    py::list pop_many(size_t limit);
    int fd() const;
    void wake();
    py::dict queue_stats() const;
    // Stops the loop and frees the server or client, then the queue. Idempotent; releases
    // the GIL. The derived class's destructor calls it (free_objects is its own).
    void free();
    bool freed() const { return queue_ == nullptr; }

protected:
    // The callbacks that report into the queue, for tf_*_set_callbacks and
    // tf_*_set_file_callbacks.
    tf_callbacks_t callbacks();
    tf_file_callbacks_t file_callbacks();
    // Frees the server or client (loop stopped). Called once, by free().
    virtual void free_objects() = 0;
    // Throws TRUFLUX_ECLOSED after free().
    void check_alive() const;

    host_ptr host_;
    std::shared_ptr<protocol> proto_;
    tf_queue_t *queue_ = nullptr;

private:
    py::object convert(tf_event_t *ev);
};

void init_endpoint(py::module_ &m);

}  // namespace tfpy
