/* truflux/error.h: the one error list, its numbers and its messages.
 *
 * Every function that can fail returns 0 (TRUFLUX_OK) or a negative TRUFLUX_E* code.
 * The numbers are stable: a code keeps its number forever, new codes are appended.
 * The same numbers travel on the wire (as their magnitude) in CLOSE and ERROR frames,
 * see docs/PROTOCOL.md.
 */
#ifndef TRUFLUX_ERROR_H
#define TRUFLUX_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#include <truflux/version.h>

/* X(NAME, number, message): one line per code. Bindings generate their mappings from it. */
#define TRUFLUX_ERRNO_MAP(X)                                                         \
    X(OK,            0, "success")                                                   \
    X(EINVAL,       -1, "invalid argument")                                          \
    X(ENOMEM,       -2, "out of memory")                                             \
    X(EAGAIN,       -3, "send queue is above its high-water mark; wait for drain")   \
    X(ECLOSED,      -4, "the connection or object is closed")                        \
    X(ECANCELED,    -5, "operation canceled")                                        \
    X(ETIMEDOUT,    -6, "operation timed out")                                       \
    X(EHELLOTIMEOUT,-7, "no valid hello within the handshake timeout")              \
    X(EIDLE,        -8, "nothing received within the idle timeout")                  \
    X(EPROTO,       -9, "protocol violation: malformed or unexpected frame")         \
    X(EVERSION,    -10, "peer speaks an unsupported protocol version")               \
    X(EFINGERPRINT,-11, "protocol definitions differ and strict mode is on")         \
    X(EMSGSIZE,    -12, "message larger than the maximum message size")             \
    X(EUNKNOWN,    -13, "message id not defined by the receiver's protocol")        \
    X(ESCHEMA,     -14, "payload type or size does not match the message's schema") \
    X(ESTATE,      -15, "message not valid in the connection's current state")      \
    X(EPEERUNKNOWN,-16, "the peer's protocol does not define this message")         \
    X(EBADURL,     -17, "malformed or unsupported URL")                              \
    X(ECONNREFUSED,-18, "connection refused")                                        \
    X(ECONNRESET,  -19, "connection reset by peer")                                  \
    X(EADDRINUSE,  -20, "address already in use")                                    \
    X(ELIMIT,      -21, "server connection limit reached")                           \
    X(EIO,         -22, "input/output error")                                        \
    X(EEXIST,      -23, "already exists")                                            \
    X(ENOTFOUND,   -24, "not found")                                                 \
    X(ENOTSUP,     -25, "operation not supported")                                   \
    X(EBUSY,       -26, "object is in use and can no longer be changed")            \
    X(ERESOLVE,    -27, "host name could not be resolved")                           \
    X(EUTF8,       -28, "text payload is not valid UTF-8")                           \
    X(ESHUTDOWN,   -29, "the server is shutting down")                               \
    X(EEOF,        -30, "peer closed the connection without a close frame")          \
    X(EINTERNAL,   -31, "internal error")                                            \
    X(EDECRYPT,    -40, "encrypted frame failed authentication (tampered or forged)")  \
    X(EREPLAY,     -41, "encrypted frame replayed (sequence number already used)")  \
    X(EREORDER,    -42, "encrypted frame out of order (a frame is missing or moved)") \
    X(ETRUNCATED,  -43, "encrypted stream or frame truncated")                      \
    X(EPIN,        -44, "peer key does not match the pinned key")                   \
    X(EAUTH,       -45, "peer key not authorised")                                  \
    X(ENOCIPHER,   -46, "no common cipher or handshake pattern")                    \
    X(ENOTSECURE,  -47, "plaintext where encryption is required")                  \
    X(EHANDSHAKE,  -48, "secure handshake failed")                                  \
    X(ECERT,       -49, "certificate verification failed")                          \
    X(EWEBSOCKET,  -50, "WebSocket protocol violation")                              \
    X(EHTTP,       -51, "HTTP upgrade to WebSocket refused or malformed")            \
    X(EFILEUNKNOWN,-60, "frame for an unknown file transfer")                        \
    X(EFILESIZE,   -61, "file content longer or shorter than offered")               \
    X(ECHECKSUM,   -62, "file checksum mismatch")                                    \
    X(EFILENAME,   -63, "unsafe or invalid file name")                               \
    X(EFLOWCONTROL,-64, "file data beyond the receiver's credit")                    \
    X(EDECLINED,   -65, "file offer declined")                                       \
    X(EFILELIMIT,  -66, "too many file transfers at once")                           \
    X(EQUEUEFULL,  -70, "event queue full: the application is not keeping up")

typedef enum tf_error {
#define TRUFLUX_ERROR_ENUM_(name, num, msg) TRUFLUX_##name = (num),
    TRUFLUX_ERRNO_MAP(TRUFLUX_ERROR_ENUM_)
#undef TRUFLUX_ERROR_ENUM_
} tf_error_t;

/* The message for an error code; never NULL ("unknown error" for a number not in the list).
 * Thread-safe; the string is static. */
TRUFLUX_API const char *tf_strerror(int code);

/* The code's name without prefix, e.g. "EPROTO"; "UNKNOWN" for a number not in the list. */
TRUFLUX_API const char *tf_errname(int code);

/* The last error a constructor (truflux_*_new) or a URL/OS call hit on this thread, with a
 * human-readable detail (e.g. "connect 127.0.0.1:9: Connection refused"). The detail is
 * thread-local, valid until the next truflux call on this thread; never NULL. */
TRUFLUX_API int tf_last_error(void);
TRUFLUX_API const char *tf_last_error_detail(void);

#ifdef __cplusplus
}
#endif
#endif
