// lib/core: option defaults, range checks, and URL parsing.
#include "core/config.h"

#include <cstdlib>
#include <cstring>

#include <truflux/error.h>

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
}

option_kind option_kind_of(int key) {
    if (option_check(key, 0) != TRUFLUX_ENOTFOUND) return OPT_INT;
    switch (key) {
    default:
        return OPT_UNKNOWN;
    }
}

int option_check_str(int key, const std::string &value) {
    (void)key;
    (void)value;
    return 0;
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
    default:
        return TRUFLUX_ENOTFOUND;
    }
}

config config_from(const tf_options *o) {
    config c;
    if (!o) return c;
    c.strs = std::make_shared<const std::map<int, std::string>>(o->strs);
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
    return c;
}

int url_parse(const char *text, url *out) {
    if (!text) return TRUFLUX_EBADURL;
    const char *sep = strstr(text, "://");
    if (!sep || sep == text) return TRUFLUX_EBADURL;
    out->scheme.assign(text, (size_t)(sep - text));
    const char *h = sep + 3;
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
