// The truflux client over WebSocket (docs/PROTOCOL.md §3.3): the hello exchange, typed
// messages, ping/pong, heartbeat and idle timeout, the close handshake, reconnect. Runs in
// browsers and in Node.js with the `ws` package passed as `WebSocket`.
//
// Every frame leaves through _emit(), and every received frame enters through _frame(): the
// secure layer (secure.js, kinds 0x20-0x2F) sits in front of those two points, per connection.

import { ECLOSED, ECONNREFUSED, EEOF, EFINGERPRINT, EHELLOTIMEOUT, EIDLE, EINVAL, EMSGSIZE,
  ENOTFOUND, EPEERUNKNOWN, EPROTO, ESCHEMA, ESTATE, EUNKNOWN, EUTF8 } from './wire.js';
import { errname, enc, dec, text, u32, u8, E0, dv, cat, view, frame, frames, helloPayload, parseHello,
  HELLO, WELCOME, PING, PONG, CLOSE, ERROR, MSG } from './wire.js';
import { pack, unpack } from './msgpack.js';
import { EMPTY, BINARY, TEXT, MSGPACK } from './protocol.js';
import { sendFile, fileFrame, endFiles } from './files.js';
import { secure } from './secure.js';

export const SUBPROTOCOL = 'truflux.v1';
// The defaults (strict and reconnect: off; binaryType: 'arraybuffer').
const DEFAULTS = {
  maxMessage: 16 << 20, heartbeat: 20000, idle: 60000, handshake: 10000, closeTimeout: 5000,
  reconnectMin: 100, reconnectMax: 10000,
};

export class TrufluxError extends Error {
  constructor(errno, detail) {
    const code = errname(errno);
    super(code + (detail ? ': ' + detail : ''));
    Object.assign(this, { name: 'TrufluxError', code, errno });
  }
}

const isBlob = (x) => x instanceof Blob;

// A value as [payload type, octets]: undefined is empty, strings are text, bytes are
// binary, everything else is MessagePack.
function encodePayload(data) {
  if (data === undefined) return [EMPTY, E0];
  if (typeof data === 'string') return [TEXT, enc.encode(data)];
  const b = view(data);
  return b ? [BINARY, b] : [MSGPACK, pack(data)];
}

export class Client {
  // opts: {url, protocol, WebSocket, maxMessage, heartbeat, idle, handshake, closeTimeout,
  // strict, reconnect, reconnectMin, reconnectMax, binaryType: 'arraybuffer' | 'blob', and
  // the secure layer's (secure.js): secure, serverKey, rekeyMessages, rekeyBytes,
  // rekeyInterval}. Throws a RangeError for secure-layer options that cannot work, and a
  // TrufluxError ENOTSUP for a staticKey (this client speaks NN and NK only).
  constructor(opts) {
    const o = (this._o = { ...DEFAULTS, ...opts });
    // _secure: null when the secure layer is off; _queue: messages sent before the hello
    // finished; _pending: Blobs being read (later sends wait behind them, in order). The
    // handlers (onOpen, onClose, onErr, onMessage, onFile) start undefined.
    Object.assign(this, { url: o.url, protocol: o.protocol, WebSocket: o.WebSocket || globalThis.WebSocket,
      _secure: secure(o), state: 0, isOpen: false, ws: null, _queue: [], _pending: 0,
      _chain: Promise.resolve() });
  }

  open() {
    this._wanted = true;
    this._connect(this._attempt = 0);
    return this;
  }

  // Graceful close (code 0, or a TRUFLUX error magnitude sent to the peer); no reconnect.
  close(code = 0) {
    this._wanted = false;
    this._initiated = true;
    clearTimeout(this._retry);
    if (this.isOpen && !this._closeSent) {
      this._emit(CLOSE, code, E0);
      this._closeSent = true;
      this._closeCode = code;
      this._timer(this._o.closeTimeout, () => this._drop());
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
    if (!m) throw new TrufluxError(ENOTFOUND, name);
    if (isBlob(data) || this._pending) {
      this._pending++;
      this._chain = this._chain
        .then(async () => this._send(m, isBlob(data) ? u8(await data.arrayBuffer()) : data))
        .catch((e) => this._report(e.errno ? e : EINVAL, e.message))
        .finally(() => this._pending--);
    } else this._send(m, data);
    return this;
  }

  // Offers a Blob, File, ArrayBuffer or typed array, {name, size}: files.js, PROTOCOL.md §23.
  sendFile(src, o) {
    return sendFile(this, src, o);
  }

  // True once the peer's hello listed the message.
  peerKnows(name) {
    const m = this.protocol.byName.get(name);
    return !!(m && this._peer && this._peer._ids.has(m.id));
  }

  _send(m, data) {
    const [type, payload] = encodePayload(data);
    if (!(m._k & (1 << type))) throw new TrufluxError(ESCHEMA, m.name);
    if ((m._x && payload.length > m._x) || payload.length > this._o.maxMessage)
      throw new TrufluxError(EMSGSIZE, m.name);
    if (this.isOpen && !this._closeSent) {
      this._put(m, type, payload);
    } else if (this._wanted && (this._o.reconnect || (!this._done && !this._closeSent))) {
      // Connecting, or away and about to reconnect: sent after the next hello.
      this._queue.push([m, type, payload]);
    } else {
      throw new TrufluxError(ECLOSED);
    }
  }

  // To the peer, which must know the message and take its size.
  _put(m, type, payload) {
    const p = this._peer;
    if (!p._ids.has(m.id)) throw new TrufluxError(EPEERUNKNOWN, m.name);
    if (payload.length > p._max) throw new TrufluxError(EMSGSIZE, m.name);
    this._emit(MSG | type, m.id, payload);
  }

  _connect() {
    const ws = (this.ws = new this.WebSocket(this.url, SUBPROTOCOL));
    ws.binaryType = 'arraybuffer';
    // _out: the frames of this turn, sent as one WebSocket message.
    Object.assign(this, { isOpen: false, _peer: null, _closeSent: false, _gotClose: null,
      _failCode: null, _initiated: false, _done: false, _out: [], state: 0,
      _xf: new Map(), _fid: -1, _pid: 0 });  // file transfers by id; last ids offered
    this._sec = this._secure && this._secure(this);
    ws.onopen = () => {
      this._lastRx = Date.now();
      this._out.push(frame(HELLO, 0, helloPayload(this.protocol, this._o, this._secure && this._secure._offer)));
      this._flush();
      this._timer(this._o.handshake, () => this._fail(EHELLOTIMEOUT));
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws || this._done) return;
      this._lastRx = Date.now();
      const fs = frames(u8(ev.data), this._o.maxMessage);
      if (fs < 0) return this._fail(-fs);
      for (const f of fs) if (this._done || this._gotClose !== null || !this._frame(f)) break;
    };
    ws.onclose = () => this.ws === ws && this._ended();
    ws.onerror = () => {};
  }

  // Queues a frame; the frames of one turn of the event loop leave as one message.
  _emit(kind, id, payload) {
    this._out.push(frame(kind, id, payload)) - 1 || queueMicrotask(() => this._flush());
  }

  _flush() {
    const fs = this._out, ws = this.ws;
    if (fs.length && ws && ws.readyState === 1) this._out = [], this._tx(ws, fs);
  }

  // The frames of a flush, as one WebSocket message (the secure layer seals them first).
  _tx(ws, fs) {
    ws.send(cat(fs));
  }

  // One received frame; false to stop reading this message.
  _frame(f) {
    if (!this.isOpen) {
      if (f.kind === CLOSE) return this._peerClose(f);
      if (f.kind !== WELCOME) return this._fail(EPROTO);
      const h = parseHello(f.data);
      if (h < 0) return this._fail(-h);
      if ((this._o.strict || h._flags & 1) && h._fp.join() !== this.protocol.fingerprint().join())
        return this._fail(EFINGERPRINT);
      this._peer = h;
      // The secure layer may hold the opening until its handshake has finished (§24.1).
      return this._sec ? this._sec(h) : this._opened();
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
        if (f.data.length < 4) return this._fail(EPROTO);
        const m = this.protocol._byId.get(f.id);
        const code = dv(f.data).getUint32(0) << 1 >>> 1;  // the low 31 bits
        this._report(code, text(f.data.subarray(4)), m && m.name);
        return true;
      }
    }
    if ((f.kind & 0xf0) === 0x30) return this._closeSent || fileFrame(this, f);
    if ((f.kind & 0xfc) !== MSG) return this._fail(EPROTO);
    if (this._closeSent) return true;
    return this._deliver(f);
  }

  // The connection opens: the messages sent meanwhile go out, then onOpen.
  _opened() {
    const q = this._queue;
    this.isOpen = true;
    this._attempt = 0;
    this._startTick();
    this._queue = [];
    for (const x of q) {
      try {
        this._put(...x);
      } catch (e) {
        this._report(e);
      }
    }
    this.onOpen && this.onOpen(this);
    return true;
  }

  _deliver(f) {
    const m = this.protocol._byId.get(f.id), type = f.kind & 3;
    if (!m) return this._fail(EUNKNOWN);
    if (!(m._k & (1 << type))) return this._fail(ESCHEMA, m.name);
    if (m._x && f.data.length > m._x) return this._fail(EMSGSIZE, m.name);
    let data;
    try {
      data = type === EMPTY ? undefined : type === TEXT ? dec.decode(f.data)
        : type === MSGPACK ? unpack(f.data)
        : this._o.binaryType === 'blob' ? new Blob([f.data]) : f.data.slice().buffer;
    } catch (e) {
      return this._fail(type === TEXT ? EUTF8 : ESCHEMA, m.name);
    }
    if (m._s && !m._s.includes(this.state)) return this._fail(ESTATE, m.name);
    m._h ? m._h(data, this, m.name) : this.onMessage && this.onMessage(m.name, data, this);
    return true;
  }

  _peerClose(f) {
    this._gotClose = f.id;
    return this._bye(0);
  }

  // A violation or local failure: CLOSE(code), then the end (§18).
  _fail(code, detail) {
    if (this._done) return false;
    this._report((this._failCode = code), detail);
    return this._bye(code);
  }

  // Our CLOSE (unless sent already), out now, then the end; false (stop reading).
  _bye(code) {
    if (this.ws && this.ws.readyState === 1 && !this._closeSent) this._emit(CLOSE, code, E0);
    this._closeSent = true;
    this._flush();
    this._drop();
    return false;
  }

  _drop() {
    const ws = this.ws;
    if (ws) ws.readyState < 2 && ws.close(1000), ws.readyState > 2 && this._ended();
  }

  // code: a TrufluxError, or its errno and detail.
  _report(code, detail, name) {
    this.onErr && this.onErr(code.errno ? code : new TrufluxError(code, detail), this, name);
  }

  _ended() {
    if (this._done) return;
    this._done = true;
    clearTimeout(this._t);
    clearInterval(this._tick);
    const wasOpen = this.isOpen;
    this.isOpen = false;
    endFiles(this);
    // Our own failure, else the code the peer closed with, else our graceful close.
    let reason = this._failCode ?? (this._initiated ? this._closeCode ?? 0 : this._gotClose);
    const remote = this._failCode == null && !this._initiated && this._gotClose !== null;
    if (reason == null) {
      reason = wasOpen ? EEOF : ECONNREFUSED;
      this._report(reason, wasOpen ? '' : this.url);
    }
    const retry = this._wanted && this._o.reconnect;
    if (wasOpen || !retry) this.onClose && this.onClose(reason, remote || reason === EEOF, this);
    if (retry) {
      const d = Math.min(this._o.reconnectMax, this._o.reconnectMin * 2 ** Math.min(this._attempt++, 20));
      this._retry = setTimeout(() => this._wanted && this._connect(), d / 2 + Math.random() * d / 2);
    }
  }

  _timer(ms, fn) {
    clearTimeout(this._t);
    if (ms) this._t = setTimeout(fn, ms);
  }

  _startTick() {
    clearTimeout(this._t);
    const { heartbeat: hb, idle } = this._o;
    const base = Math.min(hb || Infinity, idle || Infinity);
    if (base === Infinity) return;
    let lastPing = 0;
    this._tick = setInterval(() => {
      const now = Date.now(), quiet = now - this._lastRx;
      if (!this.isOpen || this._closeSent) return;
      if (idle && quiet >= idle) this._fail(EIDLE);
      else if (hb && quiet >= hb && now - lastPing >= hb) {
        lastPing = now;
        this._emit(PING, 0, u32(now >>> 0));
      }
    }, Math.max(base / 4, 5));
  }
}
