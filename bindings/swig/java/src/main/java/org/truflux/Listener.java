package org.truflux;

/**
 * The events of a client or a server. Every method has an empty default: implement what you
 * need. They run one at a time on the endpoint's event thread ("truflux-events"), never on
 * the network loop, so they may block briefly, send, close, or decide file offers.
 */
public interface Listener {
    /** The hello exchange finished (after the secure handshake when one is required). */
    default void onOpen(Connection conn) {}

    default void onMessage(Connection conn, Message msg) {}

    /**
     * The connection ended: reason 0 after a graceful close, else the error code; remote is
     * true when the peer ended it.
     */
    default void onClose(Connection conn, int reason, boolean remote) {}

    /** An error; conn may be null (e.g. a server-level failure). */
    default void onError(Connection conn, TrufluxException error) {}

    /** The send queue drained after a send failed with TrufluxException.EAGAIN. */
    default void onDrain(Connection conn) {}

    /** The secure handshake finished. */
    default void onSecure(Connection conn, SecureInfo info) {}

    /** The connection could not be secured (ENOCIPHER, EPIN, EAUTH, ENOTSECURE, ...). */
    default void onSecureFail(Connection conn, TrufluxException error) {}

    /**
     * The peer offers a file: decide now with {@link FileTransfer#acceptInto},
     * {@link FileTransfer#acceptAs} or {@link FileTransfer#decline}; an offer left
     * undecided when this returns is declined.
     */
    default void onFileOffer(FileTransfer file) {}

    /** The peer accepted our offer. */
    default void onFileAccept(FileTransfer file) {}

    /** The peer declined our offer (onFileEnd follows with EDECLINED). */
    default void onFileDecline(FileTransfer file) {}

    /** Content moved: done bytes of total (-1: a stream). Coalesced. */
    default void onFileProgress(FileTransfer file, long done, long total) {}

    /** The transfer failed (onFileEnd follows). */
    default void onFileError(FileTransfer file, TrufluxException error) {}

    /**
     * The transfer is over: status 0 when the receiver verified the whole content, else
     * the code (EDECLINED, ECANCELED, ECLOSED, ...).
     */
    default void onFileEnd(FileTransfer file, int status) {}
}
