// lib/adapters: the event queue. Producers (callbacks on loop threads) allocate outside the
// lock and link under it; the descriptor is set and cleared under the same lock, so it is
// readable exactly while the queue is non-empty. Only the public C API is used below.
#include "adapters/queue.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/eventfd.h>
#endif

#include <truflux/error.h>

namespace tfad {

namespace {

// ---- the descriptor --------------------------------------------------------------------

bool fd_open(tf_queue *q) {
#if defined(__linux__)
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return false;
    q->rfd = q->wfd = fd;
#else
    int p[2];
    if (pipe(p) != 0) return false;
    for (int fd : p) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    q->rfd = p[0];
    q->wfd = p[1];
#endif
    return true;
}

void fd_close(tf_queue *q) {
    if (q->rfd >= 0) close(q->rfd);
    if (q->wfd >= 0 && q->wfd != q->rfd) close(q->wfd);
    q->rfd = q->wfd = -1;
}

// Under q->mu, when the queue becomes non-empty. A failed write cannot be reported to the
// producer (a callback); it only happens with a broken descriptor, and tf_queue_wait, which
// does not depend on it, still works.
void fd_raise(tf_queue *q) {
#if defined(__linux__)
    uint64_t one = 1;
    ssize_t r;
    do {
        r = write(q->wfd, &one, sizeof one);
    } while (r < 0 && errno == EINTR);
#else
    char one = 1;
    ssize_t r;
    do {
        r = write(q->wfd, &one, 1);
    } while (r < 0 && errno == EINTR);
#endif
    (void)r;
}

// Under q->mu, when the queue becomes empty.
void fd_lower(tf_queue *q) {
#if defined(__linux__)
    uint64_t v;
    ssize_t r;
    do {
        r = read(q->rfd, &v, sizeof v);
    } while (r < 0 && errno == EINTR);
#else
    char buf[64];
    ssize_t r;
    do {
        r = read(q->rfd, buf, sizeof buf);
    } while (r > 0 || (r < 0 && errno == EINTR));
#endif
    (void)r;
}

}  // namespace

// ---- events (shared with queue_events.cpp through adapters/queue.h) ----------------------

tf_event *event_alloc(int kind, void *tag, tf_conn_t *conn, size_t len) {
    void *mem = malloc(sizeof(tf_event) + len);
    if (!mem) return nullptr;
    tf_event *ev = new (mem) tf_event();
    ev->kind = kind;
    ev->tag = tag;
    ev->conn = conn ? tf_conn_retain(conn) : nullptr;
    ev->len = len;
    ev->cost = EVENT_OVERHEAD + len;
    return ev;
}

// Links ev at the tail. Under q->mu.
void link(tf_queue *q, tf_event *ev) {
    if (q->tail) {
        q->tail->next = ev;
    } else {
        q->head = ev;
    }
    q->tail = ev;
    q->bytes += ev->cost;
    if (q->count++ == 0) fd_raise(q);
    q->cv.notify_all();
}

// Would an event of this cost fit? An empty queue takes anything.
bool fits(const tf_queue *q, size_t cost) {
    return q->count == 0 || q->bytes + cost <= q->max_bytes;
}

// Queues ev when `force` or when it fits; otherwise frees it (outside the lock) and counts
// a drop. Returns whether it was queued.
bool offer(tf_queue *q, tf_event *ev, bool force) {
    bool queued = false;
    {
        std::lock_guard<std::mutex> g(q->mu);
        if (force || fits(q, ev->cost)) {
            link(q, ev);
            queued = true;
        } else {
            q->dropped++;
        }
    }
    if (!queued) event_free(ev);
    return queued;
}

// Takes a connection's reference out of a bookkeeping set; the caller releases it.
bool take_from(std::unordered_set<tf_conn_t *> &set, tf_conn_t *c) {
    auto it = set.find(c);
    if (it == set.end()) return false;
    set.erase(it);
    return true;
}

// Ends a connection the consumer cannot keep up with. Called without the lock: closing may
// run callbacks of the same queue.
void shed(tf_conn_t *conn) {
    tf_conn_close(conn, TRUFLUX_CLOSE_GRACEFUL, TRUFLUX_EQUEUEFULL);
}

// Adds conn to a bookkeeping set with its own reference. Under q->mu. Returns whether it
// was new.
bool remember(std::unordered_set<tf_conn_t *> &set, tf_conn_t *conn) {
    if (!set.insert(conn).second) return false;
    tf_conn_retain(conn);
    return true;
}

void count_drop(void *user) {
    tf_queue *q = static_cast<source *>(user)->q;
    std::lock_guard<std::mutex> g(q->mu);
    q->dropped++;
}

namespace {

// ---- the callbacks (loop threads) --------------------------------------------------------

void on_open_body(void *user, tf_conn_t *conn) {
    source *s = static_cast<source *>(user);
    tf_queue *q = s->q;
    event_ptr ev(event_alloc(TRUFLUX_EVENT_OPEN, s->tag, conn, 0));
    bool refuse = false;
    {
        std::lock_guard<std::mutex> g(q->mu);
        if (ev && fits(q, ev->cost)) {
            link(q, ev.release());
            return;
        }
        // Over the cap (or out of memory): the consumer never hears of this connection.
        refuse = remember(q->silenced, conn);
        q->refused++;
    }
    if (refuse) shed(conn);
}

void on_message_body(void *user, tf_conn_t *conn, const tf_message_t *m) {
    source *s = static_cast<source *>(user);
    tf_queue *q = s->q;
    event_ptr ev(event_alloc(TRUFLUX_EVENT_MESSAGE, s->tag, conn, m->len));
    if (ev) {
        ev->id = m->id;
        ev->name = m->name;
        ev->type = m->type;
        if (m->len) memcpy(ev->payload(), m->data, m->len);
    }
    bool first_overflow = false;
    {
        std::lock_guard<std::mutex> g(q->mu);
        if (q->silenced.count(conn) || q->overflowed.count(conn)) {
            q->dropped++;
            return;
        }
        if (ev && fits(q, ev->cost)) {
            link(q, ev.release());
            return;
        }
        q->dropped++;
        q->refused++;
        first_overflow = remember(q->overflowed, conn);
    }
    ev.reset();
    if (!first_overflow) return;
    static const char why[] = "event queue full: message dropped, closing the connection";
    event_ptr err(event_alloc(TRUFLUX_EVENT_ERROR, s->tag, conn, 0));
    if (err) {
        err->code = TRUFLUX_EQUEUEFULL;
        err->detail = strdup(why);
        offer(q, err.release(), true);
    }
    shed(conn);
}

void on_close_body(void *user, tf_conn_t *conn, int reason, int remote) {
    source *s = static_cast<source *>(user);
    tf_queue *q = s->q;
    bool silenced = false, overflowed = false;
    if (conn) {
        std::lock_guard<std::mutex> g(q->mu);
        silenced = take_from(q->silenced, conn);
        overflowed = !silenced && take_from(q->overflowed, conn);
    }
    if (silenced || overflowed) tf_conn_release(conn);
    if (silenced) return;
    tf_event *ev = event_alloc(TRUFLUX_EVENT_CLOSE, s->tag, conn, 0);
    if (!ev) {
        std::lock_guard<std::mutex> g(q->mu);
        q->dropped++;
        return;
    }
    ev->code = reason;
    ev->remote = remote;
    offer(q, ev, true);
}

void on_error_body(void *user, tf_conn_t *conn, int code, const char *detail) {
    source *s = static_cast<source *>(user);
    tf_queue *q = s->q;
    if (conn) {
        std::lock_guard<std::mutex> g(q->mu);
        if (q->silenced.count(conn)) {
            q->dropped++;
            return;
        }
    }
    tf_event *ev = event_alloc(TRUFLUX_EVENT_ERROR, s->tag, conn, 0);
    if (!ev) {
        std::lock_guard<std::mutex> g(q->mu);
        q->dropped++;
        return;
    }
    ev->code = code;
    ev->detail = strdup(detail ? detail : tf_strerror(code));
    if (ev->detail) ev->cost += strlen(ev->detail);
    offer(q, ev, false);
}

void on_drain_body(void *user, tf_conn_t *conn) {
    source *s = static_cast<source *>(user);
    tf_queue *q = s->q;
    {
        std::lock_guard<std::mutex> g(q->mu);
        if (q->silenced.count(conn)) return;
    }
    tf_event *ev = event_alloc(TRUFLUX_EVENT_DRAIN, s->tag, conn, 0);
    if (!ev) {
        std::lock_guard<std::mutex> g(q->mu);
        q->dropped++;
        return;
    }
    offer(q, ev, true);
}


// The callbacks proper: no exception may unwind into the loop's frames, so an allocation
// failure inside one becomes a dropped event.

void on_open(void *user, tf_conn_t *conn) {
    try {
        on_open_body(user, conn);
    } catch (...) {
        count_drop(user);
    }
}

void on_message(void *user, tf_conn_t *conn, const tf_message_t *m) {
    try {
        on_message_body(user, conn, m);
    } catch (...) {
        count_drop(user);
    }
}

void on_close(void *user, tf_conn_t *conn, int reason, int remote) {
    try {
        on_close_body(user, conn, reason, remote);
    } catch (...) {
        count_drop(user);
    }
}

void on_error(void *user, tf_conn_t *conn, int code, const char *detail) {
    try {
        on_error_body(user, conn, code, detail);
    } catch (...) {
        count_drop(user);
    }
}

void on_drain(void *user, tf_conn_t *conn) {
    try {
        on_drain_body(user, conn);
    } catch (...) {
        count_drop(user);
    }
}

}  // namespace

// ---- the queue ---------------------------------------------------------------------------

source *add_source(tf_queue *q, void *tag) {
    std::unique_ptr<source> s(new source{q, tag});
    source *raw = s.get();
    std::lock_guard<std::mutex> g(q->mu);
    q->sources.push_back(std::move(s));
    return raw;
}

tf_queue *queue_new(size_t max_bytes, int *err) {
    tf_queue *q = new (std::nothrow) tf_queue();
    if (!q) {
        *err = TRUFLUX_ENOMEM;
        return nullptr;
    }
    q->max_bytes = max_bytes ? max_bytes : TRUFLUX_QUEUE_DEFAULT_MAX;
    if (!fd_open(q)) {
        *err = TRUFLUX_EIO;
        delete q;
        return nullptr;
    }
    return q;
}

void queue_free(tf_queue *q) {
    tf_event *ev = q->head;
    while (ev) {
        tf_event *next = ev->next;
        event_free(ev);
        ev = next;
    }
    for (tf_conn_t *c : q->silenced) tf_conn_release(c);
    for (tf_conn_t *c : q->overflowed) tf_conn_release(c);
    for (tf_file_t *f : q->silenced_files) tf_file_release(f);
    for (tf_file_t *f : q->offered_files) tf_file_release(f);
    fd_close(q);
    delete q;
}

int queue_callbacks(tf_queue *q, void *tag, tf_callbacks_t *cbs) {
    source *raw = add_source(q, tag);
    // Only the members the caller's struct has room for: it may predate later fields.
    tf_callbacks_t full = TRUFLUX_CALLBACKS_INIT;
    full.user = raw;
    full.on_open = on_open;
    full.on_message = on_message;
    full.on_close = on_close;
    full.on_error = on_error;
    full.on_drain = on_drain;
    full.on_secure = on_secure;
    full.on_secure_fail = on_secure_fail;
    size_t n = cbs->size < sizeof full ? cbs->size : sizeof full;
    size_t keep = cbs->size;
    memcpy(cbs, &full, n);
    cbs->size = keep < sizeof full ? keep : sizeof full;
    return 0;
}

tf_event *queue_pop(tf_queue *q) {
    std::lock_guard<std::mutex> g(q->mu);
    tf_event *ev = q->head;
    if (!ev) return nullptr;
    q->head = ev->next;
    if (!q->head) q->tail = nullptr;
    ev->next = nullptr;
    q->bytes -= ev->cost;
    if (--q->count == 0) fd_lower(q);
    if (ev->kind == TRUFLUX_EVENT_WAKE) q->wake_waiting = false;
    if (ev->kind == TRUFLUX_EVENT_FILE_PROGRESS) {
        // Popped: later progress of this transfer makes a new event.
        auto it = q->progress.find(ev->file);
        if (it != q->progress.end() && it->second == ev) q->progress.erase(it);
    }
    return ev;
}

int queue_wait(tf_queue *q, int timeout_ms) {
    std::unique_lock<std::mutex> lk(q->mu);
    if (timeout_ms < 0) {
        q->cv.wait(lk, [q] { return q->count > 0; });
        return 1;
    }
    return q->cv.wait_for(lk, std::chrono::milliseconds(timeout_ms),
                          [q] { return q->count > 0; })
               ? 1
               : 0;
}

int queue_wake(tf_queue *q) {
    {
        std::lock_guard<std::mutex> g(q->mu);
        if (q->wake_waiting) return 0;
    }
    tf_event *ev = event_alloc(TRUFLUX_EVENT_WAKE, nullptr, nullptr, 0);
    if (!ev) return TRUFLUX_ENOMEM;
    bool dup = false;
    {
        std::lock_guard<std::mutex> g(q->mu);
        dup = q->wake_waiting;
        if (!dup) {
            q->wake_waiting = true;
            link(q, ev);
        }
    }
    if (dup) event_free(ev);
    return 0;
}

void queue_stats(const tf_queue *q, tf_queue_stats_t *out) {
    tf_queue_stats_t s;
    s.size = sizeof s;
    {
        std::lock_guard<std::mutex> g(q->mu);
        s.events = q->count;
        s.bytes = q->bytes;
        s.dropped = q->dropped;
        s.refused = q->refused;
    }
    s.max_bytes = q->max_bytes;
    size_t n = out->size < sizeof s ? out->size : sizeof s;
    memcpy(out, &s, n);
    out->size = n;
}

void event_free(tf_event *ev) {
    if (ev->conn) tf_conn_release(ev->conn);
    if (ev->file) tf_file_release(ev->file);
    free(ev->detail);
    ev->~tf_event();
    free(ev);
}

}  // namespace tfad
