#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build for a fixed time each (`make fuzz`).
#   run-fuzz.sh FUZZ_BUILD_DIR SECONDS
# Each target starts from a temporary copy of fuzz/corpus/<name>/ (the tree's corpus is never
# written), with fuzz/<name>.dict when present. A crash, leak, timeout or sanitizer report
# fails the run; its input is kept in FUZZ_BUILD_DIR/artifacts/ and the log's tail printed.
# All targets run even after a failure, so one report names every broken parser.
set -euo pipefail

builddir=${1:?usage: run-fuzz.sh FUZZ_BUILD_DIR SECONDS}
seconds=${2:?usage: run-fuzz.sh FUZZ_BUILD_DIR SECONDS}
srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=$(cd "$builddir" && pwd)
if [[ ! $seconds =~ ^[0-9]+$ ]]; then
  echo "run-fuzz: SECONDS must be a whole number, not '$seconds'" >&2
  exit 2
fi
# libFuzzer reads -max_total_time=0 as "no limit"; here 0 means "do not fuzz".
if ((seconds == 0)); then
  echo "run-fuzz: 0 seconds: fuzzing skipped"
  exit 0
fi

shopt -s nullglob
sources=("$srcdir"/fuzz/fuzz_*.cpp)
if ((${#sources[@]} == 0)); then
  echo "run-fuzz: no fuzz/fuzz_*.cpp targets; nothing to run"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/truflux-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$builddir/artifacts" "$builddir/logs"

failed=()
for src in "${sources[@]}"; do
  name=$(basename "$src" .cpp)
  bin="$builddir/fuzz/$name"
  log="$builddir/logs/$name.log"
  if [[ ! -x $bin ]]; then
    echo "run-fuzz: $name: not built ($bin)" >&2
    failed+=("$name")
    continue
  fi
  corpus="$work/$name"
  mkdir -p "$corpus"
  if [[ -d $srcdir/fuzz/corpus/$name ]]; then
    cp -R "$srcdir/fuzz/corpus/$name/." "$corpus/"
  fi
  seeds=$(find "$corpus" -type f | wc -l)
  args=(-max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$builddir/artifacts/$name-")
  [[ -f $srcdir/fuzz/$name.dict ]] && args+=(-dict="$srcdir/fuzz/$name.dict")

  start=$SECONDS
  if "$bin" "${args[@]}" "$corpus" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 || true)
    printf 'run-fuzz: %-28s ok   %3ss  %s runs  %s  (%s seeds -> %s inputs)\n' "$name" \
      $((SECONDS - start)) "${runs:-?}" "${cov:-cov: ?}" "$seeds" \
      "$(find "$corpus" -type f | wc -l)"
  else
    rc=$?
    echo "run-fuzz: $name FAILED (exit $rc) after $((SECONDS - start))s; log $log" >&2
    tail -n 40 "$log" >&2
    failed+=("$name")
  fi
done

if ((${#failed[@]})); then
  echo "run-fuzz: FAILED: ${failed[*]} (inputs in $builddir/artifacts/)" >&2
  exit 1
fi
echo "run-fuzz: all ${#sources[@]} targets ran ${seconds}s without a finding"
