// truflux/security.hpp: keys and the vocabulary of the secure layer (truflux/security.h).
//
//   truflux::KeyPair server_keys = truflux::KeyPair::generate();
//   truflux::Options so;
//   so.secure(truflux::Policy::Required).static_key(server_keys.secret());
//   truflux::Options co;
//   co.peer_key(server_keys.public_key());          // NK: the client pins the server
//   std::string text = truflux::to_base64(server_keys.public_key());
#ifndef TRUFLUX_CPP_SECURITY_HPP
#define TRUFLUX_CPP_SECURITY_HPP

#include <truflux/truflux.h>

#include <truflux/error.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace truflux {

enum class Policy : int {
    Off = TRUFLUX_SECURE_OFF,
    Optional = TRUFLUX_SECURE_OPTIONAL,
    Required = TRUFLUX_SECURE_REQUIRED
};

enum class Direction : int {
    Send = TRUFLUX_DIR_SEND,  // what we send (the seed's `secure`)
    Recv = TRUFLUX_DIR_RECV,  // what the peer sends (the seed's `peerSecure`)
    Both = TRUFLUX_DIR_SEND | TRUFLUX_DIR_RECV
};

enum class Pattern : int {
    NN = TRUFLUX_NOISE_NN,
    NK = TRUFLUX_NOISE_NK,
    XX = TRUFLUX_NOISE_XX,
    IK = TRUFLUX_NOISE_IK
};

enum class Cipher : int {
    ChaChaPoly = TRUFLUX_CIPHER_CHACHAPOLY,
    AESGCM = TRUFLUX_CIPHER_AESGCM
};

// An X25519 key, public or private.
using Key = std::array<std::uint8_t, TRUFLUX_KEY_SIZE>;

// One line of base64 (44 characters).
inline std::string to_base64(const Key &k) {
    char text[TRUFLUX_KEY_TEXT_SIZE];
    detail::check(tf_key_encode(k.data(), text));
    return text;
}

// Throws EINVAL for anything but 44 characters of base64 (white space around allowed).
inline Key key_from_base64(std::string_view text) {
    Key k{};
    int rc = tf_key_decode(text.data(), text.size(), k.data());
    if (rc < 0)
        throw error(rc, "not a base64 key");
    return k;
}

// The public key of a private key.
inline Key public_key(const Key &secret) {
    Key pub{};
    detail::check(tf_key_public(secret.data(), pub.data()));
    return pub;
}

// A key pair whose private half is wiped when the object goes. Move-only.
class KeyPair {
public:
    static KeyPair generate() {
        KeyPair kp;
        detail::check(tf_keypair_generate(kp.secret_.data(), kp.public_.data()));
        return kp;
    }
    static KeyPair from_secret(const Key &secret) {
        KeyPair kp;
        kp.secret_ = secret;
        kp.public_ = truflux::public_key(secret);
        return kp;
    }
    ~KeyPair() noexcept { tf_key_wipe(secret_.data(), secret_.size()); }
    KeyPair(KeyPair &&o) noexcept : secret_(o.secret_), public_(o.public_) {
        tf_key_wipe(o.secret_.data(), o.secret_.size());
    }
    KeyPair &operator=(KeyPair &&o) noexcept {
        if (this != &o) {
            secret_ = o.secret_;
            public_ = o.public_;
            tf_key_wipe(o.secret_.data(), o.secret_.size());
        }
        return *this;
    }
    KeyPair(const KeyPair &) = delete;
    KeyPair &operator=(const KeyPair &) = delete;

    const Key &secret() const noexcept { return secret_; }
    const Key &public_key() const noexcept { return public_; }

private:
    KeyPair() = default;
    Key secret_{}, public_{};
};

// What a connection's handshake established (tf_secure_info_t).
struct SecureInfo {
    bool established = false;
    Pattern pattern = Pattern::NN;
    Cipher cipher = Cipher::ChaChaPoly;
    bool has_peer_key = false;
    Key peer_key{};
    Key handshake_hash{};
    std::uint64_t rekeys_sent = 0, rekeys_received = 0;
    std::uint64_t records_sent = 0, records_received = 0;
};

// "mbedtls" or "openssl": the crypto backend the library was built with.
inline std::string crypto_backend() { return tf_crypto_backend(); }

}  // namespace truflux

#endif
