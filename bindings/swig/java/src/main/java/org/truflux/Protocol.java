package org.truflux;

import org.truflux.swig.SWIGTYPE_p_tf_protocol;
import org.truflux.swig.TrufluxC;

/**
 * A protocol definition: the messages (by name; ids derive from names, so programs in any
 * language that define the same names agree) and their schemas. Servers and clients take
 * their own reference, so closing the Protocol after creating them is fine.
 */
public final class Protocol implements AutoCloseable {
    private SWIGTYPE_p_tf_protocol handle;

    /** A protocol defining these messages, each of any type. */
    public Protocol(String... names) {
        Native.load();
        handle = TrufluxC.truflux_protocol_new();
        if (handle == null) throw TrufluxException.last();
        for (String n : names) add(n);
    }

    /** Defines a message accepting the given types (none: any type), of any size. */
    public Protocol add(String name, Type... types) { return add(name, 0, types); }

    /** Defines a message of at most maxSize payload bytes (0: the connection's limit). */
    public synchronized Protocol add(String name, long maxSize, Type... types) {
        long mask = 0;
        for (Type t : types) mask |= 1L << t.code();
        TrufluxException.check((int) TrufluxC.tf_protocol_add(handle(), name, mask, maxSize));
        return this;
    }

    /** The id of a defined message. */
    public synchronized long id(String name) {
        long id = TrufluxC.tf_protocol_id(handle(), name);
        if (id < 0) throw TrufluxException.of((int) id, name);
        return id;
    }

    synchronized SWIGTYPE_p_tf_protocol handle() {
        if (handle == null) throw new TrufluxException.ECLOSED("protocol closed");
        return handle;
    }

    @Override
    public synchronized void close() {
        if (handle != null) TrufluxC.truflux_protocol_free(handle);
        handle = null;
    }
}
