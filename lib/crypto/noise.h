// lib/crypto: the Noise Protocol Framework (revision 34, noiseprotocol.org/noise.html) for
// Noise_{NN,NK,XX,IK}_25519_{ChaChaPoly,AESGCM}_SHA256. Pure: no I/O, no clock; the
// connection layer frames the messages and decides what the payloads are.
//
// Objects follow the specification's names (CipherState, SymmetricState, HandshakeState)
// and methods. Every method returns 0 or a negative code:
//   TRUFLUX_EINVAL     misuse: wrong turn, missing or superfluous key, output buffer too
//                      small, nonce exhausted, handshake already failed or finished;
//   TRUFLUX_EPROTO     a peer's message is malformed: too short, over 65535 bytes, or its
//                      public key is of low order;
//   TRUFLUX_EMSGSIZE   what we were asked to send would exceed 65535 bytes;
//   tfc::ERR_DECRYPT   a ciphertext failed authentication (backend.h). Internal only: the
//                      connection layer reports it with public_error(), which maps it to
//                      TRUFLUX_EPROTO;
//   TRUFLUX_ENOMEM, TRUFLUX_EINTERNAL  from the backend.
// Objects are not thread-safe; each is used by one thread at a time.
//
// Secret material (keys, chaining key, private keys, DH outputs) is wiped as soon as it is
// no longer needed and on destruction.
#pragma once
#include <cstddef>
#include <cstdint>

#include <truflux/error.h>

#include "crypto/backend.h"

namespace tfc {

constexpr size_t MAX_MESSAGE = 65535;  // every Noise message, handshake or transport
constexpr uint64_t MAX_NONCE = UINT64_MAX;  // reserved: rekey uses it, messages never do

// The code to report outside lib/crypto: a failed decryption is a protocol violation.
inline int public_error(int rc) { return rc == ERR_DECRYPT ? TRUFLUX_EPROTO : rc; }

// A key (possibly empty) and a nonce. Without a key, encryption and decryption copy the
// bytes unchanged, as the specification says (the first handshake messages).
class cipher_state {
public:
    cipher_state() = default;
    // A moved-from state refuses to work (TRUFLUX_EINVAL) until initialize_key().
    cipher_state(cipher_state &&o) noexcept;
    cipher_state &operator=(cipher_state &&o) noexcept;
    cipher_state(const cipher_state &) = delete;
    cipher_state &operator=(const cipher_state &) = delete;

    // InitializeKey: key == NULL empties the state. n = 0.
    int initialize_key(cipher c, const uint8_t *key);
    bool has_key() const { return state_ == keyed; }
    cipher cipher_id() const { return c_; }
    uint64_t nonce() const { return n_; }
    // SetNonce, for tests and the rare protocol that needs it.
    void set_nonce(uint64_t n) { n_ = n; }

    // EncryptWithAd: out receives len (+ TAG_LEN with a key) bytes, *out_len says how many;
    // out may be pt itself. TRUFLUX_EMSGSIZE past MAX_MESSAGE; TRUFLUX_EINVAL when out_cap
    // is too small or the nonce has reached MAX_NONCE (the key is then used up: rekey does
    // not reset the nonce, a new handshake is needed).
    int encrypt_with_ad(const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t len,
                        uint8_t *out, size_t out_cap, size_t *out_len);
    // DecryptWithAd: out receives len (- TAG_LEN with a key) bytes. ERR_DECRYPT leaves the
    // nonce unchanged (the specification's rule), so a forged message cannot desynchronise
    // the sides; out is then zeroed. TRUFLUX_EPROTO for len < TAG_LEN or len > MAX_MESSAGE.
    int decrypt_with_ad(const uint8_t *ad, size_t ad_len, const uint8_t *ct, size_t len,
                        uint8_t *out, size_t out_cap, size_t *out_len);
    // Rekey: k = first 32 bytes of ENCRYPT(k, MAX_NONCE, empty, 32 zero bytes); n is kept.
    // Both sides must call it at the same point of the stream. TRUFLUX_EINVAL without a key.
    int rekey();
    // Frees working memory the key does not need while unused (aead::trim).
    void trim() { aead_.trim(); }

private:
    // dead is separate from empty: a backend failure while re-keying, or a move, must leave
    // a state that refuses to work, never one that silently passes plaintext through.
    enum state_t : uint8_t { empty, keyed, dead };

    aead aead_;
    cipher c_ = cipher::chachapoly;
    state_t state_ = empty;
    uint64_t n_ = 0;
};

// The chaining key, the handshake hash and the handshake's CipherState.
class symmetric_state {
public:
    symmetric_state() = default;
    ~symmetric_state();
    symmetric_state(const symmetric_state &) = delete;
    symmetric_state &operator=(const symmetric_state &) = delete;

    // InitializeSymmetric: h = name padded with zeros to HASH_LEN if it fits, else
    // HASH(name); ck = h; no key.
    int initialize(const char *protocol_name, cipher c);
    int mix_key(const uint8_t *ikm, size_t len);
    int mix_hash(const uint8_t *data, size_t len);
    int mix_key_and_hash(const uint8_t *ikm, size_t len);
    const uint8_t *handshake_hash() const { return h_; }
    bool has_key() const { return cs_.has_key(); }
    // EncryptAndHash / DecryptAndHash; out may be the input itself (in place).
    int encrypt_and_hash(const uint8_t *pt, size_t len, uint8_t *out, size_t out_cap,
                         size_t *out_len);
    int decrypt_and_hash(const uint8_t *ct, size_t len, uint8_t *out, size_t out_cap,
                         size_t *out_len);
    // Split: c1 (initiator to responder) and c2 (responder to initiator) from HKDF(ck, "").
    // ck and the handshake cipher are wiped afterwards; h stays readable.
    int split(cipher_state *c1, cipher_state *c2);
    // Wipes ck and h and drops the key: what a failed handshake leaves.
    void clear();

private:
    cipher c_ = cipher::chachapoly;
    uint8_t ck_[HASH_LEN] = {};
    uint8_t h_[HASH_LEN] = {};
    cipher_state cs_;
};

enum class pattern : uint8_t { NN, NK, XX, IK };

// What a HandshakeState starts from. Key pointers are borrowed for initialize() only (the
// state copies them); NULL means "none".
struct handshake_params {
    pattern pat = pattern::XX;
    cipher cph = cipher::chachapoly;
    bool initiator = true;
    const uint8_t *prologue = nullptr;  // both sides must use the same bytes
    size_t prologue_len = 0;
    // Our static private key (DH_LEN bytes): XX both sides, NK responder, IK both sides.
    const uint8_t *s = nullptr;
    // The peer's static public key known beforehand: NK and IK initiators (key pinning).
    const uint8_t *rs = nullptr;
    // A fixed ephemeral private key instead of a random one. For test vectors only: reusing
    // an ephemeral key destroys the handshake's security.
    const uint8_t *e = nullptr;
};

// One side of one handshake. Usage: initialize(); then, while !is_complete(), call
// write_message() when is_write_turn(), else read_message() with the peer's next message;
// then split() to get the transport ciphers. Any error except a too-small output buffer or
// a too-large payload ends the handshake: every later call gives TRUFLUX_EINVAL.
class handshake_state {
public:
    handshake_state() = default;
    ~handshake_state();
    handshake_state(const handshake_state &) = delete;
    handshake_state &operator=(const handshake_state &) = delete;

    // Initialize: checks that the keys given are exactly those the pattern and role need
    // (a superfluous rs would suggest a pinning that the pattern does not do), derives the
    // public keys and mixes the protocol name, the prologue and the pre-messages.
    int initialize(const handshake_params &p);

    bool is_initiator() const { return initiator_; }
    bool is_write_turn() const;
    bool is_complete() const { return step_ == done; }
    bool has_failed() const { return step_ == failed; }
    // Total size of the next message we write with a payload of payload_len bytes.
    size_t write_size(size_t payload_len) const;

    // WriteMessage: out receives the message (at most MAX_MESSAGE bytes). TRUFLUX_EMSGSIZE
    // for a payload that makes it larger, TRUFLUX_EINVAL for a small out_cap (both leave
    // the state unchanged).
    int write_message(const uint8_t *payload, size_t len, uint8_t *out, size_t out_cap,
                      size_t *out_len);
    // ReadMessage: payload receives the peer's payload. TRUFLUX_EINVAL for a small
    // payload_cap (state unchanged); TRUFLUX_EPROTO or ERR_DECRYPT for a bad message.
    int read_message(const uint8_t *msg, size_t len, uint8_t *payload, size_t payload_cap,
                     size_t *payload_len);

    // Once complete: moves out the transport ciphers (send: ours to the peer; recv: the
    // peer's to us). TRUFLUX_EINVAL before completion or when already taken.
    int split(cipher_state *send, cipher_state *recv);
    // h: the handshake hash once complete (channel binding); the running hash before.
    const uint8_t *handshake_hash() const { return ss_.handshake_hash(); }
    // The peer's static public key once known (a pre-message, or read in the handshake:
    // XX initiator after message 2, XX responder after message 3, IK responder after
    // message 1), for the application's authorisation decision; NULL before.
    const uint8_t *remote_static() const { return has_rs_ ? rs_ : nullptr; }
    // Our static public key, NULL if the pattern uses none.
    const uint8_t *local_static() const { return has_s_ ? s_pub_ : nullptr; }
    const char *protocol_name() const { return name_; }

private:
    enum step_t : uint8_t { idle, running, done, failed };
    int set_failed(int rc);
    int advance();
    void wipe_secrets();
    int dh_mix(const uint8_t *priv, const uint8_t *pub);

    symmetric_state ss_;
    cipher_state send_, recv_;
    pattern pat_ = pattern::NN;
    cipher c_ = cipher::chachapoly;
    bool initiator_ = true;
    bool has_s_ = false, has_e_ = false, has_rs_ = false;
    bool split_taken_ = false;
    step_t step_ = idle;
    uint8_t msg_ = 0;  // index of the next handshake message
    uint8_t s_priv_[DH_LEN] = {}, s_pub_[DH_LEN] = {};
    uint8_t e_priv_[DH_LEN] = {}, e_pub_[DH_LEN] = {};
    uint8_t rs_[DH_LEN] = {}, re_[DH_LEN] = {};
    char name_[40] = {};
};

}  // namespace tfc
