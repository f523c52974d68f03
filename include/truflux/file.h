/* truflux/file.h: files and streams sent over a connection, beside its messages.
 *
 * A transfer moves the content of one file, or of a stream of unknown length, from one peer
 * (the sender) to the other (the receiver) over an open connection; messages keep flowing
 * while it moves, and any number of transfers may run at once in both directions. The
 * sender offers (tf_file_send_*); the receiver's on_offer decides (tf_file_accept_* or
 * tf_file_decline); the content then moves in chunks under credit-based flow control, so
 * each side holds a bounded amount of it in memory whatever the speeds
 * (TRUFLUX_OPT_FILE_WINDOW, TRUFLUX_OPT_FILE_QUEUE); a SHA-256 of the whole content is
 * checked at the end. A receiver writing to a path writes a temporary file beside it and
 * renames it only once the checksum holds, so a partial file never sits under the final
 * name; after a dropped connection, offering the same file again resumes from what was
 * received. The wire protocol is docs/PROTOCOL.md §23.
 *
 * Both peers enable files with tf_server_set_file_callbacks / tf_client_set_file_callbacks
 * (the hello then announces the capability); on a connection where either side has not,
 * tf_file_send_* returns TRUFLUX_ENOTSUP.
 *
 * Handles: a tf_file_t handed to a callback is borrowed for the callback. The handle a
 * tf_file_send_* call returns, and any taken with tf_file_retain, is the caller's until
 * tf_file_release. A handle stays valid to query after its transfer ended.
 *
 * Events: every transfer, in each direction, ends with exactly one on_end, whose status says
 * how: 0 (the receiver verified the checksum and has the whole content), TRUFLUX_EDECLINED,
 * TRUFLUX_ECANCELED, TRUFLUX_ECLOSED (the connection ended first, or its reason code) or the
 * error. Callbacks run on the loop's thread.
 *
 * Threads: every tf_file_* function may be called from any thread (it runs on the loop's,
 * waiting for it) and from inside any callback of the loop.
 */
#ifndef TRUFLUX_FILE_H
#define TRUFLUX_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <truflux/version.h>
#include <truflux/conn.h>
#include <truflux/server.h>
#include <truflux/client.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tf_file tf_file_t;

/* The size of a stream whose length is not known in advance. */
#define TRUFLUX_FILE_SIZE_UNKNOWN (-1)

/* File events of a server's or a client's connections, copied by
 * tf_server_set_file_callbacks / tf_client_set_file_callbacks. Initialise with
 * TRUFLUX_FILE_CALLBACKS_INIT; a NULL member means "not interested". Events named "the peer
 * ..." report what the other side did; the local side's own calls raise no event (except
 * on_end). */
typedef struct tf_file_callbacks {
    size_t size;  /* sizeof(tf_file_callbacks_t), set by TRUFLUX_FILE_CALLBACKS_INIT */
    void *user;   /* passed to every callback */
    /* Receiver: the peer offers a file (tf_file_name, tf_file_size, tf_file_is_stream).
     * Accept it with tf_file_accept_* or refuse it with tf_file_decline, during the callback
     * or later (tf_file_retain it to keep the handle). Without this callback every offer is
     * declined. Offers whose name is unsafe, over TRUFLUX_OPT_FILE_MAX_SIZE or over
     * TRUFLUX_OPT_FILE_MAX_TRANSFERS never reach it: they are refused, and reported through
     * on_error and on_end. */
    void (*on_offer)(void *user, tf_conn_t *conn, tf_file_t *file);
    /* Sender: the peer accepted; the content starts moving from tf_file_stats' offset
     * (above 0 when the peer resumes a transfer a dropped connection cut short). */
    void (*on_accept)(void *user, tf_file_t *file);
    /* Sender: the peer declined the offer; on_end follows with TRUFLUX_EDECLINED. */
    void (*on_decline)(void *user, tf_file_t *file);
    /* The peer paused / resumed the transfer. Content moves only while neither side has it
     * paused. */
    void (*on_pause)(void *user, tf_file_t *file);
    void (*on_resume)(void *user, tf_file_t *file);
    /* Content moved: `done` is the position reached (offset included; sender: bytes handed
     * to the connection; receiver: bytes handed to the sink), `total` the size or
     * TRUFLUX_FILE_SIZE_UNKNOWN. After every chunk: keep it cheap. */
    void (*on_progress)(void *user, tf_file_t *file, uint64_t done, int64_t total);
    /* The peer canceled the transfer; on_end follows with TRUFLUX_ECANCELED. */
    void (*on_cancel)(void *user, tf_file_t *file);
    /* An error ends the transfer (code, and a detail for humans); on_end follows with the
     * code. Connection-level failures (TRUFLUX_EFILEUNKNOWN, TRUFLUX_EFLOWCONTROL) also end
     * the connection and are reported by its on_error. */
    void (*on_error)(void *user, tf_file_t *file, int code, const char *detail);
    /* The transfer is over (see "Events" above); exactly once per transfer. A sender's 0 is
     * the seed's `finish`, a receiver's its `end`. */
    void (*on_end)(void *user, tf_file_t *file, int status);
} tf_file_callbacks_t;

#define TRUFLUX_FILE_CALLBACKS_INIT { sizeof(tf_file_callbacks_t), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/* A stream source or sink served by the application (content of unknown length, generated
 * or consumed on the fly). Copied by the call that takes it; `close` then runs exactly once,
 * when the transfer ends, and is where `arg` may be released. */
typedef struct tf_file_io {
    size_t size;  /* sizeof(tf_file_io_t), set by TRUFLUX_FILE_IO_INIT */
    void *arg;    /* passed to every function */
    /* Source: copies at most len bytes of content into buf. Returns the count (> 0), 0 at
     * the end of the stream, TRUFLUX_EAGAIN when nothing is ready now (call tf_file_wake
     * when there is), or another negative code, which ends the transfer with that error. */
    long (*read)(void *arg, tf_file_t *file, void *buf, size_t len);
    /* Sink: takes at most len bytes of content (borrowed for the call). Returns how many it
     * took, 0 to len; fewer than len means "full for now": the rest stays buffered (within
     * the credit window) and is offered again after tf_file_wake. A negative code ends the
     * transfer with that error. */
    long (*write)(void *arg, tf_file_t *file, const void *data, size_t len);
    /* The transfer ended with this status (on_end's). May be NULL. */
    void (*close)(void *arg, tf_file_t *file, int status);
} tf_file_io_t;

#define TRUFLUX_FILE_IO_INIT { sizeof(tf_file_io_t), 0, 0, 0, 0 }

/* Counters of a transfer. Set `size` to sizeof(tf_file_stats_t) before tf_file_stats. */
typedef struct {
    size_t size;
    int64_t total;           /* the offered size, or TRUFLUX_FILE_SIZE_UNKNOWN */
    uint64_t offset;         /* where the content started moving (above 0 on a resume) */
    uint64_t position;       /* content position reached (offset included) */
    uint64_t buffered;       /* receiver: received, not yet taken by the sink */
    uint64_t peak_buffered;  /* the most `buffered` has been */
    uint64_t credit;         /* sender: bytes it may still send; receiver: granted, not yet
                                received */
    uint64_t zero_copy;      /* sender: content bytes queued for sendfile(2) */
} tf_file_stats_t;

/* Enables files on the server's connections (those accepted from now on), with these
 * callbacks (copied; NULL: keep files enabled, stop every event). Best called before
 * listening; once a later call returns, no loop of the server (tf_server_add_loop) calls the
 * previous callbacks again. Options are the server's TRUFLUX_OPT_FILE_*. Returns 0 or
 * TRUFLUX_EINVAL. Any thread. */
TRUFLUX_API int tf_server_set_file_callbacks(tf_server_t *server,
                                             const tf_file_callbacks_t *cbs);

/* The same for a client; call before tf_client_connect (a connection already made gets
 * files from its next hello on). */
TRUFLUX_API int tf_client_set_file_callbacks(tf_client_t *client,
                                             const tf_file_callbacks_t *cbs);

/* Offers the regular file at `path` to the peer. `name` is what the peer is told (NULL: the
 * last component of path, with unsafe characters replaced). The file is opened now and read
 * as the content moves; offering the same unchanged file again after a dropped connection
 * resumes. *file (may be NULL) receives a handle the caller releases. Returns 0,
 * TRUFLUX_EINVAL, TRUFLUX_ENOTFOUND / TRUFLUX_EIO (cannot open or not a regular file),
 * TRUFLUX_EFILENAME (unsafe explicit name), TRUFLUX_ENOTSUP (files not enabled on both
 * sides), TRUFLUX_ECLOSED (connection not open), TRUFLUX_EFILELIMIT, TRUFLUX_ENOMEM. */
TRUFLUX_API int tf_file_send_path(tf_conn_t *conn, const char *path, const char *name,
                                  tf_file_t **file);

/* Offers the content read from `fd`, which this call takes over on success (closed when the
 * transfer ends; the caller keeps it on failure). A regular file is read from offset 0 and
 * sent whole, or `size` bytes of it (size -1: all); a pipe or socket is read until its end
 * and offered as a stream of `size` bytes (TRUFLUX_FILE_SIZE_UNKNOWN: until EOF). `name` is
 * required. Returns as tf_file_send_path. */
TRUFLUX_API int tf_file_send_fd(tf_conn_t *conn, int fd, const char *name, int64_t size,
                                tf_file_t **file);

/* Offers content produced by io->read, `size` bytes or TRUFLUX_FILE_SIZE_UNKNOWN. io->read
 * is required; io->close runs once if this call succeeds, never if it fails. A source that
 * ends before `size` bytes ends the transfer with TRUFLUX_EFILESIZE. Returns as
 * tf_file_send_path. */
TRUFLUX_API int tf_file_send_stream(tf_conn_t *conn, const tf_file_io_t *io, const char *name,
                                    int64_t size, tf_file_t **file);

/* Receiver, for a pending offer: accepts it into directory `dir`, as dir/NAME (NAME is the
 * offered name, already checked to be one safe path component). The content goes to a
 * temporary file in dir (TEMP_PREFIX ".tfpart-"), renamed over dir/NAME once verified; a
 * temporary file left by a dropped connection for the same content is continued (resume).
 * Returns 0, TRUFLUX_EINVAL (not a pending offer), TRUFLUX_ENOTFOUND / TRUFLUX_EIO (cannot
 * create the file), TRUFLUX_ECLOSED; on failure the offer stays pending. */
TRUFLUX_API int tf_file_accept_dir(tf_file_t *file, const char *dir);

/* The same, into exactly `path` (the application chose it; its temporary file goes in the
 * same directory). */
TRUFLUX_API int tf_file_accept_path(tf_file_t *file, const char *path);

/* Accepts into `fd` (written from its current position), taken over on success and closed
 * when the transfer ends. No temporary name, no resume: the descriptor gets the content as
 * it arrives. A pipe or socket is made non-blocking and written as it drains. */
TRUFLUX_API int tf_file_accept_fd(tf_file_t *file, int fd);

/* Accepts into io->write (required); io->close runs once if this call succeeds. */
TRUFLUX_API int tf_file_accept_stream(tf_file_t *file, const tf_file_io_t *io);

/* Receiver: refuses a pending offer (the sender gets on_decline); on_end follows here with
 * TRUFLUX_EDECLINED. Returns 0, TRUFLUX_EINVAL (not a pending offer), TRUFLUX_ECLOSED. */
TRUFLUX_API int tf_file_decline(tf_file_t *file);

/* Either side: ends the transfer (the peer gets on_cancel); on_end follows here with
 * TRUFLUX_ECANCELED. A receiver's partial file is removed. Returns 0, TRUFLUX_ECLOSED
 * (already ended). */
TRUFLUX_API int tf_file_cancel(tf_file_t *file);

/* Either side: pauses / resumes the transfer (the peer gets on_pause / on_resume). Allowed
 * before the offer is accepted. Returns 0 (also when already in that state),
 * TRUFLUX_ECLOSED (ended). */
TRUFLUX_API int tf_file_pause(tf_file_t *file);
TRUFLUX_API int tf_file_resume(tf_file_t *file);

/* A tf_file_io_t source has data again, or sink room again, after TRUFLUX_EAGAIN or a short
 * write: the library calls it soon, on the loop's thread. Returns 0, TRUFLUX_ECLOSED. */
TRUFLUX_API int tf_file_wake(tf_file_t *file);

/* Takes / drops a reference. Any thread. tf_file_release(NULL) is a no-op. */
TRUFLUX_API tf_file_t *tf_file_retain(tf_file_t *file);
TRUFLUX_API void tf_file_release(tf_file_t *file);

/* A pointer the application attaches to the transfer. */
TRUFLUX_API void tf_file_set_user(tf_file_t *file, void *user);
TRUFLUX_API void *tf_file_user(const tf_file_t *file);

/* The name offered (NUL-terminated, borrowed for the handle's life). For an offer refused
 * as unsafe, the received octets with anything unprintable escaped as \xHH. */
TRUFLUX_API const char *tf_file_name(const tf_file_t *file);

/* The offered size in bytes, or TRUFLUX_FILE_SIZE_UNKNOWN (a stream). */
TRUFLUX_API int64_t tf_file_size(const tf_file_t *file);

/* Nonzero for content of unknown length (the seed's isStream). */
TRUFLUX_API int tf_file_is_stream(const tf_file_t *file);

/* Nonzero while either side has the transfer paused (the seed's paused). */
TRUFLUX_API int tf_file_is_paused(const tf_file_t *file);

/* Nonzero on the receiving side. */
TRUFLUX_API int tf_file_is_incoming(const tf_file_t *file);

/* The connection the transfer runs on (borrowed for the handle's life). */
TRUFLUX_API tf_conn_t *tf_file_conn(const tf_file_t *file);

/* The transfer's id on its connection (odd for the client's offers, even for the server's). */
TRUFLUX_API uint32_t tf_file_id(const tf_file_t *file);

/* Copies the counters into *out (out->size must be set). Returns 0 or TRUFLUX_EINVAL. */
TRUFLUX_API int tf_file_stats(const tf_file_t *file, tf_file_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
