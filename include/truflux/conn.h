/* truflux/conn.h: a connection, and the callbacks servers and clients report through.
 *
 * A tf_conn_t is handed to callbacks, borrowed for their duration. To use it later or from
 * another thread, take a reference with tf_conn_retain() and drop it with tf_conn_release();
 * a retained connection that has closed stays valid to call (tf_send then gives
 * TRUFLUX_ECLOSED).
 */
#ifndef TRUFLUX_CONN_H
#define TRUFLUX_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <truflux/version.h>
#include <truflux/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Event callbacks of a server or client, copied by tf_server_set_callbacks() and
 * tf_client_set_callbacks(). Initialise with TRUFLUX_CALLBACKS_INIT so that fields added
 * later read as NULL; a NULL member means "not interested". All run on the loop's thread.
 * Every connection that reaches on_open later gets exactly one on_close. */
typedef struct tf_callbacks {
    size_t size;  /* sizeof(tf_callbacks_t), set by TRUFLUX_CALLBACKS_INIT */
    void *user;   /* passed to every callback */
    /* The hello exchange finished: the connection is ready (client: connected; server: a new
     * client). */
    void (*on_open)(void *user, tf_conn_t *conn);
    /* A message whose protocol entry has no handler. `msg` is borrowed. */
    void (*on_message)(void *user, tf_conn_t *conn, const tf_message_t *msg);
    /* The connection ended. reason: 0 after a graceful close (either side), else the error
     * code that ended it. remote is nonzero when the peer ended it: its CLOSE frame's code,
     * or TRUFLUX_EEOF / TRUFLUX_ECONNRESET when it dropped the socket. For a server, conn
     * NULL means the server itself finished closing (tf_server_close). A client without
     * reconnect also gets on_close when a connection attempt fails. */
    void (*on_close)(void *user, tf_conn_t *conn, int reason, int remote);
    /* An error: code and a human-readable detail; conn may be NULL (e.g. accept failure, a
     * refused connection over the limit). Errors that end a connection also reach on_close. */
    void (*on_error)(void *user, tf_conn_t *conn, int code, const char *detail);
    /* The send queue fell to the low-water mark after a tf_send returned TRUFLUX_EAGAIN. */
    void (*on_drain)(void *user, tf_conn_t *conn);
    /* The secure handshake finished (truflux/security.h): both directions are encrypted
     * from here. Before on_open when the open waits for it (a TRUFLUX_SECURE_REQUIRED side
     * or a pinned key), after it otherwise. */
    void (*on_secure)(void *user, tf_conn_t *conn);
    /* The connection could not be secured: code TRUFLUX_ENOCIPHER (nothing in common),
     * TRUFLUX_EPIN (pinned key mismatch), TRUFLUX_EAUTH (key not authorised),
     * TRUFLUX_ENOTSECURE (the peer has no secure layer), TRUFLUX_EHANDSHAKE, ..., with a
     * detail. When either side requires encryption the connection then closes (on_error,
     * and on_close if it had opened); otherwise it goes on in plaintext. */
    void (*on_secure_fail)(void *user, tf_conn_t *conn, int code, const char *detail);
} tf_callbacks_t;

#define TRUFLUX_CALLBACKS_INIT { sizeof(tf_callbacks_t), 0, 0, 0, 0, 0, 0, 0, 0 }

/* Counters of a connection. Set `size` to sizeof(tf_conn_stats_t) before tf_conn_stats. */
typedef struct {
    size_t size;
    uint64_t msgs_in, msgs_out;   /* application messages received / accepted for sending */
    uint64_t bytes_in, bytes_out; /* bytes read from / written to the socket, frames included */
    uint64_t queued;              /* bytes accepted by tf_send and not yet written */
} tf_conn_stats_t;

/* Close flags. */
#define TRUFLUX_CLOSE_GRACEFUL 0  /* flush queued frames, send CLOSE, wait (bounded) for the peer's */
#define TRUFLUX_CLOSE_FORCE 1     /* drop queued frames and close the socket now */

/* Sends one message. `id` must be defined by the connection's protocol, and, once open, by
 * the peer's; the payload is checked against the schema before anything is queued (nothing
 * is sent on error). The data is copied; the caller keeps ownership. Messages sent by one
 * thread arrive in the order sent. Any thread. Before a client's connection is open, messages
 * are queued and sent after the hello.
 * Returns 0, or TRUFLUX_EINVAL (NULL conn, bad type, data NULL with len > 0),
 * TRUFLUX_ENOTFOUND (id not in our protocol), TRUFLUX_EPEERUNKNOWN, TRUFLUX_ESCHEMA,
 * TRUFLUX_EMSGSIZE, TRUFLUX_EUTF8, TRUFLUX_ECLOSED, TRUFLUX_EAGAIN (queue above the
 * high-water mark: nothing queued; on_drain follows), TRUFLUX_ENOMEM. */
TRUFLUX_API int tf_send(tf_conn_t *conn, uint32_t id, int type, const void *data, size_t len);

/* tf_send by message name. Also TRUFLUX_ENOTFOUND for a name the protocol lacks. */
TRUFLUX_API int tf_send_name(tf_conn_t *conn, const char *name, int type, const void *data,
                             size_t len);

/* Closes the connection (TRUFLUX_CLOSE_GRACEFUL or TRUFLUX_CLOSE_FORCE); `code` is the reason
 * sent to the peer (0 for a normal close, or a TRUFLUX_E* code). on_close follows, once.
 * Any thread. Returns 0, or TRUFLUX_ECLOSED if already closing. */
TRUFLUX_API int tf_conn_close(tf_conn_t *conn, int flags, int code);

/* Takes / drops a reference that keeps the handle valid. Any thread. */
TRUFLUX_API tf_conn_t *tf_conn_retain(tf_conn_t *conn);
TRUFLUX_API void tf_conn_release(tf_conn_t *conn);

/* A pointer the application attaches to the connection (the seed's `session`). */
TRUFLUX_API void tf_conn_set_user(tf_conn_t *conn, void *user);
TRUFLUX_API void *tf_conn_user(const tf_conn_t *conn);

/* The protocol state the connection is in (0 at the start), and moving it. Loop thread.
 * tf_conn_set_state returns 0 or TRUFLUX_EINVAL (no such state). */
TRUFLUX_API int tf_conn_state(const tf_conn_t *conn);
TRUFLUX_API int tf_conn_set_state(tf_conn_t *conn, int state);

/* Nonzero once the hello exchange is done and until the connection closes. Any thread. */
TRUFLUX_API int tf_conn_is_open(const tf_conn_t *conn);

/* Local / remote address as text (IPv4 or IPv6, no brackets) and port. `host` may be NULL.
 * Returns 0, TRUFLUX_EINVAL (buffer too small), TRUFLUX_ECLOSED (no socket). Any thread. */
TRUFLUX_API int tf_conn_local_addr(const tf_conn_t *conn, char *host, size_t hostlen, int *port);
TRUFLUX_API int tf_conn_remote_addr(const tf_conn_t *conn, char *host, size_t hostlen, int *port);

/* Copies the counters into *out (out->size must be set). Any thread. Returns 0 or EINVAL. */
TRUFLUX_API int tf_conn_stats(const tf_conn_t *conn, tf_conn_stats_t *out);

/* The transport the connection runs over, as in URLs: "tcp", "tls", "ws" (WebSocket: a client
 * that came through an HTTP upgrade, on a ws:// listener, a TRUFLUX_OPT_ACCEPT_WEBSOCKET
 * listener or an HTTP binding) or "wss" (WebSocket over TLS). A static string; NULL for a
 * NULL conn. Any thread. */
TRUFLUX_API const char *tf_conn_transport(const tf_conn_t *conn);

/* The connection's protocol (borrowed). */
TRUFLUX_API tf_protocol_t *tf_conn_protocol(const tf_conn_t *conn);

#ifdef __cplusplus
}
#endif
#endif
