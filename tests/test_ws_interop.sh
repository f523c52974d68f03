#!/usr/bin/env bash
# tests/test_ws_interop.sh: truflux over WebSocket with other implementations, both ways:
# Python websockets as client of our server and as server for our C client; Node's ws as
# server for our C client (with the JS client's wire layer speaking truflux on it). Node's
# ws as client of our server is tests/test_ws_node.sh (the JS client on ws).
source "$(dirname "$0")/ws/lib.sh"
[ -x "$BIN" ] || fail "no truflux binary at $BIN"

# connect_lines URL: our C client sends two lines as `echo` and must print both echoes.
connect_lines() {
    printf 'one\nzwei ✓\n' | timeout 20 "$BIN" connect --wait 5 "$1" >"$T/connect.out" 2>"$T/connect.err" ||
        fail "truflux connect $1 exited $?"
    printf 'echo\tone\necho\tzwei ✓\n' | cmp -s - "$T/connect.out" ||
        fail "truflux connect $1 printed: $(cat "$T/connect.out")"
}

need "python3-websockets" "$PY" -c "import websockets"
start ws '^truflux listening on ws://' "$BIN" serve --ws 127.0.0.1:0 --quiet
echo "== websockets client -> truflux server"
timeout 30 "$PY" "$SRC/tests/ws/py_interop.py" client "ws://127.0.0.1:$PORT/" ||
    fail "websockets client against the truflux server"
stop_last

echo "== truflux C client -> websockets server"
start pyserver '^port ' "$PY" "$SRC/tests/ws/py_interop.py" server
connect_lines "ws://127.0.0.1:$PORT/"
stop_last

need "Node.js" node --version
need_node_module ws
echo "== truflux C client -> Node ws server"
start nodeserver '^port ' node "$SRC/tests/ws/node_server_interop.mjs"
connect_lines "ws://127.0.0.1:$PORT/chat"
stop_last
echo "3 passed, 0 failed"
