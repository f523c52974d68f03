"""The package itself: versions, typing files, docstrings, and the public names."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import truflux
import truflux.aio


def test_version_is_the_c_library_version():
    assert truflux.__version__ == truflux.library_version
    header = Path(__file__).resolve().parents[2] / "include" / "truflux" / "version.h"
    if header.exists():
        assert f'TRUFLUX_VERSION_STRING "{truflux.library_version}"' in header.read_text()


def test_typing_files_are_installed():
    pkg = Path(truflux.__file__).parent
    assert (pkg / "py.typed").exists()
    assert (pkg / "_truflux.pyi").exists()


def test_public_names_exist_and_are_documented():
    for name in ["Client", "Server", "Protocol", "Connection", "Message", "Type", "Error"]:
        obj = getattr(truflux, name)
        assert inspect.getdoc(obj), name
    for cls in [truflux.Client, truflux.Server, truflux.Protocol, truflux.Connection,
                truflux.aio.AsyncClient, truflux.aio.AsyncServer]:
        for attr, member in vars(cls).items():
            if attr.startswith("_") or not callable(member):
                continue
            assert inspect.getdoc(member), f"{cls.__name__}.{attr}"
    for name in truflux.__all__:
        assert hasattr(truflux, name), name
    assert inspect.getdoc(truflux.aio.connect) and inspect.getdoc(truflux.aio.serve)


def test_protocol_ids_are_derived_from_names():
    p = truflux.Protocol(["echo", "chat"])
    assert p.id("echo") == truflux.Protocol.name_id("echo")
    assert p.name(p.id("chat")) == "chat"
    assert "echo" in p and "nope" not in p and len(p) == 2
    assert len(p.fingerprint) == 32


def test_readme_python_blocks_run(cli):
    """The first ```python block of README.md and of bindings/python/README.md run as
    written (against the CLI's echo server instead of port 7000)."""
    root = Path(__file__).resolve().parents[2]
    for readme in [root / "README.md", root / "bindings" / "python" / "README.md"]:
        if not readme.exists():
            pytest.skip("no source tree")
        text = readme.read_text()
        block = text.split("```python\n", 1)[1].split("```", 1)[0]
        assert "tcp://127.0.0.1:7000" in block
        scope: dict = {}
        exec(compile(block.replace("tcp://127.0.0.1:7000", cli.url), str(readme), "exec"),
             scope)
        assert (scope["msg"].name, scope["msg"].data) == ("echo", {"a": [1, 2.5, "x", b"\x00"]})
