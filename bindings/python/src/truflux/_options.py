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
from .errors import Error


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


def _choice(names: Dict[str, int]) -> Callable[[Any], int]:
    """A policy given by name ("required") or as the C number."""
    def convert(value: Any) -> int:
        if isinstance(value, str):
            try:
                return names[value.lower()]
            except KeyError:
                raise ValueError(f"expected one of {', '.join(names)}, got {value!r}") from None
        if isinstance(value, bool):
            return names["optional" if value else "off"] if "off" in names else int(value)
        return _int(value)
    return convert


def _list(value: Any) -> str:
    """A comma-separated list, from a str ("NK,XX") or a sequence of str."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise TypeError(f"expected a str or a list of str, got {type(value).__name__}")


def _key(value: Any) -> bytes:
    """A key: 32 raw bytes, or its base64 text (44 characters, as `truflux keygen`
    writes it)."""
    if isinstance(value, str):
        return _truflux.key_decode(value)
    value = _bytes(value)
    if len(value) != 32:
        raise ValueError(f"a key is 32 bytes (or 44 characters of base64), got {len(value)}")
    return value


_secure_mode = _choice({"off": _truflux.SECURE_OFF, "optional": _truflux.SECURE_OPTIONAL,
                        "required": _truflux.SECURE_REQUIRED})
_tls_client_cert = _choice({"none": 0, "optional": 1, "required": 2})

# The secure layer and TLS (keys 100-126, truflux/options.h), named after the C keys; the
# CLI's flags (tools/security_opts.cpp) are the same words: --secure, --pattern, --ciphers,
# --key, --pin, --authorized-keys, --rekey-*, --tls-*.
TABLE.update({
    "secure": (_truflux.OPT_SECURE, _secure_mode, "set_int"),
    "patterns": (_truflux.OPT_SECURE_PATTERNS, _list, "set_str"),
    "ciphers": (_truflux.OPT_SECURE_CIPHERS, _list, "set_str"),
    "static_key": (_truflux.OPT_STATIC_KEY, _key, "set_bytes"),
    "static_key_file": (_truflux.OPT_STATIC_KEY_FILE, _text, "set_str"),
    "peer_key": (_truflux.OPT_PEER_KEY, _key, "set_bytes"),
    "peer_key_file": (_truflux.OPT_PEER_KEY_FILE, _text, "set_str"),
    "authorized_keys_file": (_truflux.OPT_AUTHORIZED_KEYS_FILE, _text, "set_str"),
    "rekey_messages": (_truflux.OPT_REKEY_MESSAGES, _int, "set_int"),
    "rekey_bytes": (_truflux.OPT_REKEY_BYTES, _int, "set_int"),
    "rekey_interval": (_truflux.OPT_REKEY_INTERVAL, _seconds, "set_int"),
    "tls_cert_file": (_truflux.OPT_TLS_CERT_FILE, _text, "set_str"),
    "tls_key_file": (_truflux.OPT_TLS_KEY_FILE, _text, "set_str"),
    "tls_ca_file": (_truflux.OPT_TLS_CA_FILE, _text, "set_str"),
    "tls_pin_sha256": (_truflux.OPT_TLS_PIN_SHA256, _text, "set_str"),
    "tls_client_cert": (_truflux.OPT_TLS_CLIENT_CERT, _tls_client_cert, "set_int"),
    "tls_server_name": (_truflux.OPT_TLS_SERVER_NAME, _text, "set_str"),
    "tls_insecure": (_truflux.OPT_TLS_INSECURE, _bool, "set_int"),
    # Files (keys 200-206, truflux/file.h).
    "file_window": (_truflux.OPT_FILE_WINDOW, _int, "set_int"),
    "file_chunk": (_truflux.OPT_FILE_CHUNK, _int, "set_int"),
    "file_max_transfers": (_truflux.OPT_FILE_MAX_TRANSFERS, _int, "set_int"),
    "file_max_size": (_truflux.OPT_FILE_MAX_SIZE, _int, "set_int"),
    "file_queue": (_truflux.OPT_FILE_QUEUE, _int, "set_int"),
    "file_sync": (_truflux.OPT_FILE_SYNC, _bool, "set_int"),
    "file_sendfile": (_truflux.OPT_FILE_SENDFILE, _bool, "set_int"),
})


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
        except ValueError as e:
            if isinstance(e, Error):
                raise type(e)(f"{owner}(): {name}: {e.detail}") from None
            raise ValueError(f"{owner}(): {name}: {e}") from None
        getattr(native, setter)(key, converted)
    return native
