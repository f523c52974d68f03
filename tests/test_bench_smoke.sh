#!/usr/bin/env bash
# The benchmark's smoke run: every system `truflux bench` can run here does one tiny row
# (and one 1 MB row, for the large-message paths), so a broken peer program, a changed
# command-line contract or a crash in a truflux role fails `make test`. Speed is never
# asserted: only that each system ran, echoed what it was sent, and was reported.
#
# Which systems must run (the rule), from `truflux bench --list`:
#   - REQUIRED, always (also under CI): `truflux-tcp`, every other truflux system that this
#     build of the library has, and the three floors (plain, AES-GCM on mbedTLS and on
#     OpenSSL). They need only what scripts/install-deps installs (the library's
#     dependencies, libssl-dev and the openssl command, which makes the TLS certificate):
#     one that cannot run means the build is broken: FAIL. A truflux system the library of
#     this build does not have (status "absent": a transport not landed or not compiled in)
#     is not claimed: SKIP.
#   - OPTIONAL: the peers (ZeroMQ, NNG, Node ws). Their packages come from
#     scripts/bench-deps, which `make bench` runs and `make test` does not. One whose package
#     is not installed (status "missing") is SKIPPED, with CI set or not.
#   Every system that is "ok" must then run and be reported correctly, or FAIL.
# The time limit of one sample is short: a hang is a failure, not a slow pass.
set -euo pipefail
# In a sanitizer build the comparison programs (floors, peers) are instrumented too; their
# one-shot buffers are not the library's to account for. The library's leaks are checked by
# every other test of that build.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

BIN=${TRUFLUX_BIN:-${TRUFLUX_BUILD_DIR:-build}/tools/truflux}
T=$(mktemp -d "${TMPDIR:-/tmp}/tfbench-smoke.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[[ -x $BIN ]] || fail "no truflux binary at $BIN"

# --- usage ------------------------------------------------------------------------------
timeout 10 "$BIN" bench --help >"$T/help" || fail "bench --help exit status"
grep -q '^usage: truflux bench' "$T/help" || fail "bench --help prints no usage"
set +e
timeout 10 "$BIN" bench --no-such-option >/dev/null 2>&1
rc=$?
timeout 10 "$BIN" bench --systems no-such-system >/dev/null 2>&1
rc2=$?
timeout 10 "$BIN" bench --rows 64xfoo >/dev/null 2>&1
rc3=$?
set -e
((rc == 2 && rc2 == 2 && rc3 == 2)) || fail "usage errors exit $rc, $rc2, $rc3 (want 2)"

# --- which systems ----------------------------------------------------------------------
timeout 60 "$BIN" bench --list >"$T/list" || fail "bench --list exit status"
run=()
while IFS=$'\t' read -r name kind status _; do
  required=0
  [[ $kind == truflux || $kind == floor ]] && required=1
  if [[ $status == ok ]]; then
    run+=("$name")
  elif [[ $kind == truflux && $status == absent:* && $name != truflux-tcp ]]; then
    echo "SKIP $name (${status#absent: })"
  elif ((required)); then
    fail "required system $name cannot run: $status"
  else
    echo "SKIP $name (${status#missing: }; scripts/bench-deps installs it)"
  fi
done <"$T/list"
grep -q $'^truflux-tcp\ttruflux\tok' "$T/list" || fail "truflux-tcp is not listed as runnable"
systems=$(IFS=,; echo "${run[*]}")
echo "systems: $systems${CI:+ (CI=$CI)}"

# --- one tiny row per system ------------------------------------------------------------
timeout 110 "$BIN" bench --systems "$systems" --rows 64x20,1Mx2 --reps 1 --timeout 20 --json \
  >"$T/out.json" 2>"$T/err" || { cat "$T/err" >&2; fail "bench exit status"; }
python3 - "$T/out.json" "$systems" <<'EOF' || fail "the report is wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
want = sys.argv[2].split(",")
assert doc["reps"] == 1, doc["reps"]
assert [r["row"] for r in doc["rows"]] == ["64x20", "1Mx2"], [r["row"] for r in doc["rows"]]
for row in doc["rows"]:
    got = {s["system"]: s for s in row["systems"]}
    assert sorted(got) == sorted(want), (sorted(got), sorted(want))
    for name, s in got.items():
        assert s["ok"], (row["row"], name, s.get("error"))
        assert s["seconds"] > 0 and s["cpu_seconds"] >= 0, (name, s)
        assert abs(s["mb_per_s"] - row["size"] * row["count"] / s["seconds"] / 1048576) < 1e-6 * s["mb_per_s"] + 1e-9
        assert s["x_floor"] is not None and s["x_floor"] > 0, (name, s)
    assert got["floor"]["x_floor"] == 1.0
print("report ok:", len(want), "systems x", len(doc["rows"]), "rows")
EOF

# --- a sample that cannot finish in time is a failure, reported as one --------------------
set +e
timeout 60 "$BIN" bench --systems floor --rows 64x10000000 --reps 1 --timeout 0.2 --json \
  >"$T/slow.json" 2>/dev/null
rc=$?
set -e
((rc == 1)) || fail "a timed-out sample exits $rc (want 1)"
python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
s = doc["rows"][0]["systems"][0]
assert not s["ok"] and "no result" in s["error"], s
' "$T/slow.json" || fail "a timed-out sample is not reported as failed"

# --- scale: idle connections and fanout (plain TCP: the roles are the same for all) -------
timeout 60 "$BIN" bench --connections 200 --systems truflux-tcp --json >"$T/conn.json" ||
  fail "--connections"
timeout 60 "$BIN" bench --fanout 20 --messages 100 --loops 1,2 --systems truflux-tcp --json \
  >"$T/fan.json" || fail "--fanout"
python3 - "$T/conn.json" "$T/fan.json" <<'EOF' || fail "the scale report is wrong"
import json, sys
conn = json.load(open(sys.argv[1]))["results"]
fan = json.load(open(sys.argv[2]))["results"]
c = [r for r in conn if r["system"] == "truflux-tcp"][0]
assert c["ok"] and c["n"] == 200, c
assert c["server_rss_anon_kb"][1] > c["server_rss_anon_kb"][0], c
assert c["bytes_per_conn_rss_anon"] > 0, c
one = [r for r in fan if r["system"] == "truflux-tcp" and r["loops"] == 1][0]
assert one["ok"] and one["deliveries_per_s"] > 0 and one["messages"] == 100, one
two = [r for r in fan if r["loops"] == 2][0]
assert two["ok"] and two["deliveries_per_s"] > 0 and two["messages"] == 100, two
print("scale ok")
EOF

# --- file throughput: every truflux system and the floors move one small file --------------
timeout 120 "$BIN" bench --files 2M --reps 1 --timeout 30 --json >"$T/files.json" 2>"$T/ferr" ||
  { cat "$T/ferr" >&2; fail "bench --files exit status"; }
python3 - "$T/files.json" "$systems" <<'EOF' || fail "the file report is wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["file_size"] == 2 << 20, doc["file_size"]
got = {s["system"]: s for s in doc["systems"]}
want = [n for n in sys.argv[2].split(",") if n.startswith("truflux-") and "@" not in n]
want += ["truflux-tcp-nosendfile", "file-floor"]
for name in want:
    s = got[name]
    assert s["ok"], (name, s["error"])
    assert s["seconds"] > 0 and s["x_floor"] > 0, s
    if name.startswith("truflux-"):
        assert s["rtt_count"] >= 1, ("no message crossed while the file moved", s)
print("files ok:", len(want), "systems")
EOF

echo "bench smoke: PASS (${#run[@]} systems)"
