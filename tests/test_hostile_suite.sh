#!/usr/bin/env bash
# tests/test_hostile_suite.sh: the hostile-peer suite (tests/hostile/hostile.py, the cases in
# tests/hostile/README.md) against this build's `truflux serve`: malformed and malicious
# inputs over TCP, TLS, WebSocket, the secure layer and file transfer, each answered with its
# documented code while other clients keep being served. In the sanitizer build the servers'
# standard error is where LeakSanitizer reports at exit: the driver fails on any report.
set -u
BUILD=${TRUFLUX_BUILD_DIR:-$(pwd)}
SRC=${TRUFLUX_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${TRUFLUX_BIN:-$BUILD/tools/truflux}
[ -x "$BIN" ] || { echo "FAIL: no truflux binary at $BIN" >&2; exit 1; }
command -v openssl > /dev/null || { echo "FAIL: no openssl binary (TLS certificates)" >&2; exit 1; }

# Sanitized servers run slower: the driver stretches its waits (not its slowloris timing).
if [ -n "${ASAN_OPTIONS:-}${UBSAN_OPTIONS:-}" ]; then
    export HOSTILE_SLOW=3
fi
exec timeout -k 5 110 python3 "$SRC/tests/hostile/hostile.py" --bin "$BIN"
