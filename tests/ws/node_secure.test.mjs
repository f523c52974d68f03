// The browser client's secure layer (bindings/js/src/secure.js) in Node.js against the C
// server (`truflux serve --web` with its security options): NN and NK sessions with every
// payload type both ways, the opening held until the handshake, a wrong pin (EPIN), a client
// key refused (ENOTSUP: the browser client has no XX or IK), policies against a server
// without the layer (ENOTSECURE), rekeying crossed both ways, a tap on the WebSocket that sees
// no payload in clear, and a reconnect that runs a new handshake. Run by tests/test_ws_secure.sh:
//   TRUFLUX_BIN=... node --test tests/ws/node_secure.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { Client, Protocol, TrufluxError } from '../../bindings/js/src/index.js';

// Node.js 18 (Debian 12's) has WebCrypto, but not as a global: the client looks there.
globalThis.crypto ??= (await import('node:crypto')).webcrypto;

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '../../bindings/js/'));
const WebSocket = require('ws');
const BIN = process.env.TRUFLUX_BIN;
const LIMIT = 10000;
const servers = [];
let dir, keys;

// Starts `truflux serve --web PORT ARGS...`; resolves {proc, port, url, log} once it printed
// its URL. log holds its standard error lines (it reports each secured connection there).
function serve(args, port = 0) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ['serve', '--web', String(port), '--close-timeout', '1000', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    const srv = { proc, log: [] };
    servers.push(srv);
    const timer = setTimeout(() => reject(new Error('no URL from truflux serve')), LIMIT);
    createInterface({ input: proc.stderr }).on('line', (l) => srv.log.push(l));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = /^truflux web page on http:\/\/(.*)\/$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Object.assign(srv, { port: Number(m[1].split(':').pop()), url: `ws://${m[1]}/truflux` }));
      }
    });
    proc.on('error', reject);
  });
}

function stop(srv) {
  return new Promise((resolve) => {
    if (srv.proc.exitCode !== null || srv.proc.signalCode !== null) return resolve();
    srv.proc.on('exit', resolve);
    srv.proc.kill('SIGTERM');
  });
}

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

// A WebSocket that keeps what crosses it, both ways, for the checks on the wire.
class Tap extends WebSocket {
  constructor(...a) {
    super(...a);
    this.wire = [];
    this.on('message', (d) => this.wire.push(['in', new Uint8Array(d)]));
  }

  send(d) {
    this.wire.push(['out', new Uint8Array(d)]);
    super.send(d);
  }
}

function connect(url, opts = {}) {
  const c = new Client({ url, protocol: new Protocol().add('echo').add('chat'), WebSocket: Tap, ...opts });
  Object.assign(c, { got: [], errs: [], closes: [], events: [] });
  c.onOpen = () => c.events.push('open');
  c.onSecure = (info) => c.events.push('secure ' + info.pattern);
  c.onMessage = (name, data) => c.got.push(data);
  c.onErr = (e) => c.errs.push(e);
  c.onClose = (code, remote) => c.closes.push([code, remote]);
  return c.open();
}

const contains = (hay, needle) => Buffer.from(hay).includes(Buffer.from(needle));

before(() => {
  assert.ok(BIN, 'TRUFLUX_BIN names the truflux CLI');
  dir = mkdtempSync(join(tmpdir(), 'truflux-secure-js-'));
  keys = {};
  for (const n of ['server', 'client', 'other']) {
    execFileSync(BIN, ['keygen', join(dir, n)], { stdio: 'ignore' });
    keys[n] = { key: readFileSync(join(dir, n + '.key'), 'utf8').trim(), pub: readFileSync(join(dir, n + '.pub'), 'utf8').trim() };
  }
  writeFileSync(join(dir, 'authorized'), keys.client.pub + '\n');
});
after(async () => {
  await Promise.all(servers.map(stop));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Every payload type both ways, in order, behind a Blob; then a graceful close.
async function roundTrip(c) {
  const big = new Uint8Array(300000).map((_, i) => (i * 13) & 255);
  const values = ['secret text ✓', '', undefined, new Uint8Array([0, 255, 16]), big,
    { list: [1, -2, 2 ** 40, 1.5, null, true], s: 'secret' }, 2n ** 63n];
  for (const v of values) c.send('echo', v);
  c.send('echo', new Blob([new Uint8Array([9, 8, 7])]));
  c.send('echo', 'after the blob');
  await until(() => c.got.length === values.length + 2, 'the echoes');
  assert.equal(c.got[0], 'secret text ✓');
  assert.equal(c.got[1], '');
  assert.equal(c.got[2], undefined);
  assert.deepEqual(new Uint8Array(c.got[3]), new Uint8Array([0, 255, 16]));
  assert.deepEqual(new Uint8Array(c.got[4]), big);
  assert.deepEqual(c.got[5], values[5]);
  assert.equal(c.got[6], 2n ** 63n);
  assert.deepEqual(new Uint8Array(c.got[7]), new Uint8Array([9, 8, 7]));
  assert.equal(c.got[8], 'after the blob');
  c.close();
  await until(() => c.closes.length === 1, 'close');
  assert.deepEqual(c.closes[0], [0, false]);
  assert.deepEqual(c.errs, []);
}

// After the hello exchange only NOISE (0x20) and RECORD (0x21) frames cross, and no message
// shows in clear: the tap sees every WebSocket message of the connection.
function checkWire(c, secret) {
  const wire = c.ws.wire;
  assert.ok(wire.length > 4);
  for (const [dir, m] of wire) {
    assert.ok(!contains(m, secret), dir + ' message shows the payload in clear');
    for (let at = 0; at < m.length;) {
      const kind = m[at], len = new DataView(m.buffer, m.byteOffset + at + 5, 4).getUint32(0);
      if (kind !== 1 && kind !== 2) assert.ok(kind === 0x20 || kind === 0x21, dir + ' kind ' + kind + ' in clear');
      at += 9 + len;
    }
  }
}

test('NN: required on both sides, held until the handshake, nothing in clear', async () => {
  const srv = await serve(['--secure', 'required']);
  const c = connect(srv.url, { secure: 'required' });
  c.send('echo', 'queued before the open');
  assert.equal(c.isOpen, false);
  await until(() => c.got.length === 1, 'the queued message');
  assert.deepEqual(c.events, ['secure NN', 'open']);  // the open waited for the handshake
  assert.equal(c.secure.pattern, 'NN');
  assert.equal(c.secure.cipher, 'AESGCM');
  assert.equal(c.secure.hash.length, 32);
  assert.equal(c.got.shift(), 'queued before the open');
  await roundTrip(c);
  checkWire(c, 'secret');
  await until(() => srv.log.some((l) => /secured with Noise NN, AESGCM/.test(l)), 'the server says secured');
});

test('NK: the pinned server key, every payload type both ways', async () => {
  const srv = await serve(['--key', join(dir, 'server.key')]);
  const c = connect(srv.url, { serverKey: keys.server.pub });
  await until(() => c.isOpen, 'open');
  assert.deepEqual(c.events, ['secure NK', 'open']);
  assert.equal(Buffer.from(c.secure.serverKey).toString('base64'), keys.server.pub);
  await roundTrip(c);
  checkWire(c, 'secret');
  // A Uint8Array key works as well as its base64.
  const d = connect(srv.url, { serverKey: new Uint8Array(Buffer.from(keys.server.pub, 'base64')) });
  await until(() => d.isOpen, 'open with a binary pin');
  d.close();
});

test('a wrong pinned key: EPIN, and nothing is sent', async () => {
  const srv = await serve(['--key', join(dir, 'server.key')]);
  const c = connect(srv.url, { serverKey: keys.other.pub });
  c.send('echo', 'must not leave');
  await until(() => c.closes.length === 1, 'the end');
  assert.equal(c.closes[0][0], 44);
  assert.ok(c.errs.length >= 1 && c.errs[0] instanceof TrufluxError);
  assert.equal(c.errs[0].code, 'EPIN');
  assert.equal(c.isOpen, false);
  assert.deepEqual(c.events, []);
  assert.ok(!c.ws.wire.some(([, m]) => contains(m, 'must not leave')));
});

test('a client key (XX, IK) is refused with ENOTSUP; a server authorising clients: ENOCIPHER', async () => {
  // The browser client speaks NN and NK only (docs/WEBSOCKET.md): a staticKey fails at once.
  for (const opts of [{ secure: 'required' }, { serverKey: keys.server.pub }]) {
    assert.throws(() => new Client({ url: 'ws://127.0.0.1:1/', protocol: new Protocol(), WebSocket: Tap,
      staticKey: keys.client.key, ...opts }), (e) => e instanceof TrufluxError && e.code === 'ENOTSUP' && e.errno === 25);
  }
  // A server that authorises clients needs XX or IK: this client cannot meet it.
  const srv = await serve(['--key', join(dir, 'server.key'), '--authorized-keys', join(dir, 'authorized')]);
  for (const opts of [{ secure: 'required' }, { serverKey: keys.server.pub }]) {
    const none = connect(srv.url, opts);
    await until(() => none.closes.length === 1, 'ENOCIPHER');
    assert.equal(none.closes[0][0], 46, JSON.stringify(opts));
    assert.equal(none.isOpen, false);
  }
});

test('rekeying crossed both ways keeps every message intact', async () => {
  const srv = await serve(['--key', join(dir, 'server.key'), '--rekey-messages', '3']);
  const c = connect(srv.url, { serverKey: keys.server.pub, rekeyMessages: 2 });
  await until(() => c.isOpen, 'open');
  const n = 200;
  for (let i = 0; i < n; i++) c.send('echo', i % 2 ? 'message ' + i : { i, pad: 'x'.repeat(i * 50) });
  await until(() => c.got.length === n, 'every echo');
  c.got.forEach((d, i) => assert.deepEqual(d, i % 2 ? 'message ' + i : { i, pad: 'x'.repeat(i * 50) }));
  assert.ok(c.secure.rekeysSent >= n / 2 - 1, 'rekeys sent: ' + c.secure.rekeysSent);
  assert.ok(c.secure.rekeysReceived >= n / 3 - 1, 'rekeys received: ' + c.secure.rekeysReceived);
  c.close();
  await until(() => c.closes.length === 1, 'close');
  assert.deepEqual(c.closes[0], [0, false]);
  assert.deepEqual(c.errs, []);
});

test('policies against a server without the layer, and the reverse', async () => {
  const plain = await serve([]);
  const req = connect(plain.url, { secure: 'required' });
  await until(() => req.closes.length === 1, 'the refusal');
  assert.equal(req.errs[0].code, 'ENOTSECURE');
  assert.equal(req.closes[0][0], 47);
  const opt = connect(plain.url, { secure: 'optional' });
  await until(() => opt.isOpen, 'plaintext open');
  assert.equal(opt.errs[0].code, 'ENOTSECURE');  // reported, as C's on_secure_fail
  opt.send('echo', 'plain');
  await until(() => opt.got.length === 1, 'plaintext echo');
  assert.equal(opt.secure, null);
  opt.close();
  // A client without the layer at a server that requires it: refused with ENOTSECURE.
  const secured = await serve(['--secure', 'required']);
  const off = connect(secured.url);
  await until(() => off.closes.length === 1, 'the refusal');
  assert.equal(off.closes[0][0], 47);
  // Optional on both sides: open at once, encrypted a moment later.
  const optional = await serve(['--secure', 'optional']);
  const both = connect(optional.url, { secure: 'optional' });
  await until(() => both.secure, 'secured');
  assert.deepEqual(both.events, ['open', 'secure NN']);
  both.send('echo', 'encrypted now');
  await until(() => both.got.length === 1, 'echo');
  both.close();
  assert.throws(() => new Client({ url: optional.url, protocol: new Protocol(), secure: 'maybe' }), RangeError);
  assert.throws(() => new Client({ url: optional.url, protocol: new Protocol(), serverKey: 'AAAA' }), RangeError);
});

test('a reconnect runs a new handshake', async () => {
  const one = await serve(['--key', join(dir, 'server.key')]);
  const c = connect(one.url, { serverKey: keys.server.pub, reconnect: true, reconnectMin: 50, reconnectMax: 200 });
  await until(() => c.isOpen, 'open');
  const first = c.secure.hash;
  await stop(one);
  await until(() => !c.isOpen, 'the drop');
  const two = await serve(['--key', join(dir, 'server.key')], one.port);
  await until(() => c.isOpen, 'the reopen');
  assert.notDeepEqual(c.secure.hash, first);
  c.send('echo', 'again');
  await until(() => c.got.length === 1, 'echo after the reconnect');
  assert.equal(c.got[0], 'again');
  c.close();
  await until(() => c.closes.length === 2, 'close');
  await stop(two);
});

// A relay between the client and the server that hands the server's next RECORD, once armed,
// to a mutation: what an attacker on the path could do to it.
function relay(target) {
  const wss = new WebSocket.Server({ host: '127.0.0.1', port: 0, handleProtocols: (ps) => [...ps][0] });
  const r = { wss, arm: null };
  wss.on('connection', (down) => {
    const up = new WebSocket(target, 'truflux.v1'), early = [];
    up.on('open', () => early.splice(0).forEach((m) => up.send(m)));
    down.on('message', (m) => (up.readyState === 1 ? up.send(m) : early.push(m)));
    up.on('message', (m) => {
      const buf = new Uint8Array(m), out = [];
      for (let at = 0; at < buf.length;) {
        const len = new DataView(buf.buffer, buf.byteOffset + at + 5, 4).getUint32(0);
        const f = buf.slice(at, at += 9 + len);
        const mutate = f[0] === 0x21 && r.arm;
        if (!mutate) out.push(f);
        else {
          r.arm = null;
          const res = mutate(f, down);
          if (!res) break;
          out.push(...res);
        }
      }
      if (out.length && down.readyState === 1) down.send(Buffer.concat(out));
      if (r.cut) down.terminate();
    });
    up.on('close', () => down.readyState === 1 && down.close());
    down.on('close', () => up.close());
  });
  return new Promise((resolve) => wss.on('listening', () => resolve(Object.assign(r, { url: `ws://127.0.0.1:${wss.address().port}` }))));
}

test('tampering on the path: EDECRYPT, EREPLAY, EREORDER, ETRUNCATED, ENOTSECURE', async () => {
  const srv = await serve(['--secure', 'required']);
  const r = await relay(srv.url);
  const plainPing = new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]);
  const cases = [
    ['EDECRYPT', (f) => (f[f.length - 1] ^= 1, [f])],
    ['EREPLAY', (f) => [f, f]],
    ['EREORDER', () => []],  // dropped: the next record is ahead
    ['ETRUNCATED', (f) => { const s = f.slice(0, 9 + 8); s[8] = 8; return [s]; }],
    ['ETRUNCATED', (f) => (r.cut = true, [f])],  // the stream cut after a record, no CLOSE
    ['ENOTSECURE', (f) => [f, plainPing]],
  ];
  for (const [code, mutate] of cases) {
    r.cut = false;
    const c = connect(r.url, { secure: 'required' });
    await until(() => c.isOpen, 'open through the relay');
    c.send('echo', 'one');
    await until(() => c.got.length === 1, 'the first echo');
    r.arm = mutate;
    c.send('echo', 'two');
    await until(() => c.errs.length || r.arm === null, 'the mutation');
    if (code === 'EREORDER') c.send('echo', 'three');
    await until(() => c.closes.length === 1, code + ': the end');
    assert.equal(c.errs[0] && c.errs[0].code, code);
    assert.equal(c.closes[0][0], { EDECRYPT: 40, EREPLAY: 41, EREORDER: 42, ETRUNCATED: 43, ENOTSECURE: 47 }[code]);
    assert.ok(c.got.length <= 2);
  }
  r.wss.close();
});
