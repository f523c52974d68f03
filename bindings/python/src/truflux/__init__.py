"""truflux: named, typed messages between programs.

The Python binding of the truflux C library (a private extension, ``truflux._truflux``,
over the library's C API). The synchronous API is here; the asyncio one is
:mod:`truflux.aio`.

>>> import truflux
>>> proto = truflux.Protocol(["echo", "chat"])
>>> with truflux.Client("tcp://127.0.0.1:7000", proto) as c:
...     c.send("echo", {"a": [1, 2.5, "x", b"\\x00"]})
...     msg = c.recv(timeout=5)
...     msg.name, msg.data

Every error is a :class:`truflux.Error`; each code of the C library's error list has its
own subclass, named after it (``truflux.ESCHEMA``, ``truflux.ECLOSED``, ...).
"""

from __future__ import annotations

from typing import List, Type as _TypeOf

from . import _truflux, errors
from ._codec import NOTHING, Type
from .client import Client
from .connection import Connection, Message
from .errors import Error
from .files import SIZE_UNKNOWN, Transfer
from .protocol import Protocol
from .security import KeyPair, crypto_backend, decode_key, encode_key, key_public, keygen, \
    load_key
from .server import Server
from . import aio  # noqa: E402  (after the names it uses)

try:
    from importlib.metadata import PackageNotFoundError, version as _dist_version

    try:
        __version__ = _dist_version("truflux")
    except PackageNotFoundError:  # used from a source tree
        __version__ = _truflux.version()
except ImportError:  # pragma: no cover
    __version__ = _truflux.version()

#: The C library's version (tf_version()).
library_version: str = _truflux.version()

__all__ = [
    "Client", "Server", "Protocol", "Connection", "Message", "Type", "Error", "NOTHING",
    "Transfer", "SIZE_UNKNOWN", "KeyPair", "keygen", "key_public", "encode_key",
    "decode_key", "load_key", "crypto_backend", "aio", "errors", "library_version",
] + list(errors.by_name)


def __getattr__(name: str) -> _TypeOf[Error]:
    """truflux.ESCHEMA and the other error classes, generated from the C list."""
    cls = errors.by_name.get(name)
    if cls is None:
        raise AttributeError(f"module 'truflux' has no attribute {name!r}")
    return cls


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(errors.by_name))
