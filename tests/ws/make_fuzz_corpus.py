#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/fuzz_ws_frame.cpp and fuzz/fuzz_http_upgrade.cpp into
fuzz/corpus/<target>/ (layouts: see the top of each target). Run from anywhere."""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fuzz", "corpus")
KEY = b"\x37\xfa\x21\x3d"


def ws(op, payload=b"", fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | rsv | op
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    return head + KEY + bytes(c ^ KEY[i % 4] for i, c in enumerate(payload))


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def frames():
    # byte 0: server|text_ok (3), no limit; byte 1: 3 chunk sizes.
    hdr = bytes([3, 2, 0, 6, 40])
    write("fuzz_ws_frame", "binary_text", hdr + ws(2, b"hello") + ws(1, "κόσμε".encode()))
    write("fuzz_ws_frame", "fragments_ping", hdr + ws(1, b"fr", fin=False) + ws(9, b"p")
          + ws(0, b"", fin=False) + ws(0, b"ag") + ws(10, b"q"))
    write("fuzz_ws_frame", "close_reason", hdr + ws(8, b"\x03\xe8bye"))
    write("fuzz_ws_frame", "long16", hdr + ws(2, bytes(300)))
    write("fuzz_ws_frame", "long64", bytes([3, 0, 255]) + ws(2, bytes(70000)))
    write("fuzz_ws_frame", "client_side", bytes([0, 0, 3]) + ws(2, b"abc", mask=False)
          + ws(8, b"", mask=False))
    write("fuzz_ws_frame", "bad_utf8", hdr + ws(1, b"\xce\xba\xed\xa0\x80"))
    write("fuzz_ws_frame", "rsv_and_opcodes", hdr + ws(2, b"x", rsv=0x40) + ws(3, b""))
    write("fuzz_ws_frame", "limit", bytes([3 | 8, 0, 1]) + ws(2, bytes(200)))
    # A truflux HELLO riding in a binary message.
    hello = b"TFLX" + struct.pack(">BBHIII", 1, 0, 0, 0, 16 << 20, 20000) + bytes(32) \
        + struct.pack(">H", 0)
    write("fuzz_ws_frame", "truflux_hello", bytes([1, 1, 3, 9])
          + ws(2, struct.pack(">BII", 1, 0, len(hello)) + hello))


def heads():
    up = (b"GET /chat HTTP/1.1\r\nHost: example.com:80\r\nUpgrade: websocket\r\n"
          b"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: truflux.v1\r\n"
          b"Origin: http://example.com\r\n\r\n")
    write("fuzz_http_upgrade", "upgrade", bytes([0, 2, 10, 3, 60]) + up)
    write("fuzz_http_upgrade", "upgrade_small_limits", bytes([2, 0, 7]) + up)
    write("fuzz_http_upgrade", "plain_get", bytes([0, 0, 255]) + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    write("fuzz_http_upgrade", "bare_lf", bytes([0, 0, 255]) + b"GET /a?b HTTP/1.1\nHost: x\n\n")
    write("fuzz_http_upgrade", "response_101", bytes([1, 1, 5, 30]) + (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        b"Sec-WebSocket-Protocol: truflux.v1\r\n\r\n"))
    write("fuzz_http_upgrade", "response_404", bytes([1, 0, 255])
          + b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    write("fuzz_http_upgrade", "folded", bytes([0, 0, 255]) + b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n")


frames()
heads()
