// lib/adapters: the C functions of truflux/queue.h: check arguments, forward, keep C++
// exceptions on this side of the ABI.
#include <cstring>

#include <truflux/error.h>
#include <truflux/queue.h>

#include "adapters/queue.h"
#include "api/guard.h"
#include "api/last_error.h"

extern "C" {

TRUFLUX_API tf_queue_t *truflux_queue_new(size_t max_bytes) {
    int err = TRUFLUX_ENOMEM;
    tf_queue *q = nullptr;
    try {
        q = tfad::queue_new(max_bytes, &err);
    } catch (...) {
        q = nullptr;
    }
    if (!q)
        tfapi::set_last_error(err, err == TRUFLUX_EIO ? "queue: cannot create its descriptor"
                                                      : "queue: cannot create");
    return q;
}

TRUFLUX_API void truflux_queue_free(tf_queue_t *queue) {
    if (queue) tfapi::guard_void([&] { tfad::queue_free(queue); });
}

TRUFLUX_API int tf_queue_callbacks(tf_queue_t *queue, void *tag, tf_callbacks_t *cbs) {
    if (!queue || !cbs || cbs->size < sizeof(size_t) + sizeof(void *)) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfad::queue_callbacks(queue, tag, cbs); });
}

TRUFLUX_API int tf_queue_file_callbacks(tf_queue_t *queue, void *tag,
                                        tf_file_callbacks_t *cbs) {
    if (!queue || !cbs || cbs->size < sizeof(size_t) + sizeof(void *)) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfad::queue_file_callbacks(queue, tag, cbs); });
}

TRUFLUX_API int tf_queue_fd(const tf_queue_t *queue) {
    return queue ? queue->rfd : TRUFLUX_EINVAL;
}

TRUFLUX_API tf_event_t *tf_queue_pop(tf_queue_t *queue) {
    return queue ? tfad::queue_pop(queue) : nullptr;
}

TRUFLUX_API int tf_queue_wait(tf_queue_t *queue, int timeout_ms) {
    if (!queue) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfad::queue_wait(queue, timeout_ms); });
}

TRUFLUX_API int tf_queue_wake(tf_queue_t *queue) {
    if (!queue) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfad::queue_wake(queue); });
}

TRUFLUX_API int tf_queue_stats(const tf_queue_t *queue, tf_queue_stats_t *out) {
    if (!queue || !out || out->size < sizeof(size_t)) return TRUFLUX_EINVAL;
    tfad::queue_stats(queue, out);
    return 0;
}

TRUFLUX_API void truflux_event_free(tf_event_t *event) {
    if (event) tfad::event_free(event);
}

TRUFLUX_API int tf_event_kind(const tf_event_t *event) {
    return event ? event->kind : TRUFLUX_EINVAL;
}

TRUFLUX_API void *tf_event_tag(const tf_event_t *event) { return event ? event->tag : nullptr; }

TRUFLUX_API tf_conn_t *tf_event_conn(const tf_event_t *event) {
    return event ? event->conn : nullptr;
}

TRUFLUX_API int tf_event_message(const tf_event_t *event, tf_message_t *msg) {
    if (!event || !msg || event->kind != TRUFLUX_EVENT_MESSAGE) return TRUFLUX_EINVAL;
    msg->id = event->id;
    msg->name = event->name;
    msg->type = event->type;
    msg->data = event->payload();
    msg->len = event->len;
    return 0;
}

TRUFLUX_API int tf_event_code(const tf_event_t *event) { return event ? event->code : 0; }

TRUFLUX_API int tf_event_remote(const tf_event_t *event) { return event ? event->remote : 0; }

TRUFLUX_API const char *tf_event_detail(const tf_event_t *event) {
    return event && event->detail ? event->detail : "";
}

TRUFLUX_API int tf_event_secure_info(const tf_event_t *event, tf_secure_info_t *out) {
    if (!event || !out || out->size < sizeof(size_t) || event->kind != TRUFLUX_EVENT_SECURE ||
        event->len != sizeof(tf_secure_info_t))
        return TRUFLUX_EINVAL;
    // Only what the caller's struct has room for: it may predate later fields.
    size_t n = out->size < event->len ? out->size : event->len;
    memcpy(out, event->payload(), n);
    out->size = n;
    return 0;
}

TRUFLUX_API tf_file_t *tf_event_file(const tf_event_t *event) {
    return event ? event->file : nullptr;
}

TRUFLUX_API int tf_event_progress(const tf_event_t *event, uint64_t *done, int64_t *total) {
    if (!event || event->kind != TRUFLUX_EVENT_FILE_PROGRESS) return TRUFLUX_EINVAL;
    if (done) *done = event->done;
    if (total) *total = event->total;
    return 0;
}

}  // extern "C"
