// truflux/loop.hpp: the event loop (one libevent event_base).
#ifndef TRUFLUX_CPP_LOOP_HPP
#define TRUFLUX_CPP_LOOP_HPP

#include <truflux/truflux.h>

#include <truflux/error.hpp>

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <utility>

namespace truflux {

class Server;
class Client;

namespace detail {

// Lives on the heap so that its address outlives moves of the Loop: servers, clients and
// pending calls point at it. Holds the first exception that escaped a handler with nowhere
// else to go, until run()/run_once()/stop() rethrow it in the caller's thread (an exception
// must never unwind through the C library's frames).
class LoopState {
public:
    struct Call {
        LoopState *state;
        std::function<void()> fn;
    };

    tf_loop_t *loop = nullptr;
    std::atomic<bool> in_run{false};

    // Keeps the first exception; stops run() so that it can rethrow it.
    void record(std::exception_ptr e) noexcept {
        {
            std::lock_guard<std::mutex> lk(mu_);
            if (!pending_)
                pending_ = std::move(e);
        }
        if (in_run.load())
            tf_loop_stop(loop);
    }

    void rethrow_pending() {
        std::exception_ptr e;
        {
            std::lock_guard<std::mutex> lk(mu_);
            e = std::exchange(pending_, nullptr);
        }
        if (e)
            std::rethrow_exception(e);
    }

    void post(std::function<void()> fn) {
        auto *c = new Call{this, std::move(fn)};
        {
            std::lock_guard<std::mutex> lk(mu_);
            calls_.insert(c);
        }
        int rc = tf_loop_call(loop, &LoopState::run_call, c);
        if (rc < 0) {
            {
                std::lock_guard<std::mutex> lk(mu_);
                calls_.erase(c);
            }
            delete c;
            throw error(rc);
        }
    }

    // Calls the library never ran (the loop was freed first): their functions are destroyed
    // here rather than leaked.
    ~LoopState() {
        for (Call *c : calls_)
            delete c;
    }

private:
    static void run_call(void *arg) noexcept {
        auto *c = static_cast<Call *>(arg);
        LoopState *st = c->state;
        {
            std::lock_guard<std::mutex> lk(st->mu_);
            st->calls_.erase(c);
        }
        try {
            c->fn();
        } catch (...) {
            st->record(std::current_exception());
        }
        delete c;
    }

    std::mutex mu_;
    std::exception_ptr pending_;
    std::unordered_set<Call *> calls_;
};

}  // namespace detail

// An event loop. Move-only. Run it in the calling thread (run, run_once) or on a thread of the
// library's (start ... stop). Destroy every Server and Client of a loop before the loop.
//
// An exception that escapes a function given to call(), or a server/client handler that has
// no on_error handler to report to, is caught on the loop thread and rethrown by run() (which
// then returns early), run_once(), or stop() called from another thread.
class Loop {
public:
    Loop() : st_(new detail::LoopState) {
        st_->loop = truflux_loop_new();
        if (!st_->loop)
            throw error::last();
    }

    // A loop on an event_base (struct event_base *) that the caller owns and runs.
    static Loop attach(void *event_base) {
        std::unique_ptr<detail::LoopState> st(new detail::LoopState);
        st->loop = truflux_loop_new_from_base(event_base);
        if (!st->loop)
            throw error::last();
        return Loop(std::move(st));
    }

    ~Loop() noexcept { destroy(); }

    Loop(Loop &&o) noexcept : st_(std::move(o.st_)) {}
    Loop &operator=(Loop &&o) noexcept {
        if (this != &o) {
            destroy();
            st_ = std::move(o.st_);
        }
        return *this;
    }
    Loop(const Loop &) = delete;
    Loop &operator=(const Loop &) = delete;

    void swap(Loop &o) noexcept { st_.swap(o.st_); }
    friend void swap(Loop &a, Loop &b) noexcept { a.swap(b); }

    // Runs in the calling thread until stop(). Throws EBUSY (already running), ENOTSUP
    // (attached loop), or an exception a handler let escape.
    void run() {
        st_->in_run = true;
        int rc = tf_loop_run(h());
        st_->in_run = false;
        detail::check(rc);
        st_->rethrow_pending();
    }

    // One iteration: waits up to timeout_ms (negative: no limit) for events and runs the
    // ready callbacks.
    void run_once(int timeout_ms = -1) {
        detail::check(tf_loop_run_once(h(), timeout_ms));
        st_->rethrow_pending();
    }

    // Runs the loop on a thread owned by the library until stop().
    void start() { detail::check(tf_loop_start(h())); }

    // Stops the loop (and joins the library's thread when called from another thread). Any
    // thread. Off the loop thread, rethrows an exception a handler let escape.
    void stop() {
        tf_loop_stop(h());
        if (!tf_loop_in_thread(h()))
            st_->rethrow_pending();
    }

    // Runs fn on the loop's thread, soon, in call order. Any thread. Throws ECLOSED when the
    // loop is being freed.
    void call(std::function<void()> fn) { st_->post(std::move(fn)); }

    // True when the calling thread is running this loop's callbacks now.
    bool in_thread() const noexcept { return st_ && tf_loop_in_thread(st_->loop) != 0; }

    // The loop's struct event_base *.
    void *event_base() const noexcept { return st_ ? tf_loop_event_base(st_->loop) : nullptr; }

    tf_loop_t *handle() const noexcept { return st_ ? st_->loop : nullptr; }
    explicit operator bool() const noexcept { return st_ != nullptr; }

private:
    friend class Server;
    friend class Client;

    explicit Loop(std::unique_ptr<detail::LoopState> st) noexcept : st_(std::move(st)) {}

    tf_loop_t *h() const {
        if (!st_)
            throw error(TRUFLUX_EINVAL, "the loop was moved from");
        return st_->loop;
    }

    void destroy() noexcept {
        if (!st_)
            return;
        if (truflux_loop_free(st_->loop) != 0) {
            // Servers or clients still use the loop (TRUFLUX_EBUSY): it stays alive, and so
            // must the state its callbacks reach. A leak, not a crash.
            (void)st_.release();
            return;
        }
        st_.reset();
    }

    std::unique_ptr<detail::LoopState> st_;
};

}  // namespace truflux

#endif
