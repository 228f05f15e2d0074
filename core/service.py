"""The backup server's facade. Front ends (the console, the CLI) use only this.

Every method is synchronous and thread-safe. A method may touch the disk, so
the GUI calls it from a worker thread, never from the GUI thread. Errors are
raised as :class:`core.errors.ConsoleError` subclasses with operator-facing
messages.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from collections.abc import Callable

from pydantic import BaseModel

from .agent import agent_for
from .catalogue import Catalogue
from .engine import EngineContext, SessionRunner, new_session_id
from .errors import ConsoleError, InvalidInput, JobStateError, RestoreError
from .events import CatalogueChanged, Event, EventBus, JobsChanged, PointsChanged, SessionChanged
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
from .paths import catalogue_path, default_repository_path
from .repository import Repository


class StopPreview(BaseModel):
    """What a stop would do to the job's current session, computer by computer."""

    job: str
    session_id: str
    completed: list[str]      # already have their new point: kept by both modes
    in_progress: list[str]    # get a point only if stopped gracefully
    not_started: list[str]    # get none in either mode

    @property
    def immediately_gets_point(self) -> list[str]:
        return list(self.completed)

    @property
    def gracefully_gets_point(self) -> list[str]:
        return self.completed + self.in_progress


class RestoreReport(BaseModel):
    point_id: str
    target: str
    files: int
    dirs: int
    symlinks: int
    bytes: int


class VerifyProblem(BaseModel):
    point_id: str
    blob: str
    pack: str | None
    problem: str          # "missing" | "corrupt"
    paths: list[str]      # files of the point that use this blob


class VerifyReport(BaseModel):
    points_checked: int
    blobs_checked: int
    problems: list[VerifyProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


DEFAULT_REPOSITORY = "Default Backup Repository"
WATCH_INTERVAL_S = 0.3
ORPHAN_CHECK_EVERY = 10  # watch ticks


class BackupService:
    """The backup server. One instance per process and data directory."""

    def __init__(self, data_dir: Path, *, hooks: EngineHooks | None = None,
                 watch: bool = True) -> None:
        self.data_dir = Path(data_dir)
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise InvalidInput(f"Data directory {self.data_dir} is a file, not a folder. "
                               "Choose another one with --data-dir.")
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(f"Cannot use data directory {self.data_dir}: {exc.strerror}. "
                               "Choose another one with --data-dir.") from exc
        self.catalogue = Catalogue(catalogue_path(self.data_dir))
        self._events = EventBus()
        self._runners: dict[str, SessionRunner] = {}
        self._runners_lock = threading.Lock()
        self._repos: dict[str, Repository] = {}
        self._repos_lock = threading.Lock()
        self._ctx = EngineContext(self.catalogue, self._events, hooks or NO_HOOKS,
                                  self._repository, self._repository_name)
        self.catalogue.fail_orphaned_sessions()
        self._reconcile_points()
        self._closing = threading.Event()
        self._watcher: threading.Thread | None = None
        if watch:
            self._watcher = threading.Thread(target=self._watch, name="catalogue-watch",
                                             daemon=True)
            self._watcher.start()

    @classmethod
    def open(cls, data_dir: Path, **kwargs) -> BackupService:
        return cls(data_dir, **kwargs)

    # -- events --------------------------------------------------------------
    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        return self._events.subscribe(listener)

    def close(self) -> None:
        self._closing.set()
        if self._watcher is not None:
            self._watcher.join(timeout=2)

    def _watch(self) -> None:
        """Publish CatalogueChanged when any process commits to the catalogue,
        and fail sessions whose process died."""
        version = self.catalogue.data_version()
        ticks = 0
        while not self._closing.wait(WATCH_INTERVAL_S):
            ticks += 1
            try:
                if ticks % ORPHAN_CHECK_EVERY == 0 and \
                        self.catalogue.fail_orphaned_sessions(live_pids={os.getpid()}):
                    self._events.publish(CatalogueChanged())
                current = self.catalogue.data_version()
            except Exception:
                continue
            if current != version:
                version = current
                self._events.publish(CatalogueChanged())

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

    def repositories(self) -> list[str]:
        return [DEFAULT_REPOSITORY]

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
            next_run=None, active_session_id=latest.id if running else None)

    # -- sessions --------------------------------------------------------------
    def start_job(self, name: str, *, full: bool = False, retry: bool = False) -> str:
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
            run_kind=RunKind.RETRY if retry else RunKind.MANUAL, full=full, created=utcnow(),
            tasks=[TaskInfo(computer=c.name) for c in computers])
        self._repository(job.repository)  # fail early on a broken repository
        self.catalogue.create_session(session, owner_pid=os.getpid())
        runner = SessionRunner(self._ctx, job, session, on_finished=self._runner_finished)
        with self._runners_lock:
            self._runners[session.id] = runner
        runner.start()
        self._events.publish(SessionChanged(job.name, session.id))
        return session.id

    def _runner_finished(self, runner: SessionRunner) -> None:
        with self._runners_lock:
            self._runners.pop(runner.session.id, None)

    def running_here(self) -> list[str]:
        """Names of jobs whose sessions run in this process."""
        with self._runners_lock:
            return [r.job.name for r in self._runners.values() if not r.finished]

    def _active(self, name: str) -> tuple[JobDefinition, SessionInfo]:
        job = self.catalogue.job(name)
        active = self.catalogue.active_session(job.name)
        if active is None:
            raise JobStateError(f"Job '{job.name}' is not running; there is nothing to stop.")
        return job, active

    def stop_job(self, name: str, mode: StopMode) -> StopPreview | None:
        """Stop the job's session. For a session run by this process, returns
        where each computer stood at the moment the stop took effect; for one
        run by another process, the request is queued and None is returned."""
        job, active = self._active(name)
        runner = self._runners.get(active.id)
        outcome = None
        if runner is not None:
            done, running, pending = runner.stop(mode)
            outcome = StopPreview(job=job.name, session_id=active.id, completed=done,
                                  in_progress=running, not_started=pending)
        else:
            self.catalogue.request_stop(active.id, mode)
        self._events.publish(SessionChanged(job.name, active.id))
        return outcome

    def stop_preview(self, name: str) -> StopPreview:
        job, active = self._active(name)
        runner = self._runners.get(active.id)
        if runner is not None:
            done, running, pending = runner.preview()
        else:
            done = [t.computer for t in active.tasks if t.status.produced_point]
            running = [t.computer for t in active.tasks if t.status is TaskStatus.IN_PROGRESS]
            pending = [t.computer for t in active.tasks if t.status is TaskStatus.PENDING]
        return StopPreview(job=job.name, session_id=active.id, completed=done,
                           in_progress=running, not_started=pending)

    def wait_session(self, session_id: str, timeout: float | None = None) -> SessionInfo:
        runner = self._runners.get(session_id)
        if runner is not None:
            runner.join(timeout)
            return self.get_session(session_id)
        waiter = threading.Event()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            session = self.catalogue.session(session_id)
            if session.state is SessionState.STOPPED:
                return session
            if deadline is not None and time.monotonic() >= deadline:
                return session
            waiter.wait(0.1)

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
        retry = {TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.SKIPPED}
        current = {c.name for c in job.computers}
        return [t.computer for t in last.tasks if t.status in retry and t.computer in current]

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
