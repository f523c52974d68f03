package org.truflux;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.truflux.swig.SWIGTYPE_p_tf_options;
import org.truflux.swig.SWIGTYPE_p_tf_server;
import org.truflux.swig.TrufluxC;

/**
 * A server (truflux/server.h): accepts connections on the addresses given to
 * {@link #listen}, events to a {@link Listener} on the server's event thread. Close it
 * (try-with-resources) to close every connection gracefully and free it.
 */
public final class Server extends Endpoint {
    private SWIGTYPE_p_tf_server handle;
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
        if (handle != null) TrufluxC.truflux_server_free(handle);
        handle = null;
    }
}
