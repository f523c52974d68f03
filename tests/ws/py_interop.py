"""Interop with Python's `websockets` (Debian python3-websockets; run under /usr/bin/python3):

    py_interop.py client URL [CA]
        websockets as the client of a truflux server at URL: the opening, echo of every
        payload type, a server-side PING answered, the truflux close, then the WebSocket
        close 1000. A wss:// URL verifies the server against the CA file CA.
    py_interop.py server [CERT KEY]
        websockets as the server: a truflux peer (tests/peer/tfpeer.py codecs) that answers
        HELLO, echoes `echo` and answers CLOSE; prints "port N" and serves until killed.
        With CERT and KEY (PEM files) it serves wss:// (TLS).

The truflux side is written from docs/PROTOCOL.md through tfpeer.py, not from the library.
"""
import asyncio
import os
import ssl
import struct
import sys

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peer"))
import tfpeer as tf  # noqa: E402

PROTO = tf.ProtocolDef(["echo", "chat"])
ECHO = tf.message_id("echo")
SUB = "truflux.v1"


def hello(kind):
    h = tf.Hello(ids=PROTO.ids(), fingerprint=PROTO.fingerprint(), heartbeat_ms=0)
    return tf.encode_frame(kind, 0, h.encode())


def frames_of(message):
    """The frames of one binary message; each message holds whole frames (§3.3)."""
    if not isinstance(message, bytes):
        raise AssertionError("a text message: truflux rides in binary messages")
    d = tf.FrameDecoder()
    d.feed(message)
    out = []
    while (f := d.next()) is not None:
        out.append(f)
    if d.buf:
        raise AssertionError("a truflux frame split across messages")
    return out


async def client(url, ca=None):
    tls = ssl.create_default_context(cafile=ca) if url.startswith("wss://") else None
    async with websockets.connect(url, subprotocols=[SUB], compression=None,
                                  max_size=None, ssl=tls) as ws:
        assert ws.subprotocol == SUB, ws.subprotocol
        await ws.send(hello(tf.KIND_HELLO))
        (welcome,) = frames_of(await asyncio.wait_for(ws.recv(), 5))
        assert welcome.kind == tf.KIND_WELCOME, welcome
        peer = tf.Hello.decode(welcome.payload)
        assert ECHO in peer.ids
        sent = [(tf.KIND_MSG | tf.TYPE_EMPTY, b""), (tf.KIND_MSG | tf.TYPE_BINARY, bytes(range(256)) * 400),
                (tf.KIND_MSG | tf.TYPE_TEXT, "héllo".encode()), (tf.KIND_MSG | tf.TYPE_MSGPACK, b"\x81\xa1a\x01")]
        # All four in one WebSocket message: a message may carry several frames.
        await ws.send(b"".join(tf.encode_frame(k, ECHO, p) for k, p in sent))
        got = []
        while len(got) < len(sent):
            got += [(f.kind, f.payload) for f in frames_of(await asyncio.wait_for(ws.recv(), 5))]
        assert got == sent, "echoes differ"
        await ws.send(tf.encode_frame(tf.KIND_PING, 0, b"py"))
        (pong,) = frames_of(await asyncio.wait_for(ws.recv(), 5))
        assert (pong.kind, pong.payload) == (tf.KIND_PONG, b"py"), pong
        await ws.send(tf.encode_frame(tf.KIND_CLOSE, 0))
        (answer,) = frames_of(await asyncio.wait_for(ws.recv(), 5))
        assert (answer.kind, answer.id) == (tf.KIND_CLOSE, 0), answer
        try:
            await asyncio.wait_for(ws.recv(), 5)
            raise AssertionError("a message after the CLOSE answer")
        except websockets.ConnectionClosedOK:
            pass
        assert ws.close_code == 1000, ws.close_code
    print("1 passed, 0 failed: websockets client against the truflux server")


async def serve_one(ws, path=None):
    opened = False
    try:
        async for message in ws:
            for f in frames_of(message):
                if not opened:
                    assert f.kind == tf.KIND_HELLO, f
                    tf.Hello.decode(f.payload)
                    await ws.send(hello(tf.KIND_WELCOME))
                    opened = True
                elif f.kind & 0xFC == tf.KIND_MSG and f.id == ECHO:
                    await ws.send(tf.encode_frame(f.kind, f.id, f.payload))
                elif f.kind == tf.KIND_PING:
                    await ws.send(tf.encode_frame(tf.KIND_PONG, 0, f.payload))
                elif f.kind == tf.KIND_CLOSE:
                    await ws.send(tf.encode_frame(tf.KIND_CLOSE, 0))
                    await ws.close(1000)
                    return
    except websockets.ConnectionClosed:
        pass


async def server(cert=None, key=None):
    tls = None
    if cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
    srv = await websockets.serve(serve_one, "127.0.0.1", 0, subprotocols=[SUB],
                                 compression=None, max_size=None, ssl=tls)
    print("port", srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    if sys.argv[1:2] == ["client"]:
        asyncio.run(client(*sys.argv[2:4]))
    else:
        asyncio.run(server(*sys.argv[2:4]))
