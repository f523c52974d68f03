#!/usr/bin/env python3
"""The hostile-peer suite: malformed and malicious inputs over real sockets
against `truflux serve`, across TCP, TLS, WebSocket, the secure layer and file transfer.

    hostile.py --bin PATH/TO/truflux [--only SUBSTRING] [--list] [--verbose]

One server process per layer configuration (server_configs()). Every case (CASES, one table)
opens its own connection(s), misbehaves, and checks the documented reaction: the CLOSE code
on the wire (docs/PROTOCOL.md §17-18, §23.9, §24.9) or the WebSocket close status / HTTP
status (§3.3, docs/WEBSOCKET.md), then the end of the connection; and the code the server
itself reports for that peer in its log ("error HOST:PORT: <text>"). After EVERY case a
well-behaved client on a new connection does a full echo roundtrip on the same server. The
flood and slowloris cases also bound the server's memory (VmRSS from /proc/PID/status).
At the end each server gets SIGTERM and must exit 0 with no sanitizer report on its standard
error (in the ASan build LeakSanitizer reports there at exit).

Standard library only. harness.py holds the links, servers, well-behaved clients and
expectations; tfnoise.py the secure layer's cryptography. Exit status 1 when any
case fails. Every wait is bounded.
"""

import argparse
import base64
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from harness import (  # noqa: E402
    CLIENT_EXT, CLIENT_EXT_IK, ECHO, OP_BIN, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, SANITIZER_RE, SLOW,
    TIMEOUT, Env, Fail, Link, Server, WsLink, check, echo_frame, echo_roundtrip, expect_close,
    expect_end, expect_http, expect_ws_close, frame, hello, hello_payload, rss_kb, tf, tfnoise,
    ws_frame)


# ---- the cases ------------------------------------------------------------------------------

CASES = []


def case(name, layer, code, what, report=None):
    """Registers a case. `code`: the documented reaction, a number for CLOSE(code) on the
    wire, else "ws:STATUS" (WebSocket close), "http:STATUS" (refused upgrade), "decline:N" /
    "cancel:N" (a transfer refused, the connection stays open) or "end:N" (the connection
    ends with no frame the server could send). `report`: the code the server reports for the
    peer, when it is not `code` itself. `what`: the hostile input, in words (README)."""
    def deco(fn):
        CASES.append((name, layer, code, what, fn, report))
        return fn
    return deco


def describe(code, report):
    """The expected reaction in words, for --list and the README table."""
    def named(n):
        return "%d %s" % (n, tf.error_name(n))
    if isinstance(code, int):
        return "CLOSE(%s)" % named(code)
    how, n = code.split(":")
    n = int(n)
    if how == "ws":
        return "WebSocket close %d; server reports %s" % (n, named(report or tf.EWEBSOCKET))
    if how == "http":
        return "HTTP %d; server reports %s" % (n, named(tf.EHTTP))
    if how in ("decline", "cancel"):
        return "%s(%s) per transfer; the connection stays open" % (how.upper(), named(n))
    return "connection closed; server reports %s" % named(n)


def before_open(env, data, code):
    link = env.link()
    link.send_ignoring_end(data)
    expect_close(env, link, code)


def after_open(env, data, code, caps=0):
    link, _ = env.open(caps)
    link.send_ignoring_end(data)
    expect_close(env, link, code)


# -- TCP: the frame header, the hello, the message checks (§4.3, §6.3, §7.3, §12.1)

@case("tcp-http-to-raw-port", "tcp", tf.EPROTO, "an HTTP request on a raw truflux port")
def _(env):
    before_open(env, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", tf.EPROTO)


@case("tcp-hello-oversize", "tcp", tf.EMSGSIZE, "HELLO header announcing 65537 octets")
def _(env):
    before_open(env, frame(tf.KIND_HELLO, 0, length=65537), tf.EMSGSIZE)


@case("tcp-hello-4g-length", "tcp", tf.EMSGSIZE, "HELLO header announcing 0xFFFFFFFF octets")
def _(env):
    before_open(env, frame(tf.KIND_HELLO, 0, length=0xFFFFFFFF), tf.EMSGSIZE)


@case("tcp-hello-lying-id-count", "tcp", tf.EPROTO,
      "hello says 4000 ids, carries 2 (lying length inside the hello)")
def _(env):
    p = bytearray(hello_payload())
    p[52:54] = struct.pack(">H", 4000)
    before_open(env, frame(tf.KIND_HELLO, 0, bytes(p)), tf.EPROTO)


@case("tcp-hello-too-many-ids", "tcp", tf.EPROTO, "hello with n = 4097 ids")
def _(env):
    before_open(env, hello(ids=list(range(1, 4098))), tf.EPROTO)


@case("tcp-hello-lying-extension", "tcp", tf.EPROTO,
      "hello extension whose length runs past the payload")
def _(env):
    p = hello_payload() + struct.pack(">HH", 0x7777, 500) + b"xx"
    before_open(env, frame(tf.KIND_HELLO, 0, p), tf.EPROTO)


@case("tcp-hello-version-2", "tcp", tf.EVERSION, "hello of major version 2")
def _(env):
    before_open(env, hello(major=2), tf.EVERSION)


@case("tcp-hello-id-bit31", "tcp", tf.EPROTO, "hello listing the message id 0x80000001")
def _(env):
    before_open(env, hello(ids=[5, 0x80000001]), tf.EPROTO)


@case("tcp-welcome-to-server", "tcp", tf.EPROTO, "a WELCOME as the first frame")
def _(env):
    before_open(env, frame(tf.KIND_WELCOME, 0, hello_payload()), tf.EPROTO)


@case("tcp-message-oversize", "tcp", tf.EMSGSIZE,
      "MESSAGE header announcing 2^31-1 octets (only the header is sent)")
def _(env):
    after_open(env, frame(0x11, ECHO, length=0x7FFFFFFF), tf.EMSGSIZE)


@case("tcp-ping-too-long", "tcp", tf.EMSGSIZE, "PING with 126 octets (control limit 125)")
def _(env):
    after_open(env, frame(tf.KIND_PING, 0, bytes(126)), tf.EMSGSIZE)


@case("tcp-close-too-long", "tcp", tf.EMSGSIZE, "CLOSE with 4096 octets of text")
def _(env):
    after_open(env, frame(tf.KIND_CLOSE, 0, b"x" * 4096), tf.EMSGSIZE)


@case("tcp-error-lying-length", "tcp", tf.EPROTO, "ERROR whose payload is shorter than its code")
def _(env):
    after_open(env, frame(tf.KIND_ERROR, 0, b"\x00\x09"), tf.EPROTO)


@case("tcp-reserved-id-bit", "tcp", tf.EPROTO, "MESSAGE with bit 31 of the id set")
def _(env):
    after_open(env, frame(0x11, ECHO | 0x80000000, b"x"), tf.EPROTO)


@case("tcp-undefined-kind", "tcp", tf.EPROTO, "frame of undefined kind 0x7F")
def _(env):
    after_open(env, frame(0x7F, 0, b""), tf.EPROTO)


@case("tcp-secure-kind-without-cap", "tcp", tf.EPROTO,
      "RECORD (0x21) on a connection without the secure layer")
def _(env):
    after_open(env, frame(0x21, 0, bytes(32)), tf.EPROTO)


@case("tcp-file-kind-without-cap", "tcp", tf.EPROTO,
      "CHUNK (0x36) on a connection without file transfer")
def _(env):
    after_open(env, frame(0x36, 1, b"data"), tf.EPROTO)


@case("tcp-hello-after-open", "tcp", tf.EPROTO, "a second HELLO on an open connection")
def _(env):
    after_open(env, hello(), tf.EPROTO)


@case("tcp-text-invalid-utf8", "tcp", tf.EUTF8, "text MESSAGE with a surrogate (ED A0 80)")
def _(env):
    after_open(env, echo_frame(b"ok \xed\xa0\x80", kind=0x12), tf.EUTF8)


@case("tcp-text-overlong-utf8", "tcp", tf.EUTF8, "text MESSAGE with an overlong '/' (C0 AF)")
def _(env):
    after_open(env, echo_frame(b"\xc0\xaf", kind=0x12), tf.EUTF8)


@case("tcp-msgpack-deep", "tcp", tf.ESCHEMA,
      "MessagePack nested 200000 arrays deep (a recursion bomb)")
def _(env):
    after_open(env, echo_frame(b"\x91" * 200000 + b"\xc0", kind=0x13), tf.ESCHEMA)


@case("tcp-msgpack-lying-length", "tcp", tf.ESCHEMA,
      "MessagePack bin32 announcing 2^32-1 octets in a 6-octet payload")
def _(env):
    after_open(env, echo_frame(b"\xc6\xff\xff\xff\xff\x00", kind=0x13), tf.ESCHEMA)


@case("tcp-unknown-message-id", "tcp", tf.EUNKNOWN, "MESSAGE with an id the server lacks")
def _(env):
    after_open(env, frame(0x11, 0x1234567, b"?"), tf.EUNKNOWN)


@case("tcp-truncated-then-eof", "tcp", "end:30",
      "MESSAGE header for 1000 octets, 10 sent, then the end of the stream")
def _(env):
    link, _ = env.open()
    link.send(echo_frame(b"0123456789")[:9 - 4] + struct.pack(">I", 1000) + b"0123456789")
    link.sock.shutdown(socket.SHUT_WR)
    expect_end(env, link, tf.EEOF)


@case("tcp-reset-mid-frame", "tcp", "end:19",
      "half a MESSAGE, then a TCP reset (SO_LINGER 0)")
def _(env):
    link, _ = env.open()
    link.send(echo_frame(b"0123456789")[:12])
    port = link.port
    link.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    link.close()
    env.server.reported(port, tf.ECONNRESET)


@case("tcp-close-bad-text", "tcp", 0,
      "CLOSE(code 9999) whose text is not UTF-8: not a violation (§18), answered CLOSE(0)")
def _(env):
    link, _ = env.open()
    link.send(frame(tf.KIND_CLOSE, 9999, b"\xff\xc0 bad"))
    f = link.read_frame()
    check(f is not None and f[0] == tf.KIND_CLOSE and f[1] == 0, "answer: %r" % (f,))
    link.wait_end()
    link.close()


@case("tcp-slowloris-hello", "tcp", tf.EHELLOTIMEOUT,
      "10 connections sending their HELLO one octet a second (under --max-connections 16)")
def _(env):
    slowloris(env, [env.tcp() for _ in range(10)], hello(), tf.EHELLOTIMEOUT, wire=True)


@case("tcp-connection-flood", "tcp", tf.ELIMIT,
      "40 connections against --max-connections 16, each sending its HELLO")
def _(env):
    before = rss_kb(env.server.pid)
    links = []
    for _ in range(40):
        link = env.tcp()
        link.send(hello())
        links.append(link)
    opened = refused = 0
    for link in links:
        f = link.read_frame()
        check(f is not None, "flood connection ended without an answer")
        if f[0] == tf.KIND_WELCOME:
            opened += 1
        else:
            check(f[0] == tf.KIND_CLOSE and f[1] == tf.ELIMIT, "flood answer %r" % (f,))
            refused += 1
            link.wait_end()
    check(opened == 16 and refused == 24, "%d opened, %d refused; wanted 16 and 24"
          % (opened, refused))
    for link in links:
        link.close()
    check(rss_kb(env.server.pid) - before < 32 * 1024, "RSS grew by more than 32 MiB")
    wait_count_below(env, 16)


@case("tcp-frame-flood-unread", "tcp", tf.EMSGSIZE,
      "100000 PINGs without reading the PONGs, then an oversize header")
def _(env):
    before = rss_kb(env.server.pid)
    link, _ = env.open()
    burst = frame(tf.KIND_PING, 0, b"p" * 100) * 1000
    for _ in range(100):
        link.send_ignoring_end(burst)
    link.send_ignoring_end(frame(0x11, ECHO, length=0x7FFFFFFF))
    port = link.port
    link.sock.shutdown(socket.SHUT_WR)
    link.wait_end(20)
    link.close()
    env.server.reported(port, tf.EMSGSIZE)
    grew = rss_kb(env.server.pid) - before
    check(grew < 64 * 1024, "RSS grew by %d KiB" % grew)


# -- TLS (§3.1): below truflux, and truflux inside it

@case("tls-plaintext-hello", "tls", "end:48",
      "a plaintext truflux HELLO on the TLS port (not a ClientHello)")
def _(env):
    link = env.tcp("tls")
    link.send_ignoring_end(hello())
    expect_end(env, link, tf.EHANDSHAKE)


@case("tls-garbage-record", "tls", "end:22",
      "a TLS application-data record of random octets after the handshake (bad MAC)")
def _(env):
    link, _ = env.open()
    # Below the TLS session: a well-framed record that cannot authenticate.
    sock = socket.socket(fileno=os.dup(link.sock.fileno()))
    sock.sendall(b"\x17\x03\x03\x00\x40" + os.urandom(64))
    sock.close()
    port = link.port
    link.wait_end()
    link.close()
    env.server.reported(port, tf.EIO)


@case("tls-slowloris-handshake", "tls", "end:7",
      "10 connections that never finish the TLS handshake (one ClientHello octet a second)")
def _(env):
    ch = client_hello_bytes()
    slowloris(env, [env.tcp("tls") for _ in range(10)], ch, tf.EHELLOTIMEOUT, wire=False)


@case("tls-oversize-inside", "tls", tf.EMSGSIZE, "over TLS: PING header announcing 1 MiB")
def _(env):
    after_open(env, frame(tf.KIND_PING, 0, length=1 << 20), tf.EMSGSIZE)


@case("tls-message-before-hello", "tls", tf.EPROTO, "over TLS: a MESSAGE before the HELLO")
def _(env):
    before_open(env, echo_frame(), tf.EPROTO)


# -- WebSocket (§3.3, RFC 6455)

def ws_open(env):
    """A WebSocket past the truflux opening: the server then reports how it ended."""
    link = env.ws()
    link.send(hello())
    f = link.read_frame()
    check(f is not None and f[0] == tf.KIND_WELCOME, "no WELCOME: %r" % (f,))
    return link


@case("ws-text-message", "ws", "ws:1003", "a truflux MESSAGE in a text message")
def _(env):
    link = ws_open(env)
    link.send_ws(ws_frame(OP_TEXT, echo_frame()))
    expect_ws_close(env, link, 1003)


@case("ws-text-before-hello", "ws", "ws:1003",
      "the HELLO in a text message (before the opening)")
def _(env):
    link = env.ws()
    link.send_ws(ws_frame(OP_TEXT, hello()))
    expect_ws_close(env, link, 1003)


@case("ws-unmasked", "ws", "ws:1002", "an unmasked client frame")
def _(env):
    link = ws_open(env)
    link.send_ws(ws_frame(OP_BIN, echo_frame(), mask=False))
    expect_ws_close(env, link, 1002)


@case("ws-bad-mask-key", "ws", tf.EPROTO,
      "a HELLO fragment whose mask key was changed after masking (it unmasks to kind 0x7F)")
def _(env):
    link = env.ws()
    wire = bytearray(ws_frame(OP_BIN, hello(), fin=False))
    wire[2] ^= 0x7E   # first key octet: payload octets 0, 4, 8... unmask differently
    link.send_ws(bytes(wire))
    expect_close(env, link, tf.EPROTO)


@case("ws-lying-length", "ws", "ws:1002",
      "a binary message that ends inside the truflux frame it starts (frame says 100 octets)",
      report=tf.EPROTO)
def _(env):
    link = ws_open(env)
    link.send(frame(0x11, ECHO, b"short", length=100))
    expect_ws_close(env, link, 1002, reported=tf.EPROTO)


@case("ws-empty-message", "ws", "ws:1002", "an empty binary message", report=tf.EPROTO)
def _(env):
    link = ws_open(env)
    link.send_ws(ws_frame(OP_BIN, b""))
    expect_ws_close(env, link, 1002, reported=tf.EPROTO)


@case("ws-length-2^62", "ws", tf.EMSGSIZE,
      "a WebSocket frame announcing 2^62 octets: its first truflux frame is echoed (streamed), "
      "then a truflux header for 2^31-1 octets")
def _(env):
    link = ws_open(env)
    inner = echo_frame(b"streamed") + frame(0x11, ECHO, length=0x7FFFFFFF)
    key = os.urandom(4)
    link.send_ws(bytes([0x82, 0xFF]) + struct.pack(">Q", 1 << 62) + key +
                 bytes(c ^ key[i & 3] for i, c in enumerate(inner)))
    f = link.read_frame()
    check(f == (0x11, ECHO, b"streamed"), "no echo of the streamed frame: %r" % (f,))
    expect_close(env, link, tf.EMSGSIZE)


@case("ws-control-too-long", "ws", "ws:1002", "a WebSocket ping with 200 octets")
def _(env):
    link = ws_open(env)
    link.send_ws(ws_frame(OP_PING, bytes(200)))
    expect_ws_close(env, link, 1002)


@case("ws-close-bad-utf8", "ws", "ws:1007",
      "a WebSocket close whose reason is not UTF-8, after the truflux opening")
def _(env):
    link = ws_open(env)
    link.send_ws(ws_frame(OP_CLOSE, struct.pack(">H", 1000) + b"\xff\xfe"))
    expect_ws_close(env, link, 1007)


@case("ws-fragment-flood", "ws", "ws:1002",
      "a truflux frame in 50000 one-octet fragments (echoed), then 50000 more fragments of "
      "a message that ends inside a truflux frame", report=tf.EPROTO)
def _(env):
    before = rss_kb(env.server.pid)
    link = ws_open(env)
    piece = ws_frame(OP_CONT, b"z", fin=False)
    for last in (False, True):
        head = frame(0x11, ECHO, length=50000 + (10 if last else 0))
        wire = ws_frame(OP_BIN, head, fin=False)
        for _ in range(50):
            link.send_ws(wire + piece * 1000)
            wire = b""
        link.send_ws(ws_frame(OP_CONT, b""))
        if not last:
            f = link.read_frame()
            check(f == (0x11, ECHO, b"z" * 50000), "no echo of the fragmented frame")
    expect_ws_close(env, link, 1002, reported=tf.EPROTO)
    grew = rss_kb(env.server.pid) - before
    check(grew < 32 * 1024, "RSS grew by %d KiB" % grew)


@case("ws-truflux-oversize", "ws", tf.EMSGSIZE,
      "in an unfinished binary message: a MESSAGE header announcing 2^31-1 octets")
def _(env):
    link = ws_open(env)
    link.send_ws(ws_frame(OP_BIN, frame(0x11, ECHO, length=0x7FFFFFFF), fin=False))
    expect_close(env, link, tf.EMSGSIZE)


@case("http-request-line-too-long", "ws", "http:414", "an upgrade request line of 5000 octets")
def _(env):
    req = "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % ("a" * 5000)
    expect_http(env, WsLink(env.ws_url(), request=req), 414)


@case("http-too-many-fields", "ws", "http:431", "an upgrade with 100 header fields")
def _(env):
    req = "GET / HTTP/1.1\r\nHost: x\r\n" + "".join("X-F%d: v\r\n" % i for i in range(100))
    expect_http(env, WsLink(env.ws_url(), request=req + "\r\n"), 431)


@case("http-not-get", "ws", "http:405", "a POST upgrade request")
def _(env):
    req = ("POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    expect_http(env, WsLink(env.ws_url(), request=req), 405)


@case("http-wrong-subprotocol", "ws", "http:400",
      "an upgrade offering subprotocols, none of them truflux.v1")
def _(env):
    expect_http(env, WsLink(env.ws_url(), subprotocol="chat, superchat"), 400)


@case("http-head-too-large", "ws", "http:431",
      "an upgrade whose head has 60 fields of 200 octets (12000 octets, limit 8192)")
def _(env):
    req = "GET / HTTP/1.1\r\nHost: x\r\n" + "".join(
        "X-F%d: %s\r\n" % (i, "v" * 200) for i in range(60))
    expect_http(env, WsLink(env.ws_url(), request=req + "\r\n"), 431)


@case("http-bad-key", "ws", "http:400", "an upgrade whose Sec-WebSocket-Key is 3 octets")
def _(env):
    req = ("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n\r\n")
    expect_http(env, WsLink(env.ws_url(), request=req), 400)


@case("http-slowloris-upgrade", "ws", "end:7",
      "20 connections sending their upgrade request one octet a second")
def _(env):
    req = ("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    host, port = env.server.addr("ws")
    links = [Link(socket.create_connection((host, port), timeout=TIMEOUT)) for _ in range(20)]
    slowloris(env, links, req.encode(), tf.EHELLOTIMEOUT, wire=False)


# -- the secure layer, required by the server (§24)

@case("sec-plain-hello", "secure", tf.ENOTSECURE, "a HELLO without the secure layer")
def _(env):
    before_open(env, hello(), tf.ENOTSECURE)


@case("sec-plaintext-before-handshake", "secure", tf.ENOTSECURE,
      "a plain MESSAGE after the hello, before the Noise handshake (encryption required)")
def _(env):
    link, _ = env.open(tf.CAP_SECURE, [(1, CLIENT_EXT)])
    link.send_ignoring_end(echo_frame())
    expect_close(env, link, tf.ENOTSECURE)


@case("sec-plaintext-after-records", "secure", tf.ENOTSECURE,
      "a plain MESSAGE after the client's first RECORD")
def _(env):
    s = env.secure_open()
    s.link.send(s.record(echo_frame(b"sealed")))
    check(s.read_inner() == (0x11, ECHO, b"sealed"), "no sealed echo")
    s.link.send_ignoring_end(echo_frame(b"plain"))
    expect_secure_close(env, s, tf.ENOTSECURE)


@case("sec-no-common-cipher", "secure", tf.ENOCIPHER,
      "a secure extension offering AESGCM only (the server runs ChaChaPoly)")
def _(env):
    before_open(env, hello(tf.CAP_SECURE, [(1, bytes([1, 2, 1, 0, 1, 1, 0]))]), tf.ENOCIPHER)


@case("sec-malformed-extension", "secure", tf.EPROTO,
      "a secure extension with 200 patterns (count over 16)")
def _(env):
    before_open(env, hello(tf.CAP_SECURE, [(1, bytes([1, 2, 200, 0]))]), tf.EPROTO)


@case("sec-noise-out-of-order", "secure", tf.EPROTO,
      "NOISE message index 1 from the client (handshake out of order)")
def _(env):
    link, _ = env.open(tf.CAP_SECURE, [(1, CLIENT_EXT)])
    link.send_ignoring_end(frame(0x20, 1, bytes(48)))
    expect_close(env, link, tf.EPROTO)


@case("sec-noise-malformed", "secure", tf.EHANDSHAKE,
      "NOISE message 0 of 5 octets (an X25519 key has 32)")
def _(env):
    link, _ = env.open(tf.CAP_SECURE, [(1, CLIENT_EXT)])
    link.send_ignoring_end(frame(0x20, 0, b"short"))
    expect_close(env, link, tf.EHANDSHAKE)


@case("sec-record-before-keys", "secure", tf.EPROTO, "a RECORD before the Noise handshake")
def _(env):
    link, _ = env.open(tf.CAP_SECURE, [(1, CLIENT_EXT)])
    link.send_ignoring_end(frame(0x21, 0, bytes(32)))
    expect_close(env, link, tf.EPROTO)


@case("sec-switch-outside-record", "secure", tf.ENOTSECURE, "a plain SWITCH 1 frame")
def _(env):
    s = env.secure_open()
    s.link.send_ignoring_end(frame(0x22, 1))
    expect_secure_close(env, s, tf.ENOTSECURE)


@case("sec-tampered-record", "secure", tf.EDECRYPT, "a RECORD with one ciphertext bit flipped")
def _(env):
    s = env.secure_open()
    rec = bytearray(s.record(echo_frame(b"tamper me")))
    rec[12] ^= 0x01
    s.link.send_ignoring_end(bytes(rec))
    expect_secure_close(env, s, tf.EDECRYPT)


@case("sec-tampered-header", "secure", tf.EDECRYPT,
      "a RECORD whose header (authenticated data) was changed: length and payload re-cut")
def _(env):
    s = env.secure_open()
    rec = s.record(echo_frame(b"abc"))
    s.link.send_ignoring_end(rec[:5] + struct.pack(">I", len(rec) - 10) + rec[9:-1])
    expect_secure_close(env, s, tf.EDECRYPT)


@case("sec-replayed-record", "secure", tf.EREPLAY, "the same RECORD sent twice")
def _(env):
    s = env.secure_open()
    rec = s.record(echo_frame(b"once"))
    s.link.send(rec)
    check(s.read_inner() == (0x11, ECHO, b"once"), "no echo of the first record")
    s.link.send_ignoring_end(rec)
    expect_secure_close(env, s, tf.EREPLAY)


@case("sec-skipped-record", "secure", tf.EREORDER, "a RECORD with sequence 1 where 0 is due")
def _(env):
    s = env.secure_open()
    s.record(echo_frame(b"lost"))            # sealed, never sent
    s.link.send_ignoring_end(s.record(echo_frame(b"second")))
    expect_secure_close(env, s, tf.EREORDER)


@case("sec-short-record", "secure", tf.ETRUNCATED, "a RECORD of 15 octets (shorter than a tag)")
def _(env):
    s = env.secure_open()
    s.link.send_ignoring_end(frame(0x21, 0, bytes(15)))
    expect_secure_close(env, s, tf.ETRUNCATED)


@case("sec-cut-stream", "secure", "end:43",
      "the stream ends after records without an authenticated CLOSE")
def _(env):
    s = env.secure_open()
    s.link.send(s.record(echo_frame(b"x")))
    check(s.read_inner() == (0x11, ECHO, b"x"), "no echo")
    s.link.sock.shutdown(socket.SHUT_WR)
    expect_end(env, s.link, tf.ETRUNCATED)


@case("sec-inner-hello", "secure", tf.EPROTO, "a HELLO inside a RECORD")
def _(env):
    s = env.secure_open()
    s.link.send_ignoring_end(s.record(hello()))
    expect_secure_close(env, s, tf.EPROTO)


@case("sec-inner-oversize", "secure", tf.EMSGSIZE,
      "inside a RECORD: a MESSAGE header announcing 2^31-1 octets")
def _(env):
    s = env.secure_open()
    s.link.send_ignoring_end(s.record(frame(0x11, ECHO, length=0x7FFFFFFF)))
    expect_secure_close(env, s, tf.EMSGSIZE)


# -- the secure layer with client authentication (--authorized-keys: XX and IK only)

def ik_message0(env, static_priv):
    """A connection past the hello, offering IK: (link, the IK initiator)."""
    link, welcome = env.open(tf.CAP_SECURE, [(1, CLIENT_EXT_IK)])
    hs = tfnoise.IKInitiator(CLIENT_EXT_IK, dict(welcome.extensions)[1], static_priv,
                             env.server_pub)
    return link, hs


@case("auth-unauthorised-key", "auth", tf.EAUTH,
      "a complete IK message 0 from a static key not in --authorized-keys")
def _(env):
    link, hs = ik_message0(env, os.urandom(32))
    link.send_ignoring_end(frame(0x20, 0, hs.message0()))
    expect_close(env, link, tf.EAUTH)


@case("auth-forged-static", "auth", tf.EHANDSHAKE,
      "IK message 0 with one bit of the encrypted static key flipped")
def _(env):
    link, hs = ik_message0(env, env.client_key)
    msg = bytearray(hs.message0())
    msg[40] ^= 0x01
    link.send_ignoring_end(frame(0x20, 0, bytes(msg)))
    expect_close(env, link, tf.EHANDSHAKE)


@case("auth-nn-only", "auth", tf.ENOCIPHER,
      "a client offering only NN (no client authentication) to a server that requires it")
def _(env):
    before_open(env, hello(tf.CAP_SECURE, [(1, CLIENT_EXT)]), tf.ENOCIPHER)


# -- file transfer (§23), the server accepting into a directory

def offer(tid, name, size=5, name_len=None):
    raw = name if isinstance(name, bytes) else name.encode()
    n = len(raw) if name_len is None else name_len
    return frame(0x30, tid, struct.pack(">Q", size) + bytes(16) + struct.pack(">HH", 0, n) + raw)


HOSTILE_NAMES = [
    ("dotdot", b".."), ("traversal", b"../../etc/passwd"), ("slash", b"a/b"),
    ("backslash", b"..\\..\\boot.ini"), ("nul", b"ok\x00.txt"), ("newline", b"a\nb"),
    ("del", b"a\x7fb"), ("c1", b"a\xc2\x85b"), ("bad-utf8", b"\xff\xfe.txt"),
    ("tfpart", b".tfpart-0-x"), ("dot", b"."),
]


@case("file-hostile-names", "files", "decline:63",
      "OFFERs named .., ../../etc/passwd, a/b, ..\\..\\boot.ini, NUL, LF, DEL, C1, bad UTF-8, "
      ".tfpart-*, .: each DECLINE(EFILENAME), the connection stays up, nothing written")
def _(env):
    link, _ = env.open(tf.CAP_FILES)
    tid = 1
    for label, name in HOSTILE_NAMES:
        link.send(offer(tid, name))
        f = read_skipping(link, (0x38,))
        check(f is not None and f[0] == 0x32 and f[1] == tid,
              "%s: wanted DECLINE for id %d, got %r" % (label, tid, f))
        code = struct.unpack(">I", f[2][:4])[0]
        check(code == tf.EFILENAME, "%s: DECLINE code %d" % (label, code))
        tid += 2
    link.send(echo_frame(b"still up"))
    check(read_skipping(link, ()) == (0x11, ECHO, b"still up"), "connection not usable")
    link.send(frame(tf.KIND_CLOSE, 0))
    link.wait_end()
    link.close()
    check(os.listdir(env.files_dir) == [], "files written: %s" % os.listdir(env.files_dir))


@case("file-name-length-zero", "files", tf.EPROTO, "an OFFER with a 0-octet name")
def _(env):
    after_open(env, offer(1, b"", name_len=0), tf.EPROTO, caps=tf.CAP_FILES)


@case("file-name-lying-length", "files", tf.EPROTO,
      "an OFFER whose name length (200) runs past the payload")
def _(env):
    after_open(env, offer(1, b"short", name_len=200), tf.EPROTO, caps=tf.CAP_FILES)


@case("file-chunk-unknown", "files", tf.EFILEUNKNOWN, "a CHUNK for transfer 99, never offered")
def _(env):
    after_open(env, frame(0x36, 99, b"data"), tf.EFILEUNKNOWN, caps=tf.CAP_FILES)


@case("file-credit-unknown", "files", tf.EFILEUNKNOWN,
      "a CREDIT for transfer 2 (the server's parity), never offered")
def _(env):
    after_open(env, frame(0x38, 2, struct.pack(">I", 4096)), tf.EFILEUNKNOWN, caps=tf.CAP_FILES)


@case("file-cancel-unknown", "files", tf.EFILEUNKNOWN, "a CANCEL for transfer 7, never offered")
def _(env):
    after_open(env, frame(0x35, 7, struct.pack(">I", 5)), tf.EFILEUNKNOWN, caps=tf.CAP_FILES)


@case("file-accept-own-parity", "files", tf.EFILEUNKNOWN,
      "an ACCEPT (a receiver's kind) for odd id 1, the client's own parity")
def _(env):
    after_open(env, frame(0x31, 1, struct.pack(">QI", 0, 65536)), tf.EFILEUNKNOWN,
               caps=tf.CAP_FILES)


@case("file-offer-wrong-parity", "files", tf.EPROTO, "an OFFER with an even (server) id")
def _(env):
    after_open(env, offer(2, b"even.txt"), tf.EPROTO, caps=tf.CAP_FILES)


@case("file-offer-replayed-id", "files", tf.EPROTO, "two OFFERs with the same id")
def _(env):
    after_open(env, offer(5, b"one.txt") + offer(5, b"two.txt"), tf.EPROTO, caps=tf.CAP_FILES)


@case("file-reserved-kind", "files", tf.EPROTO, "file kind 0x3A (reserved)")
def _(env):
    after_open(env, frame(0x3A, 1, b""), tf.EPROTO, caps=tf.CAP_FILES)


@case("file-chunk-over-size", "files", "cancel:61",
      "a transfer offered at 5 octets whose CHUNK carries 100 (CANCEL EFILESIZE, no file kept)")
def _(env):
    link, _ = env.open(tf.CAP_FILES)
    link.send(offer(1, b"small.txt", size=5))
    f = read_skipping(link, ())
    check(f is not None and f[0] == 0x31 and f[1] == 1, "no ACCEPT: %r" % (f,))
    link.send(frame(0x36, 1, b"x" * 100))
    f = read_skipping(link, (0x38,))
    check(f is not None and f[0] == 0x35 and struct.unpack(">I", f[2][:4])[0] == tf.EFILESIZE,
          "wanted CANCEL(EFILESIZE), got %r" % (f,))
    link.send(frame(0x36, 1, b"late chunk, dropped silently"))
    link.send(echo_frame(b"after"))
    check(read_skipping(link, ()) == (0x11, ECHO, b"after"), "connection not usable")
    link.send(frame(tf.KIND_CLOSE, 0))
    link.wait_end()
    link.close()
    check("small.txt" not in os.listdir(env.files_dir), "a canceled file was kept")


@case("file-offer-flood", "files", "decline:66",
      "40 OFFERs left unfinished (the server allows 16 incoming transfers at once)")
def _(env):
    before = rss_kb(env.server.pid)
    link, _ = env.open(tf.CAP_FILES)
    link.send(b"".join(offer(2 * i + 1, b"f%d" % i, size=1 << 30) for i in range(40)))
    accepted = declined = 0
    while accepted + declined < 40:
        f = read_skipping(link, (0x38,))
        check(f is not None, "connection ended")
        if f[0] == 0x31:
            accepted += 1
        else:
            check(f[0] == 0x32 and struct.unpack(">I", f[2][:4])[0] == tf.EFILELIMIT,
                  "wanted DECLINE(EFILELIMIT), got %r" % (f,))
            declined += 1
    check(accepted == 16 and declined == 24, "%d accepted, %d declined" % (accepted, declined))
    link.send(frame(tf.KIND_CLOSE, 0))
    link.wait_end()
    link.close()
    check(rss_kb(env.server.pid) - before < 32 * 1024, "RSS grew by more than 32 MiB")


# ---- helpers of the cases -------------------------------------------------------------------

def read_skipping(link, kinds):
    """The next frame whose kind is not in `kinds` (PING/PONG always skipped)."""
    while True:
        f = link.read_frame()
        if f is None or (f[0] not in kinds and f[0] not in (tf.KIND_PING, tf.KIND_PONG)):
            return f


def expect_secure_close(env, s, code):
    """CLOSE(code) from the server, sealed (its direction is encrypted) or plain."""
    port = s.link.port
    while True:
        f = s.read_inner()
        check(f is not None, "connection ended without CLOSE(%s)" % tf.error_name(code))
        if f[0] == tf.KIND_CLOSE:
            break
    check(f[1] == code, "CLOSE(%s %r), wanted %s" % (tf.error_name(f[1]), f[2][:60],
                                                    tf.error_name(code)))
    s.link.wait_end()
    s.link.close()
    env.server.reported(port, code)




def client_hello_bytes():
    """The first octets of a real TLS ClientHello (a record header and some of the body)."""
    return b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(32)


def slowloris(env, links, data, code, wire):
    """Each link trickles `data` one octet per second. Meanwhile well-behaved clients are
    served, and at the handshake timeout (10 s in the CLI) every slow link is closed:
    CLOSE(code) on the wire when `wire`, and the server reports `code`. The server's
    memory stays bounded."""
    before = rss_kb(env.server.pid)
    start = time.monotonic()
    at = 0
    served = 0
    live = list(links)
    while live and time.monotonic() - start < 20 * SLOW:
        for link in list(live):
            if at < len(data) - 1:
                try:
                    link.sock.sendall(data[at:at + 1])
                except OSError:
                    pass
            r = select.select([link.sock], [], [], 0)[0]
            if r:
                live.remove(link)
        at += 1
        if served < 3:
            echo_roundtrip(env)
            served += 1
        time.sleep(max(0.0, start + at - time.monotonic()))
    check(not live, "%d slow connections still open after 20 s" % len(live))
    took = time.monotonic() - start
    check(took > 8, "slow connections closed after %.1f s, before the handshake timeout" % took)
    grew = rss_kb(env.server.pid) - before
    check(grew < 16 * 1024, "RSS grew by %d KiB" % grew)
    for link in links:
        port = link.port
        if wire:
            f = link.read_frame()
            check(f is not None and f[0] == tf.KIND_CLOSE and f[1] == code,
                  "wanted CLOSE(%s), got %r" % (tf.error_name(code), f))
        link.wait_end()
        link.close()
        env.server.reported(port, code)


def wait_count_below(env, limit):
    """After a flood, the server's count of open connections goes back (bounded wait)."""
    deadline = time.monotonic() + 5 * SLOW
    while time.monotonic() < deadline:
        try:
            echo_roundtrip(env)
            return
        except (Fail, tf.TrufluxError, OSError):
            time.sleep(0.05)
    raise Fail("the server did not free the flood's connections")


# ---- the run --------------------------------------------------------------------------------

def make_pki(tmp):
    """A CA and a server certificate for 127.0.0.1 / localhost, with openssl(1)."""
    openssl = shutil.which("openssl")
    check(openssl, "no openssl binary")

    def run(*args):
        subprocess.run([openssl] + list(args), check=True, capture_output=True, timeout=30)
    p = lambda n: os.path.join(tmp, n)   # noqa: E731
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2", "-subj", "/CN=hostile CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", p("srv.key.pem"), "-out", p("srv.csr"), "-subj", "/CN=localhost")
    with open(p("srv.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", p("srv.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
        "-CAcreateserial", "-out", p("srv.pem"), "-days", "2", "-extfile", p("srv.ext"))


def server_configs(binary, tmp):
    files = os.path.join(tmp, "incoming")
    os.mkdir(files)
    subprocess.run([binary, "keygen", os.path.join(tmp, "noise")], check=True,
                   capture_output=True, timeout=30 * SLOW)
    # The "auth" server lets in one client key, the suite's well-behaved IK client's.
    client_key, client_pub = tfnoise.x25519_keypair()
    with open(os.path.join(tmp, "authorized"), "w") as f:
        f.write("# the suite's client\n%s\n" % base64.b64encode(client_pub).decode())
    with open(os.path.join(tmp, "noise.pub")) as f:
        keys = {"client_key": client_key, "server_pub": base64.b64decode(f.read().strip())}
    common = ["--close-timeout", "1000"]
    return files, keys, {
        "tcp": (["--tcp", "127.0.0.1:0", "--max-connections", "16"], 1),
        "tls": (["--tls", "127.0.0.1:0", "--tls-cert", os.path.join(tmp, "srv.pem"),
                 "--tls-key", os.path.join(tmp, "srv.key.pem")], 1),
        "ws": (["--ws", "127.0.0.1:0"], 1),
        "secure": (["--tcp", "127.0.0.1:0", "--secure", "required", "--key",
                    os.path.join(tmp, "noise.key"), "--ciphers", "ChaChaPoly"], 1),
        "auth": (["--tcp", "127.0.0.1:0", "--secure", "required", "--key",
                  os.path.join(tmp, "noise.key"), "--ciphers", "ChaChaPoly",
                  "--authorized-keys", os.path.join(tmp, "authorized")], 1),
        "files": (["--tcp", "127.0.0.1:0", "--accept-files", files], 1),
    }, common


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.environ.get("TRUFLUX_BIN"))
    ap.add_argument("--only", default="")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="the case table for the README")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    if a.list or a.markdown:
        if a.markdown:
            print("| # | case | layer | hostile input | expected |\n|---|---|---|---|---|")
        for i, (name, layer, code, what, _, report) in enumerate(CASES, 1):
            exp = describe(code, report)
            print(("| %d | `%s` | %s | %s | %s |" if a.markdown else "%d %s [%s] %s -> %s")
                  % (i, name, layer, what.replace("|", "\\|"), exp))
        return 0
    check(a.bin and os.access(a.bin, os.X_OK), "no truflux binary (--bin or TRUFLUX_BIN)")
    # A timeout's SIGTERM unwinds through the `finally` that stops the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("hostile.py: terminated"))
    tfnoise.self_test()
    tmp = tempfile.mkdtemp(prefix="tf-hostile-")
    failed, passed, problems = [], 0, []
    try:
        make_pki(tmp)
        files, keys, configs, common = server_configs(a.bin, tmp)
        for layer in ("tcp", "tls", "ws", "secure", "auth", "files"):
            todo = [c[:5] for c in CASES if c[1] == layer and a.only in c[0]]
            if not todo:
                continue
            args, listeners = configs[layer]
            t0 = time.monotonic()
            server = Server(a.bin, layer, args + common, listeners, tmp)
            env = Env(server, layer, tmp)
            env.files_dir = files
            env.client_key, env.server_pub = keys["client_key"], keys["server_pub"]
            try:
                echo_roundtrip(env)
                for name, _, code, what, fn in todo:
                    c0 = time.monotonic()
                    try:
                        fn(env)
                        echo_roundtrip(env)
                        passed += 1
                        print("ok   %-32s %5.2fs" % (name, time.monotonic() - c0), flush=True)
                    except (Fail, tf.TrufluxError, OSError, AssertionError) as e:
                        failed.append(name)
                        print("FAIL %-32s %s: %s" % (name, type(e).__name__, e), flush=True)
                        if server.proc.poll() is not None:
                            problems.append("%s: server died (status %s)"
                                            % (layer, server.proc.returncode))
                            break
            finally:
                rc = server.stop()
            log = server.log()
            if rc != 0:
                problems.append("%s: server exit status %s after SIGTERM" % (layer, rc))
            if SANITIZER_RE.search(log):
                problems.append("%s: sanitizer report in the server's stderr" % layer)
            if a.verbose or rc != 0 or SANITIZER_RE.search(log):
                sys.stdout.write("--- %s server stderr (tail)\n%s\n" % (layer, log[-6000:]))
            print("     %s server: exit %s, %.1fs" % (layer, rc, time.monotonic() - t0),
                  flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for p in problems:
        print("FAIL " + p)
    print("%d passed, %d failed%s" % (passed, len(failed),
                                      (": " + ", ".join(failed)) if failed else ""))
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
