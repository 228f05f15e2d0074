"""BackupWriter: turns one computer's files into a new restore point."""
from __future__ import annotations

import logging
import os
import stat
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

from blake3 import blake3

from core.errors import RepositoryError

from .codec import encode
from .config import RepoConfig
from .errors import MissingParentData, write_error
from .fsio import atomic_write
from .index import Index, write_index
from .layout import Layout
from .locking import RepoLock
from .manifest import encode_manifest
from .model import DIR, FILE, SYMLINK, Entry, Manifest, PointMeta
from .packfile import PackBuilder, PackInfo
from .paths import check_rel_path

log = logging.getLogger(__name__)

# Below this a block is compressed on the caller's thread: a pool hand-off
# costs about as much as compressing it.
_INLINE_BLOCK = 16 << 10
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


def _finish_pack(pack: PackBuilder) -> PackInfo:
    try:
        return pack.finish()
    except BaseException:
        pack.discard()
        raise


class BackupWriter:
    """Used by one task thread. Blocks are hashed on that thread (blake3 is
    far faster than reading) and new ones are compressed on the shared pool.

    ``bytes_new``/``blobs_new`` count stored (compressed) bytes and blobs this
    writer added; they trail ``add_file`` by the few blocks still in flight."""

    def __init__(self, ctx: WriterContext, meta: PointMeta, lock: RepoLock) -> None:
        self._ctx = ctx
        self._layout = ctx.layout
        self._lock = lock
        self.meta = meta
        self.block_size = ctx.config.block_size
        self.bytes_new = 0
        self.blobs_new = 0
        self._pack_size = ctx.config.pack_size
        self._entries: list[Entry] = []
        self._mine: set[str] = set()  # blobs this writer stored or queued
        self._inflight: deque[tuple[str, int, Future[tuple[bytes, int]]]] = deque()
        self._inflight_bytes = 0
        self._max_inflight = 2 * ctx.workers + 2
        self._max_inflight_bytes = max(self._max_inflight * self.block_size, 16 << 20)
        self._pack: PackBuilder | None = None
        self._finishing: list[Future[PackInfo]] = []
        self._unindexed: list[PackInfo] = []
        self._packs_since_checkpoint = 0
        self._state = "open"  # open | committed | aborted | failed
        self._failure: RepositoryError | None = None

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

    def add_file(self, rel: str, st: os.stat_result, blocks: Iterable[bytes]) -> Entry:
        """Store a file's blocks and record it. ``blocks`` must yield immutable
        blocks of ``block_size`` (the last may be shorter); anything it raises
        propagates unchanged."""
        self._check_open()
        check_rel_path(rel)
        ids: list[str] = []
        size = 0
        blobs = self._ctx.index.blobs
        mine = self._mine
        for block in blocks:
            if type(block) is not bytes:
                block = bytes(block)
            h = blake3(block).hexdigest()
            ids.append(h)
            size += len(block)
            if h in blobs or h in mine:
                continue
            mine.add(h)
            self._store(h, block)
        entry = Entry(rel, FILE, stat.S_IMODE(st.st_mode), st.st_mtime_ns, size,
                      st.st_ctime_ns, st.st_ino, tuple(ids))
        self._entries.append(entry)
        return entry

    # -- blob pipeline -------------------------------------------------------

    def _store(self, h: str, block: bytes) -> None:
        if len(block) <= _INLINE_BLOCK:
            data, flags = encode(block)
            self._append(h, data, len(block), flags)
            return
        self._inflight.append((h, len(block), self._ctx.pool.submit(encode, block)))
        self._inflight_bytes += len(block)
        self._drain(wait_all=False)

    def _drain(self, *, wait_all: bool) -> None:
        """Append finished blocks in submission order; block only while over budget."""
        q = self._inflight
        while q and (
            wait_all
            or len(q) > self._max_inflight
            or self._inflight_bytes > self._max_inflight_bytes
            or q[0][2].done()
        ):
            h, raw_length, fut = q.popleft()
            self._inflight_bytes -= raw_length
            data, flags = fut.result()
            self._append(h, data, raw_length, flags)

    def _append(self, h: str, data: bytes, raw_length: int, flags: int) -> None:
        try:
            pack = self._pack
            if pack is None:
                pack = self._pack = PackBuilder(self._layout)
            pack.add(h, data, raw_length, flags)
        except OSError as exc:
            raise self._fail(write_error(self._layout.root, exc, "a pack file")) from exc
        self.bytes_new += len(data)
        self.blobs_new += 1
        if pack.size >= self._pack_size:
            self._seal_pack()

    def _seal_pack(self) -> None:
        pack, self._pack = self._pack, None
        if pack is None:
            return
        self._finishing.append(self._ctx.pool.submit(_finish_pack, pack))
        self._packs_since_checkpoint += 1
        if self._packs_since_checkpoint >= _CHECKPOINT_PACKS:
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Wait for sealed packs to be durable, then index them."""
        self._packs_since_checkpoint = 0
        try:
            for fut in self._finishing:
                self._unindexed.append(fut.result())
            self._finishing.clear()
            if self._unindexed:
                index_id = write_index(self._layout, self._unindexed)
                self._ctx.index.publish(index_id, self._unindexed)
                self._unindexed = []
        except OSError as exc:
            raise self._fail(write_error(self._layout.root, exc, "pack and index files")) from exc

    # -- end of the point ----------------------------------------------------

    def commit(self) -> PointMeta:
        """Make the point durable: packs, then index, then the manifest last.

        On failure the writer cleans up as ``abort`` would and re-raises."""
        self._check_open()
        try:
            self._drain(wait_all=True)
            self._seal_pack()
            self._checkpoint()
            files = [e for e in self._entries if e.kind == FILE]
            meta = replace(self.meta, files=len(files), size=sum(e.size for e in files))
            path = self._layout.point(meta.id)
            if path.exists():
                raise RepositoryError(
                    f"Restore point {meta.id} already exists in repository "
                    f"{self._layout.root}: run the job again to create a new point."
                )
            try:
                data = encode_manifest(Manifest(meta, self._entries))
                atomic_write(path, data, self._layout.tmp)
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
        return meta

    def abort(self) -> None:
        """Give up the point: no manifest is written. Packs already sealed stay
        for prune to reclaim. Idempotent."""
        if self._state in ("committed", "aborted"):
            return
        if self._state == "open":
            self._state = "aborted"
        self._cleanup()

    def _cleanup(self) -> None:
        pending: list[Future[object]] = []
        for _, _, fut in self._inflight:
            fut.cancel()
            pending.append(fut)
        self._inflight.clear()
        pending.extend(self._finishing)
        self._finishing.clear()
        wait(pending)
        if self._pack is not None:
            self._pack.discard()
            self._pack = None
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
