#!/usr/bin/env bash
# tests/test_ws_secure.sh: the browser client's secure layer in Node.js (globalThis.crypto's
# X25519 and AES-GCM) against `truflux serve --web` with its security options
# (tests/ws/node_secure.test.mjs).
source "$(dirname "$0")/ws/lib.sh"
[ -x "$BIN" ] || fail "no truflux binary at $BIN"
need "Node.js" node --version
need "Node.js whose WebCrypto has X25519" node --input-type=module -e \
    "await (globalThis.crypto ?? (await import('node:crypto')).webcrypto).subtle.generateKey({name:'X25519'},true,['deriveBits'])"
need_node_module ws
need_web_page
TRUFLUX_BIN=$BIN timeout 100 node --test "$SRC/tests/ws/node_secure.test.mjs"
