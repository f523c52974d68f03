#!/usr/bin/env bash
# Memory an idle connection holds in the server: `truflux bench --connections 1000` for each
# transport (TCP, WebSocket, the secure layer with both ciphers, TLS, wss) reports the bytes
# the server's allocator handed out and did not take back, per connection (mallinfo2, one
# arena). Each must stay under 4 KiB, the goal for 50 000 connections on one machine (docs/
# PERFORMANCE.md, "Scale"); the OpenSSL build runs it too, whose cipher contexts alone were
# over it while a key held them idle. Not registered in sanitizer builds: their runtimes own
# malloc.
set -euo pipefail
BIN=${TRUFLUX_BIN:-${TRUFLUX_BUILD_DIR:-build}/tools/truflux}
T=$(mktemp -d "${TMPDIR:-/tmp}/tfidle.XXXXXX")
trap 'rm -rf "$T"' EXIT
[[ -x $BIN ]] || { echo "FAIL: no truflux binary at $BIN" >&2; exit 1; }

systems=truflux-tcp,truflux-ws,truflux-tcp-aesgcm,truflux-tcp-chachapoly,truflux-tls,truflux-wss
timeout 600 "$BIN" bench --connections 1000 --systems "$systems" --json >"$T/out.json"
python3 - "$T/out.json" "$systems" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
want = sys.argv[2].split(",")
rows = {r["system"]: r for r in doc["results"]}
bad = []
for name in want:
    r = rows.get(name)
    if r is None or not r.get("ok"):
        bad.append(f"{name}: not measured ({r})")
        continue
    n = r["bytes_per_conn_heap_in_use"]
    print(f"{name:24s} {n:7.0f} B in use per idle connection")
    if n is None or n >= 4096:
        bad.append(f"{name}: {n} B per idle connection (the goal: under 4096)")
if bad:
    print("FAIL:", *bad, sep="\n  ", file=sys.stderr)
    sys.exit(1)
PY
