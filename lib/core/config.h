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
};

// Parses "SCHEME://HOST:PORT" ([v6] allowed). Returns 0 or TRUFLUX_EBADURL.
int url_parse(const char *text, url *out);

}  // namespace tfcore
