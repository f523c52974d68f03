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

. "${TRUFLUX_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}/tests/support/swig_serve.sh"
start_serve 90

export LUA_PATH="$SRC/bindings/swig/lua/?.lua;;"
export LUA_CPATH="$BUILD/bindings/swig/lua/?.so;;"
timeout 60 "$LUA" "$SRC/bindings/swig/lua/test/test_truflux.lua" "$URL" "$T/srv.pub" \
    "$T/other.pub" "$T/inbox" "$T" || fail "bindings/swig/lua/test/test_truflux.lua"

out=$(timeout 30 "$LUA" "$SRC/examples/lua/echo_client.lua" "$URL" hello 2>"$T/example.err") \
    || fail "examples/lua/echo_client.lua: $(cat "$T/example.err")"
want=$'text: hello\nvalue: text=hello length=5\nbinary: 5 bytes'
[ "$out" = "$want" ] || fail "examples/lua/echo_client.lua printed '$out'"
echo "test_swig_lua: passed"
