#!/usr/bin/env bash
# tests/test_files_cli.sh: `truflux send-file` and `truflux serve --accept-files` end to end on
# loopback: files arrive whole and exit 0, failures exit non-zero, and on a
# terminal both show a progress bar. Every wait is bounded (`timeout`, `read -t`).
set -u

BUILD=${TRUFLUX_BUILD_DIR:-$(pwd)}
BIN=${TRUFLUX_BIN:-$BUILD/tools/truflux}
[ -x "$BIN" ] || { echo "FAIL: no truflux binary at $BIN" >&2; exit 1; }

source "$(dirname "$0")/support/clitest.sh"

# start_server NAME FD ARGS...: `truflux serve ARGS` with its standard output on a fifo read
# through descriptor FD; sets SERVER_PID, and PORT from the first line.
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
}

stop_server() {
    kill -TERM "$1" 2>/dev/null
    timeout 10 tail --pid="$1" -s 0.05 -f /dev/null || kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# --- usage ----------------------------------------------------------------------------
timeout 10 "$BIN" --help | grep -q 'send-file' || fail "--help does not list send-file"
timeout 10 "$BIN" send-file --help | grep -q '^usage: truflux send-file' || fail "send-file --help"
timeout 10 "$BIN" serve --help | grep -q -- '--accept-files' || fail "serve --help: no --accept-files"
timeout 10 "$BIN" send-file >/dev/null 2>&1
[ $? -eq 2 ] || fail "send-file without arguments: expected exit 2"
timeout 10 "$BIN" send-file tcp://127.0.0.1:1 >/dev/null 2>&1
[ $? -eq 2 ] || fail "send-file without FILE: expected exit 2"
timeout 10 "$BIN" serve --tcp 127.0.0.1:0 --accept-files "$T/nowhere" >/dev/null 2>"$T/nodir.txt"
[ $? -eq 2 ] || fail "serve --accept-files with a missing directory: expected exit 2"
grep -q 'nowhere' "$T/nodir.txt" || fail "serve --accept-files: the error names no directory"

# --- files arrive whole ---------------------------------------------------------------
mkdir "$T/src" "$T/dst"
head -c 3000000 /dev/urandom >"$T/src/random.bin"
printf 'hello\n' >"$T/src/small.txt"
: >"$T/src/empty"
head -c 70000 /dev/urandom >"$T/src/with space.dat"
start_server srv 3 --tcp 127.0.0.1:0 --accept-files "$T/dst"
SRV=$SERVER_PID
URL=tcp://127.0.0.1:$PORT
timeout 60 "$BIN" send-file "$URL" "$T/src/random.bin" "$T/src/small.txt" "$T/src/empty" \
    "$T/src/with space.dat" >"$T/send.out" 2>"$T/send.err"
rc=$?
[ $rc -eq 0 ] || fail "send-file exited $rc"
for f in random.bin small.txt empty "with space.dat"; do
    cmp -s "$T/src/$f" "$T/dst/$f" || fail "$f differs after the transfer"
    grep -q "sent $f" "$T/send.err" || fail "send-file did not report $f"
done
[ -z "$(ls -A "$T/dst" | grep '^\.tfpart-')" ] || fail "a temporary file was left behind"
[ "$(ls -A "$T/dst" | wc -l)" -eq 4 ] || fail "unexpected entries in the directory: $(ls -A "$T/dst")"
# Not on a terminal: no progress bar.
if grep -q 'ETA' "$T/send.err"; then fail "progress bar drawn without a terminal"; fi

# The same name again replaces the file, with the new content.
head -c 1000 /dev/urandom >"$T/src2"
mkdir "$T/again" && cp "$T/src2" "$T/again/small.txt"
timeout 30 "$BIN" send-file --quiet "$URL" "$T/again/small.txt" 2>"$T/again.err"
[ $? -eq 0 ] || fail "second send-file exited non-zero"
cmp -s "$T/src2" "$T/dst/small.txt" || fail "the second small.txt did not replace the first"
[ -s "$T/again.err" ] && fail "--quiet printed: $(cat "$T/again.err")"

# --- failures exit non-zero -------------------------------------------------------------
timeout 30 "$BIN" send-file "$URL" "$T/src/missing.bin" >/dev/null 2>"$T/missing.err"
[ $? -eq 1 ] || fail "send-file of a missing file: expected exit 1"
grep -q 'missing.bin' "$T/missing.err" || fail "no error naming the missing file"

start_server plain 4 --tcp 127.0.0.1:0
PLAIN=$SERVER_PID
timeout 30 "$BIN" send-file "tcp://127.0.0.1:$PORT" "$T/src/small.txt" >/dev/null 2>"$T/nofiles.err"
[ $? -eq 1 ] || fail "send-file to a server without --accept-files: expected exit 1"
grep -q 'does not accept files' "$T/nofiles.err" || fail "no 'does not accept files': $(cat "$T/nofiles.err")"
DEAD=$PORT
stop_server "$PLAIN"
timeout 30 "$BIN" send-file --wait 5 "tcp://127.0.0.1:$DEAD" "$T/src/small.txt" >/dev/null 2>&1
[ $? -eq 1 ] || fail "send-file to a closed port: expected exit 1"

# --- progress bars on a terminal ---------------------------------------------------------
if command -v script >/dev/null 2>&1; then
    head -c 40000000 /dev/zero >"$T/src/zeros.bin"
    timeout 60 script -qec "'$BIN' send-file '$URL' '$T/src/zeros.bin'" /dev/null >"$T/tty.out" 2>&1
    [ $? -eq 0 ] || fail "send-file on a terminal exited non-zero: $(tr '\r' '\n' <"$T/tty.out" | tail -3)"
    tr '\r' '\n' <"$T/tty.out" >"$T/tty.lines"
    grep -q '100% .*/s' "$T/tty.lines" || fail "no progress bar on a terminal: $(tail -3 "$T/tty.lines")"
    grep -q 'ETA' "$T/tty.lines" || fail "the progress bar shows no time left"
    cmp -s "$T/src/zeros.bin" "$T/dst/zeros.bin" || fail "zeros.bin differs"

    # The server's bar, with serve itself on a terminal.
    mkdir "$T/dst2"
    mkfifo "$T/tty2.fifo"
    exec 5<>"$T/tty2.fifo"
    # script(1) is killed directly (never through timeout, which would orphan it); the
    # hangup then ends `timeout`, the session leader, which passes it on to serve.
    script -qfec "exec timeout 60 '$BIN' serve --tcp 127.0.0.1:0 --accept-files '$T/dst2'" \
        /dev/null >"$T/tty2.fifo" 2>&1 &
    TTYSRV=$!
    PIDS+=("$TTYSRV")
    read -r -t 5 -u 5 line || fail "serve on a terminal printed nothing"
    P2=$(printf '%s' "$line" | tr -d '\r' | sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p')
    [ -n "$P2" ] || fail "serve on a terminal: unexpected first line: $line"
    timeout 60 "$BIN" send-file --quiet "tcp://127.0.0.1:$P2" "$T/src/zeros.bin" || fail "send to tty serve"
    cmp -s "$T/src/zeros.bin" "$T/dst2/zeros.bin" || fail "zeros.bin differs (tty serve)"
    # Read what serve drew, up to its line for the file.
    : >"$T/tty2.lines"
    while read -r -t 5 -u 5 line; do
        printf '%s\n' "$line" | tr '\r' '\n' >>"$T/tty2.lines"
        grep -q 'received zeros.bin' "$T/tty2.lines" && break
    done
    grep -q 'received zeros.bin' "$T/tty2.lines" || fail "serve did not report the file"
    grep -q 'receiving .*/s' "$T/tty2.lines" || fail "serve drew no progress bar: $(cat "$T/tty2.lines")"
    stop_server "$TTYSRV"
else
    echo "note: no script(1): the terminal progress bars are not tested"
fi

grep -q 'received random.bin' "$T/srv.err" || fail "serve did not report random.bin"
stop_server "$SRV"
echo "ok"
