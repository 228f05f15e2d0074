"""The backup server's facade. Front ends (the console, the CLI) use only this.

Every method is synchronous and thread-safe. A method may touch the disk, so
the GUI calls it from a worker thread, never from the GUI thread. Errors are
raised as :class:`core.errors.ConsoleError` subclasses with operator-facing
messages.

:class:`BackupService` owns the data directory (its ownership, the catalogue),
builds the shared :class:`~core.service.context.ServiceContext` and one desk
per concern on it, runs the scheduler loop, and hands every public method to
its desk:

- :mod:`core.service.jobs`: job definitions and the job list's rows;
- :mod:`core.service.sessions`: starting and stopping sessions, their live view;
- :mod:`core.service.points`: browse, restore, verify, repair, delete backups;
- :mod:`core.service.repositories`: repositories, keys, passwords, S3 keys;
- :mod:`core.service.computers`: testing computers, previewing a scope;
- :mod:`core.service.pool`: the open repositories and reconciliation.
"""
from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from core.api import (
    HomeOverview, BulkResult, DeleteReport, RepositoryInfo, RepositoryKeyInfo, RepositorySpec,
    RestoreReport, NotificationTest, DiskUsage,
    RetentionPreview, ScopePreview, StopPreview, VerifyReport,
)
from core.catalogue import Catalogue, JobMetrics
from core.engine.context import EngineContext
from core.engine.hooks import NO_HOOKS, EngineHooks
from core.errors import InvalidInput, ReadOnlyError
from core.events import Event, EventBus, JobsChanged
from core.models import (
    Computer, FileScope, HistoryPage, HistoryQuery, JobDefinition, JobInfo,
    AuditCheck, AuditEntry, MaintenanceSettings, PointEntryInfo, RepairReport, RestorePointInfo, SessionInfo,
    SessionType, SshSettings, StopMode, utcnow, NotificationSettings,
    Me, Role, TotpSetup, UserChange, UserInfo,
)
from core.paths import catalogue_path
from core.repository import Manifest, RepoStats, Repository
from core.scheduling.deadlines import DeadlineKeeper
from core.service import demo
from core.service.audit import SCHEDULER, AuditTrail, acting_as
from core.service.users import LOCAL_ADMIN, Users
from core.service.computers import Computers
from core.service.context import ServiceContext
from core.service.jobs import Jobs
from core.service.maintenance import Maintenance
from core.service.overview import build_overview
from core.service.notifications import Notifications
from core.service.ownership import DataDirOwnership
from core.service.points import Points
from core.service.pool import RepositoryPool
from core.service.registry import Registry
from core.service.repositories import Repositories
from core.service.scheduler import Scheduler
from core.service import private_data
from core.process.private_files import make_dir
from core.service.sessions import Sessions

TIME_LOOP_MAX_S = 1.0   # deadlines and schedules are kept to about a second


class BackupService:
    """The backup server. One instance per process and data directory."""

    address = ""   # in-process: no server address

    def server_info(self) -> dict[str, Any] | None:
        return None   # in-process: there is no server process to describe

    def __init__(self, data_dir: Path, *, hooks: EngineHooks | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.data_dir = Path(data_dir)
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise InvalidInput(f"Data directory {self.data_dir} is a file, not a folder. "
                               "Choose another one with --data-dir.")
        try:
            make_dir(self.data_dir)
        except OSError as exc:
            raise InvalidInput(f"Cannot use data directory {self.data_dir}: {exc.strerror}. "
                               "Choose another one with --data-dir.") from exc
        # Every session, write and schedule of this data directory is ours alone.
        try:
            self._ownership = DataDirOwnership.acquire(self.data_dir)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise ReadOnlyError(
                    f"The data directory {self.data_dir} is read-only ({exc.strerror}): no "
                    "server can own it. Listing, restore and verify work without one; make it "
                    "writable to run or change jobs.") from exc
            raise
        try:
            # before the catalogue opens: SQLite gives its -wal and -shm the file's mode
            tightened = private_data.tighten_data_dir(self.data_dir)
            self.catalogue = Catalogue(catalogue_path(self.data_dir))
            registry = Registry(self.data_dir, self.catalogue)
            tightened.add(private_data.tighten_repositories(
                self.data_dir, [Path(e.location) for e in registry.entries()
                                if e.kind == "local"]))
            private_data.report(self.data_dir, tightened)
            events = EventBus()
            self._pool = RepositoryPool(self.catalogue, registry, events)
            now = clock or utcnow
            self.scheduler = Scheduler(self, self.catalogue, clock=now,
                                       log=logging.getLogger("core.scheduler"))
            self.deadlines = DeadlineKeeper(now)
            self._ctx = ServiceContext(
                data_dir=self.data_dir, catalogue=self.catalogue, events=events,
                registry=registry, pool=self._pool, trees=self._pool.trees,
                clock=now, scheduler=self.scheduler, deadlines=self.deadlines,
                scheduler_wake=threading.Event())
            self._jobs = Jobs(self._ctx)
            self.audit = AuditTrail(self.catalogue, now)
            self.users = Users(self.catalogue, self.audit)
            engine = EngineContext(self.catalogue, self._ctx.events, hooks or NO_HOOKS,
                                   self._pool.repository, self._pool.repository_name,
                                   clock=now)
            self._sessions = Sessions(self._ctx, engine)
            self._points = Points(self._ctx, self._sessions)
            self._sessions.start_health_check = self._points.start_health_check
            self._repositories = Repositories(self._ctx)
            self._computers = Computers(self._ctx)
            self._maintenance = Maintenance(self._ctx, hooks or NO_HOOKS)
            engine.maintenance_window = self._maintenance.window_text
            self._notifications = Notifications(self._ctx, self._jobs.list_jobs,
                                                self._repositories.list_repositories)
            self._sessions.notify_finished = self._notifications.session_finished
            self.catalogue.fail_interrupted_sessions()
            self._sessions.restore_paused()   # Paused stays Paused over a restart
            self._pool.reconcile_points()
            self._scheduler_thread: threading.Thread | None = None
            self._scheduler_stop = threading.Event()
            self._ctx.events.subscribe(self._wake_scheduler)
        except BaseException:
            self._ownership.release()
            raise

    @classmethod
    def open(cls, data_dir: Path, **kwargs: Any) -> BackupService:
        return cls(data_dir, **kwargs)

    # -- events ----------------------------------------------------------------
    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        return self._ctx.events.subscribe(listener)

    def close(self) -> None:
        """Let go of the data directory. Sessions still running go on in this
        process until it exits; stop them first to end them."""
        self._scheduler_stop.set()
        self._ctx.scheduler_wake.set()
        if self._scheduler_thread is not None:
            self._scheduler_thread.join(5)
        for operation in list(self._ctx.operations.values()):   # restores and verifies end here
            operation.cancel(by="by the server shutting down")
        for operation in list(self._ctx.operations.values()):
            operation.join(10)
        self._notifications.close()
        self._pool.close_all()
        self.catalogue.close()
        self._ownership.release()

    def ownership_update(self, **info: object) -> None:
        self._ownership.update(**info)

    # -- the maintenance window (core.service.maintenance) ----------------------
    def get_maintenance(self) -> MaintenanceSettings:
        """The server-wide maintenance window (none: backups prune themselves)."""
        return self._maintenance.get_maintenance()

    def set_maintenance(self, settings: MaintenanceSettings) -> MaintenanceSettings:
        """Set (or, with no window, remove) the maintenance window."""
        with self.audit.action("maintenance.set", after=settings.model_dump(mode="json")):
            return self._maintenance.set_maintenance(settings)

    # -- notifications (core.service.notifications) ------------------------------
    def get_notifications(self) -> NotificationSettings:
        """The server's notification settings (the SMTP password only as ``password_set``)."""
        return self._notifications.get_settings()

    def set_notifications(self, settings: NotificationSettings,
                          smtp_password: SecretStr | None = None) -> NotificationSettings:
        """Replace them; ``smtp_password`` None keeps the kept one, "" removes it."""
        with self.audit.action("notifications.set", after=settings.model_dump(mode="json"),
                               password_changed=smtp_password is not None):
            return self._notifications.set_settings(settings, smtp_password)

    def add_notification_url(self, url: str) -> NotificationSettings:
        with self.audit.action("notifications.add-url", url.split("://")[0] + "://..."):
            return self._notifications.add_url(url)

    def remove_notification_url(self, url: str) -> NotificationSettings:
        with self.audit.action("notifications.remove-url", url.split("://")[0] + "://..."):
            return self._notifications.remove_url(url)

    def test_notifications(self) -> list[NotificationTest]:
        """Send a test message to every destination now; what each said."""
        return self._notifications.test()

    def notification_status(self) -> dict[str, Any]:
        """Messages sent and failed since the server started, the last error."""
        return self._notifications.status()

    # -- scheduler -------------------------------------------------------------
    def start_scheduler(self) -> None:
        """Run scheduled jobs and keep deadlines from now on (the server does;
        tests call ``keep_time()`` on an injected clock instead)."""
        if self._scheduler_thread is None:
            self._scheduler_thread = threading.Thread(target=self._time_loop,
                                                      name="scheduler", daemon=True)
            self._scheduler_thread.start()

    def keep_time(self) -> float | None:
        """Start what is due and fire due deadlines at the clock's now; returns
        how long nothing is due (None: nothing scheduled)."""
        self.scheduler.tick()
        self.deadlines.check()
        try:
            self._maintenance.tick()
        except Exception:
            logging.getLogger(__name__).exception("could not start maintenance")
        self._notifications.tick()
        waits = [w for w in (self.scheduler.seconds_until_next(),
                             self.deadlines.seconds_until_next(),
                             self._notifications.seconds_until_next()) if w is not None]
        return min(waits) if waits else None

    def _time_loop(self) -> None:
        try:
            while not self._scheduler_stop.is_set():
                try:
                    wait = self.keep_time()
                except Exception:
                    logging.getLogger(__name__).exception("scheduler loop failed")
                    wait = None
                self._ctx.scheduler_wake.wait(min(TIME_LOOP_MAX_S, wait if wait is not None
                                                  else TIME_LOOP_MAX_S))
                self._ctx.scheduler_wake.clear()
        finally:
            self.catalogue.release_thread()

    def _wake_scheduler(self, event: Event) -> None:
        if isinstance(event, JobsChanged):
            self._ctx.scheduler_wake.set()

    # what the scheduler asks of its host (core.scheduling.SchedulerHost)
    def has_schedules(self) -> bool:
        """A job runs on a schedule, or a maintenance window is set: the server
        stays up for them (``--idle-exit``)."""
        return self._jobs.has_schedules() or self._maintenance.window_text() is not None \
            or self._notifications.keeps_server_up()

    def scheduled_jobs(self) -> list[JobDefinition]:
        return self._jobs.scheduled_jobs()

    def is_running(self, name: str) -> bool:
        return self._jobs.is_running(name)

    def start_scheduled(self, name: str, *, retry: bool) -> str:
        with acting_as(SCHEDULER), self.audit.action("session.start", name, retry=retry or None,
                                                      scheduled=True) as found:
            found["session"] = session = self._sessions.start_scheduled(name, retry=retry)
            return session

    # -- the repository pool (core.service.pool; tests reach into it) ----------
    def _repository(self, name: str) -> Repository:
        return self._pool.repository(name)

    def _load_manifest(self, point_id: str) -> Manifest:
        return self._pool.load_manifest(point_id)

    # -- jobs (core.service.jobs) ----------------------------------------------
    def create_job(self, definition: JobDefinition) -> None:
        with self.audit.action("job.create", definition.name,
                               after=definition.model_dump(mode="json")):
            self._jobs.create_job(definition)

    def update_job(self, name: str, definition: JobDefinition) -> None:
        with self.audit.action("job.edit", name) as found:
            found["before"] = self._jobs.get_job(name).definition.model_dump(mode="json")
            found["after"] = definition.model_dump(mode="json")
            self._jobs.update_job(name, definition)

    def delete_job(self, name: str, *, delete_backups: bool = False) -> None:
        with self.audit.action("job.delete", name, delete_backups=delete_backups or None):
            self._jobs.delete_job(name, delete_backups=delete_backups)

    def set_job_enabled(self, name: str, enabled: bool) -> None:
        with self.audit.action("job.enable" if enabled else "job.disable", name):
            self._jobs.set_job_enabled(name, enabled)

    def clone_job(self, name: str, new_name: str | None = None) -> JobInfo:
        with self.audit.action("job.clone", name) as found:
            clone = self._jobs.clone_job(name, new_name)
            found["clone"] = clone.name
            return clone

    def get_job(self, name: str) -> JobInfo:
        return self._jobs.get_job(name)

    def list_jobs(self, names: Sequence[str] | None = None) -> list[JobInfo]:
        """Every job (or the named ones; unknown names are left out), by name.
        One catalogue query whatever the number of jobs and sessions."""
        return self._jobs.list_jobs(names)

    # -- sessions (core.service.sessions) --------------------------------------
    def start_job(self, name: str, *, full: bool = False, retry: bool = False,
                  outside_window: bool = False) -> str:
        """A manual start: one more restore point per computer; Next Run stays.
        Outside the job's backup window it needs ``outside_window``."""
        with self.audit.action("session.start", name, full=full or None, retry=retry or None,
                               outside_window=outside_window or None) as found:
            found["session"] = session = self._sessions.start_job(
                name, full=full, retry=retry, outside_window=outside_window)
            return session

    def running_jobs(self) -> list[str]:
        """Names of the jobs that have a session running."""
        return self._sessions.running_jobs()

    def paused_jobs(self) -> list[str]:
        """Names of the jobs whose session is paused (they survive a restart)."""
        return self._ctx.paused_jobs()

    def working_jobs(self) -> list[str]:
        """The running jobs that are not paused: what a stop of the server must end."""
        paused = set(self.paused_jobs())
        return [name for name in self.running_jobs() if name not in paused]

    def start_jobs(self, names: list[str], *, full: bool = False, retry: bool = False,
                   outside_window: bool = False) -> BulkResult:
        outcome = self._sessions.start_jobs(names, full=full, retry=retry,
                                            outside_window=outside_window)
        self.audit.record_each("session.start", outcome, names, full=full or None,
                               retry=retry or None, outside_window=outside_window or None)
        return outcome

    def stop_jobs(self, names: list[str], mode: StopMode,
                  escalate_after_s: float | None = None) -> BulkResult:
        outcome = self._sessions.stop_jobs(names, mode, escalate_after_s)
        self.audit.record_each("session.stop", outcome, names, mode=mode.value,
                               deadline_s=escalate_after_s)
        return outcome

    def stop_job(self, name: str, mode: StopMode,
                 escalate_after_s: float | None = None) -> StopPreview:
        """Stop the job's session; returns where each computer stood at the
        moment the stop took effect. A graceful stop with ``escalate_after_s``
        becomes immediate if the session still runs that long after; the server
        keeps the deadline, so it holds with every console closed."""
        with self.audit.action("session.stop", name, mode=mode.value,
                               deadline_s=escalate_after_s):
            return self._sessions.stop_job(name, mode, escalate_after_s)

    def stop_preview(self, name: str) -> StopPreview:
        return self._sessions.stop_preview(name)

    def pause_job(self, name: str) -> StopPreview:
        """Hold the job's computers in flight at their next block; the session is Paused."""
        with self.audit.action("session.pause", name):
            return self._sessions.pause_job(name)

    def resume_job(self, name: str) -> StopPreview:
        """Let the job's paused computers go on where they stopped."""
        with self.audit.action("session.resume", name):
            return self._sessions.resume_job(name)

    def wait_session(self, session_id: str, timeout: float | None = None) -> SessionInfo:
        return self._sessions.wait_session(session_id, timeout)

    def get_session(self, session_id: str) -> SessionInfo:
        return self._sessions.get_session(session_id)

    def list_history(self, query: HistoryQuery) -> HistoryPage:
        """A page of session summaries (History): see HistoryQuery."""
        return self._sessions.list_history(query)

    def list_sessions(self, job: str | None = None, limit: int = 200) -> list[SessionInfo]:
        return self._sessions.list_sessions(job, limit)

    def get_overview(self, days: int = 7, time_zone: str | None = None) -> HomeOverview:
        """Home → Overview (core.service.overview): a few catalogue queries."""
        return build_overview(self.catalogue, self._ctx.clock(), days=days,
                              zone_name=time_zone, next_run=self.scheduler.next_run)

    def retry_candidates(self, name: str) -> list[str]:
        return self._sessions.retry_candidates(name)

    # -- restore points, restore and verify (core.service.points) --------------
    def list_points(self, job: str | None = None) -> list[RestorePointInfo]:
        return self._points.list_points(job)

    def disk_usage(self) -> DiskUsage:
        """The space restore points really take in their repositories: each point's new
        data, each job's and computer's blocks (dedup and compression), each repository's
        size on disk."""
        return self._points.disk_usage()

    def retention_preview(self, name: str) -> RetentionPreview:
        """Which of the job's points its retention keeps (and why) and which would go now."""
        return self._points.retention_preview(name)

    def browse_point(self, point_id: str, folder: str = "") -> list[PointEntryInfo]:
        """One folder of a restore point ("" is the computer's root)."""
        return self._points.browse_point(point_id, folder)

    def running_operations(self) -> list[str]:
        """Ids of the restore and verify sessions running."""
        return self._points.running_operations()

    def cancel_session(self, session_id: str) -> None:
        """Cancel a running restore or verify; a backup session is stopped
        immediately (as ``stop_job`` does)."""
        with self.audit.action("session.cancel", session_id):
            self._points.cancel_session(session_id)

    def start_restore(self, point_id: str, target: Path | None = None, *,
                      paths: list[str] | None = None, overwrite: bool = False) -> str:
        """Restore a point (or only ``paths`` of it) into ``target``, or into the
        computer's own folder when ``target`` is None (needs ``overwrite``).
        Files of the point replace files in the way; nothing else is deleted.
        Returns the Restore session's id at once; it runs in the background."""
        with self.audit.action("restore", point_id, paths=paths,
                               into=str(target) if target else "the original location",
                               overwrite=overwrite or None) as found:
            found["session"] = session = self._points.start_restore(
                point_id, target, paths=paths, overwrite=overwrite)
            return session

    def restore(self, point_id: str, target: Path, *, paths: list[str] | None = None,
                overwrite: bool = False) -> RestoreReport:
        """``start_restore`` into ``target`` and wait for it; raises its error."""
        with self.audit.action("restore", point_id, paths=paths, into=str(target),
                               overwrite=overwrite or None):
            return self._points.restore(point_id, target, paths=paths, overwrite=overwrite)

    def start_verify(self, point_id: str | None = None, *, job: str | None = None) -> str:
        """Verify one point, a job's points, or (neither given) everything: every
        point, every pack and index file. A Verify session; its log names the
        damaged files. Points found damaged are marked, points found intact lose
        their mark."""
        with self.audit.action("verify", point_id or job or "everything") as found:
            found["session"] = session = self._points.start_verify(point_id, job=job)
            return session

    def verify(self, point_id: str | None = None) -> VerifyReport:
        """``start_verify`` and wait for its report; raises its error."""
        with self.audit.action("verify", point_id or "everything"):
            return self._points.verify(point_id)

    def delete_backups(self, job: str, computer: str | None = None) -> DeleteReport:
        """Delete a job's restore points (or one computer's) from disk, then
        reclaim their space."""
        with self.audit.action("backups.delete", job, computer=computer):
            return self._points.delete_backups(job, computer)

    def repair(self) -> RepairReport:
        """Rebuild the repository's index from its packs, drop damaged copies
        (salvaging the intact blocks of their packs) and re-mark the points."""
        with self.audit.action("repair"):
            return self._points.repair()

    # -- backup infrastructure: repositories (core.service.repositories) -------
    def list_repositories(self) -> list[RepositoryInfo]:
        """Every repository with its jobs and space; one that cannot be reached
        within a few seconds says why in ``problem``."""
        return self._repositories.list_repositories()

    def add_repository(self, spec: RepositorySpec) -> RepositoryInfo:
        """Register a repository, creating it when its location is empty; one
        that exists must open with the password given. Nothing is recorded
        unless it opens."""
        with self.audit.action("repository.add", spec.name, url=spec.url,
                               encrypted=spec.password is not None,
                               immutable_days=spec.immutable_days):
            return self._repositories.add_repository(spec)

    def test_repository(self, spec: RepositorySpec) -> str:
        """What ``add_repository`` would find there, in a sentence; raises when
        it would be refused. Creates nothing."""
        return self._repositories.test_repository(spec)

    def remove_repository(self, name: str) -> int:
        """Forget a repository (and the secrets kept for it); a repository jobs
        use is kept. Its data stays where it is: its restore points are no
        longer listed, and are again once it is added back. Returns how many
        points were forgotten."""
        with self.audit.action("repository.remove", name):
            return self._repositories.remove_repository(name)

    def list_repository_keys(self, name: str) -> list[RepositoryKeyInfo]:
        return self._repositories.list_repository_keys(name)

    def add_repository_key(self, name: str, password: SecretStr) -> str:
        """Another password for an encrypted repository; returns its key id."""
        with self.audit.action("repository.add-key", name) as found:
            found["key"] = key = self._repositories.add_repository_key(name, password)
            return key

    def remove_repository_key(self, name: str, key_id: str) -> None:
        with self.audit.action("repository.remove-key", name, key=key_id):
            self._repositories.remove_repository_key(name, key_id)

    def set_repository_password(self, name: str, password: SecretStr) -> None:
        """Keep ``password`` as the server's password of an encrypted
        repository, once it is checked to open it; a wrong one changes nothing."""
        with self.audit.action("repository.set-password", name):
            self._repositories.set_repository_password(name, password)

    def change_repository_password(self, name: str, new_password: SecretStr) -> str:
        """restic's ``key passwd``: a new key with the new password, kept as the
        server's password, then the key the server used is removed. Returns
        the new key's id."""
        with self.audit.action("repository.change-password", name) as found:
            found["key"] = key = self._repositories.change_repository_password(name, new_password)
            return key

    def set_repository_s3_keys(self, name: str, access_key_id: str,
                               secret_access_key: SecretStr) -> None:
        """Keep (or replace) the S3 keys of an S3 repository, once they are
        checked to reach its bucket."""
        with self.audit.action("repository.set-s3-keys", name, access_key_id=access_key_id):
            self._repositories.set_repository_s3_keys(name, access_key_id, secret_access_key)

    # -- computers (core.service.computers) ------------------------------------
    def test_computer(self, computer: Computer, ssh: SshSettings) -> str:
        """Connect to the computer as a backup would (SSH: the host key, the
        login, the path) and say so in a sentence; raises what is wrong."""
        return self._computers.test_computer(computer, ssh)

    def setup_demo(self) -> list[str]:
        """Create the demo computers and jobs that are missing; returns new job names."""
        with self.audit.action("demo.setup") as found:
            found["jobs"] = jobs = demo.setup_demo(self)
            return jobs

    def preview_scope(self, computers: list[Computer], scope: FileScope,
                      ssh: SshSettings | None = None) -> ScopePreview:
        """How many files, and how many bytes, a backup of ``scope`` would read
        on each computer now; a computer its agent cannot read gets an error."""
        return self._computers.preview_scope(computers, scope, ssh)

    # -- metrics (GET /metrics reads these at every scrape) ----------------------
    def job_metrics(self) -> list[JobMetrics]:
        """Every job's newest finished backup session (result, duration, bytes read
        and stored) and the end of its newest successful one; one catalogue query."""
        return self.catalogue.job_metrics()

    def running_session_counts(self) -> dict[SessionType, int]:
        """Sessions running now, by type (from the catalogue)."""
        return self.catalogue.running_session_counts()

    # -- the audit trail (core.service.audit) -----------------------------------
    def list_audit(self, since: datetime | None = None, user: str | None = None,
                   limit: int = 1000) -> list[AuditEntry]:
        """The audit trail, newest first: who did what, when, from where."""
        return self.audit.entries(since, user, limit)

    def verify_audit(self) -> AuditCheck:
        """Check the audit trail's hash chain; names the first row that does not fit."""
        return self.audit.check()

    # -- named users (core.service.users) --------------------------------------
    def list_users(self) -> list[UserInfo]:
        return self.users.list_users()

    def add_user(self, name: str, role: Role, password: SecretStr,
                 restore_to: list[str] | None = None) -> UserInfo:
        return self.users.add_user(name, role, password, restore_to)

    def change_user(self, name: str, change: UserChange) -> UserInfo:
        return self.users.change_user(name, change)

    def remove_user(self, name: str) -> None:
        self.users.remove_user(name)

    def set_user_totp(self, name: str, enabled: bool) -> TotpSetup | None:
        return self.users.set_user_totp(name, enabled)

    def whoami(self) -> Me:
        """In the server's own process: the server's own user, an administrator (the
        REST API answers for the request's user instead)."""
        return LOCAL_ADMIN.me()

    # -- the repository pool again: what the checks and tests read -------------
    def repository_point_ids(self) -> set[str]:
        """Ids of the points whose manifests are committed, in every repository
        that holds catalogued points (and the data directory's own one)."""
        return self._pool.point_ids()

    def repository_stats(self) -> RepoStats:
        return self._pool.stats()
