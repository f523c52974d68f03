"""Fixtures of the truflux Python tests: the CLI's echo server (a C peer) and a Python
server on a thread of its own. Every wait here is bounded.

TRUFLUX_BIN names the CLI (tests/CMakeLists.txt sets it); without it the tests that need
it are skipped, or fail when the CI variable is set.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import threading
import time
from typing import Iterator, List

import pytest

import truflux

WAIT = 10.0  # seconds: the bound of every wait; a passing test returns long before


def require(what: str) -> None:
    """Skips for something missing, unless CI is set: then it is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI is set: nothing may be skipped)")
    pytest.skip(what)


class CliServer:
    """`truflux serve --tcp 127.0.0.1:0`: echo comes back, chat goes to the others."""

    def __init__(self, binary: str, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [binary, "serve", "--tcp", "127.0.0.1:0", "--quiet", "--close-timeout", "1000",
             *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self._first_line(WAIT)
        m = re.match(r"truflux listening on (tcp://\S+:\d+)$", line)
        if not m:
            self.stop()
            raise AssertionError(f"unexpected first line from truflux serve: {line!r}")
        self.url = m.group(1)

    def _first_line(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.stop()
                raise AssertionError("truflux serve printed no address in time")
            chunk = os.read(fd, 4096)
            if not chunk:
                self.stop()
                raise AssertionError("truflux serve exited: %r" % self.proc.stderr.read())
            buf += chunk
        return buf.split(b"\n", 1)[0].decode()

    def kill(self) -> None:
        """Ends the process at once (no close handshake for its clients)."""
        self.proc.kill()
        self.proc.wait(WAIT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()


def cli_binary() -> str:
    """The truflux CLI (TRUFLUX_BIN), or a skip."""
    binary = os.environ.get("TRUFLUX_BIN")
    if not binary or not os.access(binary, os.X_OK):
        require("TRUFLUX_BIN does not name the truflux CLI")
    return binary  # type: ignore[return-value]


@pytest.fixture
def cli_serve() -> Iterator:
    """Starts `truflux serve` with extra flags: cli_serve("--key", path); stopped after the
    test."""
    binary = cli_binary()
    started: List[CliServer] = []

    def start(*extra: str) -> CliServer:
        server = CliServer(binary, *extra)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def cli() -> Iterator[CliServer]:
    binary = cli_binary()
    server = CliServer(binary)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def proto() -> truflux.Protocol:
    """The CLI's protocol: echo and chat, any payload type."""
    return truflux.Protocol(["echo", "chat"])


class ThreadServer:
    """A truflux.Server whose serve_forever runs on a thread: echo and chat like the CLI,
    recording what its handlers saw."""

    def __init__(self, protocol: truflux.Protocol, **options) -> None:
        self.opened: List[truflux.Connection] = []
        self.closed: List[int] = []
        self.errors: List[truflux.Error] = []
        self.cond = threading.Condition()

        @protocol.on("echo")
        def echo(conn, msg):
            if msg.type == truflux.Type.EMPTY:
                conn.send("echo")
            else:
                conn.send("echo", msg.data)

        @protocol.on("chat")
        def chat(conn, msg):
            self.server.broadcast("chat", msg.data, exclude=[conn])

        self.server = truflux.Server("tcp://127.0.0.1:0", protocol, **options)

        @self.server.on_open
        def on_open(conn):
            with self.cond:
                self.opened.append(conn)
                self.cond.notify_all()

        @self.server.on_close
        def on_close(conn, reason):
            with self.cond:
                self.closed.append(reason)
                self.cond.notify_all()

        @self.server.on_error
        def on_error(conn, err):
            with self.cond:
                self.errors.append(err)
                self.cond.notify_all()

        self.failure: List[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.server.serve_forever()
        except BaseException as e:  # reported by stop()
            self.failure.append(e)

    @property
    def url(self) -> str:
        return self.server.url

    def wait_for(self, cond, timeout: float = WAIT) -> bool:
        """Waits until cond() holds (the handlers notify on every change)."""
        with self.cond:
            return self.cond.wait_for(cond, timeout)

    def stop(self) -> None:
        self.server.close(timeout=2.0)
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "serve_forever did not return"
        if self.failure:
            raise self.failure[0]


@pytest.fixture
def pyserver(proto) -> Iterator[ThreadServer]:
    server = ThreadServer(proto)
    try:
        yield server
    finally:
        server.stop()
