"""File transfers from Python: Python->Python (sync and asyncio, plain and encrypted),
Python->CLI (`truflux serve --accept-files`), CLI->Python (`truflux send-file`), and the
controls: decline, cancel, pause and resume, each seen by the other side."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import threading
import time
from typing import List

import pytest

import truflux
import truflux.aio
from conftest import WAIT, ThreadServer, cli_binary


def make_file(path, size: int) -> str:
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def digest(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class FileServer(ThreadServer):
    """A ThreadServer whose on_file handler does what the test sets in ``decide`` (default:
    accept into ``dest``), recording the transfers it got."""

    def __init__(self, protocol, dest, **options) -> None:
        self.dest = str(dest)
        self.offers: List[truflux.Transfer] = []
        self.ends: List[int] = []
        self.decide = lambda t: t.accept(self.dest)
        super().__init__(protocol, **options)

        @self.server.on_file
        def on_file(conn, transfer):
            assert transfer.incoming and transfer.connection is conn

            @transfer.on("end")
            def ended(t, status):
                with self.cond:
                    self.ends.append(status)
                    self.cond.notify_all()

            with self.cond:
                self.offers.append(transfer)
                self.cond.notify_all()
            self.decide(transfer)


@pytest.fixture
def fileserver(proto, tmp_path):
    dest = tmp_path / "received"
    dest.mkdir()
    server = FileServer(proto, dest)
    try:
        yield server
    finally:
        server.stop()


def test_python_to_python_path(proto, fileserver, tmp_path):
    src = tmp_path / "data.bin"
    want = make_file(src, 700_000)
    with truflux.Client(fileserver.url, proto) as c:
        events = []
        t = c.send_file(str(src))
        for name in ("accept", "finish"):
            t.on(name, lambda tr, name=name: events.append(name))
        t.on("progress", lambda tr, done, total: events.append(("progress", done, total)))
        assert t.name == "data.bin" and t.size == 700_000 and not t.incoming
        assert not t.is_stream
        assert t.wait(WAIT) is t and t.status == 0 and t.done == 700_000
        assert events[0] == "accept" and events[-1] == "finish"
        progress = [e for e in events if isinstance(e, tuple)]
        assert progress and progress[-1] == ("progress", 700_000, 700_000)
        # Messages still flow beside files.
        c.send("echo", "after")
        assert c.recv(timeout=WAIT).data == "after"
    assert fileserver.wait_for(lambda: fileserver.ends == [0])
    got = fileserver.offers[0]
    assert got.status == 0 and got.name == "data.bin" and got.size == 700_000
    assert digest(os.path.join(fileserver.dest, "data.bin")) == want


def test_file_object_stream_and_accept_into_file(proto, fileserver, tmp_path):
    # A pipe is offered as a stream of unknown size; the receiver writes into a file object.
    out_path = tmp_path / "sink.bin"
    sink = open(out_path, "wb")
    fileserver.decide = lambda t: t.accept(sink)
    payload = os.urandom(200_000)
    r, w = os.pipe()
    with truflux.Client(fileserver.url, proto) as c:
        with os.fdopen(r, "rb") as reader:
            t = c.send_file(reader, name="piped.bin")
        assert t.is_stream and t.size == truflux.SIZE_UNKNOWN

        def feed():
            with os.fdopen(w, "wb") as writer:
                writer.write(payload)

        feeder = threading.Thread(target=feed)
        feeder.start()
        t.wait(WAIT)
        feeder.join(WAIT)
    assert fileserver.wait_for(lambda: fileserver.ends == [0])
    sink.close()
    assert fileserver.offers[0].is_stream
    assert out_path.read_bytes() == payload


def test_decline(proto, fileserver, tmp_path):
    src = tmp_path / "no.bin"
    make_file(src, 1000)
    fileserver.decide = lambda t: t.decline()
    with truflux.Client(fileserver.url, proto) as c:
        t = c.send_file(str(src), "wanted.bin")
        declined = []
        t.on("decline", declined.append)
        with pytest.raises(truflux.EDECLINED):
            t.wait(WAIT)
        assert declined == [t] and t.status == truflux.EDECLINED.code
        assert isinstance(t.error, truflux.EDECLINED)
    assert fileserver.wait_for(lambda: fileserver.ends == [truflux.EDECLINED.code])
    assert os.listdir(fileserver.dest) == []


def test_pause_resume_then_cancel(proto, fileserver, tmp_path):
    """The receiver pauses at the offer; the sender sees it and no content moves; the
    receiver resumes, content moves; the sender cancels; both end with ECANCELED and no
    partial file stays."""
    src = tmp_path / "big.bin"
    make_file(src, 8 << 20)
    decided = threading.Event()

    def pause_then_accept(t):
        t.pause()
        t.accept(fileserver.dest)
        decided.set()

    fileserver.decide = pause_then_accept
    with truflux.Client(fileserver.url, proto, file_chunk=16384) as c:
        t = c.send_file(str(src))
        seen = []
        for name in ("accept", "pause", "resume", "cancel"):
            t.on(name, lambda tr, name=name: seen.append(name))
        deadline = time.monotonic() + WAIT
        while "pause" not in seen and time.monotonic() < deadline:
            c.poll(0.05)
        assert "pause" in seen and t.paused
        assert decided.wait(WAIT)
        incoming = fileserver.offers[0]
        assert incoming.paused
        c.poll(0.1)
        assert incoming.stats()["position"] == 0  # nothing moves while paused
        incoming.resume()
        while ("resume" not in seen or t.done == 0) and time.monotonic() < deadline:
            c.poll(0.05)
        assert "resume" in seen and not t.paused and t.done > 0
        t.cancel()
        with pytest.raises(truflux.ECANCELED):
            t.wait(WAIT)
        assert "cancel" not in seen  # the peer did not cancel: we did
    assert fileserver.wait_for(lambda: fileserver.ends == [truflux.ECANCELED.code])
    assert incoming.status == truflux.ECANCELED.code
    assert os.listdir(fileserver.dest) == []


def test_receiver_cancels(proto, fileserver, tmp_path):
    src = tmp_path / "big.bin"
    make_file(src, 8 << 20)

    def accept_then_cancel(t):
        t.accept(fileserver.dest)
        t.cancel()

    fileserver.decide = accept_then_cancel
    with truflux.Client(fileserver.url, proto, file_chunk=16384) as c:
        t = c.send_file(str(src))
        canceled = []
        t.on("cancel", canceled.append)
        with pytest.raises(truflux.ECANCELED):
            t.wait(WAIT)
        assert canceled == [t]


def test_server_offers_client_accepts(proto, tmp_path):
    """The other direction: a server handler offers a file; the client's on_file accepts
    it into a path; the client waits for its incoming transfer."""
    src = tmp_path / "from_server.bin"
    want = make_file(src, 300_000)
    sent: List[truflux.Transfer] = []

    @proto.on("chat")
    def give(conn, msg):
        sent.append(conn.send_file(str(src), "gift.bin"))

    server = truflux.Server("tcp://127.0.0.1:0", proto)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        offers: List[truflux.Transfer] = []
        target = tmp_path / "got.bin"

        def on_file(t):
            offers.append(t)
            t.accept(str(target))

        with truflux.Client(server.url, proto, on_file=on_file) as c:
            c.send("chat", "please")
            deadline = time.monotonic() + WAIT
            while not offers and time.monotonic() < deadline:
                c.poll(0.05)
            assert offers and offers[0].incoming and offers[0].name == "gift.bin"
            offers[0].wait(WAIT)
        assert digest(target) == want
        assert sent and sent[0].wait(WAIT).status == 0
    finally:
        server.close()
        thread.join(WAIT)


def test_offers_without_handler_are_declined(proto, pyserver, tmp_path):
    src = tmp_path / "x.bin"
    make_file(src, 100)
    with truflux.Client(pyserver.url, proto) as c:
        with pytest.raises(truflux.EDECLINED):
            c.send_file(str(src)).wait(WAIT)


def test_send_file_errors(proto, fileserver, tmp_path):
    with truflux.Client(fileserver.url, proto) as c:
        with pytest.raises(truflux.ENOTFOUND):
            c.send_file(str(tmp_path / "missing.bin"))
        with pytest.raises(truflux.EFILENAME):
            make_file(tmp_path / "ok.bin", 10)
            c.send_file(str(tmp_path / "ok.bin"), name="../escape")


def test_encrypted_file_transfer(proto, tmp_path):
    pair = truflux.keygen()
    dest = tmp_path / "in"
    dest.mkdir()
    server = FileServer(proto, dest, secure="required", static_key=pair.private)
    try:
        src = tmp_path / "secret.bin"
        want = make_file(src, 500_000)
        with truflux.Client(server.url, proto, peer_key=pair.public) as c:
            assert c.connection.secure
            c.send_file(str(src)).wait(WAIT)
            assert c.connection.stats()["bytes_out"] > 500_000
        assert digest(dest / "secret.bin") == want
    finally:
        server.stop()


def test_aio_files(proto, tmp_path):
    src = tmp_path / "a.bin"
    want = make_file(src, 400_000)
    dest = tmp_path / "aio"
    dest.mkdir()

    async def main():
        async with truflux.aio.serve("tcp://127.0.0.1:0", proto) as server:
            got: List[truflux.Transfer] = []

            @server.on_file
            async def on_file(conn, transfer):
                got.append(transfer)
                if transfer.name == "no.bin":
                    transfer.decline()
                else:
                    transfer.accept(str(dest))
                    await transfer  # the receiver's side is awaitable too

            async with truflux.aio.connect(server.url, proto) as c:
                t = c.send_file(str(src))
                assert isinstance(t, truflux.aio.AsyncTransfer)
                assert await t is t and t.status == 0
                t2 = c.send_file(str(src), "no.bin")
                with pytest.raises(truflux.EDECLINED):
                    await t2.wait(WAIT)
                assert [g.name for g in got] == ["a.bin", "no.bin"]

    asyncio.run(main())
    assert digest(dest / "a.bin") == want


def test_python_to_cli_accept_files(proto, cli_serve, tmp_path):
    dest = tmp_path / "cli-in"
    dest.mkdir()
    server = cli_serve("--accept-files", str(dest))
    src = tmp_path / "to_cli.bin"
    want = make_file(src, 600_000)
    with truflux.Client(server.url, proto) as c:
        assert c.send_file(str(src)).wait(WAIT).status == 0
    assert digest(dest / "to_cli.bin") == want


def test_python_to_cli_without_files(proto, cli, tmp_path):
    src = tmp_path / "x.bin"
    make_file(src, 10)
    with truflux.Client(cli.url, proto) as c:
        with pytest.raises(truflux.ENOTSUP):
            c.send_file(str(src))


def test_cli_send_file_to_python(fileserver, tmp_path):
    binary = cli_binary()
    a, b = tmp_path / "one.bin", tmp_path / "two.bin"
    wa, wb = make_file(a, 250_000), make_file(b, 1)
    out = subprocess.run([binary, "send-file", fileserver.url, str(a), str(b), "--quiet",
                          "--no-progress"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert fileserver.wait_for(lambda: fileserver.ends == [0, 0])
    assert digest(os.path.join(fileserver.dest, "one.bin")) == wa
    assert digest(os.path.join(fileserver.dest, "two.bin")) == wb
    # A declined file makes send-file fail.
    fileserver.decide = lambda t: t.decline()
    out = subprocess.run([binary, "send-file", fileserver.url, str(a), "--quiet",
                          "--no-progress"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
