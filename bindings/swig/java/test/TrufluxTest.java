// The Java binding's tests, in one JVM: MessagePack, the error classes, each payload type
// through an echo server (`truflux serve`), an encrypted session, a file transfer, a Java
// server (also on two loops, with its counters), and examples/java/EchoClient.
//
// usage: TrufluxTest URL SERVER_PUB_FILE OTHER_PUB_FILE ACCEPT_DIR WORK_DIR
//   URL: a `truflux serve --secure optional --key K --accept-files ACCEPT_DIR` server.

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.truflux.Client;
import org.truflux.Connection;
import org.truflux.FileTransfer;
import org.truflux.Listener;
import org.truflux.Message;
import org.truflux.MsgPack;
import org.truflux.Options;
import org.truflux.Protocol;
import org.truflux.SecureInfo;
import org.truflux.Server;
import org.truflux.ServerStats;
import org.truflux.TrufluxException;
import org.truflux.Type;

public final class TrufluxTest {
    private static int passed;
    private static int failed;
    private static final long WAIT = 10;

    private static void check(boolean ok, String what) {
        if (ok) {
            passed++;
        } else {
            failed++;
            System.err.println("FAIL: " + what);
        }
    }

    /** The future's value, or null when it does not complete in time (a check then fails). */
    static <T> T await(CompletableFuture<T> f, long seconds) throws Exception {
        try {
            return f.get(seconds, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            return null;
        }
    }

    /** Records every event of a client for the test's thread to await. */
    static final class Recorder implements Listener {
        final BlockingQueue<Message> messages = new LinkedBlockingQueue<>();
        final BlockingQueue<TrufluxException> errors = new LinkedBlockingQueue<>();
        final CompletableFuture<SecureInfo> secure = new CompletableFuture<>();
        final CompletableFuture<Integer> closed = new CompletableFuture<>();
        final CompletableFuture<Integer> fileEnd = new CompletableFuture<>();
        volatile long fileId = -1;

        @Override public void onMessage(Connection c, Message m) { messages.add(m); }
        @Override public void onError(Connection c, TrufluxException e) { errors.add(e); }
        @Override public void onSecureFail(Connection c, TrufluxException e) { errors.add(e); }
        @Override public void onSecure(Connection c, SecureInfo i) { secure.complete(i); }
        @Override public void onClose(Connection c, int reason, boolean remote) { closed.complete(reason); }
        @Override public void onFileEnd(FileTransfer f, int status) {
            fileId = f.id();
            fileEnd.complete(status);
        }

        Message next() throws InterruptedException { return messages.poll(WAIT, TimeUnit.SECONDS); }
    }

    public static void main(String[] args) throws Exception {
        String url = args[0];
        String serverPub = Files.readString(Paths.get(args[1])).trim();
        Path otherPub = Paths.get(args[2]);
        Path acceptDir = Paths.get(args[3]);
        Path work = Paths.get(args[4]);
        msgpack();
        errors(url);
        payloads(url);
        secure(url, Paths.get(args[1]), serverPub, otherPub);
        files(url, acceptDir, work);
        javaServer(work);
        serverLoops();
        example(url);
        System.out.println("TrufluxTest: " + passed + " passed, " + failed + " failed");
        System.exit(failed == 0 && passed > 0 ? 0 : 1);
    }

    static void msgpack() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("int", 1L);
        m.put("neg", -70000L);
        m.put("big", Long.MAX_VALUE);
        m.put("min", Long.MIN_VALUE);
        m.put("pi", 3.5);
        m.put("t", true);
        m.put("nil", null);
        m.put("text", "h\u00e9llo \u2603");
        m.put("list", List.of(1L, "two", List.of()));
        m.put("long", "x".repeat(70000));
        Object back = MsgPack.decode(MsgPack.encode(m));
        check(m.equals(back), "msgpack map round trip: " + back);
        byte[] bin = {0, 1, (byte) 0xff};
        check(Arrays.equals(bin, (byte[]) MsgPack.decode(MsgPack.encode(bin))), "msgpack bin");
        // Known encodings (the MessagePack spec's): fixmap {"a": 1}, int16 -129, nil.
        check(Arrays.equals(new byte[] {(byte) 0x81, (byte) 0xa1, 'a', 1},
                            MsgPack.encode(Map.of("a", 1))), "msgpack fixmap bytes");
        check(Arrays.equals(new byte[] {(byte) 0xd1, (byte) 0xff, 0x7f}, MsgPack.encode(-129)),
              "msgpack int16 bytes");
        for (byte[] bad : new byte[][] {{(byte) 0x92, 1}, {(byte) 0xc1}, {1, 2}, {(byte) 0xdd, 0x7f, 0, 0, 0}}) {
            boolean threw = false;
            try {
                MsgPack.decode(bad);
            } catch (IllegalArgumentException e) {
                threw = true;
            }
            check(threw, "msgpack rejects " + Arrays.toString(bad));
        }
    }

    static void errors(String url) throws Exception {
        // A code maps to its own class, generated from error.h.
        TrufluxException e = TrufluxException.of(-18, "x");
        check(e instanceof TrufluxException.ECONNREFUSED && e.code() == -18
              && e.name().equals("ECONNREFUSED"), "ECONNREFUSED class: " + e);
        check(TrufluxException.of(-70, null) instanceof TrufluxException.EQUEUEFULL, "EQUEUEFULL class");
        check(TrufluxException.of(-999, null).getClass() == TrufluxException.class, "unknown code");
        try (Protocol p = new Protocol("echo")) {
            boolean threw = false;
            try {
                p.add("echo");
            } catch (TrufluxException.EEXIST x) {
                threw = true;
            }
            check(threw, "duplicate message gives EEXIST");
            // A refused connection: onError with ECONNREFUSED, then onClose with its code.
            Recorder r = new Recorder();
            try (Client c = new Client(p, r)) {
                c.connect("tcp://127.0.0.1:1");
                TrufluxException err = r.errors.poll(WAIT, TimeUnit.SECONDS);
                check(err instanceof TrufluxException.ECONNREFUSED, "refused: " + err);
                check(Objects.equals(await(r.closed, WAIT), TrufluxException.ECONNREFUSED.CODE),
                      "refused: close reason");
            }
            boolean bad = false;
            try (Client c = new Client(p, null)) {
                c.connect("nope://x");
            } catch (TrufluxException.EBADURL x) {
                bad = true;
            }
            check(bad, "bad URL gives EBADURL");
            Recorder r2 = new Recorder();
            try (Client c = new Client(p, r2)) {
                Connection conn = c.connect(url);
                check(c.awaitOpen(WAIT, TimeUnit.SECONDS), "open");
                boolean nf = false;
                try {
                    conn.send("nosuch", "x");
                } catch (TrufluxException.ENOTFOUND x) {
                    nf = true;
                }
                check(nf, "unknown message gives ENOTFOUND");
            }
        }
    }

    static void payloads(String url) throws Exception {
        Recorder r = new Recorder();
        try (Protocol p = new Protocol("echo"); Client c = new Client(p, r)) {
            Connection conn = c.connect(url);
            check(c.awaitOpen(WAIT, TimeUnit.SECONDS), "echo client opens");
            check(conn.isOpen() && conn.remotePort() > 0, "connection state");
            conn.send("echo", "h\u00e9llo \u2603");
            byte[] all = new byte[256];
            for (int i = 0; i < 256; i++) all[i] = (byte) i;
            conn.send("echo", all);
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("n", 42L);
            v.put("list", List.of("a", 2.5, false));
            conn.sendValue("echo", v);
            conn.send("echo");
            Message m = r.next();
            check(m != null && m.type() == Type.TEXT && m.text().equals("h\u00e9llo \u2603")
                  && m.name().equals("echo"), "text echo: " + m);
            m = r.next();
            check(m != null && m.type() == Type.BINARY && Arrays.equals(all, m.data()), "binary echo: " + m);
            m = r.next();
            check(m != null && m.type() == Type.MSGPACK && v.equals(m.value()), "msgpack echo: " + m);
            m = r.next();
            check(m != null && m.type() == Type.EMPTY && m.data().length == 0, "empty echo: " + m);
        }
        check(Objects.equals(await(r.closed, WAIT), 0), "graceful close reason 0");
    }

    static void secure(String url, Path pubFile, String serverPub, Path otherPub) throws Exception {
        Recorder r = new Recorder();
        Options o = new Options().peerKeyFile(pubFile.toString()).patterns("NK");
        try (Protocol p = new Protocol("echo"); Client c = new Client(p, o, r)) {
            Connection conn = c.connect(url);
            SecureInfo info = await(r.secure, WAIT);
            check(info != null && "NK".equals(info.pattern()) && info.established(),
                  "secure event: " + info);
            check(c.awaitOpen(WAIT, TimeUnit.SECONDS), "secure client opens");
            SecureInfo now = conn.secureInfo();
            check(now != null && now.established() && serverPub.equals(now.peerKey()),
                  "pinned server key: " + (now == null ? null : now.peerKey()));
            conn.send("echo", "secret");
            Message m = r.next();
            check(m != null && m.text().equals("secret"), "encrypted echo: " + m);
        }
        // The wrong pin: EPIN, and the connection never opens.
        Recorder w = new Recorder();
        try (Protocol p = new Protocol("echo");
             Client c = new Client(p, new Options().peerKeyFile(otherPub.toString()), w)) {
            c.connect(url);
            TrufluxException err = w.errors.poll(WAIT, TimeUnit.SECONDS);
            check(err instanceof TrufluxException.EPIN, "wrong pin: " + err);
            check(!c.connection().isOpen(), "wrong pin never opens");
        }
        // An invalid option value is refused when the client is made.
        boolean threw = false;
        try (Protocol p = new Protocol("echo");
             Client c = new Client(p, new Options().ciphers("ROT13"), null)) {
            c.connection();
        } catch (TrufluxException.EINVAL e) {
            threw = true;
        }
        check(threw, "bad cipher list gives EINVAL");
    }

    static void files(String url, Path acceptDir, Path work) throws Exception {
        byte[] content = new byte[300_000];
        new Random(7).nextBytes(content);
        Path src = work.resolve("java-upload.bin");
        Files.write(src, content);
        Recorder r = new Recorder();
        try (Protocol p = new Protocol("echo"); Client c = new Client(p, r)) {
            Connection conn = c.connect(url);
            check(c.awaitOpen(WAIT, TimeUnit.SECONDS), "file client opens");
            long id = conn.sendFile(src);
            Integer status = await(r.fileEnd, 30);
            check(Objects.equals(status, 0) && r.fileId == id, "file transfer ends with 0: " + status);
            Path got = acceptDir.resolve("java-upload.bin");
            check(Files.exists(got) && Arrays.equals(content, Files.readAllBytes(got)),
                  "received file has the same bytes");
        }
    }

    @SuppressWarnings("try") // closes the server inside its try block on purpose
    static void javaServer(Path work) throws Exception {
        BlockingQueue<Connection> opened = new LinkedBlockingQueue<>();
        CompletableFuture<Integer> received = new CompletableFuture<>();
        Listener echo = new Listener() {
            @Override public void onOpen(Connection c) { opened.add(c); }
            @Override public void onMessage(Connection c, Message m) {
                c.send(m.name(), m.type(), m.data());
            }
            // Accepts take.txt; anything else stays undecided, and is declined.
            @Override public void onFileOffer(FileTransfer f) {
                if (f.name().equals("take.txt") && f.incoming()) f.acceptAs(work.resolve("taken.txt"));
            }
            @Override public void onFileEnd(FileTransfer f, int status) { received.complete(status); }
        };
        try (Protocol p = new Protocol("echo", "news");
             Server s = new Server(p, null, echo).listen("tcp://127.0.0.1:0")) {
            check(s.port() > 0, "server port");
            Recorder r = new Recorder();
            try (Client c = new Client(p, r)) {
                c.connect("tcp://127.0.0.1:" + s.port());
                check(c.awaitOpen(WAIT, TimeUnit.SECONDS), "client of Java server opens");
                check(opened.poll(WAIT, TimeUnit.SECONDS) != null, "server onOpen");
                c.connection().sendValue("echo", List.of(1L, 2L));
                Message m = r.next();
                check(m != null && List.of(1L, 2L).equals(m.value()), "Java server echo: " + m);
                s.broadcast("news", Type.TEXT, "all".getBytes(StandardCharsets.UTF_8), null);
                m = r.next();
                check(m != null && m.name().equals("news") && m.text().equals("all"), "broadcast: " + m);
                check(s.count() == 1, "server count");
                Files.writeString(work.resolve("take.txt"), "content of take.txt");
                Files.writeString(work.resolve("skip.txt"), "content of skip.txt");
                c.connection().sendFile(work.resolve("take.txt"));
                check(Objects.equals(await(received, WAIT), 0)
                      && Objects.equals(await(r.fileEnd, WAIT), 0), "Java server receives a file");
                check(Files.readString(work.resolve("taken.txt")).equals("content of take.txt"),
                      "accepted file's content");
                Recorder r2 = new Recorder();
                try (Client c2 = new Client(p, r2)) {
                    c2.connect("tcp://127.0.0.1:" + s.port());
                    check(c2.awaitOpen(WAIT, TimeUnit.SECONDS), "second client opens");
                    c2.connection().sendFile(work.resolve("skip.txt"));
                    check(Objects.equals(await(r2.fileEnd, WAIT), TrufluxException.EDECLINED.CODE),
                          "undecided offer is declined");
                }
                s.close();
                check(Objects.equals(await(r.closed, WAIT), TrufluxException.ESHUTDOWN.CODE),
                      "server close reaches the client as ESHUTDOWN");
            }
        }
    }

    /** A Java server on two loops (addLoop): 20 clients echo, counters sum both loops. */
    @SuppressWarnings("try") // closes the server inside its try block on purpose
    static void serverLoops() throws Exception {
        final int n = 20;
        Listener echo = new Listener() {
            @Override public void onMessage(Connection c, Message m) {
                c.send(m.name(), m.type(), m.data());
            }
        };
        List<Client> clients = new java.util.ArrayList<>();
        try (Protocol p = new Protocol("echo"); Server s = new Server(p, null, echo)) {
            s.addLoop();
            check(s.loops() == 2, "two loops: " + s.loops());
            s.listen("tcp://127.0.0.1:0");
            boolean late = false;
            try {
                s.addLoop();
            } catch (TrufluxException.EINVAL e) {
                late = true;
            }
            check(late && s.loops() == 2, "addLoop after listen gives EINVAL");
            int echoed = 0;
            try {
                for (int i = 0; i < n; i++) {
                    Recorder r = new Recorder();
                    Client c = new Client(p, r);
                    clients.add(c);
                    c.connect("tcp://127.0.0.1:" + s.port());
                    if (!c.awaitOpen(WAIT, TimeUnit.SECONDS)) continue;
                    c.connection().send("echo", "n" + i);
                    Message m = r.next();
                    if (m != null && m.text().equals("n" + i)) echoed++;
                }
                check(echoed == n, "every client of the two-loop server echoes: " + echoed);
                check(s.count() == n, "count over both loops: " + s.count());
                ServerStats st = s.stats();
                check(st.active() == n && st.opened() == n && st.accepted() == n
                      && st.msgsIn() == n && st.msgsOut() == n && st.bytesIn() > 0
                      && st.protocolErrors() == 0, "stats over both loops: " + st);
            } finally {
                for (Client c : clients) c.close();
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT);
            while (s.count() > 0 && System.nanoTime() < deadline) Thread.sleep(10);
            ServerStats st = s.stats();
            check(st.active() == 0 && st.opened() == n, "stats after the clients left: " + st);
            s.close();
            boolean closed = false;
            try {
                s.stats();
            } catch (TrufluxException.ECLOSED e) {
                closed = true;
            }
            check(closed, "stats after close gives ECLOSED");
        }
    }

    static void example(String url) throws Exception {
        PrintStream saved = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            EchoClient.main(new String[] {url, "hi"});
        } finally {
            System.setOut(saved);
        }
        String text = out.toString(StandardCharsets.UTF_8);
        check(text.contains("text: hi") && text.contains("value: {text=hi, length=2}")
              && text.contains("BINARY: 2 bytes"), "examples/java/EchoClient output: " + text);
    }
}
