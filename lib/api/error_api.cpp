// lib/api: tf_strerror, tf_errname, tf_version and the thread-local last error.
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include <truflux/error.h>
#include <truflux/version.h>

#include "api/last_error.h"

namespace {

constexpr size_t DETAIL_MAX = 255;

thread_local int last_code = 0;
thread_local char last_detail[DETAIL_MAX + 1] = "";

}  // namespace

namespace tfapi {

void set_last_error(int code, const char *fmt, ...) {
    last_code = code;
    if (!fmt) {
        std::snprintf(last_detail, sizeof last_detail, "%s", tf_strerror(code));
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(last_detail, sizeof last_detail, fmt, ap);
    va_end(ap);
    if (n < 0) last_detail[0] = '\0';
}

}  // namespace tfapi

extern "C" {

TRUFLUX_API const char *tf_strerror(int code) {
    switch (code) {
#define STRERROR_CASE_(name, num, msg) \
    case (num):                           \
        return msg;
        TRUFLUX_ERRNO_MAP(STRERROR_CASE_)
#undef STRERROR_CASE_
    }
    return "unknown error";
}

TRUFLUX_API const char *tf_errname(int code) {
    switch (code) {
#define ERRNAME_CASE_(name, num, msg) \
    case (num):                          \
        return #name;
        TRUFLUX_ERRNO_MAP(ERRNAME_CASE_)
#undef ERRNAME_CASE_
    }
    return "UNKNOWN";
}

TRUFLUX_API const char *tf_version(void) { return TRUFLUX_VERSION_STRING; }

TRUFLUX_API int tf_last_error(void) { return last_code; }

TRUFLUX_API const char *tf_last_error_detail(void) { return last_detail; }

}  // extern "C"
