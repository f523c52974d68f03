#!/usr/bin/env bash
# No heap allocation per message on the hot path: `truflux bench --allocs` counts malloc
# calls (an LD_PRELOAD counter) in each process of an echo run of N and of 3N roundtrips; the
# difference over 2N is what a message costs.
# - 64 B (1000 and 3000 roundtrips): plain TCP, WebSocket, TLS, wss and the secure layer
#   (both ciphers) must each cost nothing on either side, once the connection is warm.
# - 128 KiB over tls and wss (300 and 900): a large message with nothing queued never enters
#   the queue (the TLS stream seals it from the sender's memory, batch by batch, in its loop
#   thread's batch buffer; over wss behind the WebSocket header): neither side may allocate
#   per message.
# Not registered in sanitizer builds: their runtimes own malloc.
set -euo pipefail
BIN=${TRUFLUX_BIN:-${TRUFLUX_BUILD_DIR:-build}/tools/truflux}
T=$(mktemp -d "${TMPDIR:-/tmp}/tfallocs.XXXXXX")
trap 'rm -rf "$T"' EXIT
[[ -x $BIN ]] || { echo "FAIL: no truflux binary at $BIN" >&2; exit 1; }

# check LABEL LIMIT SYSTEMS [bench arguments...]: fails above LIMIT allocations per roundtrip
# (a stray allocation over the difference is noise; one per message is 1.0).
check() {
    local label=$1 limit=$2 systems=$3
    shift 3
    timeout 300 "$BIN" bench --allocs --systems "$systems" "$@" --json >"$T/out.json"
    python3 - "$T/out.json" "$systems" "$label" "$limit" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
want, label, limit = sys.argv[2].split(","), sys.argv[3], float(sys.argv[4])
rows = {r["system"]: r for r in doc["per_roundtrip"]["allocs"]}
bad = []
for name in want:
    r = rows.get(name)
    if r is None or not r.get("ok"):
        bad.append(f"{name} {label}: not measured ({r})")
        continue
    for side in ("client", "server"):
        n = r[side]["allocs"]
        if n > limit:
            bad.append(f"{name} {label} {side}: {n:.2f} allocations per roundtrip")
        print(f"{name:24s} {label:6s} {side}: {n:.2f} allocations per roundtrip")
if bad:
    print("FAIL:", *bad, sep="\n  ", file=sys.stderr)
    sys.exit(1)
PY
}

check 64B 0.05 truflux-tcp,truflux-ws,truflux-tcp-aesgcm,truflux-tcp-chachapoly,truflux-tls,truflux-wss
check 128KiB 0.1 truflux-tls,truflux-wss --rows 128kx300
