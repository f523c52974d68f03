/* truflux/http.h: a server reachable through an HTTP server the program already runs (the
 * 2015 module's httpBind). WebSocket upgrades at one path of a libevent `evhttp` become
 * connections of the truflux server; every other path keeps serving HTTP as before.
 *
 * The evhttp must run on the server's loop: create it on that loop's event_base
 * (tf_loop_event_base(), or the base given to truflux_loop_new_from_base()). It is passed as
 * void * so that this header needs no libevent header. A server spread over several loops
 * (tf_server_add_loop) may also be bound to an evhttp of an added loop: create it on that
 * loop's event_base and bind (and unbind) it from that loop's thread (e.g. in a
 * tf_loop_call function); the connections it upgrades then live on that loop.
 */
#ifndef TRUFLUX_HTTP_H
#define TRUFLUX_HTTP_H

#include <truflux/version.h>
#include <truflux/server.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Binds `server` to `path` (e.g. "/chat"; NULL means "/") of `evhttp` (a struct evhttp *).
 * A request at that path that is a WebSocket upgrade (RFC 6455, version 13; subprotocol
 * "truflux.v1" chosen when offered, docs/PROTOCOL.md 3.3) becomes a connection of the server,
 * whose transport is "ws"; any other request there is answered 426 Upgrade Required (405
 * for a method other than GET, 400 for a malformed upgrade), and 503 once the server is
 * closing. The binding lasts until tf_server_unbind_http() or truflux_server_free(); free
 * the server or unbind it before evhttp_free(), which also ends the WebSocket connections
 * the evhttp upgraded. Loop thread (or any thread while the loop does not run).
 * Returns 0, TRUFLUX_EINVAL (NULL server or evhttp, a path not starting with '/'),
 * TRUFLUX_EEXIST (that path of that evhttp already has a handler, e.g. another truflux
 * server), TRUFLUX_ECLOSED (the server is closing), TRUFLUX_ENOMEM. */
TRUFLUX_API int tf_server_bind_http(tf_server_t *server, void *evhttp, const char *path);

/* Removes a binding made by tf_server_bind_http(); connections it brought stay open. Same
 * thread rules. Returns 0, TRUFLUX_EINVAL, or TRUFLUX_ENOTFOUND (no such binding). */
TRUFLUX_API int tf_server_unbind_http(tf_server_t *server, void *evhttp, const char *path);

#ifdef __cplusplus
}
#endif
#endif
