"""The backup server's facade. Front ends (the console, the CLI) use only this.

Every method is synchronous and thread-safe. A method may touch the disk, so
the GUI calls it from a worker thread, never from the GUI thread. Errors are
raised as :class:`core.errors.ConsoleError` subclasses with operator-facing
messages.
"""
from __future__ import annotations

import logging
import os
import threading
from datetime import datetime
from pathlib import Path
from collections.abc import Callable

from .agent import agent_for
from .api import BulkResult, RestoreReport, StopPreview, VerifyProblem, VerifyReport
from .catalogue import Catalogue
from .engine import EngineContext, SessionRunner, new_session_id
from .errors import ConsoleError, InvalidInput, JobStateError, RestoreError
from .events import Event, EventBus, JobsChanged, PointsChanged, SessionChanged
from .hooks import NO_HOOKS, EngineHooks
from .models import (
    JobDefinition,
    JobInfo,
    JobStatus,
    PointType,
    RestorePointInfo,
    RunKind,
    SessionInfo,
    SessionState,
    StopMode,
    TaskInfo,
    TaskStatus,
    utcnow,
)
from .ownership import DataDirOwnership
from .paths import catalogue_path, default_repository_path
from .repository import Repository
from .scheduling import Scheduler


DEFAULT_REPOSITORY = "Default Backup Repository"
RETRY_STATUSES = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.SKIPPED})


class BackupService:
    """The backup server. One instance per process and data directory."""

    def __init__(self, data_dir: Path, *, hooks: EngineHooks | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.data_dir = Path(data_dir)
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise InvalidInput(f"Data directory {self.data_dir} is a file, not a folder. "
                               "Choose another one with --data-dir.")
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(f"Cannot use data directory {self.data_dir}: {exc.strerror}. "
                               "Choose another one with --data-dir.") from exc
        # Every session, write and schedule of this data directory is ours alone.
        self._ownership = DataDirOwnership.acquire(self.data_dir)
        try:
            self.catalogue = Catalogue(catalogue_path(self.data_dir))
            self._events = EventBus()
            self._runners: dict[str, SessionRunner] = {}
            self._runners_lock = threading.Lock()
            self._repos: dict[str, Repository] = {}
            self._repos_lock = threading.Lock()
            self._ctx = EngineContext(self.catalogue, self._events, hooks or NO_HOOKS,
                                      self._repository, self._repository_name)
            self.catalogue.fail_interrupted_sessions()
            self._reconcile_points()
            self._scheduled_sessions: set[str] = set()
            self.scheduler = Scheduler(self, self.catalogue, clock=clock or utcnow,
                                       log=logging.getLogger("core.scheduler"))
            self._scheduler_thread: threading.Thread | None = None
            self._scheduler_stop = threading.Event()
            self._scheduler_wake = threading.Event()
            self._events.subscribe(self._wake_scheduler)
        except BaseException:
            self._ownership.release()
            raise

    @classmethod
    def open(cls, data_dir: Path, **kwargs) -> BackupService:
        return cls(data_dir, **kwargs)

    # -- events --------------------------------------------------------------
    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        return self._events.subscribe(listener)

    def close(self) -> None:
        """Let go of the data directory. Sessions still running go on in this
        process until it exits; stop them first to end them."""
        self._scheduler_stop.set()
        self._scheduler_wake.set()
        if self._scheduler_thread is not None:
            self._scheduler_thread.join(5)
        self.catalogue.close()
        self._ownership.release()

    def ownership_update(self, **info: object) -> None:
        self._ownership.update(**info)

    # -- scheduler -------------------------------------------------------------
    def start_scheduler(self) -> None:
        """Run scheduled jobs from now on (the server does; tests call tick())."""
        if self._scheduler_thread is None:
            self._scheduler_thread = threading.Thread(
                target=self.scheduler.run, args=(self._scheduler_stop, self._scheduler_wake),
                name="scheduler", daemon=True)
            self._scheduler_thread.start()

    def _wake_scheduler(self, event: Event) -> None:
        if isinstance(event, JobsChanged):
            self._scheduler_wake.set()

    def has_schedules(self) -> bool:
        return any(j.enabled and j.schedule is not None for j in self.catalogue.jobs())

    def scheduled_jobs(self) -> list[JobDefinition]:
        return [j for j in self.catalogue.jobs() if j.schedule is not None]

    def is_running(self, name: str) -> bool:
        return self.catalogue.active_session(name) is not None

    def start_scheduled(self, name: str, *, retry: bool) -> str:
        return self._start(name, full=False, retry=retry, kind=RunKind.SCHEDULED)

    # -- repositories ----------------------------------------------------------
    def _repository_name(self, name: str) -> str:
        if name.strip().lower() in (DEFAULT_REPOSITORY.lower(), "default", ""):
            return DEFAULT_REPOSITORY
        raise InvalidInput(f"Unknown backup repository '{name}'. "
                           f"Use '{DEFAULT_REPOSITORY}'.")

    def _repository(self, name: str) -> Repository:
        name = self._repository_name(name)
        with self._repos_lock:
            repo = self._repos.get(name)
            if repo is None:
                repo = Repository.open(default_repository_path(self.data_dir), create=True)
                self._repos[name] = repo
            return repo

    def _reconcile_points(self) -> None:
        """The repository is the truth: import points whose manifest was committed
        but not yet catalogued (a crash in between), drop rows whose manifest is gone."""
        path = default_repository_path(self.data_dir)
        if not path.exists():
            return
        try:
            repo = self._repository(DEFAULT_REPOSITORY)
            on_disk = {m.id: m for m in repo.list_points()}
        except ConsoleError:
            return
        catalogued = {p.id for p in self.catalogue.points()}
        for pid in on_disk.keys() - catalogued:
            m = on_disk[pid]
            self.catalogue.add_point(RestorePointInfo(
                id=m.id, job=m.job, computer=m.computer, session_id=m.session_id,
                type=PointType(m.type), created=m.created, files=m.files, size=m.size,
                repository=DEFAULT_REPOSITORY))
        gone = sorted(catalogued - on_disk.keys())
        if gone:
            self.catalogue.remove_points(gone)

    # -- jobs ------------------------------------------------------------------
    def _validate(self, definition: JobDefinition) -> JobDefinition:
        self._repository_name(definition.repository)
        for computer in definition.computers:
            agent_for(computer).check()
        return definition.model_copy(
            update={"repository": self._repository_name(definition.repository)})

    def create_job(self, definition: JobDefinition) -> None:
        self.catalogue.add_job(self._validate(definition))
        self._events.publish(JobsChanged())

    def update_job(self, name: str, definition: JobDefinition) -> None:
        current = self.catalogue.job(name)
        if definition.name != current.name and self.catalogue.active_session(name):
            raise JobStateError(f"Job '{name}' is running; stop it before renaming it.")
        self.catalogue.replace_job(name, self._validate(definition))
        self._events.publish(JobsChanged())

    def delete_job(self, name: str, *, delete_backups: bool = False) -> None:
        job = self.catalogue.job(name)
        if self.catalogue.active_session(job.name):
            raise JobStateError(f"Job '{job.name}' is running. Stop it before deleting it.")
        if delete_backups:
            points = self.catalogue.points(job.name)
            if points:
                repo = self._repository(job.repository)
                repo.forget([p.id for p in points])
                self.catalogue.remove_points([p.id for p in points])
                repo.prune()
                self._events.publish(PointsChanged(job.name))
        self.catalogue.delete_job(job.name)
        self._events.publish(JobsChanged())

    def set_job_enabled(self, name: str, enabled: bool) -> None:
        job = self.catalogue.job(name)
        self.catalogue.replace_job(job.name, job.model_copy(update={"enabled": enabled}))
        self._events.publish(JobsChanged())

    def get_job(self, name: str) -> JobInfo:
        job = self.catalogue.job(name)
        latest = self.catalogue.latest_sessions().get(job.name)
        return self._job_info(job, latest)

    def list_jobs(self) -> list[JobInfo]:
        latest = self.catalogue.latest_sessions()
        return [self._job_info(j, latest.get(j.name)) for j in self.catalogue.jobs()]

    def _job_info(self, job: JobDefinition, latest: SessionInfo | None) -> JobInfo:
        if latest is not None:
            runner = self._runners.get(latest.id)
            if runner is not None:
                live = runner.snapshot()
                latest = live
        running = latest is not None and latest.state is not SessionState.STOPPED
        if running:
            status = JobStatus.STOPPING if latest.state is SessionState.STOPPING \
                else JobStatus.WORKING
        else:
            status = JobStatus.IDLE if job.enabled else JobStatus.DISABLED
        finished = latest if latest is not None and not running else (
            self.catalogue.latest_finished(job.name) if running else None)
        return JobInfo(
            definition=job, status=status, progress=latest.progress if running else 0,
            last_run=latest.created if latest else None,
            last_result=finished.result if finished else None,
            next_run=self.scheduler.next_run(job),
            active_session_id=latest.id if running else None)

    # -- sessions --------------------------------------------------------------
    def start_job(self, name: str, *, full: bool = False, retry: bool = False) -> str:
        """A manual start: one more restore point per computer; Next Run stays."""
        return self._start(name, full=full, retry=retry,
                           kind=RunKind.RETRY if retry else RunKind.MANUAL)

    def _start(self, name: str, *, full: bool, retry: bool, kind: RunKind) -> str:
        job = self.catalogue.job(name)
        if not job.enabled:
            raise JobStateError(f"Job '{job.name}' is disabled. Enable it before starting it.")
        computers = list(job.computers)
        if retry:
            wanted = set(self.retry_candidates(job.name))
            if not wanted:
                raise JobStateError(f"Nothing to retry: no computer of job '{job.name}' "
                                    "failed in its last session.")
            computers = [c for c in computers if c.name in wanted]
        session = SessionInfo(
            id=new_session_id(), job=job.name, state=SessionState.STARTING,
            run_kind=kind, full=full, created=utcnow(),
            tasks=[TaskInfo(computer=c.name) for c in computers])
        self._repository(job.repository)  # fail early on a broken repository
        self.catalogue.create_session(session, owner_pid=os.getpid())
        if kind is RunKind.SCHEDULED:   # before it runs: a quick session must find it
            self._scheduled_sessions.add(session.id)
        runner = SessionRunner(self._ctx, job, session, on_finished=self._runner_finished)
        with self._runners_lock:
            self._runners[session.id] = runner
        runner.start()
        self._events.publish(SessionChanged(job.name, session.id))
        return session.id

    def _runner_finished(self, runner: SessionRunner) -> None:
        with self._runners_lock:
            self._runners.pop(runner.session.id, None)
        session_id = runner.session.id
        scheduled = session_id in self._scheduled_sessions
        self._scheduled_sessions.discard(session_id)
        failed = any(t.status in RETRY_STATUSES for t in runner.tasks)
        try:
            self.scheduler.session_finished(runner.job.name, session_id, failed=failed,
                                            scheduled=scheduled)
        except Exception:
            logging.getLogger(__name__).exception("scheduler bookkeeping failed")
        self._scheduler_wake.set()

    def running_jobs(self) -> list[str]:
        """Names of the jobs that have a session running."""
        with self._runners_lock:
            return [r.job.name for r in self._runners.values() if not r.finished]

    def start_jobs(self, names: list[str], *, full: bool = False,
                   retry: bool = False) -> BulkResult:
        result = BulkResult()
        for name in names:
            try:
                result.sessions[name] = self.start_job(name, full=full, retry=retry)
            except ConsoleError as exc:
                result.errors[name] = str(exc)
        return result

    def stop_jobs(self, names: list[str], mode: StopMode) -> BulkResult:
        result = BulkResult()
        for name in names:
            try:
                result.stopped[name] = self.stop_job(name, mode)
            except ConsoleError as exc:
                result.errors[name] = str(exc)
        return result

    def _active(self, name: str) -> tuple[JobDefinition, SessionInfo]:
        job = self.catalogue.job(name)
        active = self.catalogue.active_session(job.name)
        if active is None:
            raise JobStateError(f"Job '{job.name}' is not running; there is nothing to stop.")
        return job, active

    def stop_job(self, name: str, mode: StopMode) -> StopPreview:
        """Stop the job's session; returns where each computer stood at the
        moment the stop took effect."""
        job, active = self._active(name)
        runner = self._runners.get(active.id)
        if runner is None:
            raise JobStateError(f"Job '{job.name}' is not running; there is nothing to stop.")
        done, running, pending = runner.stop(mode)
        self._events.publish(SessionChanged(job.name, active.id))
        return StopPreview(job=job.name, session_id=active.id, completed=done,
                           in_progress=running, not_started=pending)

    def stop_preview(self, name: str) -> StopPreview:
        job, active = self._active(name)
        runner = self._runners.get(active.id)
        if runner is None:
            raise JobStateError(f"Job '{job.name}' is not running; there is nothing to stop.")
        done, running, pending = runner.preview()
        return StopPreview(job=job.name, session_id=active.id, completed=done,
                           in_progress=running, not_started=pending)

    def wait_session(self, session_id: str, timeout: float | None = None) -> SessionInfo:
        runner = self._runners.get(session_id)
        if runner is not None:
            runner.join(timeout)
        return self.get_session(session_id)

    def get_session(self, session_id: str) -> SessionInfo:
        runner = self._runners.get(session_id)
        if runner is not None:
            return runner.snapshot()
        return self.catalogue.session(session_id)

    def list_sessions(self, job: str | None = None, limit: int = 200) -> list[SessionInfo]:
        if job is not None:
            job = self.catalogue.job(job).name
        sessions = self.catalogue.sessions(job, limit)
        return [self._runners[s.id].snapshot() if s.id in self._runners else s
                for s in sessions]

    def retry_candidates(self, name: str) -> list[str]:
        job = self.catalogue.job(name)
        last = self.catalogue.latest_finished(job.name)
        if last is None:
            return []
        current = {c.name for c in job.computers}
        return [t.computer for t in last.tasks
                if t.status in RETRY_STATUSES and t.computer in current]

    # -- restore points ------------------------------------------------------
    def list_points(self, job: str | None = None) -> list[RestorePointInfo]:
        return self.catalogue.points(job)

    def restore(self, point_id: str, target: Path) -> RestoreReport:
        point = self.catalogue.point(point_id)
        target = Path(target).expanduser().resolve()
        if target == self.data_dir.resolve() or self.data_dir.resolve() in target.parents:
            raise RestoreError(f"Cannot restore into {target}: it is inside the console's "
                               "data directory. Choose a folder outside it.")
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise RestoreError(f"Restore target {target} is not an empty folder. Choose a "
                               "new or empty folder so that no existing file is overwritten.")
        stats = self._repository(point.repository).restore(point.id, target)
        return RestoreReport(point_id=point.id, target=str(target), files=stats.files,
                             dirs=stats.dirs, symlinks=stats.symlinks, bytes=stats.bytes)

    def verify(self, point_id: str | None = None) -> VerifyReport:
        points = [self.catalogue.point(point_id)] if point_id else self.catalogue.points()
        if not points:
            return VerifyReport(points_checked=0, blobs_checked=0, problems=[])
        repo = self._repository(DEFAULT_REPOSITORY)
        problems = repo.verify([p.id for p in points])
        return VerifyReport(
            points_checked=problems.points_checked, blobs_checked=problems.blobs_checked,
            problems=[VerifyProblem(point_id=p.point_id, blob=p.blob, pack=p.pack,
                                    problem=p.problem, paths=list(p.paths)) for p in problems])

    def setup_demo(self) -> list[str]:
        """Create the demo computers and jobs that are missing; returns new job names."""
        from .demo import setup_demo

        return setup_demo(self)

    def repository_point_ids(self) -> set[str]:
        """Ids of the points whose manifests are committed on disk."""
        return {m.id for m in self._repository(DEFAULT_REPOSITORY).list_points()}

    def repository_stats(self):
        return self._repository(DEFAULT_REPOSITORY).stats()
