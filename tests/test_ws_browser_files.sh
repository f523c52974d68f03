#!/usr/bin/env bash
# tests/test_ws_browser_files.sh: headless Chromium (Debian's chromium, driven by npm's
# playwright-core): files from the page's file input to `truflux serve --web
# --accept-files DIR`, and a download to the browser client (tests/browser/files.test.mjs).
source "$(dirname "$0")/ws/lib.sh"
[ -x "$BIN" ] || fail "no truflux binary at $BIN"
HELPER=$BUILD/tests/test_files_ws
[ -x "$HELPER" ] || fail "no test_files_ws at $HELPER"
need "Node.js" node --version
need_node_module playwright-core
need "Chromium (Debian package chromium)" test -x "${TRUFLUX_CHROMIUM:-/usr/bin/chromium}"
need_web_page
TRUFLUX_BIN=$BIN TRUFLUX_FILES_WS=$HELPER timeout 110 node --test "$SRC/tests/browser/files.test.mjs"
