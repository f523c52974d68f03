"""Protocol states from Python (docs/PROTOCOL.md 12.3): defining them, moving a
connection's state, and a message sent outside its state ending the connection with
truflux.ESTATE, on the synchronous and the asyncio API."""

from __future__ import annotations

import asyncio
import threading

import pytest

import truflux
import truflux.aio
from conftest import WAIT


def stateful() -> truflux.Protocol:
    return truflux.Protocol({
        "login": {"types": str, "states": ["auth"]},
        "chat": {"states": "ready"},
        "ping": None,  # valid in every state
    }, states=["auth", "ready"])


def test_definition():
    proto = stateful()
    assert proto.states == ["auth", "ready"]
    assert proto.state("auth") == 0 and proto.state("ready") == 1
    with pytest.raises(truflux.ENOTFOUND):
        proto.state("nowhere")
    with pytest.raises(truflux.ENOTFOUND):
        proto.allow("chat", "nowhere")
    with pytest.raises(truflux.EEXIST):
        proto.add_state("auth")
    with pytest.raises(TypeError):
        truflux.Protocol(["a"], states="auth")
    assert truflux.Protocol(["a"]).states == []


def serve(proto):
    @proto.on("login")
    def login(conn, msg):
        # Move first, then answer: the peer sends "chat" only after the answer.
        conn.state = "ready"
        assert conn.state == "ready"
        conn.send("login", "welcome " + msg.data)

    @proto.on("chat")
    def chat(conn, msg):
        conn.send("chat", msg.data)

    @proto.on("ping")
    def ping(conn, msg):
        conn.send("ping")

    server = truflux.Server("tcp://127.0.0.1:0", proto)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    return server, thread


def test_states_sync():
    proto = stateful()
    server, thread = serve(proto)
    try:
        # In order: login, then chat once the server has moved to "ready".
        with truflux.Client(server.url, proto) as c:
            conn = c.connection
            assert conn.state == "auth"
            c.send("ping")
            assert c.recv(timeout=WAIT).name == "ping"
            c.send("login", "ann")
            assert c.recv(timeout=WAIT).data == "welcome ann"
            conn.state = "ready"  # our side checks what the server sends too
            assert conn.state == "ready"
            c.send("chat", "hello")
            assert c.recv(timeout=WAIT).data == "hello"
            conn.state = 0
            assert conn.state == "auth"
            with pytest.raises(truflux.ENOTFOUND):
                conn.state = "nowhere"
            with pytest.raises(truflux.EINVAL):
                conn.state = 7

        # Out of order: chat while the server is still in "auth" ends the connection.
        with truflux.Client(server.url, proto) as c:
            c.send("chat", "too early")
            with pytest.raises(truflux.ESTATE):
                c.recv(timeout=WAIT)
            assert not c.is_open
    finally:
        server.close()
        thread.join(WAIT)


def test_states_aio():
    proto = stateful()

    @proto.on("login")
    async def login(conn, msg):
        conn.state = "ready"
        await conn.send("login", "ok")

    @proto.on("chat")
    async def chat(conn, msg):
        await conn.send("chat", msg.data)

    async def main():
        async with truflux.aio.serve("tcp://127.0.0.1:0", proto) as server:
            async with truflux.aio.connect(server.url, proto) as c:
                await c.send("login", "bob")
                assert (await c.recv(timeout=WAIT)).data == "ok"
                c.connection.state = "ready"
                await c.send("chat", "now")
                assert (await c.recv(timeout=WAIT)).data == "now"
            async with truflux.aio.connect(server.url, proto) as c:
                await c.send("chat", "early")
                with pytest.raises(truflux.ESTATE):
                    await c.recv(timeout=WAIT)

    asyncio.run(main())
