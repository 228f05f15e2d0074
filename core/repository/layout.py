"""Where each kind of object lives in the back end, and how it is sealed.

Object names::

    config.json                 format version, id, sizes, encryption (never sealed)
    config.sealed               encrypted only: config.json sealed, to find a changed one
    keys/<id>                   the master key, wrapped by a password (see keys)
    packs/<xx>/<packid>.pack    blobs plus a trailer listing them (see packfile)
    index/<id>.idx              blob id -> pack location (see index)
    points/<pointid>.json.zst   one manifest per restore point, written last
    damaged.json                block copies found damaged (see damage)
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import RepositoryError

from core.repository import immutability
from core.repository.backend import Backend
from core.repository.backend.local import LocalBackend
from core.repository.sealing import PLAIN, Sealer

PACK_SUFFIX = ".pack"
INDEX_SUFFIX = ".idx"
POINT_SUFFIX = ".json.zst"
CONFIG = "config.json"
DAMAGED = "damaged.json"
PACKS = "packs/"
INDEX = "index/"
POINTS = "points/"
KEYS = "keys/"


class SealDamaged(ValueError):
    """A sealed object cannot be opened: it was changed (or sealed with another key)."""


@dataclass
class Layout:
    backend: Backend
    sealer: Sealer = field(default=PLAIN)

    @property
    def location(self) -> str:
        return self.backend.location

    @property
    def root(self) -> Path | str:
        """For messages: the folder of a local repository, else its location."""
        if isinstance(self.backend, LocalBackend):
            return self.backend.root
        return self.backend.location

    def describe(self, name: str) -> str:
        """An object's name for messages: its path for a local repository."""
        if isinstance(self.backend, LocalBackend):
            return str(self.backend.root / name)
        return f"{self.backend.location.rstrip('/')}/{name}"

    # -- names ---------------------------------------------------------------

    config = CONFIG
    damaged = DAMAGED

    @staticmethod
    def pack(pack_id: str) -> str:
        return f"{PACKS}{pack_id[:2]}/{pack_id}{PACK_SUFFIX}"

    @staticmethod
    def index_file(index_id: str) -> str:
        return f"{INDEX}{index_id}{INDEX_SUFFIX}"

    @staticmethod
    def point(point_id: str) -> str:
        return f"{POINTS}{point_id}{POINT_SUFFIX}"

    # -- listing -------------------------------------------------------------

    def _list(self, prefix: str) -> Iterable[tuple[str, int]]:
        try:
            return [(o.name, o.size) for o in self.backend.list(prefix)]
        except OSError as exc:
            raise RepositoryError(
                f"Cannot list {self.describe(prefix.rstrip('/'))}: {exc.strerror or exc}. "
                "Check that the repository storage is reachable and readable."
            ) from exc

    def list_packs(self) -> dict[str, int]:
        """Pack id -> size of every pack."""
        found: dict[str, int] = {}
        for name, size in self._list(PACKS):
            base = name.rsplit("/", 1)[-1]
            if base.endswith(PACK_SUFFIX) and name.count("/") == 2:
                found[base[: -len(PACK_SUFFIX)]] = size
        return found

    def list_index_ids(self) -> list[str]:
        return self._ids(INDEX, INDEX_SUFFIX)

    def list_point_ids(self) -> list[str]:
        return self._ids(POINTS, POINT_SUFFIX)

    def sizes(self, prefix: str) -> int:
        return sum(size for _, size in self._list(prefix))

    def _ids(self, prefix: str, suffix: str) -> list[str]:
        return sorted(
            name[len(prefix): -len(suffix)] for name, _ in self._list(prefix)
            if name.endswith(suffix) and "/" not in name[len(prefix):]
        )

    # -- sealed objects ------------------------------------------------------

    def save_sealed(self, name: str, plaintext: bytes) -> None:
        """OSError (BackendError) if it cannot be written."""
        self.backend.save(name, self.sealer.seal(plaintext))

    def load_sealed(self, name: str) -> bytes:
        """The plaintext. ObjectNotFound (a FileNotFoundError) if absent,
        OSError if unreadable, SealDamaged if it cannot be opened (on an
        immutable repository: nor can any older locked version of it)."""
        return immutability.load_checked(self.backend, name, self.open_sealed)

    def open_sealed(self, data: bytes) -> bytes:
        if not self.sealer.encrypted:
            return data
        try:
            return self.sealer.open(data)
        except (RepositoryError, ValueError) as exc:
            raise SealDamaged(
                "it cannot be decrypted: it was changed, or sealed with another key"
            ) from exc
