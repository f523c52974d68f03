/* truflux/protocol.h: protocol definitions. A protocol maps message names to ids, with an
 * optional schema (payload types, maximum size), the states in which each message is
 * accepted, and a handler per message.
 *
 * Ids are derived from names (docs/PROTOCOL.md, "Message ids"), so programs in different
 * languages that define the same names agree on ids without coordinating. The definition's
 * SHA-256 fingerprint travels in the hello; with TRUFLUX_OPT_STRICT a peer whose fingerprint
 * differs is refused (TRUFLUX_EFINGERPRINT). Without it, a peer with more or fewer messages
 * works on the ones both define: sending a message the peer does not define fails locally
 * with TRUFLUX_EPEERUNKNOWN.
 *
 * A protocol is built on one thread, then frozen when the first server or client takes it;
 * after that it is immutable (changes give TRUFLUX_EBUSY) and safe to read from any thread.
 * Servers and clients hold their own reference, so the caller may free it right after.
 */
#ifndef TRUFLUX_PROTOCOL_H
#define TRUFLUX_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <truflux/version.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tf_protocol tf_protocol_t;
typedef struct tf_conn tf_conn_t;

/* Payload types: the tag every message carries. */
typedef enum tf_type {
    TRUFLUX_TYPE_EMPTY = 0,   /* no payload (length 0) */
    TRUFLUX_TYPE_BINARY = 1,  /* opaque bytes */
    TRUFLUX_TYPE_TEXT = 2,    /* UTF-8 text, validated by the receiver */
    TRUFLUX_TYPE_MSGPACK = 3  /* one MessagePack value, checked for well-formedness */
} tf_type_t;

/* Masks of accepted types for a schema: (1 << type), OR-ed. */
#define TRUFLUX_TYPES_EMPTY   (1u << TRUFLUX_TYPE_EMPTY)
#define TRUFLUX_TYPES_BINARY  (1u << TRUFLUX_TYPE_BINARY)
#define TRUFLUX_TYPES_TEXT    (1u << TRUFLUX_TYPE_TEXT)
#define TRUFLUX_TYPES_MSGPACK (1u << TRUFLUX_TYPE_MSGPACK)
#define TRUFLUX_TYPES_ANY     0xFu

/* Limits of a definition. */
#define TRUFLUX_MAX_MESSAGES 4096   /* messages per protocol */
#define TRUFLUX_MAX_STATES 32       /* states per protocol */
#define TRUFLUX_MAX_NAME 255        /* bytes in a message or state name */

/* A received message, borrowed for the duration of the callback: copy what you keep. */
typedef struct tf_message {
    uint32_t id;        /* message id */
    const char *name;   /* its name in the receiver's protocol (NUL-terminated) */
    int type;           /* a tf_type_t */
    const void *data;   /* payload bytes (not NUL-terminated, even for text) */
    size_t len;         /* payload length */
} tf_message_t;

/* A message handler. Runs on the connection's loop thread. `msg` is borrowed. The handler
 * may send, close, change the connection's state, or free its server/client (deferred). */
typedef void (*tf_message_cb)(void *user, tf_conn_t *conn, const tf_message_t *msg);

/* Creates an empty, stateless protocol. NULL on allocation failure. */
TRUFLUX_API tf_protocol_t *truflux_protocol_new(void);

/* Drops the caller's reference; the definition lives on while a server or client uses it.
 * NULL is a no-op. */
TRUFLUX_API void truflux_protocol_free(tf_protocol_t *proto);

/* Defines a message. `types` is a TRUFLUX_TYPES_* mask (0 means any type); `max_size` is
 * the largest payload in bytes (0 means the connection's maximum message size). Returns the
 * message id (>= 0) or TRUFLUX_EINVAL (empty, too long or non-UTF-8 name, bad mask),
 * TRUFLUX_EEXIST (name defined already, or its id collides with another name's),
 * TRUFLUX_ELIMIT (TRUFLUX_MAX_MESSAGES reached), TRUFLUX_EBUSY (frozen). */
TRUFLUX_API int64_t tf_protocol_add(tf_protocol_t *proto, const char *name, unsigned types,
                                    uint32_t max_size);

/* Defines a state and returns its number (0 for the first, which is where every connection
 * starts), or TRUFLUX_EINVAL, TRUFLUX_EEXIST, TRUFLUX_ELIMIT, TRUFLUX_EBUSY. A protocol
 * without states is stateless: every message is accepted at any time. */
TRUFLUX_API int tf_protocol_add_state(tf_protocol_t *proto, const char *state);

/* Makes `message` valid in `state` (both must be defined). A message never named here is
 * valid in every state. Returns 0, TRUFLUX_ENOTFOUND, TRUFLUX_EBUSY. */
TRUFLUX_API int tf_protocol_allow(tf_protocol_t *proto, const char *message, const char *state);

/* Sets (or, with cb NULL, removes) the handler of `message`. Messages without a handler go
 * to the connection's on_message callback. Returns 0, TRUFLUX_ENOTFOUND, TRUFLUX_EBUSY. */
TRUFLUX_API int tf_protocol_on(tf_protocol_t *proto, const char *message, tf_message_cb cb,
                               void *user);

/* The id of a defined message, or TRUFLUX_ENOTFOUND. Any thread once frozen. */
TRUFLUX_API int64_t tf_protocol_id(const tf_protocol_t *proto, const char *name);

/* The name of a defined id, or NULL. The string lives as long as the protocol. */
TRUFLUX_API const char *tf_protocol_name(const tf_protocol_t *proto, uint32_t id);

/* The number of a defined state, or TRUFLUX_ENOTFOUND. */
TRUFLUX_API int tf_protocol_state(const tf_protocol_t *proto, const char *state);

/* Number of messages defined. */
TRUFLUX_API size_t tf_protocol_count(const tf_protocol_t *proto);

/* The id any implementation derives from a name (docs/PROTOCOL.md); for tools and tests. */
TRUFLUX_API uint32_t tf_protocol_name_id(const char *name);

/* Writes the definition's 32-byte SHA-256 fingerprint to out. Returns 0 or TRUFLUX_EINVAL. */
TRUFLUX_API int tf_protocol_fingerprint(const tf_protocol_t *proto, uint8_t out[32]);

#ifdef __cplusplus
}
#endif
#endif
