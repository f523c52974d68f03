// An echo server on Node's `ws` (from bindings/js/node_modules), to check the conformance
// suite against a WebSocket implementation other than ours. Prints "port N".
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '../../bindings/js/'));
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 << 20,
  perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => console.log('port ' + wss.address().port));
