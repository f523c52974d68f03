// lib/adapters: the event queue's secure and file events (truflux/queue.h, kinds 7-8 and
// 16-24). Same producer rules as queue.cpp: allocate outside the lock, link under it, and
// keep every kind bounded by the cap or by a fixed count per connection or transfer.
#include "adapters/queue.h"

#include <cstdlib>
#include <cstring>

#include <truflux/error.h>

namespace tfad {

namespace {

bool conn_silenced(tf_queue *q, tf_conn_t *conn) {
    return conn && q->silenced.count(conn) != 0;
}

// ---- secure events -------------------------------------------------------------------------

void secure_body(void *user, tf_conn_t *conn) {
    source *s = static_cast<source *>(user);
    tf_queue *q = s->q;
    // A snapshot: the consumer reads it later, when the connection may have moved on.
    event_ptr ev(event_alloc(TRUFLUX_EVENT_SECURE, s->tag, conn, sizeof(tf_secure_info_t)));
    if (!ev) {
        count_drop(user);
        return;
    }
    tf_secure_info_t info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    if (tf_conn_secure_info(conn, &info) != 0) {
        info.established = 1;
        info.pattern = info.cipher = -1;
    }
    memcpy(ev->payload(), &info, sizeof info);
    int dirs = 0;
    if (tf_conn_secure(conn, TRUFLUX_DIR_SEND) == 1) dirs |= TRUFLUX_DIR_SEND;
    if (tf_conn_secure(conn, TRUFLUX_DIR_RECV) == 1) dirs |= TRUFLUX_DIR_RECV;
    ev->code = dirs;
    {
        std::lock_guard<std::mutex> g(q->mu);
        if (conn_silenced(q, conn)) return;
    }
    offer(q, ev.release(), false);
}

void secure_fail_body(void *user, tf_conn_t *conn, int code, const char *detail) {
    source *s = static_cast<source *>(user);
    tf_queue *q = s->q;
    event_ptr ev(event_alloc(TRUFLUX_EVENT_SECURE_FAIL, s->tag, conn, 0));
    if (!ev) {
        count_drop(user);
        return;
    }
    ev->code = code;
    ev->detail = strdup(detail ? detail : tf_strerror(code));
    if (ev->detail) ev->cost += strlen(ev->detail);
    {
        std::lock_guard<std::mutex> g(q->mu);
        if (conn_silenced(q, conn)) return;
    }
    offer(q, ev.release(), false);
}

// ---- file events ---------------------------------------------------------------------------

tf_event *file_event(source *s, int kind, tf_file_t *file) {
    tf_event *ev = event_alloc(kind, s->tag, tf_file_conn(file), 0);
    if (ev) ev->file = tf_file_retain(file);
    return ev;
}

// Whether none of this transfer's events may reach the consumer. Under q->mu.
bool file_silenced(tf_queue *q, tf_file_t *file) {
    return q->silenced_files.count(file) != 0 || conn_silenced(q, tf_file_conn(file));
}

// Queues a file event: `force` for the kinds bounded per transfer (see queue.h), which
// holds only for a transfer the program knows of: its own offer, or one whose OFFER it got.
void file_post(void *user, int kind, tf_file_t *file, bool force, int code = 0,
               const char *detail = nullptr) {
    source *s = static_cast<source *>(user);
    tf_queue *q = s->q;
    event_ptr ev(file_event(s, kind, file));
    if (!ev) {
        count_drop(user);
        return;
    }
    ev->code = code;
    if (detail) {
        ev->detail = strdup(detail);
        if (ev->detail) ev->cost += strlen(ev->detail);
    }
    {
        std::lock_guard<std::mutex> g(q->mu);
        if (file_silenced(q, file)) return;
        bool known = !tf_file_is_incoming(file) || q->offered_files.count(file) != 0;
        if ((force && known) || fits(q, ev->cost)) {
            link(q, ev.release());
            return;
        }
        q->dropped++;
    }
}

void offer_body(void *user, tf_conn_t *conn, tf_file_t *file) {
    source *s = static_cast<source *>(user);
    tf_queue *q = s->q;
    event_ptr ev(file_event(s, TRUFLUX_EVENT_FILE_OFFER, file));
    {
        std::lock_guard<std::mutex> g(q->mu);
        if (conn_silenced(q, conn)) return;  // closing already; the offer ends with it
        if (ev && fits(q, ev->cost)) {
            if (q->offered_files.insert(file).second) tf_file_retain(file);
            link(q, ev.release());
            return;
        }
        // Over the cap: the consumer never hears of this transfer.
        if (q->silenced_files.insert(file).second) tf_file_retain(file);
        q->refused++;
    }
    tf_file_decline(file);
}

void progress_body(void *user, tf_file_t *file, uint64_t done, int64_t total) {
    source *s = static_cast<source *>(user);
    tf_queue *q = s->q;
    {
        std::lock_guard<std::mutex> g(q->mu);
        if (file_silenced(q, file)) return;
        auto it = q->progress.find(file);
        if (it != q->progress.end()) {
            it->second->done = done;
            it->second->total = total;
            return;
        }
    }
    // Only this loop thread adds a transfer's progress event, so none appeared meanwhile.
    event_ptr ev(file_event(s, TRUFLUX_EVENT_FILE_PROGRESS, file));
    if (!ev) {
        count_drop(user);
        return;
    }
    ev->done = done;
    ev->total = total;
    std::lock_guard<std::mutex> g(q->mu);
    if (!fits(q, ev->cost)) {
        q->dropped++;
        return;
    }
    q->progress[file] = ev.get();
    link(q, ev.release());
}

void end_body(void *user, tf_file_t *file, int status) {
    source *s = static_cast<source *>(user);
    tf_queue *q = s->q;
    bool silenced = false;
    {
        std::lock_guard<std::mutex> g(q->mu);
        auto it = q->silenced_files.find(file);
        if (it != q->silenced_files.end()) {
            q->silenced_files.erase(it);
            silenced = true;
        }
    }
    if (silenced) {
        tf_file_release(file);
        return;
    }
    file_post(user, TRUFLUX_EVENT_FILE_END, file, true, status);
    // The transfer is over: it leaves the bookkeeping (its END event, if queued, holds its
    // own reference).
    bool offered = false;
    {
        std::lock_guard<std::mutex> g(q->mu);
        offered = q->offered_files.erase(file) != 0;
    }
    if (offered) tf_file_release(file);
}

// The callbacks proper: no exception may unwind into the loop's frames.
template <class F>
void shielded(void *user, F &&f) {
    try {
        f();
    } catch (...) {
        count_drop(user);
    }
}

void f_offer(void *user, tf_conn_t *conn, tf_file_t *file) {
    shielded(user, [&] { offer_body(user, conn, file); });
}
void f_accept(void *user, tf_file_t *file) {
    shielded(user, [&] { file_post(user, TRUFLUX_EVENT_FILE_ACCEPT, file, true); });
}
void f_decline(void *user, tf_file_t *file) {
    shielded(user, [&] { file_post(user, TRUFLUX_EVENT_FILE_DECLINE, file, true); });
}
void f_pause(void *user, tf_file_t *file) {
    shielded(user, [&] { file_post(user, TRUFLUX_EVENT_FILE_PAUSE, file, false); });
}
void f_resume(void *user, tf_file_t *file) {
    shielded(user, [&] { file_post(user, TRUFLUX_EVENT_FILE_RESUME, file, false); });
}
void f_progress(void *user, tf_file_t *file, uint64_t done, int64_t total) {
    shielded(user, [&] { progress_body(user, file, done, total); });
}
void f_cancel(void *user, tf_file_t *file) {
    shielded(user, [&] { file_post(user, TRUFLUX_EVENT_FILE_CANCEL, file, true); });
}
void f_error(void *user, tf_file_t *file, int code, const char *detail) {
    shielded(user, [&] {
        file_post(user, TRUFLUX_EVENT_FILE_ERROR, file, false, code,
                  detail ? detail : tf_strerror(code));
    });
}
void f_end(void *user, tf_file_t *file, int status) {
    shielded(user, [&] { end_body(user, file, status); });
}

}  // namespace

void on_secure(void *user, tf_conn_t *conn) {
    shielded(user, [&] { secure_body(user, conn); });
}

void on_secure_fail(void *user, tf_conn_t *conn, int code, const char *detail) {
    shielded(user, [&] { secure_fail_body(user, conn, code, detail); });
}

int queue_file_callbacks(tf_queue *q, void *tag, tf_file_callbacks_t *cbs) {
    source *raw = add_source(q, tag);
    // Only the members the caller's struct has room for: it may predate later fields.
    tf_file_callbacks_t full = TRUFLUX_FILE_CALLBACKS_INIT;
    full.user = raw;
    full.on_offer = f_offer;
    full.on_accept = f_accept;
    full.on_decline = f_decline;
    full.on_pause = f_pause;
    full.on_resume = f_resume;
    full.on_progress = f_progress;
    full.on_cancel = f_cancel;
    full.on_error = f_error;
    full.on_end = f_end;
    size_t keep = cbs->size;
    size_t n = keep < sizeof full ? keep : sizeof full;
    memcpy(cbs, &full, n);
    cbs->size = n;
    return 0;
}

}  // namespace tfad
