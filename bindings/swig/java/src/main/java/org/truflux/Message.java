package org.truflux;

import java.nio.charset.StandardCharsets;

/** A received message: its id, its name in our protocol, its type and its payload (a copy). */
public final class Message {
    private final long id;
    private final String name;
    private final Type type;
    private final byte[] data;

    Message(long id, String name, Type type, byte[] data) {
        this.id = id;
        this.name = name;
        this.type = type;
        this.data = data;
    }

    public long id() { return id; }
    public String name() { return name; }
    public Type type() { return type; }

    /** The payload bytes (the array is the message's own: copy before changing it). */
    public byte[] data() { return data; }

    /** The payload as text (TEXT payloads are valid UTF-8: the receiver checked). */
    public String text() { return new String(data, StandardCharsets.UTF_8); }

    /** A MSGPACK payload decoded (see {@link MsgPack#decode}); null for an empty payload. */
    public Object value() { return data.length == 0 ? null : MsgPack.decode(data); }

    @Override
    public String toString() {
        return name + " (" + type + ", " + data.length + " bytes)";
    }
}
