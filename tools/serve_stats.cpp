// tools/serve_stats.cpp: see serve_stats.hpp.
#include "serve_stats.hpp"

#include <event2/event.h>

#include <cinttypes>
#include <cstdio>

namespace tfcli {

std::string stats_line(const tf_server_stats_t &s) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "truflux stats: accepted=%" PRIu64 " opened=%" PRIu64 " active=%" PRIu64
                  " refused_limit=%" PRIu64 " message_size=%" PRIu64
                  " handshake_timeouts=%" PRIu64 " idle_timeouts=%" PRIu64
                  " protocol_errors=%" PRIu64 " secure_errors=%" PRIu64
                  " transport_errors=%" PRIu64 " peer_lost=%" PRIu64 " msgs_in=%" PRIu64
                  " msgs_out=%" PRIu64 " bytes_in=%" PRIu64 " bytes_out=%" PRIu64,
                  s.accepted, s.opened, s.active, s.refused_limit, s.message_size,
                  s.handshake_timeouts, s.idle_timeouts, s.protocol_errors, s.secure_errors,
                  s.transport_errors, s.peer_lost, s.msgs_in, s.msgs_out, s.bytes_in,
                  s.bytes_out);
    return buf;
}

StatsPrinter::StatsPrinter(truflux::Loop &loop, truflux::Server &server, long seconds)
    : server_(server) {
    if (seconds <= 0)
        return;
    timer_ = event_new(
        static_cast<event_base *>(loop.event_base()), -1, EV_PERSIST,
        [](evutil_socket_t, short, void *arg) { static_cast<StatsPrinter *>(arg)->print(); },
        this);
    timeval tv = {seconds, 0};
    if (timer_)
        event_add(timer_, &tv);
}

StatsPrinter::~StatsPrinter() {
    if (timer_)
        event_free(timer_);
    print();
}

void StatsPrinter::print() const {
    try {
        std::fprintf(stderr, "%s\n", stats_line(server_.stats()).c_str());
        std::fflush(stderr);
    } catch (const truflux::error &e) {
        std::fprintf(stderr, "truflux serve: stats: %s\n", e.what());
    }
}

}  // namespace tfcli
