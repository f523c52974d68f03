// lib/core: the loop: running modes, the cross-thread inbox and in-thread deferral.
#include "core/loop.h"

#include <cstdlib>

#include <event2/event.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <new>

#include <truflux/error.h>

namespace tfcore {

static thread_local tf_loop *tls_loop = nullptr;

scope::scope(tf_loop *loop) : loop_(loop), prev_(tls_loop) {
    tls_loop = loop;
    loop->depth++;
}

scope::~scope() {
    loop_->depth--;
    tls_loop = prev_;
}

bool in_loop(const tf_loop *loop) {
    if (tls_loop == loop) return true;
    return !loop->running.load(std::memory_order_acquire) &&
           loop->runner.load(std::memory_order_acquire) == std::this_thread::get_id();
}

uint64_t now_ms(tf_loop *) {
    // libevent's cached time is wall-clock time; timeouts need the monotonic clock, which
    // the vDSO reads without a system call.
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void wake_write(tf_loop *loop) {
    uint64_t one = 1;
    // An eventfd write can only fail on counter overflow, which cannot happen here.
    ssize_t r = write(loop->wake_fd, &one, sizeof one);
    (void)r;
}

int post(tf_loop *loop, void (*fn)(void *), void *arg) {
    if (loop->freeing.load(std::memory_order_acquire)) return TRUFLUX_ECLOSED;
    bool was_empty;
    {
        std::lock_guard<std::mutex> g(loop->inbox_mu);
        was_empty = loop->inbox.empty();
        loop->inbox.push_back(task{fn, arg});
    }
    if (was_empty) wake_write(loop);
    return 0;
}

void defer(tf_loop *loop, void (*fn)(void *), void *arg) {
    loop->deferred.push_back(task{fn, arg});
    event_active(loop->defer_ev, EV_READ, 0);
}

static void run_tasks(std::vector<task> &tasks) {
    for (auto &t : tasks) t.fn(t.arg);
}

static void on_wake(evutil_socket_t fd, short, void *arg) {
    tf_loop *loop = static_cast<tf_loop *>(arg);
    scope s(loop);
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof n);
    (void)r;
    std::vector<task> tasks;
    {
        std::lock_guard<std::mutex> g(loop->inbox_mu);
        tasks.swap(loop->inbox);
    }
    run_tasks(tasks);
    if (loop->stop_flag.load(std::memory_order_acquire)) event_base_loopbreak(loop->base);
}

static void on_defer(evutil_socket_t, short, void *arg) {
    tf_loop *loop = static_cast<tf_loop *>(arg);
    scope s(loop);
    // Tasks may defer more tasks; run until none is left, bounded by what each round adds.
    for (int round = 0; round < 64 && !loop->deferred.empty(); round++) {
        std::vector<task> tasks;
        tasks.swap(loop->deferred);
        run_tasks(tasks);
    }
    if (!loop->deferred.empty()) event_active(loop->defer_ev, EV_READ, 0);
}

static void on_once_timer(evutil_socket_t, short, void *) {}

static bool init_loop(tf_loop *loop) {
    loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wake_fd < 0) return false;
    loop->wake_ev = event_new(loop->base, loop->wake_fd, EV_READ | EV_PERSIST, on_wake, loop);
    loop->defer_ev = event_new(loop->base, -1, 0, on_defer, loop);
    loop->once_timer = event_new(loop->base, -1, 0, on_once_timer, loop);
    if (!loop->wake_ev || !loop->defer_ev || !loop->once_timer) return false;
    if (event_add(loop->wake_ev, nullptr) != 0) return false;
    loop->runner.store(std::this_thread::get_id(), std::memory_order_release);
    return true;
}

static void destroy_loop(tf_loop *loop) {
    if (loop->wake_ev) event_free(loop->wake_ev);
    if (loop->defer_ev) event_free(loop->defer_ev);
    if (loop->once_timer) event_free(loop->once_timer);
    if (loop->wake_fd >= 0) close(loop->wake_fd);
    if (loop->owns_base && loop->base) event_base_free(loop->base);
    std::free(loop->rx_buf);
    delete loop;
}

}  // namespace tfcore

using namespace tfcore;

tf_loop *tfcore_loop_new(void *base, int *err) {
    tf_loop *loop = new (std::nothrow) tf_loop();
    if (!loop) {
        *err = TRUFLUX_ENOMEM;
        return nullptr;
    }
    if (base) {
        loop->base = static_cast<event_base *>(base);
    } else {
        loop->base = event_base_new();
        loop->owns_base = true;
    }
    if (!loop->base || !init_loop(loop)) {
        destroy_loop(loop);
        *err = TRUFLUX_EIO;
        return nullptr;
    }
    return loop;
}

// Runs what is still queued (posted or deferred), so that posted work releases what it
// holds. Only while nobody runs the loop.
static void drain(tf_loop *loop) {
    scope s(loop);
    for (int round = 0; round < 64; round++) {
        std::vector<task> tasks;
        {
            std::lock_guard<std::mutex> g(loop->inbox_mu);
            tasks.swap(loop->inbox);
        }
        if (tasks.empty() && loop->deferred.empty()) break;
        run_tasks(tasks);
        std::vector<task> d;
        d.swap(loop->deferred);
        run_tasks(d);
    }
}

int tfcore_loop_free(tf_loop *loop) {
    // A loop on its library thread: a server freed just before may still be deleting itself
    // in work deferred past the callback that freed it there (its parts on added loops are
    // freed that way). One round trip through the loop lets that work run first; then the
    // count is read where it is kept.
    if (loop->thread.joinable() && loop->thread.get_id() != std::this_thread::get_id() &&
        loop->running.load(std::memory_order_acquire)) {
        int left = 0;
        call_sync(loop, [&] { left = loop->objects; });
        if (left > 0) return TRUFLUX_EBUSY;
    }
    // A stopped loop may still hold the end of its last iteration: a server freed just before
    // tf_loop_stop deletes itself in deferred work the stop cut short. Run it before deciding
    // whether objects remain.
    if (loop->objects > 0 && !loop->thread.joinable() && !loop->running.load() &&
        loop->depth == 0)
        drain(loop);
    if (loop->objects > 0) return TRUFLUX_EBUSY;
    if (loop->thread.joinable()) {
        if (loop->thread.get_id() == std::this_thread::get_id()) return TRUFLUX_EBUSY;
        loop->stop_flag.store(true, std::memory_order_release);
        wake_write(loop);
        loop->thread.join();
    }
    loop->freeing.store(true, std::memory_order_release);
    drain(loop);
    destroy_loop(loop);
    return 0;
}

static int run_guarded(tf_loop *loop, int flags, int timeout_ms) {
    if (!loop->owns_base) return TRUFLUX_ENOTSUP;
    bool expected = false;
    if (!loop->running.compare_exchange_strong(expected, true)) return TRUFLUX_EBUSY;
    loop->runner.store(std::this_thread::get_id(), std::memory_order_release);
    {
        scope s(loop);
        if (flags == 0) {
            // Run until stopped. The eventfd keeps the base from running empty.
            if (!loop->stop_flag.load(std::memory_order_acquire))
                event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
            loop->stop_flag.store(false, std::memory_order_release);
        } else if (timeout_ms == 0) {
            event_base_loop(loop->base, EVLOOP_NONBLOCK);
        } else {
            if (timeout_ms > 0) {
                struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
                event_add(loop->once_timer, &tv);
            }
            event_base_loop(loop->base, EVLOOP_ONCE);
            event_del(loop->once_timer);
        }
    }
    loop->running.store(false, std::memory_order_release);
    return 0;
}

int tfcore_loop_run(tf_loop *loop) { return run_guarded(loop, 0, -1); }

int tfcore_loop_run_once(tf_loop *loop, int timeout_ms) {
    return run_guarded(loop, 1, timeout_ms);
}

int tfcore_loop_start(tf_loop *loop) {
    if (!loop->owns_base) return TRUFLUX_ENOTSUP;
    if (loop->running.load() || loop->thread.joinable()) return TRUFLUX_EBUSY;
    loop->stop_flag.store(false, std::memory_order_release);
    // Mark running before the thread exists so that callers switch to the inbox at once.
    loop->running.store(true, std::memory_order_release);
    try {
        loop->thread = std::thread([loop] {
            loop->runner.store(std::this_thread::get_id(), std::memory_order_release);
            {
                scope s(loop);
                while (!loop->stop_flag.load(std::memory_order_acquire))
                    event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
            }
            loop->running.store(false, std::memory_order_release);
        });
    } catch (...) {
        loop->running.store(false);
        return TRUFLUX_ENOMEM;
    }
    return 0;
}

int tfcore_loop_stop(tf_loop *loop) {
    loop->stop_flag.store(true, std::memory_order_release);
    if (tls_loop == loop) {
        event_base_loopbreak(loop->base);
    } else {
        wake_write(loop);
    }
    if (loop->thread.joinable() && loop->thread.get_id() != std::this_thread::get_id()) {
        loop->thread.join();
        loop->stop_flag.store(false, std::memory_order_release);
        loop->runner.store(std::this_thread::get_id(), std::memory_order_release);
    }
    return 0;
}
