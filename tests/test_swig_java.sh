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

. "${TRUFLUX_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}/tests/support/swig_serve.sh"
start_serve 110

# Bounded heap and no JIT warm-up beyond the first tier: the tests are short.
timeout 100 "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -Djava.library.path="$J" \
    -cp "$J/truflux.jar:$J/truflux-tests.jar" TrufluxTest "$URL" "$T/srv.pub" \
    "$T/other.pub" "$T/inbox" "$T" || fail "TrufluxTest"
echo "test_swig_java: passed"
