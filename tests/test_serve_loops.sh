#!/usr/bin/env bash
# tests/test_serve_loops.sh: `truflux serve --loops 2` (one server, two loops sharing the
# port through SO_REUSEPORT) answers several `truflux connect` clients at once: every echo
# comes back, chat is relayed between clients whichever loop holds them, the counters printed
# at exit cover both loops, and SIGTERM still closes gracefully. With --accept-files, several
# `truflux send-file` clients at once each get their files through whole; with --web, the
# page loads and WebSocket clients at /truflux echo, whichever loop takes them. Every wait is an
# awaited event (a line from a fifo with `read -t`, a process exit with a watchdog) under
# `timeout`.
set -u

BUILD=${TRUFLUX_BUILD_DIR:-$(pwd)}
BIN=${TRUFLUX_BIN:-$BUILD/tools/truflux}
[ -x "$BIN" ] || { echo "FAIL: no truflux binary at $BIN" >&2; exit 1; }

NCLIENTS=12
source "$(dirname "$0")/support/clitest.sh"

expect_usage_error() {
    local rc
    timeout 10 "$BIN" "$@" >/dev/null 2>"$T/usage.txt" </dev/null
    rc=$?
    [ "$rc" -eq 2 ] || fail "'$*' exited $rc, expected 2"
    grep -q 'usage' "$T/usage.txt" || fail "'$*' printed no usage on stderr"
}
expect_usage_error serve --tcp 127.0.0.1:0 --loops 0
expect_usage_error serve --tcp 127.0.0.1:0 --loops two
expect_usage_error serve --tcp 127.0.0.1:0 --loops 65
timeout 10 "$BIN" serve --help | grep -q -- '--loops N' || fail "serve --help does not list --loops"

# --- the server ----------------------------------------------------------------------------
mkfifo "$T/s.out"
exec 3<>"$T/s.out"
timeout 60 "$BIN" serve --loops 2 --tcp 127.0.0.1:0 --stats-interval 0 >"$T/s.out" 2>"$T/s.err" &
S_PID=$!
PIDS+=("$S_PID")
read -r -t 5 -u 3 line || fail "no output from truflux serve --loops 2"
case "$line" in
"truflux listening on tcp://127.0.0.1:"[0-9]*) PORT=${line##*:} ;;
*) fail "unexpected first line: $line" ;;
esac
[ "$PORT" -gt 0 ] || fail "port 0 printed"
URL="tcp://127.0.0.1:$PORT"

# --- two chat receivers, connected (their own echo is back) before anyone chats ----------
for r in 1 2; do
    mkfifo "$T/r$r.in" "$T/r$r.out"
    eval "exec $((3 + 2 * r))<>\"$T/r$r.in\" $((4 + 2 * r))<>\"$T/r$r.out\""
    timeout 30 "$BIN" connect "$URL" --wait 2 <"$T/r$r.in" >"$T/r$r.out" 2>"$T/r$r.err" \
        5>&- 6>&- 7>&- 8>&- &
    PIDS+=("$!")
    eval "R${r}_PID=$!"
    echo "ready$r" >&$((3 + 2 * r))
    read -r -t 5 -u $((4 + 2 * r)) line || fail "receiver $r: no echo"
    [ "$line" = "$(printf 'echo\tready%s' "$r")" ] || fail "receiver $r: got '$line'"
done

# --- several clients at once, each echoing its own lines ----------------------------------
CPIDS=()
for i in $(seq 1 $NCLIENTS); do
    seq 1 200 | sed "s/^/c$i-/" |
        timeout 20 "$BIN" connect "$URL" >"$T/c$i.out" 2>"$T/c$i.err" &
    CPIDS+=("$!")
done
for i in $(seq 1 $NCLIENTS); do
    wait_exit "${CPIDS[$((i - 1))]}" 25
    [ "$WAIT_RC" -eq 0 ] || fail "client $i exited $WAIT_RC"
    seq 1 200 | sed "s/^/echo\tc$i-/" | cmp -s - "$T/c$i.out" || fail "client $i: echoes differ"
done

# --- chat: every sender's line reaches both receivers -------------------------------------
for i in 1 2 3 4; do
    printf 'hi %s\n' "$i" | timeout 10 "$BIN" connect "$URL" --message chat >"$T/chat$i.out" \
        2>"$T/chat$i.err" || fail "chat sender $i"
    for r in 1 2; do
        read -r -t 5 -u $((4 + 2 * r)) line || fail "receiver $r: no chat line $i"
        [ "$line" = "$(printf 'chat\thi %s' "$i")" ] || fail "receiver $r: got '$line'"
    done
done

# --- SIGTERM: graceful close over both loops; the counters cover every connection ---------
kill -TERM "$S_PID"
wait_exit "$S_PID" 8
[ "$WAIT_RC" -eq 0 ] || fail "serve --loops 2 after SIGTERM exited $WAIT_RC, expected 0"
for r in 1 2; do
    eval "pid=\$R${r}_PID"
    wait_exit "$pid" 5
    [ "$WAIT_RC" -eq 1 ] || fail "receiver $r after shutdown exited $WAIT_RC, expected 1"
    grep -q 'shutting down' "$T/r$r.err" || fail "receiver $r: $(cat "$T/r$r.err")"
done
total=$((2 + NCLIENTS + 4))
stats=$(grep '^truflux stats:' "$T/s.err" | tail -1)
[ -n "$stats" ] || fail "no stats line at exit"
case " $stats " in
*" accepted=$total "*) ;;
*) fail "expected accepted=$total over both loops: $stats" ;;
esac
case " $stats " in
*" opened=$total "*) ;;
*) fail "expected opened=$total over both loops: $stats" ;;
esac
case " $stats " in
*" active=0 "*) ;;
*) fail "expected active=0 after the close: $stats" ;;
esac

# --- files: several senders at once into a --loops 2 server --------------------------------
NSENDERS=8
mkdir "$T/src" "$T/dst"
for i in $(seq 1 $NSENDERS); do
    mkdir "$T/src/$i"
    head -c $((400000 + i * 123457)) /dev/urandom >"$T/src/$i/big$i.bin"
    head -c $((i * 1000)) /dev/urandom >"$T/src/$i/small$i.bin"
    printf 'sender %s\n' "$i" >"$T/src/$i/note$i.txt"
done
mkfifo "$T/f.out"
exec 9<>"$T/f.out"
timeout 60 "$BIN" serve --loops 2 --tcp 127.0.0.1:0 --accept-files "$T/dst" --stats-interval 0 \
    >"$T/f.out" 2>"$T/f.err" &
F_PID=$!
PIDS+=("$F_PID")
read -r -t 5 -u 9 line || fail "no output from truflux serve --loops 2 --accept-files"
case "$line" in
"truflux listening on tcp://127.0.0.1:"[0-9]*) FPORT=${line##*:} ;;
*) fail "unexpected first line: $line" ;;
esac
SPIDS=()
for i in $(seq 1 $NSENDERS); do
    timeout 40 "$BIN" send-file --quiet "tcp://127.0.0.1:$FPORT" "$T/src/$i/big$i.bin" \
        "$T/src/$i/small$i.bin" "$T/src/$i/note$i.txt" >"$T/send$i.out" 2>"$T/send$i.err" &
    SPIDS+=("$!")
done
for i in $(seq 1 $NSENDERS); do
    wait_exit "${SPIDS[$((i - 1))]}" 45
    [ "$WAIT_RC" -eq 0 ] || fail "send-file $i exited $WAIT_RC: $(cat "$T/send$i.err")"
done
(cd "$T/src" && sha256sum */* | sed 's| [0-9]*/| |') >"$T/want.sum"
(cd "$T/dst" && sha256sum -c "$T/want.sum" >"$T/check.txt" 2>&1) ||
    fail "files differ after the transfers: $(grep -v ': OK$' "$T/check.txt")"
[ "$(ls -A "$T/dst" | wc -l)" -eq $((3 * NSENDERS)) ] ||
    fail "unexpected entries in the directory: $(ls -A "$T/dst")"
[ "$(grep -c '^truflux serve: received ' "$T/f.err")" -eq $((3 * NSENDERS)) ] ||
    fail "the server did not report every file: $(cat "$T/f.err")"
kill -TERM "$F_PID"
wait_exit "$F_PID" 8
[ "$WAIT_RC" -eq 0 ] || fail "serve --loops 2 --accept-files after SIGTERM exited $WAIT_RC"
fstats=$(grep '^truflux stats:' "$T/f.err" | tail -1)
case " $fstats " in
*" opened=$NSENDERS "*) ;;
*) fail "expected opened=$NSENDERS over both loops: $fstats" ;;
esac

# --- --web: one web port per loop (SO_REUSEPORT); page and WebSocket clients work -----------
if [ ! -f "$BUILD/tools/web/truflux.min.js" ]; then
    [ -n "${CI:-}" ] && fail "the web page is not in this build (npm ci in bindings/js)"
    echo "skipped: --web (the web page is not in this build)"
else
    mkfifo "$T/w.out"
    exec 10<>"$T/w.out"
    timeout 60 "$BIN" serve --loops 2 --web 127.0.0.1:0 --stats-interval 0 >"$T/w.out" \
        2>"$T/w.err" &
    W_PID=$!
    PIDS+=("$W_PID")
    read -r -t 5 -u 10 line || fail "no output from truflux serve --loops 2 --web"
    case "$line" in
    "truflux web page on http://127.0.0.1:"[0-9]*/) WPORT=${line##*:}; WPORT=${WPORT%/} ;;
    *) fail "unexpected first line with --web: $line" ;;
    esac
    # Each request is a connection of its own: the kernel spreads them over both loops.
    for i in $(seq 1 8); do
        code=$(curl -s -m 5 -o "$T/page$i.html" -w '%{http_code}' "http://127.0.0.1:$WPORT/")
        [ "$code" = 200 ] || fail "page request $i: HTTP $code"
        grep -qi '<html' "$T/page$i.html" || fail "page request $i: not the page"
    done
    WPIDS=()
    for i in $(seq 1 8); do
        seq 1 50 | sed "s/^/w$i-/" |
            timeout 20 "$BIN" connect "ws://127.0.0.1:$WPORT/truflux" >"$T/w$i.out" \
                2>"$T/w$i.err" &
        WPIDS+=("$!")
    done
    for i in $(seq 1 8); do
        wait_exit "${WPIDS[$((i - 1))]}" 25
        [ "$WAIT_RC" -eq 0 ] || fail "ws client $i exited $WAIT_RC"
        seq 1 50 | sed "s/^/echo\tw$i-/" | cmp -s - "$T/w$i.out" || fail "ws client $i: echoes differ"
    done
    kill -TERM "$W_PID"
    wait_exit "$W_PID" 8
    [ "$WAIT_RC" -eq 0 ] || fail "serve --loops 2 --web after SIGTERM exited $WAIT_RC"
    wstats=$(grep '^truflux stats:' "$T/w.err" | tail -1)
    case " $wstats " in
    *" opened=8 "*) ;;
    *) fail "expected opened=8 over both loops: $wstats" ;;
    esac
fi

echo "test_serve_loops: all passed"
