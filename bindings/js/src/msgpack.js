// MessagePack (msgpack/spec.md) for structured payloads: values keep their type across the
// wire. Encodes null/undefined (nil), booleans, numbers (integers in the smallest int
// format, others as float 64), BigInt (64-bit), strings, bytes (bin), arrays, Map and plain
// objects. Decoding throws on what §5.7.4 calls malformed; ext values decode as {type, data}.

import { enc, dec } from './wire.js';

const MAX_DEPTH = 64;  // container nesting, top level = 1 (§5.7.4)
const deep = (d) => { if (d > MAX_DEPTH) throw RangeError('msgpack: nested too deep'); };

export function pack(value) {
  let b = new Uint8Array(256), v = new DataView(b.buffer), n = 0;
  const room = (k) => {
    if (n + k > b.length) {
      const c = new Uint8Array(2 * b.length + k);
      c.set(b);
      v = new DataView((b = c).buffer);
    }
  };
  // A format octet, then an unsigned or signed big-endian value of k octets (1, 2, 4, 8).
  const put = (code, k, x, signed) => {
    room(9);
    b[n++] = code;
    if (k === 8) v[signed ? 'setBigInt64' : 'setBigUint64'](n, BigInt(x));
    else if (k) v[(signed ? 'setInt' : 'setUint') + 8 * k](n, x);
    n += k;
  };
  // A length: the fix form when it fits, else the 8/16/32-bit form (codes c, c+1, c+2).
  const len = (x, fix, fixMax, c) => {
    if (x <= fixMax) put(fix | x, 0);
    else if (x < 256 && c !== 0xdc && c !== 0xde) put(c, 1, x);
    else if (x < 65536) put(c + (c === 0xdc || c === 0xde ? 0 : 1), 2, x);
    else put(c + (c === 0xdc || c === 0xde ? 1 : 2), 4, x);
  };
  const raw = (x) => { room(x.length); b.set(x, n); n += x.length; };
  const one = (x, d) => {
    if (x == null) put(0xc0, 0);
    else if (typeof x === 'boolean') put(x ? 0xc3 : 0xc2, 0);
    else if (typeof x === 'bigint') put(x < 0n ? 0xd3 : 0xcf, 8, x, x < 0n);
    else if (typeof x === 'number') {
      if (!Number.isSafeInteger(x)) put(0xcb, 0), room(8), v.setFloat64(n, x), n += 8;
      else if (x >= 0) x < 128 ? put(x, 0) : x < 256 ? put(0xcc, 1, x) : x < 65536 ? put(0xcd, 2, x)
        : x < 2 ** 32 ? put(0xce, 4, x) : put(0xcf, 8, x);
      else x >= -32 ? put(x & 255, 0) : x >= -128 ? put(0xd0, 1, x, 1) : x >= -32768 ? put(0xd1, 2, x, 1)
        : x >= -(2 ** 31) ? put(0xd2, 4, x, 1) : put(0xd3, 8, x, 1);
    } else if (typeof x === 'string') {
      const s = enc.encode(x);
      len(s.length, 0xa0, 31, 0xd9);
      raw(s);
    } else if (x instanceof ArrayBuffer || ArrayBuffer.isView(x)) {
      const s = new Uint8Array(x.buffer || x, x.byteOffset || 0, x.byteLength);
      len(s.length, 0, -1, 0xc4);
      raw(s);
    } else if (Array.isArray(x)) {
      deep(d);
      len(x.length, 0x90, 15, 0xdc);
      x.forEach((e) => one(e, d + 1));
    } else if (typeof x === 'object') {
      deep(d);
      const es = x instanceof Map ? [...x] : Object.entries(x);
      len(es.length, 0x80, 15, 0xde);
      es.forEach(([k, e]) => (one(k, d + 1), one(e, d + 1)));
    } else throw TypeError('truflux: cannot encode a ' + typeof x);
  };
  one(value, 1);
  return b.subarray(0, n);
}

export function unpack(b) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = 0;
  const take = (k) => {
    if (at + k > b.length) throw RangeError('msgpack: truncated');
    return (at += k) - k;
  };
  // Reads a k-octet integer: DataView getUint8/16/32, BigUint64 as a Number when safe.
  const int = (k, signed) => {
    const p = take(k);
    if (k < 8) return v[(signed ? 'getInt' : 'getUint') + 8 * k](p);
    const x = v[signed ? 'getBigInt64' : 'getBigUint64'](p);
    return x >= -(2n ** 53n) && x < 2n ** 53n ? Number(x) : x;
  };
  const bytes = (k) => b.slice(take(k), at);
  const str = (k) => dec.decode(b.subarray(take(k), at));
  const arr = (k, d) => {
    deep(d);
    const a = [];
    while (k--) a.push(one(d + 1));
    return a;
  };
  const map = (k, d) => {
    deep(d);
    const o = {};
    // defineProperty: a "__proto__" key is data, not the object's prototype.
    while (k--) Object.defineProperty(o, one(d + 1), { value: one(d + 1), enumerable: true, writable: true, configurable: true });
    return o;
  };
  const ext = (k) => ({ type: int(1, 1), data: bytes(k) });
  const one = (d) => {
    const c = b[take(1)];
    if (c < 0x80) return c;
    if (c < 0x90) return map(c & 15, d);
    if (c < 0xa0) return arr(c & 15, d);
    if (c < 0xc0) return str(c & 31);
    if (c >= 0xe0) return c - 256;
    if (c >= 0xcc && c <= 0xd3) return int(1 << ((c - 0xcc) & 3), c > 0xcf);
    if (c >= 0xd4 && c <= 0xd8) return ext(1 << (c - 0xd4));
    switch (c) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: case 0xc5: case 0xc6: return bytes(int(1 << (c - 0xc4)));
      case 0xc7: case 0xc8: case 0xc9: return ext(int(1 << (c - 0xc7)));
      case 0xca: return v.getFloat32(take(4));
      case 0xcb: return v.getFloat64(take(8));
      case 0xd9: case 0xda: case 0xdb: return str(int(1 << (c - 0xd9)));
      case 0xdc: case 0xdd: return arr(int(2 << (c - 0xdc)), d);
      case 0xde: case 0xdf: return map(int(2 << (c - 0xde)), d);
    }
    throw RangeError('msgpack: format 0xc1');
  };
  const x = one(1);
  if (at !== b.length) throw RangeError('msgpack: trailing octets');
  return x;
}
