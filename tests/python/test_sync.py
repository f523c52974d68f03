"""The synchronous Client and Server over real sockets: Python to the C CLI, Python to
Python, closing from either side, and the bounds on memory and time."""

from __future__ import annotations

import socket
import threading
import time

import pytest

import truflux

from conftest import WAIT, ThreadServer


def test_readme_example(cli):
    proto = truflux.Protocol(["echo", "chat"])
    with truflux.Client(cli.url, proto) as c:
        c.send("echo", {"a": [1, 2.5, "x", b"\x00"]})
        msg = c.recv(timeout=5)
    assert (msg.name, msg.data) == ("echo", {"a": [1, 2.5, "x", b"\x00"]})


def test_chat_is_relayed_by_the_c_cli(cli, proto):
    with truflux.Client(cli.url, proto) as a, truflux.Client(cli.url, proto) as b:
        a.send("chat", "hi b")
        msg = b.recv(timeout=5)
        assert (msg.name, msg.data) == ("chat", "hi b")
        with pytest.raises(truflux.ETIMEDOUT):
            a.recv(timeout=0.2)  # the sender does not get its own chat


def test_python_server_handlers_and_broadcast(pyserver, proto):
    with truflux.Client(pyserver.url, proto) as a, truflux.Client(pyserver.url, proto) as b, \
            truflux.Client(pyserver.url, proto) as c:
        assert pyserver.wait_for(lambda: len(pyserver.opened) == 3)
        a.send("chat", {"from": "a"})
        assert b.recv(timeout=5).data == {"from": "a"}
        assert c.recv(timeout=5).data == {"from": "a"}
        with pytest.raises(truflux.ETIMEDOUT):
            a.recv(timeout=0.2)
        pyserver.server.broadcast("chat", "to all")
        for cl in (a, b, c):
            assert cl.recv(timeout=5).data == "to all"
        addr = pyserver.opened[0].remote_address
        assert addr[0] == "127.0.0.1" and addr[1] > 0
        assert len(pyserver.server.connections) == 3
    assert pyserver.wait_for(lambda: len(pyserver.closed) == 3)
    assert pyserver.closed == [0, 0, 0]
    assert pyserver.server.connections == []


def test_connection_session_and_unhandled_messages(proto):
    seen = []
    server = truflux.Server("tcp://127.0.0.1:0", proto)

    @server.on_open
    def opened(conn):
        conn.session["n"] = 0

    @server.on_message
    def any_message(conn, msg):  # neither echo nor chat has a handler in this protocol
        conn.session["n"] += 1
        seen.append((msg.name, msg.data, conn.session["n"]))

    try:
        with truflux.Client(server.url, proto) as c:
            c.send("echo", 1)
            c.send("chat", 2)
            deadline = time.monotonic() + WAIT
            while len(seen) < 2 and time.monotonic() < deadline:
                server.poll(0.5)
        assert seen == [("echo", 1, 1), ("chat", 2, 2)]
    finally:
        server.close()


def test_send_from_many_threads(cli, proto):
    n, per = 4, 250
    with truflux.Client(cli.url, proto) as c:
        def sender(i):
            for j in range(per):
                c.send("echo", [i, j])
        threads = [threading.Thread(target=sender, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
        got = [c.recv(timeout=5).data for _ in range(n * per)]
    for i in range(n):  # each thread's messages in the order it sent them
        assert [j for (k, j) in got if k == i] == list(range(per))


def test_send_waits_for_drain(cli, proto):
    chunk = b"z" * 65536
    with truflux.Client(cli.url, proto, send_hwm=128 * 1024, send_lwm=32 * 1024) as c:
        for _ in range(64):  # 4 MiB through a 128 KiB send queue
            c.send("echo", chunk, timeout=WAIT)
        for _ in range(64):
            assert c.recv(timeout=WAIT).data == chunk


def test_iteration_ends_on_graceful_close(proto):
    server = truflux.Server("tcp://127.0.0.1:0", proto)

    @server.on_open
    def opened(conn):
        conn.send("echo", "one")
        conn.send("echo", "two")
        conn.close()

    try:
        with truflux.Client(server.url, proto) as c:
            deadline = time.monotonic() + WAIT
            while not server.connections and time.monotonic() < deadline:
                server.poll(0.1)
            assert [m.data for m in c] == ["one", "two"]
            with pytest.raises(truflux.ECLOSED):
                c.recv(timeout=1)
            with pytest.raises(truflux.ECLOSED):
                c.send("echo", "late")
    finally:
        server.close()


# ---- closed connections raise, and never hang ------------------------------------------


def test_server_shutdown_reaches_the_client(cli, proto):
    with truflux.Client(cli.url, proto) as c:
        c.send("echo", "before")
        assert c.recv(timeout=5).data == "before"
        cli.stop()  # SIGTERM: a graceful close with ESHUTDOWN
        t0 = time.monotonic()
        with pytest.raises(truflux.ESHUTDOWN):
            c.recv(timeout=WAIT)
        assert time.monotonic() - t0 < WAIT
        assert not c.is_open
        with pytest.raises(truflux.ESHUTDOWN):
            c.send("echo", "after")


def test_killed_peer_raises_not_hangs(cli, proto):
    with truflux.Client(cli.url, proto) as c:
        c.send("echo", 1)
        assert c.recv(timeout=5).data == 1
        cli.kill()  # no CLOSE frame: the socket just ends
        with pytest.raises((truflux.EEOF, truflux.ECONNRESET)):
            c.recv(timeout=WAIT)
        with pytest.raises(truflux.Error):
            c.send("echo", 2)


def test_recv_after_close_raises(cli, proto):
    c = truflux.Client(cli.url, proto)
    c.close()
    c.close()  # idempotent
    with pytest.raises(truflux.ECLOSED):
        c.recv(timeout=1)
    with pytest.raises(truflux.ECLOSED):
        c.send("echo", 1)


def test_python_server_close_reaches_the_client(proto):
    srv = ThreadServer(proto)
    with truflux.Client(srv.url, proto) as c:
        assert srv.wait_for(lambda: srv.opened)
        srv.stop()
        with pytest.raises(truflux.ESHUTDOWN):
            c.recv(timeout=WAIT)


def test_refused_connection_raises_at_once(proto):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    t0 = time.monotonic()
    with pytest.raises(truflux.ECONNREFUSED) as info:
        truflux.Client(f"tcp://127.0.0.1:{port}", proto, timeout=WAIT)
    assert time.monotonic() - t0 < WAIT
    assert isinstance(info.value, ConnectionRefusedError)


def test_silent_peer_times_out(proto):
    """A listener that accepts and never answers the hello."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    try:
        t0 = time.monotonic()
        with pytest.raises((truflux.EHELLOTIMEOUT, truflux.ETIMEDOUT)):
            truflux.Client(f"tcp://127.0.0.1:{lst.getsockname()[1]}", proto, timeout=WAIT,
                           handshake_timeout=0.3)
        assert time.monotonic() - t0 < WAIT
        with pytest.raises(truflux.ETIMEDOUT):
            truflux.Client(f"tcp://127.0.0.1:{lst.getsockname()[1]}", proto, timeout=0.3)
    finally:
        lst.close()


def test_a_reader_that_falls_behind_is_closed_with_equeuefull(cli, proto):
    """Bounded memory: with a 64 KiB queue, 1 MiB of echoes that nobody reads ends the
    connection with EQUEUEFULL; what was queued before is still delivered. Unread messages
    take at most the queue's cap in the library plus as much read ahead in Python."""
    with truflux.Client(cli.url, proto, queue_max=64 * 1024) as c:
        chunk = b"q" * 1024
        sent = 0
        try:
            for _ in range(1024):
                c.send("echo", chunk, timeout=WAIT)
                sent += 1
        except truflux.EQUEUEFULL:
            pass  # the echoes overflowed the queue while we were still sending
        # Read only once the overflow happened (in the library's queue or in the
        # read-ahead): a reader that starts earlier keeps up, and nothing overflows.
        deadline = time.monotonic() + WAIT
        while not (c._state.overflowed or c._native.freed
                   or c._native.queue_stats()["refused"]) and time.monotonic() < deadline:
            time.sleep(0.005)
        got = 0
        with pytest.raises(truflux.EQUEUEFULL):
            while True:
                assert c.recv(timeout=WAIT).data == chunk
                got += 1
        assert 0 < got < sent
        assert got * len(chunk) <= 2 * 64 * 1024


def test_recv_releases_the_gil(cli, proto):
    """While one thread waits in recv, another keeps running Python code."""
    with truflux.Client(cli.url, proto) as c:
        done = threading.Event()
        result = []

        def waiter():
            try:
                c.recv(timeout=1.0)
            except truflux.ETIMEDOUT as e:
                result.append(e)
            done.set()

        t = threading.Thread(target=waiter)
        t.start()
        spins = 0
        while not done.is_set():
            spins += 1
        t.join(WAIT)
        assert result and spins > 1000


def test_server_on_port_in_use_raises(proto):
    with truflux.Server("tcp://127.0.0.1:0", proto) as a:
        with pytest.raises(truflux.EADDRINUSE):
            truflux.Server(a.url, proto)
