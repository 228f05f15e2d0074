"""The backup server's facade. Front ends (the console, the CLI) use only this.

Every method is synchronous and thread-safe. A method may touch the disk, so
the GUI calls it from a worker thread, never from the GUI thread. Errors are
raised as :class:`core.errors.ConsoleError` subclasses with operator-facing
messages.
"""
from __future__ import annotations

import errno
import logging
import os
import threading
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import SecretStr

from core.agents.select import agent_for
from core.api import (
    BulkResult, ComputerEstimate, ComputerPreview, DeleteReport, RepositoryInfo,
    RepositoryKeyInfo, RepositorySpec, RestoreReport, ScopePreview, StopPreview, VerifyReport,
    restore_report, size_text, verify_problem_text, verify_report, report_damaged_paths,
)
from core.service.browse import TreeCache
from core.engine.operations import OperationCancelled, OperationRunner
from core.catalogue import Catalogue, JobRow
from core.engine.session import EngineContext, SessionRunner, new_session_id
from core.errors import (
    AlreadyExists, ConsoleError, InvalidInput, JobNotRunning, JobStateError, NotFound,
    OutsideBackupWindow, ReadOnlyError, RepositoryError, RestoreError,
)
from core.events import (
    CatalogueChanged, Event, EventBus, JobsChanged, PointsChanged, SessionChanged,
)
from core.engine.hooks import NO_HOOKS, EngineHooks
from core.service import integrity
from core.service.integrity import MANIFEST_DAMAGE, MANIFEST_MISSING, MANIFEST_UNREADABLE
from core.models import (
    Computer,
    FileScope,
    HistoryPage,
    HistoryQuery,
    JobDefinition,
    JobInfo,
    JobStatus,
    OperationInfo,
    PointEntryInfo,
    PointType,
    RepairReport,
    RestorePointInfo,
    RunKind,
    SessionInfo,
    SshSettings,
    SessionResult,
    SessionState,
    SessionType,
    StopMode,
    TaskInfo,
    TaskStatus,
    VerifyProblem,
    utcnow,
)
from core.service.ownership import DataDirOwnership
from core.paths import catalogue_path, checked_restore_target
from core.service import private_data
from core.process.private_files import make_dir
from core.repository import Manifest, PartialRestore, Repository
from core.service.registry import (
    DEFAULT_REPOSITORY, S3_TIMEOUT_S, Entry as RepoEntry, Location, Measure, Registry, S3Keys,
    check_name, close_repository, exclusive_lock, is_default, measure, measure_all,
    open_repository, parse_url, probe_empty_folder, repository_exists, s3_backend,
    spec_s3_keys, unlock_with,
)
from core.repository.keys import DamagedKey, WrongPassword, add_key, list_keys, remove_key
from core.repository.selection import normalise
from core.repository.verify import VerifyCancelled
from core.engine.estimates import eta_seconds, progress_percent
from core.scheduling import format_local, local_zone
from core.service.scheduler import Scheduler
from core.scheduling.deadlines import DeadlineKeeper


log = logging.getLogger(__name__)
T = TypeVar("T")
TIME_LOOP_MAX_S = 1.0   # deadlines and schedules are kept to about a second
RETRY_STATUSES = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.SKIPPED})
COMPUTER_TEST_TIMEOUT_S = 30.0


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
        self._unsaved: dict[str, SessionRunner] = {}   # ended, not yet in the catalogue
        try:
            # before the catalogue opens: SQLite gives its -wal and -shm the file's mode
            tightened = private_data.tighten_data_dir(self.data_dir)
            self.catalogue = Catalogue(catalogue_path(self.data_dir))
            self._events = EventBus()
            self._runners: dict[str, SessionRunner] = {}
            self._operations: dict[str, OperationRunner] = {}   # restores and verifies
            self._trees = TreeCache(self._load_manifest)
            self._runners_lock = threading.Lock()
            self._repos: dict[str, Repository] = {}   # repository id -> open repository
            self._repos_lock = threading.Lock()
            self._opening: dict[str, threading.Lock] = {}   # repository id -> its opener
            # repository id -> (the stored password checked, why it does not open it)
            self._password_checks: dict[str, tuple[str | None, str | None]] = {}
            self._registry = Registry(self.data_dir, self.catalogue)
            tightened.add(private_data.tighten_repositories(
                self.data_dir, [Path(e.location) for e in self._registry.entries()
                                if e.kind == "local"]))
            private_data.report(self.data_dir, tightened)
            self._ctx = EngineContext(self.catalogue, self._events, hooks or NO_HOOKS,
                                      self._repository, self._repository_name)
            self.catalogue.fail_interrupted_sessions()
            self._reconcile_points()
            self._scheduled_sessions: set[str] = set()
            self._clock = clock or utcnow
            self.scheduler = Scheduler(self, self.catalogue, clock=self._clock,
                                       log=logging.getLogger("core.scheduler"))
            self.deadlines = DeadlineKeeper(self._clock)
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
        for operation in list(self._operations.values()):   # restores and verifies end here
            operation.cancel(by="by the server shutting down")
        for operation in list(self._operations.values()):
            operation.join(10)
        with self._repos_lock:
            opened, self._repos = list(self._repos.values()), {}
        for repo in opened:
            try:
                close_repository(repo)
            except Exception:
                logging.getLogger(__name__).exception("closing a repository failed")
        self.catalogue.close()
        self._ownership.release()

    def ownership_update(self, **info: object) -> None:
        self._ownership.update(**info)

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
        waits = [w for w in (self.scheduler.seconds_until_next(),
                             self.deadlines.seconds_until_next()) if w is not None]
        return min(waits) if waits else None

    def _time_loop(self) -> None:
        try:
            while not self._scheduler_stop.is_set():
                try:
                    wait = self.keep_time()
                except Exception:
                    logging.getLogger(__name__).exception("scheduler loop failed")
                    wait = None
                self._scheduler_wake.wait(min(TIME_LOOP_MAX_S, wait if wait is not None
                                              else TIME_LOOP_MAX_S))
                self._scheduler_wake.clear()
        finally:
            self.catalogue.release_thread()

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
        full = not retry and self._active_full_due(name)
        return self._start(name, full=full, retry=retry, kind=RunKind.SCHEDULED)

    def _active_full_due(self, name: str) -> bool:
        """Today is one of the job's active full days, and no full session of
        today has ended other than Failed (the first scheduled run of the day)."""
        plan = self.catalogue.job(name).active_full
        if plan is None:
            return False
        zone = local_zone()
        today = self.scheduler.now().astimezone(zone).date()
        if not plan.applies(today):
            return False
        return not any(s.full and s.created.astimezone(zone).date() == today
                       and s.result is not SessionResult.FAILED
                       for s in self.catalogue.sessions(name, 50, type=SessionType.BACKUP))

    # -- repositories ----------------------------------------------------------
    def _repository_name(self, name: str) -> str:
        """The registered name of a repository (InvalidInput when unknown)."""
        return self._registry.entry(name).name

    def _repository(self, name: str) -> Repository:
        """The open repository of that name; opened once, shared by every
        session, closed by ``close()``. A registered repository is never
        created here: one whose disk is detached fails instead."""
        entry = self._registry.entry(name)
        with self._repos_lock:
            repo = self._repos.get(entry.id)
            if repo is not None:
                return repo
            opening = self._opening.setdefault(entry.id, threading.Lock())
        with opening:   # one opener per repository; others are not held up by it
            with self._repos_lock:
                repo = self._repos.get(entry.id)
            if repo is not None:
                return repo
            repo = self._registry.open(entry)
            with self._repos_lock:
                self._repos[entry.id] = repo
        if not entry.default:   # points a crash left uncatalogued, or added elsewhere
            self._reconcile_repository(entry, repo)
        return repo

    def _open_repositories(self) -> list[tuple[RepoEntry, Repository]]:
        with self._repos_lock:
            opened = dict(self._repos)
        return [(e, opened[e.id]) for e in self._registry.entries() if e.id in opened]

    def _reconcile_points(self) -> None:
        """The repository is the truth of what exists. Import points whose manifest
        was committed but not catalogued (a crash in between; their task gets the
        point too), finish removals a crash interrupted, and mark damaged, never
        drop, the points whose manifest is missing or unreadable. The data
        directory's repository is checked at every start; another one when it is
        first opened (and again here while it is open)."""
        default = self._registry.default_entry()
        path = Path(default.location)
        if not path.exists():
            self.catalogue.set_damaged({
                p.id: f"{MANIFEST_MISSING}: the repository {path} is missing (is its disk "
                      "attached?)" for p in self.catalogue.points() if is_default(p.repository)})
            return
        try:
            self._repository(DEFAULT_REPOSITORY)
        except ConsoleError:
            logging.getLogger(__name__).exception("cannot reconcile restore points")
            return
        for entry, repo in self._open_repositories():
            self._reconcile_repository(entry, repo)

    def _reconcile_repository(self, entry: RepoEntry, repo: Repository) -> None:
        def here(repository: str) -> bool:
            return is_default(repository) if entry.default \
                else repository.strip().lower() == entry.name.lower()

        try:
            metas, unreadable = repo.point_health()
        except (ConsoleError, OSError):
            logging.getLogger(__name__).exception("cannot reconcile restore points of %s",
                                                  entry.name)
            return
        catalogued: dict[str, RestorePointInfo] = {}
        elsewhere: set[str] = set()
        for p in self.catalogue.points():
            if here(p.repository):
                catalogued[p.id] = p
            else:
                elsewhere.add(p.id)
        on_disk = {m.id: m for m in metas if m.id not in elsewhere}
        forgetting = set(self.catalogue.forgetting_points()) - elsewhere
        if forgetting:
            repo.forget(sorted(forgetting))
            self.catalogue.remove_points(sorted(forgetting))
            for pid in forgetting:
                catalogued.pop(pid, None)
                on_disk.pop(pid, None)
                unreadable.pop(pid, None)
        for pid in on_disk.keys() - catalogued.keys():
            m = on_disk[pid]
            server = self._writer_of(m.server, m.session_id, entry)
            self.catalogue.add_point(RestorePointInfo(
                id=m.id, job=m.job, computer=m.computer, session_id=m.session_id,
                type=PointType(m.type), created=m.created, files=m.files, size=m.size,
                repository=entry.name, server=server))
            if server == self.catalogue.server_id:   # a crash between commit and catalogue
                self.catalogue.record_recovered_point(m.session_id, m.computer, m.id)
        damage: dict[str, str | None] = {}
        retired: list[RestorePointInfo] = []
        for pid, point in catalogued.items():
            if pid in unreadable:
                damage[pid] = f"{MANIFEST_UNREADABLE}: {unreadable[pid]}"
            elif pid not in on_disk:
                if point.imported:
                    retired.append(point)
                    continue
                damage[pid] = (f"{MANIFEST_MISSING}: repository {entry.location} holds no "
                               "manifest for this point")
            elif point.damaged and point.damaged.startswith(MANIFEST_DAMAGE):
                damage[pid] = None   # readable again (a file put back from a copy)
        self.catalogue.set_damaged(damage)
        self._drop_retired(entry, retired)

    def _writer_of(self, server: str | None, session_id: str, entry: RepoEntry) -> str:
        """Which server wrote a point found in a repository. A manifest written
        before servers had ids is this server's when its session is in this
        catalogue or it is in the data directory's own repository, else
        another's ('' : unknown), so that nothing here ever removes it."""
        if server:
            return server
        if entry.default or self.catalogue.has_session(session_id):
            return self.catalogue.server_id
        return ""

    def _drop_retired(self, entry: RepoEntry, points: list[RestorePointInfo],
                      note: Callable[[str], None] | None = None) -> None:
        """Imported points whose manifest is gone: the server that wrote them
        removed them (its retention, its Delete from Disk). They leave the list,
        with a note; this is not damage."""
        if not points:
            return
        self.catalogue.remove_points([p.id for p in points])
        self._trees.forget([p.id for p in points])
        for p in points:
            text = (f"Restore point {p.id} of job '{p.job}', computer '{p.computer}' "
                    f"({p.created:%Y-%m-%d %H:%M} UTC) was imported from another backup server "
                    f"sharing repository '{entry.name}', which has removed it: it is no "
                    "longer listed")
            log.info("%s", text)
            if note is not None:
                note(text)
        for job in sorted({p.job for p in points}):
            self._events.publish(PointsChanged(job))

    def _retry_unsaved(self, job: str | None = None) -> None:
        """Save sessions whose final record could not be written (a full disk);
        for ``job``, raise the error if its session still cannot be saved."""
        if not self._unsaved:
            return
        saved = False
        for sid, runner in list(self._unsaved.items()):
            try:
                self.catalogue.save_session(runner.snapshot())
            except ConsoleError:
                if runner.job.name.lower() == (job or "").lower():
                    raise
                continue
            self._unsaved.pop(sid, None)
            saved = True
        if saved:
            self._reconcile_points()

    # -- jobs ------------------------------------------------------------------
    def _validate(self, definition: JobDefinition) -> JobDefinition:
        repository = self._repository_name(definition.repository)
        for computer in definition.computers:
            if computer.agent == "local":   # a computer over SSH may be offline now
                agent_for(computer).check()
        return definition.model_copy(update={"repository": repository})

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
        if delete_backups:   # this server's points; imported ones stay their server's
            points = [p for p in self.catalogue.points(job.name) if not p.imported]
            for repository, ids in _by_repository(points).items():
                repo = self._repository(repository)
                self.catalogue.mark_forgetting(ids)
                repo.forget(ids)
                self.catalogue.remove_points(ids)
                repo.prune()
            if points:
                self._events.publish(PointsChanged(job.name))
        self.catalogue.delete_job(job.name)
        self._events.publish(JobsChanged())

    def set_job_enabled(self, name: str, enabled: bool) -> None:
        job = self.catalogue.job(name)
        self.catalogue.replace_job(job.name, job.model_copy(update={"enabled": enabled}))
        self._events.publish(JobsChanged())

    def get_job(self, name: str) -> JobInfo:
        rows = self.catalogue.job_rows([name])
        if not rows:
            self.catalogue.job(name)   # raises NotFound with its message
        return self._row_info(rows[0])

    def list_jobs(self, names: Sequence[str] | None = None) -> list[JobInfo]:
        """Every job (or the named ones; unknown names are left out), by name.
        One catalogue query whatever the number of jobs and sessions."""
        return [self._row_info(r) for r in self.catalogue.job_rows(names)]

    def _row_info(self, row: JobRow) -> JobInfo:
        job, latest = row.definition, row.latest
        state = latest.state if latest else None
        progress = latest.progress if latest else 0
        result = latest.result if latest else None
        if latest is not None:
            runner = self._runners.get(latest.id) or self._unsaved.get(latest.id)
            if runner is not None:   # its own state is newer than the catalogue's
                state, progress, result = runner.live_state()
        running = state is not None and state is not SessionState.STOPPED
        if running:
            status = JobStatus.STOPPING if state is SessionState.STOPPING \
                else JobStatus.WORKING
            result = row.finished.result if row.finished is not None else None
        else:
            status = JobStatus.IDLE if job.enabled else JobStatus.DISABLED
        return JobInfo(
            definition=job, status=status, progress=progress if running else 0,
            last_run=latest.created if latest else None, last_result=result,
            next_run=self.scheduler.next_run(job),
            active_session_id=latest.id if running and latest else None)

    def _job_info(self, job: JobDefinition, latest: SessionInfo | None) -> JobInfo:
        if latest is not None:
            runner = self._runners.get(latest.id) or self._unsaved.get(latest.id)
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
    def start_job(self, name: str, *, full: bool = False, retry: bool = False,
                  outside_window: bool = False) -> str:
        """A manual start: one more restore point per computer; Next Run stays.
        Outside the job's backup window it needs ``outside_window``."""
        return self._start(name, full=full, retry=retry, outside_window=outside_window,
                           kind=RunKind.RETRY if retry else RunKind.MANUAL)

    def _start(self, name: str, *, full: bool, retry: bool, kind: RunKind,
               outside_window: bool = False) -> str:
        job = self.catalogue.job(name)
        if not job.enabled:
            raise JobStateError(f"Job '{job.name}' is disabled. Enable it before starting it.")
        window = job.schedule.window if job.schedule is not None else None
        now = self._clock()
        if window is not None and not outside_window and \
                not window.contains(now, self.scheduler.tz):
            raise OutsideBackupWindow(
                f"Job '{job.name}' is outside its backup window ({window.describe()}). "
                "Start it anyway (the CLI's --outside-window), or wait until the window "
                "opens.")
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
        self._retry_unsaved(job.name)      # a session a full disk left unrecorded
        self.catalogue.create_session(session, owner_pid=os.getpid())
        if kind is RunKind.SCHEDULED:   # before it runs: a quick session must find it
            self._scheduled_sessions.add(session.id)
        runner = SessionRunner(self._ctx, job, session, on_finished=self._runner_finished)
        with self._runners_lock:
            self._runners[session.id] = runner
        closes = window.next_close(now, self.scheduler.tz) if window is not None else None
        if closes is not None:   # started inside the window: it ends the session there
            self.deadlines.set(f"window:{session.id}", closes,
                               partial(self._window_closed, session.id))
            self._scheduler_wake.set()
        runner.start()
        self._events.publish(SessionChanged(job.name, session.id))
        return session.id

    def _runner_finished(self, runner: SessionRunner) -> None:
        with self._runners_lock:
            if not runner.saved:   # clients keep seeing its end; saved again later
                self._unsaved[runner.session.id] = runner
            self._runners.pop(runner.session.id, None)
        session_id = runner.session.id
        self.deadlines.cancel(f"window:{session_id}", f"escalate:{session_id}")
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

    def start_jobs(self, names: list[str], *, full: bool = False, retry: bool = False,
                   outside_window: bool = False) -> BulkResult:
        result = BulkResult()
        for name in names:
            try:
                result.sessions[name] = self.start_job(name, full=full, retry=retry,
                                                       outside_window=outside_window)
            except ConsoleError as exc:
                result.refuse(name, exc)
        return result

    def stop_jobs(self, names: list[str], mode: StopMode,
                  escalate_after_s: float | None = None) -> BulkResult:
        result = BulkResult()
        for name in names:
            try:
                result.stopped[name] = self.stop_job(name, mode, escalate_after_s)
            except ConsoleError as exc:
                result.refuse(name, exc)
        return result

    def _active(self, name: str) -> tuple[JobDefinition, SessionInfo]:
        job = self.catalogue.job(name)
        active = self.catalogue.active_session(job.name)
        if active is None:
            raise JobNotRunning(f"Job '{job.name}' is not running; there is nothing to stop.")
        return job, active

    def stop_job(self, name: str, mode: StopMode,
                 escalate_after_s: float | None = None) -> StopPreview:
        """Stop the job's session; returns where each computer stood at the
        moment the stop took effect. A graceful stop with ``escalate_after_s``
        becomes immediate if the session still runs that long after; the server
        keeps the deadline, so it holds with every console closed."""
        job, runner = self._runner_of(name)
        sid = runner.session.id
        done, running, pending = runner.stop(mode)
        if mode is StopMode.GRACEFULLY and escalate_after_s:
            due = self._clock() + timedelta(seconds=escalate_after_s)
            self.deadlines.set(f"escalate:{sid}", due,
                               partial(self._escalate, sid, escalate_after_s))
            runner.note(f"If the graceful stop has not ended the job by "
                        f"{format_local(due, with_date=False)} ({_duration(escalate_after_s)}), "
                        "it stops immediately.", "warning")
            self._scheduler_wake.set()
        elif mode is StopMode.IMMEDIATELY:
            self.deadlines.cancel(f"escalate:{sid}")
        self._events.publish(SessionChanged(job.name, sid))
        return self._preview(job, runner, (done, running, pending))

    def stop_preview(self, name: str) -> StopPreview:
        job, runner = self._runner_of(name)
        return self._preview(job, runner, runner.preview())

    def _runner_of(self, name: str) -> tuple[JobDefinition, SessionRunner]:
        job, active = self._active(name)
        runner = self._runners.get(active.id)
        if runner is None:
            raise JobNotRunning(f"Job '{job.name}' is not running; there is nothing to stop.")
        return job, runner

    def _preview(self, job: JobDefinition, runner: SessionRunner,
                 where: tuple[list[str], list[str], list[str]]) -> StopPreview:
        done, running, pending = where
        now = utcnow()
        tasks = {t.computer: t for t in runner.snapshot().tasks}
        estimates = [ComputerEstimate(computer=c, progress=progress_percent(tasks[c]),
                                      eta_seconds=eta_seconds(tasks[c], now))
                     for c in running if c in tasks]
        etas = [e.eta_seconds for e in estimates]
        total = max(etas, default=0.0) if all(e is not None for e in etas) else None
        return StopPreview(job=job.name, session_id=runner.session.id, completed=done,
                           in_progress=running, not_started=pending, estimates=estimates,
                           graceful_eta_seconds=total,
                           escalate_at=self.deadlines.due_at(f"escalate:{runner.session.id}"))

    def _escalate(self, session_id: str, after_s: float) -> None:
        runner = self._runners.get(session_id)
        if runner is None or runner.finished:
            return
        try:
            _done, cancelled, _pending = runner.stop(
                StopMode.IMMEDIATELY, by="by the graceful stop's deadline",
                reason=f"The graceful stop did not end the job within {_duration(after_s)}: "
                       "stopping immediately.")
        except JobStateError:
            return
        for computer in cancelled:
            runner.note(f"{computer} was cancelled: no new restore point.", "error")
        self._events.publish(SessionChanged(runner.job.name, session_id))

    def _window_closed(self, session_id: str) -> None:
        runner = self._runners.get(session_id)
        if runner is None or runner.finished or runner.job.schedule is None or \
                runner.job.schedule.window is None:
            return
        window = runner.job.schedule.window
        mode = StopMode.IMMEDIATELY if window.terminate else StopMode.GRACEFULLY
        what = ("computers in progress are cancelled" if window.terminate else
                "computers in progress finish; no new computer starts")
        try:
            runner.stop(mode, by="by the backup window",
                        reason=f"Stopped by the backup window ({window.describe()}): {what}.")
        except JobStateError:
            return
        self._events.publish(SessionChanged(runner.job.name, session_id))

    def wait_session(self, session_id: str, timeout: float | None = None) -> SessionInfo:
        runner = self._runners.get(session_id) or self._operations.get(session_id)
        if runner is not None:
            runner.join(timeout)
        return self.get_session(session_id)

    def get_session(self, session_id: str) -> SessionInfo:
        runner = self._runners.get(session_id) or self._unsaved.get(session_id) \
            or self._operations.get(session_id)
        if runner is not None:
            return runner.snapshot()
        return self.catalogue.session(session_id)

    def list_history(self, query: HistoryQuery) -> HistoryPage:
        """A page of session summaries (History): see HistoryQuery."""
        if query.job is not None and query.job:
            try:
                query = query.model_copy(update={"job": self.catalogue.job(query.job).name})
            except ConsoleError:
                pass   # a deleted job's restores may still be asked for by name
        return self.catalogue.history(query)

    def list_sessions(self, job: str | None = None, limit: int = 200) -> list[SessionInfo]:
        if job is not None:
            job = self.catalogue.job(job).name
        sessions = self.catalogue.sessions(job, limit)
        live: dict[str, SessionRunner | OperationRunner] = {
            **self._unsaved, **self._runners, **self._operations}
        return [live[s.id].snapshot() if s.id in live else s for s in sessions]

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

    # -- restore and verify: recorded sessions -----------------------------------
    def _load_manifest(self, point_id: str) -> Manifest:
        point = self.catalogue.point(point_id)
        return self._repository(point.repository).load_manifest(point.id)

    def browse_point(self, point_id: str, folder: str = "") -> list[PointEntryInfo]:
        """One folder of a restore point ("" is the computer's root)."""
        point = self.catalogue.point(point_id)
        return self._trees.get(point.id).list(folder)

    def running_operations(self) -> list[str]:
        """Ids of the restore and verify sessions running."""
        return [sid for sid, op in list(self._operations.items()) if not op.finished]

    def _run_operation(self, session: SessionInfo,
                       work: Callable[[OperationRunner], SessionResult]) -> OperationRunner:
        self.catalogue.create_session(session, owner_pid=os.getpid())
        runner = OperationRunner(self.catalogue, self._events, session, work,
                                 on_finished=self._operation_finished)
        with self._runners_lock:
            self._operations[session.id] = runner
        runner.start()
        self._events.publish(SessionChanged(session.job, session.id))
        return runner

    def _operation_finished(self, runner: OperationRunner) -> None:
        with self._runners_lock:
            self._operations.pop(runner.session.id, None)

    def cancel_session(self, session_id: str) -> None:
        """Cancel a running restore or verify; a backup session is stopped
        immediately (as ``stop_job`` does)."""
        operation = self._operations.get(session_id)
        if operation is not None and not operation.finished:
            operation.cancel()
            return
        runner = self._runners.get(session_id)
        if runner is not None and not runner.finished:
            self.stop_job(runner.job.name, StopMode.IMMEDIATELY)
            return
        session = self.get_session(session_id)   # NotFound for an unknown id
        raise JobStateError(f"Session {session.id} has ended; there is nothing to cancel.")

    def _restore_target(self, point: RestorePointInfo, target: Path | None,
                        overwrite: bool) -> tuple[Path, bool]:
        """(the folder to restore into, whether it is the original location)."""
        if target is None:
            try:
                job = self.catalogue.job(point.job)
                computer = next(c for c in job.computers if c.name == point.computer)
            except (ConsoleError, StopIteration):
                raise RestoreError(
                    f"The original location of restore point {point.id} is unknown: job "
                    f"'{point.job}' no longer protects computer '{point.computer}'. Restore "
                    "to a folder instead.") from None
            if computer.agent != "local":
                raise RestoreError(
                    f"Restore point {point.id} is of computer '{computer.name}', a Linux "
                    f"computer reached over SSH ({computer.path}): restoring onto it is not "
                    "supported yet. Restore to a folder on the backup server instead, then "
                    "copy the files to the computer.")
            if not overwrite:
                raise RestoreError(
                    f"Restoring to the original location ({computer.path}) replaces the files "
                    "of the restore point there. Confirm that files may be overwritten "
                    "(files that are not in the restore point are kept).")
            return Path(computer.path), True
        return checked_restore_target(self.data_dir, target, overwrite), False

    def start_restore(self, point_id: str, target: Path | None = None, *,
                      paths: list[str] | None = None, overwrite: bool = False) -> str:
        """Restore a point (or only ``paths`` of it) into ``target``, or into the
        computer's own folder when ``target`` is None (needs ``overwrite``).
        Files of the point replace files in the way; nothing else is deleted.
        Returns the Restore session's id at once; it runs in the background."""
        point = self.catalogue.point(point_id)
        folder, original = self._restore_target(point, target, overwrite)
        wanted = sorted({normalise(p) for p in paths or []} - {""})
        repo = self._repository(point.repository)
        # A damaged or forged manifest, or a path the point lacks, is refused now:
        # a refused restore is no session.
        try:
            chosen = repo.preflight_restore(point.id, wanted or None)
        except RepositoryError:
            if point.imported and not repo.has_point(point.id):
                self._drop_retired(self._registry.entry(point.repository), [point])
                raise NotFound(
                    f"Restore point {point.id} was removed by the backup server that wrote it "
                    f"(it shares repository '{point.repository}'): it is no longer listed. "
                    "Restore another point.") from None
            raise
        files = [e for e in chosen.entries if e.kind == "file"]
        total_files, total_bytes = len(files), sum(e.size for e in files)
        del files
        session = SessionInfo(
            id=new_session_id(), job=point.job, type=SessionType.RESTORE,
            state=SessionState.STARTING, created=utcnow(),
            tasks=[TaskInfo(computer=point.computer, files_total=total_files,
                            bytes_total=total_bytes, point_id=point.id,
                            point_type=point.type)],
            operation=OperationInfo(point_ids=[point.id], target=str(folder),
                                    original_location=original, overwrite=overwrite,
                                    paths=wanted))

        def work(run: OperationRunner) -> SessionResult:
            what = ", ".join(wanted[:5]) + (f" and {len(wanted) - 5} more" if len(wanted) > 5
                                            else "") if wanted else "every file"
            where = f"its original location {folder}" if original else str(folder)
            run.note(f"Restore started by user: {what} of {point.computer} from restore point "
                     f"{point.id} ({point.type.value}, {format_local(point.created)}) to "
                     f"{where}" + ("; files of the point replace existing ones, nothing else "
                                   "is deleted" if overwrite else ""))

            def progress(files: int, nbytes: int) -> None:
                run.set_task(0, files_done=files, bytes_processed=nbytes, bytes_read=nbytes)
                run.progress(nbytes, total_bytes) if total_bytes else \
                    run.progress(files, total_files)

            try:
                stats = repo.restore(point.id, folder, cancel=run.cancelled, progress=progress,
                                     paths=wanted or None, checked=chosen)
            except PartialRestore as exc:
                done = exc.stats
                run.update_operation(files=done.files, dirs=done.dirs, symlinks=done.symlinks,
                                     bytes=done.bytes, failed=list(done.failed))
                run.set_task(0, files_done=done.files, bytes_processed=done.bytes)
                for path, why in done.failed[:100]:
                    run.task_note(0, f"Not restored: '{path}' ({why})", "error")
                raise
            run.update_operation(files=stats.files, dirs=stats.dirs, symlinks=stats.symlinks,
                                 bytes=stats.bytes)
            run.set_task(0, files_done=stats.files, bytes_processed=stats.bytes,
                         bytes_read=stats.bytes)
            if stats.cancelled:
                run.task_note(0, f"Cancelled after {stats.files} file(s): {folder} holds part "
                                 "of the restore point.", "error")
                return SessionResult.FAILED
            run.task_note(0, f"Restored {stats.files} file(s), {stats.dirs} folder(s), "
                             f"{stats.symlinks} symlink(s), {size_text(stats.bytes)} to {folder}")
            run.note(f"Restore finished: {stats.files} file(s), {size_text(stats.bytes)}.")
            return SessionResult.SUCCESS

        return self._run_operation(session, work).session.id

    def restore(self, point_id: str, target: Path, *, paths: list[str] | None = None,
                overwrite: bool = False) -> RestoreReport:
        """``start_restore`` into ``target`` and wait for it; raises its error."""
        session_id = self.start_restore(point_id, target, paths=paths, overwrite=overwrite)
        runner = self._operations.get(session_id)
        if runner is not None:
            runner.join()
            if runner.error is not None:
                raise runner.error
        return restore_report(self.get_session(session_id))

    def start_verify(self, point_id: str | None = None, *, job: str | None = None) -> str:
        """Verify one point, a job's points, or (neither given) everything: every
        point, every pack and index file. A Verify session; its log names the
        damaged files. Points found damaged are marked, points found intact lose
        their mark."""
        catalogued = self.catalogue.points()
        if point_id:
            points = [self.catalogue.point(point_id)]
            name, ids = points[0].job, [points[0].id]
        elif job:
            try:
                name = self.catalogue.job(job).name
            except ConsoleError:
                name = job
            points = [p for p in catalogued if p.job.lower() == name.lower()]
            if not points:
                raise NotFound(f"Job '{job}' has no restore points to verify.")
            ids = [p.id for p in points]
        else:
            points, name, ids = catalogued, "", None
        if ids is None:
            labels = ["All backups"]
        else:
            labels = list(dict.fromkeys(p.computer for p in points))
        task_of = {p.id: labels.index(p.computer) if ids is not None else 0 for p in points}
        what = (f"restore point {ids[0]}" if ids is not None and len(ids) == 1 else
                f"{len(points)} restore point(s) of job '{name}'" if ids is not None else
                "every restore point, pack and index file")
        session = SessionInfo(
            id=new_session_id(), job=name, type=SessionType.VERIFY,
            state=SessionState.STARTING, created=utcnow(),
            tasks=[TaskInfo(computer=label) for label in labels],
            operation=OperationInfo(point_ids=ids or []))
        groups = self._verify_groups(catalogued, points if ids is not None else None)

        def work(run: OperationRunner) -> SessionResult:
            run.note(f"Verify started by user: {what}")
            if not groups:
                run.note("Nothing to verify: the repository holds no restore point yet.")
                return SessionResult.SUCCESS
            report, damage = self._verify_each(groups, ids is not None, run)
            self._mark_damage(damage)
            run.update_operation(points_checked=report.points_checked,
                                 blobs_checked=report.blobs_checked, problems=report.problems)
            for index in range(len(labels)):
                run.set_task(index, status=TaskStatus.SUCCESS)
            for problem in report.problems:
                index = task_of.get(problem.point_id, 0)
                run.set_task(index, status=TaskStatus.FAILED)
                run.task_note(index, verify_problem_text(problem), "error")
            verdict = ("OK: every block read back intact" if report.ok else
                       f"{len(report.problems)} problem(s) found")
            damaged = report_damaged_paths(report)
            run.note(f"Verified {report.points_checked} point(s), {report.blobs_checked} "
                     f"block(s): {verdict}" + (f"; damaged files: {', '.join(damaged[:20])}"
                                               + (" ..." if len(damaged) > 20 else "")
                                               if damaged else ""),
                     "info" if report.ok else "error")
            return SessionResult.SUCCESS if report.ok else SessionResult.FAILED

        return self._run_operation(session, work).session.id

    def _verify_groups(self, catalogued: list[RestorePointInfo],
                       chosen: list[RestorePointInfo] | None,
                       ) -> list[tuple[RepoEntry, list[str], list[str] | None]]:
        """(repository, its catalogued point ids, the ids to verify or None for
        everything) per repository to verify: those of the chosen points, or
        (everything) every repository, the data directory's one only once it
        exists or holds points."""
        def ids_in(entry: RepoEntry, points: list[RestorePointInfo]) -> list[str]:
            return [p.id for p in points if (is_default(p.repository) if entry.default
                                             else p.repository.lower() == entry.name.lower())]

        groups = []
        for entry in self._registry.entries():
            mine = ids_in(entry, catalogued)
            if chosen is None:
                if entry.default and not mine and not Path(entry.location).exists():
                    continue
                groups.append((entry, mine, None))
            elif wanted := ids_in(entry, chosen):
                groups.append((entry, mine, wanted))
        return groups

    def _verify_each(self, groups: list[tuple[RepoEntry, list[str], list[str] | None]],
                     chosen: bool, run: OperationRunner,
                     ) -> tuple[VerifyReport, dict[str, str | None]]:
        """Verify repository after repository; one that cannot be opened is a
        problem of the report when verifying everything, the error otherwise."""
        checked = blobs = 0
        problems: list[VerifyProblem] = []
        damage: dict[str, str | None] = {}
        count = len(groups)
        for number, (entry, catalogued, ids) in enumerate(groups):
            def progress(done: int, total: int, number: int = number) -> None:
                run.progress(number * 1000 + (1000 * done // total if total else 1000),
                             count * 1000)

            if count > 1:
                run.note(f"Verifying repository '{entry.name}' ({entry.location})")
            try:
                repo = self._repository(entry.name)
                report, found = integrity.verify(repo, catalogued, ids, progress=progress,
                                                 cancel=run.cancelled)
            except VerifyCancelled:
                raise OperationCancelled("cancelled") from None
            except (ConsoleError, OSError) as exc:
                if chosen:
                    raise
                why = _os_reason(exc) if isinstance(exc, OSError) and \
                    not isinstance(exc, ConsoleError) else str(exc)
                problems.append(VerifyProblem(
                    point_id="", blob="", pack=None, paths=[],
                    problem=f"repository '{entry.name}' could not be verified: {why}"))
                run.note(f"Repository '{entry.name}' could not be verified: {why}", "error")
                continue
            report = self._without_retired(entry, repo, report, found, run.note)
            checked += report.points_checked
            blobs += report.blobs_checked
            problems += [p if p.point_id or count == 1 else p.model_copy(
                update={"problem": f"repository '{entry.name}': {p.problem}"})
                for p in report.problems]
            damage.update(found)
        return VerifyReport(points_checked=checked, blobs_checked=blobs,
                            problems=problems), damage

    def _without_retired(self, entry: RepoEntry, repo: Repository, report: VerifyReport,
                         found: dict[str, str | None],
                         note: Callable[[str], None]) -> VerifyReport:
        """The report less the imported points whose manifest is gone: their
        server removed them, which is no damage (they leave the list, noted).
        ``found`` (the damage to record) loses them too."""
        listed = {p.id: p for p in self.catalogue.points()}
        missing = {p.point_id for p in report.problems
                   if p.point_id and p.problem == "manifest missing"}
        # no longer listed: removed meanwhile (opening the repository reconciled it)
        gone = {pid for pid in missing if pid not in listed}
        retired = sorted(pid for pid in missing - gone
                         if listed[pid].imported and not repo.has_point(pid))
        gone.update(retired)
        if not gone:
            return report
        self._drop_retired(entry, [listed[pid] for pid in retired], note)
        for pid in gone:
            found.pop(pid, None)
        return report.model_copy(update={
            "problems": [p for p in report.problems if p.point_id not in gone]})

    def verify(self, point_id: str | None = None) -> VerifyReport:
        """``start_verify`` and wait for its report; raises its error."""
        session_id = self.start_verify(point_id)
        runner = self._operations.get(session_id)
        if runner is not None:
            runner.join()
            if runner.error is not None:
                raise runner.error
        return verify_report(self.get_session(session_id))

    def delete_backups(self, job: str, computer: str | None = None) -> DeleteReport:
        """Delete a job's restore points (or one computer's) from disk, then
        reclaim their space."""
        try:
            definition = self.catalogue.job(job)
            name = definition.name
            if self.catalogue.active_session(name):
                raise JobStateError(f"Job '{name}' is running. Stop it before deleting its "
                                    "backups.")
        except NotFound:
            name = job   # backups of a job that no longer exists
        listed = self.catalogue.points(name, computer)
        whose = f"computer '{computer}' of job '{name}'" if computer else f"job '{name}'"
        if not listed:
            raise NotFound(f"There are no backups of {whose} on disk.")
        points = [p for p in listed if not p.imported]
        imported = len(listed) - len(points)
        if not points:
            raise JobStateError(
                f"The {imported} restore point(s) of {whose} were written by another backup "
                "server sharing the repository (imported, read-only here): delete them on "
                "that server.")
        ids = [p.id for p in points]
        groups = {repository: (self._repository(repository), group)
                  for repository, group in _by_repository(points).items()}
        self.catalogue.mark_forgetting(ids)
        for repo, group in groups.values():
            repo.forget(group)
        self.catalogue.remove_points(ids)
        self._trees.forget(ids)
        self._events.publish(PointsChanged(name))
        freed, notes = 0, []
        for repo, _group in groups.values():
            report = repo.prune()
            if report.skipped:
                notes.append(report.reason)
            else:
                freed += max(0, report.bytes_freed)
        if imported:
            notes.append(f"{imported} imported restore point(s) of another backup server were "
                         "kept: that server deletes them")
        return DeleteReport(job=name, computer=computer, points=len(ids), bytes_freed=freed,
                            note="; ".join(notes))

    def _mark_damage(self, damage: dict[str, str | None]) -> None:
        changed = set(self.catalogue.set_damaged(damage))
        for job in sorted({p.job for p in self.catalogue.points() if p.id in changed}):
            self._events.publish(PointsChanged(job))

    def repair(self) -> RepairReport:
        """Rebuild the repository's index from its packs, drop damaged copies
        (salvaging the intact blocks of their packs) and re-mark the points."""
        running = self.running_jobs()
        if running:
            raise JobStateError(f"Jobs are running: {', '.join(running)}. Repair the "
                                "repository when they have finished.")
        catalogued = [p.id for p in self.catalogue.points()]
        total = RepairReport()
        for entry in self._registry.entries():
            try:
                rep = self._repository(entry.name).repair()
            except (ConsoleError, OSError) as exc:
                why = str(exc) if isinstance(exc, ConsoleError) else _os_reason(exc)
                total.problems.append(f"repository '{entry.name}' was not repaired: {why}")
                continue
            self._mark_damage(integrity.repair_damage(rep, catalogued))
            _add_repair(total, integrity.repair_report(rep),
                        "" if entry.default else f"repository '{entry.name}': ")
        return total

    # -- backup infrastructure: repositories and computers -----------------------
    def list_repositories(self) -> list[RepositoryInfo]:
        """Every repository with its jobs and space; one that cannot be reached
        within a few seconds says why in ``problem``."""
        entries = self._registry.entries()
        with self._repos_lock:
            backends = {rid: repo.backend for rid, repo in self._repos.items()
                        if repo.backend.kind == "s3"}
        measured = measure_all(entries, self._registry.s3_keys, backends=backends)
        for entry in entries:
            found = measured[entry.id]
            if entry.encrypted and (found is None or found.problem is None):
                problem = self._password_problem(entry)
                if problem is not None:
                    measured[entry.id] = Measure(
                        used=found.used if found else None,
                        capacity=found.capacity if found else None,
                        free=found.free if found else None, problem=problem)
        jobs = self.catalogue.jobs()
        return [self._repository_info(e, measured[e.id], jobs) for e in entries]

    def _password_problem(self, entry: RepoEntry) -> str | None:
        """Why the stored password does not open the repository; checked once
        per stored password (a key derivation costs a tenth of a second)."""
        password = self._registry.secrets.password(entry.id)
        checked = self._password_checks.get(entry.id)
        if checked is not None and checked[0] == password:
            return checked[1]
        try:
            problem = self._registry.password_problem(entry, timeout=S3_TIMEOUT_S)
        except DamagedKey as damaged:
            return str(damaged)   # not the password's fault; checked again next time
        except (OSError, ConsoleError):
            return None   # unreachable or damaged: checked again next time
        self._password_checks[entry.id] = (password, problem)
        return problem

    def _repository_info(self, entry: RepoEntry, found: Measure | None,
                         jobs: list[JobDefinition] | None = None) -> RepositoryInfo:
        users = [j.name for j in (self.catalogue.jobs() if jobs is None else jobs)
                 if self._same_repository(j.repository, entry)]
        found = found or Measure()
        return RepositoryInfo(name=entry.name, kind=entry.kind, location=entry.location,
                              encrypted=entry.encrypted, default=entry.default, jobs=users,
                              used_bytes=found.used, capacity_bytes=found.capacity,
                              free_bytes=found.free, problem=found.problem)

    @staticmethod
    def _same_repository(name: str, entry: RepoEntry) -> bool:
        return is_default(name) if entry.default else name.strip().lower() == entry.name.lower()

    def add_repository(self, spec: RepositorySpec) -> RepositoryInfo:
        """Register a repository, creating it when its location is empty; one
        that exists must open with the password given. Nothing is recorded
        unless it opens."""
        name = check_name(spec.name)
        if any(e.name.lower() == name.lower() for e in self._registry.entries()):
            raise AlreadyExists(f"A backup repository named '{name}' already exists. Choose "
                                "another name.")
        where, password, keys = self._checked_spec(spec)
        try:
            repo = open_repository(where.kind, where.location, password=password, s3=keys,
                                   create=True, timeout=S3_TIMEOUT_S)
        except OSError as exc:
            raise RepositoryError(_os_reason(exc)) from None
        try:
            encrypted = repo.encrypted
            if password is not None and not encrypted:
                raise InvalidInput(f"The repository at {where.location} exists and is not "
                                   "encrypted: add it without a password.")
            entry = self._registry.record(name, where, encrypted, password, keys)
        except BaseException:
            close_repository(repo)
            raise
        with self._repos_lock:
            self._repos[entry.id] = repo
        self._reconcile_repository(entry, repo)   # an existing repository's points
        self._events.publish(CatalogueChanged())
        log.info("repository %r added: %s %s (%s)", entry.name, entry.kind, entry.location,
                 "encrypted" if encrypted else "not encrypted")
        return self._repository_info(entry, measure(entry, keys))

    def _checked_spec(self, spec: RepositorySpec) -> tuple[Location, str | None, S3Keys | None]:
        where = parse_url(spec.url)
        if where.path is not None:
            home = self.data_dir.resolve()
            path = where.path.resolve()
            if path == home or path in home.parents:
                raise InvalidInput(f"A repository cannot hold the data directory {home}: "
                                   "choose another folder.")
        new = where.location.rstrip("/")
        for entry in self._registry.entries():
            old = entry.location.rstrip("/")
            if old == new:
                raise AlreadyExists(f"{where.location} is already the backup repository "
                                    f"'{entry.name}'.")
            if new.startswith(old + "/") or old.startswith(new + "/"):
                inside = "is inside" if new.startswith(old + "/") else "contains"
                raise InvalidInput(f"{where.location} {inside} the backup repository "
                                   f"'{entry.name}' ({entry.location}): repositories cannot "
                                   "be nested. Choose a location outside it.")
        password = spec.password.get_secret_value() if spec.password is not None else None
        if password is not None and not password:
            raise InvalidInput("The repository password is empty: give a password, or none "
                               "for a repository without encryption.")
        if password is not None and spec.insecure_no_encryption:
            raise InvalidInput("A password and --insecure-no-encryption were both given: "
                               "choose one.")
        if where.kind == "s3" and password is None and not spec.insecure_no_encryption:
            raise InvalidInput(f"An S3 repository ({where.location}) is encrypted: give a "
                               "password (--password-file), or --insecure-no-encryption to "
                               "store backups unencrypted.")
        keys = spec_s3_keys(spec.access_key_id, spec.secret_access_key)
        if keys is not None and where.kind != "s3":
            raise InvalidInput("S3 keys were given for a local folder: they are only for "
                               "s3: URLs.")
        return where, password, keys

    def test_repository(self, spec: RepositorySpec) -> str:
        """What ``add_repository`` would find there, in a sentence; raises when
        it would be refused. Creates nothing."""
        where, password, keys = self._checked_spec(spec)
        try:
            exists = repository_exists(where.kind, where.location, keys, timeout=S3_TIMEOUT_S)
            if not exists:
                if where.path is not None:
                    probe_empty_folder(where.path)
                what = "encrypted" if password is not None else "unencrypted"
                return f"Reachable; empty — a new {what} repository will be created"
            repo = open_repository(where.kind, where.location, password=password, s3=keys,
                                   timeout=S3_TIMEOUT_S)
        except OSError as exc:
            raise RepositoryError(_os_reason(exc)) from None
        try:
            encrypted = repo.encrypted
            points = len(repo.point_ids())
        finally:
            close_repository(repo)
        held = f"; it holds {points} restore point(s)"
        if encrypted:
            return "Existing repository, encrypted, the password opens it" + held
        if password is not None:
            raise InvalidInput(f"The repository at {where.location} exists and is not "
                               "encrypted: add it without a password.")
        return "Existing repository, not encrypted" + held

    def remove_repository(self, name: str) -> int:
        """Forget a repository (and the secrets kept for it); a repository jobs
        use is kept. Its data stays where it is: its restore points are no
        longer listed, and are again once it is added back. Returns how many
        points were forgotten."""
        entry = self._registry.entry(name)
        if entry.default:
            raise InvalidInput(f"'{DEFAULT_REPOSITORY}' is the data directory's own "
                               "repository: it cannot be removed.")
        users = [j.name for j in self.catalogue.jobs()
                 if self._same_repository(j.repository, entry)]
        if users:
            raise JobStateError(f"Backup repository '{entry.name}' is used by job(s) "
                                f"{', '.join(users)}: point them to another repository "
                                "first.")
        if any(not op.finished for op in self._operations.values()):
            raise JobStateError("A restore or verify session is running: remove the "
                                f"repository '{entry.name}' once it has ended.")
        points = [p for p in self.catalogue.points()
                  if self._same_repository(p.repository, entry)]
        with self._repos_lock:
            repo = self._repos.pop(entry.id, None)
        if repo is not None:
            close_repository(repo)
        self._registry.forget(entry)
        ids = [p.id for p in points]
        if ids:
            self.catalogue.remove_points(ids)
            self._trees.forget(ids)
            for job in sorted({p.job for p in points}):
                self._events.publish(PointsChanged(job))
        self._events.publish(CatalogueChanged())
        log.info("repository %r removed from the list (%d restore point(s) no longer listed); "
                 "its data at %s was kept", entry.name, len(ids), entry.location)
        return len(ids)

    def _keys_of(self, name: str) -> tuple[RepoEntry, Repository]:
        entry = self._registry.entry(name)
        repo = self._repository(entry.name)
        if not repo.encrypted:
            raise InvalidInput(f"Backup repository '{entry.name}' is not encrypted: it has no "
                               "passwords (keys).")
        return entry, repo

    def list_repository_keys(self, name: str) -> list[RepositoryKeyInfo]:
        _entry, repo = self._keys_of(name)
        return [RepositoryKeyInfo(id=k.id, created=k.created, current=k.id == repo.key_id,
                                  damaged=k.damaged)
                for k in list_keys(repo.backend)]

    def add_repository_key(self, name: str, password: SecretStr) -> str:
        """Another password for an encrypted repository; returns its key id."""
        entry, repo = self._keys_of(name)
        secret = password.get_secret_value()
        if not secret:
            raise InvalidInput("The new password is empty: give a password.")
        with exclusive_lock(repo, entry.name):
            key_id = add_key(repo.backend, repo.sealer, secret)
        log.info("repository %r: key %s added", entry.name, key_id)
        return key_id

    def remove_repository_key(self, name: str, key_id: str) -> None:
        entry, repo = self._keys_of(name)
        with exclusive_lock(repo, entry.name):
            remove_key(repo.backend, key_id.strip(), current_id=repo.key_id or "")
        log.info("repository %r: key %s removed", entry.name, key_id)

    def set_repository_password(self, name: str, password: SecretStr) -> None:
        """Keep ``password`` as the server's password of an encrypted
        repository, once it is checked to open it; a wrong one changes nothing."""
        entry = self._encrypted_entry(name)
        secret = password.get_secret_value()
        if not secret:
            raise InvalidInput("The password is empty: give the repository's password.")
        try:
            key_id = unlock_with(entry.kind, entry.location, secret,
                                 self._registry.s3_keys(entry), timeout=S3_TIMEOUT_S)
        except WrongPassword:
            raise WrongPassword(f"The password does not open backup repository "
                                f"'{entry.name}': nothing was changed.") from None
        except OSError as exc:
            raise RepositoryError(_os_reason(exc)) from None
        self._registry.secrets.set_password(entry.id, secret)
        with self._repos_lock:
            repo = self._repos.get(entry.id)
        if repo is not None:
            repo.key_id = key_id
        log.info("repository %r: the server's password was replaced (key %s)", entry.name,
                 key_id)

    def change_repository_password(self, name: str, new_password: SecretStr) -> str:
        """restic's ``key passwd``: a new key with the new password, kept as the
        server's password, then the key the server used is removed. Returns
        the new key's id."""
        entry, repo = self._keys_of(name)
        secret = new_password.get_secret_value()
        if not secret:
            raise InvalidInput("The new password is empty: give a password.")
        with exclusive_lock(repo, entry.name):
            old_id = repo.key_id or ""
            key_id = add_key(repo.backend, repo.sealer, secret)
            self._registry.secrets.set_password(entry.id, secret)
            repo.key_id = key_id
            if old_id:
                remove_key(repo.backend, old_id, current_id=key_id)
        log.info("repository %r: password changed (key %s replaced by key %s)", entry.name,
                 old_id, key_id)
        return key_id

    def set_repository_s3_keys(self, name: str, access_key_id: str,
                               secret_access_key: SecretStr) -> None:
        """Keep (or replace) the S3 keys of an S3 repository, once they are
        checked to reach its bucket."""
        entry = self._registry.entry(name)
        if entry.kind != "s3":
            raise InvalidInput(f"Backup repository '{entry.name}' is a local folder: S3 keys "
                               "are only for S3 repositories.")
        keys = spec_s3_keys(access_key_id, secret_access_key)
        assert keys is not None
        try:
            backend = s3_backend(entry.location, keys, timeout=S3_TIMEOUT_S, quick=True)
            backend.close()
        except OSError as exc:
            raise RepositoryError(_os_reason(exc)) from None
        self._registry.secrets.set_s3_keys(entry.id, keys)
        self._password_checks.pop(entry.id, None)
        with self._repos_lock:   # opened again with the new keys when next used
            stale = self._repos.pop(entry.id, None)
        if stale is not None and not self.running_jobs() and \
                all(op.finished for op in self._operations.values()):
            close_repository(stale)   # else a running session finishes with it
        log.info("repository %r: S3 keys replaced", entry.name)

    def _encrypted_entry(self, name: str) -> RepoEntry:
        entry = self._registry.entry(name)
        if not entry.encrypted:
            raise InvalidInput(f"Backup repository '{entry.name}' is not encrypted: it has no "
                               "password.")
        return entry

    def test_computer(self, computer: Computer, ssh: SshSettings) -> str:
        """Connect to the computer as a backup would (SSH: the host key, the
        login, the path) and say so in a sentence; raises what is wrong."""
        cancel = threading.Event()

        def check() -> str:
            agent = agent_for(computer, ssh, data_dir=self.data_dir, cancel=cancel)
            try:
                return agent.check()
            finally:
                agent.close()

        try:
            return run_with_timeout(check, COMPUTER_TEST_TIMEOUT_S,
                                    f"Computer '{computer.name}' did not answer within "
                                    f"{COMPUTER_TEST_TIMEOUT_S:g} s: check its address and "
                                    "that it is reachable from the server.")
        finally:
            cancel.set()   # a check still waiting gives up

    def setup_demo(self) -> list[str]:
        """Create the demo computers and jobs that are missing; returns new job names."""
        from core.service.demo import setup_demo

        return setup_demo(self)

    def preview_scope(self, computers: list[Computer], scope: FileScope,
                      ssh: SshSettings | None = None) -> ScopePreview:
        """How many files, and how many bytes, a backup of ``scope`` would read
        on each computer now; a computer its agent cannot read gets an error."""
        found: list[ComputerPreview] = []
        for computer in computers:
            agent = None
            try:
                agent = agent_for(computer, ssh or SshSettings(), data_dir=self.data_dir)
                scan = agent.scan(scope)
            except ConsoleError as exc:
                found.append(ComputerPreview(computer=computer.name, error=str(exc)))
                continue
            except OSError as exc:
                found.append(ComputerPreview(
                    computer=computer.name,
                    error=f"Computer '{computer.name}': cannot read {computer.path}: "
                          f"{exc.strerror or exc}."))
                continue
            finally:
                if agent is not None:
                    agent.close()
            found.append(ComputerPreview(computer=computer.name, files=scan.files,
                                         bytes=scan.bytes, warnings=scan.warnings[:20]))
        return ScopePreview(computers=found)

    def repository_point_ids(self) -> set[str]:
        """Ids of the points whose manifests are committed, in every repository
        that holds catalogued points (and the data directory's own one)."""
        names = {DEFAULT_REPOSITORY} | set(_by_repository(self.catalogue.points()))
        return {m.id for name in names for m in self._repository(name).list_points()}

    def repository_stats(self):
        return self._repository(DEFAULT_REPOSITORY).stats()


def run_with_timeout(work: Callable[[], T], timeout: float, late: str) -> T:
    """``work()`` on its own thread; ConsoleError(``late``) after ``timeout``
    (the thread is left to finish on its own)."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:   # handed to the caller's thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name="timed-check", daemon=True).start()
    if not done.wait(timeout):
        raise ConsoleError(late)
    if "error" in outcome:
        error = outcome["error"]
        if isinstance(error, OSError) and not isinstance(error, ConsoleError):
            raise InvalidInput(_os_reason(error)) from None
        raise error
    return outcome["value"]


def _os_reason(exc: OSError) -> str:
    reason = exc.strerror or str(exc) or exc.__class__.__name__
    return reason if reason.endswith(".") else reason + "."


def _add_repair(total: RepairReport, part: RepairReport, prefix: str) -> None:
    for field in ("packs_checked", "blobs_ok", "blobs_damaged", "packs_rewritten",
                  "index_files_replaced", "points_ok"):
        setattr(total, field, getattr(total, field) + getattr(part, field))
    total.points_relinked += part.points_relinked
    total.points_damaged.update(part.points_damaged)
    total.problems += [prefix + p for p in part.problems]


def _by_repository(points: list[RestorePointInfo]) -> dict[str, list[str]]:
    """Point ids per repository name (a job's points may be in several, when its
    repository was changed)."""
    groups: dict[str, list[str]] = {}
    for p in points:
        key = DEFAULT_REPOSITORY if is_default(p.repository) else p.repository
        groups.setdefault(key, []).append(p.id)
    return groups


def _duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
