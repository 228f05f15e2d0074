"""Repository: a content-addressed, deduplicated, compressed store of restore points."""
from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from core.errors import RepositoryError

from core.repository.backend import Backend, BackendLock
from core.repository.backend.base import LockCancel
from core.repository.backend.lease import renew_lease
from core.repository.backend.local import LocalBackend
from core.repository.copysource import PointSource
from core.repository.config import ENCRYPTION_AES, ENCRYPTION_NONE, RepoConfig, new_config, parse_config, \
    read_config, write_config
from core.repository.damage import DamageRegistry
from core.errors import EntryBlobDamaged
from core.repository.entrystream import EntryBlobReader
from core.repository.errors import PointNotFound, write_error
from core.repository import immutability
from core.repository.index import Index
from core.repository.keys import create_key, unlock
from core.repository.layout import CONFIG, INDEX, KEYS, POINTS, Layout
from core.repository.manifest import load_manifest, read_meta, salvage_blob_ids, stored_digest
from core.repository.model import (
    BlobProblem,
    Manifest,
    PointMeta,
    PruneReport,
    RepairReport,
    RepoStats,
    RestoreStats,
    is_valid_point_id,
)
from core.repository.packfile import PackReader
from core.repository.prune import Pruner
from core.repository.recent import RecentManifests
from core.repository.repair import repair_repository
from core.repository.restore import RestoreContext, Restorer, check_restorable
from core.repository.sealing import PLAIN, Sealer
from core.repository.selection import select_paths
from core.repository.verify import (
    REPAIR_HINT, VerifyCancelled, VerifyProblems, light_verify_repository, verify_repository,
)
from core.repository.writer import BackupWriter, WriterContext

log = logging.getLogger(__name__)

POINT_TYPES = ("Full", "Increment")
# config.json sealed under the master key (encrypted repositories): config.json
# itself cannot be, since it says whether the rest is.
SEALED_CONFIG = "config.sealed"


class Repository:
    """Thread-safe; share one instance per repository in a process.

    All storage I/O goes through a :class:`Backend` (a local folder, memory or
    S3); every object but config.json and the key objects is sealed by
    ``sealer`` (the master key of an encrypted repository).

    Backups, restores and verifies hold a shared lock on the repository while
    they run; prune needs it exclusively and is skipped when it is busy."""

    def __init__(self, layout: Layout, config: RepoConfig, workers: int,
                 key_id: str | None = None) -> None:
        self._layout = layout
        self.config = config
        self.key_id = key_id   # the key object the password opened (encrypted only)
        self._workers = workers
        self.damage = DamageRegistry(layout)
        lock = immutability.object_lock(layout.backend)
        if lock is not None:   # newer locked versions rejected (at the opening too)
            for rejection in list(lock.rejections):
                self.damage.record_rejection(rejection)
            lock.on_reject = self.damage.record_rejection
        self._index = Index(layout, self.damage)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._owns_backend = False
        self._recent = RecentManifests()

    # -- opening -------------------------------------------------------------

    @classmethod
    def open(
        cls,
        location: Path | str | Backend,
        *,
        create: bool = False,
        password: str | None = None,
        block_size: int | None = None,
        pack_size: int | None = None,
        workers: int | None = None,
        kdf: dict[str, int] | None = None,
        immutable_days: int | None = None,
    ) -> Repository:
        """Open the repository at ``location`` (a folder, or any Backend);
        with ``create``, make one if absent, encrypted when ``password`` is given.

        ``block_size``/``pack_size``/``kdf`` (scrypt ``n``, ``r``, ``p`` for the
        first key) only apply when creating. An encrypted repository needs its
        password: PasswordRequired without one, WrongPassword with a wrong one.
        A password given for a plain repository is not used.

        ``immutable_days``: write every object with a COMPLIANCE lock of that
        many days (S3 with Object Lock only); a repository that records its
        own immutability (``immutability.json``) is opened immutable anyway."""
        backend: Backend = (LocalBackend(Path(location)) if isinstance(location, (str, Path))
                            else location)
        layout = Layout(backend)
        owned = isinstance(location, (str, Path))
        try:
            repo = cls._open(layout, create=create, password=password, block_size=block_size,
                             pack_size=pack_size, workers=workers, kdf=kdf,
                             immutable_days=immutable_days)
        except BaseException:
            if owned:
                backend.close()
            raise
        repo._owns_backend = owned   # a Backend passed in stays the caller's to close
        return repo

    @classmethod
    def _open(cls, layout: Layout, *, create: bool, password: str | None,
              block_size: int | None, pack_size: int | None, workers: int | None,
              kdf: dict[str, int] | None, immutable_days: int | None = None) -> Repository:
        backend = layout.backend
        key_id: str | None = None
        sealer: Sealer = PLAIN
        if immutable_days is not None:
            _enable_immutability(layout, immutable_days)
        if not _exists(layout, CONFIG):
            if not create:
                how = ("path is right and its disk is attached" if backend.kind == "local"
                       else "location is right and its storage is reachable")
                raise RepositoryError(
                    f"No repository at {layout.root}: check that the {how}, or create a "
                    "repository there."
                )
            config = new_config(block_size, pack_size,
                                ENCRYPTION_AES if password is not None else ENCRYPTION_NONE)
            sealer, key_id = _create(layout, config, password, kdf or {}, immutable_days)
        _open_immutable(layout, immutable_days)
        config = read_config(layout)
        if not config.encrypted:
            _refuse_downgrade(layout)
        if config.encrypted and key_id is None:
            sealer, key_id = _unlock(backend, password)
            config = _check_sealed_config(layout, sealer, config)
        if isinstance(backend, LocalBackend):
            try:
                backend.prepare()
            except OSError as exc:
                raise write_error(layout.root, exc, "the repository folders") from exc
        layout.sealer = sealer
        if sealer.encrypted and hasattr(backend, "lock_sealer"):
            backend.lock_sealer = sealer     # lease lock objects name hosts: sealed too
            lock = immutability.object_lock(backend)
            if lock is not None:
                lock.reload()                # its list of retired objects is sealed too
        repo = cls(layout, config, max(2, workers or os.cpu_count() or 2), key_id)
        repo._index.refresh()
        return repo

    @property
    def path(self) -> Path:
        """The folder of a local repository (AttributeError for other back ends)."""
        if isinstance(self._layout.backend, LocalBackend):
            return self._layout.backend.root
        raise AttributeError(f"repository {self.location} is not a local folder")

    @property
    def location(self) -> str:
        """Where the repository is, for messages: a path or a URL."""
        return self._layout.location

    @property
    def backend(self) -> Backend:
        return self._layout.backend

    @property
    def encrypted(self) -> bool:
        return self.config.encrypted

    @property
    def sealer(self) -> Sealer:
        """The master key of an encrypted repository (for adding passwords)."""
        return self._layout.sealer

    @property
    def immutable_days(self) -> int | None:
        """N when every object is written with a COMPLIANCE lock of N days."""
        lock = immutability.object_lock(self._layout.backend)
        return int(lock.days) if lock is not None else None

    def retained_points(self) -> list[immutability.RetainedPoint]:
        """Points retention dropped whose data stays until its lock expires."""
        try:
            return immutability.retained_points(self._layout.backend)
        except OSError as exc:
            raise RepositoryError(f"Cannot read the retired objects of repository "
                                  f"{self._where}: {exc.strerror or exc}.") from exc

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
        if self._owns_backend:
            self._layout.backend.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- backup --------------------------------------------------------------

    def begin_backup(self, meta: PointMeta, *, cancel: LockCancel | None = None,
                     on_wait: Callable[[str], None] | None = None) -> BackupWriter:
        """Start a new point; blocks while a prune runs. The writer holds a
        shared lock until ``commit`` or ``abort``.

        ``on_wait(holder)`` is told once who holds the lock when it has to
        wait; once ``cancel`` is set the wait ends with LockWaitCancelled."""
        _check_meta(meta)
        lock = self._lock(exclusive=False, cancel=cancel, purpose="backup", on_wait=on_wait)
        if lock is None:
            raise LockWaitCancelled(
                f"Stopped while waiting for the lock on repository {self._where}: no restore "
                f"point {meta.id} was made.")
        try:
            self._index.refresh()
            if _exists(self._layout, self._layout.point(meta.id)):
                raise RepositoryError(
                    f"Restore point {meta.id} already exists in repository {self._where}: "
                    "use a new point id."
                )
            ctx = WriterContext(
                self._layout, self.config, self._index, self._executor(), self._workers
            )
            return BackupWriter(ctx, meta, lock, on_commit=self._recent.put)
        except BaseException:
            lock.release()
            raise

    def open_point_source(self, point_id: str, *,
                          cancel: LockCancel | None = None) -> PointSource | None:
        """The point, to copy it into another repository (see copysource):
        holds a shared lock until closed. None if ``cancel`` ended the wait
        for the lock; PointNotFound or RepositoryError if its manifest is
        missing or unreadable."""
        lock = self._lock(exclusive=False, cancel=cancel, purpose="copy")
        if lock is None:
            return None
        try:
            self._index.refresh()
            manifest = self.recent_manifest(point_id)
            return PointSource(self._layout, self._index, self.damage, manifest, lock)
        except BaseException:
            lock.release()
            raise

    def stored_point_size(self, point_id: str) -> int:
        """Bytes of the point's manifest object as stored (0 if it cannot be stat'ed)."""
        try:
            return self._layout.backend.stat(self._layout.point(point_id)).size
        except OSError:
            return 0

    def has_blob(self, blob: str) -> bool:
        """Whether the index (as last refreshed) holds the block."""
        return blob in self._index.blobs

    # -- points --------------------------------------------------------------

    def point_health(self) -> tuple[list[PointMeta], dict[str, str]]:
        """All readable points (oldest first), and point id -> why for every
        manifest on disk that cannot be read."""
        points: list[PointMeta] = []
        unreadable: dict[str, str] = {}
        for point_id in self._layout.list_point_ids():
            try:
                points.append(read_meta(self._layout, point_id))
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
        return _valid_id(point_id) and _exists(self._layout, self._layout.point(point_id))

    def list_points(self) -> list[PointMeta]:
        """Readable points, oldest first; unreadable manifests are logged and skipped
        (``scan_points`` returns them)."""
        points, problems = self.scan_points()
        for problem in problems:
            log.warning("%s", problem)
        return points

    def load_manifest(self, point_id: str, *, packs: PackReader | None = None) -> Manifest:
        """The point's manifest, its rows read back from its entry blobs (format
        3) through ``packs`` when given (a restore's reader, whose cached packs
        the restore then reads again)."""
        if not _valid_id(point_id):
            raise PointNotFound(f"There is no restore point {point_id!r} in {self._where}.")
        reader = EntryBlobReader(self._layout, self._index, self.damage, point_id, packs)
        try:
            return load_manifest(self._layout, point_id, reader)
        except FileNotFoundError:
            raise PointNotFound(
                f"Restore point {point_id} is not in repository {self._where} (it has no "
                "manifest): it was removed by retention, or its manifest file was deleted. "
                "Restore another point; 'agent-jobs points' lists it as damaged if it is "
                "still catalogued."
            ) from None
        finally:
            reader.close()

    def recent_manifest(self, point_id: str) -> Manifest:
        """``load_manifest``, from memory when this process committed the
        point: a computer's next incremental starts from the point its last
        one committed, and the point restored is often the newest; decoding
        the manifest again would be most of an unchanged backup's work and
        a tenth of a restore's. The stored manifest is still read and its
        digest compared, so damage to it is found as ``load_manifest`` finds
        it. Verify and browse always decode the stored manifest."""
        recent = self._recent.get(point_id)
        if recent is not None and _valid_id(point_id):
            manifest, digest = recent
            try:
                if stored_digest(self._layout, point_id) == digest:
                    return manifest
            except OSError:
                pass   # load_manifest says what is wrong
        return self.load_manifest(point_id)

    def points_using(self, blobs: Iterable[str], point_ids: Iterable[str]
                     ) -> dict[str, list[str] | None]:
        """Which of the points use any of ``blobs`` (damaged blocks, say): point id ->
        the paths using them ([] for a point that uses none), or None when the point's
        manifest cannot be read. Reads manifests only; no pack data."""
        wanted = set(blobs)
        found: dict[str, list[str] | None] = {}
        for point_id in point_ids:
            try:
                manifest = self.load_manifest(point_id)
            except (RepositoryError, OSError):
                found[point_id] = None
                continue
            found[point_id] = [e.path for e in manifest.entries
                               if e.blocks and not wanted.isdisjoint(e.blocks)]
        return found

    def forget(self, point_ids: Iterable[str]) -> None:
        """Remove points (their manifests). Data is reclaimed by ``prune``."""
        point_ids = list(point_ids)
        self._recent.drop(point_ids)
        lock = immutability.object_lock(self._layout.backend)
        try:
            for point_id in point_ids:
                if not _valid_id(point_id):
                    continue
                name = self._layout.point(point_id)
                if lock is not None:   # its data stays until the lock ends: say whose it was
                    try:
                        note = immutability.point_note(read_meta(self._layout, point_id))
                    except (OSError, RepositoryError):
                        note = None
                    lock.remove(name, point=note)
                else:
                    self._layout.backend.remove(name)
        except OSError as exc:
            raise RepositoryError(
                f"Cannot remove restore points from repository {self._where}: "
                f"{exc.strerror or exc}. Check the folder's permissions and that its disk is "
                "mounted read-write, then try again."
            ) from exc

    # -- maintenance ---------------------------------------------------------

    def prune(self, cancel: Callable[[], bool] | None = None) -> PruneReport:
        """Reclaim space: delete packs no point uses, repack (compact) packs
        whose live share fell below ``prune.REPACK_BELOW_USED``, merge small
        packs. ``cancel()`` turning true stops it between packs; what was done
        so far is committed (``stopped`` in the report)."""
        lock = self._lock(exclusive=True, wait=False, purpose="prune")
        if lock is None:
            return PruneReport(
                skipped=True,
                reason=(
                    f"Prune skipped: a backup, restore or verify is using repository "
                    f"{self._where}. Space will be reclaimed at the next prune."
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
                    reader = EntryBlobReader(self._layout, self._index, self.damage, point_id)
                    try:
                        salvaged = salvage_blob_ids(self._layout, point_id, reader)
                    finally:
                        reader.close()
                    used.update(salvaged)
                    unreadable.append(f"{exc} (prune kept the {len(salvaged)} block(s) its "
                                      "readable part names)")
                    continue
                used.update(manifest.entry_blobs)
                for e in manifest.entries:
                    used.update(e.blocks)
            pruner = Pruner(self._layout, self._index, self.config.pack_size, self.damage,
                            check_lock=lambda: self._check_held(lock, "prune"),
                            renew_lock=lambda: self._check_held(lock, "prune", renew=True),
                            cancel=cancel)
            pruner.report_problems.extend(unreadable)
            counts = pruner.run(used)
            try:
                self._check_held(lock, "prune", renew=True)
                purged, kept, extended = immutability.maintain(self._layout.backend)
            except OSError as exc:
                pruner.report_problems.append(
                    f"the locks of repository {self._where} could not be extended or its "
                    f"expired objects deleted: {exc.strerror or exc}; the next prune tries "
                    "again")
                purged = kept = extended = 0
        report = PruneReport(
            packs_deleted=counts["deleted"],
            packs_repacked=counts["repacked"],
            packs_written=counts["written"],
            blobs_removed=counts["blobs_removed"],
            bytes_freed=counts["bytes_freed"],
            tmp_files_removed=counts["tmp"],
            problems=pruner.report_problems,
            stopped=pruner.stopped,
            locked_deleted=purged,
            locked_kept=kept,
            locks_extended=extended,
        )
        for problem in report.problems:
            log.warning("prune: %s", problem)
        return report

    def restore(
        self, point_id: str, target: Path, *, cancel: Callable[[], bool] | None = None,
        progress: Callable[[int, int], None] | None = None,
        paths: Iterable[str] | None = None, checked: Manifest | None = None,
    ) -> RestoreStats:
        """Rebuild the point's tree in ``target`` (created if missing; files the
        point contains are replaced). Returns with ``cancelled`` set if ``cancel()``
        turned true; the target then holds a partial tree.

        Hooks for recorded restores: ``progress(files, bytes)`` is called as
        files are written; ``paths`` restores only those paths of the point
        (see selection.select_paths); ``checked`` is what ``preflight_restore``
        returned for the same point and paths, so the manifest is not decoded
        twice (it is used while the point is still in the repository)."""
        lock = self._lock(exclusive=False, purpose="restore", cancel=cancel)
        if lock is None:   # cancelled while a prune held the repository
            return RestoreStats(point_id, str(target), 0, 0, 0, 0, cancelled=True)
        with lock:
            self._index.refresh()
            preflighted = checked is not None and checked.meta.id == point_id and \
                _exists(self._layout, self._layout.point(point_id))
            reader = PackReader(self._layout)
            try:
                if preflighted and checked is not None:
                    manifest = checked
                else:
                    manifest = self.load_manifest(point_id, packs=reader)
                    if paths is not None:
                        manifest = select_paths(manifest, paths)
                ctx = RestoreContext(self._index, self.damage, reader, self._executor(),
                                     self._workers)
                return Restorer(ctx, manifest, Path(target).absolute(), cancel,
                                progress=progress, checked=preflighted).run()
            finally:
                reader.close()

    def preflight_restore(self, point_id: str, paths: Iterable[str] | None = None) -> Manifest:
        """Hook for recorded restores: refuse now what ``restore`` would refuse
        before writing anything (an unreadable, damaged or forged manifest, a
        path the point does not hold). Returns the manifest (reduced to
        ``paths``)."""
        with self._lock(exclusive=False, purpose="restore"):
            self._index.refresh()
            manifest = self.recent_manifest(point_id)
            if paths is not None:
                manifest = select_paths(manifest, paths)
            check_restorable(manifest, self._index)
            return manifest

    def verify(self, point_ids: Iterable[str] | None = None, *,
               missing_ok: bool = False, full: bool | None = None,
               progress: Callable[[int, int], None] | None = None,
               cancel: Callable[[], bool] | None = None,
               light: bool = False) -> VerifyProblems:
        """Re-read, decompress and re-hash every blob the points reference; with
        no ids, every point and also every byte of every pack and index file.
        An empty result means everything is intact. A point id without a
        manifest raises PointNotFound, or with ``missing_ok`` is reported as a
        "manifest missing" problem. ``full`` forces (or skips) the whole-repository
        check. ``light`` (with point ids): only list and size the objects the
        points need, reading their manifests and no pack data (see
        ``light_verify_repository``)."""
        lock = self._lock(exclusive=False, purpose="verify", cancel=cancel)
        if lock is None:
            raise VerifyCancelled("The verify was cancelled while it waited for the "
                                  "repository lock: nothing was checked.")
        with lock:
            self._index.refresh(full=self.damage.load())
            if full is None:
                full = point_ids is None
            ids = list(point_ids) if point_ids is not None else self._layout.list_point_ids()
            manifests: list[Manifest] = []
            broken: dict[str, str] = {}
            missing: list[str] = []
            entry_damage: dict[str, EntryBlobDamaged] = {}
            # The light check takes the rows of a point this process committed from memory
            # (its stored manifest is still read and compared): no entry blob is read then.
            load = self.recent_manifest if light and point_ids is not None else \
                self.load_manifest
            for point_id in ids:
                try:
                    manifests.append(load(point_id))
                except PointNotFound:
                    if point_ids is not None and not missing_ok:
                        raise
                    if point_ids is not None:
                        missing.append(point_id)
                except RepositoryError as exc:
                    log.warning("%s", exc)
                    broken[point_id] = str(exc)
                    if isinstance(exc, EntryBlobDamaged):
                        entry_damage[point_id] = exc
            if light and point_ids is not None:
                return _name_entry_blobs(light_verify_repository(
                    self._layout, self._index, self.damage, manifests, broken, missing,
                    cancel=cancel), entry_damage, self._index)
            reader = PackReader(self._layout)
            try:
                return _name_entry_blobs(verify_repository(
                    self._layout, self._index, self.damage, reader, self._executor(),
                    manifests, broken, missing, full=full, progress=progress, cancel=cancel,
                ), entry_damage, self._index)
            finally:
                reader.close()

    def repair(self) -> RepairReport:
        """Rebuild the index from the packs, drop damaged copies (salvaging the
        intact blobs of their packs) and say which points are whole again.
        RepositoryError if a backup, restore or verify is running."""
        lock = self._lock(exclusive=True, wait=False, purpose="repair")
        if lock is None:
            raise RepositoryError(
                f"Repository {self._where} is in use by a backup, restore or verify: run repair "
                "again when it has finished."
            )
        with lock:
            self._recent.clear()   # repair may re-link points to other copies
            self.damage.load()
            self._index.refresh(full=True)
            return repair_repository(
                self._layout, self._index, self.damage, self.config.pack_size,
                self._executor(), self._layout.list_point_ids(), self.load_manifest,
                check_lock=lambda: self._check_held(lock, "repair"),
            )

    def usage(self, point_ids: Iterable[str], groups: dict[str, list[str]]
              ) -> tuple[dict[str, int], dict[str, int]]:
        """Space the points take in the repository, after dedup and compression (the stored
        bytes of their blocks, from the index). ``point_ids`` oldest first: for each point,
        what its blocks add to those of the points before it (its new data); for each group
        of points (a job, a computer), what the union of their blocks takes. A point whose
        manifest cannot be read is left out of both."""
        self._index.refresh()
        blobs = self._index.blobs
        seen: set[str] = set()
        new: dict[str, int] = {}
        used: dict[str, frozenset[str]] = {}
        for point_id in point_ids:
            try:
                manifest = self.recent_manifest(point_id)
            except (RepositoryError, OSError):
                continue
            mine = frozenset(b for e in manifest.entries for b in e.blocks) | \
                frozenset(manifest.entry_blobs)
            used[point_id] = mine
            added = mine - seen
            new[point_id] = sum(blobs[b].length for b in added if b in blobs)
            seen |= added
        totals: dict[str, int] = {}
        for group, ids in groups.items():
            union: set[str] = set()
            for point_id in ids:
                union |= used.get(point_id, frozenset())
            totals[group] = sum(blobs[b].length for b in union if b in blobs)
        return new, totals

    def stats(self) -> RepoStats:
        self._index.refresh()
        packs = self._layout.list_packs()
        size = sum(packs.values()) + self._layout.sizes(INDEX) + self._layout.sizes(POINTS)
        try:
            size += self._layout.backend.stat(CONFIG).size
        except OSError:
            pass
        return RepoStats(len(packs), size, len(self._index.blobs),
                         len(self._layout.list_point_ids()))

    # -- helpers -------------------------------------------------------------

    @property
    def _where(self) -> Path | str:
        return self._layout.root

    def _check_held(self, lock: BackendLock, what: str, *, renew: bool = False) -> None:
        """RepositoryError if ``lock`` was lost; ``renew`` first refreshes a
        lease (a full term for the next step)."""
        if renew:
            renew_lease(lock)
        if not lock.held:
            raise RepositoryError(
                f"The lock on repository {self._where} was lost during {what} (the storage was "
                f"unreachable for too long): {what} stopped before deleting anything a backup "
                f"started since may need. Run {what} again."
            )

    def _lock(self, *, exclusive: bool, wait: bool = True, cancel: LockCancel | None = None,
              purpose: str | None = None,
              on_wait: Callable[[str], None] | None = None) -> Any:
        """The back end's lock (None when it is busy and ``wait`` is false,
        or ``cancel`` ended the wait)."""
        try:
            lock: BackendLock | None = self._layout.backend.lock(
                exclusive=exclusive, wait=wait, cancel=cancel, purpose=purpose, on_wait=on_wait)
        except RepositoryError:
            raise
        except OSError as exc:
            raise RepositoryError(
                f"Cannot lock repository {self._where}: {exc.strerror or exc}. Check that its "
                "storage is reachable, then try again."
            ) from exc
        return lock


class LockWaitCancelled(RepositoryError):
    """The wait for the repository lock was cancelled (the job was stopped)."""


def _name_entry_blobs(problems: VerifyProblems, damaged: dict[str, EntryBlobDamaged],
                      index: Index) -> VerifyProblems:
    """A point whose manifest cannot be read because an entry blob (format 3)
    has no intact copy: its "manifest corrupt" problem names the blob and pack
    (and a lost index file, if the index lacks the blob)."""
    if not damaged:
        return problems
    for i, p in enumerate(problems):
        exc = damaged.get(p.point_id)
        if exc is not None and p.problem == "manifest corrupt" and not p.blob:
            problems[i] = replace(p, blob=exc.blob, pack=exc.pack)
    if any(exc.pack is None for exc in damaged.values()) and not any(
            "not listed in the repository's index" in p.detail for p in problems):
        unindexed = index.unindexed_packs()
        if unindexed:
            problems.append(BlobProblem(
                "", "", None, "damaged", [],
                f"{len(unindexed)} pack file(s) are not listed in the repository's index (an "
                f"index file was lost) and may hold the missing blocks; {REPAIR_HINT} to "
                "rebuild the index from the packs"))
    return problems


def _exists(layout: Layout, name: str) -> bool:
    try:
        return layout.backend.exists(name)
    except OSError as exc:
        raise RepositoryError(
            f"Cannot read repository {layout.root}: {exc.strerror or exc}. Check that its "
            "storage is reachable and readable."
        ) from exc


def _valid_id(point_id: str) -> bool:
    return isinstance(point_id, str) and is_valid_point_id(point_id)


def _check_meta(meta: PointMeta) -> None:
    if not _valid_id(meta.id):
        raise ValueError(f"invalid point id {meta.id!r}")
    if meta.type not in POINT_TYPES:
        raise ValueError(f"point type must be one of {POINT_TYPES}, not {meta.type!r}")
    if meta.created.tzinfo is None:
        raise ValueError("point creation time must be timezone-aware")


def _enable_immutability(layout: Layout, days: int) -> None:
    try:
        immutability.check_days(days)
        immutability.enable(layout.backend, days)
    except ValueError as exc:
        raise RepositoryError(str(exc)) from None
    except RepositoryError:
        raise
    except OSError as exc:
        raise RepositoryError(f"{exc.strerror or exc}.") from None


def _open_immutable(layout: Layout, asked: int | None) -> None:
    """Apply the repository's own immutability, or record the one asked for
    (locking what is already there)."""
    backend = layout.backend
    days = immutability.read_days(backend)
    if days is not None:
        if asked is not None and asked != days:
            raise RepositoryError(
                f"The repository at {layout.root} is already immutable for {days} day(s): "
                f"add it with --immutable-days {days}, or without the option.")
        if asked is None:
            _enable_immutability(layout, days)
        return
    if asked is None:
        return
    try:
        immutability.write_settings(backend, asked)
        count = immutability.lock_existing(backend)
    except OSError as exc:
        raise write_error(layout.root, exc, "the immutability settings") from exc
    log.info("repository %s made immutable for %d day(s): %d object(s) locked", layout.root,
             asked, count)


def _create(layout: Layout, config: RepoConfig, password: str | None,
            kdf: dict[str, int], immutable_days: int | None = None) -> tuple[Sealer, str | None]:
    """Make a new repository: the key first (with a password), config.json last,
    since it marks a complete repository."""
    backend = layout.backend
    if isinstance(backend, LocalBackend):
        backend.check_creatable()
    else:
        try:
            leftovers = next(iter(backend.list("")), None)
        except OSError as exc:
            raise write_error(layout.root, exc, "a new repository") from exc
        if leftovers is not None:
            raise RepositoryError(
                f"Cannot create a repository at {layout.root}: it is not empty and holds no "
                "repository. Choose an empty location."
            )
    try:
        if isinstance(backend, LocalBackend):
            backend.prepare(create=True)
        sealer: Sealer = PLAIN
        key_id: str | None = None
        if immutable_days is not None:
            immutability.write_settings(backend, immutable_days)
        if password is not None:
            sealer, key_id = create_key(backend, password, **kdf)
            backend.save(SEALED_CONFIG, sealer.seal(_canonical(config)))
        write_config(layout, config)
    except OSError as exc:
        raise write_error(layout.root, exc, "a new repository") from exc
    return sealer, key_id


def _canonical(config: RepoConfig) -> bytes:
    return json.dumps(asdict(config), sort_keys=True).encode()


def _refuse_downgrade(layout: Layout) -> None:
    """config.json is not sealed: a repository whose config says it is not
    encrypted while it holds keys had its config changed (backups would then
    be written in plaintext, and every encrypted pack look damaged)."""
    backend = layout.backend
    try:
        # config.sealed is only ever written together with a key
        keyed = next(iter(backend.list(KEYS)), None) is not None
    except OSError as exc:
        raise RepositoryError(
            f"Cannot read the keys of repository {layout.root}: {exc.strerror or exc}. Check "
            "that its storage is reachable and readable.") from exc
    if keyed:
        raise RepositoryError(
            f"{layout.describe(CONFIG)} says the repository is not encrypted, but it holds "
            "encryption keys: the config was changed. Restore config.json from a copy (its "
            f"encryption must be {ENCRYPTION_AES}); nothing was changed.")


def _check_sealed_config(layout: Layout, sealer: Sealer, config: RepoConfig) -> RepoConfig:
    """Compare config.json with the copy sealed under the master key when the
    repository was created. A repository made by an older build has none: it
    gets one now (a read-only one is left as it is). On an immutable
    repository, a config.json or config.sealed written over falls back to the
    older locked version that matches the other: the config to use is returned."""
    backend = layout.backend
    lock = immutability.object_lock(backend)
    seen = lock.serving(SEALED_CONFIG) if lock is not None else None
    seen_config = lock.serving(CONFIG) if lock is not None else None
    try:
        sealed = backend.load(SEALED_CONFIG)
    except FileNotFoundError:
        try:
            backend.save(SEALED_CONFIG, sealer.seal(_canonical(config)))
        except OSError as exc:
            log.warning("cannot store the sealed copy of the config of %s: %s", layout.root,
                        exc.strerror or exc)
        return config
    except OSError as exc:
        raise RepositoryError(
            f"Cannot read {layout.describe(SEALED_CONFIG)}: {exc.strerror or exc}. Check that "
            "the repository storage is reachable and readable.") from exc

    def matching(data: bytes) -> dict[str, Any]:
        doc = json.loads(sealer.open(data))
        if doc != asdict(config):
            raise ValueError("it does not match config.json")
        return dict(doc)

    try:
        stored = json.loads(sealer.open(sealed))
        if not isinstance(stored, dict):
            raise ValueError("not a JSON object")
    except (RepositoryError, ValueError) as exc:
        # an immutable repository's older locked version may be ours
        if immutability.fall_back(backend, SEALED_CONFIG, seen, str(exc) or "it does not open",
                                  matching)[0]:
            return config
        raise RepositoryError(
            f"{layout.describe(SEALED_CONFIG)}, the sealed copy of the repository's config, "
            "cannot be opened with its key: it was changed. Restore it and config.json from "
            "a copy of the repository; nothing was changed.") from None
    if stored == asdict(config):
        return config

    def as_sealed(data: bytes) -> RepoConfig:
        older = parse_config(data)
        if asdict(older) != stored:
            raise ValueError("it does not match config.sealed")
        return older

    done, older_config = immutability.fall_back(
        backend, CONFIG, seen_config, "it differs from the sealed copy of the config",
        as_sealed)
    if done and older_config is not None:
        return older_config
    if not immutability.fall_back(backend, SEALED_CONFIG, seen, "it does not match "
                                  "config.json", matching)[0]:
        changed = ", ".join(sorted(k for k in set(stored) | set(asdict(config))
                                   if stored.get(k) != asdict(config).get(k)))
        raise RepositoryError(
            f"{layout.describe(CONFIG)} differs from the sealed copy written when the "
            f"repository was created ({changed}): the config was changed. Restore "
            "config.json from a copy of the repository; nothing was changed.")
    return config


def _unlock(backend: Backend, password: str | None) -> tuple[Sealer, str]:
    try:
        return unlock(backend, password)  # type: ignore[arg-type]
    except OSError as exc:
        raise RepositoryError(
            f"Cannot read the keys of repository {backend.location}: {exc.strerror or exc}. "
            "Check that its storage is reachable and readable."
        ) from exc
