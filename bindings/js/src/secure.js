// The secure layer of docs/PROTOCOL.md §24 for the client, on WebCrypto alone: a Noise
// handshake as the initiator (NN, or NK with the server's key pinned; over X25519, SHA-256),
// then records (kind 0x21) each way, switching, rekeying and ending as §24.5-§24.8 say. Of
// Noise's ciphers only AESGCM is offered: ChaChaPoly is missing from most browsers' WebCrypto.
//
// secure(opts) reads the options once per client; its result, called for each connection,
// installs the layer in front of the client's _emit/_tx/_frame/_drop/_ended and returns
// the negotiation client.js runs on the WELCOME. WebCrypto is async, so received frames pass
// through one promise chain and sent records are sealed in another: order holds both ways.
// Written for size (the bundle's budget): short names, few error details.
import { EDECRYPT, EHANDSHAKE, ENOCIPHER, ENOTSECURE, EPIN, EPROTO, EREORDER, EREPLAY,
  ETRUNCATED } from './wire.js';
import { ENOTSUP, enc, frame, frames, sha256, u8, E0, n64, cat, CLOSE } from './wire.js';
import { TrufluxError as Err } from './client.js';

const NOISE = 0x20, RECORD = 0x21, SWITCH = 0x22, REQUEST = 0x23, REKEY = 0x24;
const X = { name: 'X25519' };
let S;

// A key option: 32 octets or their base64, as `truflux keygen` writes it.
const key = (k) => {
  k = u8(k.trim ? [...atob(k.trim())].map((x) => x.charCodeAt(0)) : k);
  if (k.length - 32) throw RangeError('not a key');
  return k;
};
const aes = (k) => S.importKey('raw', k, 'AES-GCM', 0, ['encrypt', 'decrypt']);
// Noise's AESGCM: the nonce is 4 zero octets, then n in 64 bits big-endian (n < 0: 2^64-1).
const gcm = async (op, k, n, ad, d) => {
  const iv = cat([u8(4), n < 0 ? u8(8).fill(255) : n64(n)]);
  return u8(await S[op]({ name: 'AES-GCM', iv, additionalData: ad }, k, d));
};
const rekey = async (k) => aes((await gcm('encrypt', k, -1, E0, u8(32))).subarray(0, 32));
const dh = async (k, pub) => u8(await S.deriveBits({ ...X, public: await S.importKey('raw', pub, X, 0, []) }, k, 256));
// HMAC-SHA256 and Noise's HKDF (two outputs) on wire.js's synchronous SHA-256.
const hmac = (k, d) => {
  const pad = (x) => u8(64).map((_, i) => k[i] ^ x);
  return sha256(cat([pad(92), sha256(cat([pad(54), d]))]));
};
const hkdf = (ck, ikm) => {
  const t = hmac(ck, ikm), a = hmac(t, [1]);
  return [a, hmac(t, cat([a, [2]]))];
};

// opts: secure ('off' | 'optional' | 'required'), serverKey (the pin: NK), rekeyMessages,
// rekeyBytes, rekeyInterval (ms). The client offers NK when it has a pin, else NN; a
// staticKey (XX, IK) is refused with ENOTSUP. null when the layer is off.
export function secure(o) {
  if (o.staticKey) throw new Err(ENOTSUP, 'staticKey');  // NN and NK only
  const pin = o.serverKey && key(o.serverKey);
  let pol = ['off', 'optional', 'required'].indexOf(o.secure || 'off');
  if (pol < 0) throw RangeError('secure ' + o.secure);
  // A pin is worth something only when encryption is required.
  pol = pin ? 2 : pol;
  S = globalThis.crypto && crypto.subtle;
  if (!pol || !S) {
    if (pol > 1) throw RangeError('no WebCrypto');  // not a secure context
    return null;
  }
  // The patterns of a client without a static key (XX and IK, which send one, are left to the
  // C, Python, Java and Lua clients: the bundle's budget): NN (0), or NK (1) with a pin.
  const mine = pin ? 1 : 0, name = pin ? 'NK' : 'NN', offer = u8([1, pol, 1, mine, 1, 1, 0]);
  const rm = o.rekeyMessages, rb = o.rekeyBytes ?? 2 ** 30, ri = o.rekeyInterval ?? 36e5;

  const attach = (c) => {
    const P = Object.getPrototypeOf(c), ws = c.ws;
    // st: 0 none, 1 handshake, 2 on.
    let st = 0, locked, e, h, ck, hk, txk, rxk, tn = 0, rn = 0, rxOn, info;
    let nf = 0, nb = 0, t0, ib = E0, rxq = Promise.resolve(), txq = rxq;
    const live = () => c.ws === ws && !c._done && c._gotClose === null && c._failCode == null;
    const fail = (e) => c._fail(e);
    // A throw in the handshake is a bad message; later it comes from the application's
    // handlers, and goes on as it would from a WebSocket event.
    const go = (fn) => (rxq = rxq.then(() => live() && fn())
      .catch((e) => (st < 2 ? fail(EHANDSHAKE) : queueMicrotask(() => { throw e; }))));
    const mix = (d) => (h = sha256(cat([h, d])));
    // Noise's MixKey with DH(e, the server's s or e): our one key is the ephemeral e. Each
    // key it makes seals one payload (EncryptAndHash, DecryptAndHash), so its nonce is 0.
    const dhk = async (pub) => {
      let k;
      [ck, k] = hkdf(ck, await dh(e.privateKey, pub));
      hk = await aes(k);
    };
    const rx = async (f) => {
      const k = f.kind, d = f.data;
      if (k === NOISE) {
        // The server's message (Noise §7.4: <- e, ee), our only one to read.
        if (st - 1 || f.id - 1) return fail(EPROTO);
        mix(d.subarray(0, 32));
        await dhk(d.subarray(0, 32));
        const x = d.subarray(32);
        await gcm('decrypt', hk, 0, h, x);
        mix(x);
        // Split: we send with the first key.
        const [a, b] = hkdf(ck, E0);
        // Both at once: nothing may leave encrypted before the SWITCH 1.
        [txk, rxk] = [await aes(a), await aes(b)];
        info = { pattern: name, cipher: 'AESGCM', hash: h, serverKey: pin, rekeysSent: 0, rekeysReceived: 0 };
        st = 2;
        t0 = Date.now();
        c._emit(SWITCH, 1, E0);
        c.secure = info;
        c.onSecure && c.onSecure(info, c);
        return locked && c._opened();
      }
      if (k === RECORD) {
        const want = rn % 2 ** 31;
        if (!rxk) return fail(EPROTO);
        if (f.id - want) return fail((f.id - want << 1 >>> 1) < 2 ** 30 ? EREORDER : EREPLAY);
        if (d.length < 16) return fail(ETRUNCATED);
        // The AD is the record's header, which sits in the received message before its payload.
        const pt = await gcm('decrypt', rxk, rn, u8(d.buffer).subarray(d.byteOffset - 9, d.byteOffset), d).catch(() => 0);
        if (!pt) return fail(EDECRYPT);
        rn++;
        rxOn = 1;
        const fs = frames(ib = cat([ib, pt]), c._o.maxMessage, 1);
        if (fs < 0) return fail(-fs);
        ib = ib.subarray(fs.at);
        let rk, off;
        for (const g of fs) {
          const j = g.kind;
          if (!live()) return;
          if (j === SWITCH) off = !g.id;
          else if (j === REKEY) rk = 1;
          else if (j < 3 || (j >> 4 === 2 && j - REQUEST)) return fail(EPROTO);
          else P._frame.call(c, g);
        }
        if (rk) rxk = await rekey(rxk), info.rekeysReceived++;
        if (off) {
          if (ib.length) return fail(ETRUNCATED);
          if (locked) return fail(ENOTSECURE);
          rxOn = 0;
        }
        return;
      }
      if (k === REQUEST && !rxOn) return;
      if (k >> 4 === 2 || rxOn || (locked && k !== CLOSE)) return fail(ENOTSECURE);
      if (ib.length) return fail(ETRUNCATED);
      // The server's refusal of the secure layer: reported as well as closed with.
      if (k === CLOSE && f.id > 39 && f.id < 50) c._report(f.id);
      P._frame.call(c, f);
    };

    c.secure = null;
    c._frame = (f) => (st ? (go(() => rx(f)), 1) : P._frame.call(c, f));
    // Once the keys are split, every frame is sent in records of its own ([frame, rekey after
    // it]): simpler than gathering, and as valid. This client never switches off, so it
    // needs no REQUEST either: the server's REQUEST 1 asks for what it does already.
    c._emit = (k, i, p) => {
      P._emit.call(c, k, i, p);
      if (!txk) return;
      c._out.push([c._out.pop()]);  // to be sealed
      if ((rm && ++nf >= rm) || (rb && (nb += p.length) >= rb) || (ri && Date.now() - t0 >= ri)) {
        c._out.push([frame(REKEY, 0, E0), 1]);
        nf = nb = 0;
        t0 = Date.now();
      }
    };
    c._tx = (sock, o) => {
      txq = txq.then(async () => {
        const out = [];
        for (const g of o) {
          const [f, r] = g;
          if (g.buffer) {
            out.push(g);
            continue;
          }
          for (let at = 0; at < f.length; at += 65519) {
            const d = f.subarray(at, at + 65519), x = frame(RECORD, tn % 2 ** 31, u8(d.length + 16));
            x.set(await gcm('encrypt', txk, tn++, x.subarray(0, 9), d), 9);
            out.push(x);
          }
          if (r) txk = await rekey(txk), info.rekeysSent++;
        }
        sock.readyState - 1 || sock.send(cat(out));
      }).catch(() => sock.close());
    };
    c._drop = () => (txq = txq.then(() => c.ws === ws && P._drop.call(c)));
    // Records carry no end of their own: a stream cut without a CLOSE may be an attack.
    c._ended = () => {
      if (rxOn && live() && !c._initiated)
        c._report(c._failCode = ETRUNCATED);
      P._ended.call(c);
    };

    // The negotiation (§24.3) on the WELCOME: false when it failed the connection.
    return (w) => {
      const x = w._sec || E0, no = (e) => (locked ? fail(e) : (c._report(e), c._opened()));
      let at = 2, bad = !x[0] || !(x[1] > 0 && x[1] < 3);
      // A list of distinct codes with at least one we know (below `known`).
      const list = (known) => {
        const n = x[at], l = x.subarray(++at, at += n);
        bad ||= !(n < 17 && at <= x.length) || new Set(l).size < n || !l.some((v) => v < known);
        return l;
      };
      locked = pol > 1;
      if (!(w._caps & 1) || !w._sec) return no(ENOTSECURE);
      const sp = list(4), sc = list(2), kl = x[at], sk2 = x.subarray(++at, at += kl);
      if (bad || kl & ~32 || !(at <= x.length) || (x[0] < 2 && at < x.length)) return fail(EPROTO);
      locked ||= x[1] > 1;
      if (!sp.includes(mine) || !sc.includes(1)) return no(ENOCIPHER);
      if (pin && kl && '' + sk2 != pin) return fail(EPIN);
      st = 1;
      h = u8(32);
      h.set(enc.encode(`Noise_${name}_25519_AESGCM_SHA256`));
      ck = h;
      mix(cat([enc.encode('truflux secure 1'), [0, offer.length], offer, [x.length >> 8, x.length], x]));
      if (pin) mix(pin);  // NK: the pinned key is the server's pre-message
      // Our message (-> e, and es in NK) with an empty payload.
      go(async () => {
        e = await S.generateKey(X, 0, ['deriveBits']);
        const p = u8(await S.exportKey('raw', e.publicKey));
        mix(p);
        // NN has no key yet: its payload is the empty plaintext.
        const t = pin ? (await dhk(pin), await gcm('encrypt', hk, 0, h, E0)) : E0;
        mix(t);
        c._emit(NOISE, 0, cat([p, t]));
      });
      return locked || c._opened();
    };
  };
  attach._offer = offer;
  return attach;
}
