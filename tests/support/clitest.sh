# tests/support/clitest.sh: sourced by the shell tests that drive the `truflux` CLI and the
# examples. A scratch directory $T, background processes in PIDS that never outlive the test
# (SIGTERM, at most 5 s, then SIGKILL), fail() showing the processes' stderr, wait_exit.
T=$(mktemp -d)
PIDS=()
# Ends a background `timeout CMD`: SIGTERM (which timeout passes on), at most 5 s to go, then
# SIGKILL to timeout's child and to timeout itself, so nothing outlives the test or hangs it.
stop_pid() {
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 1 25); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.2
    done
    pkill -KILL -P "$1" 2>/dev/null
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
cleanup() {
    for p in "${PIDS[@]}"; do
        stop_pid "$p"
    done
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.err; do [ -s "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }; done
    exit 1
}

# wait_exit PID SECONDS: waits for a background child of this shell and sets WAIT_RC to its
# exit status, or to 124 if it had to be killed after SECONDS.
wait_exit() {
    if timeout "$2" tail --pid="$1" -s 0.05 -f /dev/null; then
        wait "$1"
        WAIT_RC=$?
    else
        kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        WAIT_RC=124
    fi
}
