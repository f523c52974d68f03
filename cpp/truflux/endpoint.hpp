// truflux/endpoint.hpp: what a Server and a Client share: their std::function handlers, the
// C callback trampolines that call them, and the rule that no exception crosses the C ABI.
#ifndef TRUFLUX_CPP_ENDPOINT_HPP
#define TRUFLUX_CPP_ENDPOINT_HPP

#include <truflux/truflux.h>

#include <truflux/conn.hpp>
#include <truflux/error.hpp>
#include <truflux/loop.hpp>
#include <truflux/message.hpp>
#include <truflux/protocol.hpp>

#include <atomic>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace truflux {

// The connection is ready (client: connected; server: a new client).
using OpenHandler = std::function<void(ConnectionRef)>;
// The connection ended: reason 0 after a graceful close, else the TRUFLUX_E* code that ended
// it; remote is true when the peer sent the close. For a server, an empty ConnectionRef means
// the server itself finished closing (Server::close).
using CloseHandler = std::function<void(ConnectionRef, int reason, bool remote)>;
// An error with a human-readable detail; the ConnectionRef may be empty. Also receives, with
// code TRUFLUX_EINTERNAL and a detail starting "handler threw: ", every exception that
// escaped another handler of the same server or client.
using ErrorHandler = std::function<void(ConnectionRef, int code, std::string_view detail)>;
// The send queue fell to the low-water mark after a send returned false.
using DrainHandler = std::function<void(ConnectionRef)>;
// The secure handshake finished (before on_open when the open waits for it).
using SecureHandler = std::function<void(ConnectionRef)>;
// The connection could not be secured: ENOCIPHER, EPIN, EAUTH, ENOTSECURE, EHANDSHAKE, ...
using SecureFailHandler = std::function<void(ConnectionRef, int code, std::string_view detail)>;
// Server: whether a client's static key (XX, IK) is authorised. Runs during the handshake;
// an exception refuses the key (and goes to on_error).
using AuthorizeHandler = std::function<bool(ConnectionRef, const Key &)>;

namespace detail {

// Heap-allocated per Server/Client (its address is the C callbacks' user pointer and must
// survive moves). Destroyed through dispose(): if that happens inside one of its own
// callbacks, deletion waits until the outermost callback returns.
class Endpoint {
public:
    Endpoint(LoopState *loop, std::shared_ptr<Handlers> handlers, tf_protocol_t *proto) noexcept
        : loop_(loop), handlers_(std::move(handlers)), proto_(proto) {}

    OpenHandler on_open;
    MessageHandler on_message;
    CloseHandler on_close;
    ErrorHandler on_error;
    DrainHandler on_drain;
    SecureHandler on_secure;
    SecureFailHandler on_secure_fail;
    AuthorizeHandler authorize;

    // The C protocol, valid while the C server/client lives (it holds a reference), even
    // after the Protocol object that created it is gone.
    tf_protocol_t *protocol() const noexcept { return proto_; }

    tf_callbacks_t callbacks() noexcept {
        tf_callbacks_t c = TRUFLUX_CALLBACKS_INIT;
        c.user = this;
        c.on_open = &Endpoint::open_cb;
        c.on_message = &Endpoint::message_cb;
        c.on_close = &Endpoint::close_cb;
        c.on_error = &Endpoint::error_cb;
        c.on_drain = &Endpoint::drain_cb;
        c.on_secure = &Endpoint::secure_cb;
        c.on_secure_fail = &Endpoint::secure_fail_cb;
        return c;
    }

    // The C authorisation callback; its user pointer is this Endpoint.
    static int authorize_cb(void *user, tf_conn_t *c, const std::uint8_t key[32]) noexcept {
        Endpoint *e = self(user);
        Scope scope(e);
        if (!e->authorize)
            return 1;
        bool ok = false;
        e->guarded(c, [&] {
            Key k;
            std::copy(key, key + 32, k.begin());
            ok = e->authorize(ConnectionRef(c), k);
        });
        return ok ? 1 : 0;
    }

    static void dispose(Endpoint *e) noexcept {
        if (!e)
            return;
        if (e->depth_ > 0)
            e->doomed_ = true;
        else
            delete e;
    }

private:
    // Counts nested callbacks so that dispose() from inside one defers the delete.
    class Scope {
    public:
        explicit Scope(Endpoint *e) noexcept : e_(e) { ++e_->depth_; }
        ~Scope() {
            if (--e_->depth_ == 0 && e_->doomed_)
                delete e_;
        }
        Scope(const Scope &) = delete;
        Scope &operator=(const Scope &) = delete;

    private:
        Endpoint *e_;
    };

    static Endpoint *self(void *user) noexcept { return static_cast<Endpoint *>(user); }

    // Runs a handler; whatever it throws goes to on_error (or, without one, to the loop,
    // which rethrows it from run/run_once).
    template <class F>
    void guarded(tf_conn_t *c, F &&f) noexcept {
        try {
            f();
        } catch (const std::exception &ex) {
            report(c, ex.what());
        } catch (...) {
            report(c, "unknown exception");
        }
    }

    // Called inside a catch block only.
    void report(tf_conn_t *c, const char *what) noexcept {
        std::exception_ptr thrown = std::current_exception();
        if (!on_error) {
            loop_->record(thrown);
            return;
        }
        try {
            std::string detail = "handler threw: ";
            detail += what;
            on_error(ConnectionRef(c), TRUFLUX_EINTERNAL, detail);
        } catch (...) {
            loop_->record(std::current_exception());
        }
    }

    static void open_cb(void *user, tf_conn_t *c) noexcept {
        Endpoint *e = self(user);
        Scope scope(e);
        if (e->on_open)
            e->guarded(c, [&] { e->on_open(ConnectionRef(c)); });
    }

    static void message_cb(void *user, tf_conn_t *c, const tf_message_t *m) noexcept {
        Endpoint *e = self(user);
        Scope scope(e);
        const MessageHandler *h = e->handlers_ ? e->handlers_->find(m->id) : nullptr;
        if (!h && e->on_message)
            h = &e->on_message;
        if (h)
            e->guarded(c, [&] { (*h)(ConnectionRef(c), Message(m)); });
    }

    static void close_cb(void *user, tf_conn_t *c, int reason, int remote) noexcept {
        Endpoint *e = self(user);
        Scope scope(e);
        if (e->on_close)
            e->guarded(c, [&] { e->on_close(ConnectionRef(c), reason, remote != 0); });
    }

    static void error_cb(void *user, tf_conn_t *c, int code, const char *detail) noexcept {
        Endpoint *e = self(user);
        Scope scope(e);
        if (!e->on_error)
            return;
        try {
            e->on_error(ConnectionRef(c), code, detail ? detail : "");
        } catch (...) {
            e->loop_->record(std::current_exception());
        }
    }

    static void drain_cb(void *user, tf_conn_t *c) noexcept {
        Endpoint *e = self(user);
        Scope scope(e);
        if (e->on_drain)
            e->guarded(c, [&] { e->on_drain(ConnectionRef(c)); });
    }

    static void secure_cb(void *user, tf_conn_t *c) noexcept {
        Endpoint *e = self(user);
        Scope scope(e);
        if (e->on_secure)
            e->guarded(c, [&] { e->on_secure(ConnectionRef(c)); });
    }

    static void secure_fail_cb(void *user, tf_conn_t *c, int code, const char *detail) noexcept {
        Endpoint *e = self(user);
        Scope scope(e);
        if (e->on_secure_fail)
            e->guarded(c, [&] { e->on_secure_fail(ConnectionRef(c), code, detail ? detail : ""); });
    }

    LoopState *loop_;
    std::shared_ptr<Handlers> handlers_;
    tf_protocol_t *proto_;
    // Atomic: a server on several loops (Server::add_loop) runs callbacks on several threads.
    std::atomic<int> depth_{0};
    std::atomic<bool> doomed_{false};
};

// The handler setters of Server and Client (D provides endpoint()). Set handlers before
// listen/connect, or on the loop's thread.
template <class D>
class handler_setters {
public:
    D &on_open(OpenHandler f) { return set(&Endpoint::on_open, std::move(f)); }
    D &on_message(MessageHandler f) { return set(&Endpoint::on_message, std::move(f)); }
    D &on_close(CloseHandler f) { return set(&Endpoint::on_close, std::move(f)); }
    D &on_error(ErrorHandler f) { return set(&Endpoint::on_error, std::move(f)); }
    D &on_drain(DrainHandler f) { return set(&Endpoint::on_drain, std::move(f)); }
    D &on_secure(SecureHandler f) { return set(&Endpoint::on_secure, std::move(f)); }
    D &on_secure_fail(SecureFailHandler f) { return set(&Endpoint::on_secure_fail, std::move(f)); }

private:
    template <class F>
    D &set(F Endpoint::*member, F f) {
        D &d = static_cast<D &>(*this);
        d.endpoint().*member = std::move(f);
        return d;
    }
};

// Up to this many excluded connections are passed without a heap allocation.
class conn_array {
public:
    template <class It>
    conn_array(It first, It last) {
        std::size_t n = static_cast<std::size_t>(std::distance(first, last));
        if (n > sizeof small_ / sizeof small_[0]) {
            big_.reset(new tf_conn_t *[n]);
            ptr_ = big_.get();
        }
        for (; first != last; ++first)
            ptr_[size_++] = ConnectionRef(*first).handle();
    }
    tf_conn_t *const *data() const noexcept { return size_ ? ptr_ : nullptr; }
    std::size_t size() const noexcept { return size_; }

private:
    tf_conn_t *small_[8];
    std::unique_ptr<tf_conn_t *[]> big_;
    tf_conn_t **ptr_ = small_;
    std::size_t size_ = 0;
};

}  // namespace detail
}  // namespace truflux

#endif
