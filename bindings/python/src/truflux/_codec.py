"""Python values to and from the payload types of the wire (DESIGN.md decision 6).

``bytes``-like values travel as BINARY, ``str`` as TEXT, and ``None``, ``bool``, ``int``,
``float``, ``list``, ``tuple`` and ``dict`` as one MessagePack value (tuples come back as
lists). A message sent without data is EMPTY and reads back as ``None``.
"""

from __future__ import annotations

import enum
from typing import Any, Optional, Tuple, Union

import msgpack

from . import _truflux


class Type(enum.IntEnum):
    """The payload type every message carries."""

    EMPTY = _truflux.TYPE_EMPTY
    BINARY = _truflux.TYPE_BINARY
    TEXT = _truflux.TYPE_TEXT
    MSGPACK = _truflux.TYPE_MSGPACK


class _Nothing:
    """The default of ``data`` arguments: send an EMPTY message."""

    _instance: Optional["_Nothing"] = None

    def __new__(cls) -> "_Nothing":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOTHING"

    def __bool__(self) -> bool:
        return False


NOTHING: Any = _Nothing()

Payload = Union[bytes, bytearray, memoryview, None]

_STRUCTURED = (type(None), bool, int, float, list, tuple, dict)


def encode(data: Any) -> Tuple[int, Payload]:
    """(type, payload bytes) for a Python value; TypeError for a value with no payload type."""
    if data is NOTHING:
        return _truflux.TYPE_EMPTY, None
    if isinstance(data, (bytes, bytearray, memoryview)):
        return _truflux.TYPE_BINARY, data
    if isinstance(data, str):
        return _truflux.TYPE_TEXT, data.encode("utf-8")
    if isinstance(data, _STRUCTURED):
        try:
            return _truflux.TYPE_MSGPACK, msgpack.packb(data, use_bin_type=True)
        except TypeError as e:
            raise TypeError(f"truflux cannot send this value as MessagePack: {e}") from None
    raise TypeError(
        f"truflux cannot send a {type(data).__name__}: use bytes, str, or None, bool, int, "
        "float, list, tuple and dict (MessagePack)")


def decode(type_: int, raw: bytes) -> Any:
    """The Python value of a received payload."""
    if type_ == _truflux.TYPE_BINARY:
        return raw
    if type_ == _truflux.TYPE_TEXT:
        return raw.decode("utf-8")
    if type_ == _truflux.TYPE_MSGPACK:
        return msgpack.unpackb(raw, raw=False, strict_map_key=False)
    return None


def types_mask(types: Any) -> int:
    """A TRUFLUX_TYPES_* mask (0: any type) from :class:`Type` members or the Python types
    that travel as them: ``bytes`` (BINARY), ``str`` (TEXT), ``dict``, ``list``, ``int``,
    ``float``, ``bool`` (MSGPACK). ``Type.EMPTY`` admits messages sent without data."""
    if types is None:
        return 0
    if isinstance(types, (Type, type)):
        types = [types]
    mask = 0
    for t in types:
        if isinstance(t, Type):
            mask |= 1 << int(t)
        elif t in (bytes, bytearray, memoryview):
            mask |= 1 << Type.BINARY
        elif t is str:
            mask |= 1 << Type.TEXT
        elif t in _STRUCTURED and t is not type(None):
            mask |= 1 << Type.MSGPACK
        else:
            raise TypeError(f"not a payload type: {t!r}")
    return mask
