package org.truflux;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.truflux.swig.SWIGTYPE_p_tf_conn;
import org.truflux.swig.TrufluxC;
import org.truflux.swig.tf_secure_info_t;

/**
 * A connection (truflux/conn.h). Sends and closes are safe from any thread. A connection
 * handed to onOpen stays usable until its onClose has returned; after that (and for one
 * that never opened, after the listener call) its methods throw TrufluxException.ECLOSED.
 */
public final class Connection {
    private SWIGTYPE_p_tf_conn handle;
    private final long key;
    private final boolean retained;

    Connection(SWIGTYPE_p_tf_conn handle, boolean retain) {
        this.handle = retain ? TrufluxC.tf_conn_retain(handle) : handle;
        this.key = TrufluxC.tfs_conn_key(handle);
        this.retained = retain;
    }

    long key() { return key; }

    private SWIGTYPE_p_tf_conn h() {
        if (handle == null) throw new TrufluxException.ECLOSED("connection released");
        return handle;
    }

    /** Sends a message of this type (data may be null for EMPTY). */
    public synchronized void send(String name, Type type, byte[] data) {
        TrufluxException.check(TrufluxC.tf_send_name(h(), name, type.code(),
                                                      data == null ? new byte[0] : data));
    }

    /** Sends text (TEXT). */
    public void send(String name, String text) {
        send(name, Type.TEXT, text.getBytes(StandardCharsets.UTF_8));
    }

    /** Sends bytes (BINARY). */
    public void send(String name, byte[] data) { send(name, Type.BINARY, data); }

    /** Sends a value as MessagePack (MSGPACK; see {@link MsgPack#encode}). */
    public void sendValue(String name, Object value) {
        send(name, Type.MSGPACK, MsgPack.encode(value));
    }

    /** Sends a message without payload (EMPTY). */
    public void send(String name) { send(name, Type.EMPTY, null); }

    /** Closes gracefully; onClose follows. Closing a closed connection does nothing. */
    public void close() { close(0); }

    /** Closes gracefully with a reason code for the peer (0 or a TRUFLUX_E* code). */
    public synchronized void close(int code) {
        if (handle == null) return;
        int rc = TrufluxC.tf_conn_close(handle, 0, code);
        if (rc != TrufluxException.ECLOSED.CODE) TrufluxException.check(rc);
    }

    public synchronized boolean isOpen() {
        return handle != null && TrufluxC.tf_conn_is_open(handle) != 0;
    }

    /** The peer's address ("" when the connection has no socket). */
    public synchronized String remoteHost() { return TrufluxC.tfs_conn_remote_host(h()); }

    public synchronized int remotePort() { return TrufluxC.tfs_conn_remote_port(h()); }

    /** What the secure handshake established, or null when the connection has no secure layer. */
    public synchronized SecureInfo secureInfo() {
        tf_secure_info_t info = new tf_secure_info_t();
        try {
            if (TrufluxC.tf_conn_secure_info(h(), info) != 0) return null;
            return new SecureInfo(info);
        } finally {
            info.delete();
        }
    }

    /**
     * Offers the file at path to the peer (name: what the peer is told; null: the file's
     * name). Returns the transfer's id, which its FileTransfer events carry.
     */
    public synchronized long sendFile(Path path, String name) {
        long id = TrufluxC.tfs_file_send_path(h(), path.toString(), name);
        if (id < 0) throw TrufluxException.of((int) id, path.toString());
        return id;
    }

    public long sendFile(Path path) { return sendFile(path, null); }

    synchronized SWIGTYPE_p_tf_conn handleForBroadcast() { return h(); }

    /** Drops the handle (and the reference, if this object took one). */
    synchronized void release() {
        if (handle != null && retained) TrufluxC.tf_conn_release(handle);
        handle = null;
    }

    @Override
    public String toString() { return "Connection@" + Long.toHexString(key); }
}
