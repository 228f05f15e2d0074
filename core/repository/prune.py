"""Reclaiming space: drop data no restore point references.

Runs under the exclusive lock, so no writer is active: every pack that no
index file lists is an orphan of a crashed or aborted writer. Order of
operations keeps the repository valid after a crash at any step: new packs,
then the new index, then deleting old index files, then deleting packs.

On object storage that lock is a lease: it is renewed before each step that
deletes or replaces something and checked before every single deletion, so a
prune whose lease ran out stops before it removes anything more that a writer
which took the lock over may use.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from core.errors import RepositoryError

from core.repository.damage import DamageRegistry
from core.repository.errors import BlobError, write_error
from core.repository.index import Index, read_index, write_index
from core.repository.layout import INDEX, PACKS, Layout
from core.repository.packfile import BlobLoc, PackBuilder, PackInfo, PackReader, open_blob, read_trailer

log = logging.getLogger(__name__)

# A pack whose live bytes are below this share of its size is rewritten.
REPACK_BELOW_USED = 0.5
# Packs smaller than pack_size / SMALL_PACK_DIVISOR are merged once there are
# at least MERGE_SMALL_PACKS of them (every backup leaves one small last pack).
SMALL_PACK_DIVISOR = 4
MERGE_SMALL_PACKS = 4


@dataclass(eq=False)  # identity: packs are compared and hashed by object
class _Pack:
    id: str
    size: int
    indexed: bool
    blobs: list[tuple[str, BlobLoc]]
    live: list[tuple[str, BlobLoc]] = field(default_factory=list)

    @property
    def live_bytes(self) -> int:
        return sum(loc.length for _, loc in self.live)

    @property
    def data_bytes(self) -> int:
        """Blob bytes only: headers and trailer are not reclaimable."""
        return sum(loc.length for _, loc in self.blobs)


class Pruner:
    def __init__(self, layout: Layout, index: Index, pack_size: int,
                 damage: DamageRegistry | None = None,
                 check_lock: Callable[[], None] | None = None,
                 renew_lock: Callable[[], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> None:
        self._layout = layout
        # Checked before each pack is repacked: once true no further pack is
        # started, and what was repacked so far is committed (index, deletions).
        self._cancel = cancel or (lambda: False)
        self.stopped = False
        # Raise if the exclusive lock was lost (an object-storage lease), so
        # nothing is deleted that a writer started since may need; renew_lock
        # first refreshes the lease, before a step that may take long.
        self._check_lock = check_lock or (lambda: None)
        self._renew_lock = renew_lock or self._check_lock
        self._index = index
        self._pack_size = pack_size
        self._damage = damage
        self.report_problems: list[str] = []

    def run(self, used: set[str]) -> dict[str, int]:
        """Prune against the set of blobs still referenced; return counters."""
        counts = {"tmp": self._clear_tmp()}
        old_index_ids = self._layout.list_index_ids()
        packs = self._load_packs(old_index_ids)
        blobs_before = len({b for p in packs.values() for b, _ in p.blobs})
        bytes_before = self._disk_bytes()
        damaged = self._damage.pairs if self._damage is not None else frozenset()
        self._assign_live(packs, used, damaged)

        drop = [p for p in packs.values() if not p.live]
        keep = [p for p in packs.values() if p.live]
        # Unused packs no index lists (left by an aborted or killed writer) go
        # first: nothing refers to them, and on a full disk the space they free
        # is what lets the rest (new packs, a new index) be written.
        orphans = [p for p in drop if not p.indexed]
        self._renew_lock()
        self._delete_packs(orphans)
        drop = [p for p in drop if p.indexed]
        repack = [p for p in keep if p.live_bytes < REPACK_BELOW_USED * p.data_bytes]
        chosen = set(repack)
        small = [
            p for p in keep
            if p not in chosen and p.size < self._pack_size // SMALL_PACK_DIVISOR
        ]
        if len(small) >= MERGE_SMALL_PACKS:
            repack += small
            chosen.update(small)
        staying = {b for p in keep if p not in chosen for b, _ in p.blobs
                   if (b, p.id) not in damaged}
        for p in repack:  # a copy in a pack that stays is enough
            p.live = [(b, loc) for b, loc in p.live if b not in staying]
        new_packs, repacked = self._repack(repack)
        gone = set(repacked)
        keep = [p for p in keep if p not in gone]

        changed = bool(drop or repacked or len(old_index_ids) != 1
                       or any(not p.indexed for p in keep) or self.report_problems)
        blobs_after = blobs_before
        if changed:
            self._renew_lock()
            blobs_after = self._rewrite_index(keep, new_packs, old_index_ids)
            self._renew_lock()
            self._delete_packs(drop + repacked)
            if self._damage is not None:
                self._damage.keep_only_packs({p.id for p in keep})
        counts.update(
            deleted=len(drop) + len(orphans),
            repacked=len(repacked),
            written=len(new_packs),
            blobs_removed=blobs_before - blobs_after,
            bytes_freed=bytes_before - self._disk_bytes(),
        )
        return counts

    # -- inventory -----------------------------------------------------------

    def _clear_tmp(self) -> int:
        """Files a crashed writer left in a local repository's tmp/."""
        clear = getattr(self._layout.backend, "clear_tmp", None)
        if clear is None:
            return 0
        removed: int
        problems: list[str]
        removed, problems = clear()
        self.report_problems.extend(problems)
        return removed

    def _load_packs(self, index_ids: list[str]) -> dict[str, _Pack]:
        listed: dict[str, list[tuple[str, BlobLoc]]] = {}
        for index_id in index_ids:
            try:
                entries = read_index(self._layout, index_id)
            except RepositoryError as exc:
                # Packs are authoritative: the packs of a damaged index file are
                # read from their trailers below and re-indexed.
                self.report_problems.append(f"{exc} (rebuilt from the pack files)")
                continue
            for blob, loc in entries:
                listed.setdefault(loc.pack, []).append((blob, loc))
        packs: dict[str, _Pack] = {}
        for pack_id, size in self._layout.list_packs().items():
            if pack_id in listed:
                packs[pack_id] = _Pack(pack_id, size, True, listed.pop(pack_id))
                continue
            try:
                blobs = read_trailer(self._layout, pack_id, size)
            except (OSError, ValueError) as exc:
                path = self._layout.describe(self._layout.pack(pack_id))
                self.report_problems.append(
                    f"pack {path} is unreadable ({exc}); it was left in place"
                )
                continue
            packs[pack_id] = _Pack(pack_id, size, False, blobs)
        for pack_id in listed:
            self.report_problems.append(
                f"pack {pack_id} is listed in the index but missing; run verify"
            )
        return packs

    @staticmethod
    def _assign_live(packs: dict[str, _Pack], used: set[str],
                     damaged: frozenset[tuple[str, str]] = frozenset()) -> None:
        """Give every used blob to one pack, preferring packs with more live data
        and never a damaged copy when an intact one exists (a damaged copy with
        no intact one is kept: prune deletes nothing it cannot replace)."""
        share = {
            p.id: sum(loc.length for b, loc in p.blobs if b in used) / max(p.data_bytes, 1)
            for p in packs.values()
        }
        taken: set[str] = set()
        ordered = sorted(packs.values(), key=lambda p: share[p.id], reverse=True)
        for p in ordered:
            for blob, loc in p.blobs:
                if blob in used and blob not in taken and (blob, p.id) not in damaged:
                    taken.add(blob)
                    p.live.append((blob, loc))
        for p in ordered:
            for blob, loc in p.blobs:
                if blob in used and blob not in taken:
                    taken.add(blob)
                    p.live.append((blob, loc))

    def _disk_bytes(self) -> int:
        return self._layout.sizes(PACKS) + self._layout.sizes(INDEX)

    # -- rewriting -----------------------------------------------------------

    def _repack(self, packs: list[_Pack]) -> tuple[list[PackInfo], list[_Pack]]:
        """Copy live blobs (verified, still compressed) into new packs."""
        reader = PackReader(self._layout)
        new_packs: list[PackInfo] = []
        done: list[_Pack] = []
        builder: PackBuilder | None = None
        try:
            for p in packs:
                if self._cancel():
                    self.stopped = True
                    break
                try:
                    blobs = [
                        (blob, loc, reader.read_stored(blob, loc))
                        for blob, loc in sorted(p.live, key=lambda b: b[1].offset)
                    ]
                    for blob, loc, stored in blobs:
                        open_blob(self._layout, blob, loc, stored)
                except BlobError as exc:
                    self.report_problems.append(f"pack {p.id} was not repacked: {exc}")
                    continue
                for blob, loc, stored in blobs:
                    if builder is None:
                        builder = PackBuilder(self._layout)
                    builder.add(blob, stored, loc.raw_length, loc.flags)
                    if builder.size >= self._pack_size:
                        new_packs.append(builder.finish())
                        builder = None
                done.append(p)
            if builder is not None:
                new_packs.append(builder.finish())
                builder = None
        except OSError as exc:
            raise write_error(self._layout.root, exc, "repacked data") from exc
        finally:
            if builder is not None:
                builder.discard()
            reader.close()
        return new_packs, done

    def _rewrite_index(
        self, keep: list[_Pack], new_packs: list[PackInfo], old_index_ids: Iterable[str]
    ) -> int:
        """Write one index for every pack kept; return the number of blobs in it."""
        infos = [PackInfo(p.id, p.blobs, p.size) for p in keep] + new_packs
        blobs: dict[str, BlobLoc] = {}
        for info in infos:
            for blob, loc in info.blobs:
                blobs.setdefault(blob, loc)
        try:
            loaded = [write_index(self._layout, infos)] if infos else []
            for index_id in old_index_ids:
                self._check_lock()
                self._layout.backend.remove(self._layout.index_file(index_id))
        except OSError as exc:
            raise write_error(self._layout.root, exc, "the new index") from exc
        self._index.replace(blobs, loaded)
        return len(blobs)

    def _delete_packs(self, packs: list[_Pack]) -> None:
        for p in packs:
            self._check_lock()
            name = self._layout.pack(p.id)
            try:
                self._layout.backend.remove(name)
            except OSError as exc:
                self.report_problems.append(
                    f"could not delete pack {self._layout.describe(name)}: {exc}")

