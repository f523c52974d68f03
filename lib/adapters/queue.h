// lib/adapters: the event queue behind truflux/queue.h. Producers are the callbacks that
// servers and clients run on their loops' threads; the consumer pops on its own thread.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <truflux/file.h>
#include <truflux/queue.h>
#include <truflux/security.h>

// One event, allocated in one block with its payload right after the struct.
struct tf_event {
    tf_event *next = nullptr;
    int kind = 0;
    void *tag = nullptr;
    tf_conn_t *conn = nullptr;  // own reference (tf_conn_retain)
    uint32_t id = 0;
    const char *name = nullptr;  // the receiver's protocol's string: lives as long as conn
    int type = 0;
    int code = 0;
    int remote = 0;
    char *detail = nullptr;  // ERROR, SECURE_FAIL, FILE_ERROR (malloc'd)
    tf_file_t *file = nullptr;  // FILE_* only: own reference (tf_file_retain)
    uint64_t done = 0;          // FILE_PROGRESS
    int64_t total = 0;          // FILE_PROGRESS
    // MESSAGE: the message's bytes; SECURE: a tf_secure_info_t.
    size_t len = 0;
    size_t cost = 0;  // what it counts against the cap

    const uint8_t *payload() const { return reinterpret_cast<const uint8_t *>(this + 1); }
    uint8_t *payload() { return reinterpret_cast<uint8_t *>(this + 1); }
};

namespace tfad {

struct source {
    tf_queue *q;
    void *tag;
};

// Bookkeeping per event besides its payload, so that a flood of empty messages is bounded too.
constexpr size_t EVENT_OVERHEAD = sizeof(tf_event) + 16;

tf_queue *queue_new(size_t max_bytes, int *err);
void queue_free(tf_queue *q);
int queue_callbacks(tf_queue *q, void *tag, tf_callbacks_t *cbs);
int queue_file_callbacks(tf_queue *q, void *tag, tf_file_callbacks_t *cbs);
tf_event *queue_pop(tf_queue *q);
int queue_wait(tf_queue *q, int timeout_ms);
int queue_wake(tf_queue *q);
void queue_stats(const tf_queue *q, tf_queue_stats_t *out);
void event_free(tf_event *ev);

// Internal to lib/adapters: the producer side's pieces, shared by queue.cpp (connection
// events) and queue_events.cpp (secure and file events).
struct event_deleter {
    void operator()(tf_event *ev) const { event_free(ev); }
};
using event_ptr = std::unique_ptr<tf_event, event_deleter>;

// A new event (nullptr when out of memory) with `len` payload bytes, holding a reference to
// conn (may be NULL).
tf_event *event_alloc(int kind, void *tag, tf_conn_t *conn, size_t len);
// Under q->mu: links ev at the tail; whether an event of this cost fits under the cap.
void link(tf_queue *q, tf_event *ev);
bool fits(const tf_queue *q, size_t cost);
// Queues ev when `force` or when it fits; otherwise frees it and counts a drop.
bool offer(tf_queue *q, tf_event *ev, bool force);
// Under q->mu: adds conn with its own reference (whether it was new) / takes it out (the
// caller then releases it).
bool remember(std::unordered_set<tf_conn_t *> &set, tf_conn_t *conn);
bool take_from(std::unordered_set<tf_conn_t *> &set, tf_conn_t *c);
// A producer's context, owned by the queue.
source *add_source(tf_queue *q, void *tag);
// Counts an event lost to an exception inside a callback.
void count_drop(void *user);
// The secure-layer callbacks of tf_callbacks_t (queue_events.cpp).
void on_secure(void *user, tf_conn_t *conn);
void on_secure_fail(void *user, tf_conn_t *conn, int code, const char *detail);

}  // namespace tfad

struct tf_queue {
    mutable std::mutex mu;
    std::condition_variable cv;
    tf_event *head = nullptr, *tail = nullptr;  // guarded by mu
    uint64_t count = 0, bytes = 0;              // guarded by mu
    uint64_t max_bytes = 0;
    uint64_t dropped = 0, refused = 0;          // guarded by mu
    bool wake_waiting = false;                  // a WAKE is in the queue (guarded by mu)
    // The descriptor: readable while count > 0. rfd == wfd for an eventfd.
    int rfd = -1, wfd = -1;
    std::vector<std::unique_ptr<tfad::source>> sources;  // guarded by mu
    // Connections refused at OPEN: none of their events reach the consumer. Retained, so
    // that their addresses cannot be reused by another connection while listed.
    std::unordered_set<tf_conn_t *> silenced;   // guarded by mu
    // Connections closed with EQUEUEFULL after their OPEN: further messages are dropped,
    // their CLOSE still goes through. Retained, as above.
    std::unordered_set<tf_conn_t *> overflowed;  // guarded by mu
    // Transfers whose OFFER was refused over the cap: none of their events are queued.
    // Transfers whose OFFER was queued: their END is always queued. Both retained.
    std::unordered_set<tf_file_t *> silenced_files, offered_files;  // guarded by mu
    // The FILE_PROGRESS event waiting for each transfer, updated in place (coalescing).
    std::unordered_map<tf_file_t *, tf_event *> progress;  // guarded by mu
};
