"""Rebuilding a restore point's tree into a target directory.

Directories are created first, then file contents are written by the pool
(small files in batches, large files in segments written with pwrite), then
symlinks, then directory modes and times. Every path is reached through
directory descriptors opened with O_NOFOLLOW (see safedirs), files are created
with O_EXCL after unlinking whatever was there, and symlinks are created last,
so nothing is ever written through a symlink or outside the target."""
from __future__ import annotations

import os
import stat
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from core.errors import RestoreError

from .errors import BlobError, restore_write_error
from .model import DIR, FILE, KINDS, SYMLINK, Entry, Manifest, RestoreStats
from .packfile import BlobLoc, PackReader
from .paths import parent_of, rel_path_problem
from .safedirs import DirHandles, NotADir

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_JOB_BYTES = 8 << 20  # a batch of small files, or one segment of a large file
_JOB_FILES = 128
_INFLIGHT_BYTES = 64 << 20


@dataclass(frozen=True)
class RestoreContext:
    blobs: dict[str, BlobLoc]
    reader: PackReader
    pool: ThreadPoolExecutor
    workers: int


def _forged(point: str, path: str, problem: str) -> RestoreError:
    return RestoreError(
        f"Restore point {point} is damaged or forged: entry {path!r} has {problem}. Nothing "
        "was restored; restore another point."
    )


def check_restorable(manifest: Manifest, blobs: dict[str, BlobLoc]) -> None:
    """Refuse, before writing anything, a manifest that could escape the
    target, contradicts itself, or whose data is missing."""
    point = manifest.meta.id
    kinds: dict[str, str] = {}
    for e in manifest.entries:
        problem = rel_path_problem(e.path)
        if problem is not None:
            raise _forged(point, e.path, f"an invalid path ({problem})")
        if e.kind not in KINDS:
            raise _forged(point, e.path, f"an unknown kind {e.kind!r}")
        if e.kind == SYMLINK and not isinstance(e.target, str):
            raise _forged(point, e.path, "no symlink target")
        if not all(type(v) is int for v in (e.mode, e.mtime_ns, e.size)):
            raise _forged(point, e.path, "a malformed mode, time or size")
        kinds[e.path] = e.kind
    missing: list[str] = []
    for e in manifest.entries:
        parent = parent_of(e.path)
        while parent:
            kind = kinds.get(parent)
            if kind is not None and kind != DIR:
                raise _forged(point, e.path, f"a parent {parent!r} that is a {kind}")
            parent = parent_of(parent)
        if e.kind != FILE:
            continue
        try:
            stored = sum(blobs[b].raw_length for b in e.blocks)
        except KeyError:
            missing.append(e.path)
            continue
        except TypeError:
            raise _forged(point, e.path, "malformed block ids") from None
        if stored != e.size:
            raise _forged(point, e.path, f"a size of {e.size} bytes but {stored} bytes of data")
    if missing:
        shown = ", ".join(repr(p) for p in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise RestoreError(
            f"Restore point {point} is damaged: data of {shown}{more} is missing from the "
            "repository. Nothing was restored; run verify for details or restore another point."
        )


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


def _create_file(dirs: DirHandles, rel: str) -> int:
    """A new, empty, private file. Whatever was at ``rel`` is unlinked, never
    written through (it might be a symlink, or a hard link to a file elsewhere)."""
    pfd = dirs.fd(parent_of(rel))
    name = rel.rsplit("/", 1)[-1]
    for _ in range(3):
        try:
            return os.open(name, _FILE_FLAGS, 0o600, dir_fd=pfd)
        except FileExistsError:
            _remove_non_dir(pfd, name, rel)
    raise NotADir(rel)


def _finish_file(fd: int, e: Entry) -> None:
    os.fchmod(fd, e.mode)
    os.utime(fd, ns=(e.mtime_ns, e.mtime_ns))


class _LargeFile:
    """A file written in segments by several jobs; the last one closes it."""

    def __init__(self, fd: int, entry: Entry, segments: int) -> None:
        self.fd = fd
        self.entry = entry
        self._left = segments
        self._lock = threading.Lock()
        self.closed = False

    def segment_done(self) -> bool:
        """True for the last segment, which sets attributes and closes the file."""
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last:
            try:
                _finish_file(self.fd, self.entry)
            finally:
                self.close()
        return last

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
    ) -> None:
        self._ctx = ctx
        self._manifest = manifest
        self._target = target
        self._cancel = cancel or (lambda: False)
        self._files = self._dirs = self._symlinks = self._bytes = 0
        self._cancelled = False  # set by a job that saw cancel() and stopped early
        self._root_fd = -1
        self._local = threading.local()
        self._all_dirs: list[DirHandles] = []
        self._dirs_lock = threading.Lock()

    def run(self) -> RestoreStats:
        check_restorable(self._manifest, self._ctx.blobs)
        self._root_fd = self._open_target()
        try:
            return self._restore()
        except NotADir as exc:
            raise RestoreError(
                f"Cannot restore into {self._target}: {exc} is in the way. Remove it or "
                "restore to an empty folder."
            ) from None
        finally:
            for dirs in self._all_dirs:
                dirs.close()
            os.close(self._root_fd)

    def _stats(self, cancelled: bool) -> RestoreStats:
        return RestoreStats(
            self._manifest.meta.id, str(self._target), self._files, self._dirs,
            self._symlinks, self._bytes, cancelled,
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

    def _restore(self) -> RestoreStats:
        by_kind: dict[str, list[Entry]] = {DIR: [], FILE: [], SYMLINK: []}
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
        large: list[_LargeFile] = []
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
                fd = self._create(self._thread_dirs(), e.path)
                segments = self._segments(e)
                big = _LargeFile(fd, e, len(segments))
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
                big.close()
        return not (cancelled or self._cancelled)

    def _segments(self, e: Entry) -> list[tuple[int, tuple[str, ...], int]]:
        """(file offset, blocks, bytes) pieces of about _JOB_BYTES."""
        blobs = self._ctx.blobs
        out: list[tuple[int, tuple[str, ...], int]] = []
        start = offset = size = 0
        for i, b in enumerate(e.blocks):
            size += blobs[b].raw_length
            if size >= _JOB_BYTES or i == len(e.blocks) - 1:
                out.append((offset, e.blocks[start:i + 1], size))
                offset += size
                start, size = i + 1, 0
        return out

    def _read(self, e: Entry, blob: str) -> bytes:
        try:
            return self._ctx.reader.read(blob, self._ctx.blobs[blob])
        except BlobError as exc:
            raise RestoreError(
                f"Cannot restore {e.path!r}: its data block {exc.blob} in pack {exc.pack} is "
                f"{exc.problem}. Run verify on the repository; restore another point to "
                "recover this file."
            ) from None

    def _create(self, dirs: DirHandles, rel: str) -> int:
        try:
            return _create_file(dirs, rel)
        except OSError as exc:
            raise restore_write_error(self._target, exc, f"file {rel!r}") from exc

    def _write_small(self, files: list[Entry]) -> tuple[int, int]:
        """Runs on the pool: create and fill whole files."""
        dirs = self._thread_dirs()
        done = nbytes = 0
        for e in files:
            if self._cancel():
                self._cancelled = True
                break
            fd = self._create(dirs, e.path)
            try:
                for blob in e.blocks:
                    data = self._read(e, blob)
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    nbytes += len(data)
                _finish_file(fd, e)
            except OSError as exc:
                raise restore_write_error(self._target, exc, f"file {e.path!r}") from exc
            finally:
                os.close(fd)
            done += 1
        return done, nbytes

    def _write_segment(
        self, big: _LargeFile, offset: int, blocks: tuple[str, ...]
    ) -> tuple[int, int]:
        """Runs on the pool: one piece of a large file; the last piece finishes it."""
        e = big.entry
        start = offset
        try:
            for blob in blocks:
                data = self._read(e, blob)
                view = memoryview(data)
                while view:
                    n = os.pwrite(big.fd, view, offset)
                    view = view[n:]
                    offset += n
            last = big.segment_done()
        except OSError as exc:
            raise restore_write_error(self._target, exc, f"file {e.path!r}") from exc
        return (1 if last else 0), offset - start

    # -- symlinks ------------------------------------------------------------

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
