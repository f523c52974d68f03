"""Keyword arguments of Client and Server, turned into C options (truflux/options.h).

One row per option: the keyword, the key (an ``OPT_*`` constant of the extension, taken from
the C enum, so a key the library lacks fails at import) and how the Python value converts.
Times are seconds in Python (floats welcome) and milliseconds in C; ``None`` turns a timeout
off. Layers that add options (security, WebSocket, files) add rows here, and every Client
and Server accepts the new keywords at once.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from . import _truflux


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an int, got {type(value).__name__}")
    return value


def _bool(value: Any) -> int:
    if not isinstance(value, bool):
        raise TypeError(f"expected a bool, got {type(value).__name__}")
    return int(value)


def _seconds(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected seconds (int or float), got {type(value).__name__}")
    if value < 0:
        raise ValueError("a time cannot be negative")
    return int(round(value * 1000))


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a str, got {type(value).__name__}")
    return value


def _bytes(value: Any) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected bytes, got {type(value).__name__}")
    return bytes(value)


# keyword: (key, converter, setter name on _truflux.Options)
_Row = Tuple[int, Callable[[Any], Any], str]
TABLE: Dict[str, _Row] = {
    "nodelay": (_truflux.OPT_NODELAY, _bool, "set_int"),
    "max_connections": (_truflux.OPT_MAX_CONNECTIONS, _int, "set_int"),
    "max_message_size": (_truflux.OPT_MAX_MESSAGE_SIZE, _int, "set_int"),
    "handshake_timeout": (_truflux.OPT_HANDSHAKE_TIMEOUT, _seconds, "set_int"),
    "idle_timeout": (_truflux.OPT_IDLE_TIMEOUT, _seconds, "set_int"),
    "heartbeat": (_truflux.OPT_HEARTBEAT, _seconds, "set_int"),
    "send_hwm": (_truflux.OPT_SEND_HWM, _int, "set_int"),
    "send_lwm": (_truflux.OPT_SEND_LWM, _int, "set_int"),
    "close_timeout": (_truflux.OPT_CLOSE_TIMEOUT, _seconds, "set_int"),
    "strict": (_truflux.OPT_STRICT, _bool, "set_int"),
    "reconnect": (_truflux.OPT_RECONNECT, _bool, "set_int"),
    "reconnect_min": (_truflux.OPT_RECONNECT_MIN, _seconds, "set_int"),
    "reconnect_max": (_truflux.OPT_RECONNECT_MAX, _seconds, "set_int"),
    "backlog": (_truflux.OPT_BACKLOG, _int, "set_int"),
}

# Converters for rows that later layers add: text (paths, lists) and bytes (keys).
text = _text
binary = _bytes


def build(options: Mapping[str, Any], owner: str) -> Optional[_truflux.Options]:
    """The C options for these keywords (None when there are none: the library's
    defaults). TypeError for an unknown keyword or a value of the wrong type, the mapped
    exception (EINVAL) for a value the library refuses."""
    if not options:
        return None
    native = _truflux.Options()
    for name, value in options.items():
        row = TABLE.get(name)
        if row is None:
            raise TypeError(f"{owner}() got an unexpected keyword argument {name!r}")
        key, convert, setter = row
        try:
            converted = convert(value)
        except TypeError as e:
            raise TypeError(f"{owner}(): {name}: {e}") from None
        getattr(native, setter)(key, converted)
    return native
