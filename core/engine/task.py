"""One computer's backup within a session: scan it, read every file into the repository's
writer (reusing the parent point's blocks of unchanged files), and commit the restore point.

The commit and a stop decision take the session's lock, so an immediate stop either comes
before the commit (the task is cancelled and makes no point) or after it (the point stays).
Reading the files is :class:`core.engine.reading.FileReading`'s job; the points before and
after (the base, recording, retention) are :class:`core.engine.points.TaskPoints`'.
"""
from __future__ import annotations

import logging
import stat
from time import perf_counter

from core.agents.base import Agent, Cancelled, FsEntry, SourceReader
from core.agents.select import agent_for
from core.engine.context import (
    TaskRun, TaskSession, WriterFigures, fail_task, log_size, os_error_text,
)
from core.engine.points import TaskPoints, new_point_id
from core.engine.reading import FileReading, unchanged
from core.engine.throttle import Throttle
from core.errors import ConsoleError
from core.models import PointType, TaskStatus, utcnow
from core.repository import BackupWriter, MissingParentData, PointMeta
from core.repository.model import FILE, Entry, PartialFile
from core.repository.repository import LockWaitCancelled

log = logging.getLogger(__name__)


class LeftForNextRun(Exception):
    """The computer's scan shows it cannot finish before its backup window closes."""


class TaskProcessor:
    """Backs up one computer within a session."""

    def __init__(self, runner: TaskSession, task: TaskRun) -> None:
        self.runner = runner
        self.task = task
        self.job = runner.job
        self.ctx = runner.ctx
        self.cancel = task.cancel   # set by an immediate stop, or for this computer alone
        self.throttle = Throttle(self.job.throttle_mbps)   # the rate is per computer
        self.hold = runner.hold
        self.reading = FileReading(task, self.throttle, self.cancel, self.hold, self._checkpoint,
                                   self.job.pressure_threshold if self.job.yield_to_production
                                   else None)
        self.points = TaskPoints(runner, task)
        self._current: FsEntry | None = None   # the entry being added (see _partial)
        self._resume: PartialFile | None = None   # a file to continue (after a restart)

    def _checkpoint(self) -> None:
        """The session is pausing: make what this computer sent durable (its packs and an
        index checkpoint) and record the files it has completed, so that a resume after a
        restart of the server reads none of them again. Never fails the task: without the
        record a resume after a restart reads more, nothing worse."""
        writer = self.task.writer
        if not isinstance(writer, BackupWriter):
            return
        try:
            writer.flush()
            self.runner.paused_progress(self.task, writer.files_so_far(),
                                        self._partial(writer))
        except ConsoleError as exc:
            self.task.note(f"Pausing: what was sent could not be made durable ({exc}); a "
                           "resume after a restart of the server reads it again.", "warning")

    def _partial(self, writer: BackupWriter) -> PartialFile | None:
        """The file this computer is in the middle of, with the blocks stored so far (a
        local read only: an agent that reads at the source starts its files anew)."""
        current, entry = writer.file_in_progress(), self._current
        if current is None or entry is None or current[0] != entry.rel or \
                entry.rel in self.reading.planned:
            return None
        rel, blocks = current
        st = entry.st
        return PartialFile(
            Entry(rel, FILE, stat.S_IMODE(st.st_mode), st.st_mtime_ns, st.st_size,
                  st.st_ctime_ns, st.st_ino, tuple(b for b, _n in blocks)),
            tuple(n for _b, n in blocks))

    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def run(self) -> None:
        task = self.task
        task.note(f"Processing {task.computer.name}")
        try:
            point = self._backup()
        except LeftForNextRun:
            return   # the session marked it Skipped, and said why
        except Cancelled:
            with self.runner.lock:
                task.status = TaskStatus.CANCELLED
                task.ended = utcnow()
                how = "the job was stopped immediately" if self.runner.cancel_event.is_set() \
                    else "the job was stopped and this computer was within its RPO"
                task.note(f"Processing cancelled: {how}. "
                          "No restore point was created for this computer.", "error")
            return
        except ConsoleError as exc:
            self._fail(str(exc))
            return
        except OSError as exc:
            self._fail(os_error_text(exc))
            return
        except Exception as exc:
            log.exception("task %s failed", task.computer.name)
            self._fail(f"Unexpected error: {exc.__class__.__name__}: {exc}")
            return
        try:
            self.points.record(point)
        except Exception as exc:   # the catalogue (disk full, read-only): the point is safe
            if not isinstance(exc, ConsoleError):
                log.exception("recording point %s failed", point.id)
            self._fail(f"{exc} The restore point {point.id} is committed in the repository "
                       "and is recorded at the next start of the server.")

    def _fail(self, message: str) -> None:
        fail_task(self.runner, self.task, message)

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
        if not self.runner.fits_after_scan(task):   # a backup window it cannot finish in
            raise LeftForNextRun
        repo_name = self.ctx.repository_name(self.job.repository)
        repo = self.ctx.repository(repo_name)
        parent = None if self.runner.session.full else self.points.parent_manifest(repo)
        point_type = PointType.INCREMENT if parent else PointType.FULL
        task.point_type = point_type
        parent_entries = parent.by_path() if parent else {}
        self._resume = self.runner.resume_partial.pop(task.computer.name, None)
        stored = self.runner.resume_entries.pop(task.computer.name, None)
        if stored:   # paused before a restart: the files completed then are reused
            parent_entries.update((e.path, e) for e in stored)
            task.note(f"Resuming: {len(stored)} file(s) stored before the pause are not "
                      "read again (unless they changed)")
        task.note(f"Found {scan.files} file(s), {log_size(scan.bytes)}; creating "
                  f"{point_type.value.lower()} restore point"
                  + (" (active full)" if self.runner.session.full else ""))
        meta = PointMeta(id=new_point_id(), job=self.job.name, computer=task.computer.name,
                         session_id=self.runner.session.id, type=point_type.value,
                         created=self.ctx.clock(), parent=parent.meta.id if parent else None,
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
            reader = self.reading.source_reader(agent, writer, scan.entries, parent_entries)
            if reader is None:
                self.reading.start_governor()   # this machine is the computer
            if reader is not None and reader.raw:
                task.note(f"The computer cannot cut and hash its files itself "
                          f"({agent.native_problem}): changed files are sent whole and "
                          "deduplicated by the server, which moves more data over the network.")
            ahead = self.reading.prefetcher(agent, scan.entries, parent_entries)
            hold = self.hold
            for i, entry in enumerate(scan.entries):
                self.ctx.hooks.checkpoint(self.job.name, task.computer.name, task.files_done,
                                          self.cancelled)
                hold.check(self._checkpoint)   # a pause holds the computer here
                if self.cancel.is_set():
                    raise Cancelled
                if ahead is not None:
                    ahead(i)
                self._current = entry
                self._add(writer, agent, entry, parent_entries.get(entry.rel), reader)
                self._current = None
            self.ctx.hooks.checkpoint(self.job.name, task.computer.name, task.files_done,
                                      self.cancelled)
            if reader is not None:
                self.reading.finish_source(agent, reader)
            task.loop_wait_s = writer.wait_s
            t0 = perf_counter()
            writer.flush()  # the slow part (packs, fsync, index) outside the lock
            task.commit_s += perf_counter() - t0
            with self.runner.lock:
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

    def _add(self, writer: BackupWriter, agent: Agent, entry: FsEntry, previous: Entry | None,
             reader: SourceReader | None = None) -> None:
        task = self.task
        if entry.kind == "dir":
            writer.add_dir(entry.rel, entry.st)
        elif entry.kind == "symlink":
            writer.add_symlink(entry.rel, entry.target or "", entry.st)
        elif entry.kind == "hardlink":
            writer.add_hardlink(entry.rel, entry.target or "", entry.st)
        elif reader is not None and entry.rel in self.reading.planned:
            self.reading.read_remote(writer, reader, entry)
            task.files_done += 1
            task.bytes_transferred = writer.bytes_new
        elif previous is not None and unchanged(previous, entry.st) and \
                self._reuse(writer, previous):
            task.bytes_processed += entry.st.st_size
            task.files_done += 1
        else:
            resume = self._resume
            if resume is not None and resume.entry.path == entry.rel:
                self._resume = None
                if not self.reading.continue_file(writer, agent, entry, resume):
                    self.reading.read_file(writer, agent, entry)
            else:
                self.reading.read_file(writer, agent, entry)
            task.files_done += 1
            task.bytes_transferred = writer.bytes_new

    def _reuse(self, writer: BackupWriter, previous: Entry) -> bool:
        """Reuse an unchanged file's blocks; False if the repository lost them
        (the file is then read again)."""
        try:
            writer.add_unchanged(previous)
        except MissingParentData:
            self.task.note(f"Data of unchanged file '{previous.path}' is missing from the "
                           "repository; reading it again")
            return False
        return True
