// truflux/options.hpp: server and client settings with fluent setters.
#ifndef TRUFLUX_CPP_OPTIONS_HPP
#define TRUFLUX_CPP_OPTIONS_HPP

#include <truflux/truflux.h>

#include <truflux/error.hpp>
#include <truflux/security.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace truflux {

enum class Option : int {
    Nodelay = TRUFLUX_OPT_NODELAY,
    MaxConnections = TRUFLUX_OPT_MAX_CONNECTIONS,
    MaxMessageSize = TRUFLUX_OPT_MAX_MESSAGE_SIZE,
    HandshakeTimeout = TRUFLUX_OPT_HANDSHAKE_TIMEOUT,
    IdleTimeout = TRUFLUX_OPT_IDLE_TIMEOUT,
    Heartbeat = TRUFLUX_OPT_HEARTBEAT,
    SendHwm = TRUFLUX_OPT_SEND_HWM,
    SendLwm = TRUFLUX_OPT_SEND_LWM,
    CloseTimeout = TRUFLUX_OPT_CLOSE_TIMEOUT,
    Strict = TRUFLUX_OPT_STRICT,
    Reconnect = TRUFLUX_OPT_RECONNECT,
    ReconnectMin = TRUFLUX_OPT_RECONNECT_MIN,
    ReconnectMax = TRUFLUX_OPT_RECONNECT_MAX,
    Backlog = TRUFLUX_OPT_BACKLOG,
    AcceptWebsocket = TRUFLUX_OPT_ACCEPT_WEBSOCKET,
    // Files (truflux/file.hpp).
    FileWindow = TRUFLUX_OPT_FILE_WINDOW,
    FileChunk = TRUFLUX_OPT_FILE_CHUNK,
    FileMaxTransfers = TRUFLUX_OPT_FILE_MAX_TRANSFERS,
    FileMaxSize = TRUFLUX_OPT_FILE_MAX_SIZE,
    FileQueue = TRUFLUX_OPT_FILE_QUEUE,
    FileSync = TRUFLUX_OPT_FILE_SYNC,
    FileSendfile = TRUFLUX_OPT_FILE_SENDFILE,
    // The secure layer and TLS (truflux/security.hpp).
    Secure = TRUFLUX_OPT_SECURE,
    SecurePatterns = TRUFLUX_OPT_SECURE_PATTERNS,
    SecureCiphers = TRUFLUX_OPT_SECURE_CIPHERS,
    StaticKey = TRUFLUX_OPT_STATIC_KEY,
    StaticKeyFile = TRUFLUX_OPT_STATIC_KEY_FILE,
    PeerKey = TRUFLUX_OPT_PEER_KEY,
    PeerKeyFile = TRUFLUX_OPT_PEER_KEY_FILE,
    AuthorizedKeysFile = TRUFLUX_OPT_AUTHORIZED_KEYS_FILE,
    RekeyMessages = TRUFLUX_OPT_REKEY_MESSAGES,
    RekeyBytes = TRUFLUX_OPT_REKEY_BYTES,
    RekeyInterval = TRUFLUX_OPT_REKEY_INTERVAL,
    TlsCertFile = TRUFLUX_OPT_TLS_CERT_FILE,
    TlsKeyFile = TRUFLUX_OPT_TLS_KEY_FILE,
    TlsCaFile = TRUFLUX_OPT_TLS_CA_FILE,
    TlsPinSha256 = TRUFLUX_OPT_TLS_PIN_SHA256,
    TlsClientCert = TRUFLUX_OPT_TLS_CLIENT_CERT,
    TlsServerName = TRUFLUX_OPT_TLS_SERVER_NAME,
    TlsInsecure = TRUFLUX_OPT_TLS_INSECURE
};

// Settings read (copied) when a Server or Client is built. Move-only. A default-constructed
// object holds no C handle until the first setter (handle() is then NULL: all defaults).
// Times are milliseconds (0 turns a timeout or interval off), sizes bytes. Setters throw
// EINVAL for a value out of range.
class Options {
public:
    Options() noexcept = default;
    ~Options() noexcept { truflux_options_free(o_); }

    Options(Options &&o) noexcept : o_(std::exchange(o.o_, nullptr)) {}
    Options &operator=(Options &&o) noexcept {
        if (this != &o) {
            truflux_options_free(o_);
            o_ = std::exchange(o.o_, nullptr);
        }
        return *this;
    }
    Options(const Options &) = delete;
    Options &operator=(const Options &) = delete;

    void swap(Options &o) noexcept { std::swap(o_, o.o_); }
    friend void swap(Options &a, Options &b) noexcept { a.swap(b); }

    Options &set(Option key, std::int64_t value) {
        detail::check(tf_options_set_int(ensure(), static_cast<int>(key), value));
        return *this;
    }
    std::int64_t get(Option key) const {
        std::int64_t v = 0;
        if (o_) {
            detail::check(tf_options_get_int(o_, static_cast<int>(key), &v));
            return v;
        }
        Options defaults;
        detail::check(tf_options_get_int(defaults.ensure(), static_cast<int>(key), &v));
        return v;
    }

    Options &nodelay(bool on) { return set(Option::Nodelay, on); }
    Options &max_connections(std::int64_t n) { return set(Option::MaxConnections, n); }
    Options &max_message_size(std::int64_t bytes) { return set(Option::MaxMessageSize, bytes); }
    Options &handshake_timeout(std::int64_t ms) { return set(Option::HandshakeTimeout, ms); }
    Options &idle_timeout(std::int64_t ms) { return set(Option::IdleTimeout, ms); }
    Options &heartbeat(std::int64_t ms) { return set(Option::Heartbeat, ms); }
    Options &send_hwm(std::int64_t bytes) { return set(Option::SendHwm, bytes); }
    Options &send_lwm(std::int64_t bytes) { return set(Option::SendLwm, bytes); }
    Options &close_timeout(std::int64_t ms) { return set(Option::CloseTimeout, ms); }
    Options &strict(bool on) { return set(Option::Strict, on); }
    // tcp:// listeners also accept WebSocket clients on the same port.
    Options &accept_websocket(bool on) { return set(Option::AcceptWebsocket, on); }
    Options &reconnect(bool on) { return set(Option::Reconnect, on); }
    Options &reconnect(bool on, std::int64_t min_ms, std::int64_t max_ms) {
        set(Option::Reconnect, on);
        set(Option::ReconnectMin, min_ms);
        return set(Option::ReconnectMax, max_ms);
    }
    Options &backlog(std::int64_t n) { return set(Option::Backlog, n); }

    // Text and binary options (paths, lists, key material; binary values are wiped when
    // replaced or freed). Throw EINVAL for a value the key refuses, ENOTFOUND for an
    // integer key.
    Options &set(Option key, std::string_view text) {
        std::string v(text);
        detail::check(tf_options_set_str(ensure(), static_cast<int>(key), v.c_str()));
        return *this;
    }
    Options &set_bytes(Option key, const void *data, std::size_t len) {
        detail::check(tf_options_set_bytes(ensure(), static_cast<int>(key), data, len));
        return *this;
    }

    // The secure layer: docs/SECURITY.md says what each setting protects against.
    Options &secure(Policy p) { return set(Option::Secure, static_cast<int>(p)); }
    Options &secure_patterns(std::string_view list) { return set(Option::SecurePatterns, list); }
    Options &secure_ciphers(std::string_view list) { return set(Option::SecureCiphers, list); }
    Options &static_key(const Key &secret) {
        return set_bytes(Option::StaticKey, secret.data(), secret.size());
    }
    Options &static_key_file(std::string_view path) { return set(Option::StaticKeyFile, path); }
    // Client: the server's public key, pinned (implies Policy::Required).
    Options &peer_key(const Key &pub) { return set_bytes(Option::PeerKey, pub.data(), pub.size()); }
    Options &peer_key(std::string_view base64) {
        return set_bytes(Option::PeerKey, base64.data(), base64.size());
    }
    Options &peer_key_file(std::string_view path) { return set(Option::PeerKeyFile, path); }
    Options &authorized_keys_file(std::string_view path) {
        return set(Option::AuthorizedKeysFile, path);
    }
    // Rekey our direction after this many frames, plaintext bytes, or milliseconds (0: off).
    Options &rekey(std::int64_t messages, std::int64_t bytes, std::int64_t interval_ms) {
        set(Option::RekeyMessages, messages);
        set(Option::RekeyBytes, bytes);
        return set(Option::RekeyInterval, interval_ms);
    }
    // TLS (tls:// URLs).
    Options &tls_cert(std::string_view cert_file, std::string_view key_file) {
        set(Option::TlsCertFile, cert_file);
        return set(Option::TlsKeyFile, key_file);
    }
    Options &tls_ca_file(std::string_view path) { return set(Option::TlsCaFile, path); }
    Options &tls_pin_sha256(std::string_view hex) { return set(Option::TlsPinSha256, hex); }
    // Server: 0 no client certificate, 1 verify one if sent, 2 require one.
    Options &tls_client_cert(int mode) { return set(Option::TlsClientCert, mode); }
    Options &tls_server_name(std::string_view name) { return set(Option::TlsServerName, name); }
    Options &tls_insecure(bool on) { return set(Option::TlsInsecure, on); }

    // NULL while every option is at its default.
    const tf_options_t *handle() const noexcept { return o_; }
    tf_options_t *handle() noexcept { return o_; }

private:
    tf_options_t *ensure() {
        if (!o_) {
            o_ = truflux_options_new();
            if (!o_)
                throw error(TRUFLUX_ENOMEM, "truflux_options_new");
        }
        return o_;
    }

    tf_options_t *o_ = nullptr;
};

}  // namespace truflux

#endif
