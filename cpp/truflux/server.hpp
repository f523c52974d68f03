// truflux/server.hpp: a server accepting connections on one or more addresses.
#ifndef TRUFLUX_CPP_SERVER_HPP
#define TRUFLUX_CPP_SERVER_HPP

#include <truflux/truflux.h>

#include <truflux/conn.hpp>
#include <truflux/endpoint.hpp>
#include <truflux/error.hpp>
#include <truflux/loop.hpp>
#include <truflux/message.hpp>
#include <truflux/options.hpp>
#include <truflux/protocol.hpp>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace truflux {

// A server. Move-only. Build and configure it on the loop's thread or before the loop runs;
// destroy it before its Loop. Destroying it closes every connection at once (no on_close),
// and is safe from inside its own handlers.
class Server : public detail::handler_setters<Server> {
public:
    // Throws EINVAL (a moved-from loop or protocol) or ENOMEM, with the library's detail.
    Server(Loop &loop, const Protocol &protocol, const Options &options = Options()) {
        tf_loop_t *l = loop.h();
        std::unique_ptr<detail::Endpoint> ep(
            new detail::Endpoint(loop.st_.get(), protocol.handlers_, protocol.p_));
        s_ = truflux_server_new(l, protocol.p_, options.handle());
        if (!s_)
            throw error::last();
        tf_callbacks_t cbs = ep->callbacks();
        int rc = tf_server_set_callbacks(s_, &cbs);
        if (rc < 0) {
            truflux_server_free(std::exchange(s_, nullptr));
            throw error(rc, "tf_server_set_callbacks");
        }
        ep_ = ep.release();
    }

    ~Server() noexcept { destroy(); }

    Server(Server &&o) noexcept
        : s_(std::exchange(o.s_, nullptr)), ep_(std::exchange(o.ep_, nullptr)) {}
    Server &operator=(Server &&o) noexcept {
        if (this != &o) {
            destroy();
            s_ = std::exchange(o.s_, nullptr);
            ep_ = std::exchange(o.ep_, nullptr);
        }
        return *this;
    }
    Server(const Server &) = delete;
    Server &operator=(const Server &) = delete;

    void swap(Server &o) noexcept {
        std::swap(s_, o.s_);
        std::swap(ep_, o.ep_);
    }
    friend void swap(Server &a, Server &b) noexcept { a.swap(b); }

    // Also accepts on `loop` (e.g. one loop per core; tf_server_add_loop): call before
    // listen(); the handlers and the security and file settings, set before or after, apply
    // on every loop. Every loop must run and outlive the server; handlers run on the thread of the loop that accepted
    // the connection, so they may run at the same time on several threads. Throws EINVAL
    // (the server's own loop, a loop already added, after listen()) or ENOMEM.
    Server &add_loop(Loop &loop) {
        detail::check_call(tf_server_add_loop(h(), loop.h()));
        return *this;
    }

    // Listens on "tcp://HOST:PORT" (PORT 0 picks a free port); may be called again for more
    // addresses. Throws EBADURL, ERESOLVE, EADDRINUSE, EIO, ECLOSED.
    Server &listen(std::string_view url) {
        detail::check_call(tf_server_listen(h(), std::string(url).c_str()));
        return *this;
    }

    // The port of the first listening socket (0 if not listening).
    int port() const { return tf_server_port(h()); }

    // Open connections (after their hello). Any thread.
    std::size_t count() const { return tf_server_count(h()); }

    // Counters since creation: accepted, refused over the limit, limit violations, traffic
    // (tf_server_stats_t, truflux/server.h). Any thread.
    tf_server_stats_t stats() const {
        tf_server_stats_t s{};
        s.size = sizeof s;
        detail::check_call(tf_server_stats(h(), &s));
        return s;
    }

    // Sends one message to every open connection except `exclude`. Any thread. Returns the
    // number of connections it was queued to (0 when called off the loop thread: it is then
    // queued for the loop). Connections above their high-water mark are skipped. Throws as
    // ConnectionRef::send does (ENOTFOUND, ESCHEMA, ...).
    int broadcast(std::uint32_t id, const Payload &p = Payload(),
                  std::initializer_list<ConnectionRef> exclude = {}) {
        return broadcast_range(id, p, exclude.begin(), exclude.end());
    }
    int broadcast(std::uint32_t id, const Payload &p, const std::vector<ConnectionRef> &exclude) {
        return broadcast_range(id, p, exclude.begin(), exclude.end());
    }
    int broadcast(std::string_view name, const Payload &p = Payload(),
                  std::initializer_list<ConnectionRef> exclude = {}) {
        return broadcast(id_of(name), p, exclude);
    }
    int broadcast(std::string_view name, const Payload &p,
                  const std::vector<ConnectionRef> &exclude) {
        return broadcast(id_of(name), p, exclude);
    }
    int broadcast(const char *name, const Payload &p = Payload(),
                  std::initializer_list<ConnectionRef> exclude = {}) {
        return broadcast(id_of(name), p, exclude);
    }

    // Stops listening and closes every connection (CLOSE with TRUFLUX_ESHUTDOWN when
    // graceful); each gets on_close, then on_close with an empty ConnectionRef reports the
    // server done. Any thread. Returns false if it was already closing.
    bool close(CloseMode mode = CloseMode::Graceful) {
        int rc = tf_server_close(h(), static_cast<int>(mode));
        if (rc == TRUFLUX_ECLOSED)
            return false;
        detail::check(rc);
        return true;
    }

    // Serves WebSocket upgrades at `path` of a libevent evhttp (a struct evhttp * on this
    // server's loop) while its other paths keep serving HTTP (truflux/http.h). Unbind, or
    // destroy the server, before evhttp_free. Throws EEXIST (the path has a handler), EINVAL.
    Server &bind_http(void *evhttp, const std::string &path = "/") {
        detail::check_call(tf_server_bind_http(h(), evhttp, path.c_str()));
        return *this;
    }
    // Removes that binding; throws ENOTFOUND when there is none.
    Server &unbind_http(void *evhttp, const std::string &path = "/") {
        detail::check_call(tf_server_unbind_http(h(), evhttp, path.c_str()));
        return *this;
    }

    // Decides which client keys (XX, IK) are authorised; a refused client gets EAUTH and no
    // application data flows. Set it before listening. Throws ENOTSUP when the server's
    // secure layer is off, EINVAL when it has no static key.
    Server &authorize(AuthorizeHandler f) {
        h();
        ep_->authorize = std::move(f);
        detail::check_call(tf_server_set_authorizer(
            s_, ep_->authorize ? &detail::Endpoint::authorize_cb : nullptr, ep_));
        return *this;
    }

    // Adopts a connected socket as a new client connection. Takes ownership of fd on
    // success; the caller keeps it when this throws (EINVAL, ELIMIT, ECLOSED).
    void adopt(int fd) { detail::check_call(tf_server_adopt(h(), fd)); }

    tf_server_t *handle() const noexcept { return s_; }
    explicit operator bool() const noexcept { return s_ != nullptr; }

private:
    friend class detail::handler_setters<Server>;

    tf_server_t *h() const {
        if (!s_)
            throw error(TRUFLUX_EINVAL, "the server was moved from");
        return s_;
    }

    detail::Endpoint &endpoint() {
        h();
        return *ep_;
    }

    std::uint32_t id_of(std::string_view name) const {
        h();
        std::int64_t id = tf_protocol_id(ep_->protocol(), std::string(name).c_str());
        if (id < 0)
            throw error(static_cast<int>(id), "message " + std::string(name));
        return static_cast<std::uint32_t>(id);
    }

    template <class It>
    int broadcast_range(std::uint32_t id, const Payload &p, It first, It last) {
        detail::conn_array ex(first, last);
        return detail::check(tf_server_broadcast(h(), id, static_cast<int>(p.type), p.data,
                                                 p.size, ex.data(), ex.size()));
    }

    void destroy() noexcept {
        if (s_)
            truflux_server_free(std::exchange(s_, nullptr));
        detail::Endpoint::dispose(std::exchange(ep_, nullptr));
    }

    tf_server_t *s_ = nullptr;
    detail::Endpoint *ep_ = nullptr;
};

}  // namespace truflux

#endif
