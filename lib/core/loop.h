// lib/core: the loop object. One libevent event_base, a cross-thread inbox woken through an
// eventfd (so the loop's own hot path takes no lock), and in-thread deferred work.
#pragma once
#include <atomic>
#include <future>
#include <utility>
#include <mutex>
#include <thread>
#include <vector>

#include <truflux/loop.h>

struct event_base;
struct event;

namespace tfcore {

// A unit of work for the loop thread. Posted across threads or deferred within the thread.
struct task {
    void (*fn)(void *arg);
    void *arg;
};

}  // namespace tfcore

struct tf_loop {
    event_base *base = nullptr;
    bool owns_base = false;
    int wake_fd = -1;
    event *wake_ev = nullptr;
    event *defer_ev = nullptr;
    event *once_timer = nullptr;

    std::mutex inbox_mu;
    std::vector<tfcore::task> inbox;      // guarded by inbox_mu
    std::vector<tfcore::task> deferred;   // loop thread only
    std::atomic<bool> running{false};     // inside tf_loop_run/run_once/the library thread
    std::atomic<bool> stop_flag{false};
    std::atomic<bool> freeing{false};
    std::atomic<std::thread::id> runner;  // the thread that runs (or last ran) the loop
    std::thread thread;
    int objects = 0;                       // live servers and clients (loop thread)
    int depth = 0;                         // callbacks of this loop on the stack
    // The receive buffer connections lend for one read (tfw::decoder::lend), so that an idle
    // connection holds none of its own; allocated on first use. Loop thread only.
    uint8_t *rx_buf = nullptr;
    bool rx_busy = false;                  // a read is using it (no nested loan)
};

namespace tfcore {

// True when the caller may touch loop-owned state directly: it is inside this loop's
// callbacks, or the loop is not running and this is the thread that owns it.
bool in_loop(const tf_loop *loop);

// Posts fn(arg) to the loop thread. Any thread. Returns 0 or TRUFLUX_ECLOSED.
int post(tf_loop *loop, void (*fn)(void *), void *arg);

// Runs fn(arg) after the current callback returns, in this iteration. Loop thread only.
void defer(tf_loop *loop, void (*fn)(void *), void *arg);

// Marks the calling thread as running the loop's callbacks for a scope (nesting allowed).
class scope {
public:
    explicit scope(tf_loop *loop);
    ~scope();
    scope(const scope &) = delete;
    scope &operator=(const scope &) = delete;

private:
    tf_loop *loop_;
    tf_loop *prev_;
};

// Runs f on the loop's thread and waits for it: directly when the caller may touch the
// loop (see in_loop) or the loop is not running, else through the inbox.
template <class F>
void call_sync(tf_loop *loop, F &&f) {
    if (in_loop(loop) || !loop->running.load(std::memory_order_acquire)) {
        f();
        return;
    }
    struct job {
        F *f;
        std::promise<void> done;
    } j{&f, {}};
    auto fut = j.done.get_future();
    if (post(loop, [](void *a) {
            job *jp = static_cast<job *>(a);
            (*jp->f)();
            jp->done.set_value();
        }, &j) != 0) {
        f();  // the loop is being freed and runs nothing more
        return;
    }
    fut.wait();
}

// Monotonic milliseconds (cached per loop iteration by libevent where possible).
uint64_t now_ms(tf_loop *loop);

}  // namespace tfcore
