#!/usr/bin/env python3
"""The TLS transport (tls://) against OpenSSL as a real peer, through the `truflux` CLI.

* `truflux serve --tls` with `openssl s_client` as the client: the client verifies our
  certificate chain and talks truflux frames (built by tests/peer/tfpeer.py) over TLS 1.2;
  TLS 1.3 and suites without ECDHE+AEAD are refused; a required client certificate is
  enforced.
* `truflux connect tls://` with `openssl s_server` as the server: this script plays the
  truflux server behind s_server's standard input and output. Verification against a CA, a
  wrong CA (ECERT), a pinned certificate fingerprint, a wrong pin (EPIN), a client
  certificate.
* truflux to truflux over TLS with the Noise layer on top.
* Python's ssl module as the client, forcing each suite whose records the library seals
  with its own AEAD code (AES-256-GCM, ChaCha20-Poly1305), echoing several MiB.

Certificates are made at test time with `openssl req` / `openssl x509` in a temporary
directory under the build directory. TRUFLUX_BIN names the CLI (skipped without it unless
CI is set). Every wait is bounded.
"""

import hashlib
import os
import re
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peer"))

import tfpeer as tf  # noqa: E402

TIMEOUT = 10.0
NAMES = ["echo", "chat"]
OPENSSL = shutil.which("openssl")


def cli():
    binary = os.environ.get("TRUFLUX_BIN")
    if binary and os.access(binary, os.X_OK) and OPENSSL:
        return binary
    why = "TRUFLUX_BIN unset or not executable" if OPENSSL else "no openssl binary"
    if os.environ.get("CI"):
        raise AssertionError(why + " (required when CI is set)")
    raise unittest.SkipTest(why)


def run(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, timeout=TIMEOUT, **kw)


class Pki:
    """A CA, a server certificate for localhost / 127.0.0.1, a client certificate, and an
    unrelated CA."""

    def __init__(self, where):
        self.dir = where
        self.ca, self.ca_key = self.path("ca.pem"), self.path("ca.key")
        self.other_ca, other_key = self.path("other-ca.pem"), self.path("other-ca.key")
        self.self_signed(self.ca, self.ca_key, "truflux test CA")
        self.self_signed(self.other_ca, other_key, "another CA")
        self.cert, self.key = self.issue("server", "localhost",
                                         "subjectAltName=DNS:localhost,IP:127.0.0.1")
        self.client_cert, self.client_key = self.issue("client", "truflux client", None)
        der = run([OPENSSL, "x509", "-in", self.cert, "-outform", "DER"]).stdout
        self.pin = hashlib.sha256(der).hexdigest()

    def path(self, name):
        return os.path.join(self.dir, name)

    def self_signed(self, cert, key, cn):
        run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn])

    def issue(self, name, cn, ext):
        key, csr, cert = self.path(name + ".key"), self.path(name + ".csr"), self.path(name + ".pem")
        run([OPENSSL, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", csr, "-subj", "/CN=" + cn])
        args = [OPENSSL, "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
                "-CAcreateserial", "-out", cert, "-days", "2"]
        if ext:
            extfile = self.path(name + ".ext")
            with open(extfile, "w") as f:
                f.write(ext + "\n")
            args += ["-extfile", extfile]
        run(args)
        return cert, key


def hello_frame(kind):
    ids = sorted(tf.message_id(n) for n in NAMES)
    return tf.encode_frame(kind, 0, tf.Hello(ids=ids).encode())


def text_frame(name, text):
    return tf.encode_frame(0x12, tf.message_id(name), text.encode())


class Reader:
    """Collects a pipe's bytes on a thread."""

    def __init__(self, pipe):
        self.data = bytearray()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(pipe,), daemon=True)
        self.thread.start()

    def _run(self, pipe):
        while True:
            chunk = os.read(pipe.fileno(), 65536)
            if not chunk:
                return
            with self.lock:
                self.data += chunk

    def snapshot(self):
        with self.lock:
            return bytes(self.data)

    def wait_for(self, pred, what, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = pred(self.snapshot())
            if got:
                return got
            time.sleep(0.01)
        raise AssertionError("timed out waiting for %s; got %r" % (what, self.snapshot()[-300:]))


def frames_after_magic(data):
    """The frames in a byte stream from the first HELLO/WELCOME on (s_server prints text
    before the data)."""
    at = data.find(b"TFLX")
    if at < 9:
        return []
    dec = tf.FrameDecoder()
    dec.feed(data[at - 9:])
    out = []
    while True:
        f = dec.next()
        if f is None:
            return out
        out.append(f)


class Serve:
    """`truflux serve` with extra arguments; reads the first listening line."""

    def __init__(self, binary, args, scheme="tls"):
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([binary, "serve", "--quiet"] + args, stdout=subprocess.PIPE,
                                     stderr=self.err)
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        line = b""
        while not line.endswith(b"\n"):
            if not sel.select(timeout=TIMEOUT):
                raise AssertionError("truflux serve printed no listening line")
            c = os.read(self.proc.stdout.fileno(), 1)
            if not c:
                raise AssertionError("truflux serve exited: %s" % self.stderr())
            line += c
        sel.close()
        m = re.search(scheme + r"://127\.0\.0\.1:(\d+)", line.decode())
        assert m, line
        self.port = int(m.group(1))

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(TIMEOUT)
        self.proc.stdout.close()
        self.err.close()


class SServer:
    """`openssl s_server` with this script as the truflux server behind it: WELCOME for the
    HELLO, every message echoed, CLOSE(0) for a CLOSE."""

    def __init__(self, pki, extra=()):
        self.proc = subprocess.Popen(
            [OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-cert", pki.cert, "-key", pki.key,
             "-naccept", "1"] + list(extra),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.out = Reader(self.proc.stdout)
        m = self.out.wait_for(lambda d: re.search(rb"ACCEPT 127\.0\.0\.1:(\d+)", d), "ACCEPT")
        self.port = int(m.group(1))
        self.seen = []
        self.stop_flag = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        answered = 0
        deadline = time.monotonic() + TIMEOUT
        while not self.stop_flag and time.monotonic() < deadline:
            frames = frames_after_magic(self.out.snapshot())
            for f in frames[answered:]:
                self.seen.append(f)
                if f.kind == 0x01:
                    self.send(hello_frame(0x02))
                elif f.kind & 0xFC == 0x10:
                    self.send(tf.encode_frame(f.kind, f.id, f.payload))
                elif f.kind == 0x05:
                    self.send(tf.encode_frame(0x05, 0))
            answered = len(frames)
            time.sleep(0.01)

    def send(self, data):
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass

    def stop(self):
        self.stop_flag = True
        self.thread.join(TIMEOUT)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)
        self.proc.stdin.close()
        self.proc.stdout.close()


def connect(binary, port, args, line="hello over tls"):
    """`truflux connect` sending one echo line; (exit status, stdout, stderr)."""
    p = subprocess.run([binary, "connect", "tls://127.0.0.1:%d" % port, "--wait", "5"] + args,
                       input=(line + "\n").encode(), capture_output=True, timeout=3 * TIMEOUT)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bin = cli()
        base = os.environ.get("TRUFLUX_BUILD_DIR") or tempfile.gettempdir()
        cls.tmp = tempfile.mkdtemp(prefix="tls-test-", dir=base)
        cls.pki = Pki(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # --- truflux serve --tls, openssl s_client --------------------------------------------

    def s_client(self, port, extra, stdin_frames, want_frames):
        """Runs s_client with the frames on its input; returns (frames read, status)."""
        p = subprocess.Popen(
            [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port, "-quiet",
             "-verify_return_error"] + extra,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = Reader(p.stdout)
        frames = []
        try:
            # s_client may already have given up (a refused handshake): a broken pipe then.
            p.stdin.write(stdin_frames)
            p.stdin.flush()
            def enough(data):
                dec = tf.FrameDecoder()
                dec.feed(data)
                got = []
                while True:
                    f = dec.next()
                    if f is None:
                        break
                    got.append(f)
                return got if len(got) >= want_frames else None
            if want_frames:
                frames = out.wait_for(enough, "%d frames from the server" % want_frames)
            p.stdin.write(tf.encode_frame(0x05, 0))
            p.stdin.flush()
            p.stdin.close()
        except (BrokenPipeError, AssertionError):
            if want_frames:
                raise
        try:
            status = p.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            status = p.wait(TIMEOUT)
        err = p.stderr.read().decode("utf-8", "replace")
        p.stdout.close()
        p.stderr.close()
        return frames, status, err

    def serve(self, extra=()):
        s = Serve(self.bin, ["--tls", "127.0.0.1:0", "--tls-cert", self.pki.cert, "--tls-key",
                             self.pki.key] + list(extra))
        self.addCleanup(s.stop)
        return s

    def test_s_client_talks_truflux_over_tls(self):
        s = self.serve()
        frames, status, err = self.s_client(
            s.port, ["-CAfile", self.pki.ca, "-servername", "localhost", "-tls1_2"],
            hello_frame(0x01) + text_frame("echo", "through TLS"), 2)
        self.assertEqual(frames[0].kind, 0x02, "WELCOME first")
        tf.Hello.decode(frames[0].payload)
        self.assertEqual((frames[1].kind, frames[1].payload), (0x12, b"through TLS"))
        self.assertEqual(status, 0, err)

    def test_tls13_and_weak_suites_refused(self):
        s = self.serve()
        for extra in (["-tls1_3"], ["-tls1_2", "-cipher", "AES128-SHA"],
                      ["-tls1_2", "-cipher", "DHE-RSA-AES256-GCM-SHA384"]):
            frames, status, err = self.s_client(
                s.port, ["-CAfile", self.pki.ca] + extra, hello_frame(0x01), 0)
            self.assertNotEqual(status, 0, "%s should fail: %s" % (extra, err))
            self.assertEqual(frames, [])

    def test_required_client_certificate(self):
        s = self.serve(["--tls-ca", self.pki.ca, "--tls-client-cert", "required"])
        frames, status, err = self.s_client(
            s.port, ["-CAfile", self.pki.ca, "-tls1_2", "-cert", self.pki.client_cert, "-key",
                     self.pki.client_key], hello_frame(0x01) + text_frame("echo", "mutual"), 2)
        self.assertEqual(frames[1].payload, b"mutual")
        frames, status, err = self.s_client(s.port, ["-CAfile", self.pki.ca, "-tls1_2"],
                                            hello_frame(0x01), 0)
        self.assertEqual(frames, [], "no client certificate, no WELCOME")

    # --- Python ssl, one suite at a time, megabytes both ways -------------------------------

    def python_ssl_echo(self, suite):
        s = self.serve()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.pki.ca)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(suite)
        # Sizes around the 16 KiB record and far beyond it: 4.2 MB each way in all.
        sizes = [1, 16383, 16384, 16385, 65536, 1 << 20, 3 << 20]
        with socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                self.assertEqual(tls.cipher()[0], suite)
                dec = tf.FrameDecoder()

                def next_frame():
                    deadline = time.monotonic() + TIMEOUT
                    while time.monotonic() < deadline:
                        f = dec.next()
                        if f is not None:
                            return f
                        chunk = tls.recv(1 << 20)
                        if not chunk:
                            raise AssertionError("the server ended the connection")
                        dec.feed(chunk)
                    raise AssertionError("timed out waiting for a frame")

                tls.sendall(hello_frame(0x01))
                self.assertEqual(next_frame().kind, 0x02)
                for i, n in enumerate(sizes):
                    text = bytes(0x61 + (j * 7 + i) % 26 for j in range(n)).decode()
                    tls.sendall(text_frame("echo", text))
                    f = next_frame()
                    self.assertEqual((f.kind, len(f.payload)), (0x12, n))
                    self.assertEqual(f.payload, text.encode(), "echo of %d bytes" % n)
                tls.sendall(tf.encode_frame(0x05, 0))
                self.assertEqual(next_frame().kind, 0x05)
                # The server's close_notify ends the stream cleanly.
                deadline = time.monotonic() + TIMEOUT
                while tls.recv(65536) and time.monotonic() < deadline:
                    pass

    def test_python_ssl_aes256_gcm_megabytes(self):
        self.python_ssl_echo("ECDHE-ECDSA-AES256-GCM-SHA384")

    def test_python_ssl_chacha20_poly1305_megabytes(self):
        self.python_ssl_echo("ECDHE-ECDSA-CHACHA20-POLY1305")

    def test_python_ssl_aes128_gcm_still_works(self):
        # Left to mbedTLS's records: the library's AEADs have no AES-128.
        self.python_ssl_echo("ECDHE-ECDSA-AES128-GCM-SHA256")

    # --- truflux connect tls://, openssl s_server ------------------------------------------

    def s_server(self, extra=()):
        srv = SServer(self.pki, extra)
        self.addCleanup(srv.stop)
        return srv

    def test_connect_verifies_with_ca(self):
        srv = self.s_server()
        status, out, err = connect(self.bin, srv.port,
                                   ["--tls-ca", self.pki.ca, "--tls-server-name", "localhost"])
        self.assertEqual(status, 0, err)
        self.assertEqual(out, "echo\thello over tls\n")
        self.assertEqual([f.kind for f in srv.seen[:2]], [0x01, 0x12])

    def test_connect_each_suite(self):
        for suite in ("ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"):
            srv = self.s_server(["-cipher", suite])
            status, out, err = connect(self.bin, srv.port, ["--tls-ca", self.pki.ca,
                                                            "--tls-server-name", "localhost"])
            self.assertEqual(status, 0, "%s: %s" % (suite, err))
            self.assertEqual(out, "echo\thello over tls\n")

    def test_connect_wrong_ca_fails_clearly(self):
        srv = self.s_server()
        status, out, err = connect(self.bin, srv.port, ["--tls-ca", self.pki.other_ca,
                                                        "--tls-server-name", "localhost"])
        self.assertEqual(status, 1)
        self.assertIn("certificate verification failed", err)
        self.assertEqual(out, "")
        self.assertEqual(srv.seen, [], "nothing reached the server")

    def test_connect_wrong_name_fails(self):
        srv = self.s_server()
        status, out, err = connect(self.bin, srv.port, ["--tls-ca", self.pki.ca,
                                                        "--tls-server-name", "example.org"])
        self.assertEqual(status, 1)
        self.assertIn("certificate verification failed", err)

    def test_connect_pinned_certificate(self):
        srv = self.s_server()
        colons = ":".join(self.pki.pin[i:i + 2] for i in range(0, 64, 2)).upper()
        status, out, err = connect(self.bin, srv.port, ["--tls-pin", colons])
        self.assertEqual(status, 0, err)
        self.assertEqual(out, "echo\thello over tls\n")

    def test_connect_wrong_pin_fails_clearly(self):
        srv = self.s_server()
        wrong = hashlib.sha256(b"another certificate").hexdigest()
        status, out, err = connect(self.bin, srv.port, ["--tls-pin", wrong])
        self.assertEqual(status, 1)
        self.assertIn("pinned", err)
        self.assertEqual(srv.seen, [])

    def test_connect_with_client_certificate(self):
        srv = self.s_server(["-Verify", "1", "-CAfile", self.pki.ca, "-verify_return_error"])
        status, out, err = connect(self.bin, srv.port, [
            "--tls-ca", self.pki.ca, "--tls-server-name", "localhost", "--tls-cert",
            self.pki.client_cert, "--tls-key", self.pki.client_key])
        self.assertEqual(status, 0, err)
        self.assertEqual(out, "echo\thello over tls\n")

    # --- truflux to truflux: TLS, and Noise on top ------------------------------------------

    def test_truflux_both_ends_with_noise_inside(self):
        keydir = os.path.join(self.tmp, "keys")
        os.makedirs(keydir, exist_ok=True)
        pub = run([self.bin, "keygen", os.path.join(keydir, "srv"), "--force"]).stdout.decode().strip()
        s = self.serve(["--secure", "required", "--key", os.path.join(keydir, "srv.key")])
        status, out, err = connect(self.bin, s.port, ["--tls-ca", self.pki.ca, "--tls-server-name",
                                                      "localhost", "--pin", pub])
        self.assertEqual(status, 0, err)
        self.assertEqual(out, "echo\thello over tls\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
