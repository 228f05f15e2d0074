"""Reading a restore point to copy it into another repository (a backup copy
job): the point's manifest, and each block as this repository stores it
(compressed, opened from its seal and verified against its id), so the target
stores it without compressing it again and seals it with its own key."""
from __future__ import annotations

from core.errors import RepositoryError

from core.repository.backend import BackendLock
from core.repository.codec import decode
from core.repository.damage import DamageRegistry
from core.repository.errors import BlobError
from core.repository.index import Index
from core.repository.layout import Layout, SealDamaged
from core.repository.model import Manifest
from core.repository.packfile import PackReader


class PointSource:
    """One point being copied out. Holds a shared lock on its repository (a
    prune cannot remove its data meanwhile) until ``close``.

    ``bytes_read``: stored bytes read from this repository so far."""

    def __init__(self, layout: Layout, index: Index, damage: DamageRegistry,
                 manifest: Manifest, lock: BackendLock) -> None:
        self._layout = layout
        self._index = index
        self._damage = damage
        self.manifest = manifest
        self._lock = lock
        self._reader = PackReader(layout)
        self.bytes_read = 0

    def fetch(self, blob: str) -> tuple[bytes, int, int]:
        """(stored bytes, flags, raw length) of the block, opened from its
        seal and verified (decompressed and re-hashed); a damaged copy is
        recorded and another copy tried. RepositoryError if none is intact."""
        problems: list[str] = []
        tried: set[str] = set()
        while True:
            loc = self._index.blobs.get(blob)
            if loc is None or loc.pack in tried:
                break
            tried.add(loc.pack)
            try:
                stored = self._reader.read_stored(blob, loc)
                self.bytes_read += len(stored)
                try:
                    data = self._layout.open_sealed(stored)
                except SealDamaged as exc:
                    raise BlobError(blob, loc.pack, "corrupt", f"({exc})") from None
                decode(data, loc.flags, loc.raw_length, blob, loc.pack)
                return data, loc.flags, loc.raw_length
            except BlobError as exc:
                problems.append(str(exc))
                self._damage.update(add=[(blob, loc.pack, exc.problem)])
                self._index.refresh(full=True)
            except OSError as exc:
                raise RepositoryError(
                    f"Cannot read block {blob} of restore point {self.manifest.meta.id} from "
                    f"repository {self._layout.root}: {exc.strerror or exc}. Check that its "
                    "storage is reachable, then run the copy job again.") from exc
        why = "; ".join(problems) if problems else "it is missing from the repository's index"
        raise RepositoryError(
            f"Restore point {self.manifest.meta.id} cannot be copied: block {blob} has no "
            f"intact copy in repository {self._layout.root} ({why}). Run 'agent-jobs verify' "
            "and 'agent-jobs repair' on the source repository; the next source backup heals "
            "the point's data.")

    def close(self) -> None:
        try:
            self._reader.close()
        finally:
            self._lock.release()

    def __enter__(self) -> PointSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
