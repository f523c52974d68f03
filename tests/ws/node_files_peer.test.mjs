// The browser client's file receiver (bindings/js/src/files.js) against a scripted peer: a
// `ws` WebSocketServer speaking truflux frames written by hand, to check what a correct C
// server never sends: a wrong checksum, content beyond the offered size, unsafe names,
// streams, credit given back as content is taken, and the connection-fatal violations of
// PROTOCOL.md §23.9 (EFLOWCONTROL, EFILEUNKNOWN, EPROTO). Run by tests/test_ws_files.sh.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { Client, Protocol } from '../../bindings/js/src/index.js';
import { frame, frames, helloPayload, HELLO, WELCOME, CLOSE } from '../../bindings/js/src/wire.js';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '../../bindings/js/'));
const WebSocket = require('ws');
const LIMIT = 10000;
const OFFER = 0x30, ACCEPT = 0x31, DECLINE = 0x32, CANCEL = 0x35, CHUNK = 0x36, END = 0x37,
  CREDIT = 0x38, DONE = 0x39;
const proto = () => new Protocol().add('echo');
const sha = (b) => new Uint8Array(createHash('sha256').update(b).digest());

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

const u32 = (x) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, x); return b; };
const cat = (...parts) => { const b = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let at = 0; for (const p of parts) { b.set(p, at); at += p.length; } return b; };
const u64 = (x) => (x < 0 ? new Uint8Array(8).fill(255) : cat(u32(Math.floor(x / 2 ** 32)), u32(x >>> 0)));
const offer = (size, name) => {
  const n = typeof name === 'string' ? new TextEncoder().encode(name) : name;
  return cat(u64(size), new Uint8Array(16), new Uint8Array([0, 0, n.length >> 8, n.length & 255]), n);
};
const code = (f) => new DataView(f.data.buffer, f.data.byteOffset).getUint32(0);

// A peer that answers the hello (with capabilities `caps`) and records every later frame.
const servers = [];
async function peer(caps = 2) {
  const wss = new WebSocket.WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false,
    handleProtocols: () => 'truflux.v1' });
  servers.push(wss);
  await new Promise((r) => wss.on('listening', r));
  const p = { got: [], url: `ws://127.0.0.1:${wss.address().port}/` };
  wss.on('connection', (ws) => {
    p.send = (...fs) => ws.send(cat(...fs.map(([k, id, d = new Uint8Array(0)]) => frame(k, id, d))));
    ws.on('message', (data) => {
      for (const f of frames(new Uint8Array(data), 16 << 20)) {
        if (f.kind === HELLO) {
          const w = helloPayload(proto(), { maxMessage: 16 << 20, heartbeat: 0 });
          new DataView(w.buffer).setUint32(8, caps);
          ws.send(frame(WELCOME, 0, w));
        } else {
          p.got.push({ kind: f.kind, id: f.id, data: f.data.slice() });
        }
      }
    });
    ws.on('error', () => {});
  });
  return p;
}

async function client(p, onFile) {
  const c = new Client({ url: p.url, protocol: proto(), WebSocket, heartbeat: 0, closeTimeout: 500 });
  c.errs = [];
  c.closes = [];
  c.onErr = (e) => c.errs.push(e.code);
  c.onClose = (reason) => c.closes.push(reason);
  c.onFile = onFile;
  c.open();
  await until(() => c.isOpen && p.send, 'open');
  return c;
}

after(() => servers.forEach((s) => s.close()));

test('checksum, size and stream checks at END; credit given back', async () => {
  const p = await peer();
  const files = [];
  const c = await client(p, (f) => {
    f.log = [];
    f.onEnd = (blob) => f.log.push(['End', blob.size]);
    f.onError = (e) => f.log.push(['Error', e.code]);
    files.push(f);
    f.accept();
  });
  const hello = new TextEncoder().encode('hello');
  p.send([OFFER, 2, offer(5, 'bad-sum')], [OFFER, 4, offer(3, 'too-long')],
    [OFFER, 6, offer(-1, 'stream')]);
  await until(() => p.got.filter((f) => f.kind === ACCEPT).length === 3, 'three ACCEPTs');
  assert.deepEqual(p.got.map((f) => [f.kind, f.id, f.data.length]), [[ACCEPT, 2, 12], [ACCEPT, 4, 12], [ACCEPT, 6, 12]]);
  const credit = new DataView(p.got[0].data.buffer).getUint32(8);
  assert.ok(credit >= 65536, 'a first credit of at least one chunk');
  p.got.length = 0;
  p.send([CHUNK, 2, hello], [END, 2, cat(u64(5), sha(new TextEncoder().encode('hellO')))],
    [CHUNK, 4, hello], [CHUNK, 6, hello], [END, 6, cat(u64(5), sha(hello))]);
  await until(() => files.every((f) => f.log.length), 'every transfer to end');
  assert.deepEqual(files.map((f) => [f.name, f.size, f.isStream, f.log]), [
    ['bad-sum', 5, false, [['Error', 'ECHECKSUM']]], ['too-long', 3, false, [['Error', 'EFILESIZE']]],
    ['stream', -1, true, [['End', 5]]]]);
  await until(() => p.got.length === 3, 'the answers');
  assert.deepEqual(p.got.map((f) => [f.kind, f.id, f.kind === CANCEL ? code(f) : 0]),
    [[CANCEL, 2, 62], [CANCEL, 4, 61], [DONE, 6, 0]]);
  // Credit: the sink takes everything at once, so credit comes back in batches and the
  // peer never runs out of it.
  p.got.length = 0;
  const big = new Uint8Array(3 * credit).map((_, i) => i * 7);
  p.send([OFFER, 8, offer(big.length, 'big')]);
  await until(() => p.got.length === 1, 'ACCEPT');
  let left = new DataView(p.got[0].data.buffer).getUint32(8), at = 0;
  while (at < big.length) {
    const n = Math.min(65536, left, big.length - at);
    assert.ok(n > 0, 'credit ran out at ' + at);
    p.send([CHUNK, 8, big.subarray(at, at + n)]);
    at += n;
    left -= n;
    await until(() => files.length === 4, 'the offer');
    // Wait for the credit that the chunks just sent earn back, if any.
    const before = p.got.length;
    if (left < 65536) await until(() => p.got.length > before, 'CREDIT');
    for (const f of p.got.splice(1)) {
      assert.equal(f.kind, CREDIT);
      left += code(f);
    }
  }
  p.send([END, 8, cat(u64(big.length), sha(big))]);
  await until(() => files[3].log.length, 'the end');
  assert.deepEqual(files[3].log, [['End', big.length]]);
  assert.deepEqual(new Uint8Array(await files[3].blob.arrayBuffer()), big);
  assert.deepEqual(c.errs, []);
  c.close();
});

test('unsafe names and offers without onFile are declined', async () => {
  const p = await peer();
  const c = await client(p, null);
  p.send([OFFER, 2, offer(1, 'fine')], [OFFER, 4, offer(1, 'a/b')], [OFFER, 6, offer(1, '..')],
    [OFFER, 8, offer(1, '.tfpart-x')], [OFFER, 10, offer(1, new Uint8Array([0x61, 0xff]))],
    [OFFER, 12, offer(1, 'tab\there')]);
  await until(() => p.got.length === 6, 'six DECLINEs');
  assert.deepEqual(p.got.map((f) => [f.kind, f.id, code(f)]),
    [[DECLINE, 2, 0], [DECLINE, 4, 63], [DECLINE, 6, 63], [DECLINE, 8, 63], [DECLINE, 10, 63], [DECLINE, 12, 63]]);
  assert.deepEqual(c.errs, Array(5).fill('EFILENAME'));
  // Chunks in flight for a declined transfer are dropped without complaint.
  p.send([CHUNK, 2, new Uint8Array(1)], [CANCEL, 4, u32(5)]);
  c.send('echo', 'still open');
  await until(() => p.got.length === 7, 'the message');
  assert.deepEqual(c.errs.length, 5);
  assert.equal(c.isOpen, true);
  c.close();
});

// Each violation ends the connection with CLOSE and its code (§23.9).
for (const [what, caps, script, want] of [
  ['CHUNK before ACCEPT', 2, [[OFFER, 2, offer(1, 'x')], [CHUNK, 2, new Uint8Array(1)]], 64],
  // The sink never settles, so no credit comes back: the first credit is all there is.
  ['CHUNK beyond the credit', 2, [[OFFER, 2, offer(2 ** 30, 'x')], 'accept', 'flood'], 64],
  ['a frame for a transfer never offered', 2, [[CREDIT, 1, u32(5)]], 60],
  ['a receiver kind with the sender parity', 2, [[OFFER, 2, offer(1, 'x')], [DONE, 2]], 60],
  ['an OFFER id not ascending', 2, [[OFFER, 4, offer(1, 'x')], [OFFER, 2, offer(1, 'y')]], 9],
  ['an OFFER of the client parity', 2, [[OFFER, 3, offer(1, 'x')]], 9],
  ['END before ACCEPT', 2, [[OFFER, 2, offer(1, 'x')], [END, 2, new Uint8Array(40)]], 9],
  ['a file frame without the capability', 0, [[OFFER, 2, offer(1, 'x')]], 9],
  ['a reserved kind', 2, [[0x3a, 2]], 9],
]) {
  test('violation: ' + what, async () => {
    const p = await peer(caps);
    let credit = 0;
    const c = await client(p, (f) => script.includes('accept') && f.accept(() => new Promise(() => {})));
    for (const step of script) {
      if (step === 'accept') {
        await until(() => p.got.length, 'ACCEPT');
        credit = new DataView(p.got[0].data.buffer).getUint32(8);
      } else if (step === 'flood') {
        for (let left = credit; left > 0; left -= 65536)
          p.send([CHUNK, 2, new Uint8Array(Math.min(left, 65536))]);
        p.send([CHUNK, 2, new Uint8Array(1)]);
      } else {
        p.send(step);
      }
    }
    await until(() => c.closes.length, 'the close');
    assert.deepEqual(c.closes, [want]);
    const close = p.got.find((f) => f.kind === CLOSE);
    assert.ok(close, 'a CLOSE frame');
    assert.equal(close.id, want);
  });
}
