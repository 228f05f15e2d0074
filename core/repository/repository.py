"""Repository: a content-addressed, deduplicated, compressed store of restore points."""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.errors import RepositoryError

from .config import RepoConfig, new_config, read_config, write_config
from .damage import DamageRegistry
from .errors import PointNotFound, write_error
from .fsio import fsync_dir
from .index import Index
from .layout import Layout
from .locking import RepoLock
from .manifest import load_manifest_file, read_meta, salvage_blob_ids
from .model import (
    Manifest,
    PointMeta,
    PruneReport,
    RepairReport,
    RepoStats,
    RestoreStats,
    is_valid_point_id,
)
from .packfile import PackReader
from .prune import Pruner
from .repair import repair_repository
from .restore import RestoreContext, Restorer, check_restorable
from .selection import select_paths
from .verify import VerifyProblems, verify_repository
from .writer import BackupWriter, WriterContext

log = logging.getLogger(__name__)

POINT_TYPES = ("Full", "Increment")


class Repository:
    """Thread-safe; share one instance per repository path in a process.

    Backups, restores and verifies hold a shared lock on the repository while
    they run; prune needs it exclusively and is skipped when it is busy."""

    def __init__(self, layout: Layout, config: RepoConfig, workers: int) -> None:
        self._layout = layout
        self.config = config
        self._workers = workers
        self.damage = DamageRegistry(layout)
        self._index = Index(layout, self.damage)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # -- opening -------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        create: bool = False,
        block_size: int | None = None,
        pack_size: int | None = None,
        workers: int | None = None,
    ) -> Repository:
        """Open the repository at ``path``; with ``create``, make one if absent.

        ``block_size``/``pack_size`` only apply when creating."""
        layout = Layout(Path(path).absolute())
        if not layout.config.exists():
            if not create:
                raise RepositoryError(
                    f"No repository at {layout.root}: check that the path is right and its "
                    "disk is attached, or create a repository there."
                )
            _create(layout, new_config(block_size, pack_size))
        config = read_config(layout)
        _ensure_dirs(layout)
        repo = cls(layout, config, max(2, workers or os.cpu_count() or 2))
        repo._index.refresh()
        return repo

    @property
    def path(self) -> Path:
        return self._layout.root

    @property
    def block_size(self) -> int:
        return self.config.block_size

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                # Two threads beyond the CPU count keep the cores busy while
                # others wait on fsync or disk reads.
                self._pool = ThreadPoolExecutor(self._workers + 2, thread_name_prefix="repo")
            return self._pool

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- backup --------------------------------------------------------------

    def begin_backup(self, meta: PointMeta) -> BackupWriter:
        """Start a new point; blocks while a prune runs. The writer holds a
        shared lock until ``commit`` or ``abort``."""
        _check_meta(meta)
        lock = RepoLock.shared(self._layout.lock)
        try:
            self._index.refresh()
            if self._layout.point(meta.id).exists():
                raise RepositoryError(
                    f"Restore point {meta.id} already exists in repository {self.path}: "
                    "use a new point id."
                )
            ctx = WriterContext(
                self._layout, self.config, self._index, self._executor(), self._workers
            )
            return BackupWriter(ctx, meta, lock)
        except BaseException:
            lock.release()
            raise

    # -- points --------------------------------------------------------------

    def point_health(self) -> tuple[list[PointMeta], dict[str, str]]:
        """All readable points (oldest first), and point id -> why for every
        manifest on disk that cannot be read."""
        points: list[PointMeta] = []
        unreadable: dict[str, str] = {}
        for point_id in self._layout.list_point_ids():
            try:
                points.append(read_meta(self._layout.point(point_id)))
            except FileNotFoundError:
                continue  # forgotten meanwhile
            except RepositoryError as exc:
                unreadable[point_id] = str(exc)
        points.sort(key=lambda m: (m.created, m.id))
        return points, unreadable

    def scan_points(self) -> tuple[list[PointMeta], list[str]]:
        """All readable points (oldest first) and a message per unreadable manifest."""
        points, unreadable = self.point_health()
        return points, list(unreadable.values())

    def point_ids(self) -> list[str]:
        """Ids of every manifest on disk, readable or not."""
        return self._layout.list_point_ids()

    def has_point(self, point_id: str) -> bool:
        return _valid_id(point_id) and self._layout.point(point_id).exists()

    def list_points(self) -> list[PointMeta]:
        """Readable points, oldest first; unreadable manifests are logged and skipped
        (``scan_points`` returns them)."""
        points, problems = self.scan_points()
        for problem in problems:
            log.warning("%s", problem)
        return points

    def load_manifest(self, point_id: str) -> Manifest:
        if not _valid_id(point_id):
            raise PointNotFound(f"There is no restore point {point_id!r} in {self.path}.")
        try:
            return load_manifest_file(self._layout.point(point_id))
        except FileNotFoundError:
            raise PointNotFound(
                f"Restore point {point_id} is not in repository {self.path} (it has no "
                "manifest): it was removed by retention, or its manifest file was deleted. "
                "Restore another point; 'agent-jobs points' lists it as damaged if it is "
                "still catalogued."
            ) from None

    def forget(self, point_ids: Iterable[str]) -> None:
        """Remove points (their manifests). Data is reclaimed by ``prune``."""
        removed = False
        try:
            for point_id in point_ids:
                if not _valid_id(point_id):
                    continue
                try:
                    self._layout.point(point_id).unlink()
                    removed = True
                except FileNotFoundError:
                    pass
            if removed:
                fsync_dir(self._layout.points)
        except OSError as exc:
            raise RepositoryError(
                f"Cannot remove restore points from repository {self.path}: "
                f"{exc.strerror or exc}. Check the folder's permissions and that its disk is "
                "mounted read-write, then try again."
            ) from exc

    # -- maintenance ---------------------------------------------------------

    def prune(self) -> PruneReport:
        lock = RepoLock.try_exclusive(self._layout.lock)
        if lock is None:
            return PruneReport(
                skipped=True,
                reason=(
                    f"Prune skipped: a backup, restore or verify is using repository "
                    f"{self.path}. Space will be reclaimed at the next prune."
                ),
            )
        with lock:
            used: set[str] = set()
            unreadable: list[str] = []
            for point_id in self._layout.list_point_ids():
                try:
                    manifest = self.load_manifest(point_id)
                except PointNotFound:
                    continue
                except RepositoryError as exc:
                    # Go on around it, keeping every block its readable part names.
                    salvaged = salvage_blob_ids(self._layout.point(point_id))
                    used.update(salvaged)
                    unreadable.append(f"{exc} (prune kept the {len(salvaged)} block(s) its "
                                      "readable part names)")
                    continue
                for e in manifest.entries:
                    used.update(e.blocks)
            pruner = Pruner(self._layout, self._index, self.config.pack_size, self.damage)
            pruner.report_problems.extend(unreadable)
            counts = pruner.run(used)
        report = PruneReport(
            packs_deleted=counts["deleted"],
            packs_repacked=counts["repacked"],
            packs_written=counts["written"],
            blobs_removed=counts["blobs_removed"],
            bytes_freed=counts["bytes_freed"],
            tmp_files_removed=counts["tmp"],
            problems=pruner.report_problems,
        )
        for problem in report.problems:
            log.warning("prune: %s", problem)
        return report

    def restore(
        self, point_id: str, target: Path, *, cancel: Callable[[], bool] | None = None,
        progress: Callable[[int, int], None] | None = None,
        paths: Iterable[str] | None = None,
    ) -> RestoreStats:
        """Rebuild the point's tree in ``target`` (created if missing; files the
        point contains are replaced). Returns with ``cancelled`` set if ``cancel()``
        turned true; the target then holds a partial tree.

        Hooks for recorded restores: ``progress(files, bytes)`` is called as
        files are written; ``paths`` restores only those paths of the point
        (see selection.select_paths)."""
        with RepoLock.shared(self._layout.lock):
            self._index.refresh()
            manifest = self.load_manifest(point_id)
            if paths is not None:
                manifest = select_paths(manifest, paths)
            reader = PackReader(self._layout)
            try:
                ctx = RestoreContext(self._index, self.damage, reader, self._executor(),
                                     self._workers)
                return Restorer(ctx, manifest, Path(target).absolute(), cancel,
                                progress=progress).run()
            finally:
                reader.close()

    def preflight_restore(self, point_id: str, paths: Iterable[str] | None = None) -> Manifest:
        """Hook for recorded restores: refuse now what ``restore`` would refuse
        before writing anything (an unreadable, damaged or forged manifest, a
        path the point does not hold). Returns the manifest (reduced to
        ``paths``)."""
        with RepoLock.shared(self._layout.lock):
            self._index.refresh()
            manifest = self.load_manifest(point_id)
            if paths is not None:
                manifest = select_paths(manifest, paths)
            check_restorable(manifest, self._index)
            return manifest

    def verify(self, point_ids: Iterable[str] | None = None, *,
               missing_ok: bool = False, full: bool | None = None,
               progress: Callable[[int, int], None] | None = None,
               cancel: Callable[[], bool] | None = None) -> VerifyProblems:
        """Re-read, decompress and re-hash every blob the points reference; with
        no ids, every point and also every byte of every pack and index file.
        An empty result means everything is intact. A point id without a
        manifest raises PointNotFound, or with ``missing_ok`` is reported as a
        "manifest missing" problem. ``full`` forces (or skips) the whole-repository
        check."""
        with RepoLock.shared(self._layout.lock):
            self._index.refresh(full=self.damage.load())
            if full is None:
                full = point_ids is None
            ids = list(point_ids) if point_ids is not None else self._layout.list_point_ids()
            manifests: list[Manifest] = []
            broken: dict[str, str] = {}
            missing: list[str] = []
            for point_id in ids:
                try:
                    manifests.append(self.load_manifest(point_id))
                except PointNotFound:
                    if point_ids is not None and not missing_ok:
                        raise
                    if point_ids is not None:
                        missing.append(point_id)
                except RepositoryError as exc:
                    log.warning("%s", exc)
                    broken[point_id] = str(exc)
            reader = PackReader(self._layout)
            try:
                return verify_repository(
                    self._layout, self._index, self.damage, reader, self._executor(),
                    manifests, broken, missing, full=full, progress=progress, cancel=cancel,
                )
            finally:
                reader.close()

    def repair(self) -> RepairReport:
        """Rebuild the index from the packs, drop damaged copies (salvaging the
        intact blobs of their packs) and say which points are whole again.
        RepositoryError if a backup, restore or verify is running."""
        lock = RepoLock.try_exclusive(self._layout.lock)
        if lock is None:
            raise RepositoryError(
                f"Repository {self.path} is in use by a backup, restore or verify: run repair "
                "again when it has finished."
            )
        with lock:
            self.damage.load()
            self._index.refresh(full=True)
            return repair_repository(
                self._layout, self._index, self.damage, self.config.pack_size,
                self._executor(), self._layout.list_point_ids(), self.load_manifest,
            )

    def stats(self) -> RepoStats:
        self._index.refresh()
        packs = self._layout.list_packs()
        size = 0
        for p in packs.values():
            size += _size(p)
        for index_id in self._layout.list_index_ids():
            size += _size(self._layout.index_file(index_id))
        point_ids = self._layout.list_point_ids()
        for point_id in point_ids:
            size += _size(self._layout.point(point_id))
        size += _size(self._layout.config)
        return RepoStats(len(packs), size, len(self._index.blobs), len(point_ids))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _valid_id(point_id: str) -> bool:
    return isinstance(point_id, str) and is_valid_point_id(point_id)


def _check_meta(meta: PointMeta) -> None:
    if not _valid_id(meta.id):
        raise ValueError(f"invalid point id {meta.id!r}")
    if meta.type not in POINT_TYPES:
        raise ValueError(f"point type must be one of {POINT_TYPES}, not {meta.type!r}")
    if meta.created.tzinfo is None:
        raise ValueError("point creation time must be timezone-aware")


def _create(layout: Layout, config: RepoConfig) -> None:
    root = layout.root
    if root.exists():
        if not root.is_dir():
            raise RepositoryError(
                f"Cannot create a repository at {root}: it is a file. Choose a folder."
            )
        if not _is_empty_skeleton(layout):
            raise RepositoryError(
                f"Cannot create a repository at {root}: the folder is not empty and holds no "
                "repository. Choose an empty or new folder."
            )
    try:
        root.mkdir(parents=True, exist_ok=True)
        _ensure_dirs(layout)
        write_config(layout, config)  # last: config.json marks a complete repository
        fsync_dir(root)
    except OSError as exc:
        raise write_error(root, exc, "a new repository") from exc


def _is_empty_skeleton(layout: Layout) -> bool:
    """True for an empty folder, or one left by a creation that crashed before
    config.json was written (only our empty folders and the lock file)."""
    allowed = {"packs", "index", "points", "tmp", "lock"}
    for child in layout.root.iterdir():
        if child.name not in allowed:
            return False
        if child.is_dir() and child.name != "tmp" and any(child.iterdir()):
            return False
    return True


def _ensure_dirs(layout: Layout) -> None:
    try:
        for d in (layout.packs, layout.index, layout.points, layout.tmp):
            d.mkdir(exist_ok=True)
        if not layout.lock.exists():
            layout.lock.touch()
    except OSError as exc:
        if all(d.is_dir() for d in (layout.packs, layout.index, layout.points)):
            return  # read-only repository: enough to restore and verify
        raise write_error(layout.root, exc, "the repository folders") from exc
