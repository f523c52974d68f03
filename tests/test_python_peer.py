#!/usr/bin/env python3
"""Drives the C server (`truflux serve`) with the independent Python peer (tests/peer/tfpeer.py).

TRUFLUX_BIN must name the `truflux` CLI. Without it the tests are skipped, or fail when the
environment variable CI is set. Every socket operation is bounded (5 s); the server is killed
at the end. Prints "N passed, N failed" last; exits non-zero on any failure.

Each expectation cites docs/PROTOCOL.md; when this test and the server disagree, the document
decides which side is wrong.
"""

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peer"))

import tfpeer as tf  # noqa: E402

TIMEOUT = 5.0
NAMES = ["echo", "chat"]
LISTEN_LINE = re.compile(r"truflux listening on tcp://127\.0\.0\.1:(\d+)")


def msgpack_nested(levels):
    """`levels` nested one-element arrays around nil."""
    return b"\x91" * (levels - 1) + b"\x90" if levels else b"\xc0"


class Server:
    """One `truflux serve --tcp 127.0.0.1:0` process."""

    def __init__(self, binary):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([binary, "serve", "--tcp", "127.0.0.1:0"],
                                     stdout=subprocess.PIPE, stderr=self.stderr)
        self.port = self._read_port()
        # Keep draining stdout so the server never blocks on a full pipe.
        self.drain = threading.Thread(target=self.proc.stdout.read, daemon=True)
        self.drain.start()

    def _read_port(self):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        line = b""
        try:
            while not line.endswith(b"\n"):
                if not sel.select(timeout=10.0):
                    raise AssertionError("truflux serve printed no listening line within 10 s")
                c = os.read(self.proc.stdout.fileno(), 1)
                if not c:
                    raise AssertionError("truflux serve exited before listening (status %r): %s"
                                         % (self.proc.wait(5), self.stderr_text()))
                line += c
        finally:
            sel.close()
        m = LISTEN_LINE.search(line.decode("utf-8", "replace"))
        if not m:
            raise AssertionError("unexpected first line from truflux serve: %r" % line)
        return int(m.group(1))

    def stderr_text(self):
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")[-4000:]

    def stop(self):
        """SIGTERM (graceful), then SIGKILL if it has not exited within 5 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(TIMEOUT)
        self.proc.stdout.close()
        return self.proc.returncode


def server_binary():
    binary = os.environ.get("TRUFLUX_BIN")
    if binary and os.path.isfile(binary) and os.access(binary, os.X_OK):
        return binary
    why = "TRUFLUX_BIN unset" if not binary else "TRUFLUX_BIN=%s is not an executable" % binary
    if os.environ.get("CI"):
        raise AssertionError(why + " (required when CI is set)")
    raise unittest.SkipTest(why)


class ServerTest(unittest.TestCase):
    """Shares one server per class; each test connects its own peers."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(server_binary())

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.peers = []

    def tearDown(self):
        for p in self.peers:
            p.abort()

    def peer(self, names=NAMES, **kw):
        p = tf.Peer("127.0.0.1", self.server.port, names, timeout=TIMEOUT, **kw)
        self.peers.append(p)
        return p

    def raw(self):
        return self.peer(handshake=False)

    def assert_echo(self, p, mtype, payload):
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        p.send("echo", mtype, payload)
        kind, mid, name, rtype, data = p.recv_message()
        self.assertEqual((kind, mid, name, rtype), (tf.KIND_MSG | mtype, tf.message_id("echo"),
                                                    "echo", mtype),
                         "echo of type %d came back as another frame" % mtype)
        self.assertEqual(data, bytes(payload), "echo of type %d changed its payload" % mtype)

    def assert_still_serving(self):
        p = self.peer()
        self.assert_echo(p, tf.TYPE_TEXT, "still serving")
        self.assertEqual(p.close().code, 0)

    def assert_refused(self, p, code, what):
        """The server answers with CLOSE(code), sends nothing after it, and ends TCP (§18);
        then a fresh peer is still served."""
        res = p.expect_close()
        self.assertEqual(res.code, code, "%s: CLOSE(%s) expected, got CLOSE(%s, %r)"
                         % (what, tf.error_name(code), tf.error_name(res.code), res.text))
        self.assertEqual(res.trailing, b"", "%s: octets after the CLOSE frame" % what)
        self.assertEqual(res.end, "eof", "%s: TCP should end with EOF after the CLOSE" % what)
        self.assert_still_serving()


class Opening(ServerTest):
    def test_welcome_contents(self):
        p = self.peer()
        w = p.welcome
        self.assertEqual(w.magic, b"TFLX")
        self.assertEqual((w.major, w.minor), (1, 0), "WELCOME version")
        self.assertEqual(w.flags & ~tf.FLAG_STRICT, 0, "undefined flag bits set (§6.2)")
        self.assertEqual(w.caps, 0, "a 1.0 server announces no capability (§9.1)")
        self.assertTrue(1 <= w.max_message <= tf.MAX_MESSAGE_LIMIT, w.max_message)
        want = tf.ProtocolDef([tf.MessageDef("echo", tf.TYPES_ANY, 0),
                               tf.MessageDef("chat", tf.TYPES_ANY, 0)])
        self.assertEqual(w.fingerprint.hex(), want.fingerprint().hex(),
                         "server fingerprint differs from {echo, chat}, any type, no max")
        self.assertEqual(w.ids, [tf.message_id("chat"), tf.message_id("echo")],
                         "WELCOME id list")
        self.assertEqual(p.minor, 0)
        self.assertEqual(p.close().code, 0)

    def test_strict_client_with_same_definition_is_welcomed(self):
        p = self.peer(strict=True)
        self.assert_echo(p, tf.TYPE_TEXT, "strict")

    def test_strict_client_with_other_definition_is_refused(self):
        with self.assertRaises(tf.PeerClosed) as cm:
            self.peer(names=NAMES + ["extra"], strict=True)
        self.assertEqual(cm.exception.code, tf.EFINGERPRINT, "§7.1 step 2")
        self.assert_still_serving()

    def test_lenient_client_with_more_messages_works_on_the_common_ones(self):
        p = self.peer(names=NAMES + ["extra"])
        self.assert_echo(p, tf.TYPE_BINARY, b"\x01\x02")
        with self.assertRaises(tf.LocalRefusal) as cm:
            p.send("extra", tf.TYPE_EMPTY)
        self.assertEqual(cm.exception.code, tf.EPEERUNKNOWN, "§7.1 step 5")
        self.assert_echo(p, tf.TYPE_TEXT, "nothing was sent for extra")

    def test_client_with_fewer_messages_works(self):
        p = self.peer(names=["echo"])
        self.assert_echo(p, tf.TYPE_TEXT, "only echo")

    def test_higher_minor_and_unknown_fields_are_tolerated(self):
        p = self.raw()
        proto = tf.ProtocolDef(NAMES)
        h = tf.Hello(minor=9, flags=0x8000, caps=0x80000000, fingerprint=proto.fingerprint(),
                     ids=proto.ids(), extensions=[(0x8001, b"future"), (0x0042, b"")])
        p.send_raw(tf.encode_frame(tf.KIND_HELLO, 0, h.encode()))
        kind, _, _, _, payload = p.recv()
        self.assertEqual(kind, tf.KIND_WELCOME, "§8.2: minor 9, unknown flags, capabilities "
                         "and extensions must not prevent the WELCOME")
        self.assertEqual(tf.Hello.decode(payload).minor, 0)

    def test_client_giving_up_before_welcome(self):
        p = self.raw()
        p.send_close(tf.EHELLOTIMEOUT, "gave up")
        res = p.expect_close()
        self.assertEqual(res.code, 0, "§7.3: a CLOSE as first frame is answered with CLOSE(0)")
        self.assertEqual(res.end, "eof")


class Messages(ServerTest):
    def test_echo_of_each_type(self):
        p = self.peer()
        cases = [
            (tf.TYPE_EMPTY, b""),
            (tf.TYPE_BINARY, bytes(range(256)) + b"\x00"),
            (tf.TYPE_BINARY, b""),
            (tf.TYPE_TEXT, "héllo ✓ 𝄞 \u0000 end".encode("utf-8")),
            (tf.TYPE_TEXT, b""),
            (tf.TYPE_MSGPACK, b"\x82\xa1a\x94\x01\xcb\x40\x04\x00\x00\x00\x00\x00\x00\xc0\xc3"
                              b"\xa1b\xc4\x03\x00\x01\x02"),
            (tf.TYPE_MSGPACK, b"\xc0"),
            (tf.TYPE_MSGPACK, msgpack_nested(64)),     # §5.7.4: 64 levels must be accepted
        ]
        for mtype, payload in cases:
            with self.subTest(type=mtype, length=len(payload)):
                self.assert_echo(p, mtype, payload)

    def test_large_binary_echo(self):
        p = self.peer()
        payload = bytes((i * 7 + 3) & 0xFF for i in range(1 << 20))
        self.assert_echo(p, tf.TYPE_BINARY, payload)

    def test_pipelined_echos_keep_their_order(self):
        p = self.peer()
        for i in range(200):
            p.send("echo", tf.TYPE_TEXT, "n%d" % i)
        got = [p.recv_message()[4] for _ in range(200)]
        self.assertEqual(got, [b"n%d" % i for i in range(200)])

    def test_chat_reaches_the_other_client_only(self):
        a = self.peer()
        b = self.peer()
        a.send("chat", tf.TYPE_TEXT, "hello b")
        kind, mid, name, mtype, data = b.recv_message()
        self.assertEqual((kind, name, mtype, data),
                         (tf.KIND_MSG | tf.TYPE_TEXT, "chat", tf.TYPE_TEXT, b"hello b"))
        b.send("chat", tf.TYPE_BINARY, b"\xffback")
        self.assertEqual(a.recv_message()[2:], ("chat", tf.TYPE_BINARY, b"\xffback"))
        # A's next frame must be its own echo, not its chat relayed back.
        self.assert_echo(a, tf.TYPE_EMPTY, b"")


class System(ServerTest):
    def test_ping_pong(self):
        p = self.peer()
        for payload in [b"", b"\x00\x00\x00\x2a", bytes(range(125))]:
            with self.subTest(length=len(payload)):
                self.assertEqual(p.ping(payload), payload, "PONG must copy the PING's payload")

    def test_nonzero_id_in_ping_is_ignored(self):
        p = self.peer()
        p.send_raw(tf.encode_frame(tf.KIND_PING, 77, b"id"))
        kind, _, _, _, payload = p.recv()
        self.assertEqual((kind, payload), (tf.KIND_PONG, b"id"), "§4.1: id field ignored")

    def test_unsolicited_pong_and_error_keep_the_connection(self):
        p = self.peer()
        p.send_raw(tf.encode_frame(tf.KIND_PONG, 0, b"nobody asked"))
        p.send_raw(tf.encode_frame(tf.KIND_ERROR, tf.message_id("echo"),
                                   tf.error_payload(tf.ESCHEMA, "just a report")))
        p.send_raw(tf.encode_frame(tf.KIND_ERROR, 12345, tf.error_payload(999, "\xff")))
        self.assert_echo(p, tf.TYPE_TEXT, "still open (§5.4, §5.6)")

    def test_graceful_close(self):
        p = self.peer()
        res = p.close(0)
        self.assertEqual(res.code, 0, "the answer to CLOSE is CLOSE(0) (§15)")
        self.assertEqual(res.text, "", "the answer carries no text")
        self.assertEqual(res.skipped, [])
        self.assertEqual(res.end, "eof", "the answering side closes TCP (§15)")

    def test_close_with_a_code_is_answered_with_zero(self):
        p = self.peer()
        res = p.close(tf.ESCHEMA, "application refuses")
        self.assertEqual((res.code, res.end), (0, "eof"))


class Violations(ServerTest):
    """Each malformed input gets CLOSE(code), then EOF; the server keeps serving (§18)."""

    def test_garbage_first_frame(self):
        p = self.raw()
        p.send_raw(b"\x7fgarbage, not a truflux frame at all")
        self.assert_refused(p, tf.EPROTO, "garbage first frame")

    def test_first_frame_not_hello(self):
        p = self.raw()
        p.send_raw(tf.encode_frame(tf.KIND_PING, 0, b""))
        self.assert_refused(p, tf.EPROTO, "PING as first frame")

    def test_hello_version_2(self):
        p = self.raw()
        proto = tf.ProtocolDef(NAMES)
        h = tf.Hello(major=2, fingerprint=proto.fingerprint(), ids=proto.ids())
        p.send_raw(tf.encode_frame(tf.KIND_HELLO, 0, h.encode()))
        self.assert_refused(p, tf.EVERSION, "HELLO 2.0")

    def test_hello_version_2_with_another_layout(self):
        # §6.3: the version is checked before anything after octet 5, so that a major
        # version may change the rest of the hello.
        p = self.raw()
        p.send_raw(tf.encode_frame(tf.KIND_HELLO, 0, b"TFLX\x02\x00new layout"))
        self.assert_refused(p, tf.EVERSION, "short HELLO 2.0")

    def test_malformed_hello(self):
        proto = tf.ProtocolDef(NAMES)
        good = tf.Hello(fingerprint=proto.fingerprint(), ids=proto.ids()).encode()
        cases = {
            "bad magic": b"TFLZ" + good[4:],
            "short": good[:40],
            "ids descending": good[:54] + good[58:62] + good[54:58],
            "truncated extension": good + b"\x80\x01\x00\x09abc",
        }
        for what, payload in cases.items():
            with self.subTest(case=what):
                p = self.raw()
                p.send_raw(tf.encode_frame(tf.KIND_HELLO, 0, payload))
                self.assert_refused(p, tf.EPROTO, "HELLO " + what)

    def test_unknown_message_id(self):
        p = self.peer()
        p.send_raw(tf.encode_frame(tf.KIND_MSG | tf.TYPE_TEXT, tf.message_id("nosuch"), b"x"))
        self.assert_refused(p, tf.EUNKNOWN, "unknown id")

    def test_text_not_utf8(self):
        p = self.peer()
        p.send_raw(tf.encode_header(tf.KIND_MSG | tf.TYPE_TEXT, tf.message_id("echo"), 4) +
                   b"ok\xc3\x28")
        self.assert_refused(p, tf.EUTF8, "invalid UTF-8 text")

    def test_msgpack_not_well_formed(self):
        p = self.peer()
        p.send_raw(tf.encode_header(tf.KIND_MSG | tf.TYPE_MSGPACK, tf.message_id("echo"), 2) +
                   b"\x92\x01")
        self.assert_refused(p, tf.ESCHEMA, "truncated MessagePack array")

    def test_empty_typed_message_with_payload(self):
        p = self.peer()
        p.send_raw(tf.encode_header(tf.KIND_MSG | tf.TYPE_EMPTY, tf.message_id("echo"), 5) +
                   b"12345")
        self.assert_refused(p, tf.EPROTO, "empty-typed message with a payload (§4.3 step 3)")

    def test_length_over_the_maximum_is_refused_from_the_header(self):
        p = self.peer()
        limit = tf.announced_max(p.welcome.max_message)
        self.assertLess(limit, 0xFFFFFFFF)
        # Header only: the server must answer before any payload arrives (§4.3).
        p.send_raw(tf.encode_header(tf.KIND_MSG | tf.TYPE_BINARY, tf.message_id("echo"),
                                    limit + 1))
        self.assert_refused(p, tf.EMSGSIZE, "length over the maximum")

    def test_control_payload_over_125(self):
        p = self.peer()
        p.send_raw(tf.encode_header(tf.KIND_PING, 0, 126))
        self.assert_refused(p, tf.EMSGSIZE, "PING of 126 octets")

    def test_reserved_id_bit(self):
        p = self.peer()
        p.send_raw(tf.encode_header(tf.KIND_MSG | tf.TYPE_EMPTY,
                                    tf.message_id("echo") | 0x80000000, 0))
        self.assert_refused(p, tf.EPROTO, "id bit 31 set")

    def test_reserved_kind(self):
        for kind in (0x07, 0x20, 0x30, 0xFF):
            with self.subTest(kind=hex(kind)):
                p = self.peer()
                p.send_raw(tf.encode_header(kind, 0, 0))
                self.assert_refused(p, tf.EPROTO, "kind 0x%02x" % kind)

    def test_hello_after_opening(self):
        p = self.peer()
        p.send_raw(tf.encode_frame(tf.KIND_HELLO, 0, p.hello.encode()))
        self.assert_refused(p, tf.EPROTO, "second HELLO")

    def test_short_error_payload(self):
        p = self.peer()
        p.send_raw(tf.encode_header(tf.KIND_ERROR, 0, 3) + b"\x00\x00\x09")
        self.assert_refused(p, tf.EPROTO, "ERROR of 3 octets")


class CClient(unittest.TestCase):
    """The roles reversed: `truflux connect` (the C client) against tfpeer as the server."""

    def test_connect_sends_the_documented_hello_and_echo(self):
        binary = server_binary()
        listener = socket.socket()
        proc = None
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            port = listener.getsockname()[1]
            lines = tempfile.TemporaryFile()
            lines.write(b"hi\n")
            lines.seek(0)
            proc = subprocess.Popen([binary, "connect", "tcp://127.0.0.1:%d" % port,
                                     "--wait", "5"], stdin=lines,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            lines.close()
            with tf.Peer.accept(listener, NAMES, timeout=TIMEOUT) as p:
                # Same protocol and the C defaults (16 MiB, 20000 ms, not strict, no
                # extension): the HELLO must be exactly the document's example (§20).
                hello = tf.encode_frame(p.first_frame.kind, p.first_frame.id,
                                        p.first_frame.payload)
                self.assertEqual(hello.hex(), documented_example("hello-echo-chat").hex(),
                                 "the C client's HELLO differs from §20's example")
                frame = p.recv_message()
                self.assertEqual(frame, (tf.KIND_MSG | tf.TYPE_TEXT, tf.message_id("echo"),
                                         "echo", tf.TYPE_TEXT, b"hi"))
                p.send("echo", tf.TYPE_TEXT, b"hi")
                res = p.expect_close()
                self.assertEqual(res.code, 0, "the client ends with a normal close")
                self.assertEqual(res.trailing, b"")
                self.assertEqual(res.end, "eof", "the C client closes TCP after the answer")
            out, err = proc.communicate(timeout=TIMEOUT)
            self.assertEqual(proc.returncode, 0, err.decode("utf-8", "replace"))
            self.assertIn(b"echo\thi\n", out)
        finally:
            listener.close()
            if proc and proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=TIMEOUT)


def documented_example(name):
    """The octets of a marked hex example of docs/PROTOCOL.md (comments stripped)."""
    with open(os.path.join(os.path.dirname(HERE), "docs", "PROTOCOL.md"),
              encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- example: %s -->\n```hex\n(.*?)```" % re.escape(name), text, re.S)
    if not m:
        raise AssertionError("example %r not found in docs/PROTOCOL.md" % name)
    lines = [line.split("#", 1)[0] for line in m.group(1).splitlines()]
    return bytes.fromhex("".join("".join(lines).split()))


class Shutdown(unittest.TestCase):
    """A server that shuts down closes its connections with CLOSE(ESHUTDOWN) (§13.1)."""

    def test_sigterm_closes_with_eshutdown(self):
        server = Server(server_binary())
        try:
            p = tf.Peer("127.0.0.1", server.port, NAMES, timeout=TIMEOUT)
            try:
                server.proc.send_signal(signal.SIGTERM)
                res = p.expect_close()
            finally:
                p.abort()
            self.assertEqual(res.code, tf.ESHUTDOWN, "CLOSE code on server shutdown")
            self.assertEqual(server.proc.wait(TIMEOUT), 0, "exit status after SIGTERM")
        finally:
            server.stop()


class CountingResult(unittest.TextTestResult):
    """Counts passed tests directly: a class skipped or failed in setUpClass is not in
    testsRun, so "run - failed - skipped" would miscount."""

    passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2, resultclass=CountingResult).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.passed
    if result.skipped:
        print("%d skipped" % len(result.skipped))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
