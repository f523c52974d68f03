package org.truflux;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small MessagePack codec for MSGPACK payloads (the JDK has none).
 *
 * <p>Encodes null, Boolean, Byte/Short/Integer/Long, Float/Double, String, byte[], any
 * Collection or Object[] (array) and any Map. Decodes to null, Boolean, Long, Double (float32
 * too), String, byte[], List&lt;Object&gt; and Map&lt;Object, Object&gt; (insertion order
 * kept). Extension types are refused; a uint64 above Long.MAX_VALUE decodes negative.
 */
public final class MsgPack {
    private static final int MAX_DEPTH = 64;

    private MsgPack() {}

    public static byte[] encode(Object value) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        encode(out, value, 0);
        return out.toByteArray();
    }

    private static void encode(ByteArrayOutputStream out, Object v, int depth) {
        if (depth > MAX_DEPTH) throw new IllegalArgumentException("msgpack: nesting too deep");
        if (v == null) {
            out.write(0xc0);
        } else if (v instanceof Boolean) {
            out.write((Boolean) v ? 0xc3 : 0xc2);
        } else if (v instanceof Byte || v instanceof Short || v instanceof Integer
                   || v instanceof Long) {
            encodeLong(out, ((Number) v).longValue());
        } else if (v instanceof Float || v instanceof Double) {
            out.write(0xcb);
            be(out, Double.doubleToLongBits(((Number) v).doubleValue()), 8);
        } else if (v instanceof String) {
            byte[] b = ((String) v).getBytes(StandardCharsets.UTF_8);
            head(out, b.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
            out.write(b, 0, b.length);
        } else if (v instanceof byte[]) {
            byte[] b = (byte[]) v;
            head(out, b.length, -1, -1, 0xc4, 0xc5, 0xc6);
            out.write(b, 0, b.length);
        } else if (v instanceof Collection) {
            Collection<?> c = (Collection<?>) v;
            head(out, c.size(), 0x90, 15, -1, 0xdc, 0xdd);
            for (Object x : c) encode(out, x, depth + 1);
        } else if (v instanceof Object[]) {
            Object[] a = (Object[]) v;
            head(out, a.length, 0x90, 15, -1, 0xdc, 0xdd);
            for (Object x : a) encode(out, x, depth + 1);
        } else if (v instanceof Map) {
            Map<?, ?> m = (Map<?, ?>) v;
            head(out, m.size(), 0x80, 15, -1, 0xde, 0xdf);
            for (Map.Entry<?, ?> e : m.entrySet()) {
                encode(out, e.getKey(), depth + 1);
                encode(out, e.getValue(), depth + 1);
            }
        } else {
            throw new IllegalArgumentException("msgpack: cannot encode " + v.getClass().getName());
        }
    }

    private static void encodeLong(ByteArrayOutputStream out, long n) {
        if (n >= 0) {
            if (n < 0x80) out.write((int) n);
            else if (n < 0x100) { out.write(0xcc); be(out, n, 1); }
            else if (n < 0x10000) { out.write(0xcd); be(out, n, 2); }
            else if (n < 0x100000000L) { out.write(0xce); be(out, n, 4); }
            else { out.write(0xcf); be(out, n, 8); }
        } else {
            if (n >= -32) out.write((int) n & 0xff);
            else if (n >= -0x80) { out.write(0xd0); be(out, n, 1); }
            else if (n >= -0x8000) { out.write(0xd1); be(out, n, 2); }
            else if (n >= -0x80000000L) { out.write(0xd2); be(out, n, 4); }
            else { out.write(0xd3); be(out, n, 8); }
        }
    }

    /** A length header: fix form up to fixMax, then 8-, 16-, 32-bit forms (-1: none). */
    private static void head(ByteArrayOutputStream out, int n, int fix, int fixMax, int t8,
                             int t16, int t32) {
        if (fix >= 0 && n <= fixMax) out.write(fix + n);
        else if (t8 >= 0 && n < 0x100) { out.write(t8); be(out, n, 1); }
        else if (n < 0x10000) { out.write(t16); be(out, n, 2); }
        else { out.write(t32); be(out, n, 4); }
    }

    private static void be(ByteArrayOutputStream out, long v, int bytes) {
        for (int i = bytes - 1; i >= 0; i--) out.write((int) (v >>> (8 * i)) & 0xff);
    }

    /** The one value the bytes hold; IllegalArgumentException if malformed or trailed. */
    public static Object decode(byte[] data) {
        ByteBuffer in = ByteBuffer.wrap(data);
        try {
            Object v = decode(in, 0);
            if (in.hasRemaining()) throw new IllegalArgumentException("msgpack: trailing bytes");
            return v;
        } catch (java.nio.BufferUnderflowException e) {
            throw new IllegalArgumentException("msgpack: truncated", e);
        }
    }

    private static Object decode(ByteBuffer in, int depth) {
        if (depth > MAX_DEPTH) throw new IllegalArgumentException("msgpack: nesting too deep");
        int b = in.get() & 0xff;
        if (b < 0x80) return (long) b;
        if (b >= 0xe0) return (long) (byte) b;
        if (b >= 0xa0 && b <= 0xbf) return str(in, b - 0xa0);
        if (b >= 0x90 && b <= 0x9f) return list(in, b - 0x90, depth);
        if (b >= 0x80 && b <= 0x8f) return map(in, b - 0x80, depth);
        switch (b) {
            case 0xc0: return null;
            case 0xc2: return false;
            case 0xc3: return true;
            case 0xc4: return bin(in, in.get() & 0xff);
            case 0xc5: return bin(in, in.getShort() & 0xffff);
            case 0xc6: return bin(in, len32(in));
            case 0xca: return (double) in.getFloat();
            case 0xcb: return in.getDouble();
            case 0xcc: return (long) (in.get() & 0xff);
            case 0xcd: return (long) (in.getShort() & 0xffff);
            case 0xce: return in.getInt() & 0xffffffffL;
            case 0xcf: return in.getLong();
            case 0xd0: return (long) in.get();
            case 0xd1: return (long) in.getShort();
            case 0xd2: return (long) in.getInt();
            case 0xd3: return in.getLong();
            case 0xd9: return str(in, in.get() & 0xff);
            case 0xda: return str(in, in.getShort() & 0xffff);
            case 0xdb: return str(in, len32(in));
            case 0xdc: return list(in, in.getShort() & 0xffff, depth);
            case 0xdd: return list(in, len32(in), depth);
            case 0xde: return map(in, in.getShort() & 0xffff, depth);
            case 0xdf: return map(in, len32(in), depth);
            default:
                throw new IllegalArgumentException(
                    String.format("msgpack: unsupported type 0x%02x", b));
        }
    }

    private static int len32(ByteBuffer in) {
        long n = in.getInt() & 0xffffffffL;
        if (n > in.remaining()) throw new IllegalArgumentException("msgpack: truncated");
        return (int) n;
    }

    private static byte[] bin(ByteBuffer in, int n) {
        byte[] b = new byte[n];
        in.get(b);
        return b;
    }

    private static String str(ByteBuffer in, int n) {
        byte[] b = bin(in, n);
        try {
            return StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("msgpack: str is not UTF-8", e);
        }
    }

    private static List<Object> list(ByteBuffer in, int n, int depth) {
        // Each element takes a byte at least: a forged count cannot allocate beyond the input.
        if (n > in.remaining()) throw new IllegalArgumentException("msgpack: truncated");
        List<Object> l = new ArrayList<>(n);
        for (int i = 0; i < n; i++) l.add(decode(in, depth + 1));
        return l;
    }

    private static Map<Object, Object> map(ByteBuffer in, int n, int depth) {
        if (n > in.remaining() / 2) throw new IllegalArgumentException("msgpack: truncated");
        Map<Object, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            Object k = decode(in, depth + 1);
            m.put(k, decode(in, depth + 1));
        }
        return m;
    }
}
