// _truflux: the loop a server or client owns, on a thread of the library's own.
#include "common.h"

namespace tfpy {

host::host() {
    loop = truflux_loop_new();
    if (!loop) throw_last_error("cannot create the event loop");
}

void host::start() {
    check(tf_loop_start(loop), "cannot start the loop's thread");
    std::unique_lock<std::shared_mutex> lk(mu);
    alive = true;
}

host::~host() {
    // Objects on the loop were freed by their owner's shutdown(); this only covers a host
    // whose owner failed half-way through construction.
    if (loop) {
        tf_loop_stop(loop);
        truflux_loop_free(loop);
    }
    for (tf_loop_t *l : added) {
        tf_loop_stop(l);
        truflux_loop_free(l);
    }
}

}  // namespace tfpy
