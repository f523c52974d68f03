#!/usr/bin/env bash
# No heap allocation per message on the hot path: `truflux bench --allocs` counts malloc
# calls (an LD_PRELOAD counter) in each process of a 64 B echo run of 1000 and of 3000
# roundtrips; the difference over 2000 is what a message costs. Plain TCP, WebSocket, TLS, wss and the
# secure layer (both ciphers) must each cost nothing on either side, once the connection is
# warm. Not registered in sanitizer builds: their runtimes own malloc.
set -euo pipefail
BIN=${TRUFLUX_BIN:-${TRUFLUX_BUILD_DIR:-build}/tools/truflux}
T=$(mktemp -d "${TMPDIR:-/tmp}/tfallocs.XXXXXX")
trap 'rm -rf "$T"' EXIT
[[ -x $BIN ]] || { echo "FAIL: no truflux binary at $BIN" >&2; exit 1; }

systems=truflux-tcp,truflux-ws,truflux-tcp-aesgcm,truflux-tcp-chachapoly,truflux-tls,truflux-wss
timeout 300 "$BIN" bench --allocs --systems "$systems" --json >"$T/out.json"
python3 - "$T/out.json" "$systems" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
want = sys.argv[2].split(",")
rows = {r["system"]: r for r in doc["per_roundtrip"]["allocs"]}
bad = []
for name in want:
    r = rows.get(name)
    if r is None or not r.get("ok"):
        bad.append(f"{name}: not measured ({r})")
        continue
    for side in ("client", "server"):
        n = r[side]["allocs"]
        # A stray allocation in 2000 roundtrips is noise; one per message is 1.0.
        if n > 0.05:
            bad.append(f"{name} {side}: {n:.2f} allocations per roundtrip")
        print(f"{name:24s} {side}: {n:.2f} allocations per roundtrip")
if bad:
    print("FAIL:", *bad, sep="\n  ", file=sys.stderr)
    sys.exit(1)
PY
