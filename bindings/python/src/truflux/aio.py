"""truflux on asyncio.

The C library reports into an event queue whose descriptor is readable exactly while events
wait (truflux/queue.h); this module watches it with ``loop.add_reader``, so no thread polls
and nothing runs between events.

>>> async with truflux.aio.connect("tcp://127.0.0.1:7000", proto) as c:
...     await c.send("echo", {"a": 1})
...     async for msg in c:
...         print(msg.name, msg.data)

>>> server = await truflux.aio.serve("tcp://127.0.0.1:0", proto)
>>> async with server:
...     await server.serve_forever()

Handlers (``@proto.on(...)``, ``@server.on_open``...) may be plain functions or coroutine
functions; those of one connection run one at a time, in the order of its events.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from typing import (Any, AsyncIterator, Awaitable, Callable, Deque, Dict, Generator,
                    Iterable, List, Optional, Set, Tuple, Union)

from . import _options, _truflux
from ._codec import NOTHING, encode
from .connection import EAGAIN, ECLOSED, EQUEUEFULL, ClientState, Connection, Message
from .errors import Error, by_name, error_for
from .files import Source, Transfer, Transfers
from .protocol import Protocol
from .server import ServerBase

__all__ = ["connect", "serve", "AsyncClient", "AsyncServer", "AsyncConnection",
           "AsyncTransfer"]

ETIMEDOUT = by_name["ETIMEDOUT"]


class AsyncTransfer(Transfer):
    """A :class:`truflux.Transfer` of an asyncio client or server: ``await transfer`` (or
    ``await transfer.wait(timeout)``) waits for its end on the running loop. Its handlers
    (``transfer.on(...)``) run on the loop and must be plain functions."""

    async def wait(  # type: ignore[override]
            self, timeout: Optional[float] = None) -> "AsyncTransfer":
        """Waits for the end, at most ``timeout`` seconds: returns the transfer after
        success, raises its error otherwise (:class:`truflux.ETIMEDOUT` on timeout)."""
        owner = self._owner
        deadline = owner._deadline(timeout)
        while self.status is None:
            if owner._native.freed:
                break
            if not await owner._changed(deadline):
                raise ETIMEDOUT(f"file {self.name!r} not done in time")
        if self.status is None:
            self._end(by_name["ECLOSED"].code)
        self.result()
        return self

    def __await__(self) -> Generator[Any, None, "AsyncTransfer"]:
        return self.wait().__await__()


class _Watcher:
    """The descriptor of a native endpoint on the running loop, and the futures of
    coroutines waiting for anything to change."""

    _native: Any

    def _watch(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._waiters: List["asyncio.Future[None]"] = []
        self._fd = self._native.fd()
        self._loop.add_reader(self._fd, self._on_readable)
        self._watching = True

    def _unwatch(self) -> None:
        if getattr(self, "_watching", False):
            self._loop.remove_reader(self._fd)
            self._watching = False

    def _on_readable(self) -> None:
        if self._native.freed:
            self._unwatch()
            return
        # A bounded batch keeps the loop fair; the descriptor stays readable for the rest.
        for ev in self._native.pop_many(256):
            self._handle(ev)
        self._notify()

    def _handle(self, ev: Tuple[Any, ...]) -> None:
        raise NotImplementedError

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def _changed(self, deadline: Optional[float]) -> bool:
        """Waits until events arrive or the deadline (loop time) passes: False then."""
        fut = self._loop.create_future()
        self._waiters.append(fut)
        try:
            if deadline is None:
                await fut
                return True
            left = deadline - self._loop.time()
            if left <= 0:
                return False
            await asyncio.wait_for(fut, left)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)

    def _deadline(self, timeout: Optional[float]) -> Optional[float]:
        return None if timeout is None else self._loop.time() + timeout


# ---- client ----------------------------------------------------------------------------


class AsyncClient(_Watcher):
    """A connection to a truflux server on the running asyncio loop; made by
    :func:`connect`. Methods as :class:`truflux.Client`, as coroutines."""

    def __init__(self, url: str, protocol: Protocol, *, queue_max: int = 0,
                 on_file: Optional[Callable[[Transfer], Any]] = None,
                 on_secure: Optional[Callable[[Connection], Any]] = None,
                 **options: Any) -> None:
        if not isinstance(protocol, Protocol):
            raise TypeError("protocol must be a truflux.Protocol")
        native_opts = _options.build(options, "connect")
        self.url = url
        self.protocol = protocol
        self._native = _truflux.Client(protocol._native, native_opts, queue_max)
        self._state = ClientState(self._native, queue_max or _truflux.QUEUE_DEFAULT_MAX,
                                  bool(options.get("reconnect")), self, protocol)
        self._state.transfers = Transfers(self, AsyncTransfer)
        self._state.on_file = on_file
        self._state.on_secure = on_secure
        try:
            self._watch()
            self._native.connect(url)
        except BaseException:
            self._free()
            raise

    def _handle(self, ev: Tuple[Any, ...]) -> None:
        self._state.handle(ev)

    async def _open(self, timeout: Optional[float]) -> None:
        st = self._state
        deadline = self._deadline(timeout)
        while not st.open:
            if st.final:
                if st.error:
                    raise error_for(st.error[0], f"{self.url}: {st.error[1]}")
                raise st.closed_error()
            if not await self._changed(deadline):
                raise ETIMEDOUT(f"{self.url}: not open in time")

    @property
    def connection(self) -> Connection:
        """The client's :class:`truflux.Connection`."""
        conn = self._state.connection
        if conn is None:
            raise self._state.closed_error()
        return conn

    @property
    def is_open(self) -> bool:
        return self._state.open and not self._state.final

    def on_file(self, handler: Callable[[Transfer], Any]) -> Callable[[Transfer], Any]:
        """Decorator: ``handler(transfer)`` decides the files the server offers, as
        :meth:`truflux.Client.on_file` (a plain function, run on the loop)."""
        self._state.on_file = handler
        return handler

    def on_secure(self, handler: Callable[[Connection], Any]) -> Callable[[Connection], Any]:
        """Decorator: ``handler(connection)`` runs when the secure handshake has finished."""
        self._state.on_secure = handler
        return handler

    def send_file(self, source: Source, name: Optional[str] = None, *,
                  size: Optional[int] = None) -> AsyncTransfer:
        """Offers a file to the server (as :meth:`truflux.Connection.send_file`); await
        the returned transfer for its end."""
        return self.connection.send_file(source, name, size=size)  # type: ignore[return-value]

    async def send(self, name: str, data: Any = NOTHING, *,
                   timeout: Optional[float] = None) -> None:
        """Sends one message (types as :meth:`truflux.Client.send`); above the send
        high-water mark it waits for the queue to drain, at most ``timeout`` seconds."""
        type_, payload = encode(data)
        st = self._state
        if st.final:
            raise st.closed_error()
        deadline = self._deadline(timeout)
        while True:
            drains = st.drains
            rc = self._native.send(name, type_, payload)
            if rc == 0:
                return
            if rc != EAGAIN:
                if rc == ECLOSED and st.final:
                    raise st.closed_error()
                if rc == ECLOSED and st.error:
                    raise error_for(st.error[0], f"send {name!r}: {st.error[1]}")
                raise error_for(rc, f"send {name!r}")
            while st.drains == drains and not st.final:
                if not await self._changed(deadline):
                    raise ETIMEDOUT(f"send {name!r}: the send queue did not drain")
            if st.final:
                raise st.closed_error()

    async def recv(self, timeout: Optional[float] = None) -> Message:
        """The next message (raises as :meth:`truflux.Client.recv`)."""
        st = self._state
        deadline = self._deadline(timeout)
        while True:
            msg = st.take()
            if msg is not None:
                return msg
            if st.final or self._native.freed:
                raise st.closed_error()
            if not await self._changed(deadline):
                raise ETIMEDOUT("no message in time")

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Message]:
        while True:
            try:
                msg = await self.recv()
            except Error as e:
                if e.code == ECLOSED:
                    return
                raise
            yield msg

    async def close(self, timeout: float = 5.0) -> None:
        """Closes gracefully, waiting at most ``timeout`` seconds. Idempotent."""
        if self._native.freed:
            return
        st = self._state
        st.closing = True
        deadline = self._deadline(timeout)
        if self._native.close(_truflux.CLOSE_GRACEFUL) == 0:
            while not st.final:
                if not await self._changed(deadline):
                    break
        st.final = True
        self._free()
        self._notify()

    def _free(self) -> None:
        self._unwatch()
        self._state.transfers.close_all()
        self._native.free()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class _Connect:
    """What :func:`connect` returns: await it for the client, or use it with
    ``async with`` (the client closes at the end)."""

    def __init__(self, url: str, protocol: Protocol, timeout: Optional[float],
                 kwargs: Dict[str, Any]) -> None:
        self._args = (url, protocol, timeout, kwargs)
        self._client: Optional[AsyncClient] = None

    async def _go(self) -> AsyncClient:
        url, protocol, timeout, kwargs = self._args
        client = AsyncClient(url, protocol, **kwargs)
        try:
            await client._open(timeout)
        except BaseException:
            client._free()
            raise
        return client

    def __await__(self) -> Generator[Any, None, AsyncClient]:
        return self._go().__await__()

    async def __aenter__(self) -> AsyncClient:
        self._client = await self._go()
        return self._client

    async def __aexit__(self, *exc: Any) -> None:
        if self._client is not None:
            await self._client.close()


def connect(url: str, protocol: Protocol, *, timeout: Optional[float] = 10.0,
            queue_max: int = 0, **options: Any) -> _Connect:
    """Connects to ``url``; returns once the connection is open. Use as
    ``async with connect(...) as c`` or ``c = await connect(...)``. Options as
    :class:`truflux.Client`."""
    return _Connect(url, protocol, timeout, dict(options, queue_max=queue_max))


# ---- server ----------------------------------------------------------------------------


class AsyncConnection(Connection):
    """A connection of an :class:`AsyncServer`: ``await conn.send(...)`` waits for the send
    queue to drain when it is full; ``conn.send_nowait(...)`` raises
    :class:`truflux.EAGAIN` instead."""

    def __init__(self, native: _truflux.Conn, server: "AsyncServer") -> None:
        super().__init__(native)
        self._server = server
        self._drains = 0
        self._jobs: Deque[Tuple[Callable[..., Any], Tuple[Any, ...], int]] = deque()
        self._task: Optional["asyncio.Task[None]"] = None
        self._overflowed = False

    send_nowait = Connection.send

    async def send(self, name: str, data: Any = NOTHING, *,  # type: ignore[override]
                   timeout: Optional[float] = None) -> None:
        """Sends one message, waiting (at most ``timeout`` seconds) while the send queue
        is above its high-water mark."""
        type_, payload = encode(data)
        server = self._server
        deadline = server._deadline(timeout)
        while True:
            drains = self._drains
            rc = self._native.send(name, type_, payload)
            if rc == 0:
                return
            if rc != EAGAIN:
                raise error_for(rc, f"send {name!r}")
            while self._drains == drains and not self.closed:
                if not await server._changed(deadline):
                    raise ETIMEDOUT(f"send {name!r}: the send queue did not drain")
            if self.closed:
                raise error_for(ECLOSED, f"send {name!r}")


class AsyncServer(ServerBase, _Watcher):
    """A truflux server on the running asyncio loop; made by :func:`serve`. Handlers and
    properties as :class:`truflux.Server`; transfers are :class:`AsyncTransfer`."""

    _transfer_class = AsyncTransfer

    def __init__(self, url: Union[str, Iterable[str]], protocol: Protocol, *,
                 queue_max: int = 0, loops: int = 1, **options: Any) -> None:
        super().__init__(url, protocol, queue_max, options, "serve", loops)
        self._cap = queue_max or _truflux.QUEUE_DEFAULT_MAX
        self._backlog = 0  # bytes of messages waiting for their connection's handlers
        self._tasks: Set["asyncio.Task[None]"] = set()
        try:
            self._watch()
        except BaseException:
            self._finalizer()
            raise
        self._done = self._loop.create_future()

    def _conn_class(self, native: _truflux.Conn) -> AsyncConnection:  # type: ignore[override]
        return AsyncConnection(native, self)

    def _handle(self, ev: Tuple[Any, ...]) -> None:
        kind = ev[0]
        if kind == _truflux.EVENT_DRAIN:
            conn = self._conns.get(ev[1])
            if isinstance(conn, AsyncConnection):
                conn._drains += 1
            return
        job = self._event(ev)
        if self.closed and not self._done.done():
            self._done.set_result(None)
        if job is None:
            return
        handler, args = job
        conn = args[0] if args else None
        size = len(args[1].raw) if kind == _truflux.EVENT_MESSAGE else 0
        if not isinstance(conn, AsyncConnection):
            self._start(handler, args, None)
        elif conn._task is None:
            self._start(handler, args, conn)
        elif kind == _truflux.EVENT_MESSAGE and (
                conn._overflowed or self._backlog + size > self._cap):
            # The handlers are this far behind: the same rule as the C queue.
            if not conn._overflowed:
                conn._overflowed = True
                conn.close(EQUEUEFULL)
        else:
            conn._jobs.append((handler, args, size))
            self._backlog += size

    def _start(self, handler: Callable[..., Any], args: Tuple[Any, ...],
               conn: Optional[AsyncConnection]) -> None:
        """Runs a handler now; a coroutine becomes the connection's task, which then runs
        the connection's later events in order."""
        try:
            result = handler(*args)
        except Exception as e:
            self._report(e, conn)
            return
        if inspect.isawaitable(result):
            task = self._loop.create_task(self._serial(result, conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            if conn is not None:
                conn._task = task

    async def _serial(self, first: Awaitable[Any], conn: Optional[AsyncConnection]) -> None:
        try:
            await first
        except Exception as e:
            self._report(e, conn)
        if conn is None:
            return
        try:
            while conn._jobs:
                handler, args, size = conn._jobs.popleft()
                self._backlog -= size
                try:
                    result = handler(*args)
                    if inspect.isawaitable(result):
                        await result
                except Exception as e:
                    self._report(e, conn)
        finally:
            conn._task = None

    def _report(self, exc: BaseException, conn: Optional[Connection]) -> None:
        self._loop.call_exception_handler({
            "message": "truflux: a handler raised",
            "exception": exc,
            "connection": conn,
        })

    async def serve_forever(self) -> None:
        """Waits until the server is closed (cancelling it closes the server)."""
        try:
            await asyncio.shield(self._done)
        except asyncio.CancelledError:
            await self.close()
            raise

    async def wait_closed(self) -> None:
        """Waits until the server has closed."""
        await asyncio.shield(self._done)

    async def close(self, timeout: float = 5.0) -> None:
        """Stops listening, closes every connection gracefully (their on_close handlers
        run), waits at most ``timeout`` seconds for that and for running handlers, then
        frees the server. Idempotent."""
        if self._native.freed:
            return
        deadline = self._deadline(timeout)
        try:
            self._native.close(_truflux.CLOSE_GRACEFUL)
        except Error:
            pass
        while not self.closed:
            if not await self._changed(deadline):
                break
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            left = max(0.0, deadline - self._loop.time()) if deadline is not None else None
            _, late = await asyncio.wait(pending, timeout=left)
            for t in late:
                t.cancel()
        for conn in self._conns.values():
            conn.closed = True
        self._conns.clear()
        self._early.clear()
        self._transfers.close_all()
        self.closed = True
        self._unwatch()
        self._finalizer()
        if not self._done.done():
            self._done.set_result(None)
        self._notify()

    async def __aenter__(self) -> "AsyncServer":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class _Serve:
    """What :func:`serve` returns: await it for the server, or use it with
    ``async with`` (the server closes at the end)."""

    def __init__(self, url: Union[str, Iterable[str]], protocol: Protocol,
                 kwargs: Dict[str, Any]) -> None:
        self._args = (url, protocol, kwargs)
        self._server: Optional[AsyncServer] = None

    async def _go(self) -> AsyncServer:
        url, protocol, kwargs = self._args
        return AsyncServer(url, protocol, **kwargs)

    def __await__(self) -> Generator[Any, None, AsyncServer]:
        return self._go().__await__()

    async def __aenter__(self) -> AsyncServer:
        self._server = await self._go()
        return self._server

    async def __aexit__(self, *exc: Any) -> None:
        if self._server is not None:
            await self._server.close()


def serve(url: Union[str, Iterable[str]], protocol: Protocol, *, queue_max: int = 0,
          **options: Any) -> _Serve:
    """Starts a server listening on ``url`` (one address or a list; port 0 picks a free
    one). Use as ``server = await serve(...)`` or ``async with serve(...) as server``.
    Options as :class:`truflux.Server`."""
    return _Serve(url, protocol, dict(options, queue_max=queue_max))
