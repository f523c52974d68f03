"""Exceptions of truflux: one class per code of the C library's error list.

The classes are generated when this module is imported, from the table the extension
compiles out of ``TRUFLUX_ERRNO_MAP`` (include/truflux/error.h): nothing here repeats the
list. Each class is named after its code (``ESCHEMA``, ``ECLOSED``, ...), derives from
:class:`Error`, and also from the built-in exception a Python programmer would catch for
it where one fits (``ECONNREFUSED`` is a ``ConnectionRefusedError``, ``ETIMEDOUT`` a
``TimeoutError``, ``EINVAL`` a ``ValueError``, ...).

>>> import truflux
>>> issubclass(truflux.ECLOSED, truflux.Error), truflux.ECLOSED.code
(True, -4)
"""

from __future__ import annotations

from typing import Dict, List, Tuple, Type

from . import _truflux

__all__ = ["Error", "error_for", "by_code", "by_name"]


class Error(Exception):
    """Base class of every truflux error.

    Attributes: ``code`` (the negative number of the C error list), ``name`` (``"EPROTO"``),
    ``strerror`` (the library's message) and ``detail`` (what was being done, possibly
    empty).
    """

    code: int = 0
    name: str = "UNKNOWN"
    strerror: str = "unknown error"

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__(detail)

    def __str__(self) -> str:
        text = f"{self.name}: {self.strerror}"
        if self.detail:
            text += f" ({self.detail})"
        return text


# Built-in exceptions some codes also are, so that `except ConnectionError` and friends
# work. A name missing from the C list is simply not used.
_ALSO: Dict[str, Tuple[type, ...]] = {
    "EINVAL": (ValueError,),
    "EBADURL": (ValueError,),
    "ENOMEM": (MemoryError,),
    "ETIMEDOUT": (TimeoutError,),
    "EHELLOTIMEOUT": (TimeoutError,),
    "EIDLE": (TimeoutError,),
    "ECONNREFUSED": (ConnectionRefusedError,),
    "ECONNRESET": (ConnectionResetError,),
    "ECLOSED": (ConnectionError,),
    "EEOF": (ConnectionError,),
    "ESHUTDOWN": (ConnectionError,),
    "EQUEUEFULL": (ConnectionError,),
}

by_code: Dict[int, Type[Error]] = {}
by_name: Dict[str, Type[Error]] = {}


def _generate() -> List[str]:
    names = []
    for code, name, message in _truflux.error_table():
        if code == 0:
            continue
        cls = type(name, (Error,) + _ALSO.get(name, ()), {
            "code": code,
            "name": name,
            "strerror": message,
            "__doc__": f"{message} (TRUFLUX_{name}, {code}).",
            "__module__": __name__,
        })
        by_code[code] = cls
        by_name[name] = cls
        globals()[name] = cls
        names.append(name)
    return names


__all__ += _generate()


def error_for(code: int, detail: str = "") -> Error:
    """The exception for a C error code (a plain :class:`Error` for a code not in the list,
    e.g. one a newer peer sent)."""
    cls = by_code.get(code)
    if cls is not None:
        return cls(detail)
    err = Error(detail)
    err.code = code
    err.name = _truflux.errname(code)
    err.strerror = _truflux.strerror(code)
    return err


_truflux.set_error_factory(error_for)


def __getattr__(name: str) -> Type[Error]:
    # Only reached for names that are not generated: tells type checkers that the
    # generated classes are Error subclasses.
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
