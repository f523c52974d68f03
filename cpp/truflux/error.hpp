// truflux/error.hpp: the exception every wrapper call throws on failure.
#ifndef TRUFLUX_CPP_ERROR_HPP
#define TRUFLUX_CPP_ERROR_HPP

#include <truflux/truflux.h>

#include <stdexcept>
#include <string>

namespace truflux {

// A failed C call: code() is the TRUFLUX_E* number, what() reads "message: detail" where the
// message is tf_strerror(code) and the detail (possibly empty) says what was being done.
class error : public std::runtime_error {
public:
    explicit error(int code, const std::string &detail = std::string())
        : std::runtime_error(compose(code, detail)), code_(code), detail_(detail) {}

    // The thread's last error (tf_last_error), with its detail: for constructor failures and
    // URL/OS calls, where the library records what went wrong.
    static error last() { return error(tf_last_error(), tf_last_error_detail()); }

    // The error for `code` after a URL/OS call: the last error's detail belongs to this
    // failure only if the codes agree.
    static error after_call(int code) {
        if (tf_last_error() == code)
            return error(code, tf_last_error_detail());
        return error(code);
    }

    int code() const noexcept { return code_; }
    // The code's name without prefix, e.g. "EPROTO".
    const char *name() const noexcept { return tf_errname(code_); }
    const std::string &detail() const noexcept { return detail_; }

private:
    static std::string compose(int code, const std::string &detail) {
        std::string s = tf_strerror(code);
        if (!detail.empty()) {
            s += ": ";
            s += detail;
        }
        return s;
    }

    int code_;
    std::string detail_;
};

namespace detail {

// Throws for a negative C return value and passes the rest through.
template <class T>
inline T check(T rc) {
    if (rc < 0)
        throw error(static_cast<int>(rc));
    return rc;
}

// Same, with the thread's last-error detail when it describes this failure.
template <class T>
inline T check_call(T rc) {
    if (rc < 0)
        throw error::after_call(static_cast<int>(rc));
    return rc;
}

}  // namespace detail
}  // namespace truflux

#endif
