#!/usr/bin/env bash
# tests/test_load.sh: load at test scale, and the server's counters through the CLI.
#  1. tfload with its server in-process (LOAD_CLIENTS, default 500, for LOAD_SECONDS, default
#     3): every message accounted for, in order per connection; the server's counters
#     (tf_server_stats) match the clients' totals; in a sanitizer build, no leak on exit.
#  2. The same against `truflux serve --stats-interval 1` in its own process: the periodic
#     and final "truflux stats:" lines, whose totals match what tfload sent.
#  3. Limits through the CLI: a handshake timeout, an idle timeout and a connection over
#     --max-connections each show as 1 in the final stats line.
# Full scale (10,000 clients, 60 s) is `make soak` (tests/load/soak.sh).
# Every wait is bounded: commands run under `timeout`, loops poll a condition at most N times.
set -u

BUILD=${TRUFLUX_BUILD_DIR:-$(pwd)}
BIN=${TRUFLUX_BIN:-$BUILD/tools/truflux}
LOAD=$BUILD/tests/load/tfload
CLIENTS=${LOAD_CLIENTS:-500}
SECONDS_RUN=${LOAD_SECONDS:-3}
[ -x "$BIN" ] || { echo "FAIL: no truflux binary at $BIN" >&2; exit 1; }
[ -x "$LOAD" ] || { echo "FAIL: no tfload at $LOAD" >&2; exit 1; }

T=$(mktemp -d)
PIDS=()
stop_pid() {
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    pkill -KILL -P "$1" 2>/dev/null
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
cleanup() {
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    exec 7>&- 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.out "$T"/*.err; do [ -s "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
    exit 1
}

# wait_for FILE PATTERN SECONDS: until a line of FILE matches (grep -E), polling.
wait_for() {
    local i n=$(($3 * 20))
    for ((i = 0; i < n; i++)); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# start_serve NAME ARGS...: `truflux serve --tcp 127.0.0.1:0 ARGS`; sets SERVER_PID, PORT.
start_serve() {
    local name=$1
    shift
    timeout 120 "$BIN" serve --tcp 127.0.0.1:0 "$@" >"$T/$name.out" 2>"$T/$name.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_for "$T/$name.out" '^truflux listening on tcp://127.0.0.1:[0-9]+$' 10 ||
        fail "$name: truflux serve printed no address"
    PORT=$(sed -n 's/^truflux listening on tcp:\/\/127.0.0.1:\([0-9]*\)$/\1/p' "$T/$name.out" | head -1)
}

# end_serve NAME: SIGTERM, then the final stats line into $T/NAME.stats.
end_serve() {
    kill -TERM "$SERVER_PID"
    timeout 15 tail --pid="$SERVER_PID" -s 0.05 -f /dev/null || fail "$1: serve did not exit on SIGTERM"
    wait "$SERVER_PID" 2>/dev/null
    grep '^truflux stats: ' "$T/$1.err" | tail -1 >"$T/$1.stats"
    [ -s "$T/$1.stats" ] || fail "$1: no final stats line"
}

# val FILE NAME: the value of NAME=... in a stats or tfload line.
val() { grep -oE "(^| )$2=[0-9]+" "$1" | tail -1 | cut -d= -f2; }

# --- 1. in-process load ------------------------------------------------------------------
timeout $((SECONDS_RUN + 90)) "$LOAD" --clients "$CLIENTS" --seconds "$SECONDS_RUN" \
    >"$T/load1.out" 2>"$T/load1.err"
rc=$?
cat "$T/load1.out"
[ "$rc" -eq 0 ] || fail "tfload (in-process server) exited $rc"
grep -q '^tfload: OK' "$T/load1.out" || fail "tfload printed no OK"
grep -qE '^tfload: latency p50=[0-9]+us p99=[0-9]+us' "$T/load1.out" || fail "no latency line"
sent=$(val "$T/load1.out" sent)
[ "${sent:-0}" -ge "$CLIENTS" ] || fail "only ${sent:-0} messages for $CLIENTS clients"
[ "$(val "$T/load1.out" received)" = "$sent" ] || fail "received differs from sent"
[ "$(val "$T/load1.out" msgs_in)" = "$sent" ] || fail "server msgs_in differs from sent"
if grep -q 'LeakSanitizer\|AddressSanitizer' "$T/load1.err"; then fail "sanitizer report"; fi

# --- 2. against `truflux serve`, another process ----------------------------------------
N2=$((CLIENTS < 200 ? CLIENTS : 200))
start_serve serve_load --quiet --stats-interval 1 --max-connections $((N2 + 10))
timeout 90 "$LOAD" --clients "$N2" --seconds 2 --inflight 2 --port "$PORT" \
    >"$T/load2.out" 2>"$T/load2.err"
rc=$?
cat "$T/load2.out"
[ "$rc" -eq 0 ] || fail "tfload against truflux serve exited $rc"
wait_for "$T/serve_load.err" 'active=0 ' 10 || true
end_serve serve_load
cat "$T/serve_load.stats"
lines=$(grep -c '^truflux stats: ' "$T/serve_load.err")
[ "$lines" -ge 2 ] || fail "expected a periodic and a final stats line, got $lines"
sent2=$(val "$T/load2.out" sent)
[ "$(val "$T/serve_load.stats" opened)" = "$N2" ] || fail "serve: opened != $N2"
[ "$(val "$T/serve_load.stats" msgs_in)" = "$sent2" ] || fail "serve: msgs_in != tfload's sent ($sent2)"
[ "$(val "$T/serve_load.stats" msgs_out)" = "$sent2" ] || fail "serve: msgs_out != $sent2"
for k in refused_limit message_size handshake_timeouts idle_timeouts protocol_errors peer_lost; do
    [ "$(val "$T/serve_load.stats" $k)" = 0 ] || fail "serve: $k is not 0 after a clean run"
done

# --- 3. limits through the CLI -------------------------------------------------------------
start_serve serve_lim --stats-interval 0 --max-connections 1 --handshake-timeout 300 \
    --idle-timeout 3000
# A socket that never says HELLO: the server ends it after 300 ms.
exec 7<>"/dev/tcp/127.0.0.1/$PORT" || fail "raw connect"
timeout 5 cat <&7 >/dev/null
exec 7>&-
wait_for "$T/serve_lim.err" 'no hello within the handshake timeout|EHELLOTIMEOUT|handshake' 5 ||
    fail "no handshake timeout reported"
# The hello-less socket lingers briefly after it ended: wait until its slot is free (the
# server answers a new client), then hold the one slot with a silent client...
mkfifo "$T/hold.in"
exec 8<>"$T/hold.in"
for i in $(seq 40); do
    timeout 10 "$BIN" connect "tcp://127.0.0.1:$PORT" --wait 5 <&8 >"$T/hold.out" 2>"$T/hold.err" &
    HOLD=$!
    PIDS+=("$HOLD")
    wait_for "$T/serve_lim.err" '^truflux serve: connect ' 2 && break
    stop_pid "$HOLD"
done
grep -q '^truflux serve: connect ' "$T/serve_lim.err" || fail "the holding client never opened"
# ... so that the next one is refused over the limit ...
echo x | timeout 10 "$BIN" connect "tcp://127.0.0.1:$PORT" --wait 3 >"$T/refused.out" 2>"$T/refused.err"
[ $? -ne 0 ] || fail "a client over --max-connections 1 succeeded"
# ... and the silent holder is ended by the idle timeout (3 s without a frame from it).
wait_for "$T/serve_lim.err" 'disconnect .*idle timeout' 8 || fail "no idle timeout"
exec 8>&-
end_serve serve_lim
cat "$T/serve_lim.stats"
[ "$(val "$T/serve_lim.stats" handshake_timeouts)" = 1 ] || fail "handshake_timeouts != 1"
[ "$(val "$T/serve_lim.stats" idle_timeouts)" = 1 ] || fail "idle_timeouts != 1"
[ "$(val "$T/serve_lim.stats" refused_limit)" -ge 1 ] || fail "refused_limit < 1"
[ "$(val "$T/serve_lim.stats" message_size)" = 0 ] || fail "message_size != 0"
echo "PASS: load ($CLIENTS clients), serve counters, CLI limits"
