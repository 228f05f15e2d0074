"""Rebuilding a restore point's tree into a target directory.

Directories are created first, then file contents are written by the pool
(small files in batches, large files in segments written with pwrite), then
hard links, then symlinks, then directory modes and times. Every path is
reached through directory descriptors opened with O_NOFOLLOW (see safedirs),
and symlinks are created last, so nothing is ever written through a symlink or
outside the target.

A file is created under its own name only once every block of it was read
back intact (decompressed and re-hashed): a small file after all its blocks
are read, a large one (written in parallel segments) under a temporary name in
its folder, renamed when the last segment is done. A file that cannot be
restored exactly is never left under its own name; the other files are still
restored, and the error names every file that was not. Large blocks of zeros
are not written, so they stay holes (a sparse file comes back sparse).
"""
from __future__ import annotations

import errno
import itertools
import os
import secrets
import stat
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from blake3 import blake3

from core.errors import RestoreError

from core.repository.damage import DamageRegistry
from core.repository.errors import BlobError, PartialRestore, restore_write_error
from core.repository.index import Index
from core.repository.model import DIR, FILE, HARDLINK, KINDS, SYMLINK, Entry, Manifest, RestoreStats
from core.repository.packfile import BlobLoc, PackReader
from core.repository.paths import parent_of, rel_path_problem
from core.repository.safedirs import DirHandles, NotADir

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_JOB_BYTES = 8 << 20  # a batch of small files, or one segment of a large file
_JOB_FILES = 128
_INFLIGHT_BYTES = 64 << 20
_TMP_PREFIX = ".abk-restore-"
# The blocks of a batch of small files are read from a pack in runs: blocks
# at most _READ_GAP apart are read together, in runs of at most _READ_SPAN.
_READ_GAP = 64 << 10
_READ_SPAN = 16 << 20
# Bounds of values that reach system calls (a forged manifest must not crash them).
_MAX_MODE = 0o7777
_MAX_NS = 2**63 - 1
_MAX_SIZE = 2**62
_MAX_NAME = 255
_MAX_TARGET = 4095
_BLOB_ID_LEN = 64


@dataclass(frozen=True)
class RestoreContext:
    index: Index
    damage: DamageRegistry
    reader: PackReader
    pool: ThreadPoolExecutor
    workers: int


class _FileFailed(Exception):
    """This file cannot be restored exactly (its data is damaged or missing)."""


def _forged(point: str, path: object, problem: str) -> RestoreError:
    return RestoreError(
        f"Restore point {point} is damaged or forged: entry {path!r} has {problem}. Nothing "
        "was restored; restore another point."
    )


def _entry_problem(e: Entry) -> str | None:
    problem = rel_path_problem(e.path)
    if problem is not None:
        return f"an invalid path ({problem})"
    if len(e.path) > _MAX_NAME // 4 and any(
            len(os.fsencode(part)) > _MAX_NAME for part in e.path.split("/")):
        return f"a name longer than {_MAX_NAME} bytes"
    if e.kind not in KINDS:
        return f"an unknown kind {e.kind!r}"
    if not all(type(v) is int for v in (e.mode, e.mtime_ns, e.size)):
        return "a malformed mode, time or size"
    if not 0 <= e.mode <= _MAX_MODE:
        return f"an impossible mode {e.mode:#o}" if e.mode >= 0 else "a negative mode"
    if not -_MAX_NS <= e.mtime_ns <= _MAX_NS:
        return "an impossible modification time"
    if not 0 <= e.size <= _MAX_SIZE:
        return "an impossible size"
    if e.kind in (SYMLINK, HARDLINK):
        if not isinstance(e.target, str) or not e.target or "\x00" in e.target \
                or len(e.target) > _MAX_TARGET:
            return "no valid link target"
    if not isinstance(e.blocks, tuple) or not all(
            isinstance(b, str) and len(b) == _BLOB_ID_LEN for b in e.blocks):
        return "malformed block ids"
    if e.kind != FILE and e.blocks:
        return "data blocks although it is not a file"
    return None


def _plain(e: Entry) -> bool:
    """The common case, checked in one expression: a well-formed entry."""
    return (type(e.mode) is int and type(e.mtime_ns) is int and type(e.size) is int
            and 0 <= e.mode <= _MAX_MODE and -_MAX_NS <= e.mtime_ns <= _MAX_NS
            and 0 <= e.size <= _MAX_SIZE and type(e.blocks) is tuple
            and len(e.path) <= _MAX_NAME // 4
            and ((e.kind == FILE and all(type(b) is str and len(b) == _BLOB_ID_LEN
                                         for b in e.blocks))
                 or (e.kind == DIR and not e.blocks))
            and rel_path_problem(e.path) is None)


def check_restorable(manifest: Manifest, index: Index) -> None:
    """Refuse, before writing anything, a manifest that could escape the
    target, contradicts itself, or holds values no file can have. Missing or
    damaged data is not refused here: those files fail one by one."""
    point = manifest.meta.id
    kinds: dict[str, str] = {}
    for e in manifest.entries:
        if not _plain(e):
            problem = _entry_problem(e)
            if problem is not None:
                raise _forged(point, e.path, problem)
        if e.path in kinds:
            raise _forged(point, e.path, "a duplicate")
        kinds[e.path] = e.kind
    blobs = index.blobs
    for e in manifest.entries:
        # The nearest ancestor listed must be a folder; its own ancestors are
        # checked with it.
        parent = parent_of(e.path)
        while parent:
            kind = kinds.get(parent)
            if kind is not None:
                if kind != DIR:
                    raise _forged(point, e.path, f"a parent {parent!r} that is a {kind}")
                break
            parent = parent_of(parent)
        if e.kind == HARDLINK:
            if e.target is None or kinds.get(e.target) != FILE \
                    or rel_path_problem(e.target) is not None:
                raise _forged(point, e.path, f"a hard link to {e.target!r}, not a file of the "
                                             "point")
        if e.kind != FILE or not e.blocks:
            if e.kind == FILE and e.size:
                raise _forged(point, e.path, f"a size of {e.size} bytes but no data")
            continue
        stored = 0
        for b in e.blocks:
            loc = blobs.get(b)
            if loc is None:
                break
            stored += loc.raw_length
        else:
            if stored != e.size:
                raise _forged(point, e.path,
                              f"a size of {e.size} bytes but {stored} bytes of data")


# Blocks of zeros at least this long are left as holes; shorter ones are
# written (a hole that small saves nothing).
_HOLE_MIN = 64 << 10


@lru_cache(maxsize=16)
def _zero_id(n: int) -> str:
    return blake3(bytes(n)).hexdigest()


def _is_zero_block(blob: str, loc: BlobLoc) -> bool:
    """A block of zeros (restored as a hole). Only a block that compressed to
    almost nothing can be one: others are not hashed against zeros of their
    length (content-defined blocks all differ in length, so that hash would
    be computed again for each)."""
    raw = loc.raw_length
    return raw >= _HOLE_MIN and loc.length * 64 <= raw and blob == _zero_id(raw)


def _remove_non_dir(pfd: int, name: str, rel: str) -> None:
    try:
        st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise NotADir(f"the folder {rel!r}")
    try:
        os.unlink(name, dir_fd=pfd)
    except FileNotFoundError:
        pass


def _umask() -> int:
    """The process's umask, read without changing it (os.umask would, for
    every thread); -1 if the system does not say."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return -1


def _finish_file(fd: int, e: Entry) -> None:
    os.fchmod(fd, e.mode)
    os.utime(fd, ns=(e.mtime_ns, e.mtime_ns))


class _Pending:
    """A file being written under a temporary name in its folder."""

    def __init__(self, fd: int, entry: Entry, tmp: str, segments: int = 1) -> None:
        self.fd = fd
        self.entry = entry
        self.tmp = tmp
        self.name = entry.path.rsplit("/", 1)[-1]
        self.parent = parent_of(entry.path)
        self._left = segments
        self._lock = threading.Lock()
        self.closed = False
        self.failure: str | None = None
        self.holes = False   # a block of zeros was left unwritten

    def segment_done(self) -> bool:
        """True for the last segment, which then completes or discards the file."""
        with self._lock:
            self._left -= 1
            return self._left == 0

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        os.close(self.fd)


class Restorer:
    def __init__(
        self,
        ctx: RestoreContext,
        manifest: Manifest,
        target: Path,
        cancel: Callable[[], bool] | None,
        *,
        progress: Callable[[int, int], None] | None = None,
        checked: bool = False,
    ) -> None:
        self._ctx = ctx
        # check_restorable already passed for this manifest (preflight): what
        # it checks cannot have changed since (the index only gains blocks, or
        # loses some to a prune, which it does not refuse)
        self._checked = checked
        self._manifest = manifest
        self._target = target
        self._cancel = cancel or (lambda: False)
        self._progress = progress   # hook: (files, bytes) written so far
        self._files = self._dirs = self._symlinks = self._hardlinks = self._bytes = 0
        self._cancelled = False  # set by a job that saw cancel() and stopped early
        self._root_fd = -1
        self._local = threading.local()
        self._all_dirs: list[DirHandles] = []
        self._dirs_lock = threading.Lock()
        self._failed: dict[str, str] = {}
        self._failed_lock = threading.Lock()
        self._missing = False      # a block was absent from the index
        self._token = secrets.token_hex(6)
        self._counter = itertools.count()
        self._leftovers: list[_Pending] = []
        self._umask = _umask()

    def run(self) -> RestoreStats:
        if not self._checked:
            check_restorable(self._manifest, self._ctx.index)
        self._root_fd = self._open_target()
        try:
            stats = self._restore()
        except NotADir as exc:
            raise RestoreError(
                f"Cannot restore into {self._target}: {exc} is in the way. Remove it or "
                "restore to an empty folder."
            ) from None
        finally:
            for dirs in self._all_dirs:
                dirs.close()
            os.close(self._root_fd)
        if stats.failed:
            # A block the index lacks may sit in a pack a lost index file listed.
            unindexed = 0
            if self._missing:
                try:
                    unindexed = len(self._ctx.index.unindexed_packs())
                except OSError:
                    pass   # the storage went away: the plain advice stands
            raise PartialRestore(stats, unindexed)
        return stats

    def _stats(self, cancelled: bool) -> RestoreStats:
        failed = tuple(sorted(self._failed.items()))
        return RestoreStats(
            self._manifest.meta.id, str(self._target), self._files, self._dirs,
            self._symlinks, self._bytes, cancelled, self._hardlinks, failed,
        )

    def _open_target(self) -> int:
        not_folder = RestoreError(
            f"Restore target {self._target} exists and is not a folder: choose a folder."
        )
        try:
            self._target.mkdir(parents=True, exist_ok=True)
            return os.open(self._target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except (FileExistsError, NotADirectoryError):
            raise not_folder from None
        except OSError as exc:
            raise restore_write_error(self._target, exc, "the target folder") from exc

    def _thread_dirs(self) -> DirHandles:
        """Each thread walks the tree with its own descriptors."""
        dirs: DirHandles | None = getattr(self._local, "dirs", None)
        if dirs is None:
            dirs = self._local.dirs = DirHandles(self._root_fd)
            with self._dirs_lock:
                self._all_dirs.append(dirs)
        return dirs

    def _fail(self, path: str, why: str) -> None:
        with self._failed_lock:
            self._failed.setdefault(path, why)

    def _restore(self) -> RestoreStats:
        by_kind: dict[str, list[Entry]] = {DIR: [], FILE: [], SYMLINK: [], HARDLINK: []}
        for e in sorted(self._manifest.entries, key=lambda e: e.path):
            by_kind[e.kind].append(e)
        dirs = self._thread_dirs()
        what = "folders"
        try:
            for e in by_kind[DIR]:
                dirs.fd(e.path)
            what = "files"
            if not self._write_files(by_kind[FILE]):
                return self._stats(cancelled=True)
            what = "hard links"
            for e in by_kind[HARDLINK]:
                self._make_hardlink(dirs, e)
            what = "symlinks"
            for e in by_kind[SYMLINK]:
                self._make_symlink(dirs, e)
                self._symlinks += 1
            what = "folder attributes"
            for e in reversed(by_kind[DIR]):
                _finish_file(dirs.fd(e.path), e)
                self._dirs += 1
        except OSError as exc:
            raise restore_write_error(self._target, exc, what) from exc
        return self._stats(cancelled=False)

    # -- file contents -------------------------------------------------------

    def _write_files(self, files: list[Entry]) -> bool:
        """Write all files on the pool; False if cancelled."""
        submit = self._ctx.pool.submit
        max_jobs = 2 * self._ctx.workers + 2
        inflight: deque[tuple[Future[tuple[int, int]], int]] = deque()
        inflight_bytes = 0
        large: list[_Pending] = []
        batch: list[Entry] = []
        batch_bytes = 0

        def collect(block: bool) -> None:
            nonlocal inflight_bytes
            while inflight and (block or inflight[0][0].done()
                                or len(inflight) > max_jobs
                                or inflight_bytes > _INFLIGHT_BYTES):
                fut, size = inflight.popleft()
                inflight_bytes -= size
                files, nbytes = fut.result()
                self._files += files
                self._bytes += nbytes
                if self._progress is not None:
                    self._progress(self._files, self._bytes)

        def push(fut: Future[tuple[int, int]], size: int) -> None:
            nonlocal inflight_bytes
            inflight.append((fut, size))
            inflight_bytes += size
            collect(block=False)

        cancelled = False
        try:
            for e in files:
                if self._cancel():
                    cancelled = True
                    break
                if e.size <= _JOB_BYTES:
                    batch.append(e)
                    batch_bytes += e.size
                    if batch_bytes >= _JOB_BYTES or len(batch) >= _JOB_FILES:
                        push(submit(self._write_small, batch), batch_bytes)
                        batch, batch_bytes = [], 0
                    continue
                segments = self._segments(e)
                big = self._create(self._thread_dirs(), e, len(segments))
                large.append(big)
                for offset, blocks, size in segments:
                    push(submit(self._write_segment, big, offset, blocks), size)
            if batch and not cancelled:
                push(submit(self._write_small, batch), batch_bytes)
            collect(block=True)
        except BaseException:
            for fut, _ in inflight:
                fut.cancel()
            wait([fut for fut, _ in inflight])
            raise
        finally:
            for big in large:
                if not big.closed:   # cancelled or failed half-way: never left behind
                    self._discard(self._thread_dirs(), big)
        return not (cancelled or self._cancelled)

    def _segments(self, e: Entry) -> list[tuple[int, tuple[str, ...], int]]:
        """(file offset, blocks, bytes) pieces of about _JOB_BYTES."""
        blobs = self._ctx.index.blobs
        block = e.size // max(len(e.blocks), 1) or 1
        out: list[tuple[int, tuple[str, ...], int]] = []
        start = offset = size = 0
        for i, b in enumerate(e.blocks):
            loc = blobs.get(b)
            size += loc.raw_length if loc is not None else block
            if size >= _JOB_BYTES or i == len(e.blocks) - 1:
                out.append((offset, e.blocks[start:i + 1], size))
                offset += size
                start, size = i + 1, 0
        return out or [(0, (), 0)]

    def _read(self, blob: str) -> bytes:
        """The block, verified; a damaged copy is recorded and another copy
        tried. _FileFailed if no intact copy is left."""
        index, damage = self._ctx.index, self._ctx.damage
        tried: list[tuple[str, str]] = []
        while True:
            loc = index.blobs.get(blob)
            if loc is None or any(p == loc.pack for p, _ in tried):
                break
            try:
                return self._ctx.reader.read(blob, loc)
            except BlobError as exc:
                tried.append((loc.pack, exc.problem))
                damage.update(add=[(blob, loc.pack, exc.problem)])
                index.refresh(full=True)
        if not tried:
            tried = [(p, damage.problem(b, p) or "damaged") for b, p in damage.pairs
                     if b == blob]
        if tried:
            pack, problem = tried[0]
            raise _FileFailed(f"block {blob} is {problem} in pack {pack}")
        self._missing = True
        raise _FileFailed(f"block {blob} is missing from the repository's index")

    def _create(self, dirs: DirHandles, e: Entry, segments: int = 1) -> _Pending:
        """A new, private, temporary file next to where ``e`` goes; a file
        written in segments is sized at once (holes are left unwritten)."""
        pfd = dirs.fd(parent_of(e.path))
        for _ in range(3):
            tmp = f"{_TMP_PREFIX}{self._token}-{next(self._counter)}"
            try:
                fd = os.open(tmp, _FILE_FLAGS, 0o600, dir_fd=pfd)
                break
            except FileExistsError:   # left by a killed restore: choose another name
                self._token = secrets.token_hex(6)
            except OSError as exc:
                raise restore_write_error(self._target, exc, f"file {e.path!r}") from exc
        else:
            raise NotADir(e.path)
        try:
            if segments > 1:
                os.ftruncate(fd, e.size)
        except OSError as exc:
            os.close(fd)
            os.unlink(tmp, dir_fd=pfd)
            raise restore_write_error(self._target, exc, f"file {e.path!r}") from exc
        return _Pending(fd, e, tmp, segments)

    def _write_blocks(self, f: _Pending, offset: int, blocks: tuple[str, ...]) -> int:
        """pwrite the blocks from ``offset``; zero blocks stay holes. Returns bytes."""
        start = offset
        blobs = self._ctx.index.blobs
        for blob in blocks:
            if f.failure is not None:
                break
            loc = blobs.get(blob)
            if loc is not None and _is_zero_block(blob, loc):
                offset += loc.raw_length
                f.holes = True
                continue
            data = self._read(blob)
            view = memoryview(data)
            while view:
                n = os.pwrite(f.fd, view, offset)
                view = view[n:]
                offset += n
        return offset - start

    def _complete(self, dirs: DirHandles, f: _Pending) -> None:
        """Rename the verified temporary file to its own name."""
        e = f.entry
        try:
            _finish_file(f.fd, e)
        finally:
            f.close()
        pfd = dirs.fd(f.parent)
        try:
            # Replaces a file or symlink in the way (the symlink itself, never
            # its target); a folder in the way is refused.
            os.rename(f.tmp, f.name, src_dir_fd=pfd, dst_dir_fd=pfd)
        except (IsADirectoryError, NotADirectoryError, OSError) as exc:
            os.unlink(f.tmp, dir_fd=pfd)
            if isinstance(exc, IsADirectoryError) or getattr(exc, "errno", None) in (
                    errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
                raise NotADir(f"the folder {e.path!r}") from None
            raise

    def _discard(self, dirs: DirHandles, f: _Pending) -> None:
        f.close()
        try:
            os.unlink(f.tmp, dir_fd=dirs.fd(f.parent))
        except FileNotFoundError:
            pass

    def _read_batch(self, files: list[Entry]) -> dict[str, bytes | str]:
        """Every block the files need, each read and verified once however
        many files share it: the blocks of one pack that lie close together
        are loaded in one read. A block whose copy fails its check (or whose
        pack is missing) is read again on its own by ``_read``, which records
        the damage and tries another copy; a block that cannot be had maps to
        the reason (a str)."""
        blobs = self._ctx.index.blobs
        reader = self._ctx.reader
        out: dict[str, bytes | str] = {}
        by_pack: dict[str, list[tuple[int, str, BlobLoc]]] = {}
        for e in files:
            for blob in e.blocks:
                if blob in out:
                    continue
                loc = blobs.get(blob)
                if loc is None:
                    out[blob] = ""   # resolved below by _read (it says why)
                    continue
                if _is_zero_block(blob, loc):
                    continue
                out[blob] = ""
                by_pack.setdefault(loc.pack, []).append((loc.offset, blob, loc))
        for pack, wanted in by_pack.items():
            wanted.sort()
            i = 0
            while i < len(wanted):
                run_start = wanted[i][0]
                run_end = run_start + wanted[i][2].length
                j = i + 1
                while j < len(wanted):
                    off, _, loc = wanted[j]
                    if off - run_end > _READ_GAP or off + loc.length - run_start > _READ_SPAN:
                        break
                    run_end = max(run_end, off + loc.length)
                    j += 1
                try:
                    data = reader.read_range(pack, run_start, run_end - run_start)
                except FileNotFoundError:
                    data = b""   # each block says so through _read
                for off, blob, loc in wanted[i:j]:
                    try:
                        out[blob] = reader.open(
                            blob, loc, data[off - run_start:off - run_start + loc.length])
                    except BlobError:
                        pass   # left for _read: another copy, or the reason
                i = j
        for blob, got in out.items():
            if got == "":
                try:
                    out[blob] = self._read(blob)
                except _FileFailed as exc:
                    out[blob] = str(exc)
        return out

    def _write_small(self, files: list[Entry]) -> tuple[int, int]:
        """Runs on the pool: whole files (each at most _JOB_BYTES), most often
        of one folder. Every block of a file is read back and verified before
        the file is created, so a file whose data is damaged is never created
        at all."""
        dirs = self._thread_dirs()
        blobs = self._ctx.index.blobs
        data_of = self._read_batch(files)
        umask = self._umask
        done = nbytes = 0
        for e in files:
            if self._cancel():
                self._cancelled = True
                break
            pieces: list[tuple[int, bytes]] = []
            offset = 0
            failure: str | None = None
            for blob in e.blocks:
                data = data_of.get(blob)
                if data is None:   # a block of zeros (a hole)
                    loc = blobs.get(blob)
                    offset += loc.raw_length if loc is not None else 0
                    continue
                if isinstance(data, str):
                    failure = data
                    break
                pieces.append((offset, data))
                offset += len(data)
            if failure is not None:
                self._fail(e.path, failure)
                continue
            # Created with its own mode when the umask leaves it whole (no
            # fchmod then); otherwise private, and given its mode at the end.
            # The umask is read once per restore: nothing changes it while a
            # server serves (bind_unix sets it only around the socket's bind).
            mode = e.mode if umask >= 0 and not e.mode & (umask | 0o7000) else -1
            fd = self._create_final(dirs, e.path, 0o600 if mode < 0 else mode)
            try:
                for at, data in pieces:
                    view = memoryview(data)
                    while view:
                        n = os.pwrite(fd, view, at)
                        view = view[n:]
                        at += n
                if offset > (pieces[-1][0] + len(pieces[-1][1]) if pieces else 0):
                    os.ftruncate(fd, offset)   # the file ends in a hole
                if mode < 0:
                    os.fchmod(fd, e.mode)
                os.utime(fd, ns=(e.mtime_ns, e.mtime_ns))
            except BaseException as exc:
                os.close(fd)
                fd = -1
                pfd = dirs.fd(parent_of(e.path))
                try:   # never leave a partly written file under its own name
                    os.unlink(e.path.rsplit("/", 1)[-1], dir_fd=pfd)
                except OSError:
                    pass
                if isinstance(exc, OSError):
                    raise restore_write_error(self._target, exc, f"file {e.path!r}") from exc
                raise
            finally:
                if fd >= 0:
                    os.close(fd)
            nbytes += offset
            done += 1
        return done, nbytes

    def _create_final(self, dirs: DirHandles, rel: str, mode: int = 0o600) -> int:
        """A new, empty, private file at ``rel``. Whatever was there is unlinked,
        never written through (it might be a symlink, or a hard link to a file
        elsewhere)."""
        pfd = dirs.fd(parent_of(rel))
        name = rel.rsplit("/", 1)[-1]
        try:
            for _ in range(3):
                try:
                    return os.open(name, _FILE_FLAGS, mode, dir_fd=pfd)
                except FileExistsError:
                    _remove_non_dir(pfd, name, rel)
        except OSError as exc:
            raise restore_write_error(self._target, exc, f"file {rel!r}") from exc
        raise NotADir(rel)

    def _write_segment(
        self, big: _Pending, offset: int, blocks: tuple[str, ...]
    ) -> tuple[int, int]:
        """Runs on the pool: one piece of a large file; the last piece renames
        it into place, or removes it if any piece failed."""
        e = big.entry
        written = 0
        try:
            try:
                if not self._cancel():
                    written = self._write_blocks(big, offset, blocks)
                else:
                    self._cancelled = True
            except _FileFailed as exc:
                big.failure = big.failure or str(exc)
            if not big.segment_done():
                return 0, written
            dirs = self._thread_dirs()
            if big.failure is not None or self._cancelled:
                self._discard(dirs, big)
                if big.failure is not None:
                    self._fail(e.path, big.failure)
                return 0, 0
            self._complete(dirs, big)
        except OSError as exc:
            raise restore_write_error(self._target, exc, f"file {e.path!r}") from exc
        return 1, written

    # -- links ---------------------------------------------------------------

    def _make_hardlink(self, dirs: DirHandles, e: Entry) -> None:
        assert e.target is not None
        if e.target in self._failed:
            self._fail(e.path, f"it is a hard link to {e.target!r}, which was not restored")
            return
        src_fd = os.dup(dirs.fd(parent_of(e.target)))
        try:
            pfd = dirs.fd(parent_of(e.path))
            name = e.path.rsplit("/", 1)[-1]
            src = e.target.rsplit("/", 1)[-1]
            for _ in range(3):
                try:
                    os.link(src, name, src_dir_fd=src_fd, dst_dir_fd=pfd,
                            follow_symlinks=False)
                    break
                except FileExistsError:
                    _remove_non_dir(pfd, name, e.path)
            else:
                raise NotADir(e.path)
        finally:
            os.close(src_fd)
        self._hardlinks += 1

    def _make_symlink(self, dirs: DirHandles, e: Entry) -> None:
        pfd = dirs.fd(parent_of(e.path))
        name = e.path.rsplit("/", 1)[-1]
        assert e.target is not None
        for _ in range(3):
            try:
                os.symlink(e.target, name, dir_fd=pfd)
                break
            except FileExistsError:
                _remove_non_dir(pfd, name, e.path)
        else:
            raise NotADir(e.path)
        os.utime(name, ns=(e.mtime_ns, e.mtime_ns), dir_fd=pfd, follow_symlinks=False)
