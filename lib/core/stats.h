// lib/core: a server's counters (tf_server_stats): what it accepted, refused and ended, by
// the reason it ended connections for. Loop thread only; read through call_sync.
#pragma once
#include <cstdint>

#include <truflux/server.h>

struct tf_conn;
struct tf_server;

namespace tfcore {

struct server_counters {
    uint64_t accepted = 0, opened = 0, refused_limit = 0;
    uint64_t message_size = 0, handshake_timeouts = 0, idle_timeouts = 0;
    uint64_t protocol_errors = 0, secure_errors = 0, transport_errors = 0, peer_lost = 0;
    // Traffic of connections already gone; live ones are summed when asked.
    uint64_t msgs_in = 0, msgs_out = 0, bytes_in = 0, bytes_out = 0;

    // A connection ended with `reason`; only the server's own verdicts (not remote) count.
    void ended(int reason, bool remote);
    // A connection's socket is gone: its traffic joins the totals.
    void gone(const tf_conn *c);
};

// Loop thread (or the loop not running): copies the counters into out (out->size honoured).
void server_stats(const tf_server *s, tf_server_stats_t *out);

}  // namespace tfcore
