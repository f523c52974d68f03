"""The exceptions are generated from the C library's error list, and calls raise the one
their code maps to."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

import truflux
from truflux import _truflux, errors


def test_one_class_per_code_of_the_c_list():
    table = _truflux.error_table()
    assert len(table) >= 32
    for code, name, message in table:
        if code == 0:
            continue
        cls = getattr(truflux, name)
        assert cls is getattr(errors, name)
        assert issubclass(cls, truflux.Error)
        assert (cls.code, cls.name, cls.strerror) == (code, name, message)
        assert _truflux.strerror(code) == message
        assert errors.error_for(code).__class__ is cls


def test_the_list_is_error_h(tmp_path):
    """The extension's table is error.h's X-macro, when the header is at hand."""
    header = Path(__file__).resolve().parents[2] / "include" / "truflux" / "error.h"
    if not header.exists():
        pytest.skip("no source tree")
    rows = re.findall(r'X\((\w+),\s*(-?\d+),\s*"([^"]*)"\)', header.read_text())
    assert {(int(n), name, msg) for name, n, msg in rows} == set(
        tuple(r) for r in _truflux.error_table())


def test_python_bases():
    assert issubclass(truflux.ECONNREFUSED, ConnectionRefusedError)
    assert issubclass(truflux.ECONNRESET, ConnectionError)
    assert issubclass(truflux.ECLOSED, ConnectionError)
    assert issubclass(truflux.ETIMEDOUT, TimeoutError)
    assert issubclass(truflux.EINVAL, ValueError)
    assert issubclass(truflux.EQUEUEFULL, ConnectionError)
    assert not issubclass(truflux.ESCHEMA, ConnectionError)


def test_message_detail_and_pickling():
    e = truflux.ESCHEMA("send 'x'")
    assert str(e) == f"ESCHEMA: {truflux.ESCHEMA.strerror} (send 'x')"
    assert e.detail == "send 'x'"
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is truflux.ESCHEMA and back.detail == "send 'x'"


def test_unknown_code():
    e = errors.error_for(-999, "from a newer peer")
    assert type(e) is truflux.Error
    assert e.code == -999 and e.name == "UNKNOWN"


def test_unknown_attribute():
    with pytest.raises(AttributeError):
        truflux.ENOSUCHTHING


def test_schema_violation_raises_eschema(cli):
    proto = truflux.Protocol({
        "echo": None,
        "chat": {"types": [bytes, truflux.Type.EMPTY], "max_size": 16},
    })
    with truflux.Client(cli.url, proto) as c:
        with pytest.raises(truflux.ESCHEMA):
            c.send("chat", "text is not allowed")
        with pytest.raises(truflux.EMSGSIZE):  # over the schema's max_size
            c.send("chat", b"x" * 17)
        c.send("chat", b"x" * 16)  # within the schema
        c.send("chat")
        c.send("echo", "still open")
        assert c.recv(timeout=5).data == "still open"


def test_unknown_name_raises_enotfound(cli, proto):
    with truflux.Client(cli.url, proto) as c:
        with pytest.raises(truflux.ENOTFOUND):
            c.send("nope", 1)


def test_message_the_peer_lacks_raises_epeerunknown(cli):
    proto = truflux.Protocol(["echo", "chat", "only-here"])
    with truflux.Client(cli.url, proto) as c:
        with pytest.raises(truflux.EPEERUNKNOWN):
            c.send("only-here", 1)


def test_bad_url_raises_ebadurl(proto):
    with pytest.raises(truflux.EBADURL):
        truflux.Client("nonsense://x", proto, timeout=2)


def test_bad_option_values(proto):
    with pytest.raises(TypeError):
        truflux.Client("tcp://127.0.0.1:1", proto, no_such_option=1)
    with pytest.raises(TypeError):
        truflux.Client("tcp://127.0.0.1:1", proto, max_message_size="big")
    with pytest.raises(truflux.EINVAL):
        truflux.Client("tcp://127.0.0.1:1", proto, max_message_size=-5)


def test_frozen_protocol_raises_ebusy(pyserver, proto):
    with pytest.raises(truflux.EBUSY):
        proto.add("late")
