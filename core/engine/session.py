"""The job engine: one :class:`SessionRunner` per running job session.

A session processes its computers at most ``task_slots`` at a time. Stop
semantics (the heart of the product):

* immediately: completed computers keep their new points; computers in
  progress are cancelled (checked per block and during throttle waits) and
  their partial data never becomes a point; pending computers are skipped.
* gracefully: pending computers are skipped; computers in progress finish.
* gracefully, only past the RPO: pending computers are skipped; computers in
  progress past (or about to pass) their RPO finish, the others are cancelled
  (each task has its own cancel event; an immediate stop sets them all).

A task's final step (the manifest commit) and a stop decision take the same
lock, so the set of computers with a new point is exactly the set that had
completed (immediately) or had completed or started (gracefully) when the
stop was taken.
"""
from __future__ import annotations

import logging
import secrets
import threading
from time import monotonic
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from core.engine.context import EngineContext, TaskRun, log_size
from core.engine.hold import HoldGate
from core.engine.estimates import about, fit_order
from core.engine.task import TaskProcessor
from core.engine.thread import SessionThread
from core.catalogue import PausedTask
from core.repository.model import Entry, PartialFile
from core.errors import ConsoleError, JobStateError
from core.events import SessionChanged
from core.models import (
    Computer,
    JobDefinition,
    LogItem,
    SessionInfo,
    SessionResult,
    SessionState,
    StopMode,
    TaskInfo,
    TaskStatus,
    utcnow,
)

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.25
# A running task's processed bytes are sampled this often for the rate chart, and at most
# MAX_RATE_SAMPLES kept per task (every other one is dropped when full: a long session
# keeps its whole shape at a coarser step).
RATE_SAMPLE_S = 1.0
MAX_RATE_SAMPLES = 300



@dataclass(frozen=True)
class WindowFit:
    """A session started inside its job's backup window: when the window closes, and
    each computer's expected duration in seconds (lower-case name; from its history,
    see ``core.engine.estimates.expected_durations``). Computers start in
    ``fit_order``; one that cannot finish before the close is not started, and one
    whose current scan (at its usual rate, ``rates``) shows it cannot is stopped
    right after the scan, before it reads anything."""

    closes: datetime
    expected: dict[str, float] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)   # bytes of its scan per second


class TaskWork(Protocol):
    """One computer's work in a session (a backup, or a copy)."""

    def run(self) -> None: ...


def _restore_counters(task: TaskRun, info: TaskInfo) -> None:
    """A task's figures and log as the catalogue kept them (a session rebuilt after a
    restart). A computer that goes on scans again: its file and byte counts start anew,
    except the bytes it read (carried over: what the session read in all)."""
    task.status = info.status
    task.started, task.ended = info.started, info.ended
    task.point_id, task.point_type = info.point_id, info.point_type
    task.warnings, task.log = info.warnings, list(info.log)
    task.bytes_read, task.reading_since = info.bytes_read, info.reading_since
    task.rate_samples = list(info.rate_samples)
    if info.status.is_final:
        task.bytes_processed, task.bytes_transferred = info.bytes_processed, \
            info.bytes_transferred
        task.files_total, task.files_done = info.files_total, info.files_done
        task.bytes_total = info.bytes_total


def new_session_id() -> str:
    return utcnow().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


class SessionRunner(SessionThread):
    def __init__(self, ctx: EngineContext, job: JobDefinition, session: SessionInfo,
                 on_finished: Callable[[SessionRunner], None] | None = None, *,
                 computers: Sequence[Computer] | None = None,
                 processor: Callable[[SessionRunner, TaskRun], TaskWork] | None = None,
                 window: WindowFit | None = None) -> None:
        """``computers``: the computers the tasks name (default: the job's; a backup copy
        job's are its source job's). ``processor`` makes a task's work (default: a
        backup, :class:`TaskProcessor`; a copy session passes ``CopyTaskProcessor``).
        ``window``: the backup window the session must fit in (see :class:`WindowFit`)."""
        super().__init__(f"session-{session.id}")
        self.ctx = ctx
        self.job = job
        self.session = session
        self._processor: Callable[[SessionRunner, TaskRun], TaskWork] = \
            processor or TaskProcessor
        by_name = {c.name: c for c in (job.computers if computers is None else computers)}
        self.tasks = [TaskRun(by_name[t.computer]) for t in session.tasks]
        self._pending = list(self.tasks)
        self._window = window
        if window is not None:
            order = {n: i for i, n in enumerate(
                fit_order([t.computer.name for t in self.tasks], window.expected))}
            self._pending.sort(key=lambda t: order[t.computer.name])
        self.lock = threading.RLock()   # the session's state, its tasks' statuses, the commit
        self.cancel_event = threading.Event()   # set by an immediate stop
        self.hold = HoldGate(self.cancel_event)   # Pause and Resume (core/engine/hold.py)
        self.hold.on_all_held = self._all_held
        self.paused_at: datetime | None = None
        # computers a restart left paused (their record in the catalogue): they go first,
        # and a graceful stop lets them finish (they were in progress)
        self._resumable: list[TaskRun] = []
        self.restored = False   # rebuilt at the server's start from a paused record
        self.was_paused = False   # paused at least once (it may have a record to drop)
        self._started = False
        self.resume_entries: dict[str, list[Entry]] = {}   # computer -> files completed
        self.resume_partial: dict[str, PartialFile] = {}   # computer -> file half read
        self._wake = threading.Event()
        self._live_workers = 0   # task threads still running (see _run)
        self._stop_mode: StopMode | None = None
        self.stop_requested_at: datetime | None = None   # when the (first) stop was asked for
        self._stopped_by = "by user"
        self.started_by = "user"   # who started it, for its log (a named user once they log in)
        self._forgot_points = False
        self.saved = True                      # the last catalogue save worked
        self.save_error: str | None = None
        self._on_finished = on_finished
        self._sampled_at: float | None = None   # monotonic time of the last rate sample

    # -- control -----------------------------------------------------------
    def stop(self, mode: StopMode, reason: str | None = None, by: str = "by user",
             finish: Collection[str] = ()) -> tuple[list[str], list[str], list[str]]:
        """Stop the session; returns (completed, in progress, not started) as
        they were at the moment the stop took effect. ``reason`` replaces the
        session log's "Stop requested by user" line (a deadline, a window).
        ``finish``, for a graceful stop only past the RPO: the computers in
        progress that finish (the service names those past their RPO); every
        other computer in progress is cancelled now and gets no new point."""
        with self.lock:
            if self.session.state is SessionState.STOPPED:
                raise JobStateError(f"Job '{self.job.name}' is not running.")
            outcome = self.preview()
            if self._stop_mode is StopMode.IMMEDIATELY or self._stop_mode is mode or (
                    self._stop_mode is StopMode.GRACEFULLY_PAST_RPO
                    and mode is StopMode.GRACEFULLY):   # the others are cancelled already
                return outcome
            self._stop_mode = mode
            if self.stop_requested_at is None:
                self.stop_requested_at = utcnow()
            self._stopped_by = by
            self.session.stop_mode = mode
            self.session.stopped_by = by
            self.session.state = SessionState.STOPPING
            for task in self._pending:
                task.status = TaskStatus.SKIPPED
                task.ended = utcnow()
                task.note("Skipped: the job was stopped before this computer was processed",
                          "warning")
            self._pending.clear()
            if mode is StopMode.IMMEDIATELY:
                self.cancel_event.set()
                for task in self.tasks:
                    task.cancel.set()
                self.hold.cancelled()
                for task in self._resumable:   # paused before a restart: no point
                    task.status = TaskStatus.CANCELLED
                    task.ended = utcnow()
                    task.note("Processing cancelled: the job was stopped immediately while "
                              "paused. No restore point was created for this computer.",
                              "error")
                self._resumable.clear()
                self._note(reason or f"Stop requested {by}: immediately. Computers in "
                           "progress are cancelled and get no new restore point.", "warning")
            elif mode is StopMode.GRACEFULLY_PAST_RPO:
                keep = {name.lower() for name in finish}
                kept, cancelled = [], []
                for task in self.tasks:
                    if task.status is not TaskStatus.IN_PROGRESS:
                        continue
                    if task.computer.name.lower() in keep:
                        kept.append(task.computer.name)
                        continue
                    cancelled.append(task.computer.name)
                    task.note("Cancelled: the job was stopped gracefully only for computers "
                              "past their RPO, and this computer is within its RPO.", "warning")
                    task.cancel.set()
                self._note(reason or f"Stop requested {by}: gracefully, only for computers "
                           "past their RPO. Finishing: " + (", ".join(kept) or "none")
                           + "; cancelled now (no new restore point): "
                           + (", ".join(cancelled) or "none") + "; no new computer starts.",
                           "warning")
            else:
                self._note(reason or f"Stop requested {by}: gracefully. Computers in "
                           "progress will finish; no new computer starts.", "warning")
                if self.hold.paused:
                    self._note("The paused computers resume to finish.")
            self.hold.resume()
        self._wake.set()
        return outcome

    def pause(self, by: str = "by user", reason: str | None = None) -> list[str]:
        """Hold every computer in flight at its next chunk boundary (what it sent is made
        durable there); no new computer starts. Returns the computers in progress. The
        session shows Paused once every one of them is held."""
        with self.lock:
            if self.session.state is SessionState.STOPPED:
                raise JobStateError(f"Job '{self.job.name}' is not running.")
            if self._stop_mode is not None:
                raise JobStateError(f"Job '{self.job.name}' is stopping; it cannot be paused.")
            if self.job.is_copy:
                raise JobStateError(f"Job '{self.job.name}' is a backup copy job: only backup "
                                    "jobs can be paused. Stop it instead.")
            if self.hold.paused or self.session.state is SessionState.PAUSED:
                raise JobStateError(f"Job '{self.job.name}' is already paused. Resume it "
                                    "with 'agent-jobs resume'.")
            running = [t.computer.name for t in self.tasks
                       if t.status is TaskStatus.IN_PROGRESS]
            self.paused_at = utcnow()
            self.was_paused = True
            self._note(reason or f"Pause requested {by}: computers in progress are held at "
                       "their next block; what they sent is kept.", "warning")
        self.hold.pause()
        self._wake.set()
        return running

    def resume(self, by: str = "by user", reason: str | None = None) -> list[str]:
        """Let the held computers go on where they stopped; returns them."""
        with self.lock:
            if not self.hold.paused and self.session.state is not SessionState.PAUSED:
                raise JobStateError(f"Job '{self.job.name}' is not paused.")
            held = [t.computer.name for t in self.tasks
                    if t.status is TaskStatus.IN_PROGRESS]
            if self.session.state is SessionState.PAUSED:
                self.session.state = SessionState.WORKING
            self.paused_at = None
            self._note(reason or f"Resumed {by}: computers continue where they stopped.")
        self.hold.resume()
        self._wake.set()
        return held

    def restore_paused(self, session: SessionInfo, progress: dict[str, PausedTask]) -> None:
        """Rebuild, at the server's start, a session the catalogue recorded Paused: its
        finished computers as they ended, the ones in progress ready to go on (first, with
        what they had stored: ``progress``, computer -> its record), the others
        pending. The runner starts on Resume (or on a stop)."""
        self.restored = self.was_paused = True
        by_name = {t.computer: t for t in session.tasks}
        self._pending = []
        for task in self.tasks:
            info = by_name[task.computer.name]
            _restore_counters(task, info)
            if info.status is TaskStatus.IN_PROGRESS:
                record = progress.get(task.computer.name)
                if record is not None:
                    task.bytes_read = max(record.bytes_read, info.bytes_read)
                    if record.files:
                        self.resume_entries[task.computer.name] = record.files
                    if record.partial is not None:
                        self.resume_partial[task.computer.name] = record.partial
                self._resumable.append(task)
            elif info.status is TaskStatus.PENDING:
                self._pending.append(task)
        self.session.state = SessionState.PAUSED
        self.paused_at = utcnow()
        self._note("The backup server restarted while this session was paused: it stays "
                   "paused. Resume goes on with each unfinished computer; the files they had "
                   "stored are not read again.", "warning")

    def start_restored(self) -> bool:
        """Start a session rebuilt Paused (on its Resume or stop); False if it runs."""
        with self.lock:
            if not self.restored or self._started:
                return False
            self._started = True
        self.start()
        return True

    @property
    def is_paused(self) -> bool:
        with self.lock:
            return self.session.state is SessionState.PAUSED

    def _all_held(self) -> None:
        """Every computer in flight is held (the gate says so): the session is Paused."""
        with self.lock:
            if self.session.state is not SessionState.WORKING or not self.hold.paused:
                return
            self.session.state = SessionState.PAUSED
            held = [t.computer.name for t in self.tasks if t.status is TaskStatus.IN_PROGRESS]
            latency, stopped = self.hold.held_latency_s, self.hold.stopped_latency_s
            self._note(f"Paused: {len(held)} computer(s) held"
                       + (f" ({', '.join(held)})" if held else "")
                       + (f" {latency * 1000:.0f} ms after the request" if latency is not None
                          else "")
                       + (f" (reading stopped after {stopped * 1000:.0f} ms, then what they "
                          "sent was made durable)" if stopped is not None and held else "")
                       + ". Resume continues each where it stopped.")
        self._wake.set()

    def paused_progress(self, task: TaskRun, files: list[Entry],
                        partial: PartialFile | None = None) -> None:
        """Record, in the catalogue, what a held task has stored (its files, the file it
        is in the middle of, the bytes it read): a restart finds the session paused and
        resumes from there."""
        self.ctx.catalogue.save_paused_task(self.session.id, task.computer.name, files,
                                            task.bytes_read, partial)

    def points_forgotten(self) -> None:
        """A task's retention removed points: their space is reclaimed at the end."""
        self._forgot_points = True

    def note(self, text: str, level: str = "info") -> None:
        """Add a line to the session's log."""
        with self.lock:
            self._note(text, level)

    def preview(self) -> tuple[list[str], list[str], list[str]]:
        """(completed, in progress, not started) at this moment."""
        with self.lock:
            done = [t.computer.name for t in self.tasks if t.status.produced_point]
            running = [t.computer.name for t in self.tasks
                       if t.status is TaskStatus.IN_PROGRESS]
            pending = [t.computer.name for t in self.tasks if t.status is TaskStatus.PENDING]
        return done, running, pending

    def live_state(self) -> tuple[SessionState, int, SessionResult | None]:
        """(state, progress, result) without copying the session: the jobs
        list asks this of every running session on each refresh."""
        with self.lock:
            return self.session.state, self._progress(), self.session.result

    def snapshot(self) -> SessionInfo:
        with self.lock:
            session = self.session.model_copy(deep=True)
            session.tasks = [t.info() for t in self.tasks]
            session.progress = self._progress()
        return session

    # -- session thread ----------------------------------------------------
    def _note(self, text: str, level: str = "info") -> None:
        self.session.log.append(LogItem(time=utcnow(), level=level, text=text))

    def _progress(self) -> int:
        if not self.tasks:
            return 100
        return int(100 * sum(t.fraction for t in self.tasks) / len(self.tasks))

    def _run(self) -> None:
        try:
            with self.lock:
                if self.session.state in (SessionState.STARTING, SessionState.PAUSED):
                    self.session.state = SessionState.WORKING
                kind = {"manual": f"manually by {self.started_by}",
                        "retry": f"by {self.started_by} (retry)",
                        "scheduled": "by schedule"}[self.session.run_kind.value]
                what = "Copy job" if self.job.is_copy else "Job"
                if self.restored:
                    self._note(f"{what} continues after the server's restart: "
                               f"{len(self._resumable)} paused computer(s) go on where they "
                               f"stopped, {len(self._pending)} not started yet")
                else:
                    self._note(f"{what} started {kind}"
                               + (" (active full)" if self.session.full else "")
                               + f": {len(self.tasks)} computer(s), "
                               f"{self.job.task_slots} task slot(s)")
                if self._window is not None:
                    left = (self._window.closes - self.ctx.clock()).total_seconds()
                    self._note(f"The backup window closes in {about(left)}: computers start "
                               "shortest expected first (those with no history first), and "
                               "one that cannot finish before the close is left for next "
                               "time.")
            self._flush()
            workers = [threading.Thread(target=self._worker, daemon=True,
                                        name=f"task-{self.session.id}-{i}")
                       for i in range(min(self.job.task_slots, len(self.tasks)))]
            self._live_workers = len(workers)
            for w in workers:
                w.start()
            # Count workers under the lock rather than asking is_alive(): a
            # worker's last wake-up comes just before its thread ends, and a
            # check in that gap would sleep a whole interval before finishing.
            while self._workers_left():
                self._wake.wait(FLUSH_INTERVAL_S)
                self._wake.clear()
                self._sample()
                self._flush()
            self._sample(last=True)
            for w in workers:
                w.join()
            self._reclaim_space()
            self._finish()
        except Exception as exc:  # never leave a session hanging
            log.exception("session %s crashed", self.session.id)
            with self.lock:
                self._note(f"Internal error: {exc}", "error")
                self.cancel_event.set()
                for task in self.tasks:
                    task.cancel.set()
            self._finish(force_failed=True)
        finally:
            # The callback first (the server records retries and frees the job
            # there), so whoever waits on the session sees its consequences.
            try:
                if self._on_finished:
                    self._on_finished(self)
            finally:
                self.ctx.catalogue.release_thread()   # this thread's connection ends with it
                self._finished.set()

    def _sample(self, *, last: bool = False) -> None:
        """Record each running task's processed bytes for the rate chart (every
        RATE_SAMPLE_S, or now when ``last``), and a task's final figure at its end."""
        now = monotonic()
        if not last and self._sampled_at is not None and now - self._sampled_at < RATE_SAMPLE_S:
            return
        self._sampled_at = now
        with self.lock:
            created = self.session.created
            elapsed = max(0.0, (utcnow() - created).total_seconds())
            for task in self.tasks:
                if task.status is TaskStatus.IN_PROGRESS:
                    at = elapsed
                elif task.started is not None and task.ended is not None:
                    at = max(0.0, (task.ended - created).total_seconds())
                else:
                    continue
                samples = task.rate_samples
                if not samples and task.started is not None:   # it starts from nothing
                    samples.append((round(max(0.0, (task.started - created).total_seconds()),
                                          2), 0))
                if samples and samples[-1][0] >= round(at, 2):
                    continue
                samples.append((round(at, 2), task.bytes_processed))
                if len(samples) > MAX_RATE_SAMPLES:
                    del samples[1:-1:2]

    def _flush(self) -> bool:
        """Save the session to the catalogue; False (and ``saved`` False) if that
        failed, e.g. on a full disk: the live snapshot then stays the truth."""
        snap = self.snapshot()
        try:
            self.ctx.catalogue.save_session(snap)
            self.saved, self.save_error = True, None
        except ConsoleError as exc:
            log.warning("could not save session %s: %s", self.session.id, exc)
            self.saved, self.save_error = False, str(exc)
        except Exception as exc:
            log.exception("could not save session %s", self.session.id)
            self.saved, self.save_error = False, f"{exc.__class__.__name__}: {exc}"
        self.ctx.events.publish(SessionChanged(self.job.name, self.session.id))
        return self.saved

    def _finish(self, force_failed: bool = False) -> None:
        with self.lock:
            for task in self.tasks:
                if not task.status.is_final:
                    task.status = TaskStatus.FAILED
                    task.ended = utcnow()
            statuses = {t.status for t in self.tasks}
            if force_failed or self._stop_mode is StopMode.IMMEDIATELY or \
                    TaskStatus.FAILED in statuses or TaskStatus.CANCELLED in statuses:
                result = SessionResult.FAILED
            elif statuses & {TaskStatus.WARNING, TaskStatus.SKIPPED}:
                result = SessionResult.WARNING
            else:
                result = SessionResult.SUCCESS
            made = sum(1 for t in self.tasks if t.status.produced_point)
            how = "" if self._stop_mode is None else \
                f"Job stopped {self._stop_mode.text} {self._stopped_by}. "
            self._note(f"{how}{made} of {len(self.tasks)} computer(s) got a new restore point.",
                       "info" if result is SessionResult.SUCCESS else
                       "warning" if result is SessionResult.WARNING else "error")
            self.session.result = result
            self.session.state = SessionState.STOPPED
            self.session.ended = utcnow()
        if not self._flush():
            with self.lock:   # the in-memory record is the one clients see (and retried)
                self._note(f"The session could not be recorded in the catalogue: "
                           f"{self.save_error}", "error")
                self.session.result = SessionResult.FAILED

    def _workers_left(self) -> int:
        with self.lock:
            return self._live_workers

    def _worker(self) -> None:
        try:
            while True:
                self.hold.wait_open()   # no new computer starts while paused
                with self.lock:
                    if self._resumable and self._stop_mode is not StopMode.IMMEDIATELY:
                        task = self._resumable.pop(0)
                    elif self._stop_mode is not None or not self._pending:
                        return
                    else:
                        task = self._pending.pop(0)
                        if not self._fits(task):
                            continue
                    if self.hold.paused:   # paused meanwhile: wait again
                        (self._resumable if task.status is TaskStatus.IN_PROGRESS
                         else self._pending).insert(0, task)
                        continue
                    if task.status is TaskStatus.PENDING or task.started is None:
                        task.started = utcnow()
                    task.status = TaskStatus.IN_PROGRESS
                    self.hold.enter()
                self._wake.set()
                try:
                    self._processor(self, task).run()
                finally:
                    self.hold.leave()
                self._wake.set()
        finally:
            self.ctx.catalogue.release_thread()
            with self.lock:
                self._live_workers -= 1
            self._wake.set()

    def _fits(self, task: TaskRun) -> bool:
        """Under the lock: ``task`` can start (no window, no history, or its expected
        duration ends before the window closes); else it is skipped, and the log says
        why."""
        if self._window is None:
            return True
        need = self._window.expected.get(task.computer.name.lower())
        left = (self._window.closes - self.ctx.clock()).total_seconds()
        if need is None or need <= left:
            return True
        task.status = TaskStatus.SKIPPED
        task.ended = utcnow()
        task.note(f"Not started: this computer needs about {about(need)} (its last runs) and "
                  f"the backup window closes in {about(max(0.0, left))}; it is left for the "
                  "next run.", "warning")
        self._note(f"Not started: {task.computer.name} needs about {about(need)}, the window "
                   f"closes in {about(max(0.0, left))}.", "warning")
        return False

    def fits_after_scan(self, task: TaskRun) -> bool:
        """After ``task``'s scan: False (and the task Skipped, the log saying why) when,
        at the rate its last runs read it, its scanned size cannot be read before the
        window closes."""
        if self._window is None:
            return True
        rate = self._window.rates.get(task.computer.name.lower())
        if not rate or task.bytes_total <= 0:
            return True
        need = task.bytes_total / rate
        with self.lock:
            left = (self._window.closes - self.ctx.clock()).total_seconds()
            if need <= left or self._stop_mode is not None:
                return True
            task.status = TaskStatus.SKIPPED
            task.ended = utcnow()
            size = log_size(task.bytes_total)
            task.note(f"Not started: its scan found {size}, which at the rate of its last "
                      f"runs needs about {about(need)}, and the backup window closes in "
                      f"{about(max(0.0, left))}; nothing was read, it is left for the next "
                      "run.", "warning")
            self._note(f"Not started: {task.computer.name} needs about {about(need)} (its scan: "
                       f"{size}), the window closes in {about(max(0.0, left))}.", "warning")
        return False

    def _reclaim_space(self) -> None:
        """Prune after retention forgot points, and after a computer failed or was
        cancelled with data already written (a full disk must not stay full of a
        point that was never made)."""
        aborted = any(not t.status.produced_point and t.bytes_transferred > 0
                      for t in self.tasks)
        if not self._forgot_points and not aborted:
            return
        what = "Retention" if self._forgot_points else "Cleanup"
        window = self.ctx.maintenance_window() if not aborted else None
        if window is not None:
            with self.lock:
                self._note(f"Retention: space is reclaimed in the maintenance window "
                           f"({window})")
            return
        try:
            report = self.ctx.repository(self.ctx.repository_name(self.job.repository)).prune()
            with self.lock:
                if report.skipped:
                    self._note(f"{what}: space will be reclaimed later ({report.reason})")
                else:
                    self._note(f"{what}: reclaimed {log_size(max(0, report.bytes_freed))} "
                               f"from {report.packs_deleted + report.packs_repacked} pack(s)")
        except ConsoleError as exc:
            with self.lock:
                self._note(f"{what} could not reclaim space: {exc}", "warning")
