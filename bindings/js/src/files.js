// File transfer (docs/PROTOCOL.md §23): client.sendFile() offers a Blob, File or bytes;
// client.onFile(f) hands over the peer's offers, which accept() collects into a Blob or
// gives to a callback sink. Credit flow control both ways, the SHA-256 checked at END. The
// hello announces capability bit 1 (wire.js); client.js routes kinds 0x30-0x3F here.
// This client never resumes: its offers carry no resume key, and it accepts from 0.
// Written for size (the whole client has a budget): checks are tables where they can be.
import { ECANCELED, ECHECKSUM, ECLOSED, EFILENAME, EFILESIZE, EFILEUNKNOWN, EFLOWCONTROL, EIO,
  ENOTSUP, EPROTO } from './wire.js';
import { enc, dec, text, u32, n64, hasher, u8, E0, dv, cat } from './wire.js';
import { TrufluxError as Err } from './client.js';

const ACCEPT = 1, DECLINE = 2, PAUSE = 3, RESUME = 4, CANCEL = 5, CHUNK = 6, END = 7, CREDIT = 8;
// Credit per incoming transfer, given back in quarters as the sink takes content.
const WINDOW = 1 << 20;
// By kind - 0x30: the shortest payload (wire.js checks the longest, §23.3); the states a
// transfer may be in when the kind arrives (bits: 1 offered, 2 moving, 4 END passed); and
// the parity its id must have (which side sent the OFFER; '.': either).
const MIN = [28, 12, 4, 0, 0, 4, 1, 40, 4, 0], STATES = [0, 1, 1, 7, 7, 7, 2, 2, 6, 4];
const PARITY = '.11...0011';
// What §23.6 forbids in a name; a sender replaces each match (the C library's rule).
const UNSAFE = /[\0-\x1f\x7f-\x9f/\\]|^(?=\.\.?$|\.tfpart-)/;
const u64 = (v) => Number(v.getBigUint64(0));

// One transfer, either way (state _st: 0 offered, 1 moving, 2 END passed, 3 over). Events
// are handler properties, called (value, transfer): sender onAccept, onDecline, onPause,
// onResume, onFinish, onCancel, onError; receiver onPause, onResume, onCancel, onError,
// onEnd (with the Blob when collecting).
class FileTransfer {
  constructor(c, id, name, size, src) {
    Object.assign(this, { _c: c, id, name, size, isStream: size < 0, incoming: !src, _src: src,
      _h: hasher(), _st: 0, _pos: 0, _credit: 0, _got: 0, _parts: [] });
    c._xf.set(id, this);
  }

  get paused() { return !!(this._lp || this._pp); }

  _e(ev, x) { const f = this['on' + ev]; f && f(x, this); }

  _tx(kind, p = E0) { this._c._closeSent || this._c._emit(0x30 + kind, this.id, p); }

  // Receiver: takes the offer. sink(chunk) gets each Uint8Array in order (a returned promise
  // holds back credit until it settles); without one, the content collects into f.blob.
  accept(sink) {
    if (this.incoming && !this._st) {
      this._st = 1;
      this._sink = sink;
      this._tx(ACCEPT, cat([u8(8), u32((this._credit = WINDOW))]));
    }
    return this;
  }

  decline() { return this.incoming && !this._st ? this._stop(DECLINE, 0) : this; }

  cancel() { return this._stop(CANCEL, ECANCELED); }

  _stop(kind, code) {
    if (this._st < 3) this._tx(kind, u32(code)), this._end();
    return this;
  }

  pause() { return this._ctl(PAUSE); }

  resume() { return this._ctl(RESUME); }

  _ctl(kind) {
    if (this._st < 3) this._tx(kind), (this._lp = kind === PAUSE), this._pump();
    return this;
  }

  _end(ev, x) {
    this._st = 3;
    this._c._xf.delete(this.id);
    ev && this._e(ev, x);
  }

  // A local failure: CANCEL(code) to the peer, onError here.
  _abort(code) {
    this._stop(CANCEL, code);
    this._e('Error', new Err(code));
  }

  // Sender: reads and sends chunks while credit lasts and neither side pauses; END at the end.
  async _pump() {
    if (this.incoming || this._busy) return;
    this._busy = 1;
    try {
      for (let n; this._st === 1 && !this.paused && (n = Math.min(65536, this._credit, this.size - this._pos));) {
        const d = u8(await this._src.slice(this._pos, this._pos + n).arrayBuffer());
        if (this._st !== 1 || this.paused) break;
        this._h._upd(d);
        this._tx(CHUNK, d);
        this._pos += n;
        this._credit -= n;
      }
      if (this._st === 1 && this._pos === this.size) {
        this._st = 2;
        this._tx(END, cat([n64(this.size), this._h._dig()]));
      }
    } catch (e) {
      this._abort(EIO);  // the Blob could not be read (a File changed on disk)
    }
    this._busy = 0;
  }
}

// Offers src (Blob, File, ArrayBuffer, typed array) as o.name (else the File's name), the
// first o.size octets (else all). Throws ECLOSED, ENOTSUP (the peer takes no files),
// EFILENAME (over 255 octets).
export function sendFile(c, src, o = {}) {
  if (!c.isOpen || c._closeSent) throw new Err(ECLOSED);
  if (!(c._peer._caps & 2)) throw new Err(ENOTSUP);
  const name = String(o.name || src.name || 'file').replace(RegExp(UNSAFE, 'g'), '_'), nb = enc.encode(name);
  if (nb.length > 255) throw new Err(EFILENAME);
  src = new Blob([src]).slice(0, o.size);
  const t = new FileTransfer(c, (c._fid += 2), name, src.size, src);
  t._tx(0, cat([n64(src.size), u8(18), [0, nb.length], nb]));
  return t;
}

// The connection ended, and every transfer on it.
export function endFiles(c) {
  for (const t of c._xf.values()) t._end('Error', new Err(ECLOSED));
}

// One received file frame (kinds 0x30-0x3F); false when it ended the connection (§23.9).
export function fileFrame(c, f) {
  let k = f.kind - 0x30;
  const id = f.id, d = f.data, mine = id & 1, len = d.length;
  const v = dv(d), bad = () => c._fail(EPROTO);
  if (!(c._peer._caps & 2) || len < MIN[k] || (k === CREDIT && !v.getUint32(0))) return bad();
  if (!k) {
    const n = v.getUint16(26), raw = d.subarray(28, 28 + n), size = u64(v);
    if (mine || id <= c._pid || !n || n > 255 || len < 28 + n) return bad();
    c._pid = id;
    let name;
    try {
      name = dec.decode(raw);
    } catch (e) {}
    const t = new FileTransfer(c, id, name ?? text(raw), size < 2 ** 64 ? size : -1);
    const ok = name !== undefined && !UNSAFE.test(name);
    ok && c.onFile ? c.onFile(t, c) : t._stop(DECLINE, ok ? 0 : EFILENAME);
    ok || c._report(EFILENAME, t.name);
    return true;
  }
  if (!id || id > (mine ? c._fid : c._pid) || PARITY[k] == !mine)  // '.' equals neither
    return c._fail(EFILEUNKNOWN);
  const t = c._xf.get(id);
  if (!t) return true;  // ended here: it crossed our DECLINE, CANCEL or DONE
  if (k === CHUNK && (!t._st || len > t._credit)) return c._fail(EFLOWCONTROL);
  if (!(STATES[k] >> t._st & 1) || (k === ACCEPT && u64(v))) return bad();
  switch (k) {
    case ACCEPT:
      t._st = 1;
      t._credit = v.getUint32(8);
      t._e('Accept');
      break;
    case DECLINE:
      t._end('Decline');
      break;
    case PAUSE:
    case RESUME:
      t._e((t._pp = k === PAUSE) ? 'Pause' : 'Resume');
      break;
    case CANCEL:
      k = v.getUint32(0);
      k === ECANCELED ? t._end('Cancel') : t._end('Error', new Err(k, text(d.subarray(4))));
      break;
    case CHUNK:
      t._credit -= len;
      if ((t._pos += len) > t.size && !t.isStream) return t._abort(EFILESIZE), true;
      t._h._upd(d);
      // Called now (END may follow in this message); a throw or rejection ends the transfer.
      new Promise((r) => r(t._sink ? t._sink(d) : t._parts.push(d))).then(() => {
        if ((t._got += len) >= WINDOW / 4 && t._st < 3) {
          t._credit += t._got;
          t._tx(CREDIT, u32(t._got));
          t._got = 0;
        }
      }, () => t._st < 3 && t._abort(EIO));
      break;
    case END:
      t._st = 2;
      if (u64(v) !== t._pos || (!t.isStream && t._pos !== t.size)) t._abort(EFILESIZE);
      else if (t._h._dig().join() !== d.subarray(8).join()) t._abort(ECHECKSUM);
      else {
        t._tx(9);  // DONE
        if (!t._sink) t.blob = new Blob(t._parts);
        t._end('End', t.blob);
      }
      break;
    case CREDIT:
      t._credit += v.getUint32(0);
      break;
    default:  // DONE
      t._end('Finish');
  }
  t._pump();
  return true;
}
