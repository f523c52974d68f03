"""File transfers (truflux/file.h): files and streams sent beside a connection's messages.

Sending: ``conn.send_file(path_or_fileobj)`` (or ``client.send_file``) offers the content
and returns a :class:`Transfer`; ``transfer.wait(timeout)`` returns once the receiver has
verified the SHA-256 of the whole content, or raises why it did not
(:class:`truflux.EDECLINED`, :class:`truflux.ECANCELED`, :class:`truflux.ECLOSED`...).

Receiving: a server's ``@server.on_file`` handler (a client's ``on_file=``) gets every
offer as a :class:`Transfer` whose ``incoming`` is true; it decides with ``accept(path,
directory or file object)`` or ``decline()``, then or later. Offers nobody handles are
declined.

Either side may ``pause()``, ``resume()`` and ``cancel()``; what the peer does is reported
through handlers registered with ``transfer.on(event)``: ``accept``, ``decline``, ``pause``,
``resume``, ``progress`` (transfer, done, total), ``cancel``, ``error`` (transfer, error),
``finish`` (the content arrived whole) and ``end`` (transfer, status: always, last). They
run where the owner's other handlers run (the thread that polls the server or reads the
client; the event loop in truflux.aio), and must not block.

The adapter moves paths and descriptors: a file object is sent or received through a
duplicate of its descriptor (``fileno()``), so a pipe works as a stream; Python-level
streams without a descriptor are not supported.
"""

from __future__ import annotations

import os
import threading
import time
from typing import (IO, TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, TypeVar,
                    Union)

from . import _truflux
from .errors import Error, by_name, error_for

if TYPE_CHECKING:  # pragma: no cover
    from .connection import Connection

__all__ = ["Transfer", "SIZE_UNKNOWN"]

#: The size of a stream whose length is not known in advance.
SIZE_UNKNOWN: int = _truflux.FILE_SIZE_UNKNOWN

EVENTS = ("accept", "decline", "pause", "resume", "progress", "cancel", "error", "finish",
          "end")

PathLike = Union[str, "os.PathLike[str]"]
Source = Union[PathLike, IO[Any]]
F = TypeVar("F", bound=Callable[..., Any])

_KIND_NAMES = {
    _truflux.EVENT_FILE_ACCEPT: "accept",
    _truflux.EVENT_FILE_DECLINE: "decline",
    _truflux.EVENT_FILE_PAUSE: "pause",
    _truflux.EVENT_FILE_RESUME: "resume",
    _truflux.EVENT_FILE_CANCEL: "cancel",
}


def _check(rc: int, what: str) -> None:
    if rc < 0:
        raise error_for(rc, what)


class Transfer:
    """One file transfer, in either direction.

    Attributes: ``name``, ``size`` (bytes, or :data:`SIZE_UNKNOWN` for a stream),
    ``is_stream``, ``incoming`` (True on the receiving side), ``connection``, ``done``
    (bytes moved so far), ``status`` (None while it runs; 0 after success, else the error
    code) and ``error`` (the :class:`truflux.Error` that ended it, if any). ``paused`` is
    live: True while either side has it paused.
    """

    def __init__(self, native: Any, connection: Optional["Connection"], owner: Any) -> None:
        self._native = native
        self._owner = owner
        self.connection = connection
        self.name: str = native.name
        self.size: int = native.size
        self.is_stream: bool = native.is_stream
        self.incoming: bool = native.is_incoming
        self.done = 0
        self.status: Optional[int] = None
        self.error: Optional[Error] = None
        self.accepted = False  # the receiver accepted (either side knows)
        self._handlers: Dict[str, List[Callable[..., Any]]] = {}
        self._ended = threading.Event()

    # ---- handlers -------------------------------------------------------------------------

    def on(self, event: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """Registers a handler for one of the transfer's events (see the module's text);
        usable as a decorator: ``@transfer.on("progress")``."""
        if event not in EVENTS:
            raise ValueError(f"no transfer event {event!r}; one of {', '.join(EVENTS)}")

        def register(fn: F) -> F:
            self._handlers.setdefault(event, []).append(fn)
            return fn

        return register if handler is None else register(handler)

    def _fire(self, event: str, *args: Any) -> None:
        for fn in self._handlers.get(event, ()):
            fn(self, *args)

    # ---- state ---------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        """True while either side has the transfer paused."""
        return self._native.is_paused

    @property
    def ended(self) -> bool:
        return self.status is not None

    @property
    def total(self) -> int:
        return self.size

    def stats(self) -> Dict[str, int]:
        """The transfer's counters (truflux/file.h's tf_file_stats_t)."""
        return self._native.stats()

    # ---- controls ------------------------------------------------------------------------

    def accept(self, dest: Union[PathLike, IO[Any]]) -> "Transfer":
        """Receiver: accepts the offer into ``dest``: an existing directory (the file goes
        in as the offered name), a path (exactly there), or a file object open for writing
        (written from its position, through a duplicate of its descriptor). A path gets a
        temporary name until the checksum holds. Returns the transfer."""
        if hasattr(dest, "fileno") and not isinstance(dest, (str, bytes, os.PathLike)):
            try:
                dest.flush()  # type: ignore[union-attr]
            except (AttributeError, ValueError):
                pass
            rc = self._native.accept_fd(os.dup(dest.fileno()))  # type: ignore[union-attr]
        else:
            path = os.fspath(dest)  # type: ignore[arg-type]
            if os.path.isdir(path):
                rc = self._native.accept_dir(path)
            else:
                rc = self._native.accept_path(path)
        _check(rc, f"accept {self.name!r}")
        self.accepted = True
        return self

    def decline(self) -> None:
        """Receiver: refuses the offer (the sender's transfer ends with EDECLINED)."""
        _check(self._native.decline(), f"decline {self.name!r}")

    def cancel(self) -> None:
        """Either side: ends the transfer (both sides end with ECANCELED; a receiver's
        partial file is removed). Cancelling an ended transfer is not an error."""
        rc = self._native.cancel()
        if rc < 0 and rc != by_name["ECLOSED"].code:
            raise error_for(rc, f"cancel {self.name!r}")

    def pause(self) -> None:
        """Either side: stops the content until :meth:`resume` (allowed before the offer is
        accepted)."""
        _check(self._native.pause(), f"pause {self.name!r}")

    def resume(self) -> None:
        _check(self._native.resume(), f"resume {self.name!r}")

    # ---- the end -------------------------------------------------------------------------

    def _end(self, status: int) -> None:
        self.status = status
        if status and self.error is None:
            self.error = error_for(status, f"file {self.name!r}")
        self._ended.set()

    def result(self) -> "Transfer":
        """The transfer once ended: itself after success, else raises its error."""
        if self.status is None:
            raise by_name["EBUSY"](f"file {self.name!r} still running")
        if self.status:
            raise error_for(self.status, f"file {self.name!r}: "
                            + (self.error.detail if self.error else ""))
        return self

    def wait(self, timeout: Optional[float] = None) -> "Transfer":
        """Waits for the end, at most ``timeout`` seconds (None: no limit): returns the
        transfer after success, raises its error (:class:`truflux.EDECLINED`,
        :class:`truflux.ECANCELED`, ...) otherwise, :class:`truflux.ETIMEDOUT` when it is
        still running. Handles the owner's events meanwhile when no other thread does."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.status is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise by_name["ETIMEDOUT"](f"file {self.name!r} not done in time")
            if not self._owner._drive(left):
                # Another thread handles the events: it ends us.
                self._ended.wait(0.05 if left is None else min(left, 0.05))
        return self.result()

    def __repr__(self) -> str:
        way = "from" if self.incoming else "to"
        state = "running" if self.status is None else (
            "done" if self.status == 0 else _truflux.errname(self.status))
        size = "stream" if self.is_stream else f"{self.size} bytes"
        return f"<truflux.Transfer {self.name!r} {way} peer, {size}, {state}>"


def open_source(conn_native: Any, source: Source, name: Optional[str],
                size: Optional[int]) -> Any:
    """Starts sending ``source`` on a native connection; returns the native handle."""
    if hasattr(source, "fileno") and not isinstance(source, (str, bytes, os.PathLike)):
        if name is None:
            given = getattr(source, "name", None)
            if not isinstance(given, str):
                raise ValueError("send_file: name= is required for this file object")
            name = os.path.basename(given)
        try:
            pos = source.tell()  # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):
            pos = 0
        if pos:
            raise ValueError("send_file: the file object must be at its start")
        return conn_native.send_file_fd(os.dup(source.fileno()),  # type: ignore[union-attr]
                                        name, SIZE_UNKNOWN if size is None else size)
    path = os.fspath(source)  # type: ignore[arg-type]
    if size is not None:
        raise ValueError("send_file: size= is for file objects (a path is sent whole)")
    return conn_native.send_file_path(path, name)


class Transfers:
    """An owner's transfers by key, fed with FILE_* events; ``on_offer(transfer)`` decides
    new offers (None: decline them)."""

    def __init__(self, owner: Any, transfer_class: type = Transfer) -> None:
        self.owner = owner
        self.cls = transfer_class
        self.by_key: Dict[int, Transfer] = {}
        # Events that came before send_file registered their transfer (another thread
        # pops), replayed on registration.
        self._early: Dict[int, List[Tuple[Any, ...]]] = {}
        self._lock = threading.Lock()

    def started(self, native: Any, connection: Optional["Connection"]) -> Transfer:
        t = self.cls(native, connection, self.owner)
        with self._lock:
            self.by_key[native.key] = t
            early = self._early.pop(native.key, [])
        for ev in early:
            self._apply(t, ev)
        return t

    def handle(self, ev: Tuple[Any, ...], connection: Optional["Connection"],
               on_offer: Optional[Callable[[Transfer], Any]]) -> Any:
        """Applies one FILE_* event; returns what on_offer returned for an OFFER."""
        kind, native = ev[0], ev[2]
        if kind == _truflux.EVENT_FILE_OFFER:
            t = self.cls(native, connection, self.owner)
            with self._lock:
                self.by_key[native.key] = t
            if on_offer is None:
                t.decline()
                return None
            return on_offer(t)
        with self._lock:
            t = self.by_key.get(native.key)
            if t is None:
                self._early.setdefault(native.key, []).append(ev)
                return None
        self._apply(t, ev)
        return None

    def _apply(self, t: Transfer, ev: Tuple[Any, ...]) -> None:
        kind = ev[0]
        if kind == _truflux.EVENT_FILE_PROGRESS:
            t.done = ev[3]
            t._fire("progress", ev[3], ev[4])
        elif kind == _truflux.EVENT_FILE_ERROR:
            t.error = error_for(ev[3], ev[4])
            t._fire("error", t.error)
        elif kind == _truflux.EVENT_FILE_END:
            with self._lock:
                self.by_key.pop(ev[2].key, None)
            t._end(ev[3])
            if ev[3] == 0:
                if t.size >= 0:
                    t.done = t.size
                t._fire("finish")
            t._fire("end", ev[3])
        else:
            name = _KIND_NAMES.get(kind)
            if name == "accept":
                t.accepted = True
            if name:
                t._fire(name)

    def close_all(self) -> None:
        """The owner is gone: transfers still running end with ECLOSED."""
        with self._lock:
            left = list(self.by_key.values())
            self.by_key.clear()
            self._early.clear()
        for t in left:
            if t.status is None:
                t._end(by_name["ECLOSED"].code)
