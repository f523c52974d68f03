/* truflux/client.h: a client holds one connection to a server, with optional reconnect. */
#ifndef TRUFLUX_CLIENT_H
#define TRUFLUX_CLIENT_H

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

typedef struct tf_client tf_client_t;

/* Creates a client (see truflux_server_new for the arguments' ownership). NULL on failure
 * with tf_last_error() set. */
TRUFLUX_API tf_client_t *truflux_client_new(tf_loop_t *loop, tf_protocol_t *protocol,
                                            const tf_options_t *options);

/* Closes the connection at once (forced, on_close not called) and frees the client. Safe
 * from its own callbacks (deferred). NULL is a no-op. Loop thread, or any thread while the
 * loop is not running. */
TRUFLUX_API void truflux_client_free(tf_client_t *client);

/* Sets the event callbacks (copied). Call before connecting. Returns 0 or TRUFLUX_EINVAL. */
TRUFLUX_API int tf_client_set_callbacks(tf_client_t *client, const tf_callbacks_t *cbs);

/* Starts connecting to "tcp://HOST:PORT". Returns 0 when the attempt started (on_open or
 * on_error/on_close follow), TRUFLUX_EBADURL, TRUFLUX_EBUSY (already connecting or
 * connected), TRUFLUX_ECLOSED. A host that does not resolve and a refused connection are
 * reported through on_error then on_close (or retried with TRUFLUX_OPT_RECONNECT). Any
 * thread. */
TRUFLUX_API int tf_client_connect(tf_client_t *client, const char *url);

/* The client's connection. It exists from tf_client_connect() on and keeps its identity
 * across reconnects: messages sent on it while not open are queued and sent in order after
 * the next hello. Borrowed from the client; NULL before the first connect. Any thread. */
TRUFLUX_API tf_conn_t *tf_client_conn(tf_client_t *client);

/* Same as tf_send(tf_client_conn(client), ...); TRUFLUX_ECLOSED before connect. */
TRUFLUX_API int tf_client_send(tf_client_t *client, uint32_t id, int type, const void *data,
                               size_t len);
TRUFLUX_API int tf_client_send_name(tf_client_t *client, const char *name, int type,
                                    const void *data, size_t len);

/* Closes the connection (flags as tf_conn_close) and stops reconnecting. Any thread. */
TRUFLUX_API int tf_client_close(tf_client_t *client, int flags);

#ifdef __cplusplus
}
#endif
#endif
