"""The sessions desk: backup sessions, from start to their saved record.

It owns starting a job's session (by hand, by the scheduler, or to retry the
computers that failed), stopping it (gracefully, immediately, by a graceful
stop's deadline or by the end of the backup window), the sessions' live view
(``get_session``, ``wait_session``, ``list_sessions``, History), and saving
again the sessions a full disk left unrecorded.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from core.api import BulkResult, ComputerEstimate, StopPreview
from core.engine.context import EngineContext
from core.engine.copy_task import CopyTaskProcessor
from core.engine.estimates import (
    HISTORY_SESSIONS, eta_seconds, expected_durations, history_rates, progress_percent,
    stop_costs,
)
from core.engine.operations import OperationRunner
from core.engine.session import SessionRunner, WindowFit, new_session_id
from core.errors import ConsoleError, JobNotRunning, JobStateError, OutsideBackupWindow
from core.events import SessionChanged
from core.models import (
    Computer, HealthCheckMode, HistoryPage, HistoryQuery, JobDefinition, LogItem, RunKind,
    SessionInfo,
    SessionResult, SessionState, SessionType, StopMode, TaskInfo, TaskStatus, utcnow,
)
from core.scheduling import BackupWindow, format_local, local_zone
from core.service import demo
from core.service.audit import who_is_asking
from core.service.context import ServiceContext

WINDOW_PAUSED = "Paused by the backup window"
RETRY_STATUSES = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.SKIPPED})


class Sessions:
    """Backup sessions: start, stop, deadlines, the live view, saving."""

    def __init__(self, ctx: ServiceContext, engine: EngineContext) -> None:
        self._ctx = ctx
        self._pool = ctx.pool
        self._engine = engine
        self._scheduled_sessions: set[str] = set()   # started by the scheduler, running
        # job name, mode -> the health check's session id (the points desk sets it)
        self.start_health_check: Callable[[str, HealthCheckMode], str] | None = None
        # a backup session ended: (its record, a retry of it is pending); the
        # notifications desk sets it
        self.notify_finished: Callable[[SessionInfo, bool], None] | None = None

    def start_scheduled(self, name: str, *, retry: bool) -> str:
        full = not retry and self._active_full_due(name)
        return self._start(name, full=full, retry=retry, kind=RunKind.SCHEDULED)

    def _active_full_due(self, name: str) -> bool:
        """Today is one of the job's active full days, and no full session of
        today has ended other than Failed (the first scheduled run of the day)."""
        plan = self._ctx.catalogue.job(name).active_full
        if plan is None:
            return False
        zone = local_zone()
        today = self._ctx.scheduler.now().astimezone(zone).date()
        if not plan.applies(today):
            return False
        return not any(s.full and s.created.astimezone(zone).date() == today
                       and s.result is not SessionResult.FAILED
                       for s in self._ctx.catalogue.sessions(name, 50, type=SessionType.BACKUP))

    def health_check_due(self, name: str) -> HealthCheckMode | None:
        """The mode of the job's health check if today is one of its days and
        no scheduled health check of today has run yet; else None."""
        try:
            job = self._ctx.catalogue.job(name)
        except ConsoleError:
            return None
        plan = job.health_check
        if plan is None or not job.enabled:
            return None
        zone = self._ctx.scheduler.tz or local_zone()
        today = self._ctx.scheduler.now().astimezone(zone).date()
        if not plan.applies(today):
            return None
        if any(s.run_kind is RunKind.SCHEDULED and s.created.astimezone(zone).date() == today
               for s in self._ctx.catalogue.sessions(job.name, 50, with_tasks=False,
                                                     type=SessionType.VERIFY)):
            return None
        if plan.mode is not None:
            return plan.mode
        kind = self._ctx.registry.entry(job.repository).kind
        return HealthCheckMode.FULL if kind == "local" else HealthCheckMode.LIGHT

    def _health_check_after(self, runner: SessionRunner, scheduled: bool) -> None:
        """After a scheduled backup (or its retry) on a health check day: the
        health check, once that day."""
        if not scheduled or self.start_health_check is None:
            return
        mode = self.health_check_due(runner.job.name)
        if mode is None or not any(t.status.produced_point for t in runner.tasks) and \
                not self._ctx.catalogue.points(runner.job.name):
            return
        try:
            self.start_health_check(runner.job.name, mode)
        except ConsoleError as exc:
            logging.getLogger(__name__).warning(
                "The health check of job '%s' could not start: %s", runner.job.name, exc)

    def _retry_unsaved(self, job: str | None = None) -> None:
        """Save sessions whose final record could not be written (a full disk);
        for ``job``, raise the error if its session still cannot be saved."""
        if not self._ctx.unsaved:
            return
        saved = False
        for sid, runner in list(self._ctx.unsaved.items()):
            try:
                self._ctx.catalogue.save_session(runner.snapshot())
            except ConsoleError:
                if runner.job.name.lower() == (job or "").lower():
                    raise
                continue
            self._ctx.unsaved.pop(sid, None)
            saved = True
        if saved:
            self._pool.reconcile_points()

    def start_job(self, name: str, *, full: bool = False, retry: bool = False,
                  outside_window: bool = False) -> str:
        """A manual start: one more restore point per computer; Next Run stays.
        Outside the job's backup window it needs ``outside_window``."""
        return self._start(name, full=full, retry=retry, outside_window=outside_window,
                           kind=RunKind.RETRY if retry else RunKind.MANUAL)

    def _start(self, name: str, *, full: bool, retry: bool, kind: RunKind,
               outside_window: bool = False) -> str:
        job = self._ctx.catalogue.job(name)
        if not job.enabled:
            raise JobStateError(f"Job '{job.name}' is disabled. Enable it before starting it.")
        window = job.schedule.window if job.schedule is not None else None
        now = self._ctx.clock()
        if window is not None and not outside_window and \
                not window.contains(now, self._ctx.scheduler.tz):
            raise OutsideBackupWindow(
                f"Job '{job.name}' is outside its backup window ({window.describe()}). "
                "Start it anyway (the CLI's --outside-window), or wait until the window "
                "opens.")
        source: JobDefinition | None = None
        if job.is_copy:
            source = self.copy_source_of(job)
        computers = list(job.computers) if source is None else self._copy_computers(job, source)
        if retry:
            wanted = set(self.retry_candidates(job.name))
            if not wanted:
                raise JobStateError(f"Nothing to retry: no computer of job '{job.name}' "
                                    "failed in its last session.")
            computers = [c for c in computers if c.name in wanted]
        if source is not None and full:
            raise JobStateError(f"Job '{job.name}' is a backup copy job: it has no active full "
                                "(it copies the points its source job made). Start it without "
                                "--full.")
        session = SessionInfo(
            id=new_session_id(), job=job.name, state=SessionState.STARTING,
            type=SessionType.BACKUP if source is None else SessionType.COPY,
            run_kind=kind, full=full, created=utcnow(),
            tasks=[TaskInfo(computer=c.name) for c in computers])
        self._pool.repository(job.repository)  # fail early on a broken repository
        if source is not None:   # and on a broken source repository
            for name in {p.repository for p in self._ctx.catalogue.points(source.name)}:
                self._pool.repository(name)
        self._retry_unsaved(job.name)      # a session a full disk left unrecorded
        self._ctx.catalogue.create_session(session, owner_pid=os.getpid())
        if kind is RunKind.SCHEDULED:   # before it runs: a quick session must find it
            self._scheduled_sessions.add(session.id)
        closes = window.next_close(now, self._ctx.scheduler.tz) if window is not None else None
        fit = None
        if closes is not None:   # the order and admission that fit the window
            history = self._ctx.catalogue.sessions(job.name, HISTORY_SESSIONS, type=session.type)
            fit = WindowFit(closes, expected_durations(history, full),
                            history_rates(history, full))
        runner = SessionRunner(self._engine, job, session, on_finished=self._runner_finished,
                               computers=computers,
                               processor=None if source is None else CopyTaskProcessor,
                               window=fit)
        runner.started_by = who_is_asking()
        if source is None:
            self._demo_work(runner, computers)
        with self._ctx.runners_lock:
            self._ctx.runners[session.id] = runner
        if closes is not None:   # started inside the window: it ends the session there
            self._ctx.deadlines.set(f"window:{session.id}", closes,
                               partial(self._window_closed, session.id))
            self._ctx.scheduler_wake.set()
        runner.start()
        self._ctx.events.publish(SessionChanged(job.name, session.id))
        return session.id

    def copy_source_of(self, job: JobDefinition) -> JobDefinition:
        """The backup job a copy job copies; JobStateError (in the operator's words)
        when it is gone or is not a backup job."""
        try:
            source = self._ctx.catalogue.job(job.copy_source or "")
        except ConsoleError:
            raise JobStateError(
                f"The source job '{job.copy_source}' of backup copy job '{job.name}' does not "
                "exist (any more). Choose another source: 'agent-jobs job set "
                f"\"{job.name}\" --source JOB'.") from None
        if source.is_copy:
            raise JobStateError(f"The source '{source.name}' of backup copy job '{job.name}' is "
                                "itself a copy job: a copy job copies a backup job's points.")
        return source

    def _copy_computers(self, job: JobDefinition, source: JobDefinition) -> list[Computer]:
        """A copy job's computers: its source job's, then those of which the source job
        still has points but no longer the computer (they are copied too)."""
        computers = list(source.computers)
        names = {c.name for c in computers}
        for p in self._ctx.catalogue.points(source.name):
            if p.computer not in names:
                names.add(p.computer)
                computers.append(Computer(name=p.computer, path=f"/{p.computer}"))
        return computers
    def _demo_work(self, runner: SessionRunner, computers: list[Computer]) -> None:
        """The demo's computers change some files before each run (``core.service.demo``),
        so that every session of the demo reads long enough to be stopped; said in the log."""
        try:
            changed = demo.work_between_runs(self._ctx.data_dir, computers)
        except OSError as exc:
            runner.note(f"Demo: the demo computers could not change their files "
                        f"({exc.strerror or exc}); this session may find nothing new to read.",
                        "warning")
            return
        if changed:
            runner.note("Demo: before this run, the demo computers changed "
                        + ", ".join(f"{n} file(s) on {name}" for name, n in changed.items())
                        + " (a block of each data file, some documents, a log line).")

    def _runner_finished(self, runner: SessionRunner) -> None:
        try:
            if runner.was_paused:   # its record goes with it
                self._ctx.catalogue.drop_paused(runner.session.id)
        except ConsoleError:
            logging.getLogger(__name__).warning("could not drop session %s's pause record",
                                                runner.session.id)
        with self._ctx.runners_lock:
            if not runner.saved:   # clients keep seeing its end; saved again later
                self._ctx.unsaved[runner.session.id] = runner
            self._ctx.runners.pop(runner.session.id, None)
        session_id = runner.session.id
        self._ctx.deadlines.cancel(f"window:{session_id}", f"escalate:{session_id}",
                                   f"window-open:{session_id}")
        scheduled = session_id in self._scheduled_sessions
        self._scheduled_sessions.discard(session_id)
        failed = any(t.status in RETRY_STATUSES for t in runner.tasks)
        try:
            self._ctx.scheduler.session_finished(runner.job.name, session_id, failed=failed,
                                            scheduled=scheduled)
        except Exception:
            logging.getLogger(__name__).exception("scheduler bookkeeping failed")
        try:
            self._health_check_after(runner, scheduled)
        except Exception:
            logging.getLogger(__name__).exception("the health check could not start")
        if self.notify_finished is not None:
            try:   # queued: a slow or dead mail server never holds the session
                retry_pending = scheduled and \
                    self._ctx.scheduler.pending_retry(runner.job.name) is not None
                self.notify_finished(runner.snapshot(), retry_pending)
            except Exception:
                logging.getLogger(__name__).exception("the notification could not be queued")
        self._ctx.scheduler_wake.set()

    def running_jobs(self) -> list[str]:
        """Names of the jobs that have a session running."""
        return self._ctx.running_jobs()

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
        job = self._ctx.catalogue.job(name)
        active = self._ctx.catalogue.active_session(job.name)
        if active is None:
            raise JobNotRunning(f"Job '{job.name}' is not running; there is nothing to stop.")
        return job, active

    def stop_job(self, name: str, mode: StopMode,
                 escalate_after_s: float | None = None) -> StopPreview:
        """Stop the job's session; returns where each computer stood at the
        moment the stop took effect. A graceful stop with ``escalate_after_s``
        becomes immediate if the session still runs that long after; the server
        keeps the deadline, so it holds with every console closed. Gracefully only
        past the RPO: the computers in progress past their RPO (or passing it before
        they could finish) finish, the others are cancelled now."""
        job, runner = self._runner_of(name)
        sid = runner.session.id
        finish: list[str] = []
        if mode is StopMode.GRACEFULLY_PAST_RPO:
            if job.notify.rpo_hours is None:
                raise JobStateError(
                    f"Job '{job.name}' has no RPO, so no computer is past it. Set one "
                    f"('agent-jobs job set \"{job.name}\" --rpo HOURS', or the job's "
                    "Notifications), or stop it gracefully or immediately.")
            points = self._ctx.catalogue.points(job.name)
            with runner.lock:   # no task starts or ends between the choice and the stop
                _costs, finish = stop_costs(runner.snapshot().tasks, points, sid,
                                            job.notify.rpo_hours, self._ctx.clock(), utcnow())
                done, running, pending = runner.stop(mode, by=f"by {who_is_asking()}",
                                                     finish=finish)
        else:
            done, running, pending = runner.stop(mode, by=f"by {who_is_asking()}")
        self._start_restored(runner)   # paused before a restart: it ends (or finishes) now
        if mode.graceful and escalate_after_s:
            due = self._ctx.clock() + timedelta(seconds=escalate_after_s)
            self._ctx.deadlines.set(f"escalate:{sid}", due,
                               partial(self._escalate, sid, escalate_after_s))
            runner.note(f"If the graceful stop has not ended the job by "
                        f"{format_local(due, with_date=False)} ({_duration(escalate_after_s)}), "
                        "it stops immediately.", "warning")
            self._ctx.scheduler_wake.set()
        elif mode is StopMode.IMMEDIATELY:
            self._ctx.deadlines.cancel(f"escalate:{sid}")
        self._ctx.events.publish(SessionChanged(job.name, sid))
        preview = self._preview(job, runner, (done, running, pending))
        if mode is StopMode.GRACEFULLY_PAST_RPO:   # the decision, as it was taken
            preview.finishes_past_rpo = [c for c in running if c in finish]
        return preview

    def pause_job(self, name: str) -> StopPreview:
        """Pause the job's session: every computer in flight is held at its next block
        (what it sent is kept), no new computer starts; the session shows Paused."""
        job, runner = self._runner_of(name, doing="pause")
        runner.pause(by=f"by {who_is_asking()}")
        self._ctx.events.publish(SessionChanged(job.name, runner.session.id))
        return self._preview(job, runner, runner.preview())

    def resume_job(self, name: str) -> StopPreview:
        """Resume the job's paused session: each computer goes on where it stopped (a
        session a restart found paused starts its unfinished computers again; the files
        they had stored are not read again)."""
        job, runner = self._runner_of(name, doing="resume")
        runner.resume(by=f"by {who_is_asking()}")
        self._start_restored(runner)
        self._ctx.events.publish(SessionChanged(job.name, runner.session.id))
        return self._preview(job, runner, runner.preview())

    def _start_restored(self, runner: SessionRunner) -> None:
        """A session rebuilt Paused at the start of the server runs from its Resume (or
        its stop) on."""
        runner.start_restored()

    def restore_paused(self) -> list[str]:
        """At the server's start: every session recorded Paused is rebuilt Paused (its
        tasks not running); Resume starts each unfinished computer again."""
        restored: list[str] = []
        cat = self._ctx.catalogue
        for session in cat.paused_sessions():
            try:
                job = cat.job(session.job)
            except ConsoleError:
                continue
            try:
                progress = cat.paused_tasks(session.id)
                runner = SessionRunner(self._engine, job, session,
                                       on_finished=self._runner_finished,
                                       computers=list(job.computers))
                runner.restore_paused(session, progress)
            except (KeyError, ValueError, ConsoleError) as exc:   # e.g. a computer removed
                self._fail_paused(session, exc)
                continue
            with self._ctx.runners_lock:
                self._ctx.runners[session.id] = runner
            restored.append(session.id)
            window = job.schedule.window if job.schedule is not None else None
            if window is not None and window.pause and \
                    any(i.text.startswith(WINDOW_PAUSED) for i in session.log):
                self._resume_at_open(runner, window)
        return restored

    def _fail_paused(self, session: SessionInfo, exc: Exception) -> None:
        """A paused session the start cannot rebuild ends Failed, saying why."""
        now = utcnow()
        why = f"{exc.__class__.__name__}: {exc}" if isinstance(exc, KeyError) else str(exc)
        session.log.append(LogItem(time=now, level="error", text=(
            f"The paused session could not be resumed after the server's restart ({why}): "
            "its computers in progress get no restore point. Start the job again.")))
        for task in session.tasks:
            if not task.status.is_final:
                task.status, task.ended = TaskStatus.FAILED, now
        session.state, session.result, session.ended = \
            SessionState.STOPPED, SessionResult.FAILED, now
        try:
            self._ctx.catalogue.save_session(session)
            self._ctx.catalogue.drop_paused(session.id)
        except ConsoleError:
            logging.getLogger(__name__).exception("could not fail paused session %s",
                                                  session.id)

    def stop_preview(self, name: str) -> StopPreview:
        job, runner = self._runner_of(name)
        return self._preview(job, runner, runner.preview())

    def _runner_of(self, name: str, doing: str = "stop") -> tuple[JobDefinition, SessionRunner]:
        job = self._ctx.catalogue.job(name)
        active = self._ctx.catalogue.active_session(job.name)
        runner = self._ctx.runners.get(active.id) if active is not None else None
        if runner is None:
            raise JobNotRunning(f"Job '{job.name}' is not running; there is nothing to "
                                f"{doing}.")
        return job, runner

    def _preview(self, job: JobDefinition, runner: SessionRunner,
                 where: tuple[list[str], list[str], list[str]]) -> StopPreview:
        done, running, pending = where
        now = utcnow()
        snapshot = runner.snapshot().tasks
        tasks = {t.computer: t for t in snapshot}
        rpo = job.notify.rpo_hours
        costs, finishing = stop_costs(snapshot, self._ctx.catalogue.points(job.name),
                                      runner.session.id, rpo, self._ctx.clock(), now)
        estimates = [ComputerEstimate(computer=c, progress=progress_percent(tasks[c]),
                                      eta_seconds=eta_seconds(tasks[c], now),
                                      production_s=round(tasks[c].production_s, 1))
                     for c in running if c in tasks]
        etas = [e.eta_seconds for e in estimates if e.eta_seconds is not None]
        total = max(etas, default=0.0) if len(etas) == len(estimates) else None
        return StopPreview(job=job.name, session_id=runner.session.id, completed=done,
                           in_progress=running, not_started=pending, estimates=estimates,
                           graceful_eta_seconds=total,
                           escalate_at=self._ctx.deadlines.due_at(f"escalate:{runner.session.id}"),
                           stop_mode=runner.session.stop_mode,
                           stop_requested_at=runner.stop_requested_at,
                           stopped_by=runner.session.stopped_by,
                           paused=runner.is_paused or runner.hold.paused,
                           rpo_hours=rpo, costs=costs, finishes_past_rpo=finishing)

    def _escalate(self, session_id: str, after_s: float) -> None:
        runner = self._ctx.runners.get(session_id)
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
        self._ctx.events.publish(SessionChanged(runner.job.name, session_id))

    def _window_closed(self, session_id: str) -> None:
        runner = self._ctx.runners.get(session_id)
        if runner is None or runner.finished or runner.job.schedule is None or \
                runner.job.schedule.window is None:
            return
        window = runner.job.schedule.window
        if window.pause:
            self._window_pause(runner, window)
            return
        mode = StopMode.IMMEDIATELY if window.terminate else StopMode.GRACEFULLY
        what = ("computers in progress are cancelled" if window.terminate else
                "computers in progress finish; no new computer starts")
        try:
            runner.stop(mode, by="by the backup window",
                        reason=f"Stopped by the backup window ({window.describe()}): {what}.")
        except JobStateError:
            return
        self._ctx.events.publish(SessionChanged(runner.job.name, session_id))

    def _window_pause(self, runner: SessionRunner, window: BackupWindow) -> None:
        """The job's window closed and it says pause: pause the session, and resume it
        when the window opens again."""
        sid = runner.session.id
        try:
            runner.pause(by="by the backup window",
                         reason=f"{WINDOW_PAUSED} ({window.describe()}): computers in progress "
                                "are held; the job resumes when the window opens again.")
        except JobStateError:
            return
        self._resume_at_open(runner, window)
        self._ctx.events.publish(SessionChanged(runner.job.name, sid))

    def _resume_at_open(self, runner: SessionRunner, window: BackupWindow) -> None:
        sid = runner.session.id
        opens = window.next_open(self._ctx.clock(), self._ctx.scheduler.tz)
        if opens is not None:
            self._ctx.deadlines.set(f"window-open:{sid}", opens,
                                    partial(self._window_opened, sid))
            self._ctx.scheduler_wake.set()

    def _window_opened(self, session_id: str) -> None:
        """The window opened again on a session it paused: resume it, until it closes."""
        runner = self._ctx.runners.get(session_id)
        if runner is None or runner.finished or runner.job.schedule is None or \
                runner.job.schedule.window is None:
            return
        window = runner.job.schedule.window
        try:
            runner.resume(by="by the backup window",
                          reason=f"Resumed by the backup window ({window.describe()}): it "
                                 "opened again.")
        except JobStateError:
            return   # resumed or stopped by hand meanwhile
        self._start_restored(runner)
        now = self._ctx.clock()
        closes = window.next_close(now, self._ctx.scheduler.tz)
        if closes is not None:
            self._ctx.deadlines.set(f"window:{session_id}", closes,
                                    partial(self._window_closed, session_id))
            self._ctx.scheduler_wake.set()
        self._ctx.events.publish(SessionChanged(runner.job.name, session_id))

    def wait_session(self, session_id: str, timeout: float | None = None) -> SessionInfo:
        runner = self._ctx.runners.get(session_id) or self._ctx.operations.get(session_id)
        if runner is not None:
            runner.join(timeout)
        return self.get_session(session_id)

    def get_session(self, session_id: str) -> SessionInfo:
        runner = self._ctx.runners.get(session_id) or self._ctx.unsaved.get(session_id) \
            or self._ctx.operations.get(session_id)
        if runner is not None:
            return runner.snapshot()
        return self._ctx.catalogue.session(session_id)

    def list_history(self, query: HistoryQuery) -> HistoryPage:
        """A page of session summaries (History): see HistoryQuery."""
        if query.job is not None and query.job:
            try:
                query = query.model_copy(update={"job": self._ctx.catalogue.job(query.job).name})
            except ConsoleError:
                pass   # a deleted job's restores may still be asked for by name
        return self._ctx.catalogue.history(query)

    def list_sessions(self, job: str | None = None, limit: int = 200) -> list[SessionInfo]:
        if job is not None:
            job = self._ctx.catalogue.job(job).name
        sessions = self._ctx.catalogue.sessions(job, limit)
        live: dict[str, SessionRunner | OperationRunner] = {
            **self._ctx.unsaved, **self._ctx.runners, **self._ctx.operations}
        return [live[s.id].snapshot() if s.id in live else s for s in sessions]

    def retry_candidates(self, name: str) -> list[str]:
        job = self._ctx.catalogue.job(name)
        last = self._ctx.catalogue.latest_finished(job.name)
        if last is None:
            return []
        computers = self._copy_computers(job, self.copy_source_of(job)) if job.is_copy \
            else job.computers
        current = {c.name for c in computers}
        return [t.computer for t in last.tasks
                if t.status in RETRY_STATUSES and t.computer in current]


def _duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
