/* truflux/server.h: a server accepts connections on one or more listening addresses. */
#ifndef TRUFLUX_SERVER_H
#define TRUFLUX_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <truflux/version.h>
#include <truflux/loop.h>
#include <truflux/options.h>
#include <truflux/protocol.h>
#include <truflux/conn.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tf_server tf_server_t;

/* Creates a server on `loop` speaking `protocol` (the server takes its own reference and
 * freezes it). `options` may be NULL (defaults); it is copied. Returns NULL on failure, with
 * tf_last_error() set (TRUFLUX_EINVAL, TRUFLUX_ENOMEM). Call on the loop's thread or
 * before the loop runs. */
TRUFLUX_API tf_server_t *truflux_server_new(tf_loop_t *loop, tf_protocol_t *protocol,
                                            const tf_options_t *options);

/* Closes every connection at once (forced) and frees the server. on_close is not called
 * for them. Safe from inside the server's own callbacks (the free is deferred). NULL is a
 * no-op. Loop thread, or any thread while the loop is not running. */
TRUFLUX_API void truflux_server_free(tf_server_t *server);

/* Sets the event callbacks (copied). Call before listening. Returns 0 or TRUFLUX_EINVAL. */
TRUFLUX_API int tf_server_set_callbacks(tf_server_t *server, const tf_callbacks_t *cbs);

/* Spreads the server over one more loop (e.g. one per core): every address the server then
 * listens on gets one listening socket per loop, bound with SO_REUSEPORT to the same address
 * and port (with port 0, the port the first loop got), and the kernel shares new connections
 * out among them. Call before the first tf_server_listen, not concurrently with other calls
 * on the server. The callbacks and the security / file settings (tf_server_set_callbacks,
 * tf_server_set_authorizer, tf_server_set_file_callbacks), made before or after, apply on
 * every loop: each loop keeps its own copy and the setter updates one loop after the other,
 * waiting for each, so a handshake or transfer under way during the call may still see the
 * previous setting, and once it returns every loop uses the new one. From a callback such a
 * setter waits for the other loops, as tf_server_stats does: not from callbacks of two of
 * the server's loops at once. Every loop must be run (by its caller or its library thread)
 * and outlive the server. A connection lives on the loop that accepted it and its callbacks fire on that
 * loop's thread, so with several loops they may run at the same time on different threads.
 * tf_server_broadcast reaches the open connections of every loop; tf_server_count and
 * tf_server_stats sum every loop (tf_server_stats waits for each loop in turn: do not call it
 * from callbacks of two of the server's loops at once); TRUFLUX_OPT_MAX_CONNECTIONS limits
 * the total over all loops. tf_server_close closes every loop's connections, and the server
 * is reported done once, on the thread of the loop that finished last; truflux_server_free
 * frees every loop's part. Connections of tf_server_adopt and HTTP bindings live on the
 * server's own loop, unless an evhttp of an added loop is bound (truflux/http.h). A listen
 * succeeds on every loop or on none; a failure's tf_last_error_detail() names the address
 * as bound and the loop. Returns 0, TRUFLUX_EINVAL (NULL, the server's own loop, a loop
 * already added, or called after tf_server_listen), TRUFLUX_ENOMEM, or the error of setting
 * up the loop's secure layer (tf_last_error_detail() says why, e.g. a key file that no
 * longer reads). */
TRUFLUX_API int tf_server_add_loop(tf_server_t *server, tf_loop_t *loop);

/* Listens on a URL: "tcp://HOST:PORT", HOST a name, IPv4 address or [IPv6] address; PORT 0
 * picks a free port. May be called again for more addresses. Returns 0, TRUFLUX_EBADURL,
 * TRUFLUX_ERESOLVE, TRUFLUX_EADDRINUSE, TRUFLUX_EIO, TRUFLUX_ECLOSED. */
TRUFLUX_API int tf_server_listen(tf_server_t *server, const char *url);

/* The port the server's first listening socket is bound to (0 if not listening). */
TRUFLUX_API int tf_server_port(const tf_server_t *server);

/* Adopts an already connected socket descriptor (blocking or not) as a new client connection
 * (the hello exchange follows as for an accepted one). Takes ownership of fd on success; the
 * caller keeps it on failure. Returns 0, TRUFLUX_EINVAL, TRUFLUX_ELIMIT, TRUFLUX_ECLOSED. */
TRUFLUX_API int tf_server_adopt(tf_server_t *server, int fd);

/* Sends one message to every open connection except those in `exclude` (may be NULL when
 * nexclude is 0). Checked as tf_send; a connection above its high-water mark is skipped.
 * Any thread. Returns the number of connections it was queued to (>= 0), or an error. When
 * called off the loop thread the message is queued for the loop, and the return value is 0
 * on success (with added loops, the count covers the connections of the caller's loop only;
 * the other loops' are queued). */
TRUFLUX_API int tf_server_broadcast(tf_server_t *server, uint32_t id, int type,
                                    const void *data, size_t len,
                                    tf_conn_t *const *exclude, size_t nexclude);

/* Number of open connections (after their hello). Any thread. */
TRUFLUX_API size_t tf_server_count(const tf_server_t *server);

/* Counters of a server since it was created. Set `size` to sizeof(tf_server_stats_t) before
 * tf_server_stats (an older, shorter struct gets the members it has room for). The
 * violation counters count connections the server ended itself, each under the first code
 * it ended with (see docs/RELIABILITY.md). */
typedef struct {
    size_t size;
    uint64_t accepted;           /* sockets taken (accepted or adopted), refused ones included */
    uint64_t opened;             /* connections that finished their hello (and secure layer) */
    uint64_t active;             /* open now (as tf_server_count) */
    uint64_t refused_limit;      /* sockets refused over TRUFLUX_OPT_MAX_CONNECTIONS */
    uint64_t message_size;       /* ended with TRUFLUX_EMSGSIZE (frame over the maximum size) */
    uint64_t handshake_timeouts; /* ended with TRUFLUX_EHELLOTIMEOUT */
    uint64_t idle_timeouts;      /* ended with TRUFLUX_EIDLE */
    uint64_t protocol_errors;    /* ended with a core protocol code (-9..-16, -28) */
    uint64_t secure_errors;      /* ended with a secure layer code (-40..-49) */
    uint64_t transport_errors;   /* ended with a WebSocket/HTTP code (-50..-59) */
    uint64_t peer_lost;          /* peer vanished: TRUFLUX_EEOF, TRUFLUX_ECONNRESET */
    uint64_t msgs_in, msgs_out;  /* messages received / sent, every connection */
    uint64_t bytes_in, bytes_out; /* octets read from / written to the sockets */
} tf_server_stats_t;

/* Fills *out (out->size set first) with the server's counters. Any thread (it waits for the
 * loop when called from another thread while the loop runs). Returns 0 or TRUFLUX_EINVAL. */
TRUFLUX_API int tf_server_stats(const tf_server_t *server, tf_server_stats_t *out);

/* Stops listening and closes every connection: gracefully (flush, CLOSE with
 * TRUFLUX_ESHUTDOWN, wait at most the close timeout) or forced. Each connection gets its
 * on_close, then on_close(user, NULL, 0, 0) reports the server done. Any thread. Returns 0
 * or TRUFLUX_ECLOSED (already closing). */
TRUFLUX_API int tf_server_close(tf_server_t *server, int flags);

#ifdef __cplusplus
}
#endif
#endif
