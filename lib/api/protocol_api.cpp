// lib/api: the C API of truflux/protocol.h. Checks arguments, forwards to tf_protocol, and
// keeps every C++ exception on this side of the ABI.
#include <cstring>
#include <new>

#include <truflux/error.h>
#include <truflux/protocol.h>

#include "api/last_error.h"
#include "proto/protocol.h"

namespace {

// Runs f, mapping an escaping exception to an error code.
template <typename R, typename F>
R guarded(F f) noexcept {
    try {
        return f();
    } catch (const std::bad_alloc &) {
        return R(TRUFLUX_ENOMEM);
    } catch (...) {
        return R(TRUFLUX_EINTERNAL);
    }
}

}  // namespace

extern "C" {

TRUFLUX_API tf_protocol_t *truflux_protocol_new(void) {
    try {
        return new tf_protocol();
    } catch (const std::bad_alloc &) {
        tfapi::set_last_error(TRUFLUX_ENOMEM, "protocol: out of memory");
    } catch (...) {
        tfapi::set_last_error(TRUFLUX_EINTERNAL, "protocol: internal error");
    }
    return nullptr;
}

TRUFLUX_API void truflux_protocol_free(tf_protocol_t *proto) {
    if (proto) proto->release();
}

TRUFLUX_API int64_t tf_protocol_add(tf_protocol_t *proto, const char *name, unsigned types,
                                    uint32_t max_size) {
    if (!proto || !name) return TRUFLUX_EINVAL;
    return guarded<int64_t>([&] { return proto->add(name, types, max_size); });
}

TRUFLUX_API int tf_protocol_add_state(tf_protocol_t *proto, const char *state) {
    if (!proto || !state) return TRUFLUX_EINVAL;
    return guarded<int>([&] { return proto->add_state(state); });
}

TRUFLUX_API int tf_protocol_allow(tf_protocol_t *proto, const char *message, const char *state) {
    if (!proto || !message || !state) return TRUFLUX_EINVAL;
    return guarded<int>([&] { return proto->allow(message, state); });
}

TRUFLUX_API int tf_protocol_on(tf_protocol_t *proto, const char *message, tf_message_cb cb,
                               void *user) {
    if (!proto || !message) return TRUFLUX_EINVAL;
    return guarded<int>([&] { return proto->on(message, cb, user); });
}

TRUFLUX_API int64_t tf_protocol_id(const tf_protocol_t *proto, const char *name) {
    if (!proto || !name) return TRUFLUX_EINVAL;
    return guarded<int64_t>([&]() -> int64_t {
        const tfp::message *m = proto->find(name);
        return m ? int64_t(m->id) : int64_t(TRUFLUX_ENOTFOUND);
    });
}

TRUFLUX_API const char *tf_protocol_name(const tf_protocol_t *proto, uint32_t id) {
    if (!proto) return nullptr;
    const tfp::message *m = proto->find(id);  // hash lookup of an integer: cannot throw
    return m ? m->name.c_str() : nullptr;
}

TRUFLUX_API int tf_protocol_state(const tf_protocol_t *proto, const char *state) {
    if (!proto || !state) return TRUFLUX_EINVAL;
    return guarded<int>([&] { return proto->state_index(state); });
}

TRUFLUX_API size_t tf_protocol_count(const tf_protocol_t *proto) {
    return proto ? proto->msgs.size() : 0;
}

TRUFLUX_API uint32_t tf_protocol_name_id(const char *name) {
    if (!name) return 0;
    return tfp::name_id(name, std::strlen(name));
}

TRUFLUX_API int tf_protocol_fingerprint(const tf_protocol_t *proto, uint8_t out[32]) {
    if (!proto || !out) return TRUFLUX_EINVAL;
    if (proto->frozen.load(std::memory_order_acquire)) {
        std::memcpy(out, proto->fp, 32);
        return 0;
    }
    return guarded<int>([&] {
        proto->fingerprint(out);
        return 0;
    });
}

}  // extern "C"
