"""The repository's master key: authenticated encryption of objects.

A sealed object is ``nonce (12 bytes) || AES-256-GCM ciphertext || tag (16
bytes)``. Nonces are random: with 96 bits the chance of a repeat stays
negligible far beyond the number of objects a repository holds (NIST's bound
is 2**32 messages per key)."""
from __future__ import annotations

import hmac
import os

from blake3 import blake3
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import (  # defined there, as every error that crosses the wire
    DecryptError as DecryptError,
)

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16


class MasterKey:
    """A 256-bit AES-GCM key; satisfies ``core.repository.sealing.Sealer``.

    The AESGCM object is created once, so sealing costs no key schedule.
    Safe to share between threads."""

    __slots__ = ("_key", "_aead")
    encrypted = True
    overhead = NONCE_SIZE + TAG_SIZE

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError(f"a master key has {KEY_SIZE} bytes, not {len(key)}")
        self._key = bytes(key)
        self._aead = AESGCM(self._key)

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(os.urandom(KEY_SIZE))

    @classmethod
    def from_bytes(cls, key: bytes) -> MasterKey:
        return cls(key)

    def to_bytes(self) -> bytes:
        return self._key

    def derive(self, context: str, length: int = 32) -> bytes:
        """A sub-key for another purpose (e.g. keyed chunk ids), independent
        of the encryption key: BLAKE3 in key-derivation mode."""
        return blake3(self._key, derive_key_context=context).digest(length)

    def seal(self, plaintext: bytes | bytearray | memoryview) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self._aead.encrypt(nonce, plaintext, None)

    def open(self, sealed: bytes | bytearray | memoryview) -> bytes:
        if len(sealed) < NONCE_SIZE + TAG_SIZE:
            raise DecryptError(
                f"An encrypted object is {len(sealed)} bytes long, shorter than its "
                f"{NONCE_SIZE + TAG_SIZE}-byte header and tag: it was truncated. "
                "Run 'agent-jobs verify' to find the damage.")
        view = memoryview(sealed)
        try:
            return self._aead.decrypt(bytes(view[:NONCE_SIZE]), view[NONCE_SIZE:], None)
        except InvalidTag:
            raise DecryptError(
                "An encrypted object does not authenticate: its data was changed, "
                "or it was sealed with another repository's key. "
                "Run 'agent-jobs verify' to find the damage.") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MasterKey):
            return NotImplemented
        return hmac.compare_digest(self._key, other._key)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "MasterKey(<secret>)"

    def __reduce__(self) -> tuple[object, tuple[bytes]]:
        return (MasterKey, (self._key,))
