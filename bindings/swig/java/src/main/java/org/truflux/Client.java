package org.truflux;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.truflux.swig.SWIGTYPE_p_tf_client;
import org.truflux.swig.SWIGTYPE_p_tf_options;
import org.truflux.swig.TrufluxC;

/**
 * A client: one connection to a server (truflux/client.h), events to a {@link Listener} on
 * the client's event thread. Close it (try-with-resources) to end the connection gracefully
 * and free it.
 *
 * <pre>{@code
 * try (Client c = new Client(new Protocol("echo"), null, new Listener() {
 *         public void onMessage(Connection conn, Message m) { System.out.println(m.text()); }
 *     })) {
 *     c.connect("tcp://127.0.0.1:7000");
 *     c.connection().send("echo", "hello");
 *     ...
 * }
 * }</pre>
 */
public final class Client extends Endpoint {
    private SWIGTYPE_p_tf_client handle;
    private volatile Connection conn;
    private volatile CountDownLatch opened = new CountDownLatch(1);
    private volatile CountDownLatch ended = new CountDownLatch(1);
    private volatile boolean freeOnEnd;

    /** A client speaking protocol; options may be null (defaults), listener null (no events). */
    public Client(Protocol protocol, Options options, Listener listener) {
        super(listener);
        SWIGTYPE_p_tf_options o = null;
        try {
            o = options == null ? null : options.build();
            handle = TrufluxC.truflux_client_new(loop, protocol.handle(), o);
            if (handle == null) throw TrufluxException.last();
            TrufluxException.check(TrufluxC.tfs_client_use_queue(handle, queue, 1));
            TrufluxException.check(TrufluxC.tfs_client_use_queue_files(handle, queue, 1));
            start();
        } catch (RuntimeException e) {
            shutdown();
            throw e;
        } finally {
            if (o != null) TrufluxC.truflux_options_free(o);
        }
    }

    public Client(Protocol protocol, Listener listener) { this(protocol, null, listener); }

    /**
     * Starts connecting to url ("tcp://HOST:PORT", "ws://...", "tls://..."); onOpen, or
     * onError then onClose, follow. Returns the client's connection, usable at once: messages
     * sent before it opens are queued.
     */
    public synchronized Connection connect(String url) {
        if (isFreed()) throw new TrufluxException.ECLOSED("client closed");
        opened = new CountDownLatch(1);
        ended = new CountDownLatch(1);
        TrufluxException.checkLast(TrufluxC.tf_client_connect(handle, url));
        if (conn == null) conn = new Connection(TrufluxC.tf_client_conn(handle), false);
        return conn;
    }

    /** The connection (the same object across reconnects); null before connect. */
    public Connection connection() { return conn; }

    /** Waits until the connection opened (true) or ended or the time passed (false). */
    public boolean awaitOpen(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        while (true) {
            long left = deadline - System.nanoTime();
            long slice = Math.min(left, TimeUnit.MILLISECONDS.toNanos(50));
            if (opened.await(slice, TimeUnit.NANOSECONDS)) return true;
            if (ended.getCount() == 0 || left <= 0) return false;
        }
    }

    /** Waits until the connection ended (true) or the time passed (false). */
    public boolean awaitClose(long timeout, TimeUnit unit) throws InterruptedException {
        return ended.await(timeout, unit);
    }

    @Override
    Connection known(long key) {
        Connection c = conn;
        return c != null && c.key() == key ? c : super.known(key);
    }

    // A client has one connection, so every OPEN and CLOSE is about it. Compared by identity,
    // an OPEN that the event thread handled before connect() stored `conn` (a fast loopback
    // connect under load) was missed, and awaitOpen timed out.
    @Override
    void onOpened(Connection c) { opened.countDown(); }

    @Override
    void onEnded(Connection c) {
        if (c != null) {
            ended.countDown();
            if (freeOnEnd) shutdown();
        }
    }

    /**
     * Closes the connection gracefully, waits (at most 5 s) for it to end, and frees the
     * client. From a listener it returns at once and the client is freed when the
     * connection has ended. Idempotent.
     */
    @Override
    public void close() {
        boolean wait;
        synchronized (this) {
            if (isFreed()) return;
            wait = conn != null && ended.getCount() > 0
                   && TrufluxC.tf_client_close(handle, 0) == 0;
            if (wait && onEventThread()) {
                freeOnEnd = true;
                return;
            }
        }
        if (wait) {
            try {
                ended.await(CLOSE_WAIT_MS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        shutdown();
    }

    @Override
    void freeNative() {
        if (conn != null) conn.release();
        if (handle != null) TrufluxC.truflux_client_free(handle);
        handle = null;
    }
}
