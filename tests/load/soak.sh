#!/usr/bin/env bash
# tests/load/soak.sh BUILD_DIR: `make soak`: SOAK_CLIENTS (default 10000) concurrent clients
# (tfload, one process) on one `truflux serve` (another process) for SOAK_SECONDS (default
# 60). Passes when tfload accounted for every message (in order per connection) and the
# server's final counters agree: every client opened, msgs_in = msgs_out = what tfload sent,
# no limit violation, no peer lost. Prints p50/p99/max latency and the server's peak memory.
set -u
BUILD=${1:-build}
BIN=$BUILD/tools/truflux
LOAD=$BUILD/tests/load/tfload
N=${SOAK_CLIENTS:-10000}
D=${SOAK_SECONDS:-60}
[ -x "$BIN" ] && [ -x "$LOAD" ] || { echo "soak: build first ($BIN, $LOAD)" >&2; exit 1; }
# Descriptors: the server holds N sockets, tfload N more (root may raise the hard limit).
ulimit -n $((N + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((N + 256)) ] || { echo "soak: ulimit -n $(ulimit -n) is too low for $N clients" >&2; exit 1; }

T=$(mktemp -d)
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill -KILL "$SERVER" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "soak: FAIL: $*" >&2; tail -5 "$T/serve.err" >&2; exit 1; }
val() { grep -oE "(^| )$2=[0-9]+" "$1" | tail -1 | cut -d= -f2; }

"$BIN" serve --tcp 127.0.0.1:0 --quiet --stats-interval 10 --max-connections $((N + 100)) \
    >"$T/serve.out" 2>"$T/serve.err" &
SERVER=$!
for _ in $(seq 100); do
    grep -q '^truflux listening on ' "$T/serve.out" && break
    sleep 0.1
done
PORT=$(sed -n 's/^truflux listening on tcp:\/\/127.0.0.1:\([0-9]*\)$/\1/p' "$T/serve.out")
[ -n "$PORT" ] || fail "serve did not start"
echo "soak: $N clients for $D s on truflux serve (pid $SERVER, port $PORT)"
timeout $((D + 300)) "$LOAD" --clients "$N" --seconds "$D" --port "$PORT" | tee "$T/load.out"
rc=${PIPESTATUS[0]}
grep -E '^Vm(HWM|RSS)' "/proc/$SERVER/status" | tr -s ' \t' ' ' | sed 's/^/soak: server /'
kill -TERM "$SERVER"
timeout 30 tail --pid="$SERVER" -s 0.1 -f /dev/null || fail "serve did not exit on SIGTERM"
wait "$SERVER"
SERVER=
grep '^truflux stats: ' "$T/serve.err" | tail -1 | tee "$T/final"
[ "$rc" -eq 0 ] || fail "tfload exited $rc"
sent=$(val "$T/load.out" sent)
[ "$(val "$T/final" opened)" = "$N" ] || fail "server opened != $N"
[ "$(val "$T/final" msgs_in)" = "$sent" ] || fail "server msgs_in != $sent"
[ "$(val "$T/final" msgs_out)" = "$sent" ] || fail "server msgs_out != $sent"
for k in refused_limit message_size handshake_timeouts idle_timeouts protocol_errors peer_lost; do
    [ "$(val "$T/final" $k)" = 0 ] || fail "server $k is not 0"
done
echo "soak: PASS"
