"""Keys of the secure layer (truflux/security.h): X25519 key pairs, as `truflux keygen`
makes them.

>>> pair = truflux.keygen()
>>> server = truflux.Server("tcp://127.0.0.1:0", proto, static_key=pair.private)
>>> client = truflux.Client(server.url, proto, peer_key=pair.public)   # pins the server

Keys are 32 raw bytes; their text form is one line of base64 (44 characters), which key
files hold and every ``*_key`` option also accepts.
"""

from __future__ import annotations

import os
from typing import NamedTuple, Union

from . import _truflux

__all__ = ["KeyPair", "keygen", "key_public", "encode_key", "decode_key", "load_key",
           "crypto_backend"]

PathLike = Union[str, "os.PathLike[str]"]


class KeyPair(NamedTuple):
    """A static key pair: ``private`` and ``public``, 32 bytes each."""

    private: bytes
    public: bytes

    @property
    def public_text(self) -> str:
        """The public key as base64, for peers (``peer_key=``, ``truflux connect --pin``,
        an authorized-keys file)."""
        return encode_key(self.public)

    def save(self, stem: PathLike, *, force: bool = False) -> None:
        """Writes STEM.key (the private key, mode 0600) and STEM.pub (the public key), one
        line of base64 each, as ``truflux keygen STEM`` does. Existing files are kept
        (FileExistsError) unless ``force``."""
        stem = os.fspath(stem)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
        for path, key, mode in ((stem + ".key", self.private, 0o600),
                                (stem + ".pub", self.public, 0o644)):
            fd = os.open(path, flags, mode)
            with os.fdopen(fd, "w") as f:
                f.write(encode_key(key) + "\n")

    def __repr__(self) -> str:  # never print the private key by accident
        return f"KeyPair(public={self.public_text!r})"


def keygen() -> KeyPair:
    """A new X25519 key pair from the system's CSPRNG."""
    private, public = _truflux.keypair_generate()
    return KeyPair(private, public)


def key_public(private: Union[bytes, str]) -> bytes:
    """The public key of a private key (bytes or base64 text)."""
    if isinstance(private, str):
        private = decode_key(private)
    return _truflux.key_public(bytes(private))


def encode_key(key: bytes) -> str:
    """A key as one line of base64 (44 characters)."""
    return _truflux.key_encode(bytes(key))


def decode_key(text: str) -> bytes:
    """Reads a key's base64 text (surrounding white space allowed); raises
    :class:`truflux.EINVAL` (a ValueError) for anything else."""
    return _truflux.key_decode(text)


def load_key(path: PathLike) -> bytes:
    """Reads a key file (``truflux keygen``'s NAME.key or NAME.pub)."""
    with open(path, "r", encoding="ascii") as f:
        return decode_key(f.read())


def crypto_backend() -> str:
    """The crypto library this build uses for Noise: "mbedtls" or "openssl"."""
    return _truflux.crypto_backend()
