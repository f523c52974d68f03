/* truflux/options.h: settings for servers and clients, as an opaque key/value object.
 *
 * An options object is read when a server or client is created (truflux_server_new,
 * truflux_client_new), which copies what it needs: the caller keeps ownership and may free
 * or reuse it at once. Passing NULL instead means "all defaults". Not thread-safe: use one
 * options object from one thread at a time.
 */
#ifndef TRUFLUX_OPTIONS_H
#define TRUFLUX_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <truflux/version.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tf_options tf_options_t;

/* Option keys. Numbers are stable. Times are in milliseconds, sizes in bytes; 0 turns a
 * timeout or interval off. (S) server only, (C) client only, otherwise both. */
typedef enum tf_option {
    TRUFLUX_OPT_NODELAY = 1,            /* TCP_NODELAY on every socket. Default 1. */
    TRUFLUX_OPT_MAX_CONNECTIONS = 2,    /* (S) open connections at most. Default 10000. */
    TRUFLUX_OPT_MAX_MESSAGE_SIZE = 3,   /* largest payload received or sent (the peer announces its own
                                           limit, and sends are held to the smaller one). Default
                                           16 MiB, max 2^31-1. */
    TRUFLUX_OPT_HANDSHAKE_TIMEOUT = 4,  /* time allowed for the hello exchange. Default 10000. */
    TRUFLUX_OPT_IDLE_TIMEOUT = 5,       /* close when nothing is received for this long. Default 60000. */
    TRUFLUX_OPT_HEARTBEAT = 6,          /* send a ping after this long without receiving. Default 20000. */
    TRUFLUX_OPT_SEND_HWM = 7,           /* queued bytes above which tf_send gives EAGAIN. Default 4 MiB. */
    TRUFLUX_OPT_SEND_LWM = 8,           /* queued bytes at or below which on_drain fires. Default 1 MiB. */
    TRUFLUX_OPT_CLOSE_TIMEOUT = 9,      /* graceful close: wait at most this for the peer. Default 5000. */
    TRUFLUX_OPT_STRICT = 10,            /* refuse a peer whose protocol fingerprint differs. Default 0. */
    TRUFLUX_OPT_RECONNECT = 11,         /* (C) reconnect automatically after a drop. Default 0. */
    TRUFLUX_OPT_RECONNECT_MIN = 12,     /* (C) first reconnect delay. Default 100. */
    TRUFLUX_OPT_RECONNECT_MAX = 13,     /* (C) longest reconnect delay. Default 10000. */
    TRUFLUX_OPT_BACKLOG = 14            /* (S) listen(2) backlog. Default 511. */
    /* Keys are grouped by concern: 1-99 connections, 100-149 security, 150-199 WebSocket and
     * HTTP, 200-249 files. */
} tf_option_t;

/* Creates an options object holding the defaults. NULL on allocation failure. */
TRUFLUX_API tf_options_t *truflux_options_new(void);

/* Frees it. NULL is a no-op. */
TRUFLUX_API void truflux_options_free(tf_options_t *opts);

/* Sets an integer option. Returns 0, TRUFLUX_EINVAL for a NULL object or a value out of
 * range, TRUFLUX_ENOTFOUND for an unknown key. */
TRUFLUX_API int tf_options_set_int(tf_options_t *opts, int key, int64_t value);

/* Reads an integer option into *value. Returns 0, TRUFLUX_EINVAL or TRUFLUX_ENOTFOUND. */
TRUFLUX_API int tf_options_get_int(const tf_options_t *opts, int key, int64_t *value);

/* Sets a text option (a path, a list); the string is copied. NULL clears it. Returns 0,
 * TRUFLUX_EINVAL (NULL object, or a value the key does not accept), TRUFLUX_ENOTFOUND (not
 * a text option). */
TRUFLUX_API int tf_options_set_str(tf_options_t *opts, int key, const char *value);

/* Sets a binary option (e.g. key material); the bytes are copied, and wiped from memory
 * when replaced or freed. Same returns as tf_options_set_str. */
TRUFLUX_API int tf_options_set_bytes(tf_options_t *opts, int key, const void *data, size_t len);

/* Reads a text or binary option: copies at most *len bytes to buf (which may be NULL to ask
 * the size) and sets *len to the full size. Returns 0, TRUFLUX_EINVAL, TRUFLUX_ENOTFOUND
 * (unknown key, or not set). */
TRUFLUX_API int tf_options_get_bytes(const tf_options_t *opts, int key, void *buf, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
