// lib/transport: the table of transports. Listed here explicitly (not self-registered from
// static initialisers, which a static library's linker may drop).
#include "transport/stream.h"

namespace tfx {

extern const transport tcp_transport;

static const transport *const transports[] = {
    &tcp_transport,
};

const transport *find_transport(const std::string &scheme) {
    for (const transport *t : transports)
        if (scheme == t->scheme) return t;
    return nullptr;
}

}  // namespace tfx
