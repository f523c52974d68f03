// A truflux server on Node's `ws` WebSocketServer, written with the browser client's wire
// layer (bindings/js/src), so that the C client (`truflux connect ws://...`) meets a
// WebSocket implementation other than ours: answers HELLO with WELCOME, echoes `echo`,
// answers PING and CLOSE. Prints "port N" and serves until killed. With arguments CERT KEY
// (PEM files) it serves wss:// through an https server.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { frame, frames, helloPayload, parseHello, HELLO, WELCOME, PING, PONG, CLOSE, MSG }
  from '../../bindings/js/src/wire.js';
import { Protocol } from '../../bindings/js/src/protocol.js';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '../../bindings/js/'));
const { WebSocketServer } = require('ws');
const proto = new Protocol().add('echo').add('chat');
const echo = proto.byName.get('echo').id;
const [cert, key] = process.argv.slice(2);
const https = cert ? createServer({ cert: readFileSync(cert), key: readFileSync(key) }) : null;
const wss = new WebSocketServer({ ...(https ? { server: https } : { host: '127.0.0.1', port: 0 }),
  perMessageDeflate: false,
  handleProtocols: (offered) => (offered.has('truflux.v1') ? 'truflux.v1' : false) });
wss.on('connection', (ws) => {
  let open = false;
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return ws.close(1003);
    const fs = frames(new Uint8Array(data), 16 << 20);
    if (typeof fs === 'number') return ws.close(1002);
    for (const f of fs) {
      if (!open) {
        if (f.kind !== HELLO || typeof parseHello(f.data) === 'number') return ws.close(1002);
        ws.send(frame(WELCOME, 0, helloPayload(proto, { maxMessage: 16 << 20, heartbeat: 0 })));
        open = true;
      } else if ((f.kind & 0xfc) === MSG && f.id === echo) {
        ws.send(frame(f.kind, f.id, f.data));
      } else if (f.kind === PING) {
        ws.send(frame(PONG, 0, f.data));
      } else if (f.kind === CLOSE) {
        ws.send(frame(CLOSE, 0, new Uint8Array(0)));
        ws.close(1000);
        return;
      }
    }
  });
  ws.on('error', () => {});
});
if (https) https.listen(0, '127.0.0.1', () => console.log('port ' + https.address().port));
else wss.on('listening', () => console.log('port ' + wss.address().port));
