"""A server spread over several network loops (Server.add_loop, loops=N: tf_server_add_loop)
and its counters (Server.stats: tf_server_stats): the connections land on every loop, each
loop's thread reports into the one event queue, and the counters sum every loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import truflux
import truflux.aio

from conftest import WAIT

CLIENTS = 20


def staged() -> truflux.Protocol:
    """echo is valid once a login moved the connection to "ready": each echo that reaches
    its handler shows that the server moved that connection's state, on the loop the
    connection lives on."""
    proto = truflux.Protocol({"login": {"types": str}, "echo": {"states": "ready"}},
                             states=["auth", "ready"])

    @proto.on("login")
    def login(conn, msg):
        conn.state = "ready"
        conn.send("login", msg.data)

    @proto.on("echo")
    def echo(conn, msg):
        conn.send("echo", msg.data)

    return proto


def wait_until(cond, timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def served(server: truflux.Server) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def stop(server: truflux.Server, thread: threading.Thread) -> None:
    server.close(timeout=2.0)
    thread.join(WAIT)
    assert not thread.is_alive(), "serve_forever did not return"


def test_two_loops_serve_twenty_clients():
    proto = staged()
    server = truflux.Server("tcp://127.0.0.1:0", proto, loops=2)
    assert server.loops == 2
    thread = served(server)
    clients = []
    try:
        for i in range(CLIENTS):
            c = truflux.Client(server.url, proto)
            clients.append(c)
            c.send("login", f"c{i}")
            assert c.recv(timeout=WAIT).data == f"c{i}"
            c.connection.state = "ready"  # the server's echo is valid in "ready" only
            c.send("echo", {"i": i, "blob": bytes([i]) * 100})
            msg = c.recv(timeout=WAIT)
            assert (msg.name, msg.data) == ("echo", {"i": i, "blob": bytes([i]) * 100})
        # Every client had its answers: the server opened each and sent both replies.
        assert server.count == CLIENTS
        st = server.stats()
        assert st["active"] == CLIENTS
        assert st["opened"] == CLIENTS and st["accepted"] == CLIENTS
        assert st["msgs_in"] == 2 * CLIENTS and st["msgs_out"] == 2 * CLIENTS
        assert st["bytes_in"] > 100 * CLIENTS and st["bytes_out"] > 100 * CLIENTS
        assert st["refused_limit"] == st["protocol_errors"] == 0
        # The kernel shared the connections out over both loops (SO_REUSEPORT hashes each
        # connection's addresses: all 20 on one loop has odds of 2 in a million).
        assert wait_until(lambda: len(server.connections) == CLIENTS)
        loops = sorted(c.loop for c in server.connections)
        assert set(loops) == {0, 1}, loops
        assert all(c.connection.loop == 0 for c in clients)
    finally:
        for c in clients:
            c.close()
    try:
        assert wait_until(lambda: server.count == 0)
        st = server.stats()
        assert st["active"] == 0 and st["opened"] == CLIENTS
    finally:
        stop(server, thread)
    with pytest.raises(truflux.ECLOSED):
        server.stats()


def test_add_loop_only_before_listening():
    proto = staged()
    server = truflux.Server([], proto)
    thread = served(server)
    try:
        assert server.loops == 1 and server.port == 0
        server.add_loop()
        server.add_loop()
        assert server.loops == 3
        server.listen("tcp://127.0.0.1:0")
        with pytest.raises(truflux.EINVAL):
            server.add_loop()
        assert server.loops == 3
        with truflux.Client(server.url, proto) as c:
            c.send("login", "x")
            assert c.recv(timeout=WAIT).data == "x"
            assert server.count == 1 and server.stats()["active"] == 1
    finally:
        stop(server, thread)
    with pytest.raises(truflux.ECLOSED):
        server.add_loop()


def test_loops_argument_is_checked():
    proto = truflux.Protocol(["echo"])
    with pytest.raises(ValueError):
        truflux.Server("tcp://127.0.0.1:0", proto, loops=0)
    with pytest.raises(TypeError):
        truflux.Server("tcp://127.0.0.1:0", proto, loops="2")


def test_stats_of_a_server_on_one_loop():
    proto = staged()
    server = truflux.Server("tcp://127.0.0.1:0", proto)
    thread = served(server)
    try:
        st = server.stats()
        assert set(st) == {"accepted", "opened", "active", "refused_limit", "message_size",
                           "handshake_timeouts", "idle_timeouts", "protocol_errors",
                           "secure_errors", "transport_errors", "peer_lost", "msgs_in",
                           "msgs_out", "bytes_in", "bytes_out"}
        assert all(v == 0 for v in st.values())
        with truflux.Client(server.url, proto) as c:
            c.send("echo", "too early")  # not valid before login: the server ends it
            with pytest.raises(truflux.ESTATE):
                c.recv(timeout=WAIT)
        assert wait_until(lambda: server.stats()["protocol_errors"] == 1)
        assert wait_until(lambda: server.count == 0)
        assert server.stats()["opened"] == 1
    finally:
        stop(server, thread)


def test_asyncio_server_on_two_loops():
    proto = truflux.Protocol({"login": {"types": str}, "echo": {"states": "ready"}},
                             states=["auth", "ready"])

    @proto.on("login")
    async def login(conn, msg):
        conn.state = "ready"
        await conn.send("login", msg.data)

    @proto.on("echo")
    async def echo(conn, msg):
        await conn.send("echo", msg.data)

    async def main():
        async with truflux.aio.serve("tcp://127.0.0.1:0", proto, loops=2) as server:
            assert server.loops == 2

            async def one(i):
                async with truflux.aio.connect(server.url, proto) as c:
                    await c.send("login", str(i))
                    assert (await c.recv(timeout=WAIT)).data == str(i)
                    c.connection.state = "ready"
                    await c.send("echo", i)
                    assert (await c.recv(timeout=WAIT)).data == i
                    return server.count

            counts = await asyncio.gather(*(one(i) for i in range(CLIENTS)))
            assert 1 <= max(counts) <= CLIENTS
            st = server.stats()
            assert st["opened"] == CLIENTS and st["msgs_in"] == 2 * CLIENTS
            assert st["msgs_out"] == 2 * CLIENTS

    asyncio.run(asyncio.wait_for(main(), WAIT * 3))
