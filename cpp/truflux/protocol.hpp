// truflux/protocol.hpp: protocol definitions (message names, schemas, states, handlers).
#ifndef TRUFLUX_CPP_PROTOCOL_HPP
#define TRUFLUX_CPP_PROTOCOL_HPP

#include <truflux/truflux.h>

#include <truflux/conn.hpp>
#include <truflux/error.hpp>
#include <truflux/message.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace truflux {

class Server;
class Client;

using MessageHandler = std::function<void(ConnectionRef, const Message &)>;

namespace detail {

// The handlers of a protocol's messages. Shared by the Protocol and by every Server and Client
// built from it, so that handlers outlive whichever goes first. Written only before the
// protocol freezes (the C library refuses changes after that with EBUSY, checked before any
// write here), so the loops that read it need no lock.
struct Handlers {
    std::unordered_map<std::uint32_t, MessageHandler> by_id;

    const MessageHandler *find(std::uint32_t id) const {
        auto it = by_id.find(id);
        return it == by_id.end() ? nullptr : &it->second;
    }
};

inline std::string cstr(std::string_view s) { return std::string(s); }

}  // namespace detail

// A protocol definition. Move-only. Build it on one thread; the first Server or Client built
// from it freezes it (later changes throw EBUSY). Servers and clients keep the definition
// and the handlers alive, so the Protocol may be destroyed before them.
//
// Handlers set with on() are run by the wrapper's servers and clients (not registered with
// the C protocol): a C server built on handle() does not see them.
class Protocol {
public:
    Protocol() : handlers_(std::make_shared<detail::Handlers>()), p_(truflux_protocol_new()) {
        if (!p_)
            throw error(TRUFLUX_ENOMEM, "truflux_protocol_new");
    }
    ~Protocol() noexcept { truflux_protocol_free(p_); }

    Protocol(Protocol &&o) noexcept
        : handlers_(std::move(o.handlers_)), p_(std::exchange(o.p_, nullptr)) {}
    Protocol &operator=(Protocol &&o) noexcept {
        if (this != &o) {
            truflux_protocol_free(p_);
            p_ = std::exchange(o.p_, nullptr);
            handlers_ = std::move(o.handlers_);
        }
        return *this;
    }
    Protocol(const Protocol &) = delete;
    Protocol &operator=(const Protocol &) = delete;

    void swap(Protocol &o) noexcept {
        std::swap(p_, o.p_);
        handlers_.swap(o.handlers_);
    }
    friend void swap(Protocol &a, Protocol &b) noexcept { a.swap(b); }

    // Defines a message accepting `types` with payloads of at most max_size bytes (0: the
    // connection's maximum). Returns its id. Throws EINVAL, EEXIST, ELIMIT, EBUSY.
    std::uint32_t add(std::string_view name, Types types = Types::Any, std::uint32_t max_size = 0) {
        return static_cast<std::uint32_t>(detail::check(tf_protocol_add(
            h(), detail::cstr(name).c_str(), static_cast<unsigned>(types), max_size)));
    }

    // Defines a state; returns its number (the first is 0, where connections start).
    int add_state(std::string_view state) {
        return detail::check(tf_protocol_add_state(h(), detail::cstr(state).c_str()));
    }

    // Makes `message` valid in `state`; a message never allowed anywhere is valid everywhere.
    Protocol &allow(std::string_view message, std::string_view state) {
        detail::check(tf_protocol_allow(h(), detail::cstr(message).c_str(),
                                        detail::cstr(state).c_str()));
        return *this;
    }

    // Sets (or, with an empty function, removes) the handler of `message`. Messages without a
    // handler go to the server's or client's on_message. Throws ENOTFOUND, EBUSY.
    Protocol &on(std::string_view message, MessageHandler handler) {
        std::string name(message);
        // Checks the name and that the protocol is not frozen, without registering anything
        // with the C protocol (the wrapper dispatches by id itself).
        detail::check(tf_protocol_on(h(), name.c_str(), nullptr, nullptr));
        std::uint32_t msg_id = id(name);
        if (handler)
            handlers_->by_id[msg_id] = std::move(handler);
        else
            handlers_->by_id.erase(msg_id);
        return *this;
    }

    // The id of a defined message; throws ENOTFOUND.
    std::uint32_t id(std::string_view name) const {
        return static_cast<std::uint32_t>(
            detail::check(tf_protocol_id(h(), detail::cstr(name).c_str())));
    }

    // The name of a defined id; throws ENOTFOUND. The view lives as long as the definition.
    std::string_view name(std::uint32_t message_id) const {
        const char *n = tf_protocol_name(h(), message_id);
        if (!n)
            throw error(TRUFLUX_ENOTFOUND, "message id " + std::to_string(message_id));
        return n;
    }

    // The number of a defined state; throws ENOTFOUND.
    int state(std::string_view name) const {
        return detail::check(tf_protocol_state(h(), detail::cstr(name).c_str()));
    }

    std::size_t count() const { return tf_protocol_count(h()); }

    // The 32-byte SHA-256 fingerprint of the definition that travels in the hello.
    std::array<std::uint8_t, 32> fingerprint() const {
        std::array<std::uint8_t, 32> fp{};
        detail::check(tf_protocol_fingerprint(h(), fp.data()));
        return fp;
    }

    // The id every implementation derives from a name (docs/PROTOCOL.md).
    static std::uint32_t name_id(std::string_view name) {
        return tf_protocol_name_id(detail::cstr(name).c_str());
    }

    tf_protocol_t *handle() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }

private:
    friend class Server;
    friend class Client;

    tf_protocol_t *h() const {
        if (!p_)
            throw error(TRUFLUX_EINVAL, "the protocol was moved from");
        return p_;
    }

    std::shared_ptr<detail::Handlers> handlers_;
    tf_protocol_t *p_;
};

}  // namespace truflux

#endif
