#!/usr/bin/env bash
# tests/test_js_size.sh: the browser client, with encryption and files, stays within its
# budget of 8 KiB gzipped (gzip -9), both builds (classic script and ES module), and the
# page serves exactly that build.
source "$(dirname "$0")/ws/lib.sh"
need_web_page
BUDGET=8192
for f in truflux.min.js truflux.min.mjs; do
    path=$BUILD/tools/web/$f
    size=$(gzip -9 -c "$path" | wc -c)
    echo "$f: $(wc -c <"$path") bytes, $size gzipped (budget $BUDGET)"
    [ "$size" -le "$BUDGET" ] || fail "$f is $size bytes gzipped, over the budget of $BUDGET"
    # The bundle is the whole client: encryption and files are in it, not left out to fit.
    for word in AES-GCM X25519 sendFile onFile; do
        grep -q "$word" "$path" || fail "$f lacks $word"
    done
done
