// truflux/message.hpp: payload type tags, outgoing payload views and the received message.
#ifndef TRUFLUX_CPP_MESSAGE_HPP
#define TRUFLUX_CPP_MESSAGE_HPP

#include <truflux/truflux.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace truflux {

// The tag every message carries (tf_type_t).
enum class Type : int {
    Empty = TRUFLUX_TYPE_EMPTY,
    Binary = TRUFLUX_TYPE_BINARY,
    Text = TRUFLUX_TYPE_TEXT,
    MsgPack = TRUFLUX_TYPE_MSGPACK
};

// A set of accepted types for a message's schema (TRUFLUX_TYPES_*). Combine with |.
enum class Types : unsigned {
    Any = TRUFLUX_TYPES_ANY,
    Empty = TRUFLUX_TYPES_EMPTY,
    Binary = TRUFLUX_TYPES_BINARY,
    Text = TRUFLUX_TYPES_TEXT,
    MsgPack = TRUFLUX_TYPES_MSGPACK
};

constexpr Types operator|(Types a, Types b) noexcept {
    return static_cast<Types>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr Types operator&(Types a, Types b) noexcept {
    return static_cast<Types>(static_cast<unsigned>(a) & static_cast<unsigned>(b));
}
// The one-type set of t.
constexpr Types types_of(Type t) noexcept {
    return static_cast<Types>(1u << static_cast<int>(t));
}

// An outgoing payload: a type tag and a view of bytes the caller keeps alive for the call
// (the library copies them). Build one with empty(), text(), binary() or msgpack().
struct Payload {
    Type type = Type::Empty;
    const void *data = nullptr;
    std::size_t size = 0;

    constexpr Payload() noexcept = default;
    constexpr Payload(Type t, const void *d, std::size_t n) noexcept : type(t), data(d), size(n) {}
};

constexpr Payload empty() noexcept { return Payload(); }
// UTF-8 text; the receiver validates it (tf_send gives TRUFLUX_EUTF8 before that).
inline Payload text(std::string_view s) noexcept { return Payload(Type::Text, s.data(), s.size()); }
inline Payload binary(const void *data, std::size_t size) noexcept {
    return Payload(Type::Binary, data, size);
}
inline Payload binary(std::string_view bytes) noexcept {
    return Payload(Type::Binary, bytes.data(), bytes.size());
}
inline Payload binary(const std::vector<std::uint8_t> &bytes) noexcept {
    return Payload(Type::Binary, bytes.data(), bytes.size());
}
// One encoded MessagePack value (the library checks that it is well formed).
inline Payload msgpack(const void *data, std::size_t size) noexcept {
    return Payload(Type::MsgPack, data, size);
}
inline Payload msgpack(std::string_view encoded) noexcept {
    return Payload(Type::MsgPack, encoded.data(), encoded.size());
}
inline Payload msgpack(const std::vector<std::uint8_t> &encoded) noexcept {
    return Payload(Type::MsgPack, encoded.data(), encoded.size());
}

// A received message: a view of the C message, borrowed for the duration of the handler.
// Copy what you keep (str()).
class Message {
public:
    explicit Message(const tf_message_t *m) noexcept : m_(m) {}

    std::uint32_t id() const noexcept { return m_->id; }
    std::string_view name() const noexcept { return m_->name ? m_->name : ""; }
    Type type() const noexcept { return static_cast<Type>(m_->type); }
    // The payload bytes (any type).
    std::string_view data() const noexcept {
        return std::string_view(static_cast<const char *>(m_->data), m_->data ? m_->len : 0);
    }
    std::size_t size() const noexcept { return m_->len; }
    // The payload as text (the same bytes; validated UTF-8 when type() is Type::Text).
    std::string_view text() const noexcept { return data(); }
    // An owning copy of the payload bytes.
    std::string str() const { return std::string(data()); }
    // The same type and bytes as an outgoing payload, e.g. to echo it back.
    Payload payload() const noexcept { return Payload(type(), m_->data, m_->len); }
    const tf_message_t *handle() const noexcept { return m_; }

private:
    const tf_message_t *m_;
};

}  // namespace truflux

#endif
