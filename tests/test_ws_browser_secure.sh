#!/usr/bin/env bash
# tests/test_ws_browser_secure.sh: headless Chromium (Debian's chromium, driven by npm's
# playwright-core) running the browser client's secure layer against `truflux serve --web`
# with security options (tests/browser/secure.test.mjs).
source "$(dirname "$0")/ws/lib.sh"
[ -x "$BIN" ] || fail "no truflux binary at $BIN"
need "Node.js" node --version
need_node_module playwright-core
need "Chromium (Debian package chromium)" test -x "${TRUFLUX_CHROMIUM:-/usr/bin/chromium}"
need_web_page
TRUFLUX_BIN=$BIN timeout 110 node --test "$SRC/tests/browser/secure.test.mjs"
