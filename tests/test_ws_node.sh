#!/usr/bin/env bash
# tests/test_ws_node.sh: the browser client in Node.js, with the `ws` package as its
# WebSocket, against `truflux serve --web` (tests/ws/node_client.test.mjs).
source "$(dirname "$0")/ws/lib.sh"
[ -x "$BIN" ] || fail "no truflux binary at $BIN"
need "Node.js" node --version
need_node_module ws
need_web_page
TRUFLUX_BIN=$BIN timeout 100 node --test "$SRC/tests/ws/node_client.test.mjs"
