#!/usr/bin/env bash
# ABI check of libtruflux.so (CTest abi_exports / abi_complete).
#   check-exports.sh LIB              fails if the library exports any symbol outside tf_* and
#                                     truflux_* (the C API is the whole ABI: DESIGN.md #2)
#   check-exports.sh LIB INCLUDE_DIR  also fails if a function declared TRUFLUX_API in the
#                                     public headers is not exported (declared, not built)
set -euo pipefail

lib=${1:?usage: check-exports.sh LIB [INCLUDE_DIR]}
incdir=${2:-}
[[ -f $lib ]] || { echo "check-exports: no such library: $lib" >&2; exit 2; }

# Defined dynamic symbols, without version suffixes (name@@VER).
mapfile -t exported < <(nm -D --defined-only "$lib" | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' | sort -u)
if ((${#exported[@]} == 0)); then
  echo "check-exports: $lib exports nothing" >&2
  exit 1
fi

status=0
if [[ -z $incdir ]]; then
  bad=()
  for sym in "${exported[@]}"; do
    case $sym in
      tf_* | truflux_*) ;;
      # Linker-defined section markers, not ours.
      _init | _fini | _edata | _end | __bss_start | __bss_start__ | __bss_end__ | _bss_end__ \
        | __end__ | __data_start | data_start | _DYNAMIC | _GLOBAL_OFFSET_TABLE_) ;;
      *) bad+=("$sym") ;;
    esac
  done
  if ((${#bad[@]})); then
    echo "check-exports: $lib exports ${#bad[@]} symbol(s) outside tf_*/truflux_*:" >&2
    printf '  %s\n' "${bad[@]}" | head -50 >&2
    status=1
  else
    echo "check-exports: ${#exported[@]} symbols, all tf_*/truflux_*"
  fi
else
  # Declarations: join lines, drop preprocessor lines, take the identifier before '('.
  mapfile -t declared < <(grep -hv '^[[:space:]]*#' "$incdir"/truflux/*.h | tr '\n' ' ' |
    grep -oE 'TRUFLUX_API[^;(]*\(' |
    sed -E 's/^.*[^A-Za-z0-9_]([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\($/\1/' | sort -u)
  missing=$(comm -23 <(printf '%s\n' "${declared[@]}") <(printf '%s\n' "${exported[@]}"))
  if [[ -n $missing ]]; then
    echo "check-exports: declared in $incdir but not exported by $lib:" >&2
    sed 's/^/  /' <<<"$missing" >&2
    status=1
  else
    echo "check-exports: all ${#declared[@]} declared functions are exported"
  fi
fi
exit $status
