"""Connections and received messages, shared by the synchronous and asyncio APIs."""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Deque, Dict, Optional, Tuple

from . import _truflux
from ._codec import NOTHING, Type, decode, encode
from .errors import Error, by_name, error_for
from .files import Source, Transfer, Transfers, open_source

EAGAIN = by_name["EAGAIN"].code
ECLOSED = by_name["ECLOSED"].code
EQUEUEFULL = by_name["EQUEUEFULL"].code


class Message:
    """A received message: ``name``, ``data`` (the Python value), ``type`` (its
    :class:`truflux.Type`), ``raw`` (the payload bytes) and ``connection`` (where it came
    from)."""

    __slots__ = ("name", "data", "type", "raw", "connection")

    def __init__(self, name: str, type_: int, raw: bytes,
                 connection: Optional["Connection"] = None) -> None:
        self.name = name
        self.type = Type(type_)
        self.raw = raw
        self.data: Any = decode(type_, raw)
        self.connection = connection

    def __repr__(self) -> str:
        return f"<truflux.Message {self.name} {self.type.name} {self.data!r}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.name, self.type, self.raw) == (other.name, other.type, other.raw)

    __hash__ = None  # type: ignore[assignment]


class Connection:
    """One connection to a peer: a server hands these to its handlers; a client has one.

    ``session`` is a dict for the application's own per-connection state.
    """

    def __init__(self, native: _truflux.Conn) -> None:
        self._native = native
        self.session: Dict[Any, Any] = {}
        self.closed = False
        #: the reason the connection ended (0: a graceful close), once closed
        self.close_reason: Optional[int] = None
        # Set by the server or client that made it: its protocol (state names) and its
        # transfers (send_file).
        self._protocol: Any = None
        self._transfers: Optional[Transfers] = None

    def send(self, name: str, data: Any = NOTHING) -> None:
        """Sends one message; see :meth:`truflux.Client.send` for how data maps to types.
        Never blocks: above the send high-water mark it raises :class:`truflux.EAGAIN`."""
        type_, payload = encode(data)
        rc = self._native.send(name, type_, payload)
        if rc:
            raise error_for(rc, f"send {name!r}")

    def close(self, code: int = 0, *, force: bool = False) -> None:
        """Closes the connection, gracefully (queued messages are sent first) unless
        ``force``; ``code`` (0 or a negative truflux code) is the reason the peer sees.
        Closing twice is not an error."""
        if isinstance(code, Error):
            code = code.code
        rc = self._native.close(_truflux.CLOSE_FORCE if force else _truflux.CLOSE_GRACEFUL,
                                code)
        if rc and rc != ECLOSED:
            raise error_for(rc, "close")

    @property
    def is_open(self) -> bool:
        """Whether the connection is open now."""
        return self._native.is_open

    @property
    def remote_address(self) -> Optional[Tuple[str, int]]:
        """(host, port) of the peer, or None once the socket is gone."""
        return self._native.remote_address

    @property
    def local_address(self) -> Optional[Tuple[str, int]]:
        """(host, port) of this end, or None once the socket is gone."""
        return self._native.local_address

    def stats(self) -> Dict[str, int]:
        """Counters: msgs_in, msgs_out, bytes_in, bytes_out, queued."""
        return self._native.stats()

    @property
    def key(self) -> int:
        return self._native.key

    @property
    def loop(self) -> int:
        """Which of its server's loops the connection lives on: 0 for the server's own, 1..
        for those :meth:`truflux.Server.add_loop` added (always 0 for a client's)."""
        return self._native.loop

    # ---- the secure layer (truflux/security.h) --------------------------------------------

    @property
    def secure(self) -> bool:
        """Whether what we send is encrypted now (the seed's ``secure``)."""
        return self._native.secure(_truflux.DIR_SEND)

    @property
    def peer_secure(self) -> bool:
        """Whether what the peer sends is encrypted now (the seed's ``peerSecure``)."""
        return self._native.secure(_truflux.DIR_RECV)

    @property
    def secure_info(self) -> Optional[Dict[str, Any]]:
        """What the handshake established, or None without a secure layer: a dict with
        ``established``, ``pattern`` ("NN", "NK", "XX", "IK"), ``cipher`` ("ChaChaPoly",
        "AESGCM"), ``peer_key`` (the peer's proven static public key, or None),
        ``handshake_hash`` (equal on both sides), and the rekey and record counters."""
        return self._native.secure_info()

    def set_secure(self, on: bool = True, *, send: bool = True, recv: bool = True) -> None:
        """Switches encryption of what we send (``send``) and/or asks the peer to switch
        what it sends (``recv``). Raises :class:`truflux.ENOTSUP` without a secure layer,
        :class:`truflux.ENOTSECURE` when switching off where encryption is required."""
        dirs = (_truflux.DIR_SEND if send else 0) | (_truflux.DIR_RECV if recv else 0)
        self._native.set_secure(dirs, bool(on))

    # ---- protocol states (docs/PROTOCOL.md 12.3) ------------------------------------------

    @property
    def state(self) -> Any:
        """The connection's protocol state: its name when the protocol defines states,
        else 0. Setting it (a name or a number) moves this side's state; messages the
        peer sends are then checked against it (a message not valid in the state ends
        the connection with :class:`truflux.ESTATE`). The state changes on the library's
        thread, after the messages it already received: change it before the peer
        sends what the new state allows (e.g. before replying)."""
        n = self._native.state()
        proto = self._protocol
        if proto is not None and proto.states:
            return proto.states[n]
        return n

    @state.setter
    def state(self, value: Any) -> None:
        if isinstance(value, str):
            if self._protocol is None:
                raise by_name["ENOTFOUND"](f"state {value!r}: no protocol")
            value = self._protocol.state(value)
        self._native.set_state(int(value))

    # ---- files (truflux/file.h) -----------------------------------------------------------

    def send_file(self, source: Source, name: Optional[str] = None, *,
                  size: Optional[int] = None) -> Transfer:
        """Offers a file to the peer and returns its :class:`truflux.Transfer` (wait for it
        with ``.wait(timeout)``). ``source``: a path (sent whole; offering the same
        unchanged file again after a dropped connection resumes), or a file object with a
        descriptor, sent from its start (a regular file whole or its first ``size``
        bytes; a pipe as a stream of ``size`` bytes, or until its end). ``name`` is what
        the peer is told (default: the last path component). Raises
        :class:`truflux.ENOTSUP` when the peer does not take files,
        :class:`truflux.ENOTFOUND` for a missing file, :class:`truflux.EFILENAME` for an
        unsafe name."""
        if self._transfers is None:
            raise by_name["ENOTSUP"]("send_file: this connection has no owner")
        native = open_source(self._native, source, name, size)
        return self._transfers.started(native, self)

    def __repr__(self) -> str:
        addr = self.remote_address
        where = f"{addr[0]}:{addr[1]}" if addr else "closed"
        return f"<truflux.Connection {where}>"


class ClientState:
    """The events of one client connection, turned into state and a backlog of messages.

    Both the synchronous and the asyncio client feed it every event they pop. The backlog
    is bounded by ``cap`` bytes: a consumer that falls further behind has its connection
    closed with EQUEUEFULL, as the C queue does (truflux/queue.h).
    """

    def __init__(self, native: Any, cap: int, reconnect: bool, owner: Any = None,
                 protocol: Any = None) -> None:
        self.native = native
        self.owner = owner
        self.protocol = protocol
        self.transfers = Transfers(owner)
        self.on_file: Optional[Callable[..., Any]] = None    # handler(transfer)
        self.on_secure: Optional[Callable[..., Any]] = None  # handler(connection)
        self.secure_error: Optional[Tuple[int, str]] = None  # the last SECURE_FAIL
        self.cap = cap
        self.reconnect = reconnect
        self.connection: Optional[Connection] = None
        self.opens = 0
        self.open = False
        self.final = False            # closed for good
        self.reason = 0               # why it closed
        self.remote = False
        self.error: Optional[Tuple[int, str]] = None  # the last ERROR event
        self.drains = 0
        self.backlog: Deque[Message] = deque()
        self.backlog_bytes = 0
        self.overflowed = False
        self.closing = False          # close() was called

    def handle(self, ev: Tuple[Any, ...]) -> None:
        kind = ev[0]
        if kind == _truflux.EVENT_MESSAGE:
            if self.overflowed:
                return
            msg = Message(ev[2], ev[3], ev[4], self.connection)
            if self.backlog and self.backlog_bytes + len(msg.raw) > self.cap:
                self.overflowed = True
                self.error = (EQUEUEFULL, "message backlog full: the application is not "
                              "reading; closing the connection")
                if self.connection is not None:
                    self.connection.close(EQUEUEFULL)
                return
            self.backlog.append(msg)
            self.backlog_bytes += len(msg.raw)
        elif kind >= _truflux.EVENT_FILE_OFFER:
            self.transfers.handle(ev, self.connection, self.on_file)
        elif kind == _truflux.EVENT_SECURE:
            self._adopt(ev[1], ev[2])
            if self.on_secure is not None:
                self.on_secure(self.connection)
        elif kind == _truflux.EVENT_SECURE_FAIL:
            self.secure_error = (ev[2], ev[3])
        elif kind == _truflux.EVENT_OPEN:
            self._adopt(ev[1], ev[2])
            self.connection.closed = False
            self.open = True
            self.opens += 1
            self.error = None
        elif kind == _truflux.EVENT_CLOSE:
            self.open = False
            self.reason = ev[2]
            self.remote = ev[3]
            if self.connection is not None:
                self.connection.closed = True
                self.connection.close_reason = ev[2]
            # With reconnect the client tries again (and reports the next OPEN) unless it
            # is being closed.
            if not self.reconnect or self.closing:
                self.final = True
                self.transfers.close_all()
        elif kind == _truflux.EVENT_ERROR:
            self.error = (ev[2], ev[3])
        elif kind == _truflux.EVENT_DRAIN:
            self.drains += 1

    def _adopt(self, key: int, native: Any) -> None:
        """The Connection for this key (a SECURE event may come before the OPEN)."""
        if self.connection is None or self.connection.key != key:
            self.connection = Connection(native)
            self.connection._protocol = self.protocol
            self.connection._transfers = self.transfers

    def take(self) -> Optional[Message]:
        if not self.backlog:
            return None
        msg = self.backlog.popleft()
        self.backlog_bytes -= len(msg.raw)
        return msg

    def closed_error(self) -> Error:
        """The exception for using the connection once it is closed."""
        if self.secure_error and not self.opens:
            # The handshake failed before the connection opened: that is why.
            return error_for(self.secure_error[0], self.secure_error[1])
        if self.reason:
            detail = self.error[1] if self.error and self.error[0] == self.reason else ""
            return error_for(self.reason, detail or "connection closed")
        return error_for(ECLOSED, "connection closed" + (" by the peer" if self.remote else ""))
