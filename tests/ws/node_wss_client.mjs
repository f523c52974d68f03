// The browser client (bindings/js) in Node.js with the `ws` package as its WebSocket, as the
// client of a truflux server over wss:// (run by tests/test_wss_interop.sh, which trusts the
// test CA through NODE_EXTRA_CA_CERTS): every payload type echoed, one larger than a TLS
// record, then the graceful close. Exit status 0 on success.
//   node node_wss_client.mjs wss://127.0.0.1:PORT/PATH
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { Client, Protocol } from '../../bindings/js/src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const WebSocket = createRequire(join(here, '../../bindings/js/'))('ws');
const LIMIT = 10000;

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

const url = process.argv[2];
assert.match(url, /^wss:\/\//);
const c = new Client({ url, protocol: new Protocol().add('echo').add('chat'), WebSocket });
const got = [], errs = [], closes = [];
c.onMessage = (name, data) => got.push([name, data]);
c.onErr = (e) => errs.push(e);
c.onClose = (code, remote) => closes.push([code, remote]);
c.open();
await until(() => c.isOpen || errs.length, 'open');
assert.deepEqual(errs, []);
const big = new Uint8Array(100000).map((_, i) => (i * 13) & 255);
const values = ['wss ✓', undefined, new Uint8Array([0, 255, 16, 128]), big,
  { a: [1, 2.5, null] }];
for (const v of values) c.send('echo', v);
await until(() => got.length === values.length, 'the echoes');
const data = got.map(([, d]) => d);
assert.equal(data[0], 'wss ✓');
assert.equal(data[1], undefined);
assert.deepEqual(new Uint8Array(data[2]), new Uint8Array([0, 255, 16, 128]));
assert.deepEqual(new Uint8Array(data[3]), big);
assert.deepEqual(data[4], { a: [1, 2.5, null] });
c.close();
await until(() => closes.length === 1, 'close');
assert.deepEqual(closes[0], [0, false]);
assert.deepEqual(errs, []);
console.log('1 passed, 0 failed: Node ws client over wss against the truflux server');
