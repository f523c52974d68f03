"""The synchronous server."""

from __future__ import annotations

import select
import threading
import time
import weakref
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, TypeVar, Union

from . import _options, _truflux
from ._codec import NOTHING, encode
from .connection import Connection, Message
from .files import Transfer, Transfers
from .errors import Error, error_for
from .protocol import Protocol

F = TypeVar("F", bound=Callable[..., Any])


def host_of(url: str) -> str:
    """The host part of "tcp://HOST:PORT" (brackets kept for IPv6)."""
    rest = url.split("://", 1)[-1]
    return rest.rsplit(":", 1)[0] if ":" in rest else rest


class ServerBase:
    """What the synchronous and the asyncio servers share: the native server, the
    connections by key, the event handlers, and broadcasting."""

    _conn_class = Connection
    _transfer_class = Transfer

    def __init__(self, urls: Union[str, Iterable[str]], protocol: Protocol, queue_max: int,
                 options: Dict[str, Any], owner: str, loops: int = 1) -> None:
        if not isinstance(protocol, Protocol):
            raise TypeError("protocol must be a truflux.Protocol")
        if isinstance(urls, str):
            urls = [urls]
        if isinstance(loops, bool) or not isinstance(loops, int):
            raise TypeError(f"{owner}(): loops: an int, not {type(loops).__name__}")
        if loops < 1:
            raise ValueError(f"{owner}(): loops: at least 1, not {loops}")
        self.urls: List[str] = list(urls)
        self.protocol = protocol
        native_opts = _options.build(options, owner)
        self._native = _truflux.Server(protocol._native, native_opts, queue_max, self.urls,
                                       loops)
        self._finalizer = weakref.finalize(self, self._native.free)
        self._conns: Dict[int, Connection] = {}
        self._on_open: Optional[Callable[..., Any]] = None
        self._on_close: Optional[Callable[..., Any]] = None
        self._on_error: Optional[Callable[..., Any]] = None
        self._on_message: Optional[Callable[..., Any]] = None
        self.closed = False  # the server finished closing
        self._on_file: Optional[Callable[..., Any]] = None
        self._on_secure: Optional[Callable[..., Any]] = None
        self._on_secure_fail: Optional[Callable[..., Any]] = None
        self._transfers = Transfers(self, self._transfer_class)
        # Connections seen in a SECURE event before their OPEN (the open waited for the
        # handshake); their OPEN or CLOSE takes them out.
        self._early: Dict[int, Connection] = {}

    # ---- handlers ------------------------------------------------------------------------

    def on_open(self, handler: F) -> F:
        """Decorator: ``handler(conn)`` runs for every new connection."""
        self._on_open = handler
        return handler

    def on_close(self, handler: F) -> F:
        """Decorator: ``handler(conn, reason)`` runs when a connection ends (reason: 0
        after a graceful close, else the error code; ``conn.close_reason`` too)."""
        self._on_close = handler
        return handler

    def on_error(self, handler: F) -> F:
        """Decorator: ``handler(conn, error)`` runs for every error (conn may be None, e.g.
        a connection refused over the limit); ``error`` is a :class:`truflux.Error`."""
        self._on_error = handler
        return handler

    def on_message(self, handler: F) -> F:
        """Decorator: ``handler(conn, msg)`` runs for messages whose name has no handler in
        the protocol (:meth:`truflux.Protocol.on`)."""
        self._on_message = handler
        return handler

    def on_file(self, handler: F) -> F:
        """Decorator: ``handler(conn, transfer)`` runs for every file a client offers; it
        decides with ``transfer.accept(path_or_dir_or_fileobj)`` or ``transfer.decline()``,
        then or later (:class:`truflux.Transfer`). Without it, offers are declined."""
        self._on_file = handler
        return handler

    def on_secure(self, handler: F) -> F:
        """Decorator: ``handler(conn)`` runs when a connection's secure handshake has
        finished (``conn.secure_info`` says what it established). It may run before the
        connection's ``on_open``, when the open waits for the handshake."""
        self._on_secure = handler
        return handler

    def on_secure_fail(self, handler: F) -> F:
        """Decorator: ``handler(conn, error)`` runs when a connection could not be secured
        (:class:`truflux.ENOCIPHER`, :class:`truflux.EAUTH`, :class:`truflux.ENOTSECURE`,
        ...); it then closes if either side requires encryption, else goes on in
        plaintext."""
        self._on_secure_fail = handler
        return handler

    # ---- state ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port of the first listening address (useful with port 0)."""
        return self._native.port

    @property
    def url(self) -> str:
        """The first listening address with its actual port, e.g. "tcp://127.0.0.1:4567"."""
        return f"tcp://{host_of(self.urls[0])}:{self.port}" if self.urls else ""

    @property
    def connections(self) -> List[Connection]:
        """The open connections."""
        return list(self._conns.values())

    @property
    def count(self) -> int:
        """The number of open connections, over every loop, as the library counts them
        (``connections`` is what the handlers have seen so far)."""
        return self._native.count

    @property
    def loops(self) -> int:
        """The number of loops the server runs on (1 and the added ones)."""
        return self._native.loops

    def add_loop(self) -> None:
        """Spreads the server over one more network loop, run by a thread of the library's
        own (tf_server_add_loop): every address then gets one listening socket per loop
        (SO_REUSEPORT) and the kernel shares new connections out among them. Only before
        the server listens: create it with no address (``Server([], proto)``), add the
        loops, then :meth:`listen`; afterwards it raises :class:`truflux.EINVAL`. The
        ``loops=N`` keyword of the constructor does the same for N - 1 loops. Handlers
        still run on the thread that handles the events, one at a time."""
        self._native.add_loop()

    def stats(self) -> Dict[str, int]:
        """The server's counters since it was created, summed over every loop (truflux/
        server.h's tf_server_stats_t): ``accepted``, ``opened``, ``active`` (open now),
        ``refused_limit``, ``message_size``, ``handshake_timeouts``, ``idle_timeouts``,
        ``protocol_errors``, ``secure_errors``, ``transport_errors``, ``peer_lost``,
        ``msgs_in``, ``msgs_out``, ``bytes_in``, ``bytes_out``."""
        return self._native.stats()

    def listen(self, url: str) -> None:
        """Listens on one more address."""
        self._native.listen(url)
        self.urls.append(url)

    def broadcast(self, name: str, data: Any = NOTHING, *,
                  exclude: Iterable[Connection] = ()) -> None:
        """Sends one message to every open connection but those in ``exclude`` (a
        connection above its send high-water mark is skipped). Any thread."""
        type_, payload = encode(data)
        self._native.broadcast(name, type_, payload, [c._native for c in exclude])

    # ---- events --------------------------------------------------------------------------

    def _adopt(self, native: Any) -> Connection:
        conn = self._conn_class(native)
        conn._protocol = self.protocol
        conn._transfers = self._transfers
        return conn

    def _event(self, ev: Tuple[Any, ...]) -> Optional[Tuple[Any, ...]]:
        """Updates the bookkeeping for one event; returns (handler, args) to run, if any."""
        kind, key = ev[0], ev[1]
        if kind == _truflux.EVENT_MESSAGE:
            conn = self._conns.get(key)
            if conn is None:
                return None
            msg = Message(ev[2], ev[3], ev[4], conn)
            handler = self.protocol.handler(msg.name) or self._on_message
            return (handler, (conn, msg)) if handler else None
        if kind >= _truflux.EVENT_FILE_OFFER:
            conn = self._conns.get(key)
            if kind != _truflux.EVENT_FILE_OFFER:
                self._transfers.handle(ev, conn, None)
                return None
            if self._on_file is None or conn is None:
                self._transfers.handle(ev, conn, None)  # declines it
                return None
            transfer = self._transfers.handle(ev, conn, lambda t: t)
            return (self._on_file, (conn, transfer))
        if kind == _truflux.EVENT_OPEN:
            conn = self._early.pop(key, None) or self._adopt(ev[2])
            self._conns[key] = conn
            return (self._on_open, (conn,)) if self._on_open else None
        if kind == _truflux.EVENT_SECURE:
            conn = self._conns.get(key) or self._early.get(key)
            if conn is None:
                conn = self._early[key] = self._adopt(ev[2])
            return (self._on_secure, (conn,)) if self._on_secure else None
        if kind == _truflux.EVENT_SECURE_FAIL:
            conn = self._conns.get(key) or self._early.pop(key, None)
            if self._on_secure_fail is None:
                return None
            return (self._on_secure_fail, (conn, error_for(ev[2], ev[3])))
        if kind == _truflux.EVENT_CLOSE:
            if key == 0:
                self.closed = True
                return None
            self._early.pop(key, None)
            conn = self._conns.pop(key, None)
            if conn is None:
                return None
            conn.closed = True
            conn.close_reason = ev[2]
            return (self._on_close, (conn, ev[2])) if self._on_close else None
        if kind == _truflux.EVENT_ERROR:
            if self._on_error is None:
                return None
            return (self._on_error, (self._conns.get(key), error_for(ev[2], ev[3])))
        return None


class Server(ServerBase):
    """A truflux server whose handlers run on the thread that calls :meth:`serve_forever`
    (or :meth:`poll`).

    >>> proto = truflux.Protocol(["echo", "chat"])
    >>> @proto.on("echo")
    ... def echo(conn, msg):
    ...     conn.send("echo", msg.data)
    >>> with truflux.Server("tcp://127.0.0.1:0", proto) as server:
    ...     print(server.url)
    ...     server.serve_forever()

    ``url`` is one address or a list ("tcp://HOST:PORT"; port 0 picks a free one), listened
    on before the constructor returns. Keyword options are those of :class:`Client`
    (``max_connections``, ``idle_timeout``...). The network side runs on a thread of the
    library's own; ``loops=N`` spreads it over N such threads (see :meth:`add_loop`). An
    exception a handler raises comes out of :meth:`serve_forever`.
    """

    def __init__(self, url: Union[str, Iterable[str]], protocol: Protocol, *,
                 queue_max: int = 0, loops: int = 1, **options: Any) -> None:
        super().__init__(url, protocol, queue_max, options, "Server", loops)
        self._lock = threading.RLock()  # one consumer of the queue at a time
        self._stop = False
        self._poller = select.poll()
        self._poller.register(self._native.fd(), select.POLLIN)

    def poll(self, timeout: Optional[float] = 0.0) -> int:
        """Handles the events that are ready, waiting at most ``timeout`` seconds (None:
        no limit) for the first. Returns how many events it handled."""
        with self._lock:
            n = self._run_ready()
            if n or self._native.freed:
                return n
            ms = -1 if timeout is None else max(0, int(timeout * 1000))
            if self._poller.poll(ms):
                n = self._run_ready()
            return n

    def _run_ready(self) -> int:
        n = 0
        while not self._native.freed:
            events = self._native.pop_many(64)
            for i, ev in enumerate(events):
                job = self._event(ev)
                if job is not None:
                    try:
                        job[0](*job[1])
                    except BaseException:
                        # The rest of this batch is not lost: handle it before raising.
                        for rest in events[i + 1:]:
                            later = self._event(rest)
                            if later is not None:
                                later[0](*later[1])
                        raise
            n += len(events)
            if len(events) < 64:
                break
        return n

    def _drive(self, timeout: Optional[float]) -> bool:
        """For Transfer.wait: handles events for at most ``timeout`` seconds unless another
        thread is handling them (False then)."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self.poll(0.5 if timeout is None else min(timeout, 0.5))
        finally:
            self._lock.release()
        return True

    def serve_forever(self) -> None:
        """Handles events until :meth:`stop` or :meth:`close` (from a handler or another
        thread) or until the server closed."""
        self._stop = False
        while not self._stop and not self.closed and not self._native.freed:
            self.poll(None)

    def stop(self) -> None:
        """Makes :meth:`serve_forever` return soon. Any thread."""
        self._stop = True
        if not self._native.freed:
            self._native.wake()

    def close(self, timeout: float = 5.0) -> None:
        """Stops listening and closes every connection gracefully, waiting at most
        ``timeout`` seconds, then frees the server. Handlers do not run any more.
        Idempotent; any thread."""
        self.stop()
        with self._lock:
            if self._native.freed:
                return
            deadline = time.monotonic() + timeout
            try:
                self._native.close(_truflux.CLOSE_GRACEFUL)
            except Error:
                pass
            while not self.closed:
                events = self._native.pop_many(256)
                for ev in events:
                    self._event(ev)
                left = deadline - time.monotonic()
                if not events and (left <= 0 or not self._poller.poll(int(left * 1000) + 1)):
                    if time.monotonic() >= deadline:
                        break
            for conn in self._conns.values():
                conn.closed = True
            self._conns.clear()
            self._early.clear()
            self._transfers.close_all()
            self.closed = True
            try:
                self._poller.unregister(self._native.fd())
            except (Error, KeyError, ValueError):
                pass
            self._finalizer()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._native.freed else f"{len(self._conns)} connections"
        return f"<truflux.Server {self.url if not self._native.freed else ''} {state}>"
