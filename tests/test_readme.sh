#!/usr/bin/env bash
# The README's C and C++ quickstarts compile and link against this build as written, so the
# first code a new user copies stays true.
set -euo pipefail
src=${TRUFLUX_SOURCE_DIR:?} lib=${TRUFLUX_LIB:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Writes the N-th fenced block of language LANG to a file.
extract() {  # lang out
    awk -v lang="$1" '
        $0 == "```" lang { inside = 1; n++; next }
        inside && $0 == "```" { inside = 0; next }
        inside && n == 1 { print }
    ' "$src/README.md" >"$2"
    [ -s "$2" ] || { echo "test_readme: no \`\`\`$1 block in README.md" >&2; exit 1; }
}

extract c "$tmp/quick.c"
extract cpp "$tmp/quick.cpp"
libdir=$(dirname "$lib")
# A sanitizer build's library needs the same runtime in the program that links it.
san=""
if nm -D "$lib" | grep -q " U __asan_"; then san="-fsanitize=address,undefined"; fi
if nm -D "$lib" | grep -q " U __tsan_"; then san="-fsanitize=thread"; fi
cc $san -std=c99 -Wall -Wextra -Werror -pedantic -I"$src/include" "$tmp/quick.c" \
    -L"$libdir" -l:"$(basename "$lib")" -o "$tmp/quick_c"
c++ $san -std=c++17 -Wall -Wextra -Werror -I"$src/include" -I"$src/cpp" "$tmp/quick.cpp" \
    -L"$libdir" -l:"$(basename "$lib")" -o "$tmp/quick_cpp"
echo "test_readme: 2 passed, 0 failed"
