// tools/serve_web.hpp: the web front of `truflux serve --web` (serve_web.cpp).
#pragma once

#include <string>

#include <truflux/truflux.h>

struct evhttp;

namespace tfcli {

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

    // Listens on host:port (0: a free port). False with `err` set on failure.
    bool start(void *event_base, tf_server_t *server, const std::string &host, int port,
               std::string &err);
    int port() const { return port_; }
    static const char *path() { return "/truflux"; }

private:
    evhttp *http_ = nullptr;
    tf_server_t *server_ = nullptr;
    int port_ = 0;
};

}  // namespace tfcli
