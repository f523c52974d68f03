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
 *    and one DRAIN per TRUFLUX_EAGAIN the program got, so they stay bounded;
 *  - SECURE and SECURE_FAIL (at most one each per handshake) are dropped like an ERROR when
 *    the queue is over its cap: tf_conn_secure / tf_conn_secure_info still tell the state;
 *  - a FILE_OFFER arriving while the queue is over its cap is declined on the spot, and
 *    that transfer produces no event at all (counted in `refused`);
 *  - FILE_PROGRESS is coalesced: a transfer has at most one waiting, updated in place with
 *    the latest position, so a fast transfer costs one event whatever its chunk count;
 *  - FILE_ACCEPT, FILE_DECLINE, FILE_CANCEL and FILE_END are always queued for a transfer
 *    the program knows of (its own offer, or one whose OFFER it got): at most one each per
 *    transfer. FILE_PAUSE, FILE_RESUME and FILE_ERROR (and any event of a transfer the
 *    program does not know of, e.g. an offer refused as unsafe before it reached the
 *    program) are dropped like an ERROR when over the cap; the handle's own state
 *    (tf_file_is_paused, tf_file_stats) stays true.
 * Events of a connection refused at OPEN, including its file events, never reach the
 * program. SECURE and SECURE_FAIL may come before the connection's OPEN (when the open
 * waits for the handshake: a TRUFLUX_SECURE_REQUIRED side or a pinned key), or for a
 * connection that never opens (a failed required handshake): such a connection gets no
 * CLOSE event.
 *
 * Files through the queue: install tf_queue_file_callbacks()' struct with
 * tf_server_set_file_callbacks / tf_client_set_file_callbacks. An offer is decided after
 * popping its FILE_OFFER event, by tf_file_accept_path / tf_file_accept_dir /
 * tf_file_accept_fd or tf_file_decline on tf_event_file() (truflux/file.h allows deciding
 * after the callback; take tf_file_retain to keep the handle past truflux_event_free). An
 * offer never decided stays pending until the sender cancels or the connection ends. The
 * path and descriptor forms of truflux/file.h are what a queue-driven program uses: the
 * stream forms (tf_file_io_t) call back on the loop's thread, which such a program cannot
 * serve (a descriptor, e.g. one end of a pipe, gives a stream instead).
 */
#ifndef TRUFLUX_QUEUE_H
#define TRUFLUX_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <truflux/version.h>
#include <truflux/protocol.h>
#include <truflux/conn.h>
#include <truflux/security.h>
#include <truflux/file.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tf_queue tf_queue_t;
typedef struct tf_event tf_event_t;

/* What an event reports. Numbers are stable; 7-15 are connection events (9-15 reserved),
 * 16-31 file transfer events (25-31 reserved). File events carry the transfer
 * (tf_event_file) and its connection (tf_event_conn). */
typedef enum tf_event_kind {
    TRUFLUX_EVENT_OPEN = 1,     /* on_open: conn */
    TRUFLUX_EVENT_MESSAGE = 2,  /* on_message: conn and the message (tf_event_message) */
    TRUFLUX_EVENT_CLOSE = 3,    /* on_close: conn (NULL: the server finished closing), code
                                   (the reason), remote */
    TRUFLUX_EVENT_ERROR = 4,    /* on_error: conn (may be NULL), code, detail */
    TRUFLUX_EVENT_DRAIN = 5,    /* on_drain: conn */
    TRUFLUX_EVENT_WAKE = 6,     /* tf_queue_wake(): no source, no connection */
    TRUFLUX_EVENT_SECURE = 7,   /* on_secure: conn; code: the directions encrypted when the
                                   handshake finished (TRUFLUX_DIR_SEND | TRUFLUX_DIR_RECV);
                                   what it established: tf_event_secure_info */
    TRUFLUX_EVENT_SECURE_FAIL = 8, /* on_secure_fail: conn, code, detail */
    TRUFLUX_EVENT_FILE_OFFER = 16,   /* on_offer: the peer offers a file; decide with
                                        tf_file_accept_* / tf_file_decline */
    TRUFLUX_EVENT_FILE_ACCEPT = 17,  /* on_accept: the peer accepted our offer */
    TRUFLUX_EVENT_FILE_DECLINE = 18, /* on_decline: the peer declined our offer */
    TRUFLUX_EVENT_FILE_PAUSE = 19,   /* on_pause: the peer paused the transfer */
    TRUFLUX_EVENT_FILE_RESUME = 20,  /* on_resume: the peer resumed it */
    TRUFLUX_EVENT_FILE_PROGRESS = 21, /* on_progress: tf_event_progress (coalesced) */
    TRUFLUX_EVENT_FILE_CANCEL = 22,  /* on_cancel: the peer canceled the transfer */
    TRUFLUX_EVENT_FILE_ERROR = 23,   /* on_error: code, detail */
    TRUFLUX_EVENT_FILE_END = 24      /* on_end: code is the status (0: complete) */
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

/* Fills *cbs (cbs->size must be set, e.g. by TRUFLUX_FILE_CALLBACKS_INIT) with file
 * callbacks that report every file event into the queue as TRUFLUX_EVENT_FILE_*, each
 * carrying `tag`; install them with tf_server_set_file_callbacks /
 * tf_client_set_file_callbacks. Every member the struct has room for is set. Any thread.
 * Returns 0, TRUFLUX_EINVAL, TRUFLUX_ENOMEM. */
TRUFLUX_API int tf_queue_file_callbacks(tf_queue_t *queue, void *tag,
                                        tf_file_callbacks_t *cbs);

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

/* Frees an event and drops its references to the connection and the transfer. NULL is a
 * no-op. Any thread. */
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

/* CLOSE: the reason (0 after a graceful close); ERROR, SECURE_FAIL, FILE_ERROR: the error
 * code; SECURE: the directions encrypted; FILE_END: the status; otherwise 0. */
TRUFLUX_API int tf_event_code(const tf_event_t *event);

/* CLOSE: nonzero when the peer ended the connection; otherwise 0. */
TRUFLUX_API int tf_event_remote(const tf_event_t *event);

/* ERROR, SECURE_FAIL, FILE_ERROR: the human-readable detail; otherwise "". Borrowed from
 * the event; never NULL. */
TRUFLUX_API const char *tf_event_detail(const tf_event_t *event);

/* For a SECURE event: copies what the handshake established, as tf_conn_secure_info gave it
 * when the event was made (pattern, cipher, the peer's static key if it proved one, the
 * handshake hash), into *out (out->size must be set). Returns 0, or TRUFLUX_EINVAL (NULL,
 * or not a SECURE event). */
TRUFLUX_API int tf_event_secure_info(const tf_event_t *event, tf_secure_info_t *out);

/* For a FILE_* event: the transfer, borrowed from the event (valid until
 * truflux_event_free; take tf_file_retain to keep it longer, e.g. to decide an offer
 * later). NULL for other kinds. */
TRUFLUX_API tf_file_t *tf_event_file(const tf_event_t *event);

/* For a FILE_PROGRESS event: the position reached and the size (TRUFLUX_FILE_SIZE_UNKNOWN
 * for a stream), as in tf_file_callbacks_t's on_progress; either pointer may be NULL.
 * Returns 0, or TRUFLUX_EINVAL (NULL, or not a FILE_PROGRESS event). */
TRUFLUX_API int tf_event_progress(const tf_event_t *event, uint64_t *done, int64_t *total);

#ifdef __cplusplus
}
#endif
#endif
