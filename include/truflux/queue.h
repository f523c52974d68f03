/* truflux/queue.h: the event queue, for programs that cannot take callbacks on the loop's
 * thread (language runtimes with an event loop of their own: Python's asyncio, Tcl, Java).
 *
 * A queue turns the callbacks of servers and clients into events that the program pops on
 * its own thread. tf_queue_callbacks() fills a tf_callbacks_t that reports into the queue;
 * install it with tf_server_set_callbacks() or tf_client_set_callbacks(). Its descriptor
 * (tf_queue_fd) is readable exactly while events are waiting, so the host's loop can watch
 * it (asyncio's add_reader, Tcl's fileevent, poll(2)) instead of polling.
 *
 * Events come out in the order the loop produced them; an event hands out a reference to
 * its connection, which stays valid until truflux_event_free().
 *
 * Memory is bounded by the queue's cap (truflux_queue_new), counted as payload bytes plus a
 * fixed overhead per event. The policy when the consumer falls behind:
 *  - a MESSAGE that would take the queue over its cap is dropped, and its connection is
 *    closed gracefully with TRUFLUX_EQUEUEFULL (the peer sees that code in the CLOSE). The
 *    program gets one ERROR event (TRUFLUX_EQUEUEFULL) for it, then the connection's CLOSE
 *    event. A message is never refused while the queue is empty, so any message the
 *    connection accepts (TRUFLUX_OPT_MAX_MESSAGE_SIZE) gets through a drained queue;
 *  - an OPEN arriving while the queue is over its cap is refused the same way, and that
 *    connection produces no event at all (OPEN and CLOSE stay paired);
 *  - an ERROR arriving while the queue is over its cap is dropped (counted in
 *    tf_queue_stats); the CLOSE that ends a connection still carries its reason;
 *  - CLOSE and DRAIN events are always queued: there is at most one CLOSE per OPEN delivered
 *    and one DRAIN per TRUFLUX_EAGAIN the program got, so they stay bounded.
 */
#ifndef TRUFLUX_QUEUE_H
#define TRUFLUX_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <truflux/version.h>
#include <truflux/protocol.h>
#include <truflux/conn.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tf_queue tf_queue_t;
typedef struct tf_event tf_event_t;

/* What an event reports. Numbers are stable; 7-15 are reserved for connection events added
 * later (the secure layer's), 16-31 for file transfer events. */
typedef enum tf_event_kind {
    TRUFLUX_EVENT_OPEN = 1,     /* on_open: conn */
    TRUFLUX_EVENT_MESSAGE = 2,  /* on_message: conn and the message (tf_event_message) */
    TRUFLUX_EVENT_CLOSE = 3,    /* on_close: conn (NULL: the server finished closing), code
                                   (the reason), remote */
    TRUFLUX_EVENT_ERROR = 4,    /* on_error: conn (may be NULL), code, detail */
    TRUFLUX_EVENT_DRAIN = 5,    /* on_drain: conn */
    TRUFLUX_EVENT_WAKE = 6      /* tf_queue_wake(): no source, no connection */
} tf_event_kind_t;

/* The cap truflux_queue_new(0) picks: 64 MiB. */
#define TRUFLUX_QUEUE_DEFAULT_MAX ((size_t)64 << 20)

/* Counters of a queue. Set `size` to sizeof(tf_queue_stats_t) before tf_queue_stats. */
typedef struct {
    size_t size;
    uint64_t events;        /* events waiting */
    uint64_t bytes;         /* their cost against the cap */
    uint64_t max_bytes;     /* the cap */
    uint64_t dropped;       /* messages and errors dropped because the queue was full */
    uint64_t refused;       /* connections closed with TRUFLUX_EQUEUEFULL */
} tf_queue_stats_t;

/* Creates a queue whose waiting events may cost at most max_bytes (0: the default,
 * TRUFLUX_QUEUE_DEFAULT_MAX). NULL on failure, with tf_last_error() set (TRUFLUX_ENOMEM, or
 * TRUFLUX_EIO when no descriptor could be made). */
TRUFLUX_API tf_queue_t *truflux_queue_new(size_t max_bytes);

/* Frees the queue and every event still in it. Free (or stop the loops of) every server and
 * client that reports into it first: their callbacks hold a pointer to it. NULL is a no-op.
 * Not concurrently with any other call on the queue. */
TRUFLUX_API void truflux_queue_free(tf_queue_t *queue);

/* Fills *cbs (cbs->size must be set, e.g. by TRUFLUX_CALLBACKS_INIT) with callbacks that
 * report every event of a server or client into the queue, each event carrying `tag` (any
 * pointer, to tell several sources apart; tf_event_tag). Every member the struct has room
 * for is set. Any thread. Returns 0, TRUFLUX_EINVAL, TRUFLUX_ENOMEM. */
TRUFLUX_API int tf_queue_callbacks(tf_queue_t *queue, void *tag, tf_callbacks_t *cbs);

/* A descriptor that is readable exactly while the queue holds events (an eventfd on Linux).
 * Watch it for readability only; do not read, write or close it. Any thread. Returns the
 * descriptor, or TRUFLUX_EINVAL. */
TRUFLUX_API int tf_queue_fd(const tf_queue_t *queue);

/* Takes the oldest event, or returns NULL when the queue is empty. Never blocks. The caller
 * owns the event: free it with truflux_event_free(). Any thread. */
TRUFLUX_API tf_event_t *tf_queue_pop(tf_queue_t *queue);

/* Waits until the queue holds an event or timeout_ms passed (negative: no limit). Returns
 * 1 when events are waiting, 0 on timeout, TRUFLUX_EINVAL. Any thread. */
TRUFLUX_API int tf_queue_wait(tf_queue_t *queue, int timeout_ms);

/* Queues a TRUFLUX_EVENT_WAKE (unless one is waiting already), to wake a consumer blocked
 * in tf_queue_wait or watching the descriptor. Any thread. Returns 0, TRUFLUX_EINVAL,
 * TRUFLUX_ENOMEM. */
TRUFLUX_API int tf_queue_wake(tf_queue_t *queue);

/* Copies the counters into *out (out->size must be set). Any thread. Returns 0 or EINVAL. */
TRUFLUX_API int tf_queue_stats(const tf_queue_t *queue, tf_queue_stats_t *out);

/* Frees an event and drops its reference to the connection. NULL is a no-op. Any thread. */
TRUFLUX_API void truflux_event_free(tf_event_t *event);

/* The event's kind (a tf_event_kind_t), or TRUFLUX_EINVAL for NULL. */
TRUFLUX_API int tf_event_kind(const tf_event_t *event);

/* The tag given to tf_queue_callbacks for the event's source (NULL for WAKE). */
TRUFLUX_API void *tf_event_tag(const tf_event_t *event);

/* The connection the event is about, or NULL. Borrowed from the event: valid until
 * truflux_event_free (take tf_conn_retain to keep it longer). */
TRUFLUX_API tf_conn_t *tf_event_conn(const tf_event_t *event);

/* For a MESSAGE event: fills *msg with a view of the message (id, name, type, data, len),
 * borrowed from the event. Returns 0, or TRUFLUX_EINVAL (NULL, or not a MESSAGE). */
TRUFLUX_API int tf_event_message(const tf_event_t *event, tf_message_t *msg);

/* CLOSE: the reason (0 after a graceful close); ERROR: the error code; otherwise 0. */
TRUFLUX_API int tf_event_code(const tf_event_t *event);

/* CLOSE: nonzero when the peer ended the connection; otherwise 0. */
TRUFLUX_API int tf_event_remote(const tf_event_t *event);

/* ERROR: the human-readable detail; otherwise "". Borrowed from the event; never NULL. */
TRUFLUX_API const char *tf_event_detail(const tf_event_t *event);

#ifdef __cplusplus
}
#endif
#endif
