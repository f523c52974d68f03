// MessagePack (msgpack/spec.md) for structured payloads: values keep their type across the
// wire. Encodes null/undefined (nil), booleans, numbers (integers in the smallest int
// format, others as float 64), BigInt (64-bit), strings, bytes (bin), arrays, Map and plain
// objects. Decoding throws on what §5.7.4 calls malformed; ext values decode as {type, data}.
// Written for size (the bundle's budget): formats by arithmetic on their codes.

import { enc, dec, dv, view, mk, cat } from './wire.js';

const MAX_DEPTH = 64;  // container nesting, top level = 1 (§5.7.4)
const deep = (d) => { if (d > MAX_DEPTH) throw RangeError('too deep'); };

export function pack(value) {
  // The encoding's pieces, joined once at the end.
  const out = [];
  // A format octet, then a big-endian value of k octets (1, 2, 4, 8; s: signed, f: float).
  const put = (code, k, x, s, f) => {
    const [b, v] = mk(k + 1);
    b[0] = code;
    k && v[f ? 'setFloat64' : 'set' + (k > 4 ? 'Big' : '') + (s ? 'Int' : 'Uint') + 8 * k](1, k > 4 && !f ? BigInt(x) : x);
    out.push(b);
  };
  // A length: the fix form when it fits, else the 8/16/32-bit form at codes c, c+1, c+2
  // (arrays and maps, c > 0xda, have no 8-bit form).
  const len = (x, fix, fixMax, c) => {
    const j = x < 256 && c < 0xda ? 0 : x < 65536 ? 1 : 2;
    x <= fixMax ? put(fix | x, 0) : put(c + j, 1 << j, x);
  };
  const raw = (x) => out.push(x);
  const one = (x, d) => {
    const t = typeof x;
    let s;
    if (x == null) put(0xc0, 0);
    else if (t === 'boolean') put(0xc2 + x, 0);
    else if (t === 'bigint') put(x < 0n ? 0xd3 : 0xcf, 8, x, x < 0n);
    else if (t === 'number') {
      if (!Number.isSafeInteger(x)) put(0xcb, 8, x, 0, 1);
      else if (x < 128 && x >= -32) put(x & 255, 0);
      else {
        // The smallest of 1, 2, 4, 8 octets: uint 0xcc-0xcf, int 0xd0-0xd3.
        let j = 0;
        while (x < 0 ? x < -(2 ** (8 << j)) / 2 : x >= 2 ** (8 << j)) j++;
        put((x < 0 ? 0xd0 : 0xcc) + j, 1 << j, x, x < 0);
      }
    } else if (t === 'string') {
      s = enc.encode(x);
      len(s.length, 0xa0, 31, 0xd9);
      raw(s);
    } else if ((s = view(x))) {
      len(s.length, 0, -1, 0xc4);
      raw(s);
    } else if (t === 'object') {
      deep(d);
      const a = Array.isArray(x), es = a ? x : x instanceof Map ? [...x] : Object.entries(x);
      len(es.length, a ? 0x90 : 0x80, 15, a ? 0xdb : 0xdd);
      es.forEach((e) => (a ? one(e, d + 1) : (one(e[0], d + 1), one(e[1], d + 1))));
    } else throw TypeError('cannot encode ' + t);
  };
  one(value, 1);
  return cat(out);
}

// Malformed input; the message is never seen (client.js reports ESCHEMA).
const bad = () => { throw RangeError('msgpack'); };

export function unpack(b) {
  const v = dv(b);
  let at = 0;
  const take = (k) => {
    if (at + k > b.length) bad();
    return (at += k) - k;
  };
  // Reads a k-octet integer: DataView getUint8/16/32, BigUint64 as a Number when safe.
  const int = (k, signed) => {
    const x = v[(k > 4 ? 'getBig' : 'get') + (signed ? 'Int' : 'Uint') + 8 * k](take(k));
    return k < 8 || (x >= -(2n ** 53n) && x < 2n ** 53n) ? Number(x) : x;
  };
  const bytes = (k) => b.slice(take(k), at);
  const str = (k) => dec.decode(b.subarray(take(k), at));
  // An array (m false) or a map of k entries.
  const list = (k, d, m) => {
    deep(d);
    const a = [];
    while (k--) a.push(m ? [one(d + 1), one(d + 1)] : one(d + 1));
    // fromEntries: a "__proto__" key is data, not the object's prototype.
    return m ? Object.fromEntries(a) : a;
  };
  const ext = (k) => ({ type: int(1, 1), data: bytes(k) });
  // c - base, for a code within [base, base + n).
  const one = (d) => {
    const c = b[take(1)], r = (base, n) => c >= base && c < base + n && c - base + 1;
    let i;
    if (c < 0x80) return c;
    if (c < 0xa0) return list(c & 15, d, c < 0x90);
    if (c < 0xc0) return str(c & 31);
    if (c >= 0xe0) return c - 256;
    if ((i = r(0xcc, 8))) return int(1 << ((i - 1) & 3), i > 4);
    if ((i = r(0xd4, 5))) return ext(1 << (i - 1));
    if ((i = r(0xc4, 3))) return bytes(int(1 << (i - 1)));
    if ((i = r(0xc7, 3))) return ext(int(1 << (i - 1)));
    if ((i = r(0xd9, 3))) return str(int(1 << (i - 1)));
    if ((i = r(0xdc, 4))) return list(int(2 << ((i - 1) & 1)), d, i > 2);
    if (c === 0xca) return v.getFloat32(take(4));
    if (c === 0xcb) return v.getFloat64(take(8));
    if (c - 0xc1) return [null, , false, true][c - 0xc0];
    bad();
  };
  const x = one(1);
  if (at !== b.length) bad();
  return x;
}
