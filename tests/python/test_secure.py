"""The secure layer from Python: keys, encrypted connections Python<->Python and
Python<->CLI (`truflux keygen`, `truflux serve --key`), the on_secure events, and the mapped
exceptions of failed handshakes (a wrong pin is truflux.EPIN)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

import pytest

import truflux
import truflux.aio
from conftest import WAIT, ThreadServer, cli_binary


def test_keygen_and_key_text(tmp_path):
    pair = truflux.keygen()
    assert len(pair.private) == 32 and len(pair.public) == 32
    assert pair.private != pair.public
    assert truflux.key_public(pair.private) == pair.public
    assert truflux.key_public(truflux.encode_key(pair.private)) == pair.public
    text = pair.public_text
    assert len(text) == 44 and truflux.decode_key(text) == pair.public
    assert truflux.decode_key("  " + text + "\n") == pair.public
    assert pair.private not in repr(pair).encode()  # repr never shows the private key
    assert truflux.keygen().public != pair.public
    with pytest.raises(truflux.EINVAL) as e:
        truflux.decode_key("not a key")
    assert isinstance(e.value, ValueError)

    pair.save(tmp_path / "k")
    assert oct(os.stat(tmp_path / "k.key").st_mode & 0o777) == "0o600"
    assert truflux.load_key(tmp_path / "k.key") == pair.private
    assert truflux.load_key(tmp_path / "k.pub") == pair.public
    with pytest.raises(FileExistsError):
        pair.save(tmp_path / "k")
    assert truflux.crypto_backend() in ("mbedtls", "openssl")


def test_security_options_checked(proto):
    with pytest.raises(ValueError):
        truflux.Client("tcp://127.0.0.1:1", proto, secure="sometimes")
    with pytest.raises(ValueError):
        truflux.Client("tcp://127.0.0.1:1", proto, peer_key=b"short")
    with pytest.raises(truflux.EINVAL):
        truflux.Client("tcp://127.0.0.1:1", proto, peer_key="not base64 at all")
    with pytest.raises(TypeError):
        truflux.Client("tcp://127.0.0.1:1", proto, patterns=7)
    with pytest.raises(truflux.EINVAL):
        truflux.Server("tcp://127.0.0.1:0", proto, patterns="XY")


def _secure_server(proto, **options):
    server = ThreadServer(proto, **options)
    server.secured = []  # type: ignore[attr-defined]

    @server.server.on_secure
    def on_secure(conn):
        with server.cond:
            server.secured.append(conn.secure_info)  # type: ignore[attr-defined]
            server.cond.notify_all()

    return server


def test_nk_python_to_python(proto):
    pair = truflux.keygen()
    server = _secure_server(proto, secure="required", static_key=pair.private,
                            patterns=["NK", "XX"], ciphers="AESGCM")
    try:
        seen = []
        with truflux.Client(server.url, proto, peer_key=pair.public_text,
                            on_secure=lambda conn: seen.append(conn.secure_info)) as c:
            conn = c.connection
            assert conn.secure
            info = conn.secure_info
            assert info["established"] and info["pattern"] == "NK"
            assert info["cipher"] == "AESGCM"
            assert info["peer_key"] == pair.public
            assert len(seen) == 1 and seen[0]["handshake_hash"] == info["handshake_hash"]
            c.send("echo", {"secret": b"\x00\x01"})
            assert c.recv(timeout=WAIT).data == {"secret": b"\x00\x01"}
            assert conn.peer_secure
            assert conn.secure_info["records_received"] >= 1
            assert server.wait_for(lambda: server.secured)
            theirs = server.secured[0]
            assert theirs["handshake_hash"] == info["handshake_hash"]
            assert theirs["peer_key"] is None  # an NK client proves no key
    finally:
        server.stop()


def test_xx_server_sees_client_key(proto):
    spair, cpair = truflux.keygen(), truflux.keygen()
    server = _secure_server(proto, secure="optional", static_key=spair.private)
    try:
        with truflux.Client(server.url, proto, secure=True, static_key=cpair.private,
                            patterns="XX") as c:
            c.send("echo", "x")
            assert c.recv(timeout=WAIT).data == "x"
            assert c.connection.secure_info["pattern"] == "XX"
            assert c.connection.secure_info["peer_key"] == spair.public
            assert server.wait_for(lambda: server.secured)
            assert server.secured[0]["peer_key"] == cpair.public
    finally:
        server.stop()


def test_plaintext_has_no_secure_layer(proto, pyserver):
    with truflux.Client(pyserver.url, proto) as c:
        assert not c.connection.secure
        assert c.connection.secure_info is None
        with pytest.raises(truflux.ENOTSUP):
            c.connection.set_secure(True)


def test_switch_send_direction_off_and_on(proto):
    pair = truflux.keygen()
    server = _secure_server(proto, secure="optional", static_key=pair.private)
    try:
        secured = []
        with truflux.Client(server.url, proto, secure="optional",
                            on_secure=secured.append) as c:
            # An optional side opens before the handshake ends: its event comes later.
            deadline = time.monotonic() + WAIT
            while not secured and time.monotonic() < deadline:
                c.poll(0.1)
            conn = c.connection
            assert secured == [conn]
            assert conn.secure
            # The switch happens on the library's thread, in order with what we send.
            conn.set_secure(False, recv=False)
            c.send("echo", "plain now")
            assert c.recv(timeout=WAIT).data == "plain now"
            assert not conn.secure
            conn.set_secure(True, recv=False)
            c.send("echo", "secret again")
            assert c.recv(timeout=WAIT).data == "secret again"
            assert conn.secure
    finally:
        server.stop()


def test_wrong_pin_raises_epin(proto):
    pair = truflux.keygen()
    server = _secure_server(proto, secure="optional", static_key=pair.private)
    try:
        with pytest.raises(truflux.EPIN):
            truflux.Client(server.url, proto, peer_key=truflux.keygen().public, timeout=WAIT)
        # The server still serves the right key.
        with truflux.Client(server.url, proto, peer_key=pair.public) as c:
            c.send("echo", 1)
            assert c.recv(timeout=WAIT).data == 1
    finally:
        server.stop()


def test_required_server_refuses_plaintext_client(proto):
    server = ThreadServer(proto, secure="required", static_key=truflux.keygen().private)
    try:
        with pytest.raises(truflux.Error) as e:
            truflux.Client(server.url, proto, timeout=WAIT)
        assert isinstance(e.value, (truflux.ENOTSECURE, truflux.ECLOSED, truflux.EEOF))
    finally:
        server.stop()


def test_aio_encrypted_and_wrong_pin(proto):
    pair = truflux.keygen()

    @proto.on("echo")
    def echo(conn, msg):
        conn.send_nowait("echo", msg.data)

    async def main():
        async with truflux.aio.serve("tcp://127.0.0.1:0", proto, secure="required",
                                     static_key=pair.private) as server:
            async with truflux.aio.connect(server.url, proto, peer_key=pair.public) as c:
                assert c.connection.secure
                await c.send("echo", "async secret")
                assert (await c.recv(timeout=WAIT)).data == "async secret"
            with pytest.raises(truflux.EPIN):
                await truflux.aio.connect(server.url, proto, peer_key=truflux.keygen().public,
                                          timeout=WAIT)

    asyncio.run(main())


def test_python_client_to_cli_server(proto, cli_serve, tmp_path):
    binary = cli_binary()
    out = subprocess.run([binary, "keygen", str(tmp_path / "srv")], capture_output=True,
                         text=True, timeout=WAIT)
    assert out.returncode == 0, out.stderr
    public = truflux.load_key(tmp_path / "srv.pub")
    assert public == truflux.decode_key(out.stdout.split()[-1])
    server = cli_serve("--secure", "required", "--key", str(tmp_path / "srv.key"))

    with truflux.Client(server.url, proto, peer_key_file=str(tmp_path / "srv.pub")) as c:
        assert c.connection.secure
        assert c.connection.secure_info["peer_key"] == public
        c.send("echo", {"to": "the CLI", "n": [1, 2]})
        assert c.recv(timeout=WAIT).data == {"to": "the CLI", "n": [1, 2]}
        # RECV turns on with the first encrypted frame from the peer: the echo.
        assert c.connection.peer_secure
    with pytest.raises(truflux.EPIN):
        truflux.Client(server.url, proto, peer_key=truflux.keygen().public, timeout=WAIT)


def test_unauthorised_client_key(proto, tmp_path):
    """A server with an authorized-keys file: a listed client key gets in, another gets
    truflux.EAUTH, and the server's on_secure_fail hears of it."""
    spair, good, bad = truflux.keygen(), truflux.keygen(), truflux.keygen()
    keys = tmp_path / "authorized"
    keys.write_text("# allowed\n" + good.public_text + "\n")
    server = ThreadServer(proto, static_key=spair.private, authorized_keys_file=str(keys))
    failures = []

    @server.server.on_secure_fail
    def failed(conn, err):
        with server.cond:
            failures.append(err)
            server.cond.notify_all()

    try:
        with truflux.Client(server.url, proto, peer_key=spair.public,
                            static_key=good.private) as c:
            c.send("echo", "let in")
            assert c.recv(timeout=WAIT).data == "let in"
        with pytest.raises(truflux.EAUTH):
            truflux.Client(server.url, proto, peer_key=spair.public, static_key=bad.private,
                           timeout=WAIT)
        assert server.wait_for(lambda: failures)
        assert isinstance(failures[0], truflux.EAUTH)
    finally:
        server.stop()


def test_cli_client_to_python_server(proto, tmp_path):
    """The other way: `truflux connect --pin` (the server's key made in Python) reaches an
    encrypted Python server; a wrong pin sends nothing."""
    binary = cli_binary()
    pair = truflux.keygen()
    pair.save(tmp_path / "py")
    server = _secure_server(proto, secure="required",
                            static_key_file=str(tmp_path / "py.key"))
    try:
        out = subprocess.run([binary, "connect", server.url, "--pin-file",
                              str(tmp_path / "py.pub")], input="hello over noise\n",
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout == "echo\thello over noise\n"
        assert server.wait_for(lambda: server.secured)
        assert server.secured[0]["pattern"] == "NK"
        out = subprocess.run([binary, "connect", server.url, "--pin",
                              truflux.keygen().public_text], input="never sent\n",
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 1
        assert "never sent" not in out.stdout
    finally:
        server.stop()
