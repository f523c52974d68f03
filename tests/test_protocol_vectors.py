#!/usr/bin/env python3
"""Checks docs/PROTOCOL.md against the independent Python peer (tests/peer/tfpeer.py).

  python3 tests/test_protocol_vectors.py            run the checks
  python3 tests/test_protocol_vectors.py --update   regenerate the document's example blocks

(a) Every fenced block preceded by `<!-- example: NAME -->` must equal what the generator for
    NAME produces from tfpeer, and every ```hex block must carry such a marker.
(b) Message ids, the fingerprint, the codecs and the validators against values pinned here,
    independently of tfpeer (published FNV-1a vectors, SHA-256 of fixed texts).
(c) With TRUFLUX_BUILD_DIR set and libtruflux.so built there, the same ids, fingerprints and
    error texts from the C library through ctypes.
Prints "N passed, N failed" last; exits non-zero on any failure.
"""

import ctypes
import hashlib
import os
import re
import struct
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DOC = os.path.join(ROOT, "docs", "PROTOCOL.md")
ERROR_H = os.path.join(ROOT, "include", "truflux", "error.h")
sys.path.insert(0, os.path.join(HERE, "peer"))

import tfpeer as tf  # noqa: E402

# Values pinned independently of tfpeer. The C unit tests pin the same ids.
ID_ECHO = 0x549DD484            # FNV-1a("echo") = 0xd49dd484, bit 31 masked off
ID_CHAT = 0x224BF9AB            # FNV-1a("chat") = 0x224bf9ab
FNV_EMPTY = 0x811C9DC5          # the offset basis: FNV-1a of no octets
ID_EMPTY_MASKED = 0x011C9DC5    # "" is not a valid name; its masked hash, for C tests
FNV_A = 0xE40C292C              # published FNV-1a 32 vector for "a"
FNV_FOOBAR = 0xBF9CF968         # published FNV-1a 32 vector for "foobar"
COLLIDING = ("m329698", "m901416", 0x5F47207B)    # hashes differ in bit 31 only
# Pinned by tests/test_protocol.c as well.
C_PINNED = {"ping": 0x165DF089, "hello": 0x4F9F2CAB, "héllo": 0x4AA48540,
            "n305078": 0x182FA980, "n1220242": 0x182FA980, "typing": 0x0037F946,
            "auth": 0x153FA84F}
FP_TEXT_ECHO_CHAT = b"224bf9ab chat 15 0 *\n549dd484 echo 15 0 *\n"
SHA256_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


# --- example generators ----------------------------------------------------------------

COMMENT_COLUMN = 49


def octets(b):
    return " ".join("%02x" % x for x in b)


def render(segments):
    """segments: (octets, comment) pairs -> annotated hex lines, long runs split by 16."""
    lines = []
    for data, comment in segments:
        chunks = [data[i:i + 16] for i in range(0, len(data), 16)] or [b""]
        for n, chunk in enumerate(chunks):
            text = octets(chunk)
            note = comment if n == 0 else "(cont.)"
            lines.append((text.ljust(COMMENT_COLUMN) + "# " + note).rstrip())
    return "\n".join(lines)


def split(frame, layout):
    """Cuts frame into consecutive segments of the given sizes; the sizes must cover it."""
    out, pos = [], 0
    for size, comment in layout:
        out.append((frame[pos:pos + size], comment))
        pos += size
    assert pos == len(frame), "layout covers %d of %d octets" % (pos, len(frame))
    return out


def header_layout(frame, id_note):
    kind, ident, length = struct.unpack(">BII", frame[:9])
    return [(1, "kind 0x%02x: %s" % (kind, tf.KIND_NAMES[kind])),
            (4, "id field: %s" % id_note),
            (4, "length: %d" % length)]


def echo_chat():
    return tf.ProtocolDef(["echo", "chat"])


def stateful():
    p = tf.ProtocolDef(states=["lobby", "game"])
    p.add(tf.MessageDef("join", states=["lobby"]))
    p.add(tf.MessageDef("move", types=(1 << tf.TYPE_TEXT) | (1 << tf.TYPE_MSGPACK),
                        max_size=256, states=["game"]))
    p.add(tf.MessageDef("leave", types=1 << tf.TYPE_EMPTY, states=["lobby", "game"]))
    p.add(tf.MessageDef("say"))
    return p


def names_of(proto):
    return {m.id: m.name for m in proto.by_id.values()}


def hello_example(kind):
    p = echo_chat()
    h = tf.Hello(flags=0, caps=0, max_message=0x01000000, heartbeat_ms=20000,
                 fingerprint=p.fingerprint(), ids=p.ids())
    frame = tf.encode_frame(kind, 0, h.encode())
    names = names_of(p)
    layout = header_layout(frame, "0") + [
        (4, 'magic "TFLX"'), (1, "version major 1"), (1, "version minor 0"),
        (2, "flags: none (STRICT off)"), (4, "capabilities: none"),
        (4, "max message size %d (16 MiB)" % h.max_message),
        (4, "heartbeat %d ms" % h.heartbeat_ms), (32, "fingerprint of {echo, chat} (§11)"),
        (2, "n = %d message ids" % len(h.ids))]
    layout += [(4, "id 0x%08x: %s" % (i, names[i])) for i in h.ids]
    return render(split(frame, layout))


def message_example(mtype, name, payload, payload_note):
    mid = tf.message_id(name)
    frame = tf.encode_frame(tf.KIND_MSG | mtype, mid, payload)
    layout = header_layout(frame, "message id 0x%08x (%s)" % (mid, name))
    if payload:
        layout.append((len(payload), payload_note))
    return render(split(frame, layout))


def control_example(kind, ident, payload, id_note, payload_note):
    frame = tf.encode_frame(kind, ident, payload)
    layout = header_layout(frame, id_note)
    if payload:
        layout.append((len(payload), payload_note))
    return render(split(frame, layout))


PING_PAYLOAD = b"\x00\x00\x00\x2a"
CLOSE_TEXT = "undefined kind 0x7f"
ERROR_TEXT = "field 'name' missing"


def error_example():
    mid = tf.message_id("echo")
    frame = tf.encode_frame(tf.KIND_ERROR, mid, tf.error_payload(tf.ESCHEMA, ERROR_TEXT))
    layout = header_layout(frame, "message id 0x%08x (echo)" % mid)
    layout += [(4, "code %d: ESCHEMA" % tf.ESCHEMA),
               (len(ERROR_TEXT), 'text "%s"' % ERROR_TEXT)]
    return render(split(frame, layout))


def id_vectors():
    rows = [("name", "FNV-1a 32", "id")]
    for name in ["echo", "chat", "a", "foobar", "héllo", COLLIDING[0], COLLIDING[1]]:
        raw = name.encode("utf-8")
        rows.append(('"%s"' % name, "0x%08x" % tf.fnv1a32(raw), "0x%08x" % tf.message_id(name)))
    rows.append(('"" (invalid name)', "0x%08x" % tf.fnv1a32(b""),
                 "0x%08x" % (tf.fnv1a32(b"") & tf.ID_MASK)))
    return "\n".join("%-20s %-12s %s" % r for r in rows)


def fp_text(proto):
    return proto.fingerprint_text().decode("utf-8").rstrip("\n")


GENERATORS = {
    "id-vectors": ("text", id_vectors),
    "fp-echo-chat-text": ("text", lambda: fp_text(echo_chat())),
    "fp-echo-chat-sha256": ("text", lambda: echo_chat().fingerprint().hex()),
    "fp-stateful-text": ("text", lambda: fp_text(stateful())),
    "fp-stateful-sha256": ("text", lambda: stateful().fingerprint().hex()),
    "hello-echo-chat": ("hex", lambda: hello_example(tf.KIND_HELLO)),
    "welcome-echo-chat": ("hex", lambda: hello_example(tf.KIND_WELCOME)),
    "msg-text-hi": ("hex", lambda: message_example(tf.TYPE_TEXT, "echo", b"hi", 'text "hi"')),
    "msg-empty": ("hex", lambda: message_example(tf.TYPE_EMPTY, "echo", b"", "")),
    "msg-binary": ("hex", lambda: message_example(tf.TYPE_BINARY, "chat", b"\x00\xff\x10\x80",
                                                  "4 octets of binary payload")),
    "msg-msgpack": ("hex", lambda: message_example(tf.TYPE_MSGPACK, "chat", b"\x81\xa1a\x01",
                                                   'MessagePack: fixmap 1, fixstr "a", 1')),
    "ping": ("hex", lambda: control_example(tf.KIND_PING, 0, PING_PAYLOAD, "0",
                                            "opaque payload, 4 octets")),
    "pong": ("hex", lambda: control_example(tf.KIND_PONG, 0, PING_PAYLOAD, "0",
                                            "the PING's payload, copied")),
    "close-normal": ("hex", lambda: control_example(tf.KIND_CLOSE, 0, b"", "reason code 0",
                                                    "")),
    "close-eproto": ("hex", lambda: control_example(
        tf.KIND_CLOSE, tf.EPROTO, tf.close_payload(CLOSE_TEXT), "reason code 9: EPROTO",
        'text "%s"' % CLOSE_TEXT)),
    "error": ("hex", error_example),
}


# --- the document ----------------------------------------------------------------------

MARKER = re.compile(r"^<!-- example: ([a-z0-9-]+) -->\n```(\w*)\n(.*?)```$", re.M | re.S)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)


def read_doc():
    with open(DOC, encoding="utf-8") as f:
        return f.read()


def doc_examples(text):
    """marker name -> (language, block content without its final newline)."""
    found = {}
    for m in MARKER.finditer(text):
        if m.group(1) in found:
            raise AssertionError("example %r appears twice in %s" % (m.group(1), DOC))
        found[m.group(1)] = (m.group(2), m.group(3).rstrip("\n"))
    return found


def hex_octets(block):
    """The octets a hex block spells, comments (# ...) and whitespace ignored."""
    digits = "".join(line.split("#", 1)[0] for line in block.splitlines())
    digits = re.sub(r"\s+", "", digits)
    return bytes.fromhex(digits)


def update_doc():
    text = read_doc()

    def repl(m):
        name = m.group(1)
        if name not in GENERATORS:
            raise SystemExit("no generator for example %r" % name)
        lang, gen = GENERATORS[name]
        return "<!-- example: %s -->\n```%s\n%s\n```" % (name, lang, gen())

    new = MARKER.sub(repl, text)
    with open(DOC, "w", encoding="utf-8") as f:
        f.write(new)
    print("updated %d examples in %s" % (len(MARKER.findall(new)), DOC))


# --- (a) the document's examples -------------------------------------------------------

class DocumentExamples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.text = read_doc()
        cls.examples = doc_examples(cls.text)

    def test_every_generator_has_its_block(self):
        missing = sorted(set(GENERATORS) - set(self.examples))
        self.assertEqual(missing, [], "examples missing from %s: %s" % (DOC, missing))

    def test_every_marker_has_a_generator(self):
        unknown = sorted(set(self.examples) - set(GENERATORS))
        self.assertEqual(unknown, [], "markers without a generator: %s" % unknown)

    def test_every_hex_block_is_marked(self):
        marked = {m.start() for m in MARKER.finditer(self.text)}
        for m in FENCE.finditer(self.text):
            if m.group(1) != "hex":
                continue
            line_start = self.text.rfind("\n", 0, m.start() - 1) + 1
            self.assertIn(line_start, marked, "hex block at offset %d of %s has no "
                          "<!-- example: NAME --> marker on the line before it"
                          % (m.start(), DOC))

    def test_hex_blocks_spell_the_encoder_output(self):
        for name, (lang, gen) in GENERATORS.items():
            if lang != "hex" or name not in self.examples:
                continue
            with self.subTest(example=name):
                doc_bytes = hex_octets(self.examples[name][1])
                want = hex_octets(gen())
                self.assertEqual(doc_bytes.hex(), want.hex(),
                                 "example %r: the document's octets differ from tfpeer's "
                                 "encoder (run with --update after checking why)" % name)

    def test_blocks_match_generators_exactly(self):
        for name, (lang, gen) in GENERATORS.items():
            if name not in self.examples:
                continue
            with self.subTest(example=name):
                self.assertEqual(self.examples[name][0], lang,
                                 "example %r should be a ```%s block" % (name, lang))
                self.assertEqual(self.examples[name][1], gen(),
                                 "example %r differs from its generator (annotations "
                                 "included); regenerate with --update" % name)

    def test_hello_example_decodes(self):
        frame = hex_octets(self.examples["hello-echo-chat"][1])
        self.assertEqual(frame[0], tf.KIND_HELLO)
        self.assertEqual(struct.unpack(">I", frame[5:9])[0], len(frame) - 9)
        h = tf.Hello.decode(frame[9:])
        self.assertEqual((h.major, h.minor, h.flags, h.caps), (1, 0, 0, 0))
        self.assertEqual(h.max_message, 0x01000000)
        self.assertEqual(h.heartbeat_ms, 20000)
        self.assertEqual(h.ids, [ID_CHAT, ID_ECHO])
        self.assertEqual(h.fingerprint, hashlib.sha256(FP_TEXT_ECHO_CHAT).digest())
        self.assertEqual(h.extensions, [])

    def test_error_table_matches_peer(self):
        rows = re.findall(r"^\| (\d+) \| ([A-Z0-9]+) \| ([^|]+?) \| (yes)? ?\|$", self.text,
                          re.M)
        table = {int(c): (n, t) for c, n, t, _ in rows}
        self.assertEqual(table, tf.ERRORS, "the §17 table differs from tfpeer.ERRORS")


class ErrorHeader(unittest.TestCase):
    """The document's error table must follow include/truflux/error.h, its source."""

    def test_error_h_matches(self):
        if not os.path.exists(ERROR_H):
            self.skipTest("%s not found" % ERROR_H)
        with open(ERROR_H, encoding="utf-8") as f:
            src = f.read()
        rows = re.findall(r'X\((\w+),\s*(-?\d+),\s*"([^"]*)"\)', src)
        self.assertTrue(rows, "no X(...) rows parsed from error.h")
        header = {abs(int(n)): (name, text) for name, n, text in rows}
        self.assertEqual(header, tf.ERRORS, "error.h and the document's §17 differ")


# --- (b) ids, fingerprint, codecs, validators --------------------------------------------

class MessageIds(unittest.TestCase):
    def test_published_fnv1a_vectors(self):
        self.assertEqual(tf.fnv1a32(b""), FNV_EMPTY, "FNV-1a of no octets is the basis")
        self.assertEqual(tf.fnv1a32(b"a"), FNV_A)
        self.assertEqual(tf.fnv1a32(b"foobar"), FNV_FOOBAR)

    def test_pinned_ids(self):
        self.assertEqual(tf.message_id("echo"), ID_ECHO, "id of 'echo'")
        self.assertEqual(tf.message_id("chat"), ID_CHAT, "id of 'chat'")
        self.assertEqual(tf.fnv1a32(b"") & tf.ID_MASK, ID_EMPTY_MASKED)

    def test_values_the_c_tests_pin(self):
        for name, want in C_PINNED.items():
            self.assertEqual(tf.message_id(name), want, "id of %r" % name)

    def test_bit_31_is_masked(self):
        self.assertEqual(tf.fnv1a32(b"echo"), 0xD49DD484, "raw hash of 'echo' has bit 31 set")
        a, b, want = COLLIDING
        self.assertNotEqual(tf.fnv1a32(a.encode()), tf.fnv1a32(b.encode()))
        self.assertEqual((tf.message_id(a), tf.message_id(b)), (want, want))
        p = tf.ProtocolDef([a])
        with self.assertRaises(tf.LocalRefusal) as cm:
            p.add(b)
        self.assertEqual(cm.exception.code, tf.EEXIST, "colliding ids must be refused")

    def test_utf8_names_hash_their_octets(self):
        self.assertEqual(tf.message_id("héllo"), tf.fnv1a32("héllo".encode()) & tf.ID_MASK)
        self.assertNotEqual(tf.message_id("\u00e9"), tf.message_id("e\u0301"),
                            "no Unicode normalisation")

    def test_name_rules(self):
        tf.message_id("x" * 255)
        for bad in ["", "x" * 256, "a\x00b", b"\xff"]:
            with self.subTest(name=bad), self.assertRaises(tf.LocalRefusal):
                tf.message_id(bad)


class Fingerprints(unittest.TestCase):
    def test_echo_chat_text(self):
        self.assertEqual(echo_chat().fingerprint_text(), FP_TEXT_ECHO_CHAT)
        self.assertEqual(echo_chat().fingerprint(), hashlib.sha256(FP_TEXT_ECHO_CHAT).digest())

    def test_definition_order_does_not_matter(self):
        self.assertEqual(tf.ProtocolDef(["chat", "echo"]).fingerprint(),
                         echo_chat().fingerprint())

    def test_empty_protocol(self):
        self.assertEqual(tf.ProtocolDef().fingerprint().hex(), SHA256_EMPTY)

    def test_types_zero_means_any(self):
        self.assertEqual(tf.ProtocolDef([tf.MessageDef("echo", types=0)]).fingerprint_text(),
                         b"549dd484 echo 15 0 *\n")

    def test_stateful_text(self):
        p = stateful()
        ids = {n: tf.message_id(n) for n in ("join", "move", "leave", "say")}
        lines = {
            "join": b"%08x join 15 0 lobby\n" % ids["join"],
            "move": b"%08x move 12 256 game\n" % ids["move"],
            "leave": b"%08x leave 1 0 lobby,game\n" % ids["leave"],
            "say": b"%08x say 15 0 *\n" % ids["say"],
        }
        want = b"".join(lines[n] for n in sorted(ids, key=ids.get)) + b"#states lobby,game\n"
        self.assertEqual(p.fingerprint_text(), want)

    def test_state_order_is_definition_order(self):
        p = tf.ProtocolDef(states=["b", "a"])
        p.add(tf.MessageDef("m", states=["a", "b"]))
        self.assertTrue(p.fingerprint_text().startswith(b"%08x m 15 0 b,a\n" % tf.message_id("m")))


class FrameCodec(unittest.TestCase):
    def check(self, hdr, code, max_msg=1000):
        with self.assertRaises(tf.ProtocolViolation) as cm:
            tf.check_header(hdr, max_msg)
        self.assertEqual(cm.exception.code, code, "header %s" % hdr.hex())

    def test_header_layout(self):
        self.assertEqual(tf.encode_header(0x12, 0x549DD484, 2).hex(), "12549dd48400000002")

    def test_header_checks_and_their_order(self):
        self.check(tf.encode_header(0x07, 0, 0), tf.EPROTO)
        self.check(tf.encode_header(0x20, 0, 0), tf.EPROTO)      # reserved, not negotiated
        self.check(tf.encode_header(0x30, 0, 0), tf.EPROTO)
        self.check(tf.encode_header(0x11, 0x80000000, 0), tf.EPROTO)
        self.check(tf.encode_header(0x10, 1, 5), tf.EPROTO)      # empty with a payload
        self.check(tf.encode_header(0x11, 1, 1001), tf.EMSGSIZE)
        self.check(tf.encode_header(0x03, 0, 126), tf.EMSGSIZE)
        self.check(tf.encode_header(0x06, 0, 1025), tf.EMSGSIZE)
        self.check(tf.encode_header(0x01, 0, 65537), tf.EMSGSIZE)
        self.check(tf.encode_header(0x7F, 0x80000000, 0xFFFFFFFF), tf.EPROTO)  # kind first
        self.check(tf.encode_header(0x11, 0x80000000, 0xFFFFFFFF), tf.EPROTO)  # bit before size

    def test_limits_are_inclusive(self):
        for kind, length in [(0x03, 125), (0x04, 125), (0x05, 125), (0x06, 1024),
                             (0x01, 65536), (0x02, 65536), (0x11, 1000), (0x10, 0)]:
            self.assertEqual(tf.check_header(tf.encode_header(kind, 0, length), 1000)[2], length)

    def test_decoder_refuses_header_before_payload(self):
        d = tf.FrameDecoder(100)
        d.feed(tf.encode_header(0x11, 1, 101))
        with self.assertRaises(tf.ProtocolViolation) as cm:
            d.next()
        self.assertEqual(cm.exception.code, tf.EMSGSIZE)
        with self.assertRaises(tf.ProtocolViolation):
            d.next()                                   # sticky

    def test_decoder_byte_by_byte(self):
        stream = (tf.encode_frame(tf.KIND_PING, 0, b"x") +
                  tf.encode_frame(tf.KIND_MSG | tf.TYPE_TEXT, ID_ECHO, b"hi") +
                  tf.encode_frame(tf.KIND_MSG, ID_CHAT))
        d = tf.FrameDecoder()
        got = []
        for b in stream:
            d.feed(bytes([b]))
            f = d.next()
            if f:
                got.append((f.kind, f.id, f.payload))
        self.assertEqual(got, [(0x03, 0, b"x"), (0x12, ID_ECHO, b"hi"), (0x10, ID_CHAT, b"")])

    def test_encoder_refuses_what_a_sender_must_not_send(self):
        for args in [(0x07, 0, b""), (0x03, 0, b"x" * 126), (0x11, 0x80000000, b""),
                     (0x10, 1, b"x"), (0x06, 0, b"x" * 1025)]:
            with self.subTest(args=args[:2]), self.assertRaises(tf.LocalRefusal):
                tf.encode_frame(*args)


class HelloCodec(unittest.TestCase):
    def good(self, **kw):
        p = echo_chat()
        return tf.Hello(fingerprint=p.fingerprint(), ids=p.ids(), **kw)

    def refused(self, payload, code):
        with self.assertRaises(tf.ProtocolViolation) as cm:
            tf.Hello.decode(payload)
        self.assertEqual(cm.exception.code, code, "hello %s" % payload[:60].hex())

    def test_round_trip_with_extensions(self):
        h = self.good(flags=1, caps=0, extensions=[(0x8001, b"xy"), (0x0002, b"")])
        d = tf.Hello.decode(h.encode())
        self.assertEqual((d.flags, d.ids, d.extensions),
                         (1, [ID_CHAT, ID_ECHO], [(0x8001, b"xy"), (2, b"")]))

    def test_fixed_size(self):
        self.assertEqual(len(tf.Hello().encode()), 54)
        self.assertEqual(len(self.good().encode()), 62)

    def test_checks_in_order(self):
        ok = self.good().encode()
        self.refused(b"", tf.EPROTO)
        self.refused(b"TFLY" + ok[4:], tf.EPROTO)
        self.refused(b"TFLX\x01", tf.EPROTO)
        self.refused(b"TFLX\x02\x00", tf.EVERSION)            # version before layout
        self.refused(b"TFLX\x00\x00" + ok[6:], tf.EVERSION)
        self.refused(ok[:53], tf.EPROTO)
        self.refused(ok[:52] + struct.pack(">H", 4097) + bytes(4 * 4097), tf.EPROTO)
        self.refused(ok[:-1], tf.EPROTO)                      # id list truncated
        self.refused(ok[:54] + ok[58:62] + ok[54:58], tf.EPROTO)   # descending
        self.refused(ok[:54] + ok[54:58] * 2, tf.EPROTO)      # repeated
        self.refused(ok[:52] + b"\x00\x01\x80\x00\x00\x00", tf.EPROTO)  # >= 2^31
        self.refused(ok + b"\x00\x01\x00", tf.EPROTO)         # extension header cut
        self.refused(ok + b"\x00\x01\x00\x05abcd", tf.EPROTO)  # extension value cut

    def test_tolerated(self):
        h = tf.Hello.decode(self.good(minor=7, flags=0xFFFE, caps=0xFFFFFFFF,
                                      extensions=[(0x1234, b"?")]).encode())
        self.assertEqual((h.minor, h.flags, h.caps), (7, 0xFFFE, 0xFFFFFFFF))

    def test_4096_ids_accepted(self):
        ids = list(range(1, 4097))
        self.assertEqual(tf.Hello.decode(tf.Hello(ids=ids).encode()).ids, ids)


class PayloadValidation(unittest.TestCase):
    def test_utf8(self):
        for good in [b"", b"hi", "héllo ✓ 𝄞".encode(), b"\x00", b"\xef\xbb\xbf"]:
            self.assertTrue(tf.utf8_valid(good), good)
        for bad in [b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82",
                    b"\x80"]:
            self.assertFalse(tf.utf8_valid(bad), bad)

    def test_msgpack_well_formed(self):
        for good in [b"\xc0", b"\x81\xa1a\x01", b"\x90", b"\x80", b"\xdc\x00\x01\x01",
                     b"\xc4\x02ab", b"\xc7\x01\x05x", b"\xd4\x01\x02", b"\xcb" + bytes(8),
                     b"\xd9\x01\xff", b"\x91" * 63 + b"\x90"]:
            self.assertTrue(tf.msgpack_valid(good), good.hex())
        for bad in [b"", b"\xc1", b"\x01\x02", b"\x91", b"\xa2a", b"\xc4\x05ab",
                    b"\xdd\xff\xff\xff\xff", b"\xcb" + bytes(7), b"\xc7\x01\x05",
                    b"\x81\x01", b"\x91" * 64 + b"\x90"]:
            self.assertFalse(tf.msgpack_valid(bad), bad.hex())

    def test_depth_counting(self):
        self.assertEqual(tf.msgpack_depth(b"\x01"), 0)
        self.assertEqual(tf.msgpack_depth(b"\x90"), 1)
        self.assertEqual(tf.msgpack_depth(b"\x91\x90"), 2)
        self.assertEqual(tf.msgpack_depth(b"\x92\x90\x90"), 2)
        self.assertEqual(tf.msgpack_depth(b"\x92\x90\x91\x90"), 3)   # [[], [[]]]
        self.assertEqual(tf.msgpack_depth(b"\x91" * 999 + b"\xc0"), 999)   # no recursion

    def test_receiver_check_order(self):
        m = tf.MessageDef("move", types=(1 << tf.TYPE_TEXT) | (1 << tf.TYPE_MSGPACK),
                          max_size=4)
        self.assertEqual(tf.check_message(m, tf.TYPE_BINARY, b"x", 100), tf.ESCHEMA)
        self.assertEqual(tf.check_message(m, tf.TYPE_TEXT, b"hello", 100), tf.EMSGSIZE)
        self.assertEqual(tf.check_message(m, tf.TYPE_TEXT, b"\xff", 100), tf.EUTF8)
        self.assertEqual(tf.check_message(m, tf.TYPE_MSGPACK, b"\xc1", 100), tf.ESCHEMA)
        self.assertEqual(tf.check_message(m, tf.TYPE_TEXT, b"ok", 100), 0)

    def test_close_and_error_payloads(self):
        self.assertEqual(len(tf.close_payload("x" * 125)), 125)
        with self.assertRaises(tf.LocalRefusal):
            tf.close_payload("x" * 126)
        self.assertEqual(tf.decode_error(tf.error_payload(14, "t")), (14, "t"))
        with self.assertRaises(tf.ProtocolViolation) as cm:
            tf.decode_error(b"\x00\x00\x0e")
        self.assertEqual(cm.exception.code, tf.EPROTO)


# --- (c) the C library, when built -----------------------------------------------------

class CLibrary(unittest.TestCase):
    """Cross-checks the C library through ctypes (no C helper binary needed)."""

    @classmethod
    def setUpClass(cls):
        build = os.environ.get("TRUFLUX_BUILD_DIR")
        if not build:
            raise unittest.SkipTest("TRUFLUX_BUILD_DIR not set")
        candidates = [os.path.join(dp, f) for dp, _, fs in os.walk(build) for f in fs
                      if f.startswith("libtruflux.so")]
        if not candidates:
            raise unittest.SkipTest("no libtruflux.so under %s" % build)
        lib = ctypes.CDLL(sorted(candidates, key=len)[0])
        try:
            lib.tf_protocol_name_id.restype = ctypes.c_uint32
            lib.tf_protocol_name_id.argtypes = [ctypes.c_char_p]
            lib.truflux_protocol_new.restype = ctypes.c_void_p
            lib.truflux_protocol_free.argtypes = [ctypes.c_void_p]
            lib.tf_protocol_add.restype = ctypes.c_int64
            lib.tf_protocol_add.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint,
                                            ctypes.c_uint32]
            lib.tf_protocol_add_state.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            lib.tf_protocol_allow.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                              ctypes.c_char_p]
            lib.tf_protocol_fingerprint.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            lib.tf_strerror.restype = ctypes.c_char_p
            lib.tf_errname.restype = ctypes.c_char_p
        except AttributeError as e:
            raise unittest.SkipTest("libtruflux lacks a symbol: %s" % e)
        cls.lib = lib

    def test_ids(self):
        for name, want in [(b"echo", ID_ECHO), (b"chat", ID_CHAT), (b"a", FNV_A & tf.ID_MASK),
                           (b"foobar", FNV_FOOBAR & tf.ID_MASK),
                           (COLLIDING[0].encode(), COLLIDING[2])] + \
                [(n.encode(), v) for n, v in C_PINNED.items()]:
            self.assertEqual(self.lib.tf_protocol_name_id(name), want,
                             "C tf_protocol_name_id(%r)" % name)

    def test_empty_name_edge(self):
        self.assertEqual(self.lib.tf_protocol_name_id(b""), ID_EMPTY_MASKED,
                         "C tf_protocol_name_id(\"\") must be the masked offset basis")

    def c_fingerprint(self, build):
        p = self.lib.truflux_protocol_new()
        self.assertTrue(p)
        try:
            build(p)
            out = ctypes.create_string_buffer(32)
            self.assertEqual(self.lib.tf_protocol_fingerprint(p, out), 0)
            return out.raw
        finally:
            self.lib.truflux_protocol_free(p)

    def test_fingerprint_echo_chat(self):
        def build(p):
            for n in (b"echo", b"chat"):
                self.assertGreaterEqual(self.lib.tf_protocol_add(p, n, 0, 0), 0)
        self.assertEqual(self.c_fingerprint(build).hex(), echo_chat().fingerprint().hex())

    def test_fingerprint_stateful(self):
        def build(p):
            for s in (b"lobby", b"game"):
                self.assertGreaterEqual(self.lib.tf_protocol_add_state(p, s), 0)
            self.assertGreaterEqual(self.lib.tf_protocol_add(p, b"join", 0, 0), 0)
            self.assertGreaterEqual(self.lib.tf_protocol_add(p, b"move", 12, 256), 0)
            self.assertGreaterEqual(self.lib.tf_protocol_add(p, b"leave", 1, 0), 0)
            self.assertGreaterEqual(self.lib.tf_protocol_add(p, b"say", 15, 0), 0)
            for m, s in [(b"join", b"lobby"), (b"move", b"game"), (b"leave", b"lobby"),
                         (b"leave", b"game")]:
                self.assertEqual(self.lib.tf_protocol_allow(p, m, s), 0)
        self.assertEqual(self.c_fingerprint(build).hex(), stateful().fingerprint().hex())

    def test_error_texts(self):
        for code, (name, text) in tf.ERRORS.items():
            self.assertEqual(self.lib.tf_strerror(-code).decode(), text, "tf_strerror(-%d)" % code)
            self.assertEqual(self.lib.tf_errname(-code).decode(), name, "tf_errname(-%d)" % code)


# --- runner ----------------------------------------------------------------------------

class CountingResult(unittest.TextTestResult):
    """Counts passed tests directly: a class skipped or failed in setUpClass is not in
    testsRun, so "run - failed - skipped" would miscount."""

    passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def main():
    if "--update" in sys.argv[1:]:
        update_doc()
        return 0
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2, resultclass=CountingResult).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.passed
    if result.skipped:
        print("%d skipped" % len(result.skipped))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
