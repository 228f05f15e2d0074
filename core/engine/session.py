"""The job engine: one :class:`SessionRunner` per running job session.

A session processes its computers at most ``task_slots`` at a time. Stop
semantics (the heart of the product):

* immediately: completed computers keep their new points; computers in
  progress are cancelled (checked per block and during throttle waits) and
  their partial data never becomes a point; pending computers are skipped.
* gracefully: pending computers are skipped; computers in progress finish.

A task's final step (the manifest commit) and a stop decision take the same
lock, so the set of computers with a new point is exactly the set that had
completed (immediately) or had completed or started (gracefully) when the
stop was taken.
"""
from __future__ import annotations

import errno
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from time import perf_counter
from typing import Any
from collections.abc import Callable, Iterator

from core.agents.base import Agent, Cancelled, FsEntry, SourceFileError
from core.agents.select import agent_for
from core.catalogue import Catalogue
from core.errors import ConsoleError, JobStateError, RepositoryError
from core.events import EventBus, SessionChanged, PointsChanged
from core.engine.hooks import EngineHooks
from core.models import (
    Computer,
    JobDefinition,
    LogItem,
    PointType,
    RestorePointInfo,
    SessionInfo,
    SessionResult,
    SessionState,
    StopMode,
    TaskInfo,
    TaskStatus,
    utcnow,
)
from core.repository import Manifest, MissingParentData, PointMeta, PointNotFound, Repository
from core.repository.repository import LockWaitCancelled
from core.engine.throttle import Throttle

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.25
READ_ATTEMPTS = 3   # reads of a file that changes while it is read
# Ask the agent to start reading the next files this far ahead (small files only:
# the kernel reads large ones ahead by itself), so the disk works while the task
# hashes and hands off the current one; asked in batches of half of it, and only
# for a backup with at least PREFETCH_MIN_FILES of them (the agent may start a
# helper for it). A hint: no data enters the process.
PREFETCH_FILES = 64
PREFETCH_MAX_SIZE = 1 << 20
PREFETCH_MIN_FILES = 64


@dataclass(slots=True)
class TaskRun:
    """A task's live counters, mutated in the hot loop (a plain dataclass)."""

    computer: Computer
    status: TaskStatus = TaskStatus.PENDING
    started: datetime | None = None
    ended: datetime | None = None
    bytes_processed: int = 0
    bytes_read: int = 0
    bytes_transferred: int = 0
    files_total: int = 0
    files_done: int = 0
    bytes_total: int = 0
    warnings: int = 0
    point_id: str | None = None
    reading_since: datetime | None = None   # the first block read: the rate counts from here
    log: list[LogItem] = field(default_factory=list)
    point_type: PointType | None = None
    # Where the task thread spends its time (the bottleneck), in seconds; see stages().
    source_s: float = 0.0      # scanning, opening and reading the computer's files
    throttle_s: float = 0.0    # waiting on the job's read rate limit
    writer_s: float = 0.0      # inside the writer between blocks: hashing, or waiting on its pool
    commit_s: float = 0.0      # flushing packs and index, writing the manifest
    loop_wait_s: float | None = None   # the writer's pool wait when the last block was added
    writer: Any = field(default=None, repr=False)   # the BackupWriter while there is one

    def note(self, text: str, level: str = "info") -> None:
        self.log.append(LogItem(time=utcnow(), level=level, text=text))
        if level == "warning":
            self.warnings += 1

    @property
    def fraction(self) -> float:
        if self.status.is_final:
            return 1.0
        if self.status is TaskStatus.PENDING:
            return 0.0
        if self.bytes_total:
            return min(1.0, self.bytes_processed / self.bytes_total)
        return self.files_done / self.files_total if self.files_total else 0.0

    def stages(self) -> tuple[float, float, float, float, int]:
        """(source, cpu, target, throttling) seconds and the new blocks' raw bytes.

        The task thread reads (Source), waits on the throttle (Throttling),
        hashes inside the writer (CPU) or waits there on the writer's pool,
        and flushes and commits (Target). The pool's wait is split between CPU
        and Target by the pool's own compress and write times."""
        writer = self.writer
        if writer is None:
            return self.source_s, 0.0, self.commit_s, self.throttle_s, 0
        wait = writer.wait_s if self.loop_wait_s is None else self.loop_wait_s
        encode, write = writer.encode_s, writer.write_s
        share = encode / (encode + write) if encode + write > 0 else 0.5
        hashing = max(0.0, self.writer_s - wait)
        return (self.source_s, hashing + wait * share, wait * (1 - share) + self.commit_s,
                self.throttle_s, writer.raw_bytes_new)

    def info(self) -> TaskInfo:
        source, cpu, target, throttle, raw = self.stages()
        return TaskInfo(
            computer=self.computer.name, status=self.status, started=self.started,
            ended=self.ended, bytes_processed=self.bytes_processed, bytes_read=self.bytes_read,
            bytes_transferred=self.bytes_transferred, files_total=self.files_total,
            files_done=self.files_done, bytes_total=self.bytes_total, warnings=self.warnings,
            point_id=self.point_id, reading_since=self.reading_since, log=list(self.log),
            point_type=self.point_type, bytes_stored_raw=raw, source_s=source, cpu_s=cpu,
            target_s=target, throttle_s=throttle)


@dataclass(frozen=True, slots=True)
class WriterFigures:
    """A finished writer's timing figures (see TaskRun.stages)."""

    wait_s: float
    encode_s: float
    write_s: float
    raw_bytes_new: int


@dataclass
class EngineContext:
    catalogue: Catalogue
    events: EventBus
    hooks: EngineHooks
    repository: Callable[[str], Repository]   # repository name -> open repository
    repository_name: Callable[[str], str]      # normalises a job's repository field
    data_dir: Path | None = None   # default: the catalogue's folder (SSH known_hosts live there)

    def data_folder(self) -> Path | None:
        if self.data_dir is not None:
            return self.data_dir
        path = getattr(self.catalogue, "path", None)
        return Path(path).parent if path is not None else None


def new_session_id() -> str:
    return utcnow().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


class SessionRunner:
    def __init__(self, ctx: EngineContext, job: JobDefinition, session: SessionInfo,
                 on_finished: Callable[[SessionRunner], None] | None = None) -> None:
        self.ctx = ctx
        self.job = job
        self.session = session
        by_name = {c.name: c for c in job.computers}
        self.tasks = [TaskRun(by_name[t.computer]) for t in session.tasks]
        self._pending = list(self.tasks)
        self._lock = threading.RLock()
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._wake = threading.Event()
        self._live_workers = 0   # task threads still running (see _run)
        self._stop_mode: StopMode | None = None
        self._stopped_by = "by user"
        self._forgot_points = False
        self.saved = True                      # the last catalogue save worked
        self.save_error: str | None = None
        self._on_finished = on_finished
        self._thread = threading.Thread(target=self._run, name=f"session-{session.id}",
                                        daemon=True)

    # -- control -----------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def stop(self, mode: StopMode, reason: str | None = None, by: str = "by user"
             ) -> tuple[list[str], list[str], list[str]]:
        """Stop the session; returns (completed, in progress, not started) as
        they were at the moment the stop took effect. ``reason`` replaces the
        session log's "Stop requested by user" line (a deadline, a window)."""
        with self._lock:
            if self.session.state is SessionState.STOPPED:
                raise JobStateError(f"Job '{self.job.name}' is not running.")
            outcome = self.preview()
            if self._stop_mode is StopMode.IMMEDIATELY or self._stop_mode is mode:
                return outcome
            self._stop_mode = mode
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
                self._cancel.set()
                self._note(reason or "Stop requested by user: immediately. Computers in "
                           "progress are cancelled and get no new restore point.", "warning")
            else:
                self._note(reason or "Stop requested by user: gracefully. Computers in "
                           "progress will finish; no new computer starts.", "warning")
        self._wake.set()
        return outcome

    def note(self, text: str, level: str = "info") -> None:
        """Add a line to the session's log."""
        with self._lock:
            self._note(text, level)

    def preview(self) -> tuple[list[str], list[str], list[str]]:
        """(completed, in progress, not started) at this moment."""
        with self._lock:
            done = [t.computer.name for t in self.tasks if t.status.produced_point]
            running = [t.computer.name for t in self.tasks
                       if t.status is TaskStatus.IN_PROGRESS]
            pending = [t.computer.name for t in self.tasks if t.status is TaskStatus.PENDING]
        return done, running, pending

    def live_state(self) -> tuple[SessionState, int, SessionResult | None]:
        """(state, progress, result) without copying the session: the jobs
        list asks this of every running session on each refresh."""
        with self._lock:
            return self.session.state, self._progress(), self.session.result

    def snapshot(self) -> SessionInfo:
        with self._lock:
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
            with self._lock:
                self.session.state = SessionState.WORKING
                kind = {"manual": "manually by user", "retry": "by user (retry)",
                        "scheduled": "by schedule"}[self.session.run_kind.value]
                self._note(f"Job started {kind}" + (" (active full)" if self.session.full else "")
                           + f": {len(self.tasks)} computer(s), {self.job.task_slots} task slot(s)")
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
                self._flush()
            for w in workers:
                w.join()
            self._reclaim_space()
            self._finish()
        except Exception as exc:  # never leave a session hanging
            log.exception("session %s crashed", self.session.id)
            with self._lock:
                self._note(f"Internal error: {exc}", "error")
                self._cancel.set()
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
        with self._lock:
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
                f"Job stopped {self._stop_mode.value} {self._stopped_by}. "
            self._note(f"{how}{made} of {len(self.tasks)} computer(s) got a new restore point.",
                       "info" if result is SessionResult.SUCCESS else
                       "warning" if result is SessionResult.WARNING else "error")
            self.session.result = result
            self.session.state = SessionState.STOPPED
            self.session.ended = utcnow()
        if not self._flush():
            with self._lock:   # the in-memory record is the one clients see (and retried)
                self._note(f"The session could not be recorded in the catalogue: "
                           f"{self.save_error}", "error")
                self.session.result = SessionResult.FAILED

    def _workers_left(self) -> int:
        with self._lock:
            return self._live_workers

    def _worker(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._stop_mode is not None or not self._pending:
                        return
                    task = self._pending.pop(0)
                    task.status = TaskStatus.IN_PROGRESS
                    task.started = utcnow()
                self._wake.set()
                TaskProcessor(self, task).run()
                self._wake.set()
        finally:
            self.ctx.catalogue.release_thread()
            with self._lock:
                self._live_workers -= 1
            self._wake.set()

    def _reclaim_space(self) -> None:
        """Prune after retention forgot points, and after a computer failed or was
        cancelled with data already written (a full disk must not stay full of a
        point that was never made)."""
        aborted = any(not t.status.produced_point and t.bytes_transferred > 0
                      for t in self.tasks)
        if not self._forgot_points and not aborted:
            return
        what = "Retention" if self._forgot_points else "Cleanup"
        try:
            report = self.ctx.repository(self.ctx.repository_name(self.job.repository)).prune()
            with self._lock:
                if report.skipped:
                    self._note(f"{what}: space will be reclaimed later ({report.reason})")
                else:
                    self._note(f"{what}: reclaimed {_size(max(0, report.bytes_freed))} "
                               f"from {report.packs_deleted + report.packs_repacked} pack(s)")
        except ConsoleError as exc:
            with self._lock:
                self._note(f"{what} could not reclaim space: {exc}", "warning")


class TaskProcessor:
    """Backs up one computer within a session."""

    def __init__(self, runner: SessionRunner, task: TaskRun) -> None:
        self.runner = runner
        self.task = task
        self.job = runner.job
        self.ctx = runner.ctx
        self.cancel = runner._cancel
        self.throttle = Throttle(self.job.throttle_mbps)   # the rate is per computer
        self._source_counted = 0   # an SSH computer's bytes: chunks received,
        self._source_told = 0      # and what it said it read (see _credit_source)
        self._read_window: memoryview | None = None

    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def run(self) -> None:
        task = self.task
        task.note(f"Processing {task.computer.name}")
        try:
            point = self._backup()
        except Cancelled:
            with self.runner._lock:
                task.status = TaskStatus.CANCELLED
                task.ended = utcnow()
                task.note("Processing cancelled: the job was stopped immediately. "
                          "No restore point was created for this computer.", "error")
            return
        except ConsoleError as exc:
            self._fail(str(exc))
            return
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                self._fail(f"The disk is full: {exc.strerror} ({exc.filename or 'unknown file'})")
            else:
                self._fail(f"{exc.strerror or exc} ({exc.filename or 'unknown file'})")
            return
        except Exception as exc:
            log.exception("task %s failed", task.computer.name)
            self._fail(f"Unexpected error: {exc.__class__.__name__}: {exc}")
            return
        try:
            self._record_point(point)
        except Exception as exc:   # the catalogue (disk full, read-only): the point is safe
            if not isinstance(exc, ConsoleError):
                log.exception("recording point %s failed", point.id)
            self._fail(f"{exc} The restore point {point.id} is committed in the repository "
                       "and is recorded at the next start of the server.")

    def _fail(self, message: str) -> None:
        with self.runner._lock:
            self.task.status = TaskStatus.FAILED
            self.task.ended = utcnow()
            self.task.note(f"Failed: {message}", "error")

    def _backup(self) -> PointMeta:
        agent = agent_for(self.task.computer, self.job.ssh, data_dir=self.ctx.data_folder(),
                          cancel=self.cancel)
        try:
            return self._backup_with(agent)
        finally:
            agent.close()

    def _backup_with(self, agent: Agent) -> PointMeta:
        task = self.task
        t0 = perf_counter()
        scan = agent.scan(self.job.scope)
        task.source_s += perf_counter() - t0
        contact = agent.first_contact_note()
        if contact:
            task.note(contact)
        for w in scan.warnings:
            task.note(w, "warning")
        for n in scan.notes:
            task.note(n)
        task.files_total, task.bytes_total = scan.files, scan.bytes
        repo_name = self.ctx.repository_name(self.job.repository)
        repo = self.ctx.repository(repo_name)
        parent = None if self.runner.session.full else self._parent_manifest(repo)
        point_type = PointType.INCREMENT if parent else PointType.FULL
        task.point_type = point_type
        parent_entries = parent.by_path() if parent else {}
        task.note(f"Found {scan.files} file(s), {_size(scan.bytes)}; creating "
                  f"{point_type.value.lower()} restore point"
                  + (" (active full)" if self.runner.session.full else ""))
        meta = PointMeta(id=_point_id(), job=self.job.name, computer=task.computer.name,
                         session_id=self.runner.session.id, type=point_type.value,
                         created=utcnow(), parent=parent.meta.id if parent else None,
                         server=self.ctx.catalogue.server_id)

        def waiting(holder: str) -> None:   # a prune, here or in another process
            task.note(f"Waiting for the repository lock held by {holder}: this computer is "
                      "processed once it is released.")
        try:
            writer = repo.begin_backup(meta, cancel=self.cancel, on_wait=waiting)
        except LockWaitCancelled:   # an immediate stop ended the wait
            raise Cancelled from None
        task.writer = writer
        try:
            reader = self._source_reader(agent, writer, scan.entries, parent_entries)
            if reader is not None and reader.raw:
                task.note(f"The computer cannot cut and hash its files itself "
                          f"({agent.native_problem}): changed files are sent whole and "
                          "deduplicated by the server, which moves more data over the network.")
            ahead = self._prefetcher(agent, scan.entries, parent_entries)
            for i, entry in enumerate(scan.entries):
                self.ctx.hooks.checkpoint(self.job.name, task.computer.name, task.files_done,
                                          self.cancelled)
                if self.cancel.is_set():
                    raise Cancelled
                if ahead is not None:
                    ahead(i)
                self._add(writer, agent, entry, parent_entries.get(entry.rel), reader)
            self.ctx.hooks.checkpoint(self.job.name, task.computer.name, task.files_done,
                                      self.cancelled)
            if reader is not None:
                self._finish_reader(agent, reader)
            task.loop_wait_s = writer.wait_s
            t0 = perf_counter()
            writer.flush()  # the slow part (packs, fsync, index) outside the lock
            task.commit_s += perf_counter() - t0
            with self.runner._lock:
                if self.cancel.is_set():
                    raise Cancelled
                t0 = perf_counter()
                committed = writer.commit()
                task.commit_s += perf_counter() - t0
                task.status = TaskStatus.WARNING if task.warnings else TaskStatus.SUCCESS
                task.ended = utcnow()
                task.point_id = committed.id
            return committed
        except BaseException:
            writer.abort()
            raise
        finally:
            task.bytes_transferred = writer.bytes_new
            # Keep the figures, not the writer (it holds every entry of the point).
            task.writer = WriterFigures(writer.wait_s, writer.encode_s, writer.write_s,
                                        writer.raw_bytes_new)

    def _parent_manifest(self, repo: Repository) -> Manifest | None:
        """The computer's newest point whose manifest can be read. A damaged
        one is passed over (noted), never a reason to fail the backup. Only this
        server's points: another server sharing the repository may remove its own."""
        for p in reversed(self._own_points()):
            try:
                return repo.recent_manifest(p.id)
            except PointNotFound:
                continue
            except RepositoryError as exc:
                self.task.note(f"Restore point {p.id} cannot be used as the base of this "
                               f"backup ({exc}); an older one is used, or every file is read")
                continue
        return None

    def _own_points(self) -> list[RestorePointInfo]:
        """The computer's points this server wrote, oldest first (those of another
        server sharing the repository are imported: never a base, never retired)."""
        return [p for p in self.ctx.catalogue.points(self.job.name, self.task.computer.name)
                if not p.imported]

    def _prefetcher(self, agent: Agent, entries: list[FsEntry], parent_entries: dict):
        """A function ``ahead(i)`` that hints the agent, in batches, to read the
        small files among the next PREFETCH_FILES entries after ``entries[i]``
        that will be read (not the unchanged ones), or None: without agent
        support, under a throttle (whose rate caps reading from the source), or
        for a backup with few such files."""
        prefetch = agent.prefetch
        if not agent.prefetches or self.throttle.active:
            return None

        def wanted(e: FsEntry) -> bool:
            if e.kind != "file" or e.st.st_size > PREFETCH_MAX_SIZE or not e.st.st_size:
                return False
            previous = parent_entries.get(e.rel)
            return previous is None or not _unchanged(previous, e.st)

        if sum(1 for _ in islice(filter(wanted, entries), PREFETCH_MIN_FILES)) \
                < PREFETCH_MIN_FILES:
            return None
        n = len(entries)
        nxt = 0

        def ahead(i: int) -> None:
            nonlocal nxt
            if nxt - i > PREFETCH_FILES // 2:
                return
            stop = min(n, i + 1 + PREFETCH_FILES)
            batch = [e.rel for e in entries[max(nxt, i + 1):stop] if wanted(e)]
            nxt = stop
            if batch:
                prefetch(batch)
        return ahead

    def _add(self, writer, agent, entry: FsEntry, previous, reader=None) -> None:
        task = self.task
        if entry.kind == "dir":
            writer.add_dir(entry.rel, entry.st)
        elif entry.kind == "symlink":
            writer.add_symlink(entry.rel, entry.target or "", entry.st)
        elif entry.kind == "hardlink":
            writer.add_hardlink(entry.rel, entry.target or "", entry.st)
        elif reader is not None and entry.rel in reader.planned:
            self._read_remote(writer, reader, entry)
            task.files_done += 1
            task.bytes_transferred = writer.bytes_new
        elif previous is not None and _unchanged(previous, entry.st) and \
                self._reuse(writer, previous):
            task.bytes_processed += entry.st.st_size
            task.files_done += 1
        else:
            self._read_file(writer, agent, entry)
            task.files_done += 1
            task.bytes_transferred = writer.bytes_new

    def _read_file(self, writer, agent, entry: FsEntry) -> None:
        """Store a file's content. A file that changes while it is read (size,
        mtime, ctime or inode differ before and after; "before" is the scan's
        stat for the first read, so a change since the scan counts) is read
        again; if it keeps changing, the last copy is kept and the computer
        ends with a warning naming the file."""
        task = self.task
        before = entry.st   # the scan's stat: the first read must match it
        for attempt in range(1, READ_ATTEMPTS + 1):
            t0 = perf_counter()
            try:
                f = agent.open_file(entry.rel)
            except OSError as exc:
                task.source_s += perf_counter() - t0
                task.note(f"Cannot read file '{entry.rel}': {exc.strerror}. The file was "
                          "skipped; check its permissions.", "warning")
                task.bytes_processed += entry.st.st_size
                return
            task.source_s += perf_counter() - t0
            with f:
                if attempt > 1:
                    before = os.fstat(f.fileno())
                size, chunker = before.st_size, writer.chunker
                blocks = self._whole(f, size) if size <= chunker.min_size else \
                    self._blocks(f, chunker, size)
                added = writer.add_file(entry.rel, before, blocks)
                after = os.fstat(f.fileno())
            if _same_version(before, after):
                return
            if attempt < READ_ATTEMPTS:
                writer.retract(added)
                task.note(f"File '{entry.rel}' changed while it was read; reading it again")
        task.note(f"File '{entry.rel}' kept changing while it was read ({READ_ATTEMPTS} "
                  "attempts): the copy in this restore point may mix old and new content. "
                  "Back it up when it is not being written.", "warning")

    # -- reading at the source (an SSH computer's agent cuts and hashes) ------
    def _source_reader(self, agent: Agent, writer, entries: list[FsEntry], parent_entries: dict):
        """For an agent that reads at the source: ask it to read, in order,
        every file that cannot reuse the parent's blocks (new, changed, or
        whose blocks the repository lost); None for the local agent."""
        if not agent.reads_at_source:
            return None
        files: list[tuple[str, int]] = []
        missing = writer.missing
        for e in entries:
            if e.kind != "file":
                continue
            previous = parent_entries.get(e.rel)
            if previous is not None and _unchanged(previous, e.st) and \
                    not missing(list(previous.blocks)):
                continue
            files.append((e.rel, e.st.st_size))
        self._source_counted = self._source_told = 0
        return agent.source_reader(files, writer.chunker, missing, rate=self.throttle.rate,
                                   on_progress=self._source_progress)

    def _source_progress(self, read: int) -> None:
        """The computer says it has read ``read`` bytes (a paced read, whose
        chunks arrive later): shown at once, never counted twice."""
        self._credit_source(told=read)

    def _credit_source(self, counted: int = 0, told: int | None = None) -> None:
        """Bytes read at the source: the chunks received (``counted``) or what
        the computer said it read, whichever is further."""
        before = max(self._source_counted, self._source_told)
        self._source_counted += counted
        if told is not None:
            self._source_told = max(self._source_told, told)
        gained = max(self._source_counted, self._source_told) - before
        if gained > 0:
            self._count_read(gained)

    def _finish_reader(self, agent: Agent, reader) -> None:
        t0 = perf_counter()
        stats = reader.finish()
        self.task.source_s += perf_counter() - t0
        # the agent's waits on the read rate were spent here waiting for data
        paced = min(stats.get("paced_s", 0.0), self.task.source_s)
        self.task.source_s -= paced
        self.task.throttle_s += paced
        self.task.note(f"Over SSH: {agent.wire_received:,} bytes received from the computer; "
                       f"it read {stats['opened']:,} file(s), {_size(stats['read'])} in "
                       f"{stats.get('reading_s', 0.0):.1f} s (agent CPU "
                       f"{stats.get('cpu_s', 0.0):.1f} s); sent {agent.wire_sent:,} bytes to "
                       "the computer")

    def _read_remote(self, writer, reader, entry: FsEntry) -> None:
        """Store a file the agent reads at the source (the rules of
        ``_read_file``: a file that changes while read is read again)."""
        task = self.task
        while True:
            t0 = perf_counter()
            rf = reader.next_file()
            task.source_s += perf_counter() - t0
            if rf.error is not None:
                task.note(f"Cannot read file '{entry.rel}': {rf.error}. The file was "
                          "skipped; check its permissions.", "warning")
                task.bytes_processed += entry.st.st_size
                return
            try:
                if rf.raw:
                    added = writer.add_file(entry.rel, rf.st, self._blocks(rf, writer.chunker))
                else:
                    added = writer.add_file_known(entry.rel, rf.st, self._remote_blocks(rf))
            except SourceFileError as exc:
                task.note(f"Cannot read file '{entry.rel}': {exc.strerror}. The file was "
                          "skipped.", "warning")
                return
            end = rf.end
            if end.same:
                return
            if end.retry:
                writer.retract(added)
                task.note(f"File '{entry.rel}' changed while it was read; reading it again")
                continue
            task.note(f"File '{entry.rel}' kept changing while it was read ({READ_ATTEMPTS} "
                      "attempts): the copy in this restore point may mix old and new content. "
                      "Back it up when it is not being written.", "warning")
            return

    def _remote_blocks(self, rf) -> Iterator[tuple[str, int, bytes | None]]:
        """A file's (id, size, data) as the agent cut and hashed them; data
        only for blocks the repository lacks. Waiting for the network counts
        as Source; the agent paces its reads to the job's rate (per computer)."""
        task, throttle, cancel = self.task, self.throttle, self.cancel
        clock = perf_counter
        while True:
            if cancel.is_set():
                raise Cancelled
            t0 = clock()
            group = rf.next_group()
            task.source_s += clock() - t0
            if group is None:
                return
            self._credit_source(counted=group.size)
            t1 = clock()
            yield from group.items
            task.writer_s += clock() - t1
            if group.wire and rf.reader.rate is None:   # else paced where it is read
                t2 = clock()
                throttle.consume(group.wire, cancel)
                task.throttle_s += clock() - t2

    def _reuse(self, writer, previous) -> bool:
        """Reuse an unchanged file's blocks; False if the repository lost them
        (the file is then read again)."""
        try:
            writer.add_unchanged(previous)
        except MissingParentData:
            self.task.note(f"Data of unchanged file '{previous.path}' is missing from the "
                           "repository; reading it again")
            return False
        return True

    def _whole(self, f, size: int) -> Iterator[bytes]:
        """A file of at most the chunker's minimum size, which is one block
        whatever its content: read in one call into a block of its own, so
        nothing is copied (the common case: most files are small). A file
        that grew or shrank meanwhile is caught by the caller's stat after."""
        task, throttle, cancel = self.task, self.throttle, self.cancel
        if cancel.is_set():
            raise Cancelled
        t0 = perf_counter()
        data = f.read(size)
        task.source_s += perf_counter() - t0
        n = len(data)
        if not n:
            return
        self._count_read(n)
        t1 = perf_counter()
        yield data
        t2 = perf_counter()
        task.writer_s += t2 - t1
        throttle.consume(n, cancel)
        task.throttle_s += perf_counter() - t2

    def _count_read(self, n: int) -> None:
        task = self.task
        if task.reading_since is None:
            task.reading_since = utcnow()
        task.bytes_read += n
        task.bytes_processed += n

    def _blocks(self, f, chunker, size: int | None = None) -> Iterator[memoryview]:
        """The file's content cut by ``chunker`` (FastCDC): read ``read_size``
        at a time into the task's window, cut once ``max_size`` is buffered (or
        at the end). Blocks are views of the window, valid until the next one
        is asked for (the writer copies only the new ones); nothing is
        allocated per read. A short read that reaches the expected ``size``
        ends the file without a read that returns nothing (the caller compares
        the file's stat after reading, which catches a file that grew). Cancel
        is checked before every read and every chunk; the throttle is consumed
        per read and its wait is cancel-aware."""
        task, throttle, cancel = self.task, self.throttle, self.cancel
        readinto, ends = _readinto_of(f), chunker.ends
        read_size, max_size = chunker.read_size, chunker.max_size
        window = self._window(max_size + read_size)
        clock = perf_counter
        filled = 0   # read but not yet cut, at the front of the window
        total = 0
        while True:
            if cancel.is_set():
                raise Cancelled
            t0 = clock()
            n = readinto(window[filled:filled + read_size]) or 0
            t1 = clock()
            task.source_s += t1 - t0
            total += n
            last = not n or (n < read_size and total == size)
            if n:
                self._count_read(n)
                filled += n
            if not last and filled < max_size:
                cuts: list[int] = []
            elif filled:
                cuts = ends(window[:filled], last)
            else:
                return
            start = 0
            for end in cuts:
                if cancel.is_set():
                    raise Cancelled
                t1 = clock()
                yield window[start:end]
                task.writer_s += clock() - t1   # the writer hashed it (or waited on its pool)
                start = end
            if start:
                window[:filled - start] = window[start:filled]
                filled -= start
            if n:
                t2 = clock()
                throttle.consume(n, cancel)
                task.throttle_s += clock() - t2
            if last:
                return

    def _window(self, size: int) -> memoryview:
        """The task's read buffer, allocated once: reusing it keeps the
        backup's memory flat (fresh buffers per read cost page faults and
        leave freed megabytes in the allocator)."""
        window = self._read_window
        if window is None or len(window) < size:
            window = self._read_window = memoryview(bytearray(size))
        return window

    def _record_point(self, meta: PointMeta) -> None:
        task = self.task
        task.note(f"Restore point created: {meta.type}, {meta.files} file(s), "
                  f"{_size(meta.size)}; {_size(task.bytes_transferred)} transferred")
        repo_name = self.ctx.repository_name(self.job.repository)
        cat = self.ctx.catalogue
        cat.add_point(RestorePointInfo(
            id=meta.id, job=meta.job, computer=meta.computer, session_id=meta.session_id,
            type=PointType(meta.type), created=meta.created, files=meta.files, size=meta.size,
            repository=repo_name))
        self.ctx.events.publish(PointsChanged(self.job.name))
        try:
            self._apply_retention(repo_name)
        except ConsoleError as exc:
            with self.runner._lock:
                task.note(f"Retention could not remove older restore points: {exc}", "warning")
                task.status = TaskStatus.WARNING

    def _apply_retention(self, repo_name: str) -> None:
        """Keep the newest ``retain_points`` intact points; older ones go. A damaged
        point never counts as kept, and one newer than the oldest kept stays
        listed (so that its damage stays visible). Points of another server
        sharing the repository are that server's to retire."""
        task, cat = self.task, self.ctx.catalogue
        points = self._own_points()
        intact = [p for p in points if not p.damaged]
        if len(intact) <= self.job.retain_points:
            return
        oldest_kept = intact[-self.job.retain_points]
        extra = [p for p in points if (p.created, p.id) < (oldest_kept.created, oldest_kept.id)]
        if extra:
            ids = [p.id for p in extra]
            cat.mark_forgetting(ids)   # a crash from here on is finished at the next start
            by_repository: dict[str, list[str]] = {}
            for p in extra:   # a job that moved keeps older points in its old repository
                by_repository.setdefault(p.repository or repo_name, []).append(p.id)
            for name, repo_ids in by_repository.items():
                self.ctx.repository(name).forget(repo_ids)
            cat.remove_points(ids)
            self.runner._forgot_points = True
            task.note(f"Retention: removed {len(ids)} restore point(s) beyond the "
                      f"{self.job.retain_points} to keep")
            self.ctx.events.publish(PointsChanged(self.job.name))


def _readinto_of(f) -> Callable[[memoryview], int | None]:
    """``f.readinto``, or the same built on ``f.read`` (a file streamed by a
    remote agent)."""
    readinto = getattr(f, "readinto", None)
    if readinto is not None:
        return readinto

    def read_into(view: memoryview) -> int:
        data = f.read(len(view))
        view[:len(data)] = data
        return len(data)
    return read_into


def _same_version(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_size, before.st_mtime_ns, before.st_ctime_ns, before.st_ino) == \
        (after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino)


def _unchanged(previous, st: os.stat_result) -> bool:
    return (previous.kind == "file" and previous.size == st.st_size
            and previous.mtime_ns == st.st_mtime_ns
            and getattr(previous, "ctime_ns", st.st_ctime_ns) == st.st_ctime_ns
            and getattr(previous, "inode", st.st_ino) == st.st_ino)


def _point_id() -> str:
    return secrets.token_hex(8)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
