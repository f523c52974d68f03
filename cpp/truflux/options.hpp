// truflux/options.hpp: server and client settings with fluent setters.
#ifndef TRUFLUX_CPP_OPTIONS_HPP
#define TRUFLUX_CPP_OPTIONS_HPP

#include <truflux/truflux.h>

#include <truflux/error.hpp>

#include <cstdint>
#include <utility>

namespace truflux {

enum class Option : int {
    Nodelay = TRUFLUX_OPT_NODELAY,
    MaxConnections = TRUFLUX_OPT_MAX_CONNECTIONS,
    MaxMessageSize = TRUFLUX_OPT_MAX_MESSAGE_SIZE,
    HandshakeTimeout = TRUFLUX_OPT_HANDSHAKE_TIMEOUT,
    IdleTimeout = TRUFLUX_OPT_IDLE_TIMEOUT,
    Heartbeat = TRUFLUX_OPT_HEARTBEAT,
    SendHwm = TRUFLUX_OPT_SEND_HWM,
    SendLwm = TRUFLUX_OPT_SEND_LWM,
    CloseTimeout = TRUFLUX_OPT_CLOSE_TIMEOUT,
    Strict = TRUFLUX_OPT_STRICT,
    Reconnect = TRUFLUX_OPT_RECONNECT,
    ReconnectMin = TRUFLUX_OPT_RECONNECT_MIN,
    ReconnectMax = TRUFLUX_OPT_RECONNECT_MAX,
    Backlog = TRUFLUX_OPT_BACKLOG
};

// Settings read (copied) when a Server or Client is built. Move-only. A default-constructed
// object holds no C handle until the first setter (handle() is then NULL: all defaults).
// Times are milliseconds (0 turns a timeout or interval off), sizes bytes. Setters throw
// EINVAL for a value out of range.
class Options {
public:
    Options() noexcept = default;
    ~Options() noexcept { truflux_options_free(o_); }

    Options(Options &&o) noexcept : o_(std::exchange(o.o_, nullptr)) {}
    Options &operator=(Options &&o) noexcept {
        if (this != &o) {
            truflux_options_free(o_);
            o_ = std::exchange(o.o_, nullptr);
        }
        return *this;
    }
    Options(const Options &) = delete;
    Options &operator=(const Options &) = delete;

    void swap(Options &o) noexcept { std::swap(o_, o.o_); }
    friend void swap(Options &a, Options &b) noexcept { a.swap(b); }

    Options &set(Option key, std::int64_t value) {
        detail::check(tf_options_set_int(ensure(), static_cast<int>(key), value));
        return *this;
    }
    std::int64_t get(Option key) const {
        std::int64_t v = 0;
        if (o_) {
            detail::check(tf_options_get_int(o_, static_cast<int>(key), &v));
            return v;
        }
        Options defaults;
        detail::check(tf_options_get_int(defaults.ensure(), static_cast<int>(key), &v));
        return v;
    }

    Options &nodelay(bool on) { return set(Option::Nodelay, on); }
    Options &max_connections(std::int64_t n) { return set(Option::MaxConnections, n); }
    Options &max_message_size(std::int64_t bytes) { return set(Option::MaxMessageSize, bytes); }
    Options &handshake_timeout(std::int64_t ms) { return set(Option::HandshakeTimeout, ms); }
    Options &idle_timeout(std::int64_t ms) { return set(Option::IdleTimeout, ms); }
    Options &heartbeat(std::int64_t ms) { return set(Option::Heartbeat, ms); }
    Options &send_hwm(std::int64_t bytes) { return set(Option::SendHwm, bytes); }
    Options &send_lwm(std::int64_t bytes) { return set(Option::SendLwm, bytes); }
    Options &close_timeout(std::int64_t ms) { return set(Option::CloseTimeout, ms); }
    Options &strict(bool on) { return set(Option::Strict, on); }
    Options &reconnect(bool on) { return set(Option::Reconnect, on); }
    Options &reconnect(bool on, std::int64_t min_ms, std::int64_t max_ms) {
        set(Option::Reconnect, on);
        set(Option::ReconnectMin, min_ms);
        return set(Option::ReconnectMax, max_ms);
    }
    Options &backlog(std::int64_t n) { return set(Option::Backlog, n); }

    // NULL while every option is at its default.
    const tf_options_t *handle() const noexcept { return o_; }
    tf_options_t *handle() noexcept { return o_; }

private:
    tf_options_t *ensure() {
        if (!o_) {
            o_ = truflux_options_new();
            if (!o_)
                throw error(TRUFLUX_ENOMEM, "truflux_options_new");
        }
        return o_;
    }

    tf_options_t *o_ = nullptr;
};

}  // namespace truflux

#endif
