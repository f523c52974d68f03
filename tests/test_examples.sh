#!/usr/bin/env bash
# tests/test_examples.sh: the example programs work as their comments say: the C echo
# client checks every reply from the C echo server, and a line typed into one chat client
# reaches another. Waits are awaited events (lines read from fifos with `read -t`); every
# command runs under `timeout`.
set -u

BUILD=${TRUFLUX_BUILD_DIR:-$(pwd)}
EX=$BUILD/examples
for p in echo_server echo_client chat; do
    [ -x "$EX/$p" ] || { echo "FAIL: example $p not built in $EX" >&2; exit 1; }
done

source "$(dirname "$0")/support/clitest.sh"

# Starts a server example whose first output line is "listening on PORT"; its output is
# read through descriptor FD. Sets SERVER_PID and PORT.
start_server() {
    local name=$1 fd=$2 line
    shift 2
    mkfifo "$T/$name.out"
    eval "exec $fd<>\"$T/$name.out\""
    timeout 60 "$@" >"$T/$name.out" 2>"$T/$name.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    read -r -t 5 -u "$fd" line || fail "$name: no output"
    case "$line" in
    "listening on "[0-9]*) PORT=${line#listening on } ;;
    *) fail "$name: unexpected first line: $line" ;;
    esac
    [ "$PORT" -gt 0 ] || fail "$name: port 0 printed"
}

# --- C echo server and client ---------------------------------------------------------
start_server echo 3 "$EX/echo_server" 0
out=$(timeout 20 "$EX/echo_client" "$PORT" 25 2>"$T/client.err")
rc=$?
[ "$rc" -eq 0 ] || fail "echo_client exited $rc"
[ "$out" = "ok 100" ] || fail "echo_client printed '$out', expected 'ok 100'"

# Bad arguments: usage, exit 2; nothing listening: exit 1.
timeout 10 "$EX/echo_client" >/dev/null 2>&1
[ $? -eq 2 ] || fail "echo_client without a port should exit 2"
timeout 10 "$EX/echo_server" notaport >/dev/null 2>&1
[ $? -eq 2 ] || fail "echo_server with a bad port should exit 2"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
timeout 20 "$EX/echo_client" "$PORT" 1 >"$T/refused.out" 2>"$T/refused.err"
[ $? -eq 1 ] || fail "echo_client against a closed port should exit 1"
[ ! -s "$T/refused.out" ] || fail "echo_client printed '$(cat "$T/refused.out")' without a server"

# --- C++ chat -------------------------------------------------------------------------
start_server chat 4 "$EX/chat" serve 0
CHAT_PORT=$PORT

mkfifo "$T/alice.in" "$T/alice.out"
exec 5<>"$T/alice.in" 6<>"$T/alice.out"
# Descriptors 5 and 6 closed in the child: holding the write end of its own input would keep
# alice from ever seeing its end.
timeout 30 "$EX/chat" join "$CHAT_PORT" alice <"$T/alice.in" >"$T/alice.out" 2>"$T/alice.err" \
    5>&- 6>&- &
ALICE=$!
PIDS+=("$ALICE")
read -r -t 5 -u 4 line || fail "chat server: no join line"
[ "$line" = "* alice joined" ] || fail "chat server printed '$line'"

printf 'hello from bob\n' | timeout 10 "$EX/chat" join "$CHAT_PORT" bob >"$T/bob.out" 2>"$T/bob.err" 5>&- 6>&-
rc=$?
[ "$rc" -eq 0 ] || fail "chat join bob exited $rc"

read -r -t 5 -u 6 line || fail "alice: nothing received"
[ "$line" = "* bob joined" ] || fail "alice: got '$line', expected the join notice"
read -r -t 5 -u 6 line || fail "alice: bob's line never arrived"
[ "$line" = "bob: hello from bob" ] || fail "alice: got '$line'"
read -r -t 5 -u 6 line || fail "alice: no departure notice"
[ "$line" = "* bob left" ] || fail "alice: got '$line'"
# bob's own line is not sent back to him.
! grep -q 'hello from bob' "$T/bob.out" || fail "bob received his own line"

# End of alice's input: she leaves cleanly.
exec 5>&-
if timeout 5 tail --pid="$ALICE" -s 0.05 -f /dev/null; then
    wait "$ALICE"
    rc=$?
else
    rc=124
fi
[ "$rc" -eq 0 ] || fail "chat join alice exited $rc at end of input"
for want in "* bob joined" "* bob left" "* alice left"; do
    read -r -t 5 -u 4 line || fail "chat server: no line '$want'"
    [ "$line" = "$want" ] || fail "chat server printed '$line', expected '$want'"
done

echo "test_examples: all passed"
