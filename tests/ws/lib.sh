# tests/ws/lib.sh: shared by the WebSocket test scripts (sourced). Starting servers that
# print their port, cleaning up by process id, and the rule for missing peers: a test
# whose peer (Node.js, an npm package, Python's websockets, Chromium) is missing is skipped,
# except under CI (CI set), where it fails.
set -u
SRC=${TRUFLUX_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${TRUFLUX_BUILD_DIR:-$(pwd)}
BIN=${TRUFLUX_BIN:-$BUILD/tools/truflux}
JS=$SRC/bindings/js
PY=/usr/bin/python3   # Debian's python3-websockets lives there, not in other interpreters
T=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.err; do [ -s "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
    exit 1
}

# need WHAT COMMAND...: runs COMMAND (quietly); when it fails, skip or (under CI) fail.
need() {
    local what=$1
    shift
    if ! "$@" >/dev/null 2>&1; then
        if [ -n "${CI:-}" ]; then
            fail "$what is missing (required under CI; scripts/install-deps installs it)"
        fi
        echo "skipped: $what is missing (scripts/install-deps installs it)"
        exit 0
    fi
}

# The page and browser client are embedded only when esbuild was there at build time.
need_web_page() {
    need "the web page in this build (npm ci in bindings/js, then rebuild)" \
        test -f "$BUILD/tools/web/truflux.min.js"
}

need_node_module() { need "npm package $1 (npm ci in bindings/js)" test -f "$JS/node_modules/$1/package.json"; }

# start NAME PATTERN COMMAND...: runs COMMAND in the background, waits (bounded) for a
# stdout line matching the extended regex PATTERN and sets PORT from its last number.
start() {
    local name=$1 pattern=$2
    shift 2
    "$@" >"$T/$name.out" 2>"$T/$name.err" &
    PIDS+=($!)
    local i line=""
    for i in $(seq 1 200); do
        line=$(grep -E -m1 "$pattern" "$T/$name.out" 2>/dev/null || true)
        [ -n "$line" ] && break
        kill -0 "${PIDS[-1]}" 2>/dev/null || fail "$name exited early"
        sleep 0.05
    done
    [ -n "$line" ] || fail "$name printed no line matching $pattern"
    PORT=$(echo "$line" | grep -oE '[0-9]+' | tail -1)
}

# stop_last: stops the most recently started server.
stop_last() {
    local p=${PIDS[-1]}
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    unset 'PIDS[-1]'
}
