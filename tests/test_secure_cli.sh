#!/usr/bin/env bash
# tests/test_secure_cli.sh: the secure-layer flags of `truflux serve` and `truflux connect`:
# required and optional policies, the patterns and ciphers lists, mutual authentication with
# --authorized-keys, usage errors, and a wrong pin that fails loudly with nothing sent.
set -u

BUILD=${TRUFLUX_BUILD_DIR:-$(pwd)}
BIN=${TRUFLUX_BIN:-$BUILD/tools/truflux}
[ -x "$BIN" ] || { echo "FAIL: no truflux binary at $BIN" >&2; exit 1; }

source "$(dirname "$0")/support/clitest.sh"

# start_server NAME FD ARGS...: sets PORT from the listening line.
start_server() {
    local name=$1 fd=$2
    shift 2
    mkfifo "$T/$name.out"
    eval "exec $fd<>\"$T/$name.out\""
    timeout 60 "$BIN" serve --tcp 127.0.0.1:0 "$@" >"$T/$name.out" 2>"$T/$name.err" &
    PIDS+=($!)
    local line
    read -r -t 5 -u "$fd" line || fail "$name: no output from truflux serve"
    PORT=${line##*:}
}

# connect_echo NAME ARGS...: one echo line; sets RC and OUT.
connect_echo() {
    local name=$1
    shift
    OUT=$(echo "hi $name" | timeout 20 "$BIN" connect "tcp://127.0.0.1:$PORT" --wait 3 "$@" 2>"$T/$name.err")
    RC=$?
}

for k in srv alice mallory; do timeout 10 "$BIN" keygen "$T/$k" > /dev/null || fail "keygen $k"; done
SRV=$(cat "$T/srv.pub")

# Required: a plain client is refused, an optional or pinned one gets through.
start_server req 3 --secure required --key "$T/srv.key" --ciphers AESGCM,ChaChaPoly
connect_echo plain
[ $RC -eq 1 ] || fail "plain client against --secure required: exit $RC"
grep -q "plaintext where encryption is required" "$T/plain.err" || fail "no ENOTSECURE message"
connect_echo opt --secure optional
[ $RC -eq 0 ] && [ "$OUT" = "echo	hi opt" ] || fail "optional client: exit $RC, '$OUT'"
connect_echo pin --pin "$SRV" --pattern NK --ciphers chachapoly
[ $RC -eq 0 ] && [ "$OUT" = "echo	hi pin" ] || fail "NK client: exit $RC, '$OUT'"
connect_echo wrong --pin "$(cat "$T/mallory.pub")"
[ $RC -eq 1 ] || fail "wrong pin: exit $RC"
grep -q "peer key does not match the pinned key" "$T/wrong.err" || fail "no EPIN message"
[ -z "$OUT" ] || fail "wrong pin printed '$OUT'"
# The server saw the refusal and never opened the connection.
opened=$(grep -c "serve: connect 127" "$T/req.err")
[ "$opened" -eq 2 ] || fail "server opened $opened connections, want 2"
grep -q "secured with Noise NN, AESGCM" "$T/req.err" || fail "server did not report NN/AESGCM"
connect_echo chacha --secure required --ciphers ChaChaPoly --pattern NN
[ $RC -eq 0 ] || fail "ChaChaPoly NN client: exit $RC"
grep -q "secured with Noise NN, ChaChaPoly" "$T/req.err" || fail "server did not report NN/ChaChaPoly"

# Mutual authentication: only alice's key is in the file.
echo "# allowed" > "$T/authorized"
cat "$T/alice.pub" >> "$T/authorized"
start_server mutual 4 --secure required --key "$T/srv.key" --authorized-keys "$T/authorized"
connect_echo alice --key "$T/alice.key" --pin "$SRV"
[ $RC -eq 0 ] && [ "$OUT" = "echo	hi alice" ] || fail "alice (IK): exit $RC, '$OUT'"
grep -q "secured with Noise IK" "$T/mutual.err" || fail "alice did not use IK"
connect_echo alicexx --key "$T/alice.key" --secure required
[ $RC -eq 0 ] || fail "alice (XX): exit $RC"
connect_echo mallory --key "$T/mallory.key" --pin "$SRV"
[ $RC -eq 1 ] || fail "mallory: exit $RC"
grep -q "not authorised" "$T/mallory.err" || fail "no EAUTH message for mallory"
connect_echo anon --pin "$SRV"
[ $RC -eq 1 ] || fail "a client without key against --authorized-keys: exit $RC"
grep -q "no common cipher or handshake pattern" "$T/anon.err" || fail "no ENOCIPHER message"

# Usage errors: exit 2 with a message.
timeout 10 "$BIN" connect tcp://127.0.0.1:1 --pin notakey < /dev/null > /dev/null 2> "$T/u1.err"
[ $? -eq 2 ] && grep -q "44 characters" "$T/u1.err" || fail "bad --pin: $(cat "$T/u1.err")"
timeout 10 "$BIN" serve --tcp 127.0.0.1:0 --secure sometimes > /dev/null 2> "$T/u2.err"
[ $? -eq 2 ] && grep -q "off, optional or required" "$T/u2.err" || fail "bad --secure"
timeout 10 "$BIN" serve --tcp 127.0.0.1:0 --pattern XY > /dev/null 2> "$T/u3.err"
[ $? -eq 2 ] || fail "bad --pattern"
timeout 10 "$BIN" serve --tcp 127.0.0.1:0 --key "$T/missing.key" > /dev/null 2> "$T/u4.err"
[ $? -eq 1 ] && grep -q "missing.key" "$T/u4.err" || fail "missing key file: $(cat "$T/u4.err")"
echo "PASS"
