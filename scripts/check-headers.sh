#!/usr/bin/env bash
# CTest headers_c99: every public header compiles alone as strict C99 (DESIGN.md #2), and the
# umbrella header as strict C++17, both without a warning.
#   check-headers.sh INCLUDE_DIR [CC] [CXX]
set -euo pipefail

incdir=${1:?usage: check-headers.sh INCLUDE_DIR [CC] [CXX]}
cc=${2:-cc}
cxx=${3:-c++}
status=0
count=0

try() {  # try LABEL COMPILER ARGS... < source (not in a pipeline: it counts)
  local label=$1 out
  shift
  if ! out=$("$@" -fsyntax-only -I"$incdir" - 2>&1); then
    echo "FAIL: $label" >&2
    printf '%s\n' "$out" >&2
    status=1
  fi
  count=$((count + 1))
}

for h in "$incdir"/truflux/*.h; do
  name=truflux/$(basename "$h")
  # Included twice: the include guard must hold.
  try "$name (C99)" "$cc" -x c -std=c99 -Wall -Wextra -pedantic -Werror -Wstrict-prototypes \
    < <(printf '#include <%s>\n#include <%s>\n' "$name" "$name")
done
try "truflux/truflux.h (C++17)" "$cxx" -x c++ -std=c++17 -Wall -Wextra -pedantic -Werror \
  < <(printf '#include <truflux/truflux.h>\n')

((status == 0)) && echo "check-headers: $count compilations clean"
exit $status
