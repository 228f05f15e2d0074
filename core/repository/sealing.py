"""How repository objects are sealed before they reach the back end.

A plain (unencrypted) repository stores objects as they are. An encrypted
one seals each object (each blob inside a pack, each index file, each
manifest) with authenticated encryption under the repository's master key
(``core.repository.crypto.MasterKey`` satisfies :class:`Sealer`), so the
back end never sees plaintext or file names."""
from __future__ import annotations

from typing import Protocol


class Sealer(Protocol):
    @property
    def encrypted(self) -> bool: ...
    @property
    def overhead(self) -> int:
        """Bytes a sealed object has beyond its plaintext."""
        ...
    def seal(self, plaintext: bytes) -> bytes: ...
    def open(self, sealed: bytes) -> bytes:
        """The plaintext; ``core.repository.crypto.DecryptError`` (a
        RepositoryError) when the object was changed or sealed with another key."""
        ...


class PlainSealer:
    encrypted = False
    overhead = 0

    def seal(self, plaintext: bytes) -> bytes:
        return plaintext

    def open(self, sealed: bytes) -> bytes:
        return sealed


PLAIN = PlainSealer()
