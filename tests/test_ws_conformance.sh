#!/usr/bin/env bash
# tests/test_ws_conformance.sh: the raw-frame WebSocket suite (tests/ws/conformance.py)
# against our RFC 6455 layers (the echo harness on the library's parsers) and against the
# truflux server through each way in: a ws:// listener, the HTTP binding of `--web`, and a
# tcp:// port that also accepts WebSocket. To check the suite itself, the same cases run
# against Node's ws and Python's websockets.
source "$(dirname "$0")/ws/lib.sh"
SUITE=$SRC/tests/ws/conformance.py
[ -x "$BIN" ] || fail "no truflux binary at $BIN"
[ -x "$BUILD/tests/test_ws_echo" ] || fail "no echo harness at $BUILD/tests/test_ws_echo"

run() {  # run LABEL URL PROFILE
    echo "== $1"
    timeout 100 python3 "$SUITE" "$2" --profile "$3" >"$T/suite.log" 2>&1 || {
        grep -v '^ok' "$T/suite.log" >&2
        fail "$1: conformance cases failed"
    }
    tail -1 "$T/suite.log"
}

start echo '^port ' "$BUILD/tests/test_ws_echo" --serve
run "our RFC 6455 layers (echo harness)" "ws://127.0.0.1:$PORT/" echo
stop_last

start ws '^truflux listening on ws://' "$BIN" serve --ws 127.0.0.1:0 --quiet
run "truflux server, ws:// listener" "ws://127.0.0.1:$PORT/" truflux
stop_last

start tcpws '^truflux listening on tcp://' "$BIN" serve --tcp 127.0.0.1:0 --accept-websocket --quiet
run "truflux server, tcp:// port accepting WebSocket" "ws://127.0.0.1:$PORT/any/path" truflux
stop_last

if [ ! -f "$BUILD/tools/web/truflux.min.js" ]; then
    [ -n "${CI:-}" ] && fail "the web page is not in this build (npm ci in bindings/js)"
    echo "skipped: --web (the web page is not in this build)"
else
    start web '^truflux web page on ' "$BIN" serve --web 0 --quiet
    run "truflux server, bound to evhttp at /truflux" "ws://127.0.0.1:$PORT/truflux" truflux
    stop_last
fi

need "Node.js" node --version
need_node_module ws
start nodeecho '^port ' node "$SRC/tests/ws/node_echo_server.mjs"
run "suite check: Node ws echo server" "ws://127.0.0.1:$PORT/" echo
stop_last

need "python3-websockets" "$PY" -c "import websockets"
start pyecho '^port ' "$PY" "$SRC/tests/ws/py_echo_server.py"
run "suite check: Python websockets echo server" "ws://127.0.0.1:$PORT/" echo
stop_last
echo "conformance: every profile passed"
