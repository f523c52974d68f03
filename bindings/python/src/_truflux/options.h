// _truflux: the options handle passed to servers and clients (copied by them).
#pragma once
#include "common.h"

namespace tfpy {

struct options {
    tf_options_t *o;
    options();
    ~options();
    options(const options &) = delete;
    options &operator=(const options &) = delete;
};

// The C handle of an optional options object (NULL: the library's defaults).
inline const tf_options_t *raw(const options *o) { return o ? o->o : nullptr; }

}  // namespace tfpy
