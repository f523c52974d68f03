// The secure layer of docs/PROTOCOL.md §24 for the client, on WebCrypto alone: a Noise
// handshake as the initiator (NN, NK, XX, IK over X25519, SHA-256), then records (kind 0x21)
// each way, switching, rekeying and ending as §24.5-§24.8 say. Of Noise's ciphers only
// AESGCM is offered: ChaChaPoly is missing from most browsers' WebCrypto.
//
// secure(opts) reads the options once per client; its result, called for each connection,
// installs the layer in front of the client's _emit/_flush/_frame/_drop/_ended and returns
// the negotiation client.js runs on the WELCOME. WebCrypto is async, so received frames pass
// through one promise chain and sent records are sealed in another: order holds both ways.
// Written for size (the bundle's budget): short names, few error details.
import { EDECRYPT, EHANDSHAKE, ENOCIPHER, ENOTSECURE, EPIN, EPROTO, EREORDER, EREPLAY,
  ETRUNCATED } from './wire.js';
import { enc, frame, frames, sha256, u8, E0, mk, cat, CLOSE } from './wire.js';

const NOISE = 0x20, RECORD = 0x21, SWITCH = 0x22, REQUEST = 0x23, REKEY = 0x24;
const PATS = ['NN', 'NK', 'XX', 'IK'];
// Each pattern's messages (Noise §7.4) as tokens; even ones are ours to write.
const MSGS = [['e', 'e ee'], ['e es', 'e ee'], ['e', 'e ee s es', 's se'], ['e es s ss', 'e ee se']];
const X = { name: 'X25519' };
let S;

const same = (a, b) => '' + a == b;
// A key option: 32 octets or their base64, as `truflux keygen` writes it.
const key = (k) => {
  k = u8(k.trim ? [...atob(k.trim())].map((x) => x.charCodeAt(0)) : k);
  if (k.length - 32) throw RangeError('truflux: not a key');
  return k;
};
const aes = (k) => S.importKey('raw', k, 'AES-GCM', 0, ['encrypt', 'decrypt']);
// Noise's AESGCM: the nonce is 4 zero octets, then n in 64 bits big-endian (n < 0: 2^64-1).
const gcm = async (op, k, n, ad, d) => {
  const [iv, v] = mk(12);
  n < 0 ? iv.fill(255, 4) : (v.setUint32(4, n / 2 ** 32), v.setUint32(8, n));
  return u8(await S[op]({ name: 'AES-GCM', iv, additionalData: ad }, k, d));
};
const rekey = async (k) => aes((await gcm('encrypt', k, -1, E0, u8(32))).subarray(0, 32));
const dh = async (k, pub) => u8(await S.deriveBits({ ...X, public: await S.importKey('raw', pub, X, 0, []) }, k, 256));
// A key pair {k: private CryptoKey, p: public octets} from our private key (new: 32 random
// octets, as any X25519 private key), which WebCrypto imports only wrapped in PKCS #8 (its
// public key is DH with the base point 9): one path for the static and the ephemeral keys.
const pair = async (k = crypto.getRandomValues(u8(32))) => ({
  k: (k = await S.importKey('pkcs8', cat([[48, 46, 2, 1, 0, 48, 5, 6, 3, 43, 101, 110, 4, 34, 4, 32], k]), X, 0, ['deriveBits'])),
  p: await dh(k, u8(32).fill(9, 0, 1)) });
// HMAC-SHA256 and Noise's HKDF (two outputs) on wire.js's synchronous SHA-256.
const hmac = (k, d) => {
  const pad = (x) => u8(64).map((_, i) => k[i] ^ x);
  return sha256(cat([pad(92), sha256(cat([pad(54), d]))]));
};
const hkdf = (ck, ikm) => {
  const t = hmac(ck, ikm), a = hmac(t, [1]);
  return [a, hmac(t, cat([a, [2]]))];
};

// opts: secure ('off' | 'optional' | 'required'), serverKey (the pin: NK, IK; checked in XX),
// staticKey (our private key: XX, IK), rekeyMessages, rekeyBytes, rekeyInterval (ms). The
// client offers every pattern its keys allow. null when the layer is off.
export function secure(o) {
  const pin = o.serverKey && key(o.serverKey), sk = o.staticKey && key(o.staticKey);
  let pol = ['off', 'optional', 'required'].indexOf(o.secure || 'off');
  if (pol < 0) throw RangeError('truflux: secure ' + o.secure);
  // A key turns the layer on; a pin is worth something only when encryption is required.
  pol = pin ? 2 : sk && !pol ? 1 : pol;
  S = globalThis.crypto && crypto.subtle;
  if (!pol || !S) {
    if (pol > 1) throw RangeError('truflux: no WebCrypto');  // not a secure context
    return null;
  }
  const mine = [3, 1, 2, 0].filter((p) => [!pin, pin, sk, sk && pin][p]);
  const offer = u8([1, pol, mine.length, ...mine, 1, 1, 0]);
  const rm = o.rekeyMessages, rb = o.rekeyBytes ?? 2 ** 30, ri = o.rekeyInterval ?? 36e5;

  const attach = (c) => {
    const P = Object.getPrototypeOf(c), ws = c.ws, L = {}, R = {};
    // st: 0 none, 1 handshake, 2 XX keys split but unconfirmed, 3 on.
    let st = 0, locked, pat, next = 0, h, ck, hk, hn, txk, rxk, tn = 0, rn = 0, rxOn, info;
    let nf = 0, nb = 0, t0, ib = E0, rxq = Promise.resolve(), txq = rxq;
    const live = () => c.ws === ws && !c._done && c._gotClose === null && c._failCode == null;
    const fail = (e) => c._fail(e);
    // A throw in the handshake is a bad message; later it comes from the application's
    // handlers, and goes on as it would from a WebSocket event.
    const go = (fn) => (rxq = rxq.then(() => live() && fn())
      .catch((e) => (st < 2 ? fail(EHANDSHAKE) : queueMicrotask(() => { throw e; }))));
    const mix = (d) => (h = sha256(cat([h, d])));
    // Noise's EncryptAndHash and DecryptAndHash: h takes in the ciphertext either way.
    const crypt = async (op, d) => {
      const r = hk ? await gcm(op, hk, hn++, h, d) : d;
      mix(op > 'e' ? r : d);
      return r;
    };
    // Writes our next handshake message (no m) or reads the server's (m).
    const msg = async (m) => {
      const out = [];
      let at = 0, k;
      for (const t of MSGS[pat][next].split(' ')) {
        if (t === 'e') m ? mix(R.e = m.subarray(at, at += 32)) : (L.e = await pair(), out.push(L.e.p), mix(L.e.p));
        else if (t === 's') m ? (R.s = await crypt('decrypt', m.subarray(at, at += 48))) : out.push(await crypt('encrypt', L.s.p));
        else {
          [ck, k] = hkdf(ck, await dh(L[t[0]].k, R[t[1]]));
          hk = await aes(k);
          hn = 0;
        }
      }
      m ? await crypt('decrypt', m.subarray(at)) : c._emit(NOISE, next, cat([...out, await crypt('encrypt', E0)]));
      next++;
    };
    const up = () => {
      st = 3;
      c.secure = info;
      c.onSecure && c.onSecure(info, c);
      locked && c._opened();
    };
    const rx = async (f) => {
      const k = f.kind, d = f.data;
      if (k === NOISE) {
        if (st - 1 || f.id - next || !(next & 1)) return fail(EPROTO);
        await msg(d);
        if (pat === 2 && pin && !same(R.s, pin)) return fail(EPIN);
        if (next < MSGS[pat].length) await msg();
        // Split: we send with the first key; XX waits for the server's first record (§24.4).
        const [a, b] = hkdf(ck, E0);
        // Both at once: nothing may leave encrypted before the SWITCH 1.
        [txk, rxk] = [await aes(a), await aes(b)];
        info = { pattern: PATS[pat], cipher: 'AESGCM', hash: h, serverKey: R.s, rekeysSent: 0, rekeysReceived: 0 };
        st = 2;
        t0 = Date.now();
        c._emit(SWITCH, 1, E0);
        return pat - 2 && up();
      }
      if (k === RECORD) {
        const want = rn % 2 ** 31;
        if (!rxk) return fail(EPROTO);
        if (f.id - want) return fail((f.id - want & 0x7fffffff) < 2 ** 30 ? EREORDER : EREPLAY);
        if (d.length < 16) return fail(ETRUNCATED);
        // The AD is the record's header, which sits in the received message before its payload.
        const pt = await gcm('decrypt', rxk, rn, u8(d.buffer).subarray(d.byteOffset - 9, d.byteOffset), d).catch(() => 0);
        if (!pt) return fail(EDECRYPT);
        rn++;
        rxOn = 1;
        st < 3 && up();
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
      if (!txk) return P._emit.call(c, k, i, p);
      c._out.push([frame(k, i, p)]) - 1 || queueMicrotask(() => c._flush());
      if ((rm && ++nf >= rm) || (rb && (nb += p.length) >= rb) || (ri && Date.now() - t0 >= ri)) {
        c._out.push([frame(REKEY, 0, E0), 1]);
        nf = nb = 0;
        t0 = Date.now();
      }
    };
    c._flush = () => {
      const o = c._out;
      if (!o.length || ws.readyState - 1) return;
      c._out = [];
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
        ws.readyState - 1 || ws.send(cat(out));
      }).catch(() => ws.close());
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
      pat = sp.find((p) => mine.includes(p));
      if (pat === undefined || !sc.includes(1)) return no(ENOCIPHER);
      if (pin && kl && !same(sk2, pin)) return fail(EPIN);
      st = 1;
      R.s = pin;
      h = u8(32);
      h.set(enc.encode(`Noise_${PATS[pat]}_25519_AESGCM_SHA256`));
      ck = h;
      mix(cat([enc.encode('truflux secure 1'), [0, offer.length], offer, [x.length >> 8, x.length], x]));
      if (pat & 1) mix(pin);  // NK, IK: the pinned key is the server's pre-message
      go(async () => {
        L.s = sk && await pair(sk);
        await msg();
      });
      return locked || c._opened();
    };
  };
  attach._offer = offer;
  return attach;
}
