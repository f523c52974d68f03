// truflux/conn.hpp: connections. ConnectionRef is the non-owning view handed to handlers;
// Connection is an owning reference (tf_conn_retain) for use after a handler returns or on
// another thread.
#ifndef TRUFLUX_CPP_CONN_HPP
#define TRUFLUX_CPP_CONN_HPP

#include <truflux/truflux.h>

#include <truflux/error.hpp>
#include <truflux/message.hpp>
#include <truflux/security.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace truflux {

enum class CloseMode : int {
    Graceful = TRUFLUX_CLOSE_GRACEFUL,  // flush, send CLOSE, wait (bounded) for the peer's
    Force = TRUFLUX_CLOSE_FORCE         // drop queued frames, close the socket now
};

struct Address {
    std::string host;  // IPv4 or IPv6 text, no brackets
    int port = 0;
};

struct Stats {
    std::uint64_t msgs_in = 0, msgs_out = 0;
    std::uint64_t bytes_in = 0, bytes_out = 0;
    std::uint64_t queued = 0;
};

class Connection;

namespace detail {

// tf_send's result as the wrapper reports it: true when queued, false for TRUFLUX_EAGAIN
// (the queue is above its high-water mark; on_drain follows), an exception otherwise.
inline bool send_result(int rc) {
    if (rc == TRUFLUX_EAGAIN)
        return false;
    check(rc);
    return true;
}

// The operations shared by ConnectionRef and Connection; D provides handle().
template <class D>
class conn_ops {
public:
    // Sends one message (by name or id) with a payload (empty by default). Any thread.
    // Returns true when queued and false when the send queue is above its high-water mark
    // (TRUFLUX_EAGAIN: nothing was queued; on_drain follows). Throws truflux::error for every
    // other failure (ENOTFOUND, EPEERUNKNOWN, ESCHEMA, EMSGSIZE, EUTF8, ECLOSED, ...).
    bool send(const char *name, const Payload &p = Payload()) const {
        return send_result(tf_send_name(h(), name, static_cast<int>(p.type), p.data, p.size));
    }
    bool send(const std::string &name, const Payload &p = Payload()) const {
        return send(name.c_str(), p);
    }
    bool send(std::string_view name, const Payload &p = Payload()) const {
        return send(std::string(name), p);
    }
    bool send(std::uint32_t id, const Payload &p = Payload()) const {
        return send_result(tf_send(h(), id, static_cast<int>(p.type), p.data, p.size));
    }

    // Closes the connection; `code` is the reason sent to the peer (0: normal). Any thread.
    // Returns false if it was already closing; on_close follows once.
    bool close(CloseMode mode = CloseMode::Graceful, int code = 0) const {
        int rc = tf_conn_close(h(), static_cast<int>(mode), code);
        if (rc == TRUFLUX_ECLOSED)
            return false;
        check(rc);
        return true;
    }

    // Peer and local addresses. Any thread. Throws ECLOSED once the socket is gone.
    Address remote_address() const { return address(&tf_conn_remote_addr); }
    Address local_address() const { return address(&tf_conn_local_addr); }

    Stats stats() const {
        tf_conn_stats_t s{};
        s.size = sizeof s;
        check(tf_conn_stats(h(), &s));
        Stats out;
        out.msgs_in = s.msgs_in;
        out.msgs_out = s.msgs_out;
        out.bytes_in = s.bytes_in;
        out.bytes_out = s.bytes_out;
        out.queued = s.queued;
        return out;
    }

    // The application's pointer attached to the connection (not owned by it).
    void *user() const noexcept { return tf_conn_user(h()); }
    template <class T>
    T *user_as() const noexcept { return static_cast<T *>(tf_conn_user(h())); }
    void set_user(void *p) const noexcept { tf_conn_set_user(h(), p); }

    // The protocol state (0 at the start) and moving it. Loop thread.
    int state() const { return check(tf_conn_state(h())); }
    void set_state(int state) const { check(tf_conn_set_state(h(), state)); }
    void set_state(const char *name) const {
        set_state(check(tf_protocol_state(tf_conn_protocol(h()), name)));
    }
    void set_state(const std::string &name) const { set_state(name.c_str()); }

    // True from the end of the hello until the connection closes. Any thread.
    bool is_open() const noexcept { return h() && tf_conn_is_open(h()) != 0; }

    // The transport: "tcp", "tls", "ws" (the 2015 module's read-only `ws`) or "wss" (WebSocket
    // over TLS). Any thread.
    std::string_view transport() const noexcept {
        const char *t = h() ? tf_conn_transport(h()) : nullptr;
        return t ? std::string_view(t) : std::string_view();
    }
    bool is_websocket() const noexcept { return transport() == "ws" || transport() == "wss"; }

    // The secure layer: switch a direction's encryption (any thread; throws ENOTSUP without
    // a secure layer, ENOTSECURE to switch off where it is required), read it (the seed's
    // `secure` is Direction::Send, `peerSecure` Direction::Recv), and what the handshake
    // established (throws ENOTSUP without a secure layer).
    void set_secure(Direction d, bool on) const {
        check(tf_conn_set_secure(h(), static_cast<int>(d), on ? 1 : 0));
    }
    bool secure(Direction d = Direction::Send) const {
        return check(tf_conn_secure(h(), static_cast<int>(d))) != 0;
    }
    bool peer_secure() const { return secure(Direction::Recv); }
    SecureInfo secure_info() const {
        tf_secure_info_t i{};
        i.size = sizeof i;
        check(tf_conn_secure_info(h(), &i));
        SecureInfo out;
        out.established = i.established != 0;
        out.pattern = static_cast<Pattern>(i.pattern < 0 ? 0 : i.pattern);
        out.cipher = static_cast<Cipher>(i.cipher < 0 ? 0 : i.cipher);
        out.has_peer_key = i.has_peer_key != 0;
        std::copy(i.peer_key, i.peer_key + 32, out.peer_key.begin());
        std::copy(i.handshake_hash, i.handshake_hash + 32, out.handshake_hash.begin());
        out.rekeys_sent = i.rekeys_sent;
        out.rekeys_received = i.rekeys_received;
        out.records_sent = i.records_sent;
        out.records_received = i.records_received;
        return out;
    }

    // The id of a message of the connection's protocol; throws ENOTFOUND.
    std::uint32_t message_id(const char *name) const {
        return static_cast<std::uint32_t>(check(tf_protocol_id(tf_conn_protocol(h()), name)));
    }

    // An owning reference that keeps the handle valid after the handler returns.
    Connection retain() const;

private:
    tf_conn_t *h() const noexcept { return static_cast<const D *>(this)->handle(); }

    Address address(int (*fn)(const tf_conn_t *, char *, std::size_t, int *)) const {
        char host[128];
        int port = 0;
        check(fn(h(), host, sizeof host, &port));
        Address a;
        a.host = host;
        a.port = port;
        return a;
    }
};

}  // namespace detail

// A non-owning, copyable view of a connection. Valid while the library guarantees the
// handle: for the duration of the callback that handed it out, or while a Connection holds
// it. A default-constructed ref is empty (e.g. the server-done on_close).
class ConnectionRef : public detail::conn_ops<ConnectionRef> {
public:
    ConnectionRef() noexcept = default;
    explicit ConnectionRef(tf_conn_t *c) noexcept : c_(c) {}

    tf_conn_t *handle() const noexcept { return c_; }
    explicit operator bool() const noexcept { return c_ != nullptr; }
    friend bool operator==(ConnectionRef a, ConnectionRef b) noexcept { return a.c_ == b.c_; }
    friend bool operator!=(ConnectionRef a, ConnectionRef b) noexcept { return a.c_ != b.c_; }

private:
    tf_conn_t *c_ = nullptr;
};

// An owning reference to a connection (tf_conn_retain / tf_conn_release). Move-only. A
// connection that has closed stays valid to call: send then throws ECLOSED.
class Connection : public detail::conn_ops<Connection> {
public:
    Connection() noexcept = default;
    explicit Connection(ConnectionRef c) noexcept
        : c_(c.handle() ? tf_conn_retain(c.handle()) : nullptr) {}
    ~Connection() noexcept { reset(); }

    Connection(Connection &&o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    Connection &operator=(Connection &&o) noexcept {
        if (this != &o) {
            reset();
            c_ = std::exchange(o.c_, nullptr);
        }
        return *this;
    }
    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;

    void swap(Connection &o) noexcept { std::swap(c_, o.c_); }
    friend void swap(Connection &a, Connection &b) noexcept { a.swap(b); }

    // Drops the reference (the handle may be freed); the object becomes empty.
    void reset() noexcept {
        if (c_)
            tf_conn_release(std::exchange(c_, nullptr));
    }

    tf_conn_t *handle() const noexcept { return c_; }
    ConnectionRef ref() const noexcept { return ConnectionRef(c_); }
    operator ConnectionRef() const noexcept { return ConnectionRef(c_); }
    explicit operator bool() const noexcept { return c_ != nullptr; }

private:
    tf_conn_t *c_ = nullptr;
};

template <class D>
inline Connection detail::conn_ops<D>::retain() const {
    return Connection(ConnectionRef(h()));
}

}  // namespace truflux

#endif
