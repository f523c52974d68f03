#!/usr/bin/env bash
# tests/test_wss_interop.sh: truflux over WebSocket over TLS (wss://) through the CLI, with
# other implementations both ways: Python websockets (an ssl context trusting the test CA)
# as client of `truflux serve wss://...` and as server for `truflux connect wss://...`; Node's
# ws likewise (the JS client, and its wire layer speaking truflux on a ws server); and
# `truflux serve --wss` with `truflux connect`. The wrong CA is refused. Certificates:
# tests/support/make_pki.py (those of tests/test_tls.py).
source "$(dirname "$0")/ws/lib.sh"
[ -x "$BIN" ] || fail "no truflux binary at $BIN"
need "openssl" openssl version
"$PY" "$SRC/tests/support/make_pki.py" "$T/pki" 2>"$T/pki.err" || fail "make_pki.py failed"
CA=$T/pki/ca.pem CERT=$T/pki/server.pem KEY=$T/pki/server.key
passed=0

# connect_lines URL: our C client sends two lines as `echo` over wss and must print both.
connect_lines() {
    printf 'one\nzwei ✓\n' | timeout 20 "$BIN" connect --wait 5 --tls-ca "$CA" \
        --tls-server-name localhost "$1" >"$T/connect.out" 2>"$T/connect.err" ||
        fail "truflux connect $1 exited $?"
    printf 'echo\tone\necho\tzwei ✓\n' | cmp -s - "$T/connect.out" ||
        fail "truflux connect $1 printed: $(cat "$T/connect.out")"
    passed=$((passed + 1))
}

need "python3-websockets" "$PY" -c "import websockets"
start wss '^truflux listening on wss://' "$BIN" serve "wss://127.0.0.1:0/tf" --quiet \
    --tls-cert "$CERT" --tls-key "$KEY"
echo "== websockets client -> truflux server (wss)"
timeout 30 "$PY" "$SRC/tests/ws/py_interop.py" client "wss://127.0.0.1:$PORT/tf" "$CA" ||
    fail "websockets client against the truflux wss server"
passed=$((passed + 1))
echo "== the wrong CA: refused, exit 1"
printf 'x\n' | timeout 20 "$BIN" connect --wait 5 --tls-ca "$T/pki/other-ca.pem" \
    --tls-server-name localhost "wss://127.0.0.1:$PORT/tf" >/dev/null 2>"$T/wrongca.log" &&
    fail "truflux connect trusted a server certificate from another CA"
grep -q "certificate verification failed" "$T/wrongca.log" ||
    fail "wrong CA: unexpected message: $(cat "$T/wrongca.log")"
passed=$((passed + 1))
SERVER_PORT=$PORT

need "Node.js" node --version
need_node_module ws
echo "== Node ws client -> truflux server (wss)"
NODE_EXTRA_CA_CERTS=$CA timeout 30 node "$SRC/tests/ws/node_wss_client.mjs" \
    "wss://localhost:$SERVER_PORT/tf" ||
    fail "Node ws client against the truflux wss server"
passed=$((passed + 1))
stop_last

echo "== truflux C client -> truflux serve --wss"
start wss2 '^truflux listening on wss://' "$BIN" serve --wss 127.0.0.1:0 --quiet \
    --tls-cert "$CERT" --tls-key "$KEY"
connect_lines "wss://127.0.0.1:$PORT/any/path"
stop_last

echo "== truflux C client -> websockets server (wss)"
start pyserver '^port ' "$PY" "$SRC/tests/ws/py_interop.py" server "$CERT" "$KEY"
connect_lines "wss://127.0.0.1:$PORT/"
stop_last

echo "== truflux C client -> Node ws server (wss)"
start nodeserver '^port ' node "$SRC/tests/ws/node_server_interop.mjs" "$CERT" "$KEY"
connect_lines "wss://127.0.0.1:$PORT/chat"
stop_last
echo "$passed passed, 0 failed"
