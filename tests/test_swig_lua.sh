#!/usr/bin/env bash
# tests/test_swig_lua.sh: the Lua binding (bindings/swig, TRUFLUX_LUA) against `truflux
# serve`: each payload type, errors, an encrypted session, a file transfer, a Lua server,
# MessagePack, and examples/lua/echo_client.lua.
set -u

BUILD=${TRUFLUX_BUILD_DIR:-$(pwd)}
SRC=${TRUFLUX_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${TRUFLUX_BIN:-$BUILD/tools/truflux}
MOD=$BUILD/bindings/swig/lua/trufluxc.so
if grep -q '^TRUFLUX_LUA:BOOL=OFF' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    echo "test_swig_lua: skipped (TRUFLUX_LUA is OFF in this build)"
    exit 0
fi
[ -x "$BIN" ] || { echo "FAIL: no truflux binary at $BIN" >&2; exit 1; }
[ -f "$MOD" ] || { echo "FAIL: no Lua module at $MOD" >&2; exit 1; }
LUA=$(command -v lua5.4 || command -v lua) || { echo "FAIL: no lua5.4" >&2; exit 1; }

T=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        pkill -KILL -P "$p" 2>/dev/null
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [ -s "$T/serve.err" ] && { echo "--- serve.err" >&2; cat "$T/serve.err" >&2; }
    exit 1
}

for k in srv other; do timeout 10 "$BIN" keygen "$T/$k" >/dev/null || fail "keygen $k"; done
mkdir "$T/inbox"
# One server for every case: optional encryption (plain and pinned clients both get in) and
# files accepted into inbox/.
mkfifo "$T/serve.out"
exec 3<>"$T/serve.out"
timeout 90 "$BIN" serve --tcp 127.0.0.1:0 --secure optional --key "$T/srv.key" \
    --accept-files "$T/inbox" >"$T/serve.out" 2>"$T/serve.err" &
PIDS+=($!)
read -r -t 10 -u 3 line || fail "no output from truflux serve"
URL=${line##* }

export LUA_PATH="$SRC/bindings/swig/lua/?.lua;;"
export LUA_CPATH="$BUILD/bindings/swig/lua/?.so;;"
timeout 60 "$LUA" "$SRC/bindings/swig/lua/test/test_truflux.lua" "$URL" "$T/srv.pub" \
    "$T/other.pub" "$T/inbox" "$T" || fail "bindings/swig/lua/test/test_truflux.lua"

out=$(timeout 30 "$LUA" "$SRC/examples/lua/echo_client.lua" "$URL" hello 2>"$T/example.err") \
    || fail "examples/lua/echo_client.lua: $(cat "$T/example.err")"
want=$'text: hello\nvalue: text=hello length=5\nbinary: 5 bytes'
[ "$out" = "$want" ] || fail "examples/lua/echo_client.lua printed '$out'"
echo "test_swig_lua: passed"
