// Headless Chromium (Debian's, driven by playwright-core) against `truflux serve --web` with
// its security options: the chat page learns the server's key and policy from /security.js
// and encrypts (Noise NK, pinned), a tap on the page's WebSocket sees no chat text in clear,
// and the page's own client runs NN and NK sessions with every payload type both ways (and
// refuses a client key: it has no XX or IK).
// Run by tests/test_ws_browser_secure.sh:
//   TRUFLUX_BIN=... node --test tests/browser/secure.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '../../bindings/js/'));
const { chromium } = require('playwright-core');
const BIN = process.env.TRUFLUX_BIN;
const CHROMIUM = process.env.TRUFLUX_CHROMIUM || '/usr/bin/chromium';
const LIMIT = 15000;

function serve(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ['serve', '--web', '0', '--close-timeout', '1000', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    const log = [];
    const timer = setTimeout(() => reject(new Error('no URL from truflux serve')), LIMIT);
    createInterface({ input: proc.stderr }).on('line', (l) => log.push(l));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = /^truflux web page on (http:\/\/(.*)\/)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, log, page: m[1] });
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

async function until(cond, what) {
  for (const t0 = Date.now(); !cond();) {
    if (Date.now() - t0 > LIMIT) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// Installed before the page's scripts: every WebSocket message either way, as one character
// per octet, in window.tapped.
function tap() {
  window.tapped = [];
  const latin1 = new TextDecoder('latin1');
  const keep = (d) => window.tapped.push(latin1.decode(d));
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (d) {
    keep(d);
    return send.call(this, d);
  };
  const Orig = WebSocket;
  window.WebSocket = class extends Orig {
    constructor(...a) {
      super(...a);
      this.addEventListener('message', (ev) => keep(ev.data));
    }
  };
}

let srv, ctx, profile, dir, keys;
before(async () => {
  assert.ok(BIN, 'TRUFLUX_BIN names the truflux CLI');
  dir = mkdtempSync(join(tmpdir(), 'truflux-secure-page-'));
  keys = {};
  for (const n of ['server', 'client']) {
    execFileSync(BIN, ['keygen', join(dir, n)], { stdio: 'ignore' });
    keys[n] = { key: readFileSync(join(dir, n + '.key'), 'utf8').trim(), pub: readFileSync(join(dir, n + '.pub'), 'utf8').trim() };
  }
  srv = await serve(['--key', join(dir, 'server.key'), '--secure', 'required']);
  profile = mkdtempSync(join(tmpdir(), 'truflux-chromium-'));
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, timeout: LIMIT,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  ctx.setDefaultTimeout(LIMIT);
});
after(async () => {
  if (ctx) await ctx.close();
  if (srv) await stop(srv);
  for (const d of [profile, dir]) if (d) rmSync(d, { recursive: true, force: true });
});

test('the chat page encrypts with the key /security.js gives it, nothing in clear', async () => {
  const open = async () => {
    const page = await ctx.newPage();
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(String(e)));
    await page.addInitScript(tap);
    await page.goto(srv.page);
    await page.waitForSelector('#status:text("connected")');
    await page.waitForSelector('#log li:text("encrypted: Noise NK, AESGCM")');
    return page;
  };
  const a = await open(), b = await open();
  assert.deepEqual(await a.evaluate(() => window.truflux_security),
    { secure: 'required', serverKey: keys.server.pub });
  const secret = 'attack at dawn, ünïcode too';
  await a.fill('#name', 'alice');
  await a.fill('#text', secret);
  await a.press('#text', 'Enter');
  await b.waitForSelector(`#log li:text("alice: ${secret}")`);
  for (const p of [a, b]) {
    const wire = await p.evaluate(() => window.tapped);
    assert.ok(wire.length >= 4, 'the tap saw the connection');
    for (const m of wire) {
      assert.ok(!m.includes('attack at dawn'), 'the chat text crossed in clear');
      assert.ok(!m.includes('alice'), 'the sender name crossed in clear');
    }
    // After the hellos, only NOISE (0x20) and RECORD (0x21) frames.
    assert.ok(wire.slice(2).every((m) => m.charCodeAt(0) === 0x20 || m.charCodeAt(0) === 0x21));
  }
  await until(() => srv.log.filter((l) => /secured with Noise NK, AESGCM/.test(l)).length >= 2, 'the server says secured');
  assert.deepEqual([...a.errors, ...b.errors], []);
  await a.close();
  await b.close();
});

test('every payload type both ways from the page, NN and NK; no client key', async () => {
  const page = await ctx.newPage();
  await page.goto(srv.page + 'index.html');
  const out = await page.evaluate(async ([serverKey, clientKey]) => {
    const { Client, Protocol } = window.truflux;
    const describe = (d) => d instanceof ArrayBuffer ? ['ArrayBuffer', [...new Uint8Array(d)]]
      : d === undefined ? ['undefined'] : [typeof d, d];
    const run = async (opts) => {
      const results = [];
      const c = new Client({ url: 'ws://' + location.host + '/truflux', protocol: new Protocol().add('echo').add('chat'), ...opts });
      c.onMessage = (name, d) => results.push(describe(d));
      await new Promise((resolve, reject) => {
        c.onOpen = resolve;
        c.onClose = (code) => reject(new Error('closed ' + code));
        c.open();
      });
      c.send('echo', 'text ✓').send('echo', new Uint8Array([1, 2, 3]).buffer).send('echo')
        .send('echo', new Blob(['blob'])).send('echo', { list: [1, 'two', null], n: -3.25 })
        .send('echo', new Uint8Array(100000).fill(7));
      await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('timeout: ' + results.length)), 10000);
        const poll = () => (results.length >= 6 ? (clearTimeout(t), resolve()) : setTimeout(poll, 5));
        poll();
      });
      const big = results.pop();
      c.close();
      return [c.secure.pattern, big[1].length, big[1].every((x) => x === 7), results];
    };
    let refused;
    try {
      new Client({ url: 'ws://' + location.host + '/truflux', protocol: new Protocol(), staticKey: clientKey });
    } catch (e) {
      refused = [e.name, e.code];
    }
    return [await run({ secure: 'required' }), await run({ serverKey }), refused];
  }, [keys.server.pub, keys.client.key]);
  const payloads = [['string', 'text ✓'], ['ArrayBuffer', [1, 2, 3]], ['undefined'], ['ArrayBuffer', [98, 108, 111, 98]],
    ['object', { list: [1, 'two', null], n: -3.25 }]];
  assert.deepEqual(out, [['NN', 100000, true, payloads], ['NK', 100000, true, payloads], ['TrufluxError', 'ENOTSUP']]);
  await until(() => srv.log.some((l) => /secured with Noise NN, AESGCM/.test(l)), 'the server saw NN');
  await page.close();
});
