"""Index files and the in-memory index (blob id -> location).

Index file layout::

    b"ABKIDX01"
    per pack: PACK_HEADER (pack id, blob count) then count x packfile.ENTRY
    blake3 digest of everything above (32 bytes)

Several index files may list the same blob (concurrent writers, prune in
progress); any copy will do.
"""
from __future__ import annotations

import logging
import secrets
import struct
import threading
from collections.abc import Callable, Iterable

from blake3 import blake3

from core.errors import RepositoryError
from core.process.fdlimit import out_of_descriptors, too_many_open_files

from core.repository import immutability
from core.repository.damage import DamageRegistry
from core.repository.layout import Layout, SealDamaged
from core.repository.packfile import ENTRY, BlobLoc, PackInfo, decode_entries, encode_entries, read_trailer

log = logging.getLogger(__name__)

INDEX_MAGIC = b"ABKIDX01"
PACK_HEADER = struct.Struct("<16sI")
_DIGEST = 32


def encode_index(packs: Iterable[PackInfo]) -> bytes:
    parts = [INDEX_MAGIC]
    for info in packs:
        parts.append(PACK_HEADER.pack(bytes.fromhex(info.pack_id), len(info.blobs)))
        parts.append(encode_entries(info.blobs))
    body = b"".join(parts)
    return body + blake3(body).digest()


def decode_index(data: bytes) -> list[tuple[str, BlobLoc]]:
    """All (blob id, location) pairs of an index file; ValueError if damaged."""
    if len(data) < len(INDEX_MAGIC) + _DIGEST or not data.startswith(INDEX_MAGIC):
        raise ValueError("not an index file")
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if blake3(body).digest() != digest:
        raise ValueError("checksum mismatch")
    out: list[tuple[str, BlobLoc]] = []
    pos = len(INDEX_MAGIC)
    while pos < len(body):
        raw_id, count = PACK_HEADER.unpack_from(body, pos)
        pos += PACK_HEADER.size
        end = pos + count * ENTRY.size
        if end > len(body):
            raise ValueError("truncated pack section")
        out.extend(decode_entries(body[pos:end], raw_id.hex()))
        pos = end
    return out


def write_index(layout: Layout, packs: list[PackInfo]) -> str:
    """Write a new index file atomically; return its id. OSError on failure."""
    index_id = secrets.token_hex(16)
    layout.save_sealed(layout.index_file(index_id), encode_index(packs))
    return index_id


def entries_by_pack(layout: Layout, index_ids: Iterable[str],
                    damaged: Callable[[RepositoryError], None]
                    ) -> dict[str, list[tuple[str, BlobLoc]]]:
    """What the index files list, pack by pack. An index file that vanished
    meanwhile is passed over; a damaged one is reported to ``damaged``."""
    listed: dict[str, list[tuple[str, BlobLoc]]] = {}
    for index_id in index_ids:
        try:
            entries = read_index(layout, index_id)
        except FileNotFoundError:
            continue
        except RepositoryError as exc:
            damaged(exc)
            continue
        for blob, loc in entries:
            listed.setdefault(loc.pack, []).append((blob, loc))
    return listed


def read_index(layout: Layout, index_id: str) -> list[tuple[str, BlobLoc]]:
    """FileNotFoundError if it is gone, RepositoryError if unreadable or corrupt."""
    name = layout.index_file(index_id)
    path = layout.describe(name)
    try:
        return immutability.load_checked(layout.backend, name,
                                         lambda data: decode_index(layout.open_sealed(data)))
    except FileNotFoundError:
        raise
    except OSError as exc:
        if out_of_descriptors(exc):
            raise RepositoryError(too_many_open_files(f"index file {path}")) from exc
        raise RepositoryError(
            f"Cannot read index file {path}: {exc.strerror or exc}. Check that the repository "
            "disk is attached and readable."
        ) from exc
    except (SealDamaged, ValueError, struct.error) as exc:
        raise RepositoryError(
            f"Index file {path} is corrupt ({exc}); its entries are rebuilt from the pack "
            "files. Run 'agent-jobs repair' to replace it."
        ) from exc


class Index:
    """The shared in-memory index. Lookups are plain dict reads (atomic under
    the GIL); loads and additions take a lock.

    Copies recorded as damaged (see damage) are left out. A damaged index file
    never stops a backup, restore or verify: the packs it may have listed are
    read from their own trailers instead, and a new index file is written for
    them when the repository is writable."""

    def __init__(self, layout: Layout, damage: DamageRegistry | None = None) -> None:
        self._layout = layout
        self._damage = damage
        self._lock = threading.Lock()
        self.blobs: dict[str, BlobLoc] = {}
        self.loaded: frozenset[str] = frozenset()
        self._indexed_packs: set[str] = set()
        self.problems: dict[str, str] = {}   # index id -> why it was not used

    def refresh(self, *, full: bool = False) -> None:
        """Pick up index files written by others; reload everything if some
        were removed (a prune rewrote the index and may have deleted packs)."""
        with self._lock:
            on_disk = set(self._layout.list_index_ids())
            if full or self.loaded - on_disk:
                blobs: dict[str, BlobLoc] = {}
                indexed: set[str] = set()
                new = sorted(on_disk)
                self.problems = {}
            else:
                blobs = self.blobs
                indexed = self._indexed_packs
                new = sorted(on_disk - self.loaded)
            damaged = self._damage.pairs if self._damage is not None else frozenset()
            broken = False
            for index_id in new:
                try:
                    entries = read_index(self._layout, index_id)
                except FileNotFoundError:
                    # Removed by a prune since we listed the folder (possible when
                    # refreshing without the lock): its packs went with it.
                    on_disk.discard(index_id)
                    continue
                except RepositoryError as exc:
                    log.warning("%s", exc)
                    self.problems[index_id] = str(exc)
                    broken = True
                    continue
                for blob, loc in entries:
                    indexed.add(loc.pack)
                    if (blob, loc.pack) not in damaged:
                        blobs.setdefault(blob, loc)
            if broken:
                self._rebuild_unindexed(blobs, indexed, on_disk, damaged)
            self.blobs = blobs
            self._indexed_packs = indexed
            self.loaded = frozenset(on_disk)

    def _rebuild_unindexed(self, blobs: dict[str, BlobLoc], indexed: set[str],
                           on_disk: set[str], damaged: frozenset[tuple[str, str]]) -> None:
        """Index, from their trailers, the packs no readable index file lists."""
        infos: list[PackInfo] = []
        for pack_id, size in self._layout.list_packs().items():
            if pack_id in indexed:
                continue
            try:
                entries = read_trailer(self._layout, pack_id, size)
            except (OSError, ValueError) as exc:
                log.warning("pack %s cannot be indexed (%s)",
                            self._layout.describe(self._layout.pack(pack_id)), exc)
                continue
            infos.append(PackInfo(pack_id, entries, size))
            indexed.add(pack_id)
            for blob, loc in entries:
                if (blob, pack_id) not in damaged:
                    blobs.setdefault(blob, loc)
        if not infos:
            return
        try:
            on_disk.add(write_index(self._layout, infos))
        except OSError as exc:   # read-only: the rebuilt entries stay in memory
            log.warning("could not write the rebuilt index: %s", exc)

    def publish(self, index_id: str, packs: list[PackInfo]) -> None:
        """Add the packs of an index file this process just wrote."""
        with self._lock:
            blobs = self.blobs
            for info in packs:
                self._indexed_packs.add(info.pack_id)
                for blob, loc in info.blobs:
                    blobs.setdefault(blob, loc)
            self.loaded = self.loaded | {index_id}

    def replace(self, blobs: dict[str, BlobLoc], loaded: Iterable[str]) -> None:
        with self._lock:
            damaged = self._damage.pairs if self._damage is not None else frozenset()
            self.blobs = {b: loc for b, loc in blobs.items() if (b, loc.pack) not in damaged}
            self._indexed_packs = {loc.pack for loc in blobs.values()}
            self.loaded = frozenset(loaded)
            self.problems = {}

    def unindexed_packs(self) -> list[str]:
        """Packs in the repository that no index file read lists: an index file
        was lost (a damaged one is rebuilt from the packs by ``refresh``). Lists
        the packs folder: call it only to explain a block the index lacks."""
        with self._lock:
            indexed = set(self._indexed_packs)
        return sorted(p for p in self._layout.list_packs() if p not in indexed)

    def packs(self) -> dict[str, int]:
        """Pack id -> number of indexed blobs in it."""
        with self._lock:
            locs = list(self.blobs.values())
        counts: dict[str, int] = {}
        for loc in locs:
            counts[loc.pack] = counts.get(loc.pack, 0) + 1
        return counts
