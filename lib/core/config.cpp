// lib/core: option defaults, range checks, and URL parsing.
#include "core/config.h"

#include <cstdlib>
#include <cstring>

#include <truflux/error.h>
#include <truflux/security.h>

#include "crypto/backend.h"
#include "crypto/names.h"

namespace tfcore {

void options_defaults(tf_options *o) {
    config d;
    o->ints[TRUFLUX_OPT_NODELAY] = d.nodelay;
    o->ints[TRUFLUX_OPT_MAX_CONNECTIONS] = d.max_connections;
    o->ints[TRUFLUX_OPT_MAX_MESSAGE_SIZE] = d.max_message;
    o->ints[TRUFLUX_OPT_HANDSHAKE_TIMEOUT] = d.handshake_ms;
    o->ints[TRUFLUX_OPT_IDLE_TIMEOUT] = d.idle_ms;
    o->ints[TRUFLUX_OPT_HEARTBEAT] = d.heartbeat_ms;
    o->ints[TRUFLUX_OPT_SEND_HWM] = (int64_t)d.hwm;
    o->ints[TRUFLUX_OPT_SEND_LWM] = (int64_t)d.lwm;
    o->ints[TRUFLUX_OPT_CLOSE_TIMEOUT] = d.close_ms;
    o->ints[TRUFLUX_OPT_STRICT] = d.strict;
    o->ints[TRUFLUX_OPT_RECONNECT] = d.reconnect;
    o->ints[TRUFLUX_OPT_RECONNECT_MIN] = d.reconnect_min_ms;
    o->ints[TRUFLUX_OPT_RECONNECT_MAX] = d.reconnect_max_ms;
    o->ints[TRUFLUX_OPT_BACKLOG] = d.backlog;
    o->ints[TRUFLUX_OPT_ACCEPT_WEBSOCKET] = d.accept_websocket;
    o->ints[TRUFLUX_OPT_FILE_WINDOW] = d.file_window;
    o->ints[TRUFLUX_OPT_FILE_CHUNK] = d.file_chunk;
    o->ints[TRUFLUX_OPT_FILE_MAX_TRANSFERS] = d.file_max_transfers;
    o->ints[TRUFLUX_OPT_FILE_MAX_SIZE] = (int64_t)d.file_max_size;
    o->ints[TRUFLUX_OPT_FILE_QUEUE] = d.file_queue;
    o->ints[TRUFLUX_OPT_FILE_SYNC] = d.file_sync;
    o->ints[TRUFLUX_OPT_FILE_SENDFILE] = d.file_sendfile;
    o->ints[TRUFLUX_OPT_SECURE] = d.secure_policy;
    o->ints[TRUFLUX_OPT_REKEY_MESSAGES] = (int64_t)d.rekey_messages;
    o->ints[TRUFLUX_OPT_REKEY_BYTES] = (int64_t)d.rekey_bytes;
    o->ints[TRUFLUX_OPT_REKEY_INTERVAL] = d.rekey_ms;
    o->ints[TRUFLUX_OPT_TLS_CLIENT_CERT] = d.tls_client_cert;
    o->ints[TRUFLUX_OPT_TLS_INSECURE] = d.tls_insecure;
}

option_kind option_kind_of(int key) {
    if (option_check(key, 0) != TRUFLUX_ENOTFOUND) return OPT_INT;
    switch (key) {
    case TRUFLUX_OPT_SECURE_PATTERNS:
    case TRUFLUX_OPT_SECURE_CIPHERS:
    case TRUFLUX_OPT_STATIC_KEY_FILE:
    case TRUFLUX_OPT_PEER_KEY_FILE:
    case TRUFLUX_OPT_AUTHORIZED_KEYS_FILE:
    case TRUFLUX_OPT_TLS_CERT_FILE:
    case TRUFLUX_OPT_TLS_KEY_FILE:
    case TRUFLUX_OPT_TLS_CA_FILE:
    case TRUFLUX_OPT_TLS_PIN_SHA256:
    case TRUFLUX_OPT_TLS_SERVER_NAME:
        return OPT_STR;
    case TRUFLUX_OPT_STATIC_KEY:
    case TRUFLUX_OPT_PEER_KEY:
        return OPT_BYTES;
    default:
        return OPT_UNKNOWN;
    }
}

int option_check_str(int key, const std::string &value) {
    switch (key) {
    case TRUFLUX_OPT_SECURE_PATTERNS:
        return tfc::parse_patterns(value, nullptr) == 0 ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_SECURE_CIPHERS:
        return tfc::parse_ciphers(value, nullptr) == 0 ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_TLS_PIN_SHA256:
        return tfc::parse_sha256_hex(value, nullptr) == 0 ? 0 : TRUFLUX_EINVAL;
    default:
        return value.find('\0') == std::string::npos ? 0 : TRUFLUX_EINVAL;
    }
}

const std::string *config::str(int key) const {
    if (!strs) return nullptr;
    auto it = strs->find(key);
    return it == strs->end() ? nullptr : &it->second;
}

int option_check(int key, int64_t value) {
    const int64_t day_ms = 86400000;
    switch (key) {
    case TRUFLUX_OPT_NODELAY:
    case TRUFLUX_OPT_STRICT:
    case TRUFLUX_OPT_RECONNECT:
        return (value == 0 || value == 1) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_MAX_CONNECTIONS:
        return (value >= 1 && value <= 10000000) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_MAX_MESSAGE_SIZE:
        return (value >= 1 && value <= 0x7FFFFFFF) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_HANDSHAKE_TIMEOUT:
    case TRUFLUX_OPT_IDLE_TIMEOUT:
    case TRUFLUX_OPT_HEARTBEAT:
    case TRUFLUX_OPT_CLOSE_TIMEOUT:
        return (value >= 0 && value <= day_ms) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_RECONNECT_MIN:
    case TRUFLUX_OPT_RECONNECT_MAX:
        return (value >= 1 && value <= day_ms) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_SEND_HWM:
    case TRUFLUX_OPT_SEND_LWM:
        return (value >= 0 && value <= ((int64_t)1 << 40)) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_BACKLOG:
        return (value >= 1 && value <= 65535) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_ACCEPT_WEBSOCKET:
        return (value == 0 || value == 1) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_FILE_WINDOW:
        return (value >= (64 << 10) && value <= (1 << 30)) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_FILE_CHUNK:
        return (value >= 512 && value <= 65536) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_FILE_MAX_TRANSFERS:
        return (value >= 1 && value <= 1024) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_FILE_MAX_SIZE:
        return (value >= 0 && value <= ((int64_t)1 << 62)) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_FILE_QUEUE:
        return (value >= (64 << 10) && value <= (64 << 20)) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_FILE_SYNC:
    case TRUFLUX_OPT_FILE_SENDFILE:
        return (value == 0 || value == 1) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_SECURE:
        return (value >= TRUFLUX_SECURE_OFF && value <= TRUFLUX_SECURE_REQUIRED) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_REKEY_MESSAGES:
    case TRUFLUX_OPT_REKEY_BYTES:
        return (value >= 0 && value <= ((int64_t)1 << 50)) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_REKEY_INTERVAL:
        return (value >= 0 && value <= 7 * day_ms) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_TLS_CLIENT_CERT:
        return (value >= 0 && value <= 2) ? 0 : TRUFLUX_EINVAL;
    case TRUFLUX_OPT_TLS_INSECURE:
        return (value == 0 || value == 1) ? 0 : TRUFLUX_EINVAL;
    default:
        return TRUFLUX_ENOTFOUND;
    }
}

config config_from(const tf_options *o) {
    config c;
    if (!o) return c;
    // Key material may be among them: the copy is wiped when the last user lets go.
    c.strs = std::shared_ptr<const std::map<int, std::string>>(
        new std::map<int, std::string>(o->strs), [](const std::map<int, std::string> *m) {
            for (auto &kv : *m) tfc::wipe(const_cast<char *>(kv.second.data()), kv.second.size());
            delete m;
        });
    c.nodelay = o->ints.at(TRUFLUX_OPT_NODELAY) != 0;
    c.max_connections = (uint32_t)o->ints.at(TRUFLUX_OPT_MAX_CONNECTIONS);
    c.max_message = (uint32_t)o->ints.at(TRUFLUX_OPT_MAX_MESSAGE_SIZE);
    c.handshake_ms = (uint32_t)o->ints.at(TRUFLUX_OPT_HANDSHAKE_TIMEOUT);
    c.idle_ms = (uint32_t)o->ints.at(TRUFLUX_OPT_IDLE_TIMEOUT);
    c.heartbeat_ms = (uint32_t)o->ints.at(TRUFLUX_OPT_HEARTBEAT);
    c.hwm = (uint64_t)o->ints.at(TRUFLUX_OPT_SEND_HWM);
    c.lwm = (uint64_t)o->ints.at(TRUFLUX_OPT_SEND_LWM);
    if (c.lwm > c.hwm) c.lwm = c.hwm;
    c.close_ms = (uint32_t)o->ints.at(TRUFLUX_OPT_CLOSE_TIMEOUT);
    c.strict = o->ints.at(TRUFLUX_OPT_STRICT) != 0;
    c.reconnect = o->ints.at(TRUFLUX_OPT_RECONNECT) != 0;
    c.reconnect_min_ms = (uint32_t)o->ints.at(TRUFLUX_OPT_RECONNECT_MIN);
    c.reconnect_max_ms = (uint32_t)o->ints.at(TRUFLUX_OPT_RECONNECT_MAX);
    if (c.reconnect_max_ms < c.reconnect_min_ms) c.reconnect_max_ms = c.reconnect_min_ms;
    c.backlog = (int)o->ints.at(TRUFLUX_OPT_BACKLOG);
    c.accept_websocket = o->ints.at(TRUFLUX_OPT_ACCEPT_WEBSOCKET) != 0;
    c.file_window = (uint32_t)o->ints.at(TRUFLUX_OPT_FILE_WINDOW);
    c.file_chunk = (uint32_t)o->ints.at(TRUFLUX_OPT_FILE_CHUNK);
    c.file_max_transfers = (uint32_t)o->ints.at(TRUFLUX_OPT_FILE_MAX_TRANSFERS);
    c.file_max_size = (uint64_t)o->ints.at(TRUFLUX_OPT_FILE_MAX_SIZE);
    c.file_queue = (uint32_t)o->ints.at(TRUFLUX_OPT_FILE_QUEUE);
    c.file_sync = o->ints.at(TRUFLUX_OPT_FILE_SYNC) != 0;
    c.file_sendfile = o->ints.at(TRUFLUX_OPT_FILE_SENDFILE) != 0;
    c.secure_policy = (int)o->ints.at(TRUFLUX_OPT_SECURE);
    c.rekey_messages = (uint64_t)o->ints.at(TRUFLUX_OPT_REKEY_MESSAGES);
    c.rekey_bytes = (uint64_t)o->ints.at(TRUFLUX_OPT_REKEY_BYTES);
    c.rekey_ms = (uint32_t)o->ints.at(TRUFLUX_OPT_REKEY_INTERVAL);
    c.tls_client_cert = (int)o->ints.at(TRUFLUX_OPT_TLS_CLIENT_CERT);
    c.tls_insecure = o->ints.at(TRUFLUX_OPT_TLS_INSECURE) != 0;
    return c;
}

int url_parse(const char *text, url *out) {
    if (!text) return TRUFLUX_EBADURL;
    const char *sep = strstr(text, "://");
    if (!sep || sep == text) return TRUFLUX_EBADURL;
    out->scheme.assign(text, (size_t)(sep - text));
    const char *h = sep + 3;
    // An optional path ("/..." after the port) is kept for the transports that use one.
    const char *slash = strchr(h, '/');
    out->path.assign(slash ? slash : "");
    if (out->path.size() > 2048) return TRUFLUX_EBADURL;
    for (char ch : out->path)
        if ((unsigned char)ch <= 0x20 || (unsigned char)ch >= 0x7F) return TRUFLUX_EBADURL;
    std::string authority(h, slash ? (size_t)(slash - h) : strlen(h));
    h = authority.c_str();
    const char *port_colon;
    if (*h == '[') {
        const char *close = strchr(h, ']');
        if (!close || close[1] != ':') return TRUFLUX_EBADURL;
        out->host.assign(h + 1, (size_t)(close - h - 1));
        port_colon = close + 1;
    } else {
        port_colon = strrchr(h, ':');
        if (!port_colon) return TRUFLUX_EBADURL;
        out->host.assign(h, (size_t)(port_colon - h));
        if (out->host.find(':') != std::string::npos) return TRUFLUX_EBADURL;
    }
    if (out->host.empty() || out->host.size() > 253) return TRUFLUX_EBADURL;
    const char *p = port_colon + 1;
    if (*p == '\0' || strlen(p) > 5) return TRUFLUX_EBADURL;
    long port = 0;
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9') return TRUFLUX_EBADURL;
        port = port * 10 + (*q - '0');
    }
    if (port > 65535) return TRUFLUX_EBADURL;
    out->port = (int)port;
    for (char ch : out->scheme)
        if (!(ch >= 'a' && ch <= 'z') && !(ch >= '0' && ch <= '9') && ch != '+')
            return TRUFLUX_EBADURL;
    return 0;
}

}  // namespace tfcore
