/* truflux/truflux.h: the umbrella header of the truflux C API.
 *
 * truflux moves named, typed messages between programs over TCP (and, as they land, TLS and
 * WebSocket). The wire protocol is docs/PROTOCOL.md.
 *
 * Naming rule, followed by every public symbol:
 *   truflux_<object>_new / truflux_<object>_free   create and destroy a handle (lifecycle);
 *   tf_<object>_<verb>                             operate on it (tf_send is the one short
 *                                                  name: the hottest call, on a connection);
 *   tf_<name>_t                                    types; tf_<event>_cb callback types;
 *   TRUFLUX_*                                      macros and enum constants (TF_* belongs
 *                                                  to TensorFlow's C API).
 * Internal symbols never carry these prefixes.
 *
 * Return values: 0 (TRUFLUX_OK) or a positive count on success, a negative TRUFLUX_E* code
 * on failure (truflux/error.h). Constructors return NULL on failure and set tf_last_error().
 * Ownership is stated with each function; "borrowed" means valid for the duration of the
 * callback or call only.
 *
 * Threads: a loop's callbacks run on the thread that runs the loop. tf_send, tf_conn_close,
 * tf_server_broadcast, tf_server_close, tf_client_send, tf_client_close, tf_loop_call and
 * tf_loop_stop are safe from any thread; the rest are for the loop's thread (or any thread
 * while the loop is not running), as each declaration says.
 */
#ifndef TRUFLUX_TRUFLUX_H
#define TRUFLUX_TRUFLUX_H

#include <truflux/version.h>
#include <truflux/error.h>
#include <truflux/loop.h>
#include <truflux/options.h>
#include <truflux/protocol.h>
#include <truflux/conn.h>
#include <truflux/server.h>
#include <truflux/client.h>
#include <truflux/security.h>
#include <truflux/http.h>
#include <truflux/file.h>
#include <truflux/queue.h>

#endif
