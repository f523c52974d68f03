#!/usr/bin/env bash
# tests/test_ws_files.sh: file transfer in the browser client, in Node.js with the `ws`
# package, against `truflux serve --web --accept-files` and the C file server of
# tests/test_files_ws.cpp (tests/ws/node_files.test.mjs), and against a scripted peer
# (tests/ws/node_files_peer.test.mjs).
source "$(dirname "$0")/ws/lib.sh"
[ -x "$BIN" ] || fail "no truflux binary at $BIN"
HELPER=$BUILD/tests/test_files_ws
[ -x "$HELPER" ] || fail "no test_files_ws at $HELPER"
need "Node.js" node --version
need_node_module ws
need_web_page
TRUFLUX_BIN=$BIN TRUFLUX_FILES_WS=$HELPER timeout 100 node --test "$SRC/tests/ws/node_files.test.mjs" \
    "$SRC/tests/ws/node_files_peer.test.mjs"
