package org.truflux;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.truflux.swig.SWIGTYPE_p_tf_loop;
import org.truflux.swig.SWIGTYPE_p_tf_options;
import org.truflux.swig.SWIGTYPE_p_tf_server;
import org.truflux.swig.TrufluxC;
import org.truflux.swig.tf_server_stats_t;

/**
 * A server (truflux/server.h): accepts connections on the addresses given to
 * {@link #listen}, events to a {@link Listener} on the server's event thread. Close it
 * (try-with-resources) to close every connection gracefully and free it.
 */
public final class Server extends Endpoint {
    private SWIGTYPE_p_tf_server handle;
    private final List<SWIGTYPE_p_tf_loop> added = new ArrayList<>();
    private boolean listening;
    private final CountDownLatch done = new CountDownLatch(1);

    public Server(Protocol protocol, Options options, Listener listener) {
        super(listener);
        SWIGTYPE_p_tf_options o = null;
        try {
            o = options == null ? null : options.build();
            handle = TrufluxC.truflux_server_new(loop, protocol.handle(), o);
            if (handle == null) throw TrufluxException.last();
            TrufluxException.check(TrufluxC.tfs_server_use_queue(handle, queue, 1));
            TrufluxException.check(TrufluxC.tfs_server_use_queue_files(handle, queue, 1));
        } catch (RuntimeException e) {
            shutdown();
            throw e;
        } finally {
            if (o != null) TrufluxC.truflux_options_free(o);
        }
    }

    public Server(Protocol protocol, Listener listener) { this(protocol, null, listener); }

    /**
     * Spreads the server over one more network loop, run by a library thread of its own
     * (tf_server_add_loop): every address {@link #listen} then gets one listening socket per
     * loop (SO_REUSEPORT), and the kernel shares new connections out among them. Before
     * listen only ({@link TrufluxException.EINVAL} after). The Listener still runs on the
     * one event thread, one event at a time.
     */
    public synchronized Server addLoop() {
        if (isFreed()) throw new TrufluxException.ECLOSED("server closed");
        SWIGTYPE_p_tf_loop l = TrufluxC.truflux_loop_new();
        if (l == null) throw TrufluxException.last();
        // Running before it joins the server, so that a failure leaves nothing half-added.
        int rc = TrufluxC.tf_loop_start(l);
        if (rc == 0) rc = TrufluxC.tf_server_add_loop(handle, l);
        if (rc < 0) {
            TrufluxC.tf_loop_stop(l);
            TrufluxC.truflux_loop_free(l);
            throw TrufluxException.of(rc, listening ? "addLoop: only before listen"
                                                    : TrufluxC.tf_last_error_detail());
        }
        added.add(l);
        return this;
    }

    /** The loops the server runs on: its own and the added ones. */
    public synchronized int loops() { return 1 + added.size(); }

    /**
     * Listens on every url ("tcp://HOST:PORT"; port 0 picks a free one) and starts serving.
     * Once per server: give every address in one call.
     */
    public synchronized Server listen(String... urls) {
        if (listening || isFreed())
            throw new TrufluxException.EBUSY("listen once, with every address");
        for (String url : urls) TrufluxException.checkLast(TrufluxC.tf_server_listen(handle, url));
        start();
        listening = true;
        return this;
    }

    /** The port of the first listening address. */
    public synchronized int port() { return isFreed() ? 0 : TrufluxC.tf_server_port(handle); }

    /** Open connections. */
    public synchronized long count() { return isFreed() ? 0 : TrufluxC.tf_server_count(handle); }

    /** The server's counters, summed over every loop (tf_server_stats). */
    public synchronized ServerStats stats() {
        if (isFreed()) throw new TrufluxException.ECLOSED("server closed");
        tf_server_stats_t st = new tf_server_stats_t();
        try {
            TrufluxException.check(TrufluxC.tf_server_stats(handle, st));
            return new ServerStats(st);
        } finally {
            st.delete();
        }
    }

    /** Sends to every open connection but except (may be null). */
    public synchronized void broadcast(String name, Type type, byte[] data, Connection except) {
        if (isFreed()) throw new TrufluxException.ECLOSED("server closed");
        long id = TrufluxC.tf_protocol_name_id(name);
        TrufluxException.check(TrufluxC.tfs_server_broadcast(handle, id, type.code(),
            data == null ? new byte[0] : data,
            except == null ? null : except.handleForBroadcast()));
    }

    @Override
    void onEnded(Connection c) { if (c == null) done.countDown(); }

    /**
     * Closes every connection gracefully (each gets onClose), waits at most 5 s, and frees
     * the server. Idempotent.
     */
    @Override
    public void close() {
        boolean wait;
        synchronized (this) {
            if (isFreed()) return;
            wait = listening && done.getCount() > 0 && !onEventThread()
                   && TrufluxC.tf_server_close(handle, 0) == 0;
        }
        if (wait) {
            try {
                done.await(CLOSE_WAIT_MS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        shutdown();
    }

    @Override
    void freeNative() {
        // The server's own loop is stopped by now. Each added loop holds a part of the
        // server: stopped before the server is freed, freed after it.
        for (SWIGTYPE_p_tf_loop l : added) TrufluxC.tf_loop_stop(l);
        if (handle != null) TrufluxC.truflux_server_free(handle);
        handle = null;
        for (SWIGTYPE_p_tf_loop l : added) TrufluxC.truflux_loop_free(l);
        added.clear();
    }
}
