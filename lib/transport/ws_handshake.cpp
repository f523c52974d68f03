// lib/transport: the WebSocket opening handshake (see ws_handshake.h).
#include "transport/ws_handshake.h"

#include <cstdio>

#include "transport/ws_sha1.h"

namespace tfx {
namespace ws {

using http::iequals;

upgrade_request request_of(const http::head_parser &h) {
    upgrade_request r;
    r.method = h.method();
    r.target = h.target();
    r.version_minor = h.version_minor();
    r.fields.reserve(h.field_count());
    for (size_t i = 0; i < h.field_count(); i++) r.fields.push_back(h.field_at(i));
    return r;
}

namespace {

const http::field *find(const upgrade_request &r, std::string_view name) {
    for (const http::field &f : r.fields)
        if (iequals(f.name, name)) return &f;
    return nullptr;
}

template <class F>
void each_token(std::string_view v, F &&fn) {
    size_t at = 0;
    while (at <= v.size()) {
        size_t comma = v.find(',', at);
        if (comma == std::string_view::npos) comma = v.size();
        std::string_view t = v.substr(at, comma - at);
        while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
        while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
        if (!t.empty()) fn(t);
        at = comma + 1;
    }
}

bool has_token(const upgrade_request &r, std::string_view name, std::string_view token) {
    bool found = false;
    for (const http::field &f : r.fields)
        if (iequals(f.name, name))
            each_token(f.value, [&](std::string_view t) { found = found || iequals(t, token); });
    return found;
}

int refuse(upgrade_answer *out, int status, const char *why) {
    out->status = status;
    out->why = why;
    out->text = refusal_text(status, why, status == 426);
    return status;
}

}  // namespace

const char *status_text(int status) {
    switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

std::string refusal_text(int status, const char *why, bool version_hint) {
    char head[256];
    std::string body = std::string(why) + "\n";
    snprintf(head, sizeof head,
             "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Type: text/plain\r\n"
             "Content-Length: %zu\r\n%s\r\n",
             status, status_text(status), body.size(),
             version_hint ? "Sec-WebSocket-Version: 13\r\n" : "");
    return head + body;
}

int check_request(const upgrade_request &r, std::string_view path, upgrade_answer *out) {
    if (r.method != "GET") return refuse(out, 405, "a WebSocket upgrade is a GET request");
    if (r.version_minor < 1) return refuse(out, 400, "a WebSocket upgrade needs HTTP/1.1");
    std::string_view p = r.target;
    size_t q = p.find('?');
    if (q != std::string_view::npos) p = p.substr(0, q);
    if (!path.empty() && p != path) return refuse(out, 404, "no WebSocket endpoint at this path");
    if (!find(r, "Host")) return refuse(out, 400, "no Host header");
    if (!has_token(r, "Upgrade", "websocket") || !has_token(r, "Connection", "upgrade"))
        return refuse(out, 426, "this path accepts WebSocket upgrades only");
    const http::field *ver = find(r, "Sec-WebSocket-Version");
    if (!ver || ver->value != "13") return refuse(out, 426, "WebSocket version 13 required");
    const http::field *key = find(r, "Sec-WebSocket-Key");
    std::string raw;
    if (!key || !base64_decode(std::string(key->value), &raw) || raw.size() != 16)
        return refuse(out, 400, "missing or malformed Sec-WebSocket-Key");
    bool offered = false, ours = false;
    for (const http::field &f : r.fields) {
        if (!iequals(f.name, "Sec-WebSocket-Protocol")) continue;
        each_token(f.value, [&](std::string_view t) {
            offered = true;
            ours = ours || t == SUBPROTOCOL;
        });
    }
    if (offered && !ours) return refuse(out, 400, "subprotocol truflux.v1 not offered");
    out->status = 101;
    out->why = "";
    out->text = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Accept: ";
    out->text += accept_key(std::string(key->value));
    out->text += "\r\n";
    if (ours) {
        out->text += "Sec-WebSocket-Protocol: ";
        out->text += SUBPROTOCOL;
        out->text += "\r\n";
    }
    out->text += "\r\n";
    return 101;
}

std::string build_request(std::string_view host, std::string_view target, std::string_view key) {
    std::string s = "GET ";
    s += target.empty() ? std::string_view("/") : target;
    s += " HTTP/1.1\r\nHost: ";
    s += host;
    s += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
    s += key;
    s += "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ";
    s += SUBPROTOCOL;
    s += "\r\n\r\n";
    return s;
}

bool check_response(const http::head_parser &h, std::string_view key, std::string *why) {
    if (h.status() != 101) {
        *why = "HTTP status " + std::to_string(h.status()) + " " + std::string(h.reason()) +
               " instead of 101 Switching Protocols";
        return false;
    }
    if (!h.has_token("Upgrade", "websocket") || !h.has_token("Connection", "upgrade")) {
        *why = "101 answer without Upgrade: websocket and Connection: upgrade";
        return false;
    }
    const http::field *acc = h.find("Sec-WebSocket-Accept");
    if (!acc || acc->value != accept_key(std::string(key))) {
        *why = "wrong Sec-WebSocket-Accept";
        return false;
    }
    if (h.find("Sec-WebSocket-Extensions")) {
        *why = "server chose an extension we did not offer";
        return false;
    }
    const http::field *proto = h.find("Sec-WebSocket-Protocol");
    if (proto && proto->value != SUBPROTOCOL) {
        *why = "server chose a subprotocol we did not offer";
        return false;
    }
    return true;
}

}  // namespace ws
}  // namespace tfx
