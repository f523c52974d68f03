// The browser client (bindings/js) running in Node.js with the `ws` package as its
// WebSocket, against the C server (`truflux serve --web`): every payload type both ways,
// broadcast, the fingerprint against the C library's (strict mode), local refusals,
// closing, and reconnecting across a server restart. Run by tests/test_ws_node.sh:
//   TRUFLUX_BIN=... node --test tests/ws/node_client.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { Client, Protocol, TrufluxError, errname } from '../../bindings/js/src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '../../bindings/js/'));
const WebSocket = require('ws');
const BIN = process.env.TRUFLUX_BIN;
const LIMIT = 10000;

// Starts `truflux serve --web PORT` and resolves with {proc, url} once it printed its URL.
function serve(port = 0) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ['serve', '--web', String(port), '--quiet', '--close-timeout', '1000'],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error('no URL from truflux serve')), LIMIT);
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = /^truflux web page on http:\/\/(.*)\/$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1].split(':').pop()), url: `ws://${m[1]}/truflux` });
      }
    });
    proc.on('error', reject);
  });
}

function stop(srv) {
  return new Promise((resolve) => {
    if (srv.proc.exitCode !== null) return resolve();
    srv.proc.on('exit', resolve);
    srv.proc.kill('SIGTERM');
  });
}

// Resolves when cond() holds, polling; rejects after LIMIT ms.
function until(cond, what) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = () => {
      if (cond()) return resolve();
      if (Date.now() - t0 > LIMIT) return reject(new Error('timed out waiting for ' + what));
      setTimeout(poll, 5);
    };
    poll();
  });
}

const protocol = () => new Protocol().add('echo').add('chat');

function connect(url, proto = protocol(), opts = {}) {
  const c = new Client({ url, protocol: proto, WebSocket, ...opts });
  c.got = [];
  c.errs = [];
  c.closes = [];
  c.opens = 0;
  c.onOpen = () => c.opens++;
  c.onMessage = (name, data) => c.got.push([name, data]);
  c.onErr = (e) => c.errs.push(e);
  c.onClose = (code, remote) => c.closes.push([code, remote]);
  return c.open();
}

let srv;
before(async () => {
  assert.ok(BIN, 'TRUFLUX_BIN names the truflux CLI');
  srv = await serve();
});
after(async () => srv && stop(srv));

test('every payload type comes back with its type', async () => {
  const c = connect(srv.url);
  await until(() => c.isOpen, 'open');
  const big = new Uint8Array(2 << 20).map((_, i) => (i * 7) & 255);
  const values = [
    'héllo ✓', '', undefined, new Uint8Array([0, 255, 16, 128]), big,
    { a: [1, -1, -200, 70000, 2 ** 40, -(2 ** 40), 1.5, null, true, false], s: 'x'.repeat(300) },
    [[[['nested']]]], 2n ** 63n, new Map([['k', 'v']]),
  ];
  for (const v of values) c.send('echo', v);
  c.send('echo', new Blob([new Uint8Array([9, 8, 7])]));
  c.send('echo', 'after the blob');
  await until(() => c.got.length === values.length + 2, 'the echoes');
  const data = c.got.map(([, d]) => d);
  assert.equal(data[0], 'héllo ✓');
  assert.equal(data[1], '');
  assert.equal(data[2], undefined);
  assert.deepEqual(new Uint8Array(data[3]), new Uint8Array([0, 255, 16, 128]));
  assert.ok(data[4] instanceof ArrayBuffer);
  assert.deepEqual(new Uint8Array(data[4]), big);
  assert.deepEqual(data[5], values[5]);
  assert.deepEqual(data[6], [[[['nested']]]]);
  assert.equal(data[7], 2n ** 63n);
  assert.deepEqual(data[8], { k: 'v' });
  assert.deepEqual(new Uint8Array(data[9]), new Uint8Array([9, 8, 7]));
  assert.equal(data[10], 'after the blob');  // order kept behind the Blob
  assert.deepEqual(c.errs, []);
  c.close();
  await until(() => c.closes.length === 1, 'close');
  assert.deepEqual(c.closes[0], [0, false]);
});

test('chat is broadcast to the other clients only', async () => {
  const a = connect(srv.url), b = connect(srv.url), d = connect(srv.url);
  await until(() => a.isOpen && b.isOpen && d.isOpen, 'three opens');
  a.send('chat', { name: 'a', text: 'hi all' });
  await until(() => b.got.length === 1 && d.got.length === 1, 'the broadcast');
  assert.deepEqual(b.got[0], ['chat', { name: 'a', text: 'hi all' }]);
  assert.deepEqual(d.got[0], ['chat', { name: 'a', text: 'hi all' }]);
  a.send('echo', 'marker');
  await until(() => a.got.length === 1, 'the marker');
  assert.deepEqual(a.got, [['echo', 'marker']]);  // no chat echoed to its sender
  for (const c of [a, b, d]) c.close();
  await until(() => a.closes.length && b.closes.length && d.closes.length, 'closes');
});

test('the fingerprint equals the C library\'s: strict mode opens', async () => {
  const c = connect(srv.url, protocol(), { strict: true });
  await until(() => c.isOpen || c.closes.length, 'open');
  assert.ok(c.isOpen, c.errs.map(String).join());
  c.close();
  await until(() => c.closes.length, 'close');
  const other = connect(srv.url, protocol().add('extra'), { strict: true });
  await until(() => other.closes.length, 'refusal');
  assert.equal(errname(other.closes[0][0]), 'EFINGERPRINT');
  assert.equal(other.opens, 0);
});

test('local refusals throw and send nothing', async () => {
  const proto = protocol().add('extra').add('texts', { types: ['text'], max: 4 });
  const c = connect(srv.url, proto);
  await until(() => c.isOpen, 'open');
  const code = (fn) => { try { fn(); } catch (e) { assert.ok(e instanceof TrufluxError); return e.code; } };
  assert.equal(code(() => c.send('nope', 1)), 'ENOTFOUND');
  assert.equal(code(() => c.send('extra', 1)), 'EPEERUNKNOWN');
  assert.equal(code(() => c.send('texts', new Uint8Array(1))), 'ESCHEMA');
  assert.equal(code(() => c.send('texts', 'toolong')), 'EMSGSIZE');
  assert.ok(!c.peerKnows('extra') && c.peerKnows('echo'));
  c.send('echo', 'still fine');
  await until(() => c.got.length === 1, 'echo');
  c.close();
  await until(() => c.closes.length, 'close');
  assert.equal(code(() => c.send('echo', 'late')), 'ECLOSED');
});

test('reconnects after the server restarts, and queues while away', async () => {
  const one = await serve();
  const c = connect(one.url, protocol(), { reconnect: true, reconnectMin: 50, reconnectMax: 200 });
  await until(() => c.opens === 1, 'first open');
  await stop(one);
  await until(() => c.closes.length === 1, 'the shutdown close');
  assert.equal(errname(c.closes[0][0]), 'ESHUTDOWN');
  assert.equal(c.closes[0][1], true);
  c.send('echo', 'queued while away');
  const two = await serve(one.port);
  try {
    await until(() => c.opens === 2, 'second open');
    await until(() => c.got.length === 1, 'the queued echo');
    assert.deepEqual(c.got[0], ['echo', 'queued while away']);
    c.close();
    await until(() => c.closes.length === 2, 'final close');
    assert.deepEqual(c.closes[1], [0, false]);
  } finally {
    await stop(two);
  }
});
