"""truflux.aio: the asyncio client and server, integrated through the event queue's
descriptor (loop.add_reader): no Python thread polls."""

from __future__ import annotations

import asyncio
import threading

import pytest

import truflux
import truflux.aio

from conftest import WAIT


def run(coro):
    """Runs a test coroutine with a bound on the whole of it."""
    return asyncio.run(asyncio.wait_for(coro, WAIT * 3))


def test_client_against_the_c_cli(cli, proto):
    async def main():
        threads = threading.active_count()
        async with truflux.aio.connect(cli.url, proto) as c:
            assert c.is_open
            for v in [b"\x00", "text", {"a": [1, 2.5]}, None, 7]:
                await c.send("echo", v)
                msg = await c.recv(timeout=5)
                assert (msg.name, msg.data) == ("echo", v)
            await c.send("echo")
            assert (await c.recv(timeout=5)).type == truflux.Type.EMPTY
            # Only the library's own (native) thread runs: nothing in Python polls.
            assert threading.active_count() == threads
        assert not c.is_open
        with pytest.raises(truflux.ECLOSED):
            await c.recv(timeout=1)
    run(main())


def test_await_connect_and_async_for(cli, proto):
    async def main():
        c = await truflux.aio.connect(cli.url, proto)
        try:
            for i in range(5):
                await c.send("echo", i)
            got = []
            async for msg in c:
                got.append(msg.data)
                if len(got) == 5:
                    break
            assert got == [0, 1, 2, 3, 4]
        finally:
            await c.close()
    run(main())


def test_async_server_with_async_and_plain_handlers(proto):
    async def main():
        threads = threading.active_count()
        server = await truflux.aio.serve("tcp://127.0.0.1:0", proto)
        order, opened, closed = [], [], []
        both_closed = asyncio.Event()

        @proto.on("echo")
        async def echo(conn, msg):
            await asyncio.sleep(0)  # a real suspension between the events of one connection
            order.append(msg.data)
            await conn.send("echo", msg.data)

        @proto.on("chat")
        def chat(conn, msg):
            server.broadcast("chat", msg.data, exclude=[conn])

        @server.on_open
        async def on_open(conn):
            opened.append(conn.remote_address)

        @server.on_close
        def on_close(conn, reason):
            closed.append(reason)
            if len(closed) == 2:
                both_closed.set()

        async with server:
            async with truflux.aio.connect(server.url, proto) as a, \
                    truflux.aio.connect(server.url, proto) as b:
                for i in range(20):
                    await a.send("echo", i)
                assert [(await a.recv(timeout=5)).data for _ in range(20)] == list(range(20))
                await a.send("chat", "hello b")
                msg = await b.recv(timeout=5)
                assert (msg.name, msg.data) == ("chat", "hello b")
                with pytest.raises(truflux.ETIMEDOUT):
                    await a.recv(timeout=0.2)
                assert len(server.connections) == 2
                assert threading.active_count() == threads  # no polling thread
            await asyncio.wait_for(both_closed.wait(), WAIT)
            assert closed == [0, 0]
            assert len(opened) == 2 and opened[0][0] == "127.0.0.1"
        assert order == list(range(20))
    run(main())


def test_handler_errors_go_to_the_loop_exception_handler(proto):
    @proto.on("echo")
    def broken(conn, msg):
        raise RuntimeError("boom")

    async def main():
        reported = asyncio.Event()
        errors = []

        def handler(loop, ctx):
            errors.append(ctx["exception"])
            reported.set()

        asyncio.get_running_loop().set_exception_handler(handler)
        async with truflux.aio.serve("tcp://127.0.0.1:0", proto) as server:
            async with truflux.aio.connect(server.url, proto) as c:
                await c.send("echo", 1)
                await asyncio.wait_for(reported.wait(), WAIT)
        assert len(errors) == 1 and str(errors[0]) == "boom"
    run(main())


def test_server_close_ends_the_client_iteration(proto):
    async def main():
        server = await truflux.aio.serve("tcp://127.0.0.1:0", proto)
        c = await truflux.aio.connect(server.url, proto)
        try:
            async def reader():
                return [m async for m in c]
            task = asyncio.ensure_future(reader())
            await asyncio.sleep(0)
            await server.close()
            with pytest.raises(truflux.ESHUTDOWN):
                await asyncio.wait_for(task, WAIT)
            with pytest.raises(truflux.ESHUTDOWN):
                await c.send("echo", 1)
        finally:
            await c.close()
    run(main())


def test_serve_forever_is_cancellable(proto):
    async def main():
        server = await truflux.aio.serve("tcp://127.0.0.1:0", proto)
        task = asyncio.ensure_future(server.serve_forever())
        async with truflux.aio.connect(server.url, proto) as c:
            await c.send("echo", 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert server.closed
            with pytest.raises(truflux.Error):
                await c.recv(timeout=WAIT)
    run(main())


def test_connect_refused(proto):
    async def main():
        with pytest.raises(truflux.ECONNREFUSED):
            await truflux.aio.connect("tcp://127.0.0.1:1", proto, timeout=WAIT)
    run(main())


def test_send_waits_for_drain(cli, proto):
    async def main():
        chunk = b"d" * 65536
        async with truflux.aio.connect(cli.url, proto, send_hwm=128 * 1024,
                                       send_lwm=32 * 1024) as c:
            async def reader():
                return [(await c.recv(timeout=WAIT)).data for _ in range(64)]
            task = asyncio.ensure_future(reader())
            for _ in range(64):
                await c.send("echo", chunk, timeout=WAIT)
            assert await task == [chunk] * 64
    run(main())


def test_sync_and_async_clients_on_one_async_server(proto):
    """A plain truflux.Client on a worker thread talks to an asyncio server."""
    @proto.on("echo")
    async def echo(conn, msg):
        await conn.send("echo", msg.data)

    async def main():
        async with truflux.aio.serve("tcp://127.0.0.1:0", proto) as server:
            def sync_client():
                with truflux.Client(server.url, proto) as c:
                    c.send("echo", "from a thread")
                    return c.recv(timeout=5).data
            got = await asyncio.get_running_loop().run_in_executor(None, sync_client)
            assert got == "from a thread"
    run(main())
