"""The synchronous client."""

from __future__ import annotations

import select
import threading
import time
import weakref
from typing import Any, Callable, Dict, Iterator, Optional

from . import _options, _truflux
from ._codec import NOTHING, encode
from .connection import EAGAIN, ECLOSED, ClientState, Connection, Message
from .errors import Error, by_name, error_for
from .files import Source, Transfer
from .protocol import Protocol

ETIMEDOUT = by_name["ETIMEDOUT"]


def _deadline(timeout: Optional[float]) -> Optional[float]:
    if timeout is None:
        return None
    if timeout < 0:
        raise ValueError("timeout cannot be negative")
    return time.monotonic() + timeout


def _left_ms(deadline: Optional[float]) -> int:
    """Milliseconds until the deadline for poll(2): -1 without one, 0 once passed."""
    if deadline is None:
        return -1
    return max(0, int((deadline - time.monotonic()) * 1000 + 0.999))


class Client:
    """A connection to a truflux server, used from the calling thread.

    >>> proto = truflux.Protocol(["echo", "chat"])
    >>> with truflux.Client("tcp://127.0.0.1:7000", proto) as c:
    ...     c.send("echo", {"a": [1, 2.5, "x", b"\\x00"]})
    ...     msg = c.recv(timeout=5)

    The constructor connects and returns once the connection is open (or raises the
    mapped error: :class:`truflux.ECONNREFUSED`, :class:`truflux.ETIMEDOUT`...) within
    ``timeout`` seconds. Keyword options are the C options (truflux/options.h) by name,
    times in seconds: ``nodelay``, ``max_message_size``, ``handshake_timeout``,
    ``idle_timeout``, ``heartbeat``, ``send_hwm``, ``send_lwm``, ``close_timeout``,
    ``strict``, ``reconnect``, ``reconnect_min``, ``reconnect_max``. ``queue_max`` bounds the memory that
    received, unread messages take (bytes; 0: 64 MiB): at most that much in the library's
    event queue, and as much again read ahead in Python. A reader that falls further behind
    has its connection closed with :class:`truflux.EQUEUEFULL` (truflux/queue.h).

    The library runs the connection on a thread of its own; nothing of it runs Python
    code, so every method here may be called from any thread, and blocking calls release
    the GIL. ``recv`` should be called from one thread at a time.
    """

    def __init__(self, url: str, protocol: Protocol, *, timeout: Optional[float] = 10.0,
                 queue_max: int = 0, on_file: Optional[Callable[[Transfer], Any]] = None,
                 on_secure: Optional[Callable[[Connection], Any]] = None,
                 **options: Any) -> None:
        if not isinstance(protocol, Protocol):
            raise TypeError("protocol must be a truflux.Protocol")
        native_opts = _options.build(options, "Client")
        self.url = url
        self.protocol = protocol
        self._native = _truflux.Client(protocol._native, native_opts, queue_max)
        self._finalizer = weakref.finalize(self, self._native.free)
        cap = queue_max or _truflux.QUEUE_DEFAULT_MAX
        self._state = ClientState(self._native, cap, bool(options.get("reconnect")), self,
                                  protocol)
        self._state.on_file = on_file
        self._state.on_secure = on_secure
        self._lock = threading.RLock()
        self._poller = select.poll()
        self._poller.register(self._native.fd(), select.POLLIN)
        try:
            self._native.connect(url)
            self._wait_open(_deadline(timeout))
        except BaseException:
            self._free()
            raise

    # ---- events --------------------------------------------------------------------------

    def _pump(self) -> int:
        """Takes every event waiting; returns how many."""
        n = 0
        while True:
            events = self._native.pop_many(256)
            for ev in events:
                self._state.handle(ev)
            n += len(events)
            if len(events) < 256:
                return n

    def _wait(self, deadline: Optional[float]) -> bool:
        """Waits for events until the deadline (releasing the GIL). False on timeout."""
        ms = _left_ms(deadline)
        if ms == 0:
            return False
        return bool(self._poller.poll(ms))

    def _drive(self, timeout: Optional[float]) -> bool:
        """For Transfer.wait: handles events for at most ``timeout`` seconds unless another
        thread is reading (False then)."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if not self._native.freed and not self._pump():
                self._wait(_deadline(0.5 if timeout is None else min(timeout, 0.5)))
                self._pump()
        finally:
            self._lock.release()
        return True

    def _wait_open(self, deadline: Optional[float]) -> None:
        st = self._state
        with self._lock:
            while True:
                self._pump()
                if st.open:
                    return
                if st.final:
                    if st.error:
                        raise error_for(st.error[0], f"{self.url}: {st.error[1]}")
                    raise st.closed_error()
                if not self._wait(deadline) and _left_ms(deadline) == 0:
                    raise ETIMEDOUT(f"{self.url}: not open in time")

    # ---- the API -------------------------------------------------------------------------

    @property
    def connection(self) -> Connection:
        """The client's :class:`truflux.Connection` (addresses, stats, session)."""
        conn = self._state.connection
        if conn is None:
            raise self._state.closed_error()
        return conn

    @property
    def is_open(self) -> bool:
        """Whether the connection is open now."""
        return self._state.open and not self._state.final

    def on_file(self, handler: Callable[[Transfer], Any]) -> Callable[[Transfer], Any]:
        """Decorator: ``handler(transfer)`` decides every file the server offers
        (``transfer.accept(...)`` or ``transfer.decline()``, then or later). It runs
        while this client handles events: in ``recv``, ``send``, ``Transfer.wait``...
        Without it, offers are declined; pass ``on_file=`` to the constructor to catch
        offers made right at the open."""
        self._state.on_file = handler
        return handler

    def on_secure(self, handler: Callable[[Connection], Any]) -> Callable[[Connection], Any]:
        """Decorator: ``handler(connection)`` runs when the secure handshake has finished
        (pass ``on_secure=`` to the constructor to see the first one, which comes before
        the constructor returns)."""
        self._state.on_secure = handler
        return handler

    def send_file(self, source: Source, name: Optional[str] = None, *,
                  size: Optional[int] = None) -> Transfer:
        """Offers a file to the server: see :meth:`truflux.Connection.send_file`."""
        return self.connection.send_file(source, name, size=size)

    def poll(self, timeout: Optional[float] = 0.0) -> int:
        """Handles the events that are ready (file events and handlers; messages go to
        the backlog ``recv`` reads), waiting at most ``timeout`` seconds for the first.
        Returns how many it handled."""
        with self._lock:
            if self._native.freed:
                return 0
            n = self._pump()
            if not n and self._wait(_deadline(timeout)):
                n = self._pump()
            return n

    def send(self, name: str, data: Any = NOTHING, *, timeout: Optional[float] = None) -> None:
        """Sends one message named ``name``.

        ``data`` keeps its type: ``bytes``/``bytearray``/``memoryview`` travel as binary,
        ``str`` as UTF-8 text, ``None``, ``bool``, ``int``, ``float``, ``list``, ``tuple``
        and ``dict`` as MessagePack; without ``data`` the message is empty. Anything else
        raises TypeError. A payload that breaks the message's schema raises
        :class:`truflux.ESCHEMA`, a name the protocol lacks :class:`truflux.ENOTFOUND`, a
        closed connection :class:`truflux.ECLOSED` (or the error that closed it).

        When the send queue is above its high-water mark the call waits for it to drain,
        at most ``timeout`` seconds (None: no limit), then raises
        :class:`truflux.ETIMEDOUT`.
        """
        type_, payload = encode(data)
        st = self._state
        if st.final:
            raise st.closed_error()
        deadline = _deadline(timeout)
        while True:
            drains = st.drains
            rc = self._native.send(name, type_, payload)
            if rc == 0:
                return
            if rc != EAGAIN:
                if rc == ECLOSED:
                    # Report why it is closing: the CLOSE event, or the ERROR before it.
                    with self._lock:
                        if not self._native.freed:
                            self._pump()
                    if st.final:
                        raise st.closed_error()
                    if st.error:
                        raise error_for(st.error[0], f"send {name!r}: {st.error[1]}")
                raise error_for(rc, f"send {name!r}")
            with self._lock:
                while st.drains == drains and not st.final:
                    if not self._pump() and not self._wait(deadline) \
                            and _left_ms(deadline) == 0:
                        raise ETIMEDOUT(f"send {name!r}: the send queue did not drain")
            if st.final:
                raise st.closed_error()

    def recv(self, timeout: Optional[float] = None) -> Message:
        """The next message, waiting at most ``timeout`` seconds (None: no limit).

        Raises :class:`truflux.ETIMEDOUT` on timeout, and once the connection has closed
        and every message received before that was read: :class:`truflux.ECLOSED` after a
        graceful close, or the error that ended it (:class:`truflux.EEOF`,
        :class:`truflux.ESHUTDOWN`, ...).
        """
        st = self._state
        deadline = _deadline(timeout)
        with self._lock:
            while True:
                msg = st.take()
                if msg is not None:
                    return msg
                if self._native.freed:
                    raise st.closed_error()
                if self._pump():
                    continue
                if st.final:
                    raise st.closed_error()
                if not self._wait(deadline) and _left_ms(deadline) == 0:
                    raise ETIMEDOUT("no message in time")

    def __iter__(self) -> Iterator[Message]:
        """Messages until the connection closes: the loop ends after a graceful close and
        raises the error that ended it otherwise."""
        while True:
            try:
                yield self.recv()
            except Error as e:
                if e.code == ECLOSED:
                    return
                raise

    def close(self, timeout: float = 5.0) -> None:
        """Closes gracefully: what was sent goes out first, then the close handshake,
        waiting at most ``timeout`` seconds before dropping the connection. Idempotent."""
        st = self._state
        if self._native.freed:
            return
        st.closing = True
        deadline = _deadline(timeout)
        with self._lock:
            if self._native.close(_truflux.CLOSE_GRACEFUL) == 0:
                while not st.final:
                    if not self._pump() and not self._wait(deadline) \
                            and _left_ms(deadline) == 0:
                        break
            st.final = True
            self._free()

    def _free(self) -> None:
        self._state.transfers.close_all()
        try:
            self._poller.unregister(self._native.fd())
        except (Error, KeyError, ValueError):
            pass
        self._finalizer()

    def stats(self) -> Dict[str, Any]:
        """The connection's counters and the event queue's (``queue``)."""
        out: Dict[str, Any] = dict(self.connection.stats())
        if not self._native.freed:
            out["queue"] = self._native.queue_stats()
        return out

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<truflux.Client {self.url} {state}>"
