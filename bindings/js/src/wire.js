// The truflux wire format (docs/PROTOCOL.md): frame headers, the hello payload, message ids
// (FNV-1a) and the protocol fingerprint (SHA-256). No I/O.

// The codes the client raises, as constants (declared first, so that
// the bundle holds them as plain numbers); the table below must agree.
export const EINVAL = 1, ECLOSED = 4, ECANCELED = 5, EHELLOTIMEOUT = 7, EIDLE = 8, EPROTO = 9,
  EVERSION = 10, EFINGERPRINT = 11, EMSGSIZE = 12, EUNKNOWN = 13, ESCHEMA = 14, ESTATE = 15,
  EPEERUNKNOWN = 16, ECONNREFUSED = 18, EIO = 22, ENOTFOUND = 24, ENOTSUP = 25, EUTF8 = 28,
  EEOF = 30, EDECRYPT = 40, EREPLAY = 41, EREORDER = 42, ETRUNCATED = 43, EPIN = 44,
  ENOCIPHER = 46, ENOTSECURE = 47, EHANDSHAKE = 48, EFILEUNKNOWN = 60, EFILESIZE = 61,
  ECHECKSUM = 62, EFILENAME = 63, EFLOWCONTROL = 64;
export const HELLO = 1, WELCOME = 2, PING = 3, PONG = 4, CLOSE = 5, ERROR = 6, MSG = 0x10;
export const HDR = 9;
const MAX_IDS = 4096;

export const enc = new TextEncoder();
// Byte helpers shared by every module (one copy in the bundle).
export const u8 = (x) => new Uint8Array(x), E0 = u8(0);
export const dv = (b) => new DataView(b.buffer, b.byteOffset, b.byteLength);
// The octets of an ArrayBuffer or a view (typed array, DataView), not copied; else false.
export const view = (x) => (x instanceof ArrayBuffer || ArrayBuffer.isView(x)) &&
  new Uint8Array(x.buffer || x, x.byteOffset || 0, x.byteLength);
// n zero octets and a DataView on them.
export const mk = (n) => { const b = u8(n); return [b, dv(b)]; };
export const cat = (l) => {
  const o = u8(l.reduce((n, x) => n + x.length, 0));
  l.reduce((at, x) => (o.set(x, at), at + x.length), 0);
  return o;
};
// fatal: a text payload that is not UTF-8 is refused (EUTF8), not repaired.
export const dec = new TextDecoder('utf-8', { fatal: true });
const lossy = new TextDecoder();
export const text = (b) => lossy.decode(b);

// Error codes by magnitude (§17); the names the client reports, without their leading E, in
// one string: a layer's block of §17 at its first number, the codes without a name (32-39,
// 50-59) the empty words between blocks. In lower case, which gzip codes more cheaply among
// the bundle's mostly lower-case text (some 100 octets); errname() upper-cases.
const N = ('ok inval nomem again closed canceled timedout hellotimeout idle proto version fingerprint ' +
  'msgsize unknown schema state peerunknown badurl connrefused connreset addrinuse limit io exist ' +
  'notfound notsup busy resolve utf8 shutdown eof internal         decrypt replay reorder ' +
  'truncated pin auth nocipher notsecure handshake cert           fileunknown filesize checksum ' +
  'filename flowcontrol declined filelimit').split(' ');
export const errname = (code) => (code ? 'E' + (N[code] || code) : 'ok').toUpperCase();

export function fnv(name) {
  let h = 0x811c9dc5;
  for (const b of enc.encode(name)) h = Math.imul(h ^ b, 0x01000193);
  return h << 1 >>> 1;  // the low 31 bits
}

// SHA-256 (FIPS 180-4), synchronous and incremental: WebCrypto's digest is async, one-shot
// and absent outside secure contexts; the hello needs the fingerprint at once and a file's
// checksum runs over content that never sits whole in memory.
// Its constants as FIPS 180-4 defines them, from the first 64 primes: K the cube roots'
// fractional bits, H0 the square roots' (first 8 primes).
const K = [], H0 = [];
for (let n = 2, c = 0; c < 64; n++) {
  let p = true;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) p = false;
  if (p) H0[c] = (n ** 0.5 % 1) * 2 ** 32 | 0, K[c++] = (n ** (1 / 3) % 1) * 2 ** 32 | 0;
}
// hasher()._upd(bytes)... ._dig() -> 32 octets.
export function hasher() {
  const H = H0.slice(0, 8);
  const [m, v] = mk(64), W = [], r = (x, k) => (x >>> k) | (x << (32 - k));
  let l = 0;
  const block = () => {
    for (let i = 0; i < 64; i++) {
      W[i] = i < 16 ? v.getUint32(4 * i)
        : (r(W[i - 2], 17) ^ r(W[i - 2], 19) ^ (W[i - 2] >>> 10)) + W[i - 7] +
          (r(W[i - 15], 7) ^ r(W[i - 15], 18) ^ (W[i - 15] >>> 3)) + W[i - 16] | 0;
    }
    let [a, b, c, d, e, f, g, h] = H;
    for (let i = 0; i < 64; i++) {
      const t1 = h + (r(e, 6) ^ r(e, 11) ^ r(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + W[i] | 0;
      const t2 = (r(a, 2) ^ r(a, 13) ^ r(a, 22)) + ((a & b) ^ (a & c) ^ (b & c)) | 0;
      h = g; g = f; f = e; e = d + t1 | 0; d = c; c = b; b = a; a = t1 + t2 | 0;
    }
    [a, b, c, d, e, f, g, h].forEach((x, i) => (H[i] = H[i] + x | 0));
  };
  const o = {
    _upd(d) {
      for (let i = 0; i < d.length; ) (m[l++ & 63] = d[i++]), l & 63 || block();
      return o;
    },
    _dig() {
      o._upd(cat([[0x80], u8((55 - l) & 63), n64(l * 8)]));
      return cat(H.map(u32));
    },
  };
  return o;
}
export const sha256 = (msg) => hasher()._upd(msg)._dig();

// One frame: 9-octet header (kind, 31-bit id, length), payload.
export const frame = (kind, id, payload) =>
  cat([[kind], u32(id << 1 >>> 1), u32(payload.length), payload]);

// Payload limits by kind (§4.3; absent: not a kind), but for the MESSAGE kinds with a payload
// (the max message size): the control kinds, the secure layer's (§24) and the file kinds
// (§23.3), whatever the max message size.
// One literal, holes included: kinds 1-6, 0x10 (MSG), 0x20-0x24, 0x30-0x39.
const LIMITS = [, 65536, 65536, 125, 125, 125, 1024, , , , , , , , , , 0, , , , , , , , , , , , , , , ,
  65535, 65535, 0, 0, 0, , , , , , , , , , , , 1024, 12, 129, 0, 0, 129, 65536, 40, 4, 0];

// The frames of one WebSocket message: each message holds whole frames (§3.3). Returns
// [{kind, id, data}] or a negative error code (-EPROTO / -EMSGSIZE, §4.3). With `part` (the
// inner stream of records, §24.5) an incomplete frame at the end is left: `.at` says where.
export function frames(buf, maxMsg, part) {
  const out = [], v = dv(buf);
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < HDR) break;
    const kind = buf[at], raw = v.getUint32(at + 1), len = v.getUint32(at + 5);
    const limit = kind > MSG && kind < 0x14 ? maxMsg : LIMITS[kind] ?? -1;
    if (limit < 0 || raw >>> 31 || (kind === MSG && len)) return -EPROTO;
    if (len > limit) return -EMSGSIZE;
    if (buf.length - at - HDR < len) break;
    out.push({ kind, id: raw, data: buf.subarray(at + HDR, at + HDR + len) });
    at += HDR + len;
  }
  // Empty, or a frame cut short.
  if (!part && (!at || at < buf.length)) return -EPROTO;
  out.at = at;
  return out;
}

// The hello payload (§6.1) of a protocol; `sec`: the secure layer's offer (§24.2), if on.
export function helloPayload(proto, opts, sec) {
  const ids = proto.ids();
  // Capabilities: bit 1 files (§23, files.js), bit 0 secure.js; then extension 0x0001.
  return cat([enc.encode('TFLX'), [1, 0, 0, opts.strict ? 1 : 0], u32(sec ? 3 : 2), u32(opts.maxMessage),
    u32(opts.heartbeat), proto.fingerprint(), [ids.length >> 8, ids.length], ...ids.map(u32),
    sec ? [0, 1, 0, sec.length, ...sec] : E0]);
}

// Decodes a hello payload with the checks of §6.3 in order: {_ids, _max, _flags, _caps, _fp,
// _sec (the first "secure" extension's value)} or a negative error code.
export function parseHello(p) {
  const v = dv(p);
  if (p.length < 6 || text(p.subarray(0, 4)) !== 'TFLX') return -EPROTO;
  if (p[4] !== 1) return -EVERSION;
  if (p.length < 54) return -EPROTO;
  const n = v.getUint16(52);
  if (n > MAX_IDS || p.length < 54 + 4 * n) return -EPROTO;
  const ids = new Set();
  let last = -1;
  for (let i = 0; i < n; i++) {
    const id = v.getUint32(54 + 4 * i);
    if (id <= last || id >>> 31) return -EPROTO;
    ids.add((last = id));
  }
  let sec;
  for (let at = 54 + 4 * n, e; at < p.length; at = e) {
    if (p.length - at < 4) return -EPROTO;
    e = at + 4 + v.getUint16(at + 2);
    if (e > p.length) return -EPROTO;
    if (v.getUint16(at) === 1) sec ||= p.subarray(at + 4, e);
  }
  const max = v.getUint32(12);
  return { _ids: ids, _flags: v.getUint16(6), _caps: v.getUint32(8), _max: max && max < 2 ** 31 ? max : 2 ** 31 - 1,
    _fp: p.subarray(20, 52), _sec: sec };
}

// x (0 <= x < 2^53) as a big-endian u64, and below 2^32 as a u32 (DataView truncates).
export const n64 = (x) => {
  const [b, v] = mk(8);
  v.setUint32(0, x / 2 ** 32);
  v.setUint32(4, x);
  return b;
};
export const u32 = (x) => n64(x).subarray(4);
