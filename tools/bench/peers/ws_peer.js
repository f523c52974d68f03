// tools/bench/peers/ws_peer.js: the Node `ws` peer, the library the 2015 seed measured
// itself against, as the seed's bench/speed.js ran it (binary messages, one in flight).
//
//   node ws_peer.js server [--tls 1 --cert F --key F] [--bufferutil 0|1]
//   node ws_peer.js client --port P --size S --count N [--tls 1] [--bufferutil 0|1]
//
// `--bufferutil 0` sets WS_NO_BUFFER_UTIL before ws loads (ws then masks and unmasks in
// JavaScript); `--bufferutil 1` requires bufferutil's native addon and fails without it. The
// lines printed are the C peers' (tools/bench/peer_common.h): READY, RESULT, CPU.
'use strict';

const fs = require('fs');
const path = require('path');

function die(what) {
  process.stderr.write(`ws peer: ${what}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  if (argv[0] !== 'server' && argv[0] !== 'client') die('first argument must be server or client');
  const args = { role: argv[0] };
  for (let i = 1; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) die('options are --name value');
    args[argv[i].slice(2)] = argv[i + 1];
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const useBufferutil = args.bufferutil === '1';
if (!useBufferutil) process.env.WS_NO_BUFFER_UTIL = '1';
if (useBufferutil) {
  // bufferutil silently falls back to JavaScript when its addon does not load: insist.
  try {
    require('node-gyp-build').path(path.dirname(require.resolve('bufferutil')));
  } catch (e) {
    die(`bufferutil's native addon is not available: ${e.message}`);
  }
}
const { WebSocket, WebSocketServer } = require('ws');

const MAX_PAYLOAD = 1 << 30;
const tls = args.tls === '1';

function cpuSeconds(since) {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

function runServer() {
  const http = tls ? require('https') : require('http');
  const opts = tls ? { cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) } : {};
  const server = http.createServer(opts);
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
  wss.on('connection', (ws) => {
    let cpu0 = null;
    ws.on('message', (data, isBinary) => {
      if (cpu0 === null) cpu0 = process.cpuUsage();
      ws.send(data, { binary: isBinary });
    });
    ws.on('close', () => {
      process.stdout.write(`CPU ${cpu0 === null ? 0 : cpuSeconds(cpu0)}\n`, () => process.exit(0));
    });
    ws.on('error', (e) => die(`server: ${e.message}`));
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`READY ${server.address().port}\n`);
  });
}

function runClient() {
  const size = Number(args.size);
  const count = Number(args.count);
  if (!(args.port > 0) || !(size >= 0) || !(count > 0)) die('client needs --port, --size, --count');
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 131 + 7) & 0xff;
  const url = `${tls ? 'wss' : 'ws'}://127.0.0.1:${args.port}/`;
  const ws = new WebSocket(url, {
    perMessageDeflate: false,
    maxPayload: MAX_PAYLOAD,
    rejectUnauthorized: false, // the benchmark's certificate is self-signed
  });
  let done = 0;
  let t0;
  let cpu0;
  ws.on('open', () => {
    cpu0 = process.cpuUsage();
    t0 = process.hrtime.bigint();
    ws.send(buf, { binary: true });
  });
  ws.on('message', (data) => {
    if (data.length !== size) die('echo has the wrong size');
    if (++done < count) {
      ws.send(buf, { binary: true });
      return;
    }
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = cpuSeconds(cpu0);
    process.stdout.write(`RESULT ${elapsed} ${cpu}\n`);
    ws.close();
  });
  ws.on('close', () => process.exit(done === count ? 0 : 1));
  ws.on('error', (e) => die(`client: ${e.message}`));
}

if (args.role === 'server') runServer();
else runClient();
