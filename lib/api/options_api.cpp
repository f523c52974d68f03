// lib/api: the C API of truflux/options.h.
#include <cstring>
#include <new>

#include <truflux/error.h>
#include <truflux/options.h>

#include "api/guard.h"
#include "core/config.h"

// Key material may sit in text and binary options: wipe it before the memory goes back.
static void wipe(std::string &s) {
    volatile char *p = &s[0];
    for (size_t i = 0; i < s.size(); i++) p[i] = 0;
}

tf_options::~tf_options() {
    for (auto &kv : strs) wipe(kv.second);
}

static int set_value(tf_options_t *opts, int key, const void *data, size_t len, bool text) {
    if (!opts) return TRUFLUX_EINVAL;
    tfcore::option_kind k = tfcore::option_kind_of(key);
    if (k != tfcore::OPT_STR && k != tfcore::OPT_BYTES) return TRUFLUX_ENOTFOUND;
    if (text && k != tfcore::OPT_STR) return TRUFLUX_EINVAL;
    auto it = opts->strs.find(key);
    if (it != opts->strs.end()) {
        wipe(it->second);
        opts->strs.erase(it);
    }
    if (!data) return 0;
    std::string v(static_cast<const char *>(data), len);
    if (k == tfcore::OPT_STR) {
        int rc = tfcore::option_check_str(key, v);
        if (rc) return rc;
    }
    opts->strs[key] = std::move(v);
    return 0;
}

extern "C" {

TRUFLUX_API tf_options_t *truflux_options_new(void) {
    tf_options *o = new (std::nothrow) tf_options();
    if (!o) return nullptr;
    try {
        tfcore::options_defaults(o);
    } catch (...) {
        delete o;
        return nullptr;
    }
    return o;
}

TRUFLUX_API void truflux_options_free(tf_options_t *opts) { delete opts; }

TRUFLUX_API int tf_options_set_int(tf_options_t *opts, int key, int64_t value) {
    if (!opts) return TRUFLUX_EINVAL;
    int rc = tfcore::option_check(key, value);
    if (rc == 0) rc = tfapi::guard<int>([&] { opts->ints[key] = value; return 0; });
    return rc;
}

TRUFLUX_API int tf_options_get_int(const tf_options_t *opts, int key, int64_t *value) {
    if (!opts || !value) return TRUFLUX_EINVAL;
    auto it = opts->ints.find(key);
    if (it == opts->ints.end()) return TRUFLUX_ENOTFOUND;
    *value = it->second;
    return 0;
}

TRUFLUX_API int tf_options_set_str(tf_options_t *opts, int key, const char *value) {
    return tfapi::guard<int>(
        [&] { return set_value(opts, key, value, value ? strlen(value) : 0, true); });
}

TRUFLUX_API int tf_options_set_bytes(tf_options_t *opts, int key, const void *data, size_t len) {
    if (!data && len) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return set_value(opts, key, data ? data : "", len, false); });
}

TRUFLUX_API int tf_options_get_bytes(const tf_options_t *opts, int key, void *buf, size_t *len) {
    if (!opts || !len) return TRUFLUX_EINVAL;
    auto it = opts->strs.find(key);
    if (it == opts->strs.end()) return TRUFLUX_ENOTFOUND;
    size_t n = it->second.size() < *len ? it->second.size() : *len;
    if (buf && n) memcpy(buf, it->second.data(), n);
    *len = it->second.size();
    return 0;
}

}  // extern "C"
