"""BackupWriter: turns one computer's files into a new restore point."""
from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from time import perf_counter

from blake3 import blake3

from core.errors import RepositoryError

from core.repository.backend import BackendLock
from core.repository.backend.lease import renew_lease
from core.repository.chunker import Chunker
from core.repository.config import RepoConfig
from core.repository.entrystream import entry_chunks, pack_rows
from core.repository.errors import MissingParentData, write_error
from core.repository.index import Index, write_index
from core.repository.layout import Layout
from core.repository.manifest import write_manifest
from core.repository.model import DIR, FILE, HARDLINK, SYMLINK, Entry, Manifest, PointMeta
from core.repository.packsink import PackSink
from core.repository.paths import check_rel_path

# New blocks are handed to the pool in batches of about this many bytes, so
# small files cost one hand-off per batch rather than one per block.
_BATCH_BYTES = 512 << 10
_BATCH_BLOCKS = 256
# Write an index file every this many packs, so a crashed or cancelled long
# backup leaves data the next run can deduplicate against.
_CHECKPOINT_PACKS = 32


@dataclass(frozen=True)
class WriterContext:
    layout: Layout
    config: RepoConfig
    index: Index
    pool: ThreadPoolExecutor
    workers: int


class BackupWriter:
    """Used by one task thread. Blocks are hashed on that thread (blake3 is
    far faster than reading) and new ones are compressed and written by the
    shared pool; in-flight data is bounded.

    ``bytes_new``/``blobs_new`` count stored (compressed) bytes and blobs this
    writer added; they trail ``add_file`` by the few blocks still in flight."""

    def __init__(self, ctx: WriterContext, meta: PointMeta, lock: BackendLock, *,
                 on_commit: Callable[[Manifest, str], None] | None = None) -> None:
        self._ctx = ctx
        # told the committed manifest and its stored digest (the next parent)
        self._on_commit = on_commit
        self._layout = ctx.layout
        self._lock = lock
        self.meta = meta
        self.block_size = ctx.config.block_size
        self.chunker = Chunker(self.block_size)   # how new data is cut (FastCDC)
        self._sink = PackSink(ctx.layout, ctx.config.pack_size)
        # Entry blobs go to packs of their own: a lost data pack fails only the
        # files whose blocks it held, never the point's list of files.
        self._rows = PackSink(ctx.layout, ctx.config.pack_size)
        self._entries: list[Entry] = []
        self._retracted = 0   # with len(_entries), tells whether the entry list changed
        # (entry count, retracted) when the entry blobs were stored, and their ids
        self._entry_blobs: tuple[tuple[int, int], tuple[str, ...]] | None = None
        self._mine: set[str] = set()  # blobs this writer stored or queued
        self._batch: list[tuple[str, bytes]] = []
        self._batch_bytes = 0
        # blobs copied from another repository, already encoded: (id, stored, flags, raw)
        self._copied: list[tuple[str, bytes, int, int]] = []
        self._inflight: deque[tuple[Future[None], int]] = deque()
        self._inflight_bytes = 0
        self._max_inflight = 2 * ctx.workers + 2
        self._max_inflight_bytes = max(self._max_inflight * self.block_size, 16 << 20)
        self._in_progress: tuple[str, list[str], list[int]] | None = None
        self._state = "open"  # open | committed | aborted | failed
        self._failure: RepositoryError | None = None
        self.wait_s = 0.0  # timing hook: the caller's thread waiting on the pool

    @property
    def bytes_new(self) -> int:
        return self._sink.bytes_new + self._rows.bytes_new

    @property
    def blobs_new(self) -> int:
        return self._sink.blobs_new + self._rows.blobs_new

    # -- timing hook (the engine's bottleneck figures) ----------------------
    @property
    def raw_bytes_new(self) -> int:
        """New blocks' bytes before compression."""
        return self._sink.raw_bytes_new

    @property
    def encode_s(self) -> float:
        """Pool thread-seconds spent compressing new blocks."""
        return self._sink.encode_s

    @property
    def write_s(self) -> float:
        """Pool thread-seconds spent writing and sealing packs."""
        return self._sink.write_s

    # -- entries -------------------------------------------------------------

    def add_dir(self, rel: str, st: os.stat_result) -> None:
        self._check_open()
        self._entries.append(
            Entry(check_rel_path(rel), DIR, stat.S_IMODE(st.st_mode), st.st_mtime_ns, 0,
                  st.st_ctime_ns, st.st_ino)
        )

    def add_symlink(self, rel: str, target: str, st: os.stat_result) -> None:
        self._check_open()
        self._entries.append(
            Entry(check_rel_path(rel), SYMLINK, stat.S_IMODE(st.st_mode), st.st_mtime_ns,
                  st.st_size, st.st_ctime_ns, st.st_ino, (), target)
        )

    def add_hardlink(self, rel: str, target: str, st: os.stat_result) -> None:
        """Record ``rel`` as another name of the file entry ``target`` (added before)."""
        self._check_open()
        self._entries.append(
            Entry(check_rel_path(rel), HARDLINK, stat.S_IMODE(st.st_mode), st.st_mtime_ns,
                  st.st_size, st.st_ctime_ns, st.st_ino, (), check_rel_path(target))
        )

    def retract(self, entry: Entry) -> None:
        """Take back the entry ``add_file`` just returned (the file changed while
        it was read and is read again). Its blocks stay stored: they are
        content-addressed and harmless."""
        self._check_open()
        if not self._entries or self._entries[-1] is not entry:
            raise ValueError(f"{entry.path!r} is not the last entry added")
        self._entries.pop()
        self._retracted += 1

    def add_unchanged(self, entry: Entry) -> None:
        """Reuse an entry of the parent point without reading the file.

        MissingParentData if its blocks are gone from the repository (the
        parent was pruned meanwhile): back the file up with ``add_file``."""
        self._check_open()
        check_rel_path(entry.path)
        blobs = self._ctx.index.blobs
        mine = self._mine
        for blob in entry.blocks:
            if blob not in blobs and blob not in mine:
                raise MissingParentData(
                    f"Data of unchanged file {entry.path!r} is no longer in the repository: "
                    "back the file up again (run an active full backup if this repeats)."
                )
        self._entries.append(entry)

    def add_file(self, rel: str, st: os.stat_result,
                 blocks: Iterable[bytes | memoryview]) -> Entry:
        """Store a file's blocks and record it. ``blocks`` yields the file's
        content in order, in blocks of any size (the engine cuts them with
        ``self.chunker``; fixed ``block_size`` blocks work too), as bytes or
        as views valid until the next block is asked for; anything it raises
        propagates unchanged."""
        self._check_open()
        check_rel_path(rel)
        ids: list[str] = []
        sizes: list[int] = []
        self._in_progress = (rel, ids, sizes)   # see file_in_progress
        size = 0
        blobs = self._ctx.index.blobs
        mine = self._mine
        for block in blocks:
            h = blake3(block).hexdigest()
            ids.append(h)
            n = len(block)
            sizes.append(n)
            size += n
            if h in blobs or h in mine:
                continue
            if type(block) is not bytes:   # a view of the caller's buffer: keep a copy
                block = bytes(block)
            mine.add(h)
            # self._batch, not a local: ``blocks`` may flush the writer (a pause
            # makes what was sent durable in the middle of a file)
            batch = self._batch
            batch.append((h, block))
            self._batch_bytes += n
            if self._batch_bytes >= _BATCH_BYTES or len(batch) >= _BATCH_BLOCKS:
                self._submit_batch()
        self._in_progress = None
        entry = Entry(rel, FILE, stat.S_IMODE(st.st_mode), st.st_mtime_ns, size,
                      st.st_ctime_ns, st.st_ino, tuple(ids))
        self._entries.append(entry)
        return entry

    def file_in_progress(self) -> tuple[str, list[tuple[str, int]]] | None:
        """While ``add_file``'s ``blocks`` runs (a pause holds it between blocks): the
        file's path and the (id, size) of its blocks taken so far; None between files."""
        current = self._in_progress
        if current is None:
            return None
        rel, ids, sizes = current
        return rel, list(zip(ids, sizes))

    # -- source-side deduplication (a remote agent cuts and hashes) ----------

    def files_so_far(self) -> list[Entry]:
        """The file entries added so far, in order (what a paused task records as
        completed: their blocks are durable once ``flush`` returned)."""
        return [e for e in self._entries if e.kind == FILE]

    def missing(self, ids: list[str]) -> list[str]:
        """The ids that are neither in the repository nor already queued by
        this writer: the blocks a remote agent must send."""
        blobs, mine = self._ctx.index.blobs, self._mine
        return [h for h in ids if h not in blobs and h not in mine]

    def add_file_known(self, rel: str, st: os.stat_result,
                       blocks: Iterable[tuple[str, int, bytes | None]]) -> Entry:
        """Record a file an agent cut and hashed at the source. ``blocks``
        yields (id, size, data) in file order; data is None for a block the
        repository has (or this writer queued). Sent data is verified, never
        trusted: a block whose blake3 or size differs from its id fails the
        file with RepositoryError. Anything ``blocks`` raises propagates."""
        self._check_open()
        check_rel_path(rel)
        ids: list[str] = []
        size = 0
        blobs = self._ctx.index.blobs
        mine = self._mine
        for h, n, data in blocks:
            if data is not None:
                if type(data) is not bytes:
                    data = bytes(data)
                if len(data) != n or blake3(data).hexdigest() != h:
                    raise RepositoryError(
                        f"The agent sent a block of file {rel!r} whose content does not match "
                        "its hash: the data was corrupted on the way. Run the job again.")
                if h not in blobs and h not in mine:
                    mine.add(h)
                    self._batch.append((h, data))
                    self._batch_bytes += n
                    if self._batch_bytes >= _BATCH_BYTES or len(self._batch) >= _BATCH_BLOCKS:
                        self._submit_batch()
            elif h not in blobs and h not in mine:
                raise MissingParentData(
                    f"Block {h} of file {rel!r} is neither in the repository nor sent by the "
                    "agent: run the job again.")
            ids.append(h)
            size += n
        entry = Entry(rel, FILE, stat.S_IMODE(st.st_mode), st.st_mtime_ns, size,
                      st.st_ctime_ns, st.st_ino, tuple(ids))
        self._entries.append(entry)
        return entry

    # -- copying a point from another repository (a backup copy job) --------

    def add_copied(self, entry: Entry,
                   fetch: Callable[[str], tuple[bytes, int, int]]) -> int:
        """Record an entry of another repository's point as it is. For each of
        its blocks this repository lacks (and this writer has not queued),
        ``fetch(id)`` returns (stored bytes, flags, raw length) as the other
        repository keeps it, opened and verified; it is stored as it is
        (compressed the same) and sealed with this repository's key. Returns
        the number of blocks fetched. Anything ``fetch`` raises propagates."""
        self._check_open()
        check_rel_path(entry.path)
        if entry.kind != HARDLINK and entry.target is not None and entry.kind != SYMLINK:
            raise RepositoryError(f"Entry {entry.path!r} of the point to copy is malformed.")
        if entry.kind == HARDLINK and entry.target is not None:
            check_rel_path(entry.target)
        fetched = 0
        if entry.kind == FILE:
            blobs, mine = self._ctx.index.blobs, self._mine
            for h in entry.blocks:
                if h in blobs or h in mine:
                    continue
                data, flags, raw_length = fetch(h)
                mine.add(h)
                fetched += 1
                self._copied.append((h, data, flags, raw_length))
                self._batch_bytes += raw_length
                if self._batch_bytes >= _BATCH_BYTES or len(self._copied) >= _BATCH_BLOCKS:
                    self._submit_batch()
        self._entries.append(entry)
        return fetched

    # -- blob pipeline -------------------------------------------------------

    def _submit_batch(self) -> None:
        batch, copied, size = self._batch, self._copied, self._batch_bytes
        self._batch, self._copied, self._batch_bytes = [], [], 0
        if copied:   # a writer copies or backs up, never both: ``size`` is counted once
            self._inflight.append((self._ctx.pool.submit(self._sink.store_encoded, copied),
                                   0 if batch else size))
        if batch:
            self._inflight.append((self._ctx.pool.submit(self._sink.store, batch), size))
        self._inflight_bytes += size
        self._drain(wait_all=False)
        if self._sink.durable_count >= _CHECKPOINT_PACKS:
            self._index_durable_packs()

    def _drain(self, *, wait_all: bool) -> None:
        """Collect finished batches in order; block only while over budget."""
        q = self._inflight
        while q and (
            wait_all
            or len(q) > self._max_inflight
            or self._inflight_bytes > self._max_inflight_bytes
            or q[0][0].done()
        ):
            fut, size = q.popleft()
            self._inflight_bytes -= size
            t0 = perf_counter()
            try:
                fut.result()
            except RepositoryError as exc:
                raise self._fail(exc) from None
            finally:
                self.wait_s += perf_counter() - t0

    def _index_durable_packs(self) -> None:
        packs = self._sink.take_durable() + self._rows.take_durable()
        if not packs:
            return
        try:
            index_id = write_index(self._layout, packs)
        except OSError as exc:
            raise self._fail(write_error(self._layout.root, exc, "an index file")) from exc
        self._ctx.index.publish(index_id, packs)

    # -- end of the point ----------------------------------------------------

    def _store_entry_blobs(self) -> tuple[str, ...]:
        """Queue the entry rows as entry blobs (see entrystream): only those
        the repository lacks are stored. Their ids, for the manifest."""
        key = (len(self._entries), self._retracted)
        if self._entry_blobs is not None and self._entry_blobs[0] == key:
            return self._entry_blobs[1]
        blobs, mine = self._ctx.index.blobs, self._mine
        ids: list[str] = []
        new: list[tuple[str, bytes, int, int]] = []
        for chunk in entry_chunks(self._entries):
            content = pack_rows(chunk)   # compressed here, stored as it is (flags 0)
            h = blake3(content).hexdigest()
            ids.append(h)
            if h in blobs or h in mine:
                continue
            mine.add(h)
            new.append((h, content, 0, len(content)))
            if len(new) >= _BATCH_BLOCKS:
                self._store_rows(new)
                new = []
        if new:
            self._store_rows(new)
        found = tuple(ids)
        self._entry_blobs = (key, found)
        return found

    def _store_rows(self, blobs: list[tuple[str, bytes, int, int]]) -> None:
        try:
            self._rows.store_encoded(blobs)
        except RepositoryError as exc:
            raise self._fail(exc) from None

    def flush(self) -> None:
        """Make all data added so far durable (packs, then index) without
        committing the point: the entry rows too, as entry blobs. ``commit``
        after ``flush`` only writes the manifest, so a caller can keep its own
        critical section short."""
        self._check_open()
        self._store_entry_blobs()
        if self._batch or self._copied:
            self._submit_batch()
        self._drain(wait_all=True)
        try:
            self._sink.seal_current()
            self._rows.seal_current()
        except RepositoryError as exc:
            raise self._fail(exc) from None
        self._index_durable_packs()

    def commit(self) -> PointMeta:
        """Make the point durable: packs, then index, then the manifest last.

        On failure the writer cleans up as ``abort`` would and re-raises."""
        self._check_open()
        try:
            self.flush()
            files = [e for e in self._entries if e.kind == FILE]
            meta = replace(self.meta, files=len(files), size=sum(e.size for e in files))
            try:
                if self._layout.backend.exists(self._layout.point(meta.id)):
                    raise RepositoryError(
                        f"Restore point {meta.id} already exists in repository "
                        f"{self._layout.root}: run the job again to create a new point."
                    )
                # a full lease for the manifest's write (an object store's PUT
                # may take minutes: S3Backend.save takes no timeout to bound it)
                renew_lease(self._lock)
                if not self._lock.held:
                    raise RepositoryError(
                        f"The lock on repository {self._layout.root} was lost while point "
                        f"{meta.id} was written (the storage was unreachable for too long, "
                        "or another program removed the lock): the point was not committed, "
                        "because a prune may have removed its data meanwhile. Run the job "
                        "again."
                    )
                # flush stored them: the manifest comes after its entry blobs
                entry_blobs = self._store_entry_blobs()
                manifest = Manifest(meta, self._entries, entry_blobs)
                digest = write_manifest(self._layout, manifest)
                if not self._lock.held:
                    raise self._unkeep(meta.id)
            except OSError as exc:
                raise write_error(self._layout.root, exc, "the restore point manifest") from exc
        except BaseException as exc:
            if self._state == "open":
                self._state = "failed"
                if isinstance(exc, RepositoryError):
                    self._failure = exc
            self._cleanup()
            raise
        self._state = "committed"
        self._lock.release()
        self.meta = meta
        if self._on_commit is not None:
            self._on_commit(manifest, digest)
        return meta

    def _unkeep(self, point_id: str) -> RepositoryError:
        """The lock ran out while the manifest was written: a prune may have
        taken the lock over and removed the point's data, so the manifest is
        removed again."""
        name = self._layout.point(point_id)
        why = (f"Lost the repository lock while committing; the restore point was not kept "
               f"(point {point_id} in repository {self._layout.root}: saving its manifest "
               "outlasted the lock's lease, so a prune may have removed its data meanwhile).")
        try:
            self._layout.backend.remove(name)
        except OSError as exc:
            return RepositoryError(
                f"{why} Its manifest {self._layout.describe(name)} could not be removed "
                f"({exc.strerror or exc}): run verify, then forget that point if its data is "
                "missing.")
        return RepositoryError(f"{why} Run the job again.")

    def abort(self) -> None:
        """Give up the point: no manifest is written. Packs already sealed stay
        for prune to reclaim. Idempotent."""
        if self._state in ("committed", "aborted"):
            return
        if self._state == "open":
            self._state = "aborted"
        self._cleanup()

    def __del__(self) -> None:
        # Dropped without commit or abort (a bug in the caller): behave like abort
        # rather than holding the lock until the descriptor is collected.
        if getattr(self, "_state", None) == "open":
            try:
                self.abort()
            except Exception:  # pragma: no cover - best effort during collection
                pass

    def _cleanup(self) -> None:
        pending = [fut for fut, _ in self._inflight]
        for fut in pending:
            fut.cancel()
        wait(pending)
        self._inflight.clear()
        self._inflight_bytes = 0
        self._batch, self._copied, self._batch_bytes = [], [], 0
        self._sink.discard()
        self._rows.discard()
        self._lock.release()

    def _fail(self, error: RepositoryError) -> RepositoryError:
        self._state = "failed"
        self._failure = error
        return error

    def _check_open(self) -> None:
        if self._state == "open":
            return
        if self._failure is not None:
            raise self._failure
        raise RuntimeError(f"backup writer for point {self.meta.id} is already {self._state}")
