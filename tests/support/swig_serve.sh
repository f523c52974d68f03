# tests/support/swig_serve.sh: what the Java and Lua binding tests share, sourced after they
# set BIN. Makes $T (removed at exit with every process in PIDS), fail(), two key pairs
# ($T/srv.*, $T/other.*), and start_serve SECONDS: one `truflux serve` for every case, with
# optional encryption (plain and pinned clients both get in) and files accepted into
# $T/inbox; sets URL to the address it listens on.

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

start_serve() {
    local line
    for k in srv other; do timeout 10 "$BIN" keygen "$T/$k" >/dev/null || fail "keygen $k"; done
    mkdir "$T/inbox"
    mkfifo "$T/serve.out"
    exec 3<>"$T/serve.out"
    timeout "$1" "$BIN" serve --tcp 127.0.0.1:0 --secure optional --key "$T/srv.key" \
        --accept-files "$T/inbox" >"$T/serve.out" 2>"$T/serve.err" &
    PIDS+=($!)
    read -r -t 10 -u 3 line || fail "no output from truflux serve"
    URL=${line##* }
}
