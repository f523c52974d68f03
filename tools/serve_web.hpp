// tools/serve_web.hpp: the web front of `truflux serve --web` (serve_web.cpp).
#pragma once

#include <string>
#include <utility>

#include <truflux/truflux.h>

#include "args.hpp"

struct evhttp;

namespace tfcli {

// /security.js for the page: `window.truflux_security = {...}`, the browser client's options
// that match serve's secure-layer options (the policy; the server's public key, pinned, when
// it has --key). Throws truflux::error when the key file does not read.
std::string web_security_script(const Args &args);

// True when the build embedded the page and the bundled browser client (it needs esbuild:
// `npm ci` in bindings/js before building).
bool web_page_built();

// An HTTP server on the loop serving the page at / and the truflux server's WebSocket
// endpoint at /truflux. Destroy it before the server and the loop.
class WebFront {
public:
    WebFront() = default;
    ~WebFront();
    WebFront(const WebFront &) = delete;
    WebFront &operator=(const WebFront &) = delete;

    // Listens on host:port (0: a free port). False with `err` set on failure. reuse_port:
    // the socket joins an SO_REUSEPORT group, one front per loop of a server spread over
    // several loops; call it then on the thread of the loop that runs event_base.
    bool start(void *event_base, tf_server_t *server, const std::string &host, int port,
               std::string &err, bool reuse_port = false);
    int port() const { return port_; }
    // Served at /security.js (web_security_script); set before start.
    void set_security(std::string script) { security_ = std::move(script); }
    const std::string &security() const { return security_; }
    static const char *path() { return "/truflux"; }

private:
    evhttp *http_ = nullptr;
    tf_server_t *server_ = nullptr;
    int port_ = 0;
    std::string security_ = "window.truflux_security = {};\n";
};

}  // namespace tfcli
