// The truflux wire format (docs/PROTOCOL.md): frame headers, the hello payload, message ids
// (FNV-1a) and the protocol fingerprint (SHA-256). No I/O.

export const HELLO = 1, WELCOME = 2, PING = 3, PONG = 4, CLOSE = 5, ERROR = 6, MSG = 0x10;
export const HDR = 9;
const MAX_IDS = 4096;

export const enc = new TextEncoder();
// fatal: a text payload that is not UTF-8 is refused (EUTF8), not repaired.
export const dec = new TextDecoder('utf-8', { fatal: true });
const lossy = new TextDecoder();

// Error codes by magnitude (§17); the names the client reports.
const NAMES = 'OK EINVAL ENOMEM EAGAIN ECLOSED ECANCELED ETIMEDOUT EHELLOTIMEOUT EIDLE EPROTO ' +
  'EVERSION EFINGERPRINT EMSGSIZE EUNKNOWN ESCHEMA ESTATE EPEERUNKNOWN EBADURL ECONNREFUSED ' +
  'ECONNRESET EADDRINUSE ELIMIT EIO EEXIST ENOTFOUND ENOTSUP EBUSY ERESOLVE EUTF8 ESHUTDOWN EEOF ' +
  'EINTERNAL';
export const E = {};
NAMES.split(' ').forEach((n, i) => (E[n] = i));
export const errname = (code) => NAMES.split(' ')[code] || 'E' + code;

export function fnv(name) {
  let h = 0x811c9dc5;
  for (const b of enc.encode(name)) h = Math.imul(h ^ b, 0x01000193);
  return (h & 0x7fffffff) >>> 0;
}

// SHA-256 (FIPS 180-4), synchronous: WebCrypto's digest is async and absent outside secure
// contexts, and the hello needs the fingerprint at once.
const K = [];
for (let n = 2, c = 0; c < 64; n++) {
  let p = true;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) p = false;
  if (p) K[c++] = (Math.pow(n, 1 / 3) % 1) * 2 ** 32 | 0;
}
export function sha256(msg) {
  const l = msg.length, n = ((l + 9 + 63) >> 6) << 6, m = new Uint8Array(n), v = new DataView(m.buffer);
  m.set(msg);
  m[l] = 0x80;
  v.setUint32(n - 4, l * 8);
  v.setUint32(n - 8, l / 2 ** 29);
  const H = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  const W = new Array(64), r = (x, k) => (x >>> k) | (x << (32 - k));
  for (let o = 0; o < n; o += 64) {
    for (let i = 0; i < 64; i++) {
      W[i] = i < 16 ? v.getUint32(o + 4 * i)
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
  }
  const out = new Uint8Array(32), ov = new DataView(out.buffer);
  H.forEach((x, i) => ov.setUint32(4 * i, x));
  return out;
}

export const hex8 = (x) => x.toString(16).padStart(8, '0');

// Appends one frame to a byte list: 9-octet header (kind, 31-bit id, length), payload.
export function frame(kind, id, payload) {
  const f = new Uint8Array(HDR + payload.length), v = new DataView(f.buffer);
  f[0] = kind;
  v.setUint32(1, id & 0x7fffffff);
  v.setUint32(5, payload.length);
  f.set(payload, HDR);
  return f;
}

// The frames of one WebSocket message: each message holds whole frames (§3.3). Returns
// [{kind, id, data}] or a negative error code (-EPROTO / -EMSGSIZE, §4.3).
export function frames(buf, maxMsg) {
  const out = [], v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  if (!buf.length) return -E.EPROTO;
  while (at < buf.length) {
    if (buf.length - at < HDR) return -E.EPROTO;
    const kind = buf[at], raw = v.getUint32(at + 1), len = v.getUint32(at + 5);
    const limit = kind === HELLO || kind === WELCOME ? 65536 : kind === PING || kind === PONG ||
      kind === CLOSE ? 125 : kind === ERROR ? 1024 : kind === MSG ? 0 : kind > MSG && kind < 0x14
      ? maxMsg : -1;
    if (limit < 0 || raw >>> 31 || (kind === MSG && len)) return -E.EPROTO;
    if (len > limit) return -E.EMSGSIZE;
    if (buf.length - at - HDR < len) return -E.EPROTO;
    out.push({ kind, id: raw, data: buf.subarray(at + HDR, at + HDR + len) });
    at += HDR + len;
  }
  return out;
}

// The hello payload (§6.1) of a protocol.
export function helloPayload(proto, opts) {
  const ids = proto.ids(), p = new Uint8Array(54 + 4 * ids.length), v = new DataView(p.buffer);
  p.set(enc.encode('TFLX'));
  p[4] = 1;
  v.setUint16(6, opts.strict ? 1 : 0);
  v.setUint32(8, 0);
  v.setUint32(12, opts.maxMessage);
  v.setUint32(16, opts.heartbeat);
  p.set(proto.fingerprint(), 20);
  v.setUint16(52, ids.length);
  ids.forEach((id, i) => v.setUint32(54 + 4 * i, id));
  return p;
}

// Decodes a hello payload with the checks of §6.3 in order: {ids, max, flags, fp} or a
// negative error code.
export function parseHello(p) {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (p.length < 6 || lossy.decode(p.subarray(0, 4)) !== 'TFLX') return -E.EPROTO;
  if (p[4] !== 1) return -E.EVERSION;
  if (p.length < 54) return -E.EPROTO;
  const n = v.getUint16(52);
  if (n > MAX_IDS || p.length < 54 + 4 * n) return -E.EPROTO;
  const ids = new Set();
  let last = -1;
  for (let i = 0; i < n; i++) {
    const id = v.getUint32(54 + 4 * i);
    if (id <= last || id >>> 31) return -E.EPROTO;
    ids.add((last = id));
  }
  for (let at = 54 + 4 * n; at < p.length;) {
    if (p.length - at < 4) return -E.EPROTO;
    at += 4 + v.getUint16(at + 2);
    if (at > p.length) return -E.EPROTO;
  }
  const max = v.getUint32(12);
  return { ids, flags: v.getUint16(6), max: max && max < 2 ** 31 ? max : 2 ** 31 - 1,
    fp: p.subarray(20, 52) };
}

export const u32 = (x) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, x); return b; };
export const text = (b) => lossy.decode(b);
