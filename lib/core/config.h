// lib/core: settings copied from tf_options_t when a server or client is created, and the
// URL parser.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <truflux/options.h>

struct tf_options {
    std::map<int, int64_t> ints;        // every integer key, defaults filled in
    std::map<int, std::string> strs;    // text and binary keys that are set
    ~tf_options();
};

namespace tfcore {

struct config {
    bool nodelay = true;
    uint32_t max_connections = 10000;
    uint32_t max_message = 16u << 20;
    uint32_t handshake_ms = 10000;
    uint32_t idle_ms = 60000;
    uint32_t heartbeat_ms = 20000;
    uint64_t hwm = 4u << 20;
    uint64_t lwm = 1u << 20;
    uint32_t close_ms = 5000;
    bool strict = false;
    bool reconnect = false;
    uint32_t reconnect_min_ms = 100;
    uint32_t reconnect_max_ms = 10000;
    int backlog = 511;
    bool accept_websocket = false;  // TRUFLUX_OPT_ACCEPT_WEBSOCKET
    // File transfer (lib/files): TRUFLUX_OPT_FILE_*.
    uint32_t file_window = 2u << 20;
    uint32_t file_chunk = 64u << 10;
    uint32_t file_max_transfers = 16;
    uint64_t file_max_size = 0;
    uint32_t file_queue = 256u << 10;
    bool file_sync = false;
    bool file_sendfile = true;
    // The secure layer (lib/secure) and TLS: TRUFLUX_OPT_SECURE, _REKEY_*, _TLS_*.
    int secure_policy = 0;
    uint64_t rekey_messages = 0;
    uint64_t rekey_bytes = 1ull << 30;
    uint32_t rekey_ms = 3600000;
    int tls_client_cert = 0;
    bool tls_insecure = false;
    // Text and binary options (paths, key material), shared by every connection's copy.
    std::shared_ptr<const std::map<int, std::string>> strs;

    // A text/binary option, or NULL when not set.
    const std::string *str(int key) const;
};

enum option_kind { OPT_UNKNOWN, OPT_INT, OPT_STR, OPT_BYTES };
// What kind of value a key takes.
option_kind option_kind_of(int key);
// Checks a text value for a key: 0 or TRUFLUX_EINVAL.
int option_check_str(int key, const std::string &value);

// Fills defaults into an options object.
void options_defaults(tf_options *o);
// Range-checks a value for a key: 0, TRUFLUX_EINVAL or TRUFLUX_ENOTFOUND.
int option_check(int key, int64_t value);
// Builds a config from options (NULL: defaults).
config config_from(const tf_options *o);

struct url {
    std::string scheme;  // "tcp"
    std::string host;    // without brackets
    int port = 0;
    std::string path;    // "/..." when the URL has one (WebSocket), else empty
};

// Parses "SCHEME://HOST:PORT[/PATH]" ([v6] allowed). Returns 0 or TRUFLUX_EBADURL.
int url_parse(const char *text, url *out);

}  // namespace tfcore
