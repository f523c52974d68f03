// File transfer in the browser client (bindings/js/src/files.js) running in Node.js with the
// `ws` package, against the C library: uploads to `truflux serve --web --accept-files DIR`
// (the bytes in DIR equal what was sent), and, with the C server of tests/test_files_ws.cpp
// (--serve), downloads checked by SHA-256 and the controls seen from the other side:
// decline, cancel, pause and resume; and an upload over an encrypted session. Run by
// tests/test_ws_files.sh:
//   TRUFLUX_BIN=... TRUFLUX_FILES_WS=.../test_files_ws node --test tests/ws/node_files.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { Client, Protocol, errname } from '../../bindings/js/src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '../../bindings/js/'));
const WebSocket = require('ws');
const LIMIT = 20000;
const sha = (b) => createHash('sha256').update(b).digest('hex');

// Starts a server and resolves with {proc, url} once it printed a line matching re.
function start(cmd, args, re, url) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error('no address from ' + cmd)), LIMIT);
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = re.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: url(m[1]) });
      }
    });
    proc.on('error', reject);
  });
}

function stop(srv) {
  return new Promise((resolve) => {
    if (!srv || srv.proc.exitCode !== null) return resolve();
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

// A client whose messages (the helper's "event" lines) and errors are recorded.
async function connect(url, proto) {
  const c = new Client({ url, protocol: proto, WebSocket });
  c.events = [];
  c.errs = [];
  c.onMessage = (name, data) => c.events.push(data);
  c.onErr = (e) => c.errs.push(e);
  c.open();
  await until(() => c.isOpen, 'open');
  return c;
}

// Records a transfer's events as [name, value] pairs.
function watch(t) {
  t.seen = [];
  for (const ev of ['Accept', 'Decline', 'Pause', 'Resume', 'Finish', 'Cancel', 'Error', 'End'])
    t['on' + ev] = (x) => t.seen.push([ev, x]);
  t.has = (ev) => t.seen.some(([e]) => e === ev);
  return t;
}

const chatProto = () => new Protocol().add('echo').add('chat');
const helperProto = () => new Protocol().add('cmd', { types: ['text'] }).add('event', { types: ['text'] });

let tmp, upDir, helperDir, web, plain, helper;
before(async () => {
  assert.ok(process.env.TRUFLUX_BIN, 'TRUFLUX_BIN names the truflux CLI');
  assert.ok(process.env.TRUFLUX_FILES_WS, 'TRUFLUX_FILES_WS names tests/test_files_ws');
  tmp = mkdtempSync(join(tmpdir(), 'truflux-jsfiles-'));
  upDir = join(tmp, 'up');
  helperDir = join(tmp, 'helper');
  mkdirSync(upDir);
  mkdirSync(helperDir);
  const bin = process.env.TRUFLUX_BIN;
  web = await start(bin, ['serve', '--web', '0', '--quiet', '--accept-files', upDir],
    /^truflux web page on http:\/\/(.*)\/$/, (a) => `ws://${a}/truflux`);
  plain = await start(bin, ['serve', '--web', '0', '--quiet'],
    /^truflux web page on http:\/\/(.*)\/$/, (a) => `ws://${a}/truflux`);
  helper = await start(process.env.TRUFLUX_FILES_WS, ['--serve', helperDir], /^port (\d+)$/,
    (p) => `ws://127.0.0.1:${p}/`);
});
after(async () => {
  await Promise.all([stop(web), stop(plain), stop(helper)]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('an upload lands in --accept-files DIR with the same bytes', async () => {
  const c = await connect(web.url, chatProto());
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const t = watch(c.sendFile(new Uint8Array(data), { name: 'up.bin' }));
  assert.equal(t.name, 'up.bin');
  assert.equal(t.size, data.length);
  await until(() => t.has('Finish') || t.has('Error'), 'the upload to finish');
  assert.deepEqual(t.seen.map(([e]) => e), ['Accept', 'Finish']);
  assert.equal(sha(readFileSync(join(upDir, 'up.bin'))), sha(data));
  assert.deepEqual(c.errs, []);
  c.close();
});

test('several uploads at once, with messages between them', async () => {
  const c = await connect(web.url, chatProto());
  const got = [];
  c.onMessage = (name, data) => got.push(data);
  const files = [['empty.bin', randomBytes(0)], ['small.bin', randomBytes(100000)],
    ['big.bin', randomBytes(2 * 1024 * 1024)], ['bad/name', randomBytes(70000)]];
  const ts = files.map(([name, b], i) => {
    c.send('echo', 'before ' + i);
    return watch(c.sendFile(new Blob([b]), { name }));
  });
  c.send('echo', 'after');
  await until(() => ts.every((t) => t.has('Finish') || t.has('Error')), 'every upload');
  for (const t of ts) assert.deepEqual(t.seen.map(([e]) => e), ['Accept', 'Finish'], t.name);
  assert.equal(ts[3].name, 'bad_name');  // what §23.6 forbids is replaced, as C does
  for (const [i, [, b]] of files.entries())
    assert.equal(sha(readFileSync(join(upDir, ts[i].name))), sha(b), ts[i].name);
  await until(() => got.length === 5, 'the echoes');
  assert.deepEqual(got, ['before 0', 'before 1', 'before 2', 'before 3', 'after']);
  c.close();
});

test('an upload over an encrypted session (secure.js under files.js)', async (t) => {
  const dir = join(tmp, 'secure');
  mkdirSync(dir);
  const srv = await start(process.env.TRUFLUX_BIN,
    ['serve', '--web', '0', '--quiet', '--secure', 'required', '--accept-files', dir],
    /^truflux web page on http:\/\/(.*)\/$/, (a) => `ws://${a}/truflux`);
  t.after(() => stop(srv));
  const c = new Client({ url: srv.url, protocol: chatProto(), WebSocket, secure: 'required' });
  c.errs = [];
  c.onErr = (e) => c.errs.push(e);
  c.open();
  await until(() => c.isOpen, 'open');
  assert.equal(c.secure && c.secure.pattern, 'NN');
  const data = randomBytes(1024 * 1024 + 99);
  const up = watch(c.sendFile(data, { name: 'sealed.bin' }));
  await until(() => up.has('Finish') || up.has('Error'), 'the upload');
  assert.deepEqual(up.seen.map(([e]) => e), ['Accept', 'Finish']);
  assert.equal(sha(readFileSync(join(dir, 'sealed.bin'))), sha(data));
  assert.deepEqual(c.errs, []);
  c.close();
});

test('a server without files: sendFile throws ENOTSUP', async () => {
  const c = await connect(plain.url, chatProto());
  assert.throws(() => c.sendFile(new Uint8Array(3), { name: 'x' }), (e) => e.code === 'ENOTSUP');
  c.close();
});

test('a file the C side offers arrives whole, as a Blob and through a sink', async () => {
  const data = randomBytes(3 * 1024 * 1024 + 5), path = join(tmp, 'down.bin');
  writeFileSync(path, data);
  const c = await connect(helper.url, helperProto());
  const offers = [];
  c.onFile = (f) => {
    offers.push(watch(f));
    if (offers.length === 1) f.accept();
    else {
      f.parts = [];
      f.accept((chunk) => f.parts.push(chunk.slice()));
    }
  };
  c.send('cmd', 'offer ' + path);
  c.send('cmd', 'offer ' + path);
  await until(() => offers.length === 2 && offers.every((f) => f.has('End') || f.has('Error')), 'both downloads');
  const [a, b] = offers;
  assert.deepEqual([a.id, b.id], [2, 4]);
  assert.equal(a.name, 'down.bin');
  assert.equal(a.size, data.length);
  assert.equal(a.isStream, false);
  assert.deepEqual(a.seen.map(([e]) => e), ['End']);
  assert.ok(a.blob instanceof Blob);
  assert.equal(a.seen[0][1], a.blob);
  assert.equal(sha(Buffer.from(await a.blob.arrayBuffer())), sha(data));
  assert.deepEqual(b.seen.map(([e]) => e), ['End']);
  assert.equal(sha(Buffer.concat(b.parts)), sha(data));
  await until(() => c.events.includes('end 2 0') && c.events.includes('end 4 0'), 'the C side to see DONE');
  assert.deepEqual(c.errs, []);
  c.close();
});

test('decline and cancel from the JS side reach the C side', async () => {
  const path = join(tmp, 'ctl.bin');
  writeFileSync(path, randomBytes(4 * 1024 * 1024));
  const c = await connect(helper.url, helperProto());
  const offers = [];
  c.onFile = (f) => {
    offers.push(watch(f));
    if (offers.length === 1) return f.decline();
    // Cancels from inside the sink, at the first chunk.
    f.accept(() => f.cancel());
  };
  c.send('cmd', 'offer ' + path);
  await until(() => c.events.includes('end 2 -65'), 'the decline on the C side');
  assert.ok(c.events.includes('decline 2'));
  c.send('cmd', 'offer ' + path);
  await until(() => c.events.includes('end 4 -5'), 'the cancel on the C side');
  assert.ok(c.events.includes('cancel 4'));
  // Our own calls raise no events; chunks in flight after the cancel are dropped.
  assert.deepEqual(offers.map((f) => f.seen), [[], []]);
  // A sender's cancel: the C side pauses "pause*" offers, so it cannot finish first.
  const t = watch(c.sendFile(new Uint8Array(100000), { name: 'pause-then-cancel.bin' }));
  await until(() => t.has('Pause'), 'the C side to pause');
  assert.equal(t.paused, true);
  t.cancel();
  await until(() => c.events.includes('end 1 -5'), 'the cancel on the C side');
  assert.ok(c.events.includes('cancel 1'));
  assert.deepEqual(readdirSync(helperDir).filter((n) => n.includes('pause-then-cancel')), []);
  assert.deepEqual(c.errs, []);
  c.close();
});

test('pause and resume both ways', async () => {
  const up = randomBytes(1024 * 1024 + 3), down = randomBytes(2 * 1024 * 1024), path = join(tmp, 'pr.bin');
  writeFileSync(path, down);
  const c = await connect(helper.url, helperProto());
  // The C side pauses our upload when it accepts; we see it, it resumes on request.
  const t = watch(c.sendFile(up, { name: 'pause-up.bin' }));
  await until(() => t.has('Pause'), 'the C side to pause');
  assert.deepEqual(t.seen.map(([e]) => e), ['Accept', 'Pause']);
  c.send('cmd', 'resume 1');
  await until(() => t.has('Finish') || t.has('Error'), 'the upload');
  assert.deepEqual(t.seen.map(([e]) => e), ['Accept', 'Pause', 'Resume', 'Finish']);
  assert.equal(t.paused, false);
  assert.equal(sha(readFileSync(join(helperDir, 'pause-up.bin'))), sha(up));
  // We pause a download before accepting it; the C side sees it, then our resume.
  let f;
  c.onFile = (x) => (f = watch(x)).pause().accept();
  c.send('cmd', 'offer ' + path);
  await until(() => c.events.includes('pause 2'), 'the C side to see our pause');
  assert.equal(f.paused, true);
  f.resume();
  await until(() => f.has('End') || f.has('Error'), 'the download');
  assert.deepEqual(f.seen.map(([e]) => e), ['End']);
  assert.equal(sha(Buffer.from(await f.blob.arrayBuffer())), sha(down));
  assert.ok(c.events.indexOf('resume 2') > c.events.indexOf('pause 2'));
  // The C side pauses and resumes its own offer: we get the events.
  let g;
  c.onFile = (x) => {
    g = watch(x);
    c.send('cmd', 'pause 4');
    c.send('cmd', 'resume 4');
    g.accept();
  };
  c.send('cmd', 'offer ' + path);
  await until(() => g && (g.has('End') || g.has('Error')), 'the second download');
  assert.deepEqual(g.seen.map(([e]) => e), ['Pause', 'Resume', 'End']);
  assert.deepEqual(c.errs, []);
  c.close();
});

test('the C side declines: onDecline', async () => {
  const c = await connect(helper.url, helperProto());
  const t = watch(c.sendFile(new Uint8Array(10), { name: 'decline-me' }));
  await until(() => t.seen.length, 'the answer');
  assert.deepEqual(t.seen.map(([e]) => e), ['Decline']);
  assert.equal(errname(65), 'EDECLINED');
  c.close();
});
