"""tfnoise: just enough of the secure layer (docs/PROTOCOL.md §24) in standard-library Python
for the hostile-peer suite to finish real Noise NN and IK handshakes with `truflux serve` and then
send records it can tamper with, replay or reorder.

X25519 (RFC 7748), ChaCha20-Poly1305 (RFC 8439) and the Noise NN and IK initiators (revision 34)
are written from their specifications; they are slow (pure Python) but only carry a few
short records. self_test() checks them against the RFCs' vectors before the suite trusts
them.
"""

import hashlib
import hmac
import os
import struct

# ---- X25519 (RFC 7748 §5) -------------------------------------------------------------------

_P = 2 ** 255 - 19
_A24 = 121665


def _clamp(k):
    k = bytearray(k)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    return int.from_bytes(k, "little")


def x25519(scalar, u_bytes):
    k = _clamp(scalar)
    u = int.from_bytes(u_bytes, "little") & ((1 << 255) - 1)
    x1, x2, z2, x3, z3, swap = u, 1, 0, u, 1, 0
    for t in range(254, -1, -1):
        bit = (k >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % _P, (x2 - z2) % _P
        aa, bb = a * a % _P, b * b % _P
        e = (aa - bb) % _P
        c, d = (x3 + z3) % _P, (x3 - z3) % _P
        da, cb = d * a % _P, c * b % _P
        x3 = (da + cb) ** 2 % _P
        z3 = x1 * (da - cb) ** 2 % _P
        x2 = aa * bb % _P
        z2 = e * (aa + _A24 * e) % _P
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, _P - 2, _P) % _P).to_bytes(32, "little")


def x25519_keypair():
    priv = os.urandom(32)
    return priv, x25519(priv, (9).to_bytes(32, "little"))


# ---- ChaCha20-Poly1305 (RFC 8439) -----------------------------------------------------------

def _rotl(v, n):
    return ((v << n) & 0xFFFFFFFF) | (v >> (32 - n))


def _chacha_block(key, counter, nonce):
    s = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    s += list(struct.unpack("<8I", key)) + [counter] + list(struct.unpack("<3I", nonce))
    w = s[:]
    for _ in range(10):
        for a, b, c, d in ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
                           (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14)):
            w[a] = (w[a] + w[b]) & 0xFFFFFFFF
            w[d] = _rotl(w[d] ^ w[a], 16)
            w[c] = (w[c] + w[d]) & 0xFFFFFFFF
            w[b] = _rotl(w[b] ^ w[c], 12)
            w[a] = (w[a] + w[b]) & 0xFFFFFFFF
            w[d] = _rotl(w[d] ^ w[a], 8)
            w[c] = (w[c] + w[d]) & 0xFFFFFFFF
            w[b] = _rotl(w[b] ^ w[c], 7)
    return struct.pack("<16I", *((x + y) & 0xFFFFFFFF for x, y in zip(w, s)))


def _chacha20(key, counter, nonce, data):
    out = bytearray()
    for i in range(0, len(data), 64):
        block = _chacha_block(key, counter + i // 64, nonce)
        out += bytes(x ^ y for x, y in zip(data[i:i + 64], block))
    return bytes(out)


def _poly1305(key, msg):
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    acc, p = 0, (1 << 130) - 5
    for i in range(0, len(msg), 16):
        n = int.from_bytes(msg[i:i + 16] + b"\x01", "little")
        acc = (acc + n) * r % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def _pad16(b):
    return b"\x00" * (-len(b) % 16)


def aead_encrypt(key, nonce, ad, plain):
    otk = _chacha_block(key, 0, nonce)[:32]
    ct = _chacha20(key, 1, nonce, plain)
    mac = ad + _pad16(ad) + ct + _pad16(ct) + struct.pack("<QQ", len(ad), len(ct))
    return ct + _poly1305(otk, mac)


def aead_decrypt(key, nonce, ad, data):
    if len(data) < 16:
        return None
    ct, tag = data[:-16], data[-16:]
    otk = _chacha_block(key, 0, nonce)[:32]
    mac = ad + _pad16(ad) + ct + _pad16(ct) + struct.pack("<QQ", len(ad), len(ct))
    if not hmac.compare_digest(_poly1305(otk, mac), tag):
        return None
    return _chacha20(key, 1, nonce, ct)


def _noise_nonce(n):
    return b"\x00" * 4 + struct.pack("<Q", n)    # ChaChaPoly: 4 zero octets, n little-endian


# ---- Noise initiators: NN and IK over 25519, ChaChaPoly, SHA256 ----------------------------

def _hkdf2(ck, ikm):
    temp = hmac.new(ck, ikm, hashlib.sha256).digest()
    o1 = hmac.new(temp, b"\x01", hashlib.sha256).digest()
    o2 = hmac.new(temp, o1 + b"\x02", hashlib.sha256).digest()
    return o1, o2


class CipherState:
    def __init__(self, k):
        self.k, self.n = k, 0

    def seal(self, ad, plain):
        out = aead_encrypt(self.k, _noise_nonce(self.n), ad, plain)
        self.n += 1
        return out

    def open(self, ad, data):
        out = aead_decrypt(self.k, _noise_nonce(self.n), ad, data)
        if out is not None:
            self.n += 1
        return out


class NNInitiator:
    """The client side of Noise NN: message 0 is `e`, message 1 `e, ee` (§24.4). The
    prologue binds the two hellos' "secure" extensions."""

    NAME = b"Noise_NN_25519_ChaChaPoly_SHA256"

    def __init__(self, client_ext, server_ext):
        self.h = self.NAME.ljust(32, b"\x00") if len(self.NAME) <= 32 else \
            hashlib.sha256(self.NAME).digest()
        self.ck = self.h
        self.k = None
        self.n = 0
        prologue = (b"truflux secure 1" + struct.pack(">H", len(client_ext)) + client_ext +
                    struct.pack(">H", len(server_ext)) + server_ext)
        self._mix_hash(prologue)
        self.e_priv, self.e_pub = x25519_keypair()

    def _mix_hash(self, data):
        self.h = hashlib.sha256(self.h + data).digest()

    def message0(self):
        self._mix_hash(self.e_pub)
        self._mix_hash(b"")          # the empty payload, in clear before any key
        return self.e_pub

    def read_message1(self, msg):
        """Returns (send CipherState, receive CipherState), or None when message 1 fails."""
        if len(msg) < 32 + 16:
            return None
        re = msg[:32]
        self._mix_hash(re)
        self.ck, k = _hkdf2(self.ck, x25519(self.e_priv, re))
        plain = aead_decrypt(k, _noise_nonce(0), self.h, msg[32:])
        if plain is None:
            return None
        self._mix_hash(msg[32:])
        c1, c2 = _hkdf2(self.ck, b"")
        return CipherState(c1), CipherState(c2)


class IKInitiator(NNInitiator):
    """The client side of Noise IK with the server's static key as pre-message: message 0 is
    `e, es, s, ss` (the client's static key travels encrypted), message 1 `e, ee, se`."""

    NAME = b"Noise_IK_25519_ChaChaPoly_SHA256"

    def __init__(self, client_ext, server_ext, static_priv, server_pub):
        super().__init__(client_ext, server_ext)
        self.s_priv = static_priv
        self.s_pub = x25519(static_priv, (9).to_bytes(32, "little"))
        self.rs = server_pub
        self._mix_hash(server_pub)

    def _mix_key(self, dh):
        self.ck, self.k = _hkdf2(self.ck, dh)

    def _encrypt_and_hash(self, plain):
        ct = aead_encrypt(self.k, _noise_nonce(0), self.h, plain)
        self._mix_hash(ct)
        return ct

    def message0(self):
        self._mix_hash(self.e_pub)
        self._mix_key(x25519(self.e_priv, self.rs))                 # es
        enc_s = self._encrypt_and_hash(self.s_pub)                  # s (nonce 0 of this key)
        self._mix_key(x25519(self.s_priv, self.rs))                 # ss
        return self.e_pub + enc_s + self._encrypt_and_hash(b"")

    def read_message1(self, msg):
        if len(msg) < 32 + 16:
            return None
        re = msg[:32]
        self._mix_hash(re)
        self._mix_key(x25519(self.e_priv, re))                      # ee
        self._mix_key(x25519(self.s_priv, re))                      # se
        if aead_decrypt(self.k, _noise_nonce(0), self.h, msg[32:]) is None:
            return None
        self._mix_hash(msg[32:])
        c1, c2 = _hkdf2(self.ck, b"")
        return CipherState(c1), CipherState(c2)


def self_test():
    """RFC 7748 §5.2 and RFC 8439 §2.8.2 vectors."""
    k = bytes.fromhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4")
    u = bytes.fromhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")
    want = "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
    assert x25519(k, u).hex() == want, "X25519 vector"
    key = bytes(range(0x80, 0xA0))
    nonce = bytes.fromhex("070000004041424344454647")
    ad = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
    plain = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
             b"for the future, sunscreen would be it.")
    sealed = aead_encrypt(key, nonce, ad, plain)
    assert sealed[-16:].hex() == "1ae10b594f09e26a7e902ecbd0600691", "Poly1305 tag vector"
    assert aead_decrypt(key, nonce, ad, sealed) == plain


if __name__ == "__main__":
    self_test()
    print("tfnoise: vectors pass")
