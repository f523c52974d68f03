#!/usr/bin/env bash
# The install test (`make install-test`, part of `make test`): installs a build into a fresh
# prefix and uses it the ways an outside project would.
#   test-install.sh [BUILD_DIR]   (default: build)
# Checks: headers and both libraries installed (and no internal header); the C consumer
# tests/install/app.c builds with pkg-config (shared, and static from Libs.private) and with
# find_package(truflux) (truflux::truflux and truflux::truflux_static), and runs; the
# installed CLI runs --help without LD_LIBRARY_PATH. Exits non-zero on any failure and
# keeps the temporary directory for inspection.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
if [[ ! -f $build/truflux-build.env ]]; then
  echo "test-install: $build is not a configured truflux build" >&2
  exit 2
fi
# TRUFLUX_VERSION, TRUFLUX_CLI (empty without the CLI target)
# shellcheck disable=SC1091
source "$build/truflux-build.env"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/truflux-install.XXXXXX")
prefix=$tmp/prefix
cleanup() {
  local rc=$?
  if ((rc == 0)); then rm -rf "$tmp"; else echo "test-install: FAILED; files kept in $tmp" >&2; fi
}
trap cleanup EXIT

say() { printf 'test-install: %s\n' "$*"; }
die() { printf 'test-install: %s\n' "$*" >&2; exit 1; }
# run LOG CMD...: quiet on success, the log on failure.
run() {
  local log=$1
  shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    die "failed: $*"
  fi
}

run "$tmp/install.log" cmake --install "$build" --prefix "$prefix"
say "installed into $prefix"

# Headers: every public one, identical, and nothing from lib/.
for h in "$src"/include/truflux/*.h; do
  cmp -s "$h" "$prefix/include/truflux/$(basename "$h")" ||
    die "header $(basename "$h") missing or different in $prefix/include/truflux"
done
stray=$(cd "$prefix/include" && find . -type f ! -path './truflux/*.h' ! -name '*.hpp')
[[ -z $stray ]] || die "unexpected files installed under include/: $stray"

# Libraries, wherever GNUInstallDirs put them (lib/ or lib/<multiarch>/).
so=$(find "$prefix" -name libtruflux.so -print -quit)
[[ -n $so && -e $so ]] || die "libtruflux.so not installed"
libdir=$(dirname "$so")
[[ -f $libdir/libtruflux.a ]] || die "libtruflux.a not installed beside $so"
soname=$(objdump -p "$so" | awk '$1 == "SONAME" { print $2 }')
[[ -n $soname && -e $libdir/$soname ]] || die "soname link ${soname:-?} missing in $libdir"
say "libraries in ${libdir#"$prefix"/}: libtruflux.so ($soname), libtruflux.a"

# pkg-config, shared then static.
pc=$(find "$prefix" -name truflux.pc)
[[ $(wc -l <<<"$pc") == 1 && -n $pc ]] || die "expected one truflux.pc, found: ${pc:-none}"
export PKG_CONFIG_PATH=$(dirname "$pc")
v=$(pkg-config --modversion truflux)
[[ $v == "$TRUFLUX_VERSION" ]] || die "truflux.pc says version $v, build is $TRUFLUX_VERSION"
pc_cflags=$(pkg-config --cflags truflux) || die "pkg-config --cflags truflux failed"
pc_libs=$(pkg-config --libs truflux) || die "pkg-config --libs truflux failed"
pc_static=$(pkg-config --static --libs truflux) || die "pkg-config --static --libs failed"
read -ra cflags <<<"$pc_cflags"
read -ra libs <<<"$pc_libs"
read -ra slibs <<<"$pc_static"
run "$tmp/cc-shared.log" cc -std=c99 -Wall -Wextra -pedantic -Werror \
  "$src/tests/install/app.c" "${cflags[@]}" "${libs[@]}" -o "$tmp/app-pc"
out=$(LD_LIBRARY_PATH=$libdir "$tmp/app-pc") || die "app (pkg-config, shared) failed"
say "pkg-config shared: $out"
# Static: the archive by file name, the rest from Libs.private / Requires.private.
slibs=("${slibs[@]/#-ltruflux/-l:libtruflux.a}")
run "$tmp/cc-static.log" cc -std=c99 "$src/tests/install/app.c" "${cflags[@]}" "${slibs[@]}" \
  -o "$tmp/app-pc-static"
if objdump -p "$tmp/app-pc-static" | grep -q 'NEEDED.*libtruflux'; then
  die "static pkg-config link still needs libtruflux.so"
fi
out=$("$tmp/app-pc-static") || die "app (pkg-config, static) failed"
say "pkg-config static: $out"
unset PKG_CONFIG_PATH

# CMake package: configured from the prefix alone; CMake's build RPATH must reach the
# installed library (no LD_LIBRARY_PATH).
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
run "$tmp/cmake-configure.log" cmake -S "$src/tests/install" -B "$tmp/consumer" "${gen[@]}" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
run "$tmp/cmake-build.log" cmake --build "$tmp/consumer"
ldd "$tmp/consumer/app" | grep -q "$libdir/libtruflux.so" ||
  die "find_package app does not load $libdir/libtruflux.so: $(ldd "$tmp/consumer/app" | grep truflux)"
out=$("$tmp/consumer/app") || die "app (find_package, truflux::truflux) failed"
say "find_package shared: $out"
out=$("$tmp/consumer/app_static") || die "app (find_package, truflux::truflux_static) failed"
say "find_package static: $out"

# The C++ wrapper, installed beside the C headers, compiles from the prefix alone.
shopt -s nullglob
for h in "$prefix"/include/*.hpp; do
  run "$tmp/cxx-$(basename "$h").log" c++ -std=c++17 -Wall -Wextra -fsyntax-only \
    -I"$prefix/include" -x c++ - <<<"#include <$(basename "$h")>"
  say "C++ header $(basename "$h") compiles"
done

# The CLI, when this build has one.
if [[ -n ${TRUFLUX_CLI:-} ]]; then
  [[ -x $prefix/bin/truflux ]] || die "bin/truflux not installed"
  run "$tmp/cli-help.log" env -u LD_LIBRARY_PATH "$prefix/bin/truflux" --help
  say "bin/truflux --help runs"
else
  say "no CLI target in this build; bin/truflux not checked"
fi
say "OK"
