/* truflux/security.h: the secure layer (Noise Protocol Framework) and key helpers.
 *
 * A connection is encrypted when both sides enable the secure layer (TRUFLUX_OPT_SECURE,
 * truflux/options.h): after the hello, the client and the server run a Noise handshake
 * (NN, NK, XX or IK, with X25519, ChaCha20-Poly1305 or AES-256-GCM, and SHA-256), then
 * each direction is encrypted, and may be switched off and on again, independently.
 * Events: on_secure (the handshake finished) and on_secure_fail (it could not happen) in
 * tf_callbacks_t (truflux/conn.h). docs/SECURITY.md says what each pattern protects
 * against; docs/PROTOCOL.md gives the wire format.
 *
 * TLS (tls:// URLs) is a separate, transport-level choice configured with the
 * TRUFLUX_OPT_TLS_* options; the two may be combined.
 */
#ifndef TRUFLUX_SECURITY_H
#define TRUFLUX_SECURITY_H

#include <stddef.h>
#include <stdint.h>
#include <truflux/version.h>
#include <truflux/conn.h>
#include <truflux/server.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Policies, the values of TRUFLUX_OPT_SECURE. */
#define TRUFLUX_SECURE_OFF 0       /* no secure layer: the peer is told nothing */
#define TRUFLUX_SECURE_OPTIONAL 1  /* encrypt when the peer can; plaintext otherwise */
#define TRUFLUX_SECURE_REQUIRED 2  /* the connection opens only after the handshake, and
                                      both directions stay encrypted; a peer without the
                                      secure layer is refused (TRUFLUX_ENOTSECURE) */

/* Directions, for tf_conn_set_secure and tf_conn_secure. */
#define TRUFLUX_DIR_SEND 1  /* what we send */
#define TRUFLUX_DIR_RECV 2  /* what the peer sends us */

/* Handshake patterns and ciphers, as tf_secure_info_t reports them. */
#define TRUFLUX_NOISE_NN 0  /* anonymous both ways: open to a man in the middle */
#define TRUFLUX_NOISE_NK 1  /* the client knows (pins) the server's key */
#define TRUFLUX_NOISE_XX 2  /* both send their keys in the handshake */
#define TRUFLUX_NOISE_IK 3  /* the client pins the server's key and sends its own */
#define TRUFLUX_CIPHER_CHACHAPOLY 0
#define TRUFLUX_CIPHER_AESGCM 1

#define TRUFLUX_KEY_SIZE 32         /* X25519 keys, private and public */
#define TRUFLUX_KEY_TEXT_SIZE 45    /* base64 of a key (44 characters) and a NUL */

/* Switches the encryption of one or both directions (TRUFLUX_DIR_SEND | TRUFLUX_DIR_RECV)
 * on or off. SEND changes what we send from the next frame on (a switch marker keeps the
 * order of messages); RECV asks the peer to change what it sends (the peer honours a
 * request to switch off only when it arrives encrypted). Before the handshake has finished,
 * the request applies when it does (both directions start encrypted). Any thread (the
 * change happens on the loop thread, in order with tf_send from the same thread).
 * Returns 0, TRUFLUX_EINVAL (bad arguments), TRUFLUX_ENOTSUP (the connection has no secure
 * layer: a side has it off, or the handshake failed), TRUFLUX_ENOTSECURE (switching off
 * where either side's policy is TRUFLUX_SECURE_REQUIRED), TRUFLUX_ECLOSED. */
TRUFLUX_API int tf_conn_set_secure(tf_conn_t *conn, int dirs, int on);

/* 1 when the direction is encrypted now (SEND: what we send, the seed's `secure`; RECV:
 * what the peer sends, the seed's `peerSecure`), 0 when not, or TRUFLUX_EINVAL. RECV turns
 * on when the first encrypted frame arrives and off at the peer's authenticated switch
 * marker. Any thread. */
TRUFLUX_API int tf_conn_secure(const tf_conn_t *conn, int dir);

/* What the handshake established. Set `size` to sizeof(tf_secure_info_t) first. */
typedef struct {
    size_t size;
    int established;            /* 1 once the handshake has finished */
    int pattern, cipher;        /* TRUFLUX_NOISE_*, TRUFLUX_CIPHER_*; -1 before */
    int has_peer_key;           /* 1 when the peer proved a static key (NK/IK server, XX,
                                   IK client) */
    uint8_t peer_key[32];       /* that key */
    uint8_t handshake_hash[32]; /* Noise's h: identical on both sides (channel binding) */
    uint64_t rekeys_sent, rekeys_received;
    uint64_t records_sent, records_received; /* encrypted frames */
} tf_secure_info_t;

/* Copies the connection's secure state into *out (out->size must be set). Any thread.
 * Returns 0, TRUFLUX_EINVAL, or TRUFLUX_ENOTSUP (no secure layer on this connection). */
TRUFLUX_API int tf_conn_secure_info(const tf_conn_t *conn, tf_secure_info_t *out);

/* Decides whether a client's static key (XX, IK) is authorised: nonzero accepts, 0 refuses
 * (the client gets TRUFLUX_EAUTH and no application data flows). `key` is borrowed for the
 * call. Runs on the loop thread, during the handshake, before on_open. */
typedef int (*tf_authorize_cb)(void *user, tf_conn_t *conn, const uint8_t key[32]);

/* Sets the server's authorisation callback (NULL removes it). With
 * TRUFLUX_OPT_AUTHORIZED_KEYS_FILE as well, a key must pass both. Best called before
 * listening; a later call judges the handshakes that reach the authorisation after it, on
 * every loop of the server (tf_server_add_loop), while one under way may still be judged
 * by the previous callback. Returns 0, TRUFLUX_EINVAL, TRUFLUX_ENOTSUP (the server's secure
 * layer is off). */
TRUFLUX_API int tf_server_set_authorizer(tf_server_t *server, tf_authorize_cb cb, void *user);

/* A new X25519 key pair from the system's CSPRNG. Returns 0 or TRUFLUX_EINTERNAL. The
 * caller owns both buffers; wipe the private key with tf_key_wipe when done. */
TRUFLUX_API int tf_keypair_generate(uint8_t priv[32], uint8_t pub[32]);

/* The public key of a private key. Returns 0, TRUFLUX_EINVAL or TRUFLUX_EINTERNAL. */
TRUFLUX_API int tf_key_public(const uint8_t priv[32], uint8_t pub[32]);

/* A key as one line of base64 (44 characters, NUL-terminated, no newline). Returns 0 or
 * TRUFLUX_EINVAL. */
TRUFLUX_API int tf_key_encode(const uint8_t key[32], char out[45]);

/* Reads a key: 44 characters of base64 (standard alphabet, '=' padding), surrounding white
 * space allowed. Returns 0 or TRUFLUX_EINVAL (anything else; *key is then zeroed). */
TRUFLUX_API int tf_key_decode(const char *text, size_t len, uint8_t key[32]);

/* Overwrites len bytes with zeros in a way the compiler keeps. */
TRUFLUX_API void tf_key_wipe(void *p, size_t len);

/* The crypto backend this build of the library uses for Noise: "mbedtls" or "openssl". */
TRUFLUX_API const char *tf_crypto_backend(void);

#ifdef __cplusplus
}
#endif
#endif
