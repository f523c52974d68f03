"""Protocol definitions: message names, their schemas, and the handlers servers run."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, TypeVar, Union

from . import _truflux
from ._codec import types_mask
from .errors import Error

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)

Spec = Union[None, Mapping[str, Any]]


class Protocol:
    """The messages two programs exchange.

    Each message has a name; its id is derived from the name, so programs in any language
    that define the same names agree without coordinating. A message may carry a schema:
    the payload types it accepts (``types``) and its largest size (``max_size``); a send
    that breaks it raises :class:`truflux.ESCHEMA` before anything leaves.

    >>> proto = Protocol(["echo", "chat"])
    >>> proto = Protocol({"echo": None, "blob": {"types": bytes, "max_size": 4096}})

    States (docs/PROTOCOL.md 12.3): ``states`` names them, the first being where every
    connection starts; a message spec's ``"states"`` lists those it is valid in (a message
    without one is valid in every state). A connection's state is
    :attr:`truflux.Connection.state`; a message the peer sends outside the states it is
    valid in ends the connection with :class:`truflux.ESTATE`.

    >>> proto = Protocol({"login": {"states": ["auth"]}, "chat": {"states": ["ready"]}},
    ...                  states=["auth", "ready"])

    The definition is frozen once a server or client uses it (adding then raises
    :class:`truflux.EBUSY`); handlers can be registered at any time.
    """

    def __init__(self, messages: Union[Iterable[str], Mapping[str, Spec]] = (), *,
                 states: Iterable[str] = ()) -> None:
        self._native = _truflux.Protocol()
        self._handlers: Dict[str, Handler] = {}
        self._states: List[str] = []
        if isinstance(states, str):
            raise TypeError("states= takes a list of state names, not a str")
        for state in states:
            self.add_state(state)
        if isinstance(messages, Mapping):
            for name, spec in messages.items():
                spec = dict(spec or {})
                allowed = spec.pop("states", ())
                self.add(name, **spec)
                if isinstance(allowed, str):
                    allowed = [allowed]
                self.allow(name, *allowed)
        elif isinstance(messages, str):
            raise TypeError("Protocol() takes a list of message names, not a str")
        else:
            for name in messages:
                self.add(name)

    def add(self, name: str, *, types: Any = None, max_size: int = 0) -> int:
        """Defines a message and returns its id. ``types``: a :class:`truflux.Type`, a
        Python type (``bytes``, ``str``, ``dict``...) or a list of them; None accepts any.
        ``max_size``: the largest payload in bytes (0: the connection's maximum)."""
        if not isinstance(name, str):
            raise TypeError(f"a message name is a str, not {type(name).__name__}")
        return self._native.add(name, types_mask(types), max_size)

    def add_state(self, state: str) -> int:
        """Defines a state and returns its number (0 for the first)."""
        if not isinstance(state, str):
            raise TypeError(f"a state name is a str, not {type(state).__name__}")
        n = self._native.add_state(state)
        self._states.append(state)
        return n

    def allow(self, message: str, *states: str) -> None:
        """Makes ``message`` valid in each of ``states`` (all defined already)."""
        for state in states:
            self._native.allow(message, state)

    def state(self, name: str) -> int:
        """The number of a defined state (:class:`truflux.ENOTFOUND` otherwise)."""
        return self._native.state(name)

    @property
    def states(self) -> List[str]:
        """The state names, in number order (empty: a stateless protocol)."""
        return list(self._states)

    def on(self, name: str) -> Callable[[H], H]:
        """Decorator: registers ``handler(conn, msg)`` for message ``name`` (servers call
        it for every such message; in truflux.aio it may be a coroutine function)."""
        self.id(name)  # raises ENOTFOUND for a name not defined

        def register(handler: H) -> H:
            self._handlers[name] = handler
            return handler

        return register

    def handler(self, name: str) -> Optional[Handler]:
        """The handler registered for ``name``, or None."""
        return self._handlers.get(name)

    def id(self, name: str) -> int:
        """The id of a defined message (:class:`truflux.ENOTFOUND` otherwise)."""
        return self._native.id(name)

    def name(self, id: int) -> Optional[str]:
        """The name of a defined id, or None."""
        return self._native.name(id)

    @property
    def fingerprint(self) -> bytes:
        """The definition's SHA-256 fingerprint, as the hello carries it."""
        return self._native.fingerprint()

    def __len__(self) -> int:
        return self._native.count()

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self._native.id(name)
        except Error:
            return False
        return True

    def __repr__(self) -> str:
        return f"<truflux.Protocol: {len(self)} messages>"

    @staticmethod
    def name_id(name: str) -> int:
        """The id every implementation derives from a message name."""
        return _truflux.name_id(name)
