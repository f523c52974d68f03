#!/usr/bin/env python3
"""A WebSocket (RFC 6455) server conformance suite in the spirit of the Autobahn testsuite,
with raw frames over a plain socket (standard library only).

    conformance.py URL --profile echo|truflux [--only SUBSTRING] [--list]

Profiles:
  echo     the server echoes every message (text and binary) as it came. Run against our
           echo server (tests/test_ws_echo --serve) and, to check the suite itself, against
           Node's `ws` and Python's `websockets` (tests/ws/*_echo_server.*).
  truflux  a truflux server (`truflux serve --ws` or --web): binary messages carry truflux
           frames (docs/PROTOCOL.md 3.3). The suite speaks truflux's HELLO and `echo`
           message inside the same framing cases; text messages must be refused with 1003.

Each case opens a connection, sends raw frames (masked, as a client must), and checks what
comes back: the echo, a pong, or a close frame with an allowed status followed by the end
of the TCP connection. Prints one line per case and "N passed, N failed" at the end; the
exit status is 1 if any case failed.
"""
import argparse
import base64
import hashlib
import os
import socket
import struct
import sys
import time
from urllib.parse import urlparse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT = 5.0
OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class Fail(Exception):
    pass


def frame(op, payload=b"", fin=True, rsv=0, mask=True, length=None):
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | rsv | op
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(c ^ key[i & 3] for i, c in enumerate(payload))


class Conn:
    def __init__(self, url, subprotocol=None, request=None):
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        if request is None:
            key = base64.b64encode(os.urandom(16)).decode()
            request = (f"GET {u.path or '/'} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
            if subprotocol:
                request += f"Sec-WebSocket-Protocol: {subprotocol}\r\n"
            request += "\r\n"
            self.key = key
        self.sock.sendall(request.encode())
        self.status, self.headers = self._read_head()

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise Fail("connection closed during the handshake")
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return status, headers

    def check_upgrade(self):
        if self.status != 101:
            raise Fail(f"handshake answered {self.status}")
        want = base64.b64encode(hashlib.sha1(self.key.encode() + GUID).digest()).decode()
        if self.headers.get("sec-websocket-accept") != want:
            raise Fail("wrong Sec-WebSocket-Accept")

    def send(self, data):
        self.sock.sendall(data)

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                d = self.sock.recv(1 << 20)
            except socket.timeout:
                raise Fail("timeout waiting for the server") from None
            except ConnectionResetError:
                return False
            if not d:
                return False
            self.buf += d
        return True

    def read_frame(self, timeout=TIMEOUT):
        """(fin, opcode, payload), or None when the TCP connection ended."""
        deadline = time.monotonic() + timeout
        if not self._need(2, deadline):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        if b1 & 0x80:
            raise Fail("the server masked a frame")
        if b0 & 0x70:
            raise Fail("the server set reserved bits")
        n, at = b1 & 0x7F, 2
        if n == 126:
            if not self._need(4, deadline):
                return None
            n, at = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            if not self._need(10, deadline):
                return None
            n, at = struct.unpack(">Q", self.buf[2:10])[0], 10
        if not self._need(at + n, deadline):
            return None
        payload = self.buf[at:at + n]
        self.buf = self.buf[at + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def read_message(self, timeout=TIMEOUT):
        """The next data message as (opcode, payload), skipping pongs; ('close', code) for a
        close frame; None at the end of the connection."""
        op, data = None, b""
        while True:
            f = self.read_frame(timeout)
            if f is None:
                return None
            fin, fop, payload = f
            if fop == OP_PONG or fop == OP_PING:
                continue
            if fop == OP_CLOSE:
                return "close", (struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None)
            if op is None:
                op = fop
            data += payload
            if fin:
                return op, data

    def expect_close(self, allowed):
        """A close frame with a status in `allowed` (None: no status) and then the end of
        the connection. Data frames before it are skipped."""
        while True:
            f = self.read_frame()
            if f is None:
                raise Fail(f"connection ended without a close frame (wanted {allowed})")
            fin, op, payload = f
            if op != OP_CLOSE:
                continue
            code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
            if code not in allowed:
                raise Fail(f"close status {code}, wanted one of {allowed}")
            if len(payload) > 2:
                payload[2:].decode("utf-8")  # the reason must be UTF-8
            break
        try:
            self.send(frame(OP_CLOSE, struct.pack(">H", 1000)))
        except OSError:
            pass
        if self.read_frame() is not None:
            raise Fail("data after the close frame")

    def close(self):
        self.sock.close()


# ---- profiles -------------------------------------------------------------------------------

def fnv(name):
    h = 0x811C9DC5
    for b in name.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h & 0x7FFFFFFF


ECHO_ID = fnv("echo")


def tf_frame(kind, ident, payload=b""):
    return struct.pack(">BII", kind, ident, len(payload)) + payload


def tf_hello():
    # Protocol {echo, chat} like `truflux serve`; the fingerprint does not matter (no STRICT).
    ids = sorted([fnv("echo"), fnv("chat")])
    p = b"TFLX" + struct.pack(">BBHIII", 1, 0, 0, 0, 64 << 20, 0) + bytes(32)
    p += struct.pack(">H", len(ids)) + b"".join(struct.pack(">I", i) for i in ids)
    return tf_frame(1, 0, p)


class Profile:
    """How data travels: the echo profile sends payloads as they are; the truflux profile
    wraps them in a truflux `echo` message (binary type) after the opening handshake."""

    def __init__(self, name, url):
        self.name, self.url = name, url

    def open(self, **kw):
        c = Conn(self.url, subprotocol="truflux.v1" if self.name == "truflux" else None, **kw)
        c.check_upgrade()
        if self.name == "truflux":
            c.send(frame(OP_BIN, tf_hello()))
            m = c.read_message()
            if not m or m[0] != OP_BIN or m[1][:1] != b"\x02":
                raise Fail(f"no WELCOME: {m!r:.80}")
        return c

    def wrap(self, data):
        return tf_frame(0x11, ECHO_ID, data) if self.name == "truflux" else data

    def expect_echo(self, c, op, data):
        m = c.read_message()
        if m is None:
            raise Fail("connection ended instead of the echo")
        if m[0] == "close":
            raise Fail(f"closed ({m[1]}) instead of the echo")
        want = (OP_BIN, self.wrap(data)) if self.name == "truflux" else (op, data)
        if m[0] != want[0] or m[1] != want[1]:
            raise Fail(f"echo differs: got op {m[0]} {len(m[1])} octets, "
                       f"want op {want[0]} {len(want[1])} octets")


# ---- cases ----------------------------------------------------------------------------------

CASES = []


def case(ident, title, profiles=("echo", "truflux")):
    def deco(fn):
        CASES.append((ident, title, profiles, fn))
        return fn
    return deco


def roundtrip(p, op, data, frames=None):
    c = p.open()
    payload = p.wrap(data)
    c.send(frames(payload) if frames else frame(op if p.name == "echo" else OP_BIN, payload))
    p.expect_echo(c, op, data)
    c.close()


for i, size in enumerate([0, 125, 126, 127, 65535, 65536, 1 << 20]):
    @case(f"1.1.{i + 1}", f"text message of {size} octets", ("echo",))
    def _(p, size=size):
        roundtrip(p, OP_TEXT, b"*" * size)

    @case(f"1.2.{i + 1}", f"binary message of {size} octets")
    def _(p, size=size):
        roundtrip(p, OP_BIN, bytes(range(256)) * (size // 256) + bytes(size % 256))


@case("1.3.1", "a 4 MiB binary message sent in 1 KiB writes")
def _(p):
    c = p.open()
    data = os.urandom(4 << 20)
    wire = frame(OP_BIN, p.wrap(data))
    for at in range(0, len(wire), 1024):
        c.send(wire[at:at + 1024])
    p.expect_echo(c, OP_BIN, data)
    c.close()


@case("1.3.2", "a 16-bit length frame sent octet by octet")
def _(p):
    c = p.open()
    data = b"x" * 300
    for b in frame(OP_BIN, p.wrap(data)):
        c.send(bytes([b]))
    p.expect_echo(c, OP_BIN, data)
    c.close()


@case("2.1", "ping with empty payload gets an empty pong")
def _(p):
    c = p.open()
    c.send(frame(OP_PING))
    f = c.read_frame()
    if not f or f[1] != OP_PONG or f[2] != b"":
        raise Fail(f"wanted an empty pong, got {f!r:.60}")
    c.close()


@case("2.2", "ping with 125 octets gets the same pong")
def _(p):
    c = p.open()
    data = os.urandom(125)
    c.send(frame(OP_PING, data))
    f = c.read_frame()
    if not f or f[1] != OP_PONG or f[2] != data:
        raise Fail("pong payload differs")
    c.close()


@case("2.3", "ping with 126 octets is a protocol error")
def _(p):
    c = p.open()
    c.send(frame(OP_PING, bytes(126)))
    c.expect_close({1002})


@case("2.4", "an unsolicited pong is ignored")
def _(p):
    c = p.open()
    c.send(frame(OP_PONG, b"unsolicited") + frame(OP_BIN, p.wrap(b"after")))
    p.expect_echo(c, OP_BIN, b"after")
    c.close()


@case("2.5", "a fragmented ping is a protocol error")
def _(p):
    c = p.open()
    c.send(frame(OP_PING, b"a", fin=False) + frame(OP_CONT, b"b"))
    c.expect_close({1002})


@case("2.6", "ten pings in a row: the last one is answered")
def _(p):
    c = p.open()
    c.send(b"".join(frame(OP_PING, b"%d" % i) for i in range(10)))
    c.send(frame(OP_BIN, p.wrap(b"mark")))
    last = None
    while True:
        f = c.read_frame()
        if f is None:
            raise Fail("connection ended")
        if f[1] == OP_PONG:
            last = f[2]
        elif f[1] != OP_PING:
            break
    if last != b"9":
        raise Fail(f"last pong {last!r}, wanted b'9'")
    c.close()


for bit, name in ((0x40, "RSV1"), (0x20, "RSV2"), (0x10, "RSV3")):
    @case(f"3.{bit >> 4}", f"{name} set on a data frame without an extension")
    def _(p, bit=bit):
        c = p.open()
        c.send(frame(OP_BIN, p.wrap(b"x"), rsv=bit))
        c.expect_close({1002})


@case("3.8", "RSV1 set on a ping")
def _(p):
    c = p.open()
    c.send(frame(OP_PING, b"x", rsv=0x40))
    c.expect_close({1002})


for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
    @case(f"4.{op}", f"reserved opcode {op}")
    def _(p, op=op):
        c = p.open()
        c.send(frame(op, b"x"))
        c.expect_close({1002})


@case("5.1", "fragmented message (3 fragments)")
def _(p):
    data = b"fragmented message"
    op = OP_TEXT if p.name == "echo" else OP_BIN

    def frames(w):
        return frame(op, w[:5], fin=False) + frame(OP_CONT, w[5:9], fin=False) + frame(OP_CONT, w[9:])
    roundtrip(p, op, data, frames)


@case("5.2", "fragments of one octet each, with empty fragments between")
def _(p):
    data = b"one octet at a time"

    def frames(w):
        out = frame(OP_BIN, w[:1], fin=False)
        for b in w[1:]:
            out += frame(OP_CONT, b"", fin=False) + frame(OP_CONT, bytes([b]), fin=False)
        return out + frame(OP_CONT, b"")
    roundtrip(p, OP_BIN, data, frames)


@case("5.3", "pings between fragments are answered and the message arrives")
def _(p):
    c = p.open()
    w = p.wrap(b"with pings inside")
    c.send(frame(OP_BIN, w[:3], fin=False) + frame(OP_PING, b"p1") + frame(OP_CONT, w[3:6], fin=False)
           + frame(OP_PING, b"p2") + frame(OP_CONT, w[6:]))
    pongs = []
    while len(pongs) < 2:
        f = c.read_frame()
        if f is None or f[1] not in (OP_PONG, OP_BIN, OP_TEXT, OP_CONT):
            raise Fail(f"wanted pongs, got {f!r:.60}")
        if f[1] == OP_PONG:
            pongs.append(f[2])
        else:
            c.buf = frame(f[1], f[2], fin=f[0], mask=False) + c.buf  # put the message back
            break
    p.expect_echo(c, OP_BIN, b"with pings inside")
    c.close()


@case("5.4", "a continuation frame without a message is a protocol error")
def _(p):
    c = p.open()
    c.send(frame(OP_CONT, p.wrap(b"x")))
    c.expect_close({1002})


@case("5.5", "a new message inside a fragmented one is a protocol error")
def _(p):
    c = p.open()
    w = p.wrap(b"xy")
    c.send(frame(OP_BIN, w[:1], fin=False) + frame(OP_BIN, w[1:]))
    c.expect_close({1002})


@case("5.6", "a close in the middle of a fragmented message is answered")
def _(p):
    c = p.open()
    c.send(frame(OP_BIN, p.wrap(b"xy")[:1], fin=False) + frame(OP_CLOSE, struct.pack(">H", 1000)))
    c.expect_close({1000})


VALID_UTF8 = ["κόσμε".encode(), "\U0010ffff".encode(), "\ufeff".encode(), b"\xf0\x90\x80\x80",
              b"\xed\x9f\xbf", b"\xee\x80\x80"]
INVALID_UTF8 = [b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xff",
                b"\x80", b"\xce", b"\xe1\x80", b"ok\xed\xbf\xbf"]

for i, s in enumerate(VALID_UTF8):
    @case(f"6.1.{i + 1}", f"valid UTF-8 {s.hex()} split in every place", ("echo",))
    def _(p, s=s):
        c = p.open()
        for cut in range(len(s) + 1):
            c.send(frame(OP_TEXT, s[:cut], fin=False) + frame(OP_CONT, s[cut:]))
            p.expect_echo(c, OP_TEXT, s)
        c.close()

for i, s in enumerate(INVALID_UTF8):
    @case(f"6.2.{i + 1}", f"invalid UTF-8 {s.hex()} is refused with 1007", ("echo",))
    def _(p, s=s):
        c = p.open()
        c.send(frame(OP_TEXT, s))
        c.expect_close({1007})


NON_STRICT = []


@case("6.3.1", "invalid UTF-8 fails fast, before the message ends", ("echo",))
def _(p):
    # As in Autobahn: failing at the first invalid octet is the strict behaviour; failing
    # only when the message ends passes as "non-strict" (Node's ws does that).
    c = p.open()
    c.send(frame(OP_TEXT, b"good\xed\xa0\x80", fin=False))  # a surrogate: never valid
    try:
        f = c.read_frame(timeout=1.0)
    except Fail:
        f = "quiet"
    if f == "quiet":
        NON_STRICT.append("6.3.1")
        c.send(frame(OP_CONT, b"end"))
    else:
        c.buf = (frame(f[1], f[2], mask=False) if f else b"") + c.buf
    c.expect_close({1007})


@case("6.4.1", "text messages do not carry truflux: 1003", ("truflux",))
def _(p):
    c = p.open()
    c.send(frame(OP_TEXT, b"hello"))
    c.expect_close({1003})


@case("7.1", "close without a status is answered")
def _(p):
    c = p.open()
    c.send(frame(OP_CLOSE))
    c.expect_close({None, 1000})


@case("7.2", "close with a one-octet payload is a protocol error")
def _(p):
    c = p.open()
    c.send(frame(OP_CLOSE, b"\x03"))
    c.expect_close({1002})


for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999):
    @case(f"7.3.{code}", f"close with valid status {code} is answered")
    def _(p, code=code):
        c = p.open()
        c.send(frame(OP_CLOSE, struct.pack(">H", code) + b"bye"))
        c.expect_close({code, 1000})

for code in (0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999, 5000, 65535):
    @case(f"7.4.{code}", f"close with invalid status {code} is a protocol error")
    def _(p, code=code):
        c = p.open()
        c.send(frame(OP_CLOSE, struct.pack(">H", code)))
        c.expect_close({1002})


@case("7.5", "close reason that is not UTF-8 is refused with 1007")
def _(p):
    c = p.open()
    c.send(frame(OP_CLOSE, struct.pack(">H", 1000) + b"\xed\xa0\x80"))
    c.expect_close({1007})


@case("7.6", "nothing is processed after a close")
def _(p):
    c = p.open()
    c.send(frame(OP_CLOSE, struct.pack(">H", 1000)) + frame(OP_BIN, p.wrap(b"late")))
    c.expect_close({1000})


@case("8.1", "an unmasked client frame is a protocol error")
def _(p):
    c = p.open()
    c.send(frame(OP_BIN, p.wrap(b"x"), mask=False))
    c.expect_close({1002})


@case("9.1", "a 64-bit length with its top bit set is a protocol error")
def _(p):
    c = p.open()
    c.send(bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1]) + os.urandom(4))
    c.expect_close({1002, 1009})


@case("10.1", "the upgrade answer is 101 with the right accept key")
def _(p):
    p.open().close()


@case("10.2", "an unsupported version is refused (no 101)")
def _(p):
    u = urlparse(p.url)
    c = Conn(p.url, request=f"GET {u.path or '/'} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 99\r\n\r\n")
    if c.status == 101 or c.status < 400:
        raise Fail(f"answered {c.status}")
    c.close()


@case("10.3", "a missing key is refused (no 101)")
def _(p):
    u = urlparse(p.url)
    c = Conn(p.url, request=f"GET {u.path or '/'} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
    if c.status == 101 or c.status < 400:
        raise Fail(f"answered {c.status}")
    c.close()


@case("11.1", "several truflux frames in one message", ("truflux",))
def _(p):
    c = p.open()
    c.send(frame(OP_BIN, tf_frame(0x11, ECHO_ID, b"a") + tf_frame(0x12, ECHO_ID, b"b")))
    got = b""
    while len(got) < 2 * 10:
        m = c.read_message()
        if not m or m[0] != OP_BIN:
            raise Fail(f"wanted the echoes, got {m!r:.60}")
        got += m[1]
    if got != tf_frame(0x11, ECHO_ID, b"a") + tf_frame(0x12, ECHO_ID, b"b"):
        raise Fail("echoes differ")
    c.close()


@case("11.2", "a truflux frame split across two messages is refused (1002)", ("truflux",))
def _(p):
    c = p.open()
    w = tf_frame(0x11, ECHO_ID, b"split")
    c.send(frame(OP_BIN, w[:6]) + frame(OP_BIN, w[6:]))
    c.expect_close({1002})


@case("11.3", "an empty binary message is refused (1002)", ("truflux",))
def _(p):
    c = p.open()
    c.send(frame(OP_BIN, b""))
    c.expect_close({1002})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("url")
    ap.add_argument("--profile", choices=("echo", "truflux"), required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    prof = Profile(a.profile, a.url)
    passed = failed = 0
    for ident, title, profiles, fn in CASES:
        if a.profile not in profiles or a.only not in ident:
            continue
        if a.list:
            print(ident, title)
            continue
        try:
            fn(prof)
            passed += 1
            print(f"ok   {ident} {title}")
        except (Fail, OSError, UnicodeDecodeError) as e:
            failed += 1
            print(f"FAIL {ident} {title}: {type(e).__name__}: {e}")
    if NON_STRICT:
        print("non-strict behaviour (allowed) in: " + ", ".join(NON_STRICT))
    if not a.list:
        print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
