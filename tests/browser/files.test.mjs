// Headless Chromium (Debian's, driven by playwright-core): files chosen in the page of
// `truflux serve --web --accept-files DIR` land in DIR with the same bytes, and the page's
// client downloads a file that the C server of tests/test_files_ws.cpp offers (the Blob's
// SHA-256 is checked in the page with WebCrypto). Run by tests/test_ws_browser_files.sh:
//   TRUFLUX_BIN=... TRUFLUX_FILES_WS=.../test_files_ws node --test tests/browser/files.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '../../bindings/js/'));
const { chromium } = require('playwright-core');
const CHROMIUM = process.env.TRUFLUX_CHROMIUM || '/usr/bin/chromium';
const LIMIT = 20000;
const sha = (b) => createHash('sha256').update(b).digest('hex');

// Starts a server and resolves with {proc, addr} once it printed a line matching re.
function start(cmd, args, re) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error('no address from ' + cmd)), LIMIT);
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = re.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, addr: m[1] });
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

let tmp, upDir, web, helper, ctx;
before(async () => {
  assert.ok(process.env.TRUFLUX_BIN, 'TRUFLUX_BIN names the truflux CLI');
  assert.ok(process.env.TRUFLUX_FILES_WS, 'TRUFLUX_FILES_WS names tests/test_files_ws');
  tmp = mkdtempSync(join(tmpdir(), 'truflux-chromium-files-'));
  upDir = join(tmp, 'up');
  mkdirSync(upDir);
  mkdirSync(join(tmp, 'helper'));
  web = await start(process.env.TRUFLUX_BIN,
    ['serve', '--web', '0', '--quiet', '--close-timeout', '1000', '--accept-files', upDir],
    /^truflux web page on (http:\/\/.*\/)$/);
  helper = await start(process.env.TRUFLUX_FILES_WS, ['--serve', join(tmp, 'helper')], /^port (\d+)$/);
  ctx = await chromium.launchPersistentContext(join(tmp, 'profile'), {
    executablePath: CHROMIUM, headless: true, timeout: LIMIT,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  ctx.setDefaultTimeout(LIMIT);
});
after(async () => {
  if (ctx) await ctx.close();
  await Promise.all([stop(web), stop(helper)]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test("files chosen in the page's file input land in --accept-files DIR", async () => {
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(web.addr);
  await page.waitForSelector('#status:text("connected")');
  const a = randomBytes(2 * 1024 * 1024 + 11), b = randomBytes(1000);
  await page.setInputFiles('#file', [
    { name: 'from-page.bin', mimeType: 'application/octet-stream', buffer: a },
    { name: 'second.txt', mimeType: 'text/plain', buffer: b },
  ]);
  await page.waitForSelector(`#log li:text("from-page.bin: sent (${a.length} bytes)")`);
  await page.waitForSelector(`#log li:text("second.txt: sent (${b.length} bytes)")`);
  assert.equal(sha(readFileSync(join(upDir, 'from-page.bin'))), sha(a));
  assert.equal(sha(readFileSync(join(upDir, 'second.txt'))), sha(b));
  assert.deepEqual(errors, []);
  await page.close();
});

test('the browser client downloads a file the C side offers', async () => {
  const data = randomBytes(3 * 1024 * 1024 + 1), path = join(tmp, 'to-page.bin');
  writeFileSync(path, data);
  const page = await ctx.newPage();
  await page.goto(web.addr + 'index.html');
  const out = await page.evaluate(async ([url, path]) => {
    const { Client, Protocol } = window.truflux;
    const c = new Client({ url, protocol: new Protocol().add('cmd').add('event') });
    const events = [];
    c.onMessage = (name, d) => events.push(d);
    await new Promise((resolve) => { c.onOpen = resolve; c.open(); });
    const f = await new Promise((resolve, reject) => {
      setTimeout(() => reject(new Error('no file: ' + events.join('; '))), 15000);
      c.onFile = (f) => {
        f.onEnd = () => resolve(f);
        f.onError = reject;
        f.accept();
      };
      c.send('cmd', 'offer ' + path);
    });
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await f.blob.arrayBuffer()));
    c.close();
    return { name: f.name, size: f.size, blob: f.blob.size,
      sha: [...digest].map((x) => x.toString(16).padStart(2, '0')).join('') };
  }, [`ws://127.0.0.1:${helper.addr}/`, path]);
  assert.deepEqual(out, { name: 'to-page.bin', size: data.length, blob: data.length, sha: sha(data) });
  await page.close();
});
