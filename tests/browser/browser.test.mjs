// Headless Chromium (Debian's, driven by playwright-core) against `truflux serve --web`:
// the chat page typed into in one tab and read in another, every payload type both ways
// from the page's own client, broadcast, and reconnecting after a server restart.
// Run by tests/test_ws_browser.sh:  TRUFLUX_BIN=... node --test tests/browser/browser.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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

function serve(port = 0) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ['serve', '--web', String(port), '--quiet', '--close-timeout', '1000'],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error('no URL from truflux serve')), LIMIT);
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = /^truflux web page on (http:\/\/(.*)\/)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, page: m[1], port: Number(m[2].split(':').pop()) });
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

let srv, ctx, profile;
before(async () => {
  assert.ok(BIN, 'TRUFLUX_BIN names the truflux CLI');
  srv = await serve();
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
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function openChat(url) {
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector('#status:text("connected")');
  page.errors = errors;
  return page;
}

test('a chat message typed in one page appears in another', async () => {
  const a = await openChat(srv.page), b = await openChat(srv.page);
  await a.fill('#name', 'alice');
  await a.fill('#text', 'hello from the first page');
  await a.press('#text', 'Enter');
  await b.waitForSelector('#log li:text("alice: hello from the first page")');
  // Shown once in the sender's own log (not echoed back by the server).
  assert.equal(await a.locator('#log li:text("alice: hello from the first page")').count(), 1);
  await b.fill('#name', 'bob');
  await b.fill('#text', 'and back');
  await b.press('#text', 'Enter');
  await a.waitForSelector('#log li:text("bob: and back")');
  assert.deepEqual([...a.errors, ...b.errors], []);
  await a.close();
  await b.close();
});

test('every payload type both ways from the page', async () => {
  const page = await ctx.newPage();
  await page.goto(srv.page + 'index.html');
  const out = await page.evaluate(async () => {
    const { Client, Protocol } = window.truflux;
    const results = [];
    const done = (n) => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timeout: ' + results.length)), 10000);
      const poll = () => (results.length >= n ? (clearTimeout(t), resolve()) : setTimeout(poll, 5));
      poll();
    });
    const describe = (d) => d instanceof ArrayBuffer ? ['ArrayBuffer', [...new Uint8Array(d)]]
      : d instanceof Blob ? ['Blob', d.size] : d === undefined ? ['undefined'] : [typeof d, d];
    const c = new Client({ url: 'ws://' + location.host + '/truflux',
      protocol: new Protocol().add('echo').add('chat') });
    c.onMessage = (name, d) => results.push(describe(d));
    await new Promise((resolve) => { c.onOpen = resolve; c.open(); });
    c.send('echo', 'text ✓').send('echo', new Uint8Array([1, 2, 3]).buffer).send('echo')
      .send('echo', new Blob(['blob'])).send('echo', { list: [1, 'two', null], n: -3.25 });
    await done(5);
    // Binary as Blob when asked.
    const b = new Client({ url: 'ws://' + location.host + '/truflux', binaryType: 'blob',
      protocol: new Protocol().add('echo').add('chat') });
    b.onMessage = (name, d) => results.push(describe(d));
    await new Promise((resolve) => { b.onOpen = resolve; b.open(); });
    b.send('echo', new Uint8Array(1000));
    await done(6);
    c.close();
    b.close();
    return results;
  });
  assert.deepEqual(out, [
    ['string', 'text ✓'], ['ArrayBuffer', [1, 2, 3]], ['undefined'], ['ArrayBuffer', [98, 108, 111, 98]],
    ['object', { list: [1, 'two', null], n: -3.25 }], ['Blob', 1000],
  ]);
  await page.close();
});

test('the page reconnects after the server restarts', async () => {
  const one = await serve();
  const page = await ctx.newPage();
  await page.goto(one.page);
  await page.waitForSelector('#status:text("connected")');
  await stop(one);
  await page.waitForSelector('#status:text("disconnected (ESHUTDOWN), reconnecting…")');
  const two = await serve(one.port);
  try {
    await page.waitForSelector('#status:text-is("connected")');
    const other = await openChat(two.page);
    await page.fill('#name', 'again');
    await page.fill('#text', 'after the restart');
    await page.press('#text', 'Enter');
    await other.waitForSelector('#log li:text("again: after the restart")');
    await other.close();
  } finally {
    await page.close();
    await stop(two);
  }
});
