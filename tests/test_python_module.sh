#!/usr/bin/env bash
# The Python package, as a user gets it: pip builds a wheel of bindings/python (PEP 517, with
# pip's usual build isolation: scikit-build-core and pybind11 come from PyPI), a fresh venv
# installs it (msgpack comes in as its declared dependency) and runs tests/python with
# pytest; a second fresh venv installs the same wheel alone and runs a smoke check.
#
# Everything lives under $TRUFLUX_BUILD_DIR/python-test; the CMake build directory of the
# extension is kept there between runs (only what changed recompiles). With CI set, a
# missing tool is a failure, not a skip.
set -euo pipefail

src=${TRUFLUX_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
build=${TRUFLUX_BUILD_DIR:-$src/build}
work=$build/python-test
python=${PYTHON:-python3}
t0=$SECONDS

missing() {
  if [[ -n ${CI:-} ]]; then
    echo "test_python_module: FAIL: $1 (CI is set)" >&2
    exit 1
  fi
  echo "test_python_module: SKIP: $1"
  exit 0
}

step() { echo "test_python_module: [$((SECONDS - t0))s] $*"; }

# A sanitizer build would test the same unsanitized module again: the plain build runs it.
if grep -qE '^TRUFLUX_SANITIZE:[A-Z]+=.+' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "test_python_module: skipped in a sanitizer build (the plain build runs it)"
  exit 0
fi

command -v "$python" >/dev/null 2>&1 || missing "$python not found"
why=$("$python" -c '
import sys
if sys.version_info < (3, 9):
    print("%s is older than 3.9" % sys.executable)
else:
    try:
        import venv, ensurepip
    except ImportError:
        print("python3-venv is not installed")
' 2>&1) || why="$python does not run"
[[ -z $why ]] || missing "$why"

mkdir -p "$work"
rm -rf "$work/venv" "$work/venv2" "$work/dist"
# Parallel jobs of the extension's build: at most 2 (the machine is shared).
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
# No __pycache__ in the source tree (tests/python).
export PYTHONDONTWRITEBYTECODE=1

step "venv"
"$python" -m venv "$work/venv" || missing "cannot create a venv with $python -m venv"
pip=("$work/venv/bin/python" -m pip)

step "pip wheel ./bindings/python"
if ! "${pip[@]}" wheel --no-deps --wheel-dir "$work/dist" \
    --config-settings=build-dir="$work/cmake-build" "$src/bindings/python" \
    >"$work/wheel.log" 2>&1; then
  tail -n 60 "$work/wheel.log" >&2
  if grep -qiE 'Could not find a version|Failed to establish|Name or service not known|No matching distribution' \
      "$work/wheel.log"; then
    missing "pip cannot reach the package index for the build requirements"
  fi
  echo "test_python_module: FAIL: the wheel did not build (log: $work/wheel.log)" >&2
  exit 1
fi
wheel=$(ls "$work"/dist/truflux-*.whl)

step "install $(basename "$wheel") and pytest"
"${pip[@]}" install -q "$wheel" pytest || missing "cannot install the wheel's dependencies and pytest"

step "pytest tests/python"
# Run from outside the source tree, so that `import truflux` is the installed package.
cd "$work"
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$src/tests/python"

step "the wheel alone in a second venv"
"$python" -m venv --without-pip "$work/venv2"
"${pip[@]}" --python "$work/venv2/bin/python" install -q "$wheel"
"$work/venv2/bin/python" - <<'PY'
import asyncio
import threading

import truflux
import truflux.aio

proto = truflux.Protocol(["echo"])


@proto.on("echo")
def echo(conn, msg):
    conn.send("echo", msg.data)


with truflux.Server("tcp://127.0.0.1:0", proto) as server:
    t = threading.Thread(target=server.serve_forever)
    t.start()
    with truflux.Client(server.url, proto) as c:
        c.send("echo", {"wheel": [1, b"\x00", "ok"]})
        assert c.recv(timeout=5).data == {"wheel": [1, b"\x00", "ok"]}

    async def main():
        async with truflux.aio.connect(server.url, proto) as c:
            await c.send("echo", "async")
            assert (await c.recv(timeout=5)).data == "async"

    asyncio.run(main())
    server.stop()
    t.join(10)

# The wheel carries the secure layer: a pinned, encrypted echo.
pair = truflux.keygen()
with truflux.Server("tcp://127.0.0.1:0", proto, static_key=pair.private) as server:
    t = threading.Thread(target=server.serve_forever)
    t.start()
    with truflux.Client(server.url, proto, peer_key=pair.public) as c:
        assert c.connection.secure
        c.send("echo", "sealed")
        assert c.recv(timeout=5).data == "sealed"
    server.stop()
    t.join(10)
print("wheel smoke check: ok, truflux", truflux.__version__)
PY
step "done"
