"""The hostile-peer suite's harness: links that carry truflux frames over TCP, TLS or a
WebSocket and parse what comes back without judging it; the `truflux serve` processes; the
well-behaved clients of each layer (including the secure layer's NN handshake and records);
and the expectations every case ends with (a CLOSE code, a WebSocket close status, an HTTP
status, or the end of the connection, and the code the server reports for the peer).
"""

import os
import re
import select
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, "peer"))
sys.path.insert(0, os.path.join(TESTS, "ws"))
sys.path.insert(0, HERE)

import tfpeer as tf  # noqa: E402
import tfnoise  # noqa: E402
from conformance import Conn as WsConn, frame as ws_frame  # noqa: E402
# OP_CONT and OP_TEXT: for the cases, which build WebSocket frames of their own.
from conformance import OP_BIN, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT  # noqa: E402,F401

TIMEOUT = 5.0
NAMES = ["echo", "chat"]
ECHO = tf.message_id("echo")
SLOW = float(os.environ.get("HOSTILE_SLOW", "1"))   # scales waits under sanitizers
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|"
                          r"SUMMARY: \w+Sanitizer")


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def frame(kind, ident, payload=b"", length=None):
    """A truflux frame, unchecked (hostile peers send what conforming ones never would)."""
    return struct.pack(">BII", kind, ident, len(payload) if length is None else length) + payload


def hello_payload(caps=0, extensions=(), **kw):
    ids = sorted(tf.message_id(n) for n in NAMES)
    return tf.Hello(caps=caps, ids=kw.pop("ids", ids), extensions=extensions, **kw).encode()


def hello(caps=0, extensions=(), **kw):
    return frame(tf.KIND_HELLO, 0, hello_payload(caps, extensions, **kw))


def echo_frame(data=b"ping", kind=0x11):
    return frame(kind, ECHO, data)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---- links: one byte stream whatever carries it ---------------------------------------------

class Link:
    """A connection carrying truflux frames: raw TCP or TLS (a socket), or a WebSocket (binary
    messages). read_frame() parses frames without judging them: the suite observes."""

    ws_status = None     # WebSocket close status received, if any

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.eof = None  # "eof" / "reset" once the peer ended the stream

    @property
    def port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        self.sock.settimeout(TIMEOUT)
        self.sock.sendall(data)

    def send_ignoring_end(self, data):
        """Sends what the server may stop reading at any point (it closed on a violation)."""
        try:
            self.send(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass

    def _recv(self, timeout):
        self.sock.settimeout(max(0.01, timeout))
        try:
            d = self.sock.recv(1 << 16)
        except (socket.timeout, TimeoutError):
            return None
        except (ConnectionResetError, BrokenPipeError):
            self.eof = "reset"
            return b""
        except ssl.SSLError:
            self.eof = "reset"
            return b""
        if not d:
            self.eof = "eof"
        return d

    def fill(self, n, deadline):
        while len(self.buf) < n:
            if self.eof:
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("timeout waiting for the server")
            d = self._recv(left)
            if d is None:
                continue
            self.buf += d
        return True

    def read_frame(self, timeout=TIMEOUT):
        """(kind, id, payload), or None when the stream ended."""
        deadline = time.monotonic() + timeout * SLOW
        if not self.fill(9, deadline):
            return None
        kind, ident, length = struct.unpack(">BII", self.buf[:9])
        if not self.fill(9 + length, deadline):
            return None
        payload = bytes(self.buf[9:9 + length])
        del self.buf[:9 + length]
        return kind, ident, payload

    def wait_end(self, timeout=TIMEOUT):
        """Reads until the peer ends the stream: "eof" or "reset"; Fail on timeout."""
        deadline = time.monotonic() + timeout * SLOW
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("the server kept the connection open")
            d = self._recv(left)
            if d:
                self.buf += d
        return self.eof

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class WsLink(Link):
    """truflux over a WebSocket: frames out in one binary message each, messages in."""

    def __init__(self, url, request=None, subprotocol="truflux.v1"):
        self.ws = WsConn(url, subprotocol=subprotocol, request=request)
        super().__init__(self.ws.sock)
        self.status = self.ws.status
        self.pending = bytearray(self.ws.buf)   # octets after the HTTP head
        self.ws.buf = b""

    def send(self, data):
        super().send(ws_frame(OP_BIN, data))

    def send_ws(self, data):
        """Raw WebSocket octets (the test builds the frames)."""
        super().send(data)

    def _recv(self, timeout):
        """The payload of the next binary message; b"" at a close frame or the end."""
        deadline = time.monotonic() + timeout
        while True:
            f = self._ws_frame(deadline)
            if f is None:
                return None if not self.eof else b""
            fin, op, payload = f
            if op == OP_CLOSE:
                self.ws_status = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
                try:
                    Link.send(self, ws_frame(OP_CLOSE, payload[:2]))
                except OSError:
                    pass
                continue     # the TCP end follows (the server closes first, RFC 6455 §7.1.1)
            if op in (OP_PING, OP_PONG):
                continue
            return bytes(payload)

    def _ws_frame(self, deadline):
        def need(n):
            while len(self.pending) < n:
                if self.eof:
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                d = Link._recv(self, left)
                if d is None:
                    continue
                self.pending += d
            return True
        r = need(2)
        if not r:
            return None
        b0, b1 = self.pending[0], self.pending[1]
        n, at = b1 & 0x7F, 2
        if n == 126:
            if not need(4):
                return None
            n, at = struct.unpack(">H", self.pending[2:4])[0], 4
        elif n == 127:
            if not need(10):
                return None
            n, at = struct.unpack(">Q", self.pending[2:10])[0], 10
        if not need(at + n):
            return None
        payload = bytes(self.pending[at:at + n])
        del self.pending[:at + n]
        return bool(b0 & 0x80), b0 & 0x0F, payload


# ---- servers --------------------------------------------------------------------------------

def _die_with_parent():
    """In the child: SIGKILL when the driver dies (a test timeout), so no server outlives it."""
    import ctypes
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Server:
    """One `truflux serve` process; listening URLs parsed from its standard output."""

    def __init__(self, binary, name, args, listeners, workdir):
        self.name = name
        self.err_path = os.path.join(workdir, name + ".err")
        self.err = open(self.err_path, "w+b")
        self.proc = subprocess.Popen([binary, "serve"] + args, stdout=subprocess.PIPE,
                                     stderr=self.err, stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        self.urls = {}
        deadline = time.monotonic() + 15 * SLOW
        out = b""
        while len(self.urls) < listeners:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                self.stop(kill=True)
                raise Fail("%s: no listening line within the time (%s)" % (name, out))
            line = self.proc.stdout.readline()
            if not line:
                self.stop(kill=True)
                raise Fail("%s: exited at start: %s" % (name, self.log()[-2000:]))
            out += line
            m = re.search(rb"listening on (\w+)://([\d.]+):(\d+)", line)
            if m:
                self.urls[m.group(1).decode()] = (m.group(2).decode(), int(m.group(3)))
        self.pid = self.proc.pid

    def addr(self, scheme):
        return self.urls[scheme]

    def first_addr(self):
        return next(iter(self.urls.values()))

    def log(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def reported(self, port, code, timeout=3.0):
        """Waits for the server's log line about the peer at local port `port` with the
        text of `code` (an error or the reason of a disconnect)."""
        text = re.escape(tf.ERRORS[code][1])
        pat = re.compile(r"(error|disconnect) 127\.0\.0\.1:%d: %s" % (port, text))
        deadline = time.monotonic() + timeout * SLOW
        while True:
            if pat.search(self.log()):
                return
            if time.monotonic() > deadline:
                lines = [ln for ln in self.log().splitlines() if ":%d:" % port in ln]
                raise Fail("server did not report %s for port %d (its lines: %s)"
                           % (tf.error_name(code), port, lines or "none"))
            time.sleep(0.02)

    def stop(self, kill=False):
        """SIGTERM, then a bounded wait; returns the exit status (SIGKILL: Fail).

        The SIGTERM lands while connections are ending: a close requested from another
        thread (the CLI's signal thread) once raced the last connection's end, reported the
        shutdown done before its own task ran, and the task then ran on the freed server
        (heap-use-after-free under ASan, fixed in lib/core/server.cpp)."""
        if self.proc.poll() is None and not kill:
            churn = []
            for _ in range(32):
                try:
                    churn.append(socket.create_connection(self.first_addr(), timeout=TIMEOUT))
                except OSError:
                    break
            for sock in churn:
                sock.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=15 * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise Fail("%s: did not exit within the time after SIGTERM" % self.name)
        finally:
            self.proc.stdout.close()
            self.err.close()
        return rc


# ---- well-behaved clients -------------------------------------------------------------------

class Env:
    """What a case gets: the server of its layer and how to reach it."""

    def __init__(self, server, layer, tmp):
        self.server, self.layer, self.tmp = server, layer, tmp

    # raw connections of each layer
    def tcp(self, scheme="tcp"):
        return Link(socket.create_connection(self.server.addr(scheme), timeout=TIMEOUT))

    def tls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(os.path.join(self.tmp, "ca.pem"))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        raw = socket.create_connection(self.server.addr("tls"), timeout=TIMEOUT)
        return Link(ctx.wrap_socket(raw, server_hostname="localhost"))

    def ws_url(self):
        host, port = self.server.addr("ws")
        return "ws://%s:%d/" % (host, port)

    def ws(self, **kw):
        link = WsLink(self.ws_url(), **kw)
        check(link.status == 101, "upgrade answered %s" % link.status)
        return link

    def link(self):
        return {"tcp": self.tcp, "files": self.tcp, "secure": self.tcp, "auth": self.tcp,
                "tls": self.tls, "ws": self.ws}[self.layer]()

    def open(self, caps=0, extensions=()):
        """A connection past the hello: (link, the server's hello)."""
        link = self.link()
        link.send(hello(caps, extensions))
        f = link.read_frame()
        check(f is not None and f[0] == tf.KIND_WELCOME, "no WELCOME: %r" % (f,))
        return link, tf.Hello.decode(f[2])

    def secure_open(self):
        """A secured connection (ChaChaPoly; Noise NN, or IK with the authorised key on the
        "auth" server): a SecureLink after the handshake."""
        ext = CLIENT_EXT_IK if self.layer == "auth" else CLIENT_EXT
        link, welcome = self.open(tf.CAP_SECURE, [(1, ext)])
        server_ext = dict(welcome.extensions).get(1)
        check(server_ext is not None, "the server's WELCOME has no secure extension")
        if self.layer == "auth":
            hs = tfnoise.IKInitiator(ext, server_ext, self.client_key, self.server_pub)
        else:
            hs = tfnoise.NNInitiator(ext, server_ext)
        return SecureLink(link, hs)


# The client's "secure" extension: version 1, required, NN only, ChaChaPoly only, no key.
# IK: the same with pattern 3 (the client's static key travels inside the handshake).
CLIENT_EXT_IK = bytes([1, 2, 1, 3, 1, 0, 0])
CLIENT_EXT = bytes([1, 2, 1, 0, 1, 0, 0])


class SecureLink:
    """The client side of a secured connection: the handshake `hs` (NN or IK), then records
    (§24.4, §24.5)."""

    def __init__(self, link, hs):
        self.link = link
        link.send(frame(0x20, 0, hs.message0()))
        f = link.read_frame()
        check(f is not None and f[0] == 0x20 and f[1] == 1, "no NOISE message 1: %r" % (f,))
        keys = hs.read_message1(f[2])
        check(keys is not None, "NOISE message 1 does not decrypt")
        self.tx, self.rx = keys
        self.inner = bytearray()
        self.switched = False

    def record(self, plain):
        """One sealed RECORD frame carrying `plain` (the first starts with SWITCH 1)."""
        if not self.switched:
            plain = frame(0x22, 1) + plain
            self.switched = True
        seq = self.tx.n & 0x7FFFFFFF
        head = struct.pack(">BII", 0x21, seq, len(plain) + 16)
        return head + self.tx.seal(head, plain)

    def read_inner(self, timeout=TIMEOUT):
        """The next inner frame the server sent, (kind, id, payload); None at the end."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            if len(self.inner) >= 9:
                kind, ident, length = struct.unpack(">BII", self.inner[:9])
                if len(self.inner) >= 9 + length:
                    payload = bytes(self.inner[9:9 + length])
                    del self.inner[:9 + length]
                    if kind == 0x22:
                        continue
                    return kind, ident, payload
            f = self.link.read_frame(max(0.01, deadline - time.monotonic()) / SLOW)
            if f is None:
                return None
            if f[0] != 0x21:
                return f    # a plain frame (a plain CLOSE answering a plain violation)
            head = struct.pack(">BII", f[0], f[1], len(f[2]))
            plain = self.rx.open(head, f[2])
            check(plain is not None, "a server record does not decrypt")
            self.inner += plain


def echo_roundtrip(env, data=None):
    """The server keeps serving others: a new well-behaved client gets its echo back and
    closes gracefully."""
    data = data or os.urandom(16)
    if env.layer in ("secure", "auth"):
        s = env.secure_open()
        s.link.send(s.record(echo_frame(data)))
        f = s.read_inner()
        check(f == (0x11, ECHO, data), "secure echo: %r" % (f,))
        s.link.send(s.record(frame(tf.KIND_CLOSE, 0)))
        f = s.read_inner()
        check(f is not None and f[0] == tf.KIND_CLOSE, "secure close answer: %r" % (f,))
        s.link.close()
        return
    caps = tf.CAP_FILES if env.layer == "files" else 0
    link, _ = env.open(caps)
    link.send(echo_frame(data))
    f = link.read_frame()
    check(f == (0x11, ECHO, data), "echo: %r" % (f,))
    link.send(frame(tf.KIND_CLOSE, 0))
    f = link.read_frame()
    check(f is not None and f[0] == tf.KIND_CLOSE and f[1] == 0, "close answer: %r" % (f,))
    link.wait_end()
    link.close()


# ---- expectations ---------------------------------------------------------------------------

def expect_close(env, link, code, reported=None):
    """A CLOSE(code) (frames before it skipped), then the end of the connection; the server
    reports `reported` (default: code) for this peer."""
    port = link.port
    while True:
        f = link.read_frame()
        check(f is not None, "connection ended without CLOSE(%s)" % tf.error_name(code))
        if f[0] == tf.KIND_CLOSE:
            break
    check(f[1] == code, "CLOSE(%s %r), wanted %s"
          % (tf.error_name(f[1]), f[2][:60], tf.error_name(code)))
    link.send_ignoring_end(frame(tf.KIND_CLOSE, 0))
    link.wait_end()
    link.close()
    if code:
        env.server.reported(port, reported if reported is not None else code)


def expect_ws_close(env, link, status, reported=50):
    """A WebSocket close with `status` and no truflux CLOSE, then the end of TCP; the server
    reports EWEBSOCKET (§3.3 item 4) unless `reported` says otherwise."""
    port = link.port
    while link.ws_status is None:
        f = link.read_frame()
        if f is None:
            break
        check(f[0] != tf.KIND_CLOSE, "a truflux CLOSE(%s) before the WebSocket close"
              % tf.error_name(f[1]))
    check(link.ws_status == status, "WebSocket close %s, wanted %s" % (link.ws_status, status))
    link.wait_end()
    link.close()
    if reported:
        env.server.reported(port, reported)


def expect_http(env, link, status):
    """An HTTP refusal with `status`, then the end of TCP; the server reports EHTTP."""
    port = link.port
    check(link.status == status, "HTTP %s, wanted %s" % (link.status, status))
    link.wait_end()
    link.close()
    env.server.reported(port, 51)


def expect_end(env, link, code):
    """The server ends the connection without a frame it could send (its peer cut the
    stream, or a transport failed below truflux) and reports `code`."""
    port = link.port
    link.wait_end()
    link.close()
    env.server.reported(port, code)
