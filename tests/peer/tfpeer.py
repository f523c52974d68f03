"""tfpeer: an independent truflux wire protocol 1.0 peer (Python 3, standard library only).

Written from docs/PROTOCOL.md alone, never from the C sources, so that it can catch the
places where the library and the document disagree. Section numbers in comments ("§7")
refer to that document.

Layers, bottom up:
  - message ids and fingerprints (§10, §11)
  - payload validation: UTF-8 and MessagePack well-formedness (§5.7)
  - frames: header check, encoder, incremental decoder (§4)
  - the hello payload (§6) and the CLOSE / ERROR payloads (§5.5, §5.6)
  - Peer: a blocking TCP client that performs the opening (§7) and the close (§15), with
    raw access for tests that must send what a conforming peer never would.
"""

import hashlib
import socket
import struct
import time

# --- constants (§4, §6, §16) ----------------------------------------------------------

VERSION_MAJOR = 1
VERSION_MINOR = 0

HEADER_SIZE = 9
ID_MASK = 0x7FFFFFFF

KIND_HELLO = 0x01
KIND_WELCOME = 0x02
KIND_PING = 0x03
KIND_PONG = 0x04
KIND_CLOSE = 0x05
KIND_ERROR = 0x06
KIND_MSG = 0x10            # 0x10..0x13: the low two bits are the payload type

TYPE_EMPTY = 0
TYPE_BINARY = 1
TYPE_TEXT = 2
TYPE_MSGPACK = 3
TYPES_ANY = 0xF

KIND_NAMES = {
    KIND_HELLO: "HELLO", KIND_WELCOME: "WELCOME", KIND_PING: "PING", KIND_PONG: "PONG",
    KIND_CLOSE: "CLOSE", KIND_ERROR: "ERROR", KIND_MSG | TYPE_EMPTY: "MESSAGE/empty",
    KIND_MSG | TYPE_BINARY: "MESSAGE/binary", KIND_MSG | TYPE_TEXT: "MESSAGE/text",
    KIND_MSG | TYPE_MSGPACK: "MESSAGE/msgpack",
}

MAX_CONTROL_PAYLOAD = 125
MAX_ERROR_PAYLOAD = 1024
MAX_HELLO_PAYLOAD = 65536
MAX_IDS = 4096
MAX_NAME = 255
MAX_STATES = 32
MAX_MESSAGE_LIMIT = 0x7FFFFFFF
DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024
DEFAULT_HEARTBEAT_MS = 20000
MSGPACK_MIN_DEPTH = 64     # nesting every receiver must accept (§5.7.4)

HELLO_MAGIC = b"TFLX"
HELLO_FIXED_SIZE = 54
FLAG_STRICT = 0x0001
CAP_SECURE = 0x00000001    # reserved (§19)
CAP_FILES = 0x00000002     # reserved (§19)

# Error codes: wire magnitude -> (name, text), §17.
ERRORS = {
    0: ("OK", "success"),
    1: ("EINVAL", "invalid argument"),
    2: ("ENOMEM", "out of memory"),
    3: ("EAGAIN", "send queue is above its high-water mark; wait for drain"),
    4: ("ECLOSED", "the connection or object is closed"),
    5: ("ECANCELED", "operation canceled"),
    6: ("ETIMEDOUT", "operation timed out"),
    7: ("EHELLOTIMEOUT", "no valid hello within the handshake timeout"),
    8: ("EIDLE", "nothing received within the idle timeout"),
    9: ("EPROTO", "protocol violation: malformed or unexpected frame"),
    10: ("EVERSION", "peer speaks an unsupported protocol version"),
    11: ("EFINGERPRINT", "protocol definitions differ and strict mode is on"),
    12: ("EMSGSIZE", "message larger than the maximum message size"),
    13: ("EUNKNOWN", "message id not defined by the receiver's protocol"),
    14: ("ESCHEMA", "payload type or size does not match the message's schema"),
    15: ("ESTATE", "message not valid in the connection's current state"),
    16: ("EPEERUNKNOWN", "the peer's protocol does not define this message"),
    17: ("EBADURL", "malformed or unsupported URL"),
    18: ("ECONNREFUSED", "connection refused"),
    19: ("ECONNRESET", "connection reset by peer"),
    20: ("EADDRINUSE", "address already in use"),
    21: ("ELIMIT", "server connection limit reached"),
    22: ("EIO", "input/output error"),
    23: ("EEXIST", "already exists"),
    24: ("ENOTFOUND", "not found"),
    25: ("ENOTSUP", "operation not supported"),
    26: ("EBUSY", "object is in use and can no longer be changed"),
    27: ("ERESOLVE", "host name could not be resolved"),
    28: ("EUTF8", "text payload is not valid UTF-8"),
    29: ("ESHUTDOWN", "the server is shutting down"),
    30: ("EEOF", "peer closed the connection without a close frame"),
    31: ("EINTERNAL", "internal error"),
    40: ("EDECRYPT", "encrypted frame failed authentication (tampered or forged)"),
    41: ("EREPLAY", "encrypted frame replayed (sequence number already used)"),
    42: ("EREORDER", "encrypted frame out of order (a frame is missing or moved)"),
    43: ("ETRUNCATED", "encrypted stream or frame truncated"),
    44: ("EPIN", "peer key does not match the pinned key"),
    45: ("EAUTH", "peer key not authorised"),
    46: ("ENOCIPHER", "no common cipher or handshake pattern"),
    47: ("ENOTSECURE", "plaintext where encryption is required"),
    48: ("EHANDSHAKE", "secure handshake failed"),
    49: ("ECERT", "certificate verification failed"),
    50: ("EWEBSOCKET", "WebSocket protocol violation"),
    51: ("EHTTP", "HTTP upgrade to WebSocket refused or malformed"),
    60: ("EFILEUNKNOWN", "frame for an unknown file transfer"),
    61: ("EFILESIZE", "file content longer or shorter than offered"),
    62: ("ECHECKSUM", "file checksum mismatch"),
    63: ("EFILENAME", "unsafe or invalid file name"),
    64: ("EFLOWCONTROL", "file data beyond the receiver's credit"),
    65: ("EDECLINED", "file offer declined"),
    66: ("EFILELIMIT", "too many file transfers at once"),
    70: ("EQUEUEFULL", "event queue full: the application is not keeping up"),
}
for _code, (_name, _text) in ERRORS.items():
    globals()[_name] = _code
del _code, _name, _text


def error_name(code):
    return ERRORS.get(code, ("UNKNOWN", ""))[0]


class TrufluxError(Exception):
    """A failure with a wire error code (a magnitude, §17)."""

    def __init__(self, code, detail=""):
        self.code = code
        self.detail = detail
        super().__init__("%s (%d)%s" % (error_name(code), code, ": " + detail if detail else ""))


class ProtocolViolation(TrufluxError):
    """The peer broke a rule; the receiver answers with CLOSE(code) (§18)."""


class LocalRefusal(TrufluxError):
    """Something this side refuses to send, so nothing went on the wire."""


class PeerClosed(TrufluxError):
    """The peer sent CLOSE(code, text)."""

    def __init__(self, code, text=""):
        self.text = text
        super().__init__(code, text)


class ConnectionEnded(TrufluxError):
    """The TCP connection ended without a CLOSE frame (EEOF) or was reset (ECONNRESET)."""


# --- message ids and fingerprint (§10, §11) ---------------------------------------------

def fnv1a32(data):
    h = 0x811C9DC5
    for octet in data:
        h ^= octet
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def name_bytes(name):
    """A message or state name as octets, checked against §10: 1-255 octets of UTF-8, no NUL."""
    raw = name.encode("utf-8") if isinstance(name, str) else bytes(name)
    if not 1 <= len(raw) <= MAX_NAME or b"\x00" in raw or not utf8_valid(raw):
        raise LocalRefusal(EINVAL, "bad name %r" % (name,))
    return raw


def message_id(name):
    return fnv1a32(name_bytes(name)) & ID_MASK


class MessageDef:
    """One message of a protocol: name, accepted types mask, maximum size, states (§11)."""

    def __init__(self, name, types=TYPES_ANY, max_size=0, states=()):
        self.name_raw = name_bytes(name)
        self.name = self.name_raw.decode("utf-8")
        if not 0 <= types <= TYPES_ANY:
            raise LocalRefusal(EINVAL, "types mask %r" % (types,))
        self.types = types or TYPES_ANY   # 0 means "any" (§11)
        self.max_size = max_size
        self.states = tuple(states)
        self.id = fnv1a32(self.name_raw) & ID_MASK


class ProtocolDef:
    """A protocol definition: messages keyed by id, and the ordered list of state names."""

    def __init__(self, messages=(), states=()):
        self.states = [name_bytes(s).decode("utf-8") for s in states]
        if len(self.states) > MAX_STATES or len(set(self.states)) != len(self.states):
            raise LocalRefusal(EINVAL, "bad state list")
        self.by_id = {}
        self.by_name = {}
        for m in messages:
            self.add(m)

    def add(self, m):
        if not isinstance(m, MessageDef):
            m = MessageDef(m)
        if m.name in self.by_name or m.id in self.by_id:
            raise LocalRefusal(EEXIST, "%s (id 0x%08x)" % (m.name, m.id))
        if len(self.by_id) >= MAX_IDS:
            raise LocalRefusal(ELIMIT, "more than %d messages" % MAX_IDS)
        for s in m.states:
            if s not in self.states:
                raise LocalRefusal(ENOTFOUND, "state %r" % (s,))
        self.by_id[m.id] = m
        self.by_name[m.name] = m
        return m.id

    def ids(self):
        return sorted(self.by_id)

    def fingerprint_text(self):
        lines = []
        for mid in self.ids():
            m = self.by_id[mid]
            if m.states:
                wanted = set(m.states)
                states = ",".join(s for s in self.states if s in wanted)
            else:
                states = "*"
            lines.append(b"%08x %s %d %d %s\n" % (mid, m.name_raw, m.types, m.max_size,
                                                   states.encode("utf-8")))
        if self.states:
            lines.append(b"#states " + ",".join(self.states).encode("utf-8") + b"\n")
        return b"".join(lines)

    def fingerprint(self):
        return hashlib.sha256(self.fingerprint_text()).digest()


# --- payload validation (§5.7) -----------------------------------------------------------

def utf8_valid(data):
    # Python's strict codec is RFC 3629: it refuses overlongs, surrogates and > U+10FFFF.
    try:
        bytes(data).decode("utf-8", "strict")
    except UnicodeDecodeError:
        return False
    return True


def _msgpack_head(b, i):
    """Decodes the value header at b[i]. Returns (next offset, children, is_container), or
    None when the header, or a length it announces, runs past the end, or for 0xC1 (never
    used). children counts the values that follow (a map's pairs count twice)."""
    n = len(b)
    t = b[i]
    i += 1
    if t <= 0x7F or t >= 0xE0 or t in (0xC0, 0xC2, 0xC3):
        return i, 0, False
    if 0x80 <= t <= 0x8F:
        return i, 2 * (t & 0x0F), True
    if 0x90 <= t <= 0x9F:
        return i, t & 0x0F, True
    if 0xA0 <= t <= 0xBF:
        end = i + (t & 0x1F)
        return (end, 0, False) if end <= n else None
    fixed = {0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2,
             0xD2: 4, 0xD3: 8, 0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17}
    if t in fixed:
        end = i + fixed[t]
        return (end, 0, False) if end <= n else None
    sized = {0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0),     # bin 8/16/32
             0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1),     # ext 8/16/32: length, then type
             0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0)}     # str 8/16/32
    if t in sized:
        width, extra = sized[t]
        if i + width > n:
            return None
        end = i + width + extra + int.from_bytes(b[i:i + width], "big")
        return (end, 0, False) if end <= n else None
    counted = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}
    if t in counted:
        width, per = counted[t]
        if i + width > n:
            return None
        return i + width, per * int.from_bytes(b[i:i + width], "big"), True
    return None


def msgpack_depth(data):
    """The container nesting depth (0 for a scalar) of data if it is exactly one well-formed
    MessagePack value, else None (§5.7.4). Iterative, so hostile nesting costs no stack."""
    b = bytes(data)
    i = 0
    pending = [1]     # values still to read at each open level; the bottom is the root
    deepest = 0
    while pending:
        if pending[-1] == 0:
            pending.pop()
            continue
        if i >= len(b):
            return None
        pending[-1] -= 1
        head = _msgpack_head(b, i)
        if head is None:
            return None
        i, children, container = head
        if container:
            if children > len(b) - i:     # every value takes at least one octet
                return None
            pending.append(children)
            deepest = max(deepest, len(pending) - 1)
    return deepest if i == len(b) else None


def msgpack_valid(data, max_depth=MSGPACK_MIN_DEPTH):
    depth = msgpack_depth(data)
    return depth is not None and depth <= max_depth


# --- frames (§4) -------------------------------------------------------------------------

def kind_limit(kind, max_msg):
    """The largest payload a receiver accepts for this kind, or None for an undefined kind."""
    if kind in (KIND_HELLO, KIND_WELCOME):
        return MAX_HELLO_PAYLOAD
    if kind in (KIND_PING, KIND_PONG, KIND_CLOSE):
        return MAX_CONTROL_PAYLOAD
    if kind == KIND_ERROR:
        return MAX_ERROR_PAYLOAD
    if kind == KIND_MSG | TYPE_EMPTY:
        return 0
    if KIND_MSG | TYPE_BINARY <= kind <= KIND_MSG | TYPE_MSGPACK:
        return max_msg
    return None


def encode_header(kind, ident, length):
    """Nine header octets, unchecked: tests use it to build frames a peer must refuse."""
    return struct.pack(">BII", kind, ident, length)


def check_header(hdr, max_msg):
    """Applies the header checks of §4.3 in their order. Returns (kind, id, length)."""
    kind, ident, length = struct.unpack(">BII", bytes(hdr[:HEADER_SIZE]))
    limit = kind_limit(kind, max_msg)
    if limit is None:
        raise ProtocolViolation(EPROTO, "undefined kind 0x%02x" % kind)
    if ident & 0x80000000:
        raise ProtocolViolation(EPROTO, "reserved id bit set")
    if kind == KIND_MSG | TYPE_EMPTY and length != 0:
        raise ProtocolViolation(EPROTO, "empty-typed message with length %d" % length)
    if length > limit:
        raise ProtocolViolation(EMSGSIZE, "%s length %d over %d"
                                % (KIND_NAMES[kind], length, limit))
    return kind, ident, length


def encode_frame(kind, ident, payload=b""):
    """A frame a conforming sender may send: kind defined, id < 2^31, the payload within the
    kind's fixed limit (a message's limit is the peer's and is checked by Peer.send)."""
    payload = bytes(payload)
    limit = kind_limit(kind, MAX_MESSAGE_LIMIT)
    if limit is None or not 0 <= ident <= ID_MASK or len(payload) > limit:
        raise LocalRefusal(EINVAL, "frame kind 0x%02x id %d length %d"
                           % (kind, ident, len(payload)))
    return encode_header(kind, ident, len(payload)) + payload


class Frame:
    __slots__ = ("kind", "id", "payload")

    def __init__(self, kind, ident, payload):
        self.kind, self.id, self.payload = kind, ident, payload

    def __repr__(self):
        return "Frame(%s, id=%d, %d octets)" % (KIND_NAMES.get(self.kind, hex(self.kind)),
                                                self.id, len(self.payload))


class FrameDecoder:
    """Incremental decoder: feed() octets, next() frames. A header is checked as soon as its
    nine octets are buffered, before any of its payload is waited for; errors are sticky."""

    def __init__(self, max_msg=DEFAULT_MAX_MESSAGE):
        self.max_msg = max_msg
        self.buf = bytearray()
        self.error = None

    def feed(self, data):
        self.buf += data

    def next(self):
        if self.error:
            raise self.error
        if len(self.buf) < HEADER_SIZE:
            return None
        try:
            kind, ident, length = check_header(self.buf, self.max_msg)
        except ProtocolViolation as e:
            self.error = e
            raise
        if len(self.buf) < HEADER_SIZE + length:
            return None
        payload = bytes(self.buf[HEADER_SIZE:HEADER_SIZE + length])
        del self.buf[:HEADER_SIZE + length]
        return Frame(kind, ident, payload)


# --- hello, CLOSE and ERROR payloads (§6, §5.5, §5.6) ------------------------------------

class Hello:
    """The HELLO / WELCOME payload. encode() writes whatever the fields say (tests build
    invalid hellos with it); decode() applies every check of §6.3."""

    def __init__(self, major=VERSION_MAJOR, minor=VERSION_MINOR, flags=0, caps=0,
                 max_message=DEFAULT_MAX_MESSAGE, heartbeat_ms=DEFAULT_HEARTBEAT_MS,
                 fingerprint=bytes(32), ids=(), extensions=(), magic=HELLO_MAGIC):
        self.magic = magic
        self.major, self.minor, self.flags, self.caps = major, minor, flags, caps
        self.max_message, self.heartbeat_ms = max_message, heartbeat_ms
        self.fingerprint = bytes(fingerprint)
        self.ids = list(ids)
        self.extensions = [(t, bytes(v)) for t, v in extensions]

    def encode(self):
        out = bytearray(self.magic)
        out += struct.pack(">BBHIII", self.major, self.minor, self.flags, self.caps,
                           self.max_message, self.heartbeat_ms)
        out += self.fingerprint
        out += struct.pack(">H", len(self.ids))
        for i in self.ids:
            out += struct.pack(">I", i)
        for t, v in self.extensions:
            out += struct.pack(">HH", t, len(v)) + v
        return bytes(out)

    @classmethod
    def decode(cls, p):
        p = bytes(p)
        if len(p) < 4 or p[:4] != HELLO_MAGIC:
            raise ProtocolViolation(EPROTO, "hello: bad magic")
        if len(p) < 6:
            raise ProtocolViolation(EPROTO, "hello: short")
        if p[4] != VERSION_MAJOR:
            raise ProtocolViolation(EVERSION, "hello: version %d.%d" % (p[4], p[5]))
        if len(p) < HELLO_FIXED_SIZE:
            raise ProtocolViolation(EPROTO, "hello: short")
        _, major, minor, flags, caps, max_message, heartbeat = struct.unpack(
            ">4sBBHIII", p[:20])
        fingerprint = p[20:52]
        (n,) = struct.unpack(">H", p[52:54])
        if n > MAX_IDS:
            raise ProtocolViolation(EPROTO, "hello: %d ids" % n)
        end = HELLO_FIXED_SIZE + 4 * n
        if len(p) < end:
            raise ProtocolViolation(EPROTO, "hello: id list truncated")
        ids = list(struct.unpack(">%dI" % n, p[HELLO_FIXED_SIZE:end]))
        prev = -1
        for i in ids:
            if i > ID_MASK or i <= prev:
                raise ProtocolViolation(EPROTO, "hello: ids not ascending 31-bit values")
            prev = i
        exts = []
        pos = end
        while pos < len(p):
            if len(p) - pos < 4:
                raise ProtocolViolation(EPROTO, "hello: truncated extension header")
            t, length = struct.unpack(">HH", p[pos:pos + 4])
            if len(p) - pos - 4 < length:
                raise ProtocolViolation(EPROTO, "hello: truncated extension value")
            exts.append((t, p[pos + 4:pos + 4 + length]))
            pos += 4 + length
        return cls(major, minor, flags, caps, max_message, heartbeat, fingerprint, ids, exts)


def close_payload(text=""):
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if len(raw) > MAX_CONTROL_PAYLOAD:
        raise LocalRefusal(EINVAL, "close text over %d octets" % MAX_CONTROL_PAYLOAD)
    return raw


def error_payload(code, text=""):
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    out = struct.pack(">I", code) + raw
    if len(out) > MAX_ERROR_PAYLOAD:
        raise LocalRefusal(EINVAL, "error text over %d octets" % (MAX_ERROR_PAYLOAD - 4))
    return out


def decode_error(payload):
    if len(payload) < 4:
        raise ProtocolViolation(EPROTO, "ERROR payload shorter than its code")
    return struct.unpack(">I", payload[:4])[0], payload[4:].decode("utf-8", "replace")


def announced_max(value):
    """The limit a hello's max message size imposes on the other side (§6.2)."""
    return MAX_MESSAGE_LIMIT if value == 0 or value > MAX_MESSAGE_LIMIT else value


def check_message(m, mtype, payload, conn_max, state=None, states=()):
    """The receiver's checks of §12.1 after the id lookup, in their order. Returns 0 or the
    code of the first failure. The sender runs the same checks before sending."""
    if not m.types & (1 << mtype):
        return ESCHEMA
    if m.max_size and len(payload) > m.max_size:
        return EMSGSIZE
    if len(payload) > conn_max:
        return EMSGSIZE
    if mtype == TYPE_EMPTY and payload:
        return EPROTO
    if mtype == TYPE_TEXT and not utf8_valid(payload):
        return EUTF8
    if mtype == TYPE_MSGPACK and not msgpack_valid(payload):
        return ESCHEMA
    if m.states and state is not None and states[state] not in m.states:
        return ESTATE
    return 0


# --- the blocking peer (§7, §12-§15) -----------------------------------------------------

class CloseResult:
    """How a connection ended: the CLOSE code and text received, then how TCP ended:
    "eof", "reset" or "timeout", and any octets that followed the CLOSE frame."""

    def __init__(self, code, text, end, trailing=b"", skipped=()):
        self.code, self.text, self.end = code, text, end
        self.trailing, self.skipped = trailing, list(skipped)

    def __repr__(self):
        return "CloseResult(%s, %r, %s, trailing=%d)" % (error_name(self.code), self.text,
                                                        self.end, len(self.trailing))


class Peer:
    """A blocking truflux peer over TCP, by default a client: the constructor connects and,
    with handshake=True, performs the opening; with handshake=False it only connects, for
    tests that write raw octets. Peer.accept() plays the server side of one connection.
    Every socket operation is bounded by `timeout` seconds."""

    def __init__(self, host, port, names=(), strict=False, *, protocol=None,
                 max_message=DEFAULT_MAX_MESSAGE, heartbeat_ms=DEFAULT_HEARTBEAT_MS, caps=0,
                 extensions=(), timeout=5.0, handshake=True, auto_pong=True, sock=None):
        self.protocol = protocol if protocol is not None else ProtocolDef(names)
        self.timeout = timeout
        self.auto_pong = auto_pong
        self.state = 0 if self.protocol.states else None
        self.hello = Hello(flags=FLAG_STRICT if strict else 0, caps=caps,
                           max_message=max_message, heartbeat_ms=heartbeat_ms,
                           fingerprint=self.protocol.fingerprint(), ids=self.protocol.ids(),
                           extensions=extensions)
        self.decoder = FrameDecoder(max_message)
        self.welcome = self.peer_hello = None
        self.peer_ids = frozenset()
        self.minor = None
        self.opened = False
        self.close_sent = False
        self.close_received = None    # (code, text) of the peer's CLOSE
        self.backlog = []
        self.first_frame = None       # the peer's HELLO or WELCOME frame, as received
        self.sock = sock or socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if handshake:
            try:
                self.open()
            except BaseException:
                self.abort()
                raise

    @classmethod
    def accept(cls, listener, names=(), strict=False, handshake=True, **kw):
        """Accepts one connection on a listening socket and, with handshake=True, plays the
        server's part of the opening (§7.1 step 2): a HELLO is checked and answered with
        WELCOME; a first CLOSE is answered and raised as PeerClosed."""
        timeout = kw.get("timeout", 5.0)
        listener.settimeout(timeout)
        sock, _ = listener.accept()
        peer = cls(None, None, names, strict, sock=sock, handshake=False, **kw)
        if handshake:
            try:
                peer.open_as_server()
            except BaseException:
                peer.abort()
                raise
        return peer

    # context manager: always release the socket
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.abort()

    def abort(self):
        """Closes the socket at once, without a close handshake."""
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    # -- opening (§7) --

    def open(self):
        self.send_raw(encode_frame(KIND_HELLO, 0, self.hello.encode()))
        f = self._read_frame(self.timeout)
        self.first_frame = f
        if f.kind == KIND_CLOSE:
            code, text = f.id, f.payload.decode("utf-8", "replace")
            self._answer_close(code, text)
            raise PeerClosed(code, text)
        if f.kind != KIND_WELCOME:
            self._fail(EPROTO, "expected WELCOME, got %r" % f)
        self._take_hello(f)
        self.opened = True

    def open_as_server(self):
        f = self._read_frame(self.timeout)
        self.first_frame = f
        if f.kind == KIND_CLOSE:
            code, text = f.id, f.payload.decode("utf-8", "replace")
            self._answer_close(code, text)
            raise PeerClosed(code, text)
        if f.kind != KIND_HELLO:
            self._fail(EPROTO, "first frame is not a HELLO: %r" % f)
        self._take_hello(f)
        self.send_raw(encode_frame(KIND_WELCOME, 0, self.hello.encode()))
        self.opened = True

    def _take_hello(self, f):
        """Checks the peer's hello (§6.3, then STRICT) and records what it announces."""
        try:
            h = Hello.decode(f.payload)
        except ProtocolViolation as e:
            self._fail(e.code, e.detail)
        if (self.hello.flags | h.flags) & FLAG_STRICT and h.fingerprint != self.hello.fingerprint:
            self._fail(EFINGERPRINT, "fingerprints differ")
        self.peer_hello = self.welcome = h    # "welcome" reads naturally on the client side
        self.peer_ids = frozenset(h.ids)
        self.minor = min(VERSION_MINOR, h.minor)

    # -- sending --

    def send_raw(self, data):
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def send(self, name, mtype, payload=b""):
        """Sends one message after the local checks of §7 step 5 and §12; a refusal raises
        LocalRefusal and puts nothing on the wire."""
        if not self.opened or self.close_sent or self.close_received:
            raise LocalRefusal(ECLOSED, "connection not open")
        m = self.protocol.by_name.get(name)
        if m is None:
            raise LocalRefusal(ENOTFOUND, "message %r not defined" % (name,))
        if m.id not in self.peer_ids:
            raise LocalRefusal(EPEERUNKNOWN, name)
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        payload = bytes(payload)
        if not 0 <= mtype <= TYPE_MSGPACK:
            raise LocalRefusal(EINVAL, "type %r" % (mtype,))
        code = check_message(m, mtype, payload, announced_max(self.welcome.max_message),
                             self.state, self.protocol.states)
        if code:
            raise LocalRefusal(code, name)
        self.send_raw(encode_header(KIND_MSG | mtype, m.id, len(payload)) + payload)

    def ping(self, payload=b"", timeout=None):
        """Sends PING and returns the payload of the PONG that answers it. Frames that arrive
        first stay queued for recv()."""
        self.send_raw(encode_frame(KIND_PING, 0, payload))
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        held = []
        try:
            while True:
                f = self._next_checked(max(0.0, deadline - time.monotonic()))
                if f[0] == KIND_PONG:
                    return f[4]
                held.append(f)
        finally:
            self.backlog[:0] = held

    def send_close(self, code=0, text=""):
        self.send_raw(encode_frame(KIND_CLOSE, code, close_payload(text)))
        self.close_sent = True

    def close(self, code=0, text="", timeout=None):
        """The close handshake as initiator (§15): send CLOSE(code, text), read until the
        peer's CLOSE answer, then wait (bounded) for the peer to end TCP. Frames that arrive
        before the answer are returned in CloseResult.skipped."""
        timeout = self.timeout if timeout is None else timeout
        self.send_close(code, text)
        return self._await_close(timeout)

    # -- receiving --

    def recv(self, timeout=None):
        """The next frame as (kind, id, name, type, payload). For messages, kind is the raw
        kind octet, type its payload type and name this side's name for the id; for CLOSE,
        id is the reason code. A PING is answered before it is returned; a CLOSE is answered
        with CLOSE(0) unless this side sent one. A frame that breaks the protocol makes this
        side send CLOSE(code) and raises ProtocolViolation."""
        if self.backlog:
            return self.backlog.pop(0)
        return self._next_checked(self.timeout if timeout is None else timeout)

    def recv_message(self, timeout=None):
        """recv(), skipping PING and PONG frames."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            f = self.recv(max(0.0, deadline - time.monotonic()))
            if f[0] not in (KIND_PING, KIND_PONG):
                return f

    def expect_close(self, timeout=None):
        """Reads until the peer's CLOSE, answers it, and reports how TCP then ended."""
        return self._await_close(self.timeout if timeout is None else timeout)

    def wait_end(self, timeout=None):
        """Reads until TCP ends. Returns ("eof" | "reset" | "timeout", octets read)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        got = bytearray(self.decoder.buf)
        self.decoder.buf.clear()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout", bytes(got)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                return "reset", bytes(got)
            except (socket.timeout, TimeoutError):
                return "timeout", bytes(got)
            if not chunk:
                return "eof", bytes(got)
            got += chunk

    # -- internals --

    def _await_close(self, timeout):
        deadline = time.monotonic() + timeout
        skipped = [f for f in self.backlog if f[0] != KIND_CLOSE]
        self.backlog.clear()
        while self.close_received is None:
            skipped.append(self._next_checked(max(0.0, deadline - time.monotonic())))
            if skipped[-1][0] == KIND_CLOSE:
                skipped.pop()
        end, trailing = self.wait_end(max(0.0, deadline - time.monotonic()))
        self.abort()
        code, text = self.close_received
        return CloseResult(code, text, end, trailing, skipped)

    def _read_frame(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                f = self.decoder.next()
            except ProtocolViolation as e:
                self._fail(e.code, e.detail)
            if f is not None:
                return f
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame within %.1f s" % timeout)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                raise TimeoutError("no frame within %.1f s" % timeout) from None
            except ConnectionResetError:
                raise ConnectionEnded(ECONNRESET, "connection reset") from None
            if not chunk:
                raise ConnectionEnded(EEOF, "EOF without CLOSE")
            self.decoder.feed(chunk)

    def _next_checked(self, timeout):
        f = self._read_frame(timeout)
        kind = f.kind
        if kind == KIND_CLOSE:
            text = f.payload.decode("utf-8", "replace")
            self._answer_close(f.id, text)
            return (kind, f.id, None, None, f.payload)
        if not self.opened:
            return (kind, f.id, None, None, f.payload)    # raw mode: an observer only
        if kind in (KIND_HELLO, KIND_WELCOME):
            self._fail(EPROTO, "%s after opening" % KIND_NAMES[kind])
        if kind == KIND_PING:
            if self.auto_pong and not self.close_sent:
                self.send_raw(encode_frame(KIND_PONG, 0, f.payload))
            return (kind, 0, None, None, f.payload)
        if kind == KIND_PONG:
            return (kind, 0, None, None, f.payload)
        if kind == KIND_ERROR:
            if len(f.payload) < 4:
                self._fail(EPROTO, "ERROR payload shorter than its code")
            m = self.protocol.by_id.get(f.id)
            return (kind, f.id, m.name if m else None, None, f.payload)
        m = self.protocol.by_id.get(f.id)
        if m is None:
            self._fail(EUNKNOWN, "id 0x%08x" % f.id)
        mtype = kind & 0x03
        code = check_message(m, mtype, f.payload, self.hello.max_message, self.state,
                             self.protocol.states)
        if code:
            self._fail(code, "message %s" % m.name)
        return (kind, f.id, m.name, mtype, f.payload)

    def _answer_close(self, code, text):
        """A CLOSE arrived: answer it unless it is the answer to ours (§15), then end the
        sending direction; the caller reads on until the peer ends TCP."""
        self.close_received = (code, text)
        try:
            if not self.close_sent:
                self.send_raw(encode_frame(KIND_CLOSE, 0, b""))
                self.close_sent = True
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass     # the peer may already have closed TCP; its CLOSE was received

    def _fail(self, code, detail=""):
        """Reacts to a violation by the peer (§18): CLOSE(code), nothing more, then end."""
        if self.sock is not None and not self.close_sent:
            try:
                self.send_raw(encode_frame(KIND_CLOSE, code, close_payload(detail[:100])))
                self.close_sent = True
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        self.abort()
        raise ProtocolViolation(code, detail)
