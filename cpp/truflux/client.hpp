// truflux/client.hpp: a client holding one connection to a server.
#ifndef TRUFLUX_CPP_CLIENT_HPP
#define TRUFLUX_CPP_CLIENT_HPP

#include <truflux/truflux.h>

#include <truflux/conn.hpp>
#include <truflux/endpoint.hpp>
#include <truflux/error.hpp>
#include <truflux/loop.hpp>
#include <truflux/message.hpp>
#include <truflux/options.hpp>
#include <truflux/protocol.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace truflux {

// A client. Move-only. Build and configure it on the loop's thread or before the loop runs;
// destroy it before its Loop. Destroying it closes the connection at once (no on_close), and
// is safe from inside its own handlers.
class Client : public detail::handler_setters<Client> {
public:
    // Throws EINVAL (a moved-from loop or protocol) or ENOMEM, with the library's detail.
    Client(Loop &loop, const Protocol &protocol, const Options &options = Options()) {
        tf_loop_t *l = loop.h();
        std::unique_ptr<detail::Endpoint> ep(
            new detail::Endpoint(loop.st_.get(), protocol.handlers_, protocol.p_));
        c_ = truflux_client_new(l, protocol.p_, options.handle());
        if (!c_)
            throw error::last();
        tf_callbacks_t cbs = ep->callbacks();
        int rc = tf_client_set_callbacks(c_, &cbs);
        if (rc < 0) {
            truflux_client_free(std::exchange(c_, nullptr));
            throw error(rc, "tf_client_set_callbacks");
        }
        ep_ = ep.release();
    }

    ~Client() noexcept { destroy(); }

    Client(Client &&o) noexcept
        : c_(std::exchange(o.c_, nullptr)), ep_(std::exchange(o.ep_, nullptr)) {}
    Client &operator=(Client &&o) noexcept {
        if (this != &o) {
            destroy();
            c_ = std::exchange(o.c_, nullptr);
            ep_ = std::exchange(o.ep_, nullptr);
        }
        return *this;
    }
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;

    void swap(Client &o) noexcept {
        std::swap(c_, o.c_);
        std::swap(ep_, o.ep_);
    }
    friend void swap(Client &a, Client &b) noexcept { a.swap(b); }

    // Starts connecting to "tcp://HOST:PORT"; on_open, or on_error then on_close, follow (a
    // refused connection or an unresolvable host is reported there). Any thread. Throws
    // EBADURL, EBUSY (already connecting or connected), ECLOSED.
    Client &connect(std::string_view url) {
        detail::check_call(tf_client_connect(h(), std::string(url).c_str()));
        return *this;
    }

    // Sends on the client's connection; queued until the hello when not open yet. Any
    // thread. Returns false for TRUFLUX_EAGAIN (on_drain follows); throws for every other
    // failure (ECLOSED before connect, ENOTFOUND, ...).
    bool send(const char *name, const Payload &p = Payload()) {
        return detail::send_result(
            tf_client_send_name(h(), name, static_cast<int>(p.type), p.data, p.size));
    }
    bool send(const std::string &name, const Payload &p = Payload()) {
        return send(name.c_str(), p);
    }
    bool send(std::string_view name, const Payload &p = Payload()) {
        return send(std::string(name), p);
    }
    bool send(std::uint32_t id, const Payload &p = Payload()) {
        return detail::send_result(
            tf_client_send(h(), id, static_cast<int>(p.type), p.data, p.size));
    }

    // Closes the connection and stops reconnecting. Any thread. Returns false if it was
    // already closing (or never connected).
    bool close(CloseMode mode = CloseMode::Graceful) {
        int rc = tf_client_close(h(), static_cast<int>(mode));
        if (rc == TRUFLUX_ECLOSED)
            return false;
        detail::check(rc);
        return true;
    }

    // The client's connection (same identity across reconnects); empty before connect().
    ConnectionRef conn() const { return ConnectionRef(tf_client_conn(h())); }

    tf_client_t *handle() const noexcept { return c_; }
    explicit operator bool() const noexcept { return c_ != nullptr; }

private:
    friend class detail::handler_setters<Client>;

    tf_client_t *h() const {
        if (!c_)
            throw error(TRUFLUX_EINVAL, "the client was moved from");
        return c_;
    }

    detail::Endpoint &endpoint() {
        h();
        return *ep_;
    }

    void destroy() noexcept {
        if (c_)
            truflux_client_free(std::exchange(c_, nullptr));
        detail::Endpoint::dispose(std::exchange(ep_, nullptr));
    }

    tf_client_t *c_ = nullptr;
    detail::Endpoint *ep_ = nullptr;
};

}  // namespace truflux

#endif
