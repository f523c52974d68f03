package org.truflux;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.truflux.swig.SWIGTYPE_p_tf_conn;
import org.truflux.swig.SWIGTYPE_p_tf_event;
import org.truflux.swig.SWIGTYPE_p_tf_file;
import org.truflux.swig.SWIGTYPE_p_tf_loop;
import org.truflux.swig.SWIGTYPE_p_tf_queue;
import org.truflux.swig.TrufluxC;
import org.truflux.swig.tf_event_kind_t;
import org.truflux.swig.tf_secure_info_t;

/**
 * What Client and Server share: the network loop runs on a library thread and reports into
 * an event queue (truflux/queue.h); a Java thread ("truflux-events") pops the queue and calls
 * the Listener. No callback ever runs on the loop's thread, so no JNI upcall is needed.
 */
abstract class Endpoint implements AutoCloseable {
    static final long CLOSE_WAIT_MS = 5000;

    final SWIGTYPE_p_tf_loop loop;
    final SWIGTYPE_p_tf_queue queue;
    final Listener listener;
    final Map<Long, Connection> conns = new ConcurrentHashMap<>();
    private Thread events;
    private volatile boolean stopping;
    private boolean freed;
    private boolean freeAfterEvent;

    Endpoint(Listener listener) {
        Native.load();
        this.listener = listener == null ? new Listener() {} : listener;
        loop = TrufluxC.truflux_loop_new();
        if (loop == null) throw TrufluxException.last();
        queue = TrufluxC.truflux_queue_new(0);
        if (queue == null) {
            TrufluxException e = TrufluxException.last();
            TrufluxC.truflux_loop_free(loop);
            throw e;
        }
    }

    /** Closes gracefully and frees everything; never throws. */
    @Override
    public abstract void close();

    /** Frees the server or client (the loop is stopped by then). */
    abstract void freeNative();

    /** The Connection of an event's conn that is neither open in the map nor the client's. */
    Connection known(long key) { return conns.get(key); }

    /** Reports the end of the client's connection or (conn null) of the server. */
    abstract void onEnded(Connection conn);

    /** Reports an OPEN before the listener hears of it. */
    void onOpened(Connection conn) {}

    /** Starts the loop's thread and the event thread. */
    void start() {
        TrufluxException.check(TrufluxC.tf_loop_start(loop));
        events = new Thread(this::pump, "truflux-events");
        events.setDaemon(true);
        events.start();
    }

    boolean onEventThread() { return Thread.currentThread() == events; }

    private void pump() {
        while (!stopping) {
            if (TrufluxC.tf_queue_wait(queue, 200) <= 0) continue;
            SWIGTYPE_p_tf_event ev;
            while (!stopping && (ev = TrufluxC.tf_queue_pop(queue)) != null) {
                try {
                    dispatch(ev);
                } catch (RuntimeException | Error e) {
                    // A listener's failure must not stop the events of every connection.
                    Thread t = Thread.currentThread();
                    t.getUncaughtExceptionHandler().uncaughtException(t, e);
                } finally {
                    TrufluxC.truflux_event_free(ev);
                }
                synchronized (this) {
                    if (freeAfterEvent) {
                        stopping = true;
                        freeResources();
                        return;
                    }
                }
            }
        }
    }

    private void dispatch(SWIGTYPE_p_tf_event ev) {
        int kind = TrufluxC.tf_event_kind(ev);
        SWIGTYPE_p_tf_conn h = TrufluxC.tf_event_conn(ev);
        Connection conn = null;
        boolean transient_ = false;
        if (h != null) {
            conn = known(TrufluxC.tfs_conn_key(h));
            if (conn == null) {
                if (kind == tf_event_kind_t.TRUFLUX_EVENT_OPEN) {
                    conn = new Connection(h, true);
                    conns.put(conn.key(), conn);
                } else {
                    conn = new Connection(h, false);
                    transient_ = true;
                }
            }
        }
        try {
            dispatch(ev, kind, conn);
        } finally {
            if (transient_) conn.release();
        }
    }

    private void dispatch(SWIGTYPE_p_tf_event ev, int kind, Connection conn) {
        switch (kind) {
            case tf_event_kind_t.TRUFLUX_EVENT_OPEN:
                onOpened(conn);
                listener.onOpen(conn);
                break;
            case tf_event_kind_t.TRUFLUX_EVENT_MESSAGE:
                listener.onMessage(conn, new Message(TrufluxC.tfs_event_msg_id(ev),
                    TrufluxC.tfs_event_msg_name(ev), Type.of(TrufluxC.tfs_event_msg_type(ev)),
                    TrufluxC.tfs_event_msg_data(ev)));
                break;
            case tf_event_kind_t.TRUFLUX_EVENT_CLOSE:
                try {
                    if (conn != null)
                        listener.onClose(conn, TrufluxC.tf_event_code(ev),
                                         TrufluxC.tf_event_remote(ev) != 0);
                } finally {
                    if (conn != null && conns.remove(conn.key()) != null) conn.release();
                    onEnded(conn);
                }
                break;
            case tf_event_kind_t.TRUFLUX_EVENT_ERROR:
                listener.onError(conn, error(ev));
                break;
            case tf_event_kind_t.TRUFLUX_EVENT_DRAIN:
                listener.onDrain(conn);
                break;
            case tf_event_kind_t.TRUFLUX_EVENT_SECURE: {
                tf_secure_info_t info = new tf_secure_info_t();
                try {
                    TrufluxC.tf_event_secure_info(ev, info);
                    listener.onSecure(conn, new SecureInfo(info));
                } finally {
                    info.delete();
                }
                break;
            }
            case tf_event_kind_t.TRUFLUX_EVENT_SECURE_FAIL:
                listener.onSecureFail(conn, error(ev));
                break;
            default:
                SWIGTYPE_p_tf_file f = TrufluxC.tf_event_file(ev);
                if (f != null) fileEvent(ev, kind, new FileTransfer(f, conn));
                break;
        }
    }

    private static TrufluxException error(SWIGTYPE_p_tf_event ev) {
        return TrufluxException.of(TrufluxC.tf_event_code(ev), TrufluxC.tf_event_detail(ev));
    }

    private void fileEvent(SWIGTYPE_p_tf_event ev, int kind, FileTransfer file) {
        try {
            switch (kind) {
                case tf_event_kind_t.TRUFLUX_EVENT_FILE_OFFER:
                    try {
                        listener.onFileOffer(file);
                    } finally {
                        // Undecided offers would wait forever in a queue-driven program.
                        if (!file.decided()) TrufluxC.tf_file_decline(file.handle());
                    }
                    break;
                case tf_event_kind_t.TRUFLUX_EVENT_FILE_ACCEPT: listener.onFileAccept(file); break;
                case tf_event_kind_t.TRUFLUX_EVENT_FILE_DECLINE:
                    listener.onFileDecline(file);
                    break;
                case tf_event_kind_t.TRUFLUX_EVENT_FILE_PROGRESS:
                    listener.onFileProgress(file, TrufluxC.tfs_event_progress_done(ev),
                                            TrufluxC.tfs_event_progress_total(ev));
                    break;
                case tf_event_kind_t.TRUFLUX_EVENT_FILE_ERROR:
                    listener.onFileError(file, error(ev));
                    break;
                case tf_event_kind_t.TRUFLUX_EVENT_FILE_END:
                    listener.onFileEnd(file, TrufluxC.tf_event_code(ev));
                    break;
                default:
                    break; // pause, resume, cancel: the end event reports the outcome
            }
        } finally {
            file.invalidate();
        }
    }

    /**
     * Stops everything and frees the native objects. On the event thread (a listener closing
     * its own endpoint) the free waits until the current event is done.
     */
    void shutdown() {
        synchronized (this) {
            if (freed || freeAfterEvent) return;
            if (onEventThread()) {
                freeAfterEvent = true;
                return;
            }
            stopping = true;
        }
        TrufluxC.tf_queue_wake(queue);
        if (events != null) {
            try {
                events.join(CLOSE_WAIT_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (this) {
            freeResources();
        }
    }

    private void freeResources() {
        if (freed) return;
        freed = true;
        TrufluxC.tf_loop_stop(loop);
        freeNative();
        for (Connection c : conns.values()) c.release();
        conns.clear();
        SWIGTYPE_p_tf_event ev;
        while ((ev = TrufluxC.tf_queue_pop(queue)) != null) TrufluxC.truflux_event_free(ev);
        TrufluxC.truflux_queue_free(queue);
        TrufluxC.truflux_loop_free(loop);
    }

    synchronized boolean isFreed() { return freed || freeAfterEvent; }
}
