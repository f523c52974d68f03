// lib/core: a server's counters (see stats.h).
#include "core/stats.h"

#include <cstring>

#include <truflux/error.h>

#include "core/server.h"

namespace tfcore {

void server_counters::ended(int reason, bool remote) {
    // A socket the peer dropped is reported as remote.
    if (reason == TRUFLUX_EEOF || reason == TRUFLUX_ECONNRESET) {
        peer_lost++;
        return;
    }
    // A CLOSE from the peer carries the peer's verdict on us, not a limit we enforced.
    if (remote) return;
    switch (reason) {
    case TRUFLUX_EMSGSIZE: message_size++; return;
    case TRUFLUX_EHELLOTIMEOUT: handshake_timeouts++; return;
    case TRUFLUX_EIDLE: idle_timeouts++; return;
    case TRUFLUX_EUTF8: protocol_errors++; return;
    default: break;
    }
    if (reason <= TRUFLUX_EPROTO && reason >= TRUFLUX_EPEERUNKNOWN) protocol_errors++;
    else if (reason <= -40 && reason >= -49) secure_errors++;
    else if (reason <= -50 && reason >= -59) transport_errors++;
}

void server_counters::gone(const tf_conn *c) {
    msgs_in += c->msgs_in.load(std::memory_order_relaxed);
    msgs_out += c->msgs_out.load(std::memory_order_relaxed);
    bytes_in += c->bytes_in.load(std::memory_order_relaxed);
    bytes_out += c->bytes_out.load(std::memory_order_relaxed);
}

void server_stats(const tf_server *s, tf_server_stats_t *out) {
    const server_counters &k = s->counters;
    tf_server_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    st.accepted = k.accepted;
    st.opened = k.opened;
    st.active = s->open_count.load(std::memory_order_relaxed);
    st.refused_limit = k.refused_limit;
    st.message_size = k.message_size;
    st.handshake_timeouts = k.handshake_timeouts;
    st.idle_timeouts = k.idle_timeouts;
    st.protocol_errors = k.protocol_errors;
    st.secure_errors = k.secure_errors;
    st.transport_errors = k.transport_errors;
    st.peer_lost = k.peer_lost;
    st.msgs_in = k.msgs_in;
    st.msgs_out = k.msgs_out;
    st.bytes_in = k.bytes_in;
    st.bytes_out = k.bytes_out;
    for (const tf_conn *c = s->head; c; c = c->next) {
        st.msgs_in += c->msgs_in.load(std::memory_order_relaxed);
        st.msgs_out += c->msgs_out.load(std::memory_order_relaxed);
        st.bytes_in += c->bytes_in.load(std::memory_order_relaxed);
        st.bytes_out += c->bytes_out.load(std::memory_order_relaxed);
    }
    size_t n = out->size < sizeof st ? out->size : sizeof st;
    memcpy(out, &st, n);
    out->size = n;
}

}  // namespace tfcore
