#!/usr/bin/env bash
# tests/test_keygen.sh: `truflux keygen NAME`: NAME.key (mode 0600) and NAME.pub (one line of
# base64, the public key, also printed), no silent overwrite, and key files that serve and
# connect load (a pinned connection with the printed key works; another key does not).
set -u

BUILD=${TRUFLUX_BUILD_DIR:-$(pwd)}
BIN=${TRUFLUX_BIN:-$BUILD/tools/truflux}
[ -x "$BIN" ] || { echo "FAIL: no truflux binary at $BIN" >&2; exit 1; }

source "$(dirname "$0")/support/clitest.sh"

B64='^[A-Za-z0-9+/]{43}=$'

# A umask that would leave the key readable by everyone: keygen must not rely on it.
umask 000
out=$(timeout 10 "$BIN" keygen "$T/server") || fail "keygen exited $?"
[ -f "$T/server.key" ] && [ -f "$T/server.pub" ] || fail "keygen did not write both files"
[ "$(stat -c %a "$T/server.key")" = 600 ] || fail "server.key mode $(stat -c %a "$T/server.key"), want 600"
[ "$(wc -l < "$T/server.pub")" -eq 1 ] || fail "server.pub is not one line"
pub=$(cat "$T/server.pub")
[[ $pub =~ $B64 ]] || fail "server.pub is not one key in base64: $pub"
[ "$out" = "$pub" ] || fail "printed key '$out' differs from server.pub '$pub'"
key=$(cat "$T/server.key")
[[ $key =~ $B64 ]] || fail "server.key is not one key in base64"
[ "$key" != "$pub" ] || fail "the private key equals the public key"

# Never replaced silently; --force replaces (and restores mode 0600 on a looser file).
timeout 10 "$BIN" keygen "$T/server" > /dev/null 2> "$T/again.err" && fail "keygen overwrote server.key"
grep -q "exists" "$T/again.err" || fail "no 'exists' message: $(cat "$T/again.err")"
[ "$(cat "$T/server.pub")" = "$pub" ] || fail "a refused keygen changed server.pub"
chmod 644 "$T/server.key"
timeout 10 "$BIN" keygen "$T/server" --force > "$T/forced" || fail "keygen --force failed"
[ "$(stat -c %a "$T/server.key")" = 600 ] || fail "--force left mode $(stat -c %a "$T/server.key")"
[ "$(cat "$T/forced")" != "$pub" ] || fail "--force did not make a new key"
pub=$(cat "$T/server.pub")
timeout 10 "$BIN" keygen > /dev/null 2>&1; [ $? -eq 2 ] || fail "keygen without NAME: want exit 2"
timeout 10 "$BIN" keygen "$T/other" > /dev/null || fail "second keygen failed"

# The key files work: a server with server.key, a client pinning server.pub.
mkfifo "$T/serve.out"
exec 3<>"$T/serve.out"
timeout 60 "$BIN" serve --tcp 127.0.0.1:0 --secure required --key "$T/server.key" \
    >"$T/serve.out" 2>"$T/serve.err" &
PIDS+=($!)
read -r -t 5 -u 3 line || fail "no line from truflux serve"
PORT=${line##*:}
got=$(echo "pinned hello" | timeout 20 "$BIN" connect "tcp://127.0.0.1:$PORT" --pin "$pub" 2>"$T/ok.err") \
    || fail "connect with the right pin exited $?"
[ "$got" = "echo	pinned hello" ] || fail "unexpected reply: $got"
got=$(echo "x" | timeout 20 "$BIN" connect "tcp://127.0.0.1:$PORT" --pin-file "$T/server.pub" 2>"$T/ok2.err") \
    || fail "connect with --pin-file exited $?"
echo "y" | timeout 20 "$BIN" connect "tcp://127.0.0.1:$PORT" --pin-file "$T/other.pub" > "$T/bad.out" 2> "$T/bad.err"
[ $? -eq 1 ] || fail "a wrong pin must exit 1"
grep -q "does not match the pinned key" "$T/bad.err" || fail "no pin message: $(cat "$T/bad.err")"
[ ! -s "$T/bad.out" ] || fail "a wrong pin printed replies"
echo "PASS"
