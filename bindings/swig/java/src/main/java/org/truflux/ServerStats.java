package org.truflux;

import org.truflux.swig.tf_server_stats_t;

/**
 * A server's counters since it was created, summed over every loop (truflux/server.h's
 * tf_server_stats_t). The violation counters count connections the server ended itself,
 * each under the first code it ended with.
 */
public final class ServerStats {
    private final long accepted, opened, active, refusedLimit, messageSize, handshakeTimeouts,
        idleTimeouts, protocolErrors, secureErrors, transportErrors, peerLost, msgsIn, msgsOut,
        bytesIn, bytesOut;

    ServerStats(tf_server_stats_t s) {
        // SWIG hands uint64_t over as BigInteger; no counter comes near 2^63.
        accepted = s.getAccepted().longValue();
        opened = s.getOpened().longValue();
        active = s.getActive().longValue();
        refusedLimit = s.getRefused_limit().longValue();
        messageSize = s.getMessage_size().longValue();
        handshakeTimeouts = s.getHandshake_timeouts().longValue();
        idleTimeouts = s.getIdle_timeouts().longValue();
        protocolErrors = s.getProtocol_errors().longValue();
        secureErrors = s.getSecure_errors().longValue();
        transportErrors = s.getTransport_errors().longValue();
        peerLost = s.getPeer_lost().longValue();
        msgsIn = s.getMsgs_in().longValue();
        msgsOut = s.getMsgs_out().longValue();
        bytesIn = s.getBytes_in().longValue();
        bytesOut = s.getBytes_out().longValue();
    }

    /** Sockets taken, refused ones included. */
    public long accepted() { return accepted; }
    /** Connections that finished their hello (and secure layer). */
    public long opened() { return opened; }
    /** Connections open now (as {@link Server#count}). */
    public long active() { return active; }
    /** Sockets refused over the connection limit (TRUFLUX_OPT_MAX_CONNECTIONS). */
    public long refusedLimit() { return refusedLimit; }
    /** Connections ended with EMSGSIZE. */
    public long messageSize() { return messageSize; }
    /** Connections ended with EHELLOTIMEOUT. */
    public long handshakeTimeouts() { return handshakeTimeouts; }
    /** Connections ended with EIDLE. */
    public long idleTimeouts() { return idleTimeouts; }
    /** Connections ended with a core protocol code. */
    public long protocolErrors() { return protocolErrors; }
    /** Connections ended with a secure layer code. */
    public long secureErrors() { return secureErrors; }
    /** Connections ended with a WebSocket/HTTP code. */
    public long transportErrors() { return transportErrors; }
    /** Connections whose peer vanished (EEOF, ECONNRESET). */
    public long peerLost() { return peerLost; }
    public long msgsIn() { return msgsIn; }
    public long msgsOut() { return msgsOut; }
    public long bytesIn() { return bytesIn; }
    public long bytesOut() { return bytesOut; }

    @Override
    public String toString() {
        return "accepted " + accepted + ", opened " + opened + ", active " + active
            + ", messages in/out " + msgsIn + "/" + msgsOut
            + ", bytes in/out " + bytesIn + "/" + bytesOut;
    }
}
