// _truflux: the protocol handle shared by the bindings of servers and clients.
#pragma once
#include "common.h"

namespace tfpy {

// Owns one reference to a tf_protocol_t. Servers and clients take their own.
struct protocol {
    tf_protocol_t *p;
    protocol();
    ~protocol();
    protocol(const protocol &) = delete;
    protocol &operator=(const protocol &) = delete;
};

}  // namespace tfpy
