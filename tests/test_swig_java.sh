#!/usr/bin/env bash
# tests/test_swig_java.sh: the Java binding (bindings/swig, TRUFLUX_JAVA) against `truflux
# serve`, in one JVM (bindings/swig/java/test/TrufluxTest.java): each payload type, the
# error classes, an encrypted session, a file transfer, a Java server, MessagePack, and
# examples/java/EchoClient.
set -u

BUILD=${TRUFLUX_BUILD_DIR:-$(pwd)}
BIN=${TRUFLUX_BIN:-$BUILD/tools/truflux}
J=$BUILD/bindings/swig/java
if grep -q '^TRUFLUX_JAVA:BOOL=OFF' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    echo "test_swig_java: skipped (TRUFLUX_JAVA is OFF in this build)"
    exit 0
fi
[ -x "$BIN" ] || { echo "FAIL: no truflux binary at $BIN" >&2; exit 1; }
for f in truflux.jar truflux-tests.jar libtruflux_jni.so; do
    [ -f "$J/$f" ] || { echo "FAIL: no $J/$f" >&2; exit 1; }
done
JAVA=${JAVA:-$(command -v java)} || { echo "FAIL: no java" >&2; exit 1; }

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
mkfifo "$T/serve.out"
exec 3<>"$T/serve.out"
timeout 110 "$BIN" serve --tcp 127.0.0.1:0 --secure optional --key "$T/srv.key" \
    --accept-files "$T/inbox" >"$T/serve.out" 2>"$T/serve.err" &
PIDS+=($!)
read -r -t 10 -u 3 line || fail "no output from truflux serve"
URL=${line##* }

# Bounded heap and no JIT warm-up beyond the first tier: the tests are short.
timeout 100 "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -Djava.library.path="$J" \
    -cp "$J/truflux.jar:$J/truflux-tests.jar" TrufluxTest "$URL" "$T/srv.pub" \
    "$T/other.pub" "$T/inbox" "$T" || fail "TrufluxTest"
echo "test_swig_java: passed"
