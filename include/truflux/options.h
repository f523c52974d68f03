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
    TRUFLUX_OPT_BACKLOG = 14,           /* (S) listen(2) backlog. Default 511. */
    /* Keys are grouped by concern: 1-99 connections, 100-149 security, 150-199 WebSocket and
     * HTTP, 200-249 files. */
    /* The secure layer: Noise handshakes and encrypted frames (truflux/security.h,
     * docs/SECURITY.md). Text lists are comma-separated; key values are 32 raw bytes or
     * their base64 text (44 characters); key files hold that text, as `truflux keygen`
     * writes them. Keys are checked when the server or client is created (TRUFLUX_EINVAL,
     * with tf_last_error_detail saying which). */
    TRUFLUX_OPT_SECURE = 100,           /* policy: TRUFLUX_SECURE_OFF (default), _OPTIONAL
                                           (encrypt when the peer can), _REQUIRED (open only
                                           encrypted; refuse plaintext). */
    TRUFLUX_OPT_SECURE_PATTERNS = 101,  /* text: Noise patterns, "NN", "NK", "XX", "IK". Server:
                                           accepted, in priority order; client: offered.
                                           Default: every pattern the keys allow (server
                                           with authorisation: IK, XX only). */
    TRUFLUX_OPT_SECURE_CIPHERS = 102,   /* text: "ChaChaPoly", "AESGCM"; server: priority
                                           order, client: supported. Default both, AESGCM
                                           first on a CPU with AES-NI and PCLMULQDQ,
                                           ChaChaPoly first elsewhere. */
    TRUFLUX_OPT_STATIC_KEY = 103,       /* binary: our static private key (server: NK, XX,
                                           IK; client: XX, IK). */
    TRUFLUX_OPT_STATIC_KEY_FILE = 104,  /* text: path of a file holding it. */
    TRUFLUX_OPT_PEER_KEY = 105,         /* (C) binary: the server's public key, pinned (NK,
                                           IK; checked in XX). Implies REQUIRED. */
    TRUFLUX_OPT_PEER_KEY_FILE = 106,    /* (C) text: path of a file holding it. */
    TRUFLUX_OPT_AUTHORIZED_KEYS_FILE = 107, /* (S) text: a file of client public keys, one
                                           per line (# comments); others get EAUTH. */
    TRUFLUX_OPT_REKEY_MESSAGES = 108,   /* rekey our sending direction after this many
                                           frames. Default 0 (off). */
    TRUFLUX_OPT_REKEY_BYTES = 109,      /* ... after this many plaintext bytes. Default 1 GiB;
                                           0 off. */
    TRUFLUX_OPT_REKEY_INTERVAL = 110,   /* ... at the first frame this long after the last
                                           rekey (ms). Default 3600000; 0 off. */
    /* TLS (tls:// URLs, lib/transport/tls.cpp). PEM files. */
    TRUFLUX_OPT_TLS_CERT_FILE = 120,    /* our certificate chain (server; client certificate) */
    TRUFLUX_OPT_TLS_KEY_FILE = 121,     /* its private key */
    TRUFLUX_OPT_TLS_CA_FILE = 122,      /* CAs to verify the peer with. Client default: the
                                           system's bundle, unless TLS_PIN_SHA256 is set. */
    TRUFLUX_OPT_TLS_PIN_SHA256 = 123,   /* (C) text: SHA-256 of the server certificate (DER),
                                           hex (colons allowed); with a CA file both must
                                           hold. */
    TRUFLUX_OPT_TLS_CLIENT_CERT = 124,  /* (S) 0 none (default), 1 verify one if sent,
                                           2 require one. */
    TRUFLUX_OPT_TLS_SERVER_NAME = 125,  /* (C) text: the name to verify and send (SNI)
                                           instead of the URL's host. */
    TRUFLUX_OPT_TLS_INSECURE = 126,     /* (C) 1: do not verify the server (tests only).
                                           Default 0. */
    /* WebSocket and HTTP (docs/WEBSOCKET.md). */
    TRUFLUX_OPT_ACCEPT_WEBSOCKET = 150,  /* (S) tcp:// (tls://) listeners also accept
                                            WebSocket (wss://) clients (HTTP upgrade, any
                                            path) on the same port, told apart by their
                                            first octet. Default 0. */
    /* Files (truflux/file.h). */
    TRUFLUX_OPT_FILE_WINDOW = 200,        /* receive window of a connection's incoming
                                             transfers together: file data in flight or held
                                             for slow sinks stays within it (shared equally,
                                             at least 64 KiB each), and a message never queues
                                             behind more. Default 2 MiB, 64 KiB to 1 GiB. */
    TRUFLUX_OPT_FILE_CHUNK = 201,         /* content bytes per CHUNK frame sent. Default 65536
                                             (the maximum), at least 512. */
    TRUFLUX_OPT_FILE_MAX_TRANSFERS = 202, /* incoming transfers (offered or moving) per
                                             connection; more are declined. Default 16. */
    TRUFLUX_OPT_FILE_MAX_SIZE = 203,      /* largest file accepted, bytes; 0 no limit. Default 0. */
    TRUFLUX_OPT_FILE_QUEUE = 204,         /* file data a connection queues for its socket at
                                             most (messages queue behind no more than this).
                                             Default 256 KiB, 64 KiB to 64 MiB. */
    TRUFLUX_OPT_FILE_SYNC = 205,          /* fsync a received file before its rename. Default 0. */
    TRUFLUX_OPT_FILE_SENDFILE = 206       /* send regular files with sendfile(2) on plain TCP
                                             without encryption. Default 1. */
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
