"""One computer's part of a backup copy session: copy every restore point of the source job's
computer that the copy job does not hold yet, oldest first, into the copy job's repository.

Only the blocks the target lacks are read and sent, as the source stores them (compressed),
opened from the source's seal and verified, then sealed with the target's key
(``Repository.open_point_source`` and ``BackupWriter.add_copied``). Each copied point is
committed like a backup's: packs, index, then its manifest last, under the session's lock, so
an immediate stop either comes before a point's commit (that point is not made) or after it
(it stays). A copied point keeps the source point's creation time (the copy job's retention,
GFS included, counts the times the points were taken) and its computer; its manifest names
the point it copies (``origin``).

Which source points are copied: the computer's intact source points newer than the newest
point the copy job holds for it, less those the copy job's own retention would drop at once
(a first copy of a long chain copies only what the copy keeps). Then the copy job's retention
runs as a backup job's does (``TaskPoints.apply_retention``).
"""
from __future__ import annotations

import logging
from time import perf_counter

from core.agents.base import Cancelled
from core.engine.context import (
    TaskRun, TaskSession, WriterFigures, fail_task, log_size, os_error_text,
)
from core.engine.points import TaskPoints, new_point_id, point_info
from core.engine.throttle import Throttle
from core.errors import ConsoleError, RepositoryError
from core.events import PointsChanged
from core.models import PointType, RestorePointInfo, TaskStatus, utcnow
from core.repository import FILE, PointMeta, PointNotFound, Repository
from core.repository.repository import LockWaitCancelled
from core.scheduling.retention import decide

log = logging.getLogger(__name__)


class CopyTaskProcessor:
    """Copies one computer's new source points into the copy job's repository."""

    def __init__(self, runner: TaskSession, task: TaskRun) -> None:
        self.runner = runner
        self.task = task
        self.job = runner.job
        self.ctx = runner.ctx
        self.cancel = task.cancel   # set by an immediate stop, or for this computer alone
        self.throttle = Throttle(self.job.throttle_mbps)
        self.points = TaskPoints(runner, task)
        self._sent_before = 0    # bytes sent for points already committed by this task
        self._read_before = 0

    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def run(self) -> None:
        task = self.task
        task.note(f"Processing {task.computer.name}")
        try:
            self._copy()
        except Cancelled:
            with self.runner.lock:
                task.status = TaskStatus.CANCELLED
                task.ended = utcnow()
                kept = (f" The {task.points_copied} point(s) copied before the stop are kept."
                        if task.points_copied else "")
                how = "the job was stopped immediately" if self.runner.cancel_event.is_set() \
                    else "the job was stopped and this computer was within its RPO"
                task.note(f"Copy cancelled: {how}. The restore point "
                          "being copied was not created in the target." + kept, "error")
            self._retention()
            return
        except ConsoleError as exc:
            self._fail(str(exc))
            self._retention()
            return
        except OSError as exc:
            self._fail(os_error_text(exc))
            return
        except Exception as exc:
            log.exception("copy task %s failed", task.computer.name)
            self._fail(f"Unexpected error: {exc.__class__.__name__}: {exc}")
            return
        self._retention()

    def _fail(self, message: str) -> None:
        fail_task(self.runner, self.task, message)

    def _retention(self) -> None:
        if not self.task.points_copied:
            return
        try:
            self.points.apply_retention(self.ctx.repository_name(self.job.repository))
        except ConsoleError as exc:
            with self.runner.lock:
                self.task.note(f"Retention could not remove older restore points: {exc}",
                               "warning")
                if self.task.status is TaskStatus.SUCCESS:
                    self.task.status = TaskStatus.WARNING

    # -- which points -------------------------------------------------------
    def _wanted(self) -> list[RestorePointInfo]:
        """The source points to copy, oldest first (see the module's docstring)."""
        task, cat = self.task, self.ctx.catalogue
        source_job = self.job.copy_source or ""
        computer = task.computer.name
        held = self.points.own()
        newest = max((p.created for p in held), default=None)
        source = cat.points(source_job, computer)
        damaged = [p for p in source if p.damaged and (newest is None or p.created > newest)]
        for p in damaged:
            task.note(f"Source restore point {p.id} ({p.created:%Y-%m-%d %H:%M}) is damaged "
                      f"and is not copied: {p.damaged}", "warning")
        fresh = [p for p in source if not p.damaged and (newest is None or p.created > newest)]
        if not fresh:
            return []
        # What the copy's retention keeps once they are in: the others are not copied.
        ours = [p.model_copy(update={"imported": False, "id": f"new:{p.id}"}) for p in fresh]
        keep = {d.id for d in decide([*held, *ours], self.job.retain_points, self.job.gfs)
                if d.keep}
        wanted = [p for p, o in zip(fresh, ours) if o.id in keep]
        if len(wanted) < len(fresh):
            task.note(f"{len(fresh) - len(wanted)} older source point(s) are not copied: the "
                      "copy job's retention would not keep them")
        return sorted(wanted, key=lambda p: (p.created, p.id))

    # -- copying ------------------------------------------------------------
    def _copy(self) -> None:
        task = self.task
        wanted = self._wanted()
        task.files_total = sum(p.files for p in wanted)
        task.bytes_total = sum(p.size for p in wanted)
        target_name = self.ctx.repository_name(self.job.repository)
        target = self.ctx.repository(target_name)
        if not wanted:
            task.note(f"Nothing to copy: repository {target_name} already holds every restore "
                      f"point of {task.computer.name} of job '{self.job.copy_source}'")
        else:
            task.note(f"Copying {len(wanted)} restore point(s) of job '{self.job.copy_source}' "
                      f"({log_size(task.bytes_total)}) into repository {target_name}")
        held = self.points.own()
        parent = held[-1].id if held else None
        for i, point in enumerate(wanted):
            last = i == len(wanted) - 1
            meta = self._copy_point(point, target, target_name, parent, last)
            if meta is not None:
                parent = meta.id
        with self.runner.lock:
            if not task.status.is_final:
                task.status = TaskStatus.WARNING if task.warnings else TaskStatus.SUCCESS
                task.ended = utcnow()

    def _copy_point(self, point: RestorePointInfo, target: Repository, target_name: str,
                    parent: str | None, last: bool) -> PointMeta | None:
        task = self.task
        source_repo = self.ctx.repository(self.ctx.repository_name(point.repository))
        t0 = perf_counter()
        try:
            source = source_repo.open_point_source(point.id, cancel=self.cancel)
        except PointNotFound:
            if any(p.id == point.id for p in self.ctx.catalogue.points(point.job, point.computer)):
                raise RepositoryError(
                    f"Source restore point {point.id} cannot be copied: its manifest is "
                    f"missing from repository {point.repository}. Run 'agent-jobs verify' "
                    "there; the point is listed as damaged until it is put back.") from None
            task.note(f"Source restore point {point.id} was removed by its job's retention "
                      "meanwhile: not copied", "warning")
            return None
        task.source_s += perf_counter() - t0
        if source is None:
            raise Cancelled
        try:
            point_type = PointType.INCREMENT if parent else PointType.FULL
            task.point_type = point_type
            meta = PointMeta(id=new_point_id(), job=self.job.name, computer=task.computer.name,
                             session_id=self.runner.session.id, type=point_type.value,
                             created=point.created, parent=parent,
                             server=self.ctx.catalogue.server_id, origin=point.id)

            def waiting(holder: str) -> None:
                task.note(f"Waiting for the lock on repository {target_name} held by "
                          f"{holder}: this computer is copied once it is released.")
            try:
                writer = target.begin_backup(meta, cancel=self.cancel, on_wait=waiting)
            except LockWaitCancelled:
                raise Cancelled from None
            task.writer = writer
            try:
                for entry in source.manifest.entries:
                    self.ctx.hooks.checkpoint(self.job.name, task.computer.name,
                                              task.files_done, self.cancelled)
                    if self.cancel.is_set():
                        raise Cancelled
                    t0 = perf_counter()
                    read = source.bytes_read
                    writer.add_copied(entry, source.fetch)
                    task.source_s += perf_counter() - t0
                    if source.bytes_read > read:
                        self.throttle.consume(source.bytes_read - read, self.cancel)
                    if entry.kind == FILE:
                        task.files_done += 1
                        task.bytes_processed += entry.size
                    task.bytes_read = self._read_before + source.bytes_read
                    task.bytes_transferred = self._sent_before + writer.bytes_new
                    if task.reading_since is None:
                        task.reading_since = utcnow()
                self.ctx.hooks.checkpoint(self.job.name, task.computer.name, task.files_done,
                                          self.cancelled)
                t0 = perf_counter()
                writer.flush()
                task.commit_s += perf_counter() - t0
                with self.runner.lock:
                    if self.cancel.is_set():
                        raise Cancelled
                    t0 = perf_counter()
                    committed = writer.commit()
                    task.commit_s += perf_counter() - t0
                    task.point_id = committed.id
                    task.points_copied += 1
                    if last:
                        task.status = TaskStatus.WARNING if task.warnings else TaskStatus.SUCCESS
                        task.ended = utcnow()
            except BaseException:
                writer.abort()
                raise
            finally:
                self._read_before += source.bytes_read
                self._sent_before += writer.bytes_new
                task.bytes_read = self._read_before
                task.writer = WriterFigures(writer.wait_s, writer.encode_s, writer.write_s,
                                            writer.raw_bytes_new)
        finally:
            source.close()
        self._sent_before += target.stored_point_size(committed.id)
        task.bytes_transferred = self._sent_before
        self._record(committed, target_name, point)
        return committed

    def _record(self, meta: PointMeta, target_name: str, source: RestorePointInfo) -> None:
        task = self.task
        task.note(f"Restore point copied: {source.id} ({source.created:%Y-%m-%d %H:%M}) as "
                  f"{meta.id}, {meta.files} file(s), {log_size(meta.size)}; "
                  f"{log_size(task.bytes_transferred)} sent so far")
        try:
            self.ctx.catalogue.add_point(point_info(meta, target_name))
        except Exception as exc:   # the catalogue (disk full, read-only): the point is safe
            if not isinstance(exc, ConsoleError):
                log.exception("recording copied point %s failed", meta.id)
            with self.runner.lock:
                task.note(f"{exc} The copied restore point {meta.id} is committed in the "
                          "repository and is recorded at the next start of the server.",
                          "warning")
            return
        self.ctx.events.publish(PointsChanged(self.job.name))
