// The truflux client over WebSocket (docs/PROTOCOL.md §3.3): the hello exchange, typed
// messages, ping/pong, heartbeat and idle timeout, the close handshake, reconnect. Runs in
// browsers and in Node.js with the `ws` package passed as `WebSocket`.
//
// Every frame leaves through _emit(), and every received frame enters through _frame(): the
// secure layer (kinds 0x20-0x2F) will sit at those two points.

import { E, errname, enc, dec, text, u32, frame, frames, helloPayload, parseHello,
  HELLO, WELCOME, PING, PONG, CLOSE, ERROR, MSG } from './wire.js';
import { pack, unpack } from './msgpack.js';
import { EMPTY, BINARY, TEXT, MSGPACK } from './protocol.js';

export const SUBPROTOCOL = 'truflux.v1';
const DEFAULTS = {
  maxMessage: 16 << 20, heartbeat: 20000, idle: 60000, handshake: 10000, closeTimeout: 5000,
  strict: false, reconnect: false, reconnectMin: 100, reconnectMax: 10000, binaryType: 'arraybuffer',
};

export class TrufluxError extends Error {
  constructor(errno, detail) {
    super(errname(errno) + (detail ? ': ' + detail : ''));
    this.name = 'TrufluxError';
    this.code = errname(errno);
    this.errno = errno;
  }
}

const isBlob = (x) => typeof Blob !== 'undefined' && x instanceof Blob;

// A value as [payload type, octets]: undefined is empty, strings are text, bytes are
// binary, everything else is MessagePack.
function encodePayload(data) {
  if (data === undefined) return [EMPTY, new Uint8Array(0)];
  if (typeof data === 'string') return [TEXT, enc.encode(data)];
  if (data instanceof ArrayBuffer) return [BINARY, new Uint8Array(data)];
  if (ArrayBuffer.isView(data)) return [BINARY, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
  return [MSGPACK, pack(data)];
}

export class Client {
  // opts: {url, protocol, WebSocket, maxMessage, heartbeat, idle, handshake, closeTimeout,
  // strict, reconnect, reconnectMin, reconnectMax, binaryType: 'arraybuffer' | 'blob'}.
  constructor(opts) {
    this.opts = { ...DEFAULTS, ...opts };
    this.url = this.opts.url;
    this.protocol = this.opts.protocol;
    this.WebSocket = this.opts.WebSocket || globalThis.WebSocket;
    this.onOpen = this.onClose = this.onErr = this.onMessage = null;
    this.state = 0;
    this.isOpen = false;
    this.ws = null;
    this._queue = [];   // messages sent before the hello finished
    this._out = [];     // frames of this turn, sent as one WebSocket message
    this._pending = 0;  // Blobs being read: later sends wait behind them, in order
    this._chain = Promise.resolve();
    this._attempt = 0;
  }

  open() {
    this._wanted = true;
    this._attempt = 0;
    this._connect();
    return this;
  }

  // Graceful close (code 0, or a TRUFLUX error magnitude sent to the peer); no reconnect.
  close(code = 0) {
    this._wanted = false;
    this._initiated = true;
    clearTimeout(this._retry);
    if (this.isOpen && !this._closeSent) {
      this._emit(CLOSE, code, new Uint8Array(0));
      this._closeSent = true;
      this._closeCode = code;
      this._timer(this.opts.closeTimeout, () => this._drop());
    } else if (this.ws && !this._done) {
      this._drop();
    }
    return this;
  }

  // Sends `data` as message `name`; payload types as encodePayload() says, Blobs as binary.
  // Throws a TrufluxError for what fails locally (ENOTFOUND, EPEERUNKNOWN, ESCHEMA,
  // EMSGSIZE, ECLOSED). Chainable.
  send(name, data) {
    const m = this.protocol.byName.get(name);
    if (!m) throw new TrufluxError(E.ENOTFOUND, name);
    if (isBlob(data) || this._pending) {
      this._pending++;
      this._chain = this._chain
        .then(async () => this._send(m, isBlob(data) ? new Uint8Array(await data.arrayBuffer()) : data))
        .catch((e) => this._report(e.errno || E.EINVAL, e.message))
        .finally(() => this._pending--);
      return this;
    }
    this._send(m, data);
    return this;
  }

  // True once the peer's hello listed the message.
  peerKnows(name) {
    const m = this.protocol.byName.get(name);
    return !!(m && this._peer && this._peer.ids.has(m.id));
  }

  _send(m, data) {
    const [type, payload] = encodePayload(data);
    if (!(m.mask & (1 << type))) throw new TrufluxError(E.ESCHEMA, m.name);
    if ((m.max && payload.length > m.max) || payload.length > this.opts.maxMessage)
      throw new TrufluxError(E.EMSGSIZE, m.name);
    if (this.isOpen && !this._closeSent) {
      if (!this._peer.ids.has(m.id)) throw new TrufluxError(E.EPEERUNKNOWN, m.name);
      if (payload.length > this._peer.max) throw new TrufluxError(E.EMSGSIZE, m.name);
      this._emit(MSG | type, m.id, payload);
    } else if (this._wanted && (this.opts.reconnect || (!this._done && !this._closeSent))) {
      // Connecting, or away and about to reconnect: sent after the next hello.
      this._queue.push([m, type, payload]);
    } else {
      throw new TrufluxError(E.ECLOSED);
    }
  }

  _connect() {
    const ws = (this.ws = new this.WebSocket(this.url, SUBPROTOCOL));
    ws.binaryType = 'arraybuffer';
    Object.assign(this, { isOpen: false, _peer: null, _closeSent: false, _gotClose: null,
      _failCode: null, _initiated: false, _done: false, _out: [], state: 0 });
    ws.onopen = () => {
      this._lastRx = Date.now();
      this._out.push(frame(HELLO, 0, helloPayload(this.protocol, this.opts)));
      this._flush();
      this._timer(this.opts.handshake, () => this._fail(E.EHELLOTIMEOUT, 'no WELCOME in time'));
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws || this._done) return;
      this._lastRx = Date.now();
      const fs = frames(new Uint8Array(ev.data), this.opts.maxMessage);
      if (typeof fs === 'number') return this._fail(-fs, 'malformed frame');
      for (const f of fs) if (this._done || this._gotClose !== null || !this._frame(f)) break;
    };
    ws.onclose = () => this.ws === ws && this._ended();
    ws.onerror = () => {};
  }

  // Queues a frame; the frames of one turn of the event loop leave as one message.
  _emit(kind, id, payload) {
    this._out.push(frame(kind, id, payload));
    if (this._out.length === 1) queueMicrotask(() => this._flush());
  }

  _flush() {
    const fs = this._out;
    if (!fs.length || !this.ws || this.ws.readyState !== 1) return;
    this._out = [];
    let n = 0;
    for (const f of fs) n += f.length;
    const buf = fs.length === 1 ? fs[0] : new Uint8Array(n);
    if (fs.length > 1) for (let at = 0, i = 0; i < fs.length; at += fs[i++].length) buf.set(fs[i], at);
    this.ws.send(buf);
  }

  // One received frame; false to stop reading this message.
  _frame(f) {
    if (!this.isOpen) {
      if (f.kind === CLOSE) return this._peerClose(f);
      if (f.kind !== WELCOME) return this._fail(E.EPROTO, 'first frame is not a WELCOME');
      const h = parseHello(f.data);
      if (typeof h === 'number') return this._fail(-h, 'bad WELCOME');
      if ((this.opts.strict || h.flags & 1) && h.fp.join() !== this.protocol.fingerprint().join())
        return this._fail(E.EFINGERPRINT, 'protocol fingerprints differ');
      this._peer = h;
      this.isOpen = true;
      this._attempt = 0;
      this._startTick();
      const q = this._queue;
      this._queue = [];
      for (const [m, type, payload] of q) {
        if (!h.ids.has(m.id)) this._report(E.EPEERUNKNOWN, m.name);
        else if (payload.length > h.max) this._report(E.EMSGSIZE, m.name);
        else this._emit(MSG | type, m.id, payload);
      }
      this.onOpen && this.onOpen(this);
      return true;
    }
    switch (f.kind) {
      case PING:
        if (!this._closeSent) this._emit(PONG, 0, f.data);
        return true;
      case PONG:
        return true;
      case CLOSE:
        return this._peerClose(f);
      case ERROR: {
        if (f.data.length < 4) return this._fail(E.EPROTO, 'ERROR frame shorter than its code');
        const m = this.protocol.byId.get(f.id);
        const code = new DataView(f.data.buffer, f.data.byteOffset).getUint32(0) & 0x7fffffff;
        this._report(code, text(f.data.subarray(4)), m && m.name);
        return true;
      }
    }
    if ((f.kind & 0xfc) !== MSG) return this._fail(E.EPROTO, 'unexpected frame kind ' + f.kind);
    if (this._closeSent) return true;
    return this._deliver(f);
  }

  _deliver(f) {
    const m = this.protocol.byId.get(f.id), type = f.kind & 3;
    if (!m) return this._fail(E.EUNKNOWN, 'message id ' + f.id);
    if (!(m.mask & (1 << type))) return this._fail(E.ESCHEMA, m.name);
    if (m.max && f.data.length > m.max) return this._fail(E.EMSGSIZE, m.name);
    let data;
    try {
      data = type === EMPTY ? undefined : type === TEXT ? dec.decode(f.data)
        : type === MSGPACK ? unpack(f.data)
        : this.opts.binaryType === 'blob' ? new Blob([f.data]) : f.data.slice().buffer;
    } catch (e) {
      return this._fail(type === TEXT ? E.EUTF8 : E.ESCHEMA, m.name);
    }
    if (m.states && !m.states.includes(this.state)) return this._fail(E.ESTATE, m.name);
    const h = m.handler || this.onMessage;
    if (h) m.handler ? h(data, this, m.name) : h(m.name, data, this);
    return true;
  }

  _peerClose(f) {
    this._gotClose = f.id;
    this._closeText = text(f.data);
    if (!this._closeSent) this._emit(CLOSE, 0, new Uint8Array(0));
    this._closeSent = true;
    this._flush();
    this._drop();
    return false;
  }

  // A violation or local failure: CLOSE(code), then the end (§18).
  _fail(code, detail) {
    if (this._done) return false;
    this._failCode = code;
    this._report(code, detail);
    if (this.ws && this.ws.readyState === 1 && !this._closeSent) {
      this._emit(CLOSE, code, enc.encode(String(detail || '')).subarray(0, 125));
      this._closeSent = true;
      this._flush();
    }
    this._drop();
    return false;
  }

  _drop() {
    if (this.ws && this.ws.readyState < 2) this.ws.close(1000);
    if (this.ws && this.ws.readyState === 3) this._ended();
  }

  _report(code, detail, name) {
    this.onErr && this.onErr(new TrufluxError(code, detail), this, name);
  }

  _ended() {
    if (this._done) return;
    this._done = true;
    clearTimeout(this._t);
    clearInterval(this._tick);
    const wasOpen = this.isOpen;
    this.isOpen = false;
    // Our own failure, else the code the peer closed with, else our graceful close.
    let reason = this._failCode ?? (this._initiated ? this._closeCode ?? 0 : this._gotClose);
    const remote = this._failCode == null && !this._initiated && this._gotClose !== null;
    if (reason == null) {
      reason = wasOpen ? E.EEOF : E.ECONNREFUSED;
      this._report(reason, wasOpen ? 'connection dropped' : 'cannot connect to ' + this.url);
    }
    const retry = this._wanted && this.opts.reconnect;
    if (wasOpen || !retry) this.onClose && this.onClose(reason, remote || reason === E.EEOF, this);
    if (retry) {
      const d = Math.min(this.opts.reconnectMax, this.opts.reconnectMin * 2 ** Math.min(this._attempt++, 20));
      this._retry = setTimeout(() => this._wanted && this._connect(), d / 2 + Math.random() * d / 2);
    }
  }

  _timer(ms, fn) {
    clearTimeout(this._t);
    if (ms) this._t = setTimeout(fn, ms);
  }

  _startTick() {
    clearTimeout(this._t);
    const { heartbeat: hb, idle } = this.opts;
    const base = Math.min(hb || Infinity, idle || Infinity);
    if (base === Infinity) return;
    let lastPing = 0;
    this._tick = setInterval(() => {
      const now = Date.now(), quiet = now - this._lastRx;
      if (!this.isOpen || this._closeSent) return;
      if (idle && quiet >= idle) this._fail(E.EIDLE, 'nothing received within the idle timeout');
      else if (hb && quiet >= hb && now - lastPing >= hb) {
        lastPing = now;
        this._emit(PING, 0, u32(now >>> 0));
      }
    }, Math.max(base / 4, 5));
  }
}
