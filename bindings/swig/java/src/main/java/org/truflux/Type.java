package org.truflux;

/** The payload type every message carries (truflux/protocol.h, tf_type_t). */
public enum Type {
    EMPTY(0), BINARY(1), TEXT(2), MSGPACK(3);

    private final int code;

    Type(int code) { this.code = code; }

    /** The C API's TRUFLUX_TYPE_* number. */
    public int code() { return code; }

    /** The type of a TRUFLUX_TYPE_* number. */
    public static Type of(int code) {
        for (Type t : values()) if (t.code == code) return t;
        throw new IllegalArgumentException("no payload type " + code);
    }
}
