#!/usr/bin/env bash
# tests/test_cli.sh: the `truflux` CLI end to end on loopback: serve + connect (echo of each
# input kind, chat relayed to another client), failures and their exit codes, signals.
# Every wait is an awaited event (a line read from a fifo with `read -t`, a process exit
# with a watchdog) and every command runs under `timeout`.
set -u

BUILD=${TRUFLUX_BUILD_DIR:-$(pwd)}
BIN=${TRUFLUX_BIN:-$BUILD/tools/truflux}
[ -x "$BIN" ] || { echo "FAIL: no truflux binary at $BIN" >&2; exit 1; }

source "$(dirname "$0")/support/clitest.sh"

# start_server NAME FD ARGS...: runs `truflux serve ARGS` with its standard output on a fifo
# read through descriptor FD; sets SERVER_PID, and PORT from the first line.
start_server() {
    local name=$1 fd=$2
    shift 2
    mkfifo "$T/$name.out"
    eval "exec $fd<>\"$T/$name.out\""
    timeout 60 "$BIN" serve "$@" >"$T/$name.out" 2>"$T/$name.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    local line
    read -r -t 5 -u "$fd" line || fail "$name: no output from truflux serve"
    case "$line" in
    "truflux listening on tcp://127.0.0.1:"[0-9]*) PORT=${line##*:} ;;
    *) fail "$name: unexpected first line: $line" ;;
    esac
    [ "$PORT" -gt 0 ] || fail "$name: port 0 printed"
}

# --- usage, help, version -------------------------------------------------------------
timeout 10 "$BIN" --help >"$T/help.out" || fail "--help exit status"
grep -q '^usage: truflux' "$T/help.out" || fail "--help prints no usage"
grep -q 'serve' "$T/help.out" && grep -q 'connect' "$T/help.out" || fail "--help lists no commands"
timeout 10 "$BIN" --version >"$T/version.out" || fail "--version exit status"
grep -q '^truflux [0-9]' "$T/version.out" || fail "--version: $(cat "$T/version.out")"
for sub in serve connect; do
    timeout 10 "$BIN" $sub --help >"$T/sub.out" || fail "$sub --help exit status"
    grep -q "^usage: truflux $sub" "$T/sub.out" || fail "$sub --help prints no usage"
done

expect_usage_error() {
    local rc
    timeout 10 "$BIN" "$@" >/dev/null 2>"$T/usage.txt" </dev/null
    rc=$?
    [ "$rc" -eq 2 ] || fail "'$*' exited $rc, expected 2"
    grep -q 'usage' "$T/usage.txt" || fail "'$*' printed no usage on stderr"
}
expect_usage_error
expect_usage_error --bogus
expect_usage_error nosuchcommand
expect_usage_error serve --bogus
expect_usage_error serve --tcp
expect_usage_error serve
expect_usage_error serve --tcp 127.0.0.1:99999
expect_usage_error connect
expect_usage_error connect tcp://127.0.0.1:1 --bogus
expect_usage_error connect tcp://127.0.0.1:1 --message nosuch
expect_usage_error connect tcp://127.0.0.1:1 --type nosuch
expect_usage_error connect tcp://127.0.0.1:1 --wait soon

# --- echo -------------------------------------------------------------------------------
start_server a 3 --tcp 127.0.0.1:0
A_PID=$SERVER_PID
A_PORT=$PORT
URL="tcp://127.0.0.1:$A_PORT"

printf 'hello\nworld\n\nlast line\n' | timeout 10 "$BIN" connect "$URL" >"$T/echo.out" 2>"$T/echo.err"
rc=$?
[ "$rc" -eq 0 ] || fail "connect (echo) exited $rc"
printf 'echo\thello\necho\tworld\necho\t\necho\tlast line\n' >"$T/echo.want"
cmp -s "$T/echo.out" "$T/echo.want" || fail "echo output differs: $(cat -A "$T/echo.out")"

# A final line without its newline still counts.
printf 'a\nb' | timeout 10 "$BIN" connect "$URL" >"$T/echo2.out" 2>"$T/echo2.err" || fail "connect (no final newline)"
printf 'echo\ta\necho\tb\n' | cmp -s - "$T/echo2.out" || fail "no-final-newline output: $(cat -A "$T/echo2.out")"

printf 'AB\n\001\n' | timeout 10 "$BIN" connect "$URL" --type binary >"$T/bin.out" 2>"$T/bin.err" || fail "connect --type binary"
printf 'echo\t0x4142\necho\t0x01\n' | cmp -s - "$T/bin.out" || fail "binary output: $(cat -A "$T/bin.out")"

printf 'x\ny\n' | timeout 10 "$BIN" connect "$URL" --type=empty >"$T/empty.out" 2>"$T/empty.err" || fail "connect --type empty"
printf 'echo\t\necho\t\n' | cmp -s - "$T/empty.out" || fail "empty output: $(cat -A "$T/empty.out")"

# JSON lines go as MessagePack, and come back printed as mp:HEX.
printf '{"a":[1,-1,true,null,"x"],"b":1.5}\n300\n"\\u00e9"\n' |
    timeout 10 "$BIN" connect "$URL" --type msgpack >"$T/mp.out" 2>"$T/mp.err" || fail "connect --type msgpack"
printf 'echo\tmp:82a1619501ffc3c0a178a162cb3ff8000000000000\necho\tmp:cd012c\necho\tmp:a2c3a9\n' |
    cmp -s - "$T/mp.out" || fail "msgpack output: $(cat -A "$T/mp.out")"
printf '{oops\n' | timeout 10 "$BIN" connect "$URL" --type msgpack >/dev/null 2>"$T/badjson.err"
[ $? -eq 1 ] || fail "invalid JSON line should exit 1"
grep -q 'invalid JSON' "$T/badjson.err" || fail "invalid JSON not reported: $(cat "$T/badjson.err")"

# Many lines: order and count survive the reader/loop hand-over.
seq 1 3000 | timeout 20 "$BIN" connect "$URL" >"$T/many.out" 2>"$T/many.err" || fail "connect (3000 lines)"
seq 1 3000 | sed 's/^/echo\t/' | cmp -s - "$T/many.out" || fail "3000 echoes differ"

# A line that is not UTF-8 cannot go as text: reported, exit 1, the others still echo.
printf 'ok\n\377\n' | timeout 10 "$BIN" connect "$URL" >"$T/utf8.out" 2>"$T/utf8.err"
rc=$?
[ "$rc" -eq 1 ] || fail "invalid UTF-8 line: exit $rc, expected 1"
grep -q 'line 2' "$T/utf8.err" || fail "invalid UTF-8 line not reported: $(cat "$T/utf8.err")"
printf 'echo\tok\n' | cmp -s - "$T/utf8.out" || fail "utf8 output: $(cat -A "$T/utf8.out")"

# --- chat relayed to another client -------------------------------------------------------
mkfifo "$T/r.in" "$T/r.out"
exec 4<>"$T/r.in" 5<>"$T/r.out"
timeout 30 "$BIN" connect "$URL" --wait 2 <"$T/r.in" >"$T/r.out" 2>"$T/r.err" 4>&- 5>&- &
R_PID=$!
PIDS+=("$R_PID")
# The receiver is connected once its own echo comes back.
echo ready >&4
read -r -t 5 -u 5 line || fail "receiver: no echo"
[ "$line" = "$(printf 'echo\tready')" ] || fail "receiver: got '$line'"

printf 'hi all\n' | timeout 10 "$BIN" connect "$URL" --message chat >"$T/s.out" 2>"$T/s.err"
rc=$?
[ "$rc" -eq 0 ] || fail "chat sender exited $rc"
[ ! -s "$T/s.out" ] || fail "chat sender received its own chat: $(cat "$T/s.out")"
read -r -t 5 -u 5 line || fail "receiver: no chat line"
[ "$line" = "$(printf 'chat\thi all')" ] || fail "receiver: got '$line' instead of the chat"

# --- SIGTERM: graceful close, exit 0 within 5 s; the connected receiver is told ----------
kill -TERM "$A_PID"
wait_exit "$A_PID" 5
[ "$WAIT_RC" -eq 0 ] || fail "serve after SIGTERM exited $WAIT_RC, expected 0 within 5 s"
wait_exit "$R_PID" 5
[ "$WAIT_RC" -eq 1 ] || fail "receiver after server shutdown exited $WAIT_RC, expected 1"
grep -q "$URL" "$T/r.err" || fail "receiver's message names no URL: $(cat "$T/r.err")"
grep -q 'shutting down' "$T/r.err" ||
    fail "receiver's message gives no reason: $(cat "$T/r.err")"
exec 4>&- 5<&-
grep -q 'connect 127.0.0.1:' "$T/a.err" || fail "serve logged no connect line"
grep -q 'disconnect 127.0.0.1:' "$T/a.err" || fail "serve logged no disconnect line"

# --- cannot connect: refused (the port just closed), bad URL ------------------------------
timeout 10 "$BIN" connect "$URL" </dev/null >"$T/refused.out" 2>"$T/refused.err"
rc=$?
[ "$rc" -eq 1 ] || fail "connect to a closed port exited $rc, expected 1"
grep -q "$URL" "$T/refused.err" || fail "refused: message names no URL: $(cat "$T/refused.err")"
grep -q 'refused' "$T/refused.err" || fail "refused: message gives no reason: $(cat "$T/refused.err")"

timeout 10 "$BIN" connect not-a-url </dev/null >/dev/null 2>"$T/badurl.err"
rc=$?
[ "$rc" -eq 1 ] || fail "connect to a bad URL exited $rc, expected 1"
grep -q 'not-a-url' "$T/badurl.err" || fail "bad URL: message names no URL: $(cat "$T/badurl.err")"

# --- limits, SIGINT, several addresses ----------------------------------------------------
start_server b 6 --tcp 127.0.0.1:0 --tcp 127.0.0.1:0 --max-message-size 8 --quiet
B_PID=$SERVER_PID
read -r -t 5 -u 6 line || fail "b: no second listening line"
case "$line" in "truflux listening on tcp://127.0.0.1:"*) ;; *) fail "b: second line '$line'" ;; esac
printf 'short\n' | timeout 10 "$BIN" connect "tcp://127.0.0.1:$PORT" >"$T/short.out" 2>"$T/short.err" ||
    fail "short message under --max-message-size"
# Refused by the sender, which knows the server's limit from its hello (either when sending
# or, for a line queued before the hello, when the hello arrives).
printf 'far too long for the limit\n' | timeout 10 "$BIN" connect "tcp://127.0.0.1:$PORT" \
    --wait 1 >"$T/long.out" 2>"$T/long.err"
rc=$?
[ "$rc" -eq 1 ] || fail "oversized message: exit $rc, expected 1"
[ ! -s "$T/long.out" ] || fail "oversized message echoed: $(cat "$T/long.out")"
grep -Eqi 'maximum|not accept' "$T/long.err" || fail "oversized message: $(cat "$T/long.err")"
kill -INT "$B_PID"
wait_exit "$B_PID" 5
[ "$WAIT_RC" -eq 0 ] || fail "serve after SIGINT exited $WAIT_RC, expected 0"
[ ! -s "$T/b.err" ] || fail "--quiet server wrote to stderr: $(cat "$T/b.err")"

echo "test_cli: all passed"
