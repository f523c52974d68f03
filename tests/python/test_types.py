"""Payload types survive a round trip: Python to the C CLI's echo and back, and Python to a
Python server. A value with no payload type raises TypeError before anything is sent."""

from __future__ import annotations

import pytest

import truflux

VALUES = [
    pytest.param(b"\x00\x01\xff", truflux.Type.BINARY, id="bytes"),
    pytest.param(b"", truflux.Type.BINARY, id="empty-bytes"),
    pytest.param("héllo wörld ✓", truflux.Type.TEXT, id="str"),
    pytest.param("", truflux.Type.TEXT, id="empty-str"),
    pytest.param({"a": [1, 2.5, "x", b"\x00"]}, truflux.Type.MSGPACK, id="dict"),
    pytest.param({1: "int key", "nested": {"deep": [None, True, False]}}, truflux.Type.MSGPACK,
                 id="nested-dict"),
    pytest.param([1, "two", 3.0, b"four", None], truflux.Type.MSGPACK, id="list"),
    pytest.param(0, truflux.Type.MSGPACK, id="zero"),
    pytest.param(-(2 ** 63), truflux.Type.MSGPACK, id="int64-min"),
    pytest.param(2 ** 64 - 1, truflux.Type.MSGPACK, id="uint64-max"),
    pytest.param(2.5, truflux.Type.MSGPACK, id="float"),
    pytest.param(True, truflux.Type.MSGPACK, id="true"),
    pytest.param(False, truflux.Type.MSGPACK, id="false"),
    pytest.param(None, truflux.Type.MSGPACK, id="none"),
]


def roundtrip(client: truflux.Client, value, want_type) -> None:
    client.send("echo", value)
    msg = client.recv(timeout=5)
    assert msg.name == "echo"
    assert msg.type == want_type
    assert msg.data == value
    assert type(msg.data) is type(value)


@pytest.mark.parametrize("value,want_type", VALUES)
def test_roundtrip_through_the_c_cli(cli, proto, value, want_type):
    with truflux.Client(cli.url, proto) as c:
        roundtrip(c, value, want_type)


@pytest.mark.parametrize("value,want_type", VALUES)
def test_roundtrip_through_a_python_server(pyserver, proto, value, want_type):
    with truflux.Client(pyserver.url, proto) as c:
        roundtrip(c, value, want_type)


def test_every_type_on_one_connection_in_order(cli, proto):
    values = [p.values[0] for p in VALUES]
    with truflux.Client(cli.url, proto) as c:
        for v in values:
            c.send("echo", v)
        got = [c.recv(timeout=5).data for _ in values]
    assert got == values


def test_other_bytes_like_values_travel_as_binary(cli, proto):
    with truflux.Client(cli.url, proto) as c:
        c.send("echo", bytearray(b"ab"))
        c.send("echo", memoryview(b"xyz")[1:])
        assert c.recv(timeout=5).data == b"ab"
        assert c.recv(timeout=5).data == b"yz"


def test_tuples_come_back_as_lists(cli, proto):
    with truflux.Client(cli.url, proto) as c:
        c.send("echo", (1, (2, 3)))
        assert c.recv(timeout=5).data == [1, [2, 3]]


def test_no_data_is_an_empty_message(cli, proto):
    with truflux.Client(cli.url, proto) as c:
        c.send("echo")
        msg = c.recv(timeout=5)
        assert msg.type == truflux.Type.EMPTY
        assert msg.data is None
        assert msg.raw == b""


def test_large_binary(cli, proto):
    blob = bytes(range(256)) * 4096  # 1 MiB: sent without the GIL
    with truflux.Client(cli.url, proto) as c:
        c.send("echo", blob)
        assert c.recv(timeout=10).data == blob


@pytest.mark.parametrize("bad", [
    pytest.param({1, 2}, id="set"),
    pytest.param(object(), id="object"),
    pytest.param(1 + 2j, id="complex"),
    pytest.param({"inner": {1, 2}}, id="set-inside-dict"),
    pytest.param([object()], id="object-inside-list"),
])
def test_a_wrong_type_raises_type_error(cli, proto, bad):
    with truflux.Client(cli.url, proto) as c:
        with pytest.raises(TypeError):
            c.send("echo", bad)
        # Nothing went out, and the connection still works.
        c.send("echo", "after")
        assert c.recv(timeout=5).data == "after"
        assert c.stats()["msgs_out"] == 1


def test_received_message_fields(cli, proto):
    with truflux.Client(cli.url, proto) as c:
        c.send("echo", {"k": "v"})
        msg = c.recv(timeout=5)
        assert msg.raw == b"\x81\xa1k\xa1v"
        assert msg.connection is c.connection
        assert "echo" in repr(msg)
