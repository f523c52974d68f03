#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (small valid inputs, one per file).

The input layouts are those documented at the top of each fuzz_*.cpp. Run from anywhere:
    python3 fuzz/make_corpus.py
"""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def fnv_id(name):
    h = 0x811C9DC5
    for b in name.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h & 0x7FFFFFFF


def frame(kind, ident, payload=b""):
    return struct.pack(">BII", kind, ident, len(payload)) + payload


def hello(ids=(), exts=(), flags=0, minor=0, max_message=16 << 20, heartbeat=15000,
          fingerprint=b"\0" * 32):
    out = b"TFLX" + struct.pack(">BBHIII", 1, minor, flags, 0, max_message, heartbeat)
    out += fingerprint + struct.pack(">H", len(ids))
    out += b"".join(struct.pack(">I", i) for i in sorted(ids))
    for t, v in exts:
        out += struct.pack(">HH", t, len(v)) + v
    return out


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def frame_inputs():
    fp = hashlib.sha256(b"").digest()
    chat = fnv_id("chat")
    opening = frame(0x01, 0, hello([chat, fnv_id("ping")], fingerprint=fp))
    messages = (frame(0x10, chat) + frame(0x11, chat, b"\x00\x01\x02")
                + frame(0x12, chat, "héllo".encode()) + frame(0x13, chat, b"\x92\x01\xa1a"))
    control = (frame(0x03, 0, b"ping") + frame(0x04, 0, b"ping")
               + frame(0x06, chat, struct.pack(">I", 14) + b"schema")
               + frame(0x05, 0, b"bye"))
    # Header byte 0: limit index 6 (1 MiB) with prepare/commit, 14 with feed();
    # byte 1: chunk count - 1, then the chunk sizes - 1.
    return {
        "opening": bytes([6, 0, 255]) + opening,
        "messages_bytewise": bytes([6, 0, 0]) + messages,
        "control_chunks": bytes([14, 2, 3, 0, 40]) + control,
        "mixed_feed": bytes([14, 1, 8, 100]) + opening + messages + control,
        "oversize": bytes([4, 0, 8]) + frame(0x11, 1, b"x" * 2000),
        "reserved_bit": bytes([6, 0, 4]) + frame(0x10, 5) + bytes([0x11, 0x80, 0, 0, 1, 0, 0, 0, 0]),
        "empty_with_length": bytes([6, 0, 4]) + frame(0x10, 5, b"!"),
    }


def hello_inputs():
    fp = hashlib.sha256(b"165df089 ping 15 0 *\n").digest()
    return {
        "minimal": hello(),
        "ids": hello([fnv_id("chat"), fnv_id("ping"), fnv_id("hello")], flags=1, fingerprint=fp),
        "extensions": hello([1, 2], exts=[(7, b"abc"), (0xFFFF, b"")], minor=1),
        "many_ids": hello(range(0, 4096 * 7, 7)),
    }


def validate_inputs():
    # Byte 0 is the depth limit (mod 80).
    mp = {
        "mp_scalars": b"\x9b\x00\x7f\xe0\xc0\xc2\xc3\xcc\xff\xd1\x80\x00\xca\x3f\x80\x00\x00"
                      b"\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00\xcf\x01\x02\x03\x04\x05\x06\x07\x08",
        "mp_strings": b"\x94\xa3abc\xd9\x02hi\xda\x00\x01x\xdb\x00\x00\x00\x02ok",
        "mp_bins_exts": b"\x96\xc4\x02\xde\xad\xc5\x00\x01\xff\xd4\x01\xaa\xd6\xff\x01\x02\x03\x04"
                        b"\xc7\x03\x09\x01\x02\x03\xc9\x00\x00\x00\x01\x09\xaa",
        "mp_nested": b"\x82\xa1a\x93\x01\x92\x02\x80\x81\xa1b\x90\xa1c\xc0",
        "mp_big_containers": b"\x92\xdc\x00\x02\xc0\xc3\xdf\x00\x00\x00\x01\xc0\xc0",
    }
    out = {name: bytes([64]) + v for name, v in mp.items()}
    out["mp_deep"] = bytes([10]) + b"\x91" * 10 + b"\x01"
    out["utf8_mixed"] = bytes([64]) + "plain ascii, é, €, 😀, \U0010FFFF".encode()
    out["utf8_edges"] = bytes([64]) + "\u0080\u07ff\u0800\ud7ff\ue000\uffff\U00010000".encode()
    return out


def secure_frame_inputs():
    """fuzz_secure_frame: offers (mode 0), keyless record streams (mode 1: the plaintext is
    the inner frames), keyed streams (mode 2), writer/reader round trips (mode 3)."""
    out = {}
    out["offer_server"] = bytes([0, 1, 2, 4, 3, 2, 1, 0, 2, 1, 0, 32]) + bytes(range(32))
    out["offer_client"] = bytes([0, 1, 1, 2, 0, 1, 2, 0, 1, 0])
    inner = frame(0x22, 1) + frame(0x12, fnv_id("echo"), b"hi") + frame(0x24, 0)
    # A keyless CipherState passes bytes through (no tag), but a record is at least 16 long.
    out["stream_one_record"] = bytes([1]) + frame(0x21, 0, inner)
    big = frame(0x11, fnv_id("chat"), b"x" * 100)
    out["stream_split_frame"] = (bytes([1]) + frame(0x21, 0, big[:40])
                                 + frame(0x21, 1, big[40:]))
    out["stream_keyed"] = bytes([2]) + frame(0x21, 0, b"\x55" * 40)
    out["roundtrip"] = bytes([3, 0, 0, 10, 2, 0, 200, 1, 255, 255, 3, 0, 1])
    return out


def tls_record_inputs():
    """fuzz_tls_record: a mode byte (cipher, read buffer, bio chunk, kind of input), then
    either raw bytes for the reader (no tag can verify) or records for the differential
    writer: a type selector (0 alert, 1 handshake, else application data), a 2-byte length,
    the bytes."""
    def mode(cipher, rbuf, chunk, kind):
        return bytes([cipher | rbuf << 1 | chunk << 3 | kind << 6])

    def rec(sel, data):
        return bytes([sel]) + len(data).to_bytes(2, "big") + data

    def header(rtype, length, version=b"\x03\x03"):
        return bytes([rtype]) + version + length.to_bytes(2, "big")

    out = {}
    # Raw streams: forged application data (its tag cannot verify), an unencrypted alert, a
    # record over the size limit, a wrong version, a header cut short.
    out["raw_forged_data"] = mode(0, 2, 6, 0) + header(23, 40) + bytes(range(40))
    out["raw_forged_chacha"] = mode(1, 1, 2, 0) + header(23, 24) + b"\x5a" * 24
    out["raw_alert"] = mode(0, 3, 6, 0) + header(21, 2) + b"\x02\x28"
    out["raw_oversize"] = mode(0, 2, 6, 0) + header(23, 16384 + 257) + b"\x00" * 64
    out["raw_bad_version"] = mode(1, 2, 4, 1) + header(23, 30, b"\x03\x01") + b"\x00" * 30
    out["raw_short_header"] = mode(0, 0, 0, 0) + b"\x17\x03"
    # Differential: data, a full record, records around the size limit, a close_notify,
    # a fatal alert, handshake records up to the refusal limit and one past it.
    out["diff_small"] = mode(0, 1, 6, 2) + rec(2, b"hello") + rec(3, b"world")
    out["diff_full_record"] = mode(1, 2, 5, 2) + rec(2, bytes(16384))
    out["diff_split_reads"] = mode(0, 0, 2, 3) + rec(5, b"x" * 300) + rec(6, b"y" * 3)
    out["diff_close_notify"] = mode(1, 2, 6, 2) + rec(2, b"bye") + rec(0, b"\x01")
    out["diff_fatal_alert"] = mode(0, 2, 6, 2) + rec(2, b"a") + rec(0xA8, b"\x00")
    out["diff_refusals"] = mode(0, 2, 6, 3) + rec(1, b"\x00\x00\x00\x00") * 4 + rec(2, b"ok")
    out["diff_refusals_past"] = mode(1, 2, 6, 3) + rec(1, b"\x00\x00\x00\x00") * 5 + rec(2, b"no")
    return out


def main():
    for target, inputs in (("fuzz_frame", frame_inputs()), ("fuzz_hello", hello_inputs()),
                           ("fuzz_validate", validate_inputs()),
                           ("fuzz_secure_frame", secure_frame_inputs()),
                           ("fuzz_tls_record", tls_record_inputs())):
        for name, data in inputs.items():
            write(target, name, data)


if __name__ == "__main__":
    main()
