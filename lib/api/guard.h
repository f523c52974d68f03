// lib/api: keeps C++ exceptions on this side of the C ABI.
#pragma once
#include <new>

#include <truflux/error.h>

namespace tfapi {

// Runs f; an escaping exception becomes TRUFLUX_ENOMEM or TRUFLUX_EINTERNAL.
template <typename R, typename F>
R guard(F &&f) noexcept {
    try {
        return f();
    } catch (const std::bad_alloc &) {
        return R(TRUFLUX_ENOMEM);
    } catch (...) {
        return R(TRUFLUX_EINTERNAL);
    }
}

// Same for functions without a result.
template <typename F>
void guard_void(F &&f) noexcept {
    try {
        f();
    } catch (...) {
    }
}

}  // namespace tfapi
