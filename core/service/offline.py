"""The data directory without its server.

* :class:`ReadOnlyService`: a read-only data directory (a mount remounted
  read-only, a snapshot, an immutable folder) cannot hold the server's socket
  or lock, so the CLI reads it in-process: jobs, points and sessions are
  listed from the catalogue opened read-only, and restore and verify read the
  repository under its shared lock. Every command that would change something
  says "read-only".
* :func:`rebuild_catalogue`: ``agent-jobs repair --catalogue``, with the
  server stopped: the damaged catalogue is moved aside and a new one is built
  from the repository's manifests, keeping every job still readable.
"""
from __future__ import annotations

import logging
import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr, ValidationError

from core.service import integrity
from core.api import (
    DiskUsage, HomeOverview, NotificationTest, RepositoryInfo, RestoreReport, RetentionPreview,
    VerifyReport, retention_preview,
)
from core.catalogue import Catalogue, JobRow, RepositoryRecord
from core.engine.points import point_info
from core.errors import ConsoleError, ReadOnlyError
from core.events import Event
from core.service.browse import TreeCache
from core.models import (
    Me,
    UserInfo,
    AuditCheck,
    AuditEntry,
    HistoryPage,
    HistoryQuery,
    JobDefinition,
    JobInfo,
    JobStatus,
    MaintenanceSettings,
    NotificationSettings,
    PointEntryInfo,
    RepairReport,
    RestorePointInfo,
    SessionInfo,
    SessionState,
    utcnow,
)
from core.service.maintenance import SETTINGS_KEY as MAINTENANCE_KEY
from core.service.overview import build_overview
from core.service.notifications.store import load_settings as load_notifications
from core.service.ownership import DataDirOwnership
from core.service.usage import UsageCache, disk_usage
from core.paths import (
    catalogue_path, checked_restore_target, default_repository_path, is_read_only,
)
from core.service.registry import (
    DEFAULT_REPOSITORY, S3_TIMEOUT_S, Entry as RepoEntry, Measure, Registry, close_repository,
    is_default, measure_all,
)
from core.repository import PointMeta, Repository
from core.repository.keys import DamagedKey

log = logging.getLogger(__name__)


class ReadOnlyService:
    """The reading half of :class:`core.api.BackupApi` on a read-only data directory."""

    address = ""   # in-process: no server address

    def server_info(self) -> dict[str, Any] | None:
        return None   # in-process: there is no server process to describe

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.catalogue = Catalogue(catalogue_path(self.data_dir), read_only=True)
        self._registry = Registry(self.data_dir, self.catalogue)
        self._repos: dict[str, Repository] = {}   # repository id -> open repository
        self._trees: TreeCache | None = None
        self._usage = UsageCache()

    def _refuse(self, what: str) -> ReadOnlyError:
        return ReadOnlyError(
            f"The data directory {self.data_dir} is read-only: {what} would change it. "
            "Listing jobs, points and sessions, restore and verify work; make it writable "
            "to run or change jobs.")

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise self._refuse(f"'{name.replace('_', ' ')}'")
        return refuse

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        return lambda: None

    def close(self) -> None:
        self.catalogue.close()
        for repo in self._repos.values():
            close_repository(repo)
        self._repos.clear()

    def _repository(self, name: str = DEFAULT_REPOSITORY) -> Repository:
        entry = self._registry.entry(name)
        if entry.id not in self._repos:
            self._repos[entry.id] = self._registry.open(entry, read_only=True)
        return self._repos[entry.id]

    def _point_repository(self, point_id: str) -> Repository:
        return self._repository(self.catalogue.point(point_id).repository)

    # -- the audit trail (read from the catalogue) ---------------------------------
    def list_audit(self, since: datetime | None = None, user: str | None = None,
                   limit: int = 1000) -> list[AuditEntry]:
        return self.catalogue.audit_entries(since=since, user=user, limit=limit)

    def verify_audit(self) -> AuditCheck:
        return self.catalogue.check_audit()

    # -- named users (read from the catalogue; changing them needs the server) -----
    def list_users(self) -> list[UserInfo]:
        from core.service.users import user_info
        return [user_info(r) for r in self.catalogue.list_user_records()]

    def whoami(self) -> Me:
        from core.service.users import LOCAL_ADMIN
        return LOCAL_ADMIN.me()

    # -- the maintenance window --------------------------------------------------
    def get_maintenance(self) -> MaintenanceSettings:
        text = self.catalogue.get_state(MAINTENANCE_KEY)
        try:
            return MaintenanceSettings.model_validate_json(text) if text \
                else MaintenanceSettings()
        except ValueError:
            return MaintenanceSettings()

    def set_maintenance(self, settings: MaintenanceSettings) -> MaintenanceSettings:
        raise self._refuse("setting the maintenance window")

    # -- notifications (read from the catalogue; changing them needs the server) ----
    def get_notifications(self) -> NotificationSettings:
        return load_notifications(self.catalogue)

    def set_notifications(self, settings: NotificationSettings,
                          smtp_password: SecretStr | None = None) -> NotificationSettings:
        raise self._refuse("changing the notification settings")

    def add_notification_url(self, url: str) -> NotificationSettings:
        raise self._refuse("adding a notification URL")

    def remove_notification_url(self, url: str) -> NotificationSettings:
        raise self._refuse("removing a notification URL")

    def test_notifications(self) -> list[NotificationTest]:
        raise self._refuse("sending a test notification")

    # -- jobs and sessions ---------------------------------------------------------
    def list_jobs(self, names: Sequence[str] | None = None) -> list[JobInfo]:
        return [self._job_info(r) for r in self.catalogue.job_rows(names)]

    def get_job(self, name: str) -> JobInfo:
        name = self.catalogue.job(name).name
        return self._job_info(self.catalogue.job_rows([name])[0])

    @staticmethod
    def _job_info(row: JobRow) -> JobInfo:
        job, latest = row.definition, row.latest
        finished = latest if latest is not None and latest.state is SessionState.STOPPED \
            else None
        return JobInfo(definition=job,
                       status=JobStatus.IDLE if job.enabled else JobStatus.DISABLED,
                       last_run=latest.created if latest else None,
                       last_result=finished.result if finished else None)

    def list_sessions(self, job: str | None = None, limit: int = 200) -> list[SessionInfo]:
        if job is not None:
            job = self.catalogue.job(job).name
        return self.catalogue.sessions(job, limit)

    def get_session(self, session_id: str) -> SessionInfo:
        return self.catalogue.session(session_id)

    def get_overview(self, days: int = 7, time_zone: str | None = None) -> HomeOverview:
        # no server runs here: nothing is scheduled to run
        return build_overview(self.catalogue, utcnow(), days=days, zone_name=time_zone,
                              next_run=lambda _job: None)

    def wait_session(self, session_id: str, timeout: float | None = None) -> SessionInfo:
        return self.catalogue.session(session_id)

    def retry_candidates(self, name: str) -> list[str]:
        return []

    def list_history(self, query: HistoryQuery) -> HistoryPage:
        return self.catalogue.history(query)

    def browse_point(self, point_id: str, folder: str = "") -> list[PointEntryInfo]:
        point = self.catalogue.point(point_id)
        if self._trees is None:
            self._trees = TreeCache(
                lambda pid: self._point_repository(pid).load_manifest(pid))
        return self._trees.get(point.id).list(folder)

    def list_repositories(self) -> list[RepositoryInfo]:
        found = []
        entries = self._registry.entries()
        measured = measure_all(entries, self._registry.s3_keys)
        for e in entries:
            m = measured[e.id] or Measure()
            jobs = [j.name for j in self.catalogue.jobs()
                    if (is_default(j.repository) if e.default
                        else j.repository.lower() == e.name.lower())]
            found.append(RepositoryInfo(
                name=e.name, kind=e.kind, location=e.location, encrypted=e.encrypted,
                default=e.default, jobs=jobs, used_bytes=m.used, capacity_bytes=m.capacity,
                free_bytes=m.free, problem=m.problem or self._password_problem(e)))
        return found

    def _password_problem(self, entry: RepoEntry) -> str | None:
        try:
            return self._registry.password_problem(entry, timeout=S3_TIMEOUT_S)
        except DamagedKey as damaged:
            return str(damaged)   # a key object, not the password, is at fault
        except (OSError, ConsoleError):
            return None   # measure says why it cannot be read

    # -- restore points ------------------------------------------------------------
    def list_points(self, job: str | None = None) -> list[RestorePointInfo]:
        return self.catalogue.points(job)

    def disk_usage(self) -> DiskUsage:
        return disk_usage(self.catalogue.points(), self._repository, self._usage)

    def retention_preview(self, name: str) -> RetentionPreview:
        definition = self.catalogue.job(name)
        return retention_preview(definition, self.catalogue.points(definition.name))

    def restore(self, point_id: str, target: Path, *, paths: list[str] | None = None,
                overwrite: bool = False) -> RestoreReport:
        point = self.catalogue.point(point_id)
        target = checked_restore_target(self.data_dir, target, overwrite)
        stats = self._repository(point.repository).restore(point.id, target,
                                                           paths=paths or None)
        return RestoreReport(point_id=point.id, target=str(target), files=stats.files,
                             dirs=stats.dirs, symlinks=stats.symlinks, bytes=stats.bytes)

    def verify(self, point_id: str | None = None) -> VerifyReport:
        """As the server's verify (every repository that holds points, when no
        point is named); damage found cannot be recorded here."""
        points = self.catalogue.points()
        if point_id:
            point = self.catalogue.point(point_id)
            mine = [p.id for p in points if p.repository == point.repository]
            return _without_retired(
                integrity.verify(self._repository(point.repository), mine, point.id)[0], points)
        names = list(dict.fromkeys(
            [DEFAULT_REPOSITORY] + [p.repository for p in points]))
        total = VerifyReport(points_checked=0, blobs_checked=0, problems=[])
        for name in names:
            mine = [p.id for p in points if p.repository == name]
            if name == DEFAULT_REPOSITORY and not mine and \
                    not default_repository_path(self.data_dir).exists():
                continue
            report = integrity.verify(self._repository(name), mine, None)[0]
            total.points_checked += report.points_checked
            total.blobs_checked += report.blobs_checked
            total.problems += report.problems
        return _without_retired(total, points)


def _without_retired(report: VerifyReport, points: list[RestorePointInfo]) -> VerifyReport:
    """Less the imported points whose manifest is gone: the server that wrote
    them removed them, which is no damage (the server drops them from its list)."""
    imported = {p.id for p in points if p.imported}
    kept = [p for p in report.problems
            if not (p.point_id in imported and p.problem == "manifest missing")]
    return report.model_copy(update={"problems": kept})


# -- rebuilding the catalogue ------------------------------------------------------------


def _salvage_jobs(path: Path) -> tuple[list[JobDefinition], int]:
    """(jobs still readable from a damaged catalogue, jobs that are not)."""
    if not path.exists():
        return [], 0
    jobs: list[JobDefinition] = []
    lost = 0
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    except sqlite3.Error:
        return [], 0
    try:
        try:
            rows = conn.execute("SELECT name, definition FROM jobs").fetchall()
        except sqlite3.Error:
            rows = []
            names = _names_one_by_one(conn)
            for name in names:
                try:
                    rows += conn.execute("SELECT name, definition FROM jobs WHERE name=?",
                                         (name,)).fetchall()
                except sqlite3.Error:
                    lost += 1
        for name, definition in rows:
            try:
                jobs.append(JobDefinition.model_validate_json(definition))
            except (ValidationError, ValueError, TypeError):
                log.warning("job %r in the damaged catalogue is unreadable", name)
                lost += 1
    finally:
        conn.close()
    return jobs, lost


def _salvage_repositories(path: Path) -> list[RepositoryRecord]:
    """The registered repositories still readable from a damaged catalogue."""
    if not path.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    found: list[RepositoryRecord] = []
    try:
        rows = conn.execute("SELECT id, name, kind, location, encrypted, created "
                            "FROM repositories").fetchall()
        for r in rows:
            try:
                found.append(RepositoryRecord(
                    id=str(r[0]), name=str(r[1]), kind=str(r[2]), location=str(r[3]),
                    encrypted=bool(r[4]), created=datetime.fromisoformat(str(r[5]))))
            except (TypeError, ValueError):
                log.warning("repository %r in the damaged catalogue is unreadable", r[1])
    except sqlite3.Error:
        pass   # an older catalogue, or the table is lost: only the default one is known
    finally:
        conn.close()
    return found


def _import_registered(data_dir: Path, cat: Catalogue, records: list[RepositoryRecord],
                       report: RepairReport) -> list[PointMeta]:
    """Register the salvaged repositories again and import their points; one
    that cannot be read now is imported when the server first opens it."""
    registry = Registry(data_dir, cat)
    metas: list[PointMeta] = []
    for record in records:
        try:
            cat.add_repository(record)
            repo = registry.open(registry.entry(record.name))
        except (ConsoleError, OSError) as exc:
            report.problems.append(f"repository '{record.name}' could not be read now "
                                   f"({exc}); its restore points are listed once the server "
                                   "can open it")
            continue
        try:
            found, unreadable = repo.point_health()
        finally:
            close_repository(repo)
        for pid, why in sorted(unreadable.items()):
            report.problems.append(f"restore point {pid} was not imported: {why}")
        for m in found:
            # A manifest without a server id: its session is lost with the old
            # catalogue, so whose it is cannot be told; imported is the safe side.
            cat.add_point(point_info(m, record.name, m.server or ""))
            report.points_imported += 1
        metas += found
    return metas


def _salvage_server_id(path: Path) -> str | None:
    """The server id of a damaged catalogue, if it can still be read."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT value FROM server_state WHERE key='server_id'").fetchone()
        return str(row[0]) if row is not None and row[0] else None
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def _names_one_by_one(conn: sqlite3.Connection) -> list[str]:
    names: list[str] = []
    try:
        for (name,) in conn.execute("SELECT name FROM jobs"):
            names.append(name)
    except sqlite3.Error:
        pass
    return names


def rebuild_catalogue(data_dir: Path) -> RepairReport:
    """Move the catalogue aside and build a new one: every readable job of the
    old one, every restore point of the repository. Needs the data directory
    (no server may run): raises DataDirBusy otherwise."""
    data_dir = Path(data_dir)
    if is_read_only(data_dir):
        raise ReadOnlyError(f"The data directory {data_dir} is read-only: the catalogue "
                            "cannot be rebuilt there. Make it writable first.")
    ownership = DataDirOwnership.acquire(data_dir, role="agent-jobs repair --catalogue")
    try:
        return _rebuild(data_dir)
    finally:
        ownership.release()


def _rebuild(data_dir: Path) -> RepairReport:
    path = catalogue_path(data_dir)
    report = RepairReport(catalogue_rebuilt=True)
    jobs, report.jobs_lost = _salvage_jobs(path)
    repositories = _salvage_repositories(path)
    server_id = _salvage_server_id(path)
    if path.exists():
        aside = path.with_name(f"{path.name}.damaged-{utcnow():%Y%m%d-%H%M%S}")
        for suffix in ("", "-wal", "-shm"):
            old = Path(f"{path}{suffix}")
            if old.exists():
                os.replace(old, Path(f"{aside}{suffix}"))
        report.catalogue_aside = str(aside)
    metas: list[PointMeta] = []
    repo_path = default_repository_path(data_dir)
    if repo_path.exists():
        with Repository.open(repo_path) as repo:
            metas, unreadable = repo.point_health()
        for pid, why in sorted(unreadable.items()):
            report.problems.append(f"restore point {pid} was not imported: {why}")
    cat = Catalogue(path)
    try:
        # The rebuilt catalogue keeps the server id its manifests carry: else every
        # point of this server would look imported from another one. Unreadable
        # in the old catalogue, it is the id the own repository's manifests name most.
        named = Counter(m.server for m in metas if m.server)
        server_id = server_id or (named.most_common(1)[0][0] if named else None)
        if server_id:
            cat.set_server_id(server_id)
        for job in jobs:
            try:
                cat.add_job(job)
                report.jobs_kept.append(job.name)
            except ConsoleError as exc:
                report.problems.append(f"job {job.name!r} was not kept: {exc}")
                report.jobs_lost += 1
        for m in metas:   # the data directory's own repository: no id is this server's
            cat.add_point(point_info(m, DEFAULT_REPOSITORY, m.server))
            report.points_imported += 1
        metas += _import_registered(data_dir, cat, repositories, report)
    finally:
        cat.close()
    orphans = sorted({m.job for m in metas} - {j.name for j in jobs})
    if orphans:
        report.problems.append(
            f"restore points of job(s) no longer defined were kept: {', '.join(orphans)}; "
            "create the job again with the same name to see them under it")
    return report
