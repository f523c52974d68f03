package org.truflux;

import java.nio.file.Path;
import org.truflux.swig.SWIGTYPE_p_tf_file;
import org.truflux.swig.TrufluxC;

/**
 * A file transfer, as a file event reports it (truflux/file.h). The id matches the one
 * {@link Connection#sendFile} returned. The deciding methods work during the listener call
 * that handed the object out (the handle is borrowed from the event).
 */
public final class FileTransfer {
    private SWIGTYPE_p_tf_file handle;
    private final Connection conn;
    private final long id;
    private final String name;
    private final long size;
    private final boolean incoming;
    private boolean decided;

    FileTransfer(SWIGTYPE_p_tf_file handle, Connection conn) {
        this.handle = handle;
        this.conn = conn;
        id = TrufluxC.tf_file_id(handle);
        name = TrufluxC.tf_file_name(handle);
        size = TrufluxC.tf_file_size(handle);
        incoming = TrufluxC.tf_file_is_incoming(handle) != 0;
    }

    public long id() { return id; }
    public String name() { return name; }
    /** The offered size in bytes, or -1 for a stream. */
    public long size() { return size; }
    public boolean incoming() { return incoming; }
    public Connection connection() { return conn; }

    private SWIGTYPE_p_tf_file h() {
        if (handle == null) throw new TrufluxException.ECLOSED("file event already handled");
        return handle;
    }

    /** Accepts an offer into directory dir (as dir/NAME, written under a temporary name first). */
    public void acceptInto(Path dir) {
        TrufluxException.check(TrufluxC.tf_file_accept_dir(h(), dir.toString()));
        decided = true;
    }

    /** Accepts an offer into exactly this path. */
    public void acceptAs(Path path) {
        TrufluxException.check(TrufluxC.tf_file_accept_path(h(), path.toString()));
        decided = true;
    }

    public void decline() {
        TrufluxException.check(TrufluxC.tf_file_decline(h()));
        decided = true;
    }

    /** Ends the transfer (the peer gets a cancel; onFileEnd follows with ECANCELED). */
    public void cancel() { TrufluxException.check(TrufluxC.tf_file_cancel(h())); }

    boolean decided() { return decided; }

    SWIGTYPE_p_tf_file handle() { return handle; }

    void invalidate() { handle = null; }

    @Override
    public String toString() { return "file #" + id + " " + name + " (" + size + " bytes)"; }
}
