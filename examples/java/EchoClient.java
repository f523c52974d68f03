// examples/java/EchoClient.java: sends each argument to a truflux echo server (the CLI's
// `truflux serve` or examples/c/echo_server) as text, a MessagePack value and raw bytes, and
// prints what comes back.
//
//   java -cp truflux.jar:. -Djava.library.path=DIR_OF_libtruflux_jni EchoClient \
//        tcp://127.0.0.1:7000 hello world

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.truflux.Client;
import org.truflux.Connection;
import org.truflux.Listener;
import org.truflux.Message;
import org.truflux.Protocol;
import org.truflux.TrufluxException;

public final class EchoClient {
    public static void main(String[] args) throws InterruptedException {
        if (args.length < 2) {
            System.err.println("usage: EchoClient URL TEXT...");
            System.exit(2);
        }
        BlockingQueue<Message> replies = new LinkedBlockingQueue<>();
        Listener listener = new Listener() {
            @Override
            public void onMessage(Connection conn, Message msg) { replies.add(msg); }

            @Override
            public void onError(Connection conn, TrufluxException error) {
                System.err.println("error: " + error.getMessage());
            }
        };
        try (Protocol protocol = new Protocol("echo");
             Client client = new Client(protocol, listener)) {
            Connection conn = client.connect(args[0]);
            if (!client.awaitOpen(5, TimeUnit.SECONDS))
                throw new IllegalStateException("could not connect to " + args[0]);
            for (String text : Arrays.copyOfRange(args, 1, args.length)) {
                conn.send("echo", text);
                Map<String, Object> value = new LinkedHashMap<>(); // keeps the printed order
                value.put("text", text);
                value.put("length", text.length());
                conn.sendValue("echo", value);
                conn.send("echo", text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                for (int i = 0; i < 3; i++) {
                    Message m = replies.poll(5, TimeUnit.SECONDS);
                    if (m == null) throw new IllegalStateException("no reply");
                    switch (m.type()) {
                        case TEXT: System.out.println("text: " + m.text()); break;
                        case MSGPACK: System.out.println("value: " + m.value()); break;
                        default: System.out.println(m.type() + ": " + m.data().length + " bytes");
                    }
                }
            }
        }
    }
}
