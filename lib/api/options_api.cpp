// lib/api: the C API of truflux/options.h.
#include <new>

#include <truflux/error.h>
#include <truflux/options.h>

#include "core/config.h"

extern "C" {

TRUFLUX_API tf_options_t *truflux_options_new(void) {
    tf_options *o = new (std::nothrow) tf_options();
    if (o) tfcore::options_defaults(o);
    return o;
}

TRUFLUX_API void truflux_options_free(tf_options_t *opts) { delete opts; }

TRUFLUX_API int tf_options_set_int(tf_options_t *opts, int key, int64_t value) {
    if (!opts) return TRUFLUX_EINVAL;
    int rc = tfcore::option_check(key, value);
    if (rc == 0) opts->v[key] = value;
    return rc;
}

TRUFLUX_API int tf_options_get_int(const tf_options_t *opts, int key, int64_t *value) {
    if (!opts || !value) return TRUFLUX_EINVAL;
    int rc = tfcore::option_check(key, opts->v[key >= 0 && key < 16 ? key : 0]);
    if (rc == TRUFLUX_ENOTFOUND) return rc;
    *value = opts->v[key];
    return 0;
}

}  // extern "C"
