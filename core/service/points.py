"""The points desk: restore and verify, and the restore points themselves.

It owns listing and browsing restore points, the Restore and Verify sessions
(started here, run by :class:`core.engine.operations.OperationRunner`, and
cancelled here), marking points damaged or intact from what verify and repair
find, repairing the repositories, and deleting a job's backups from disk.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from core.api import (
    DiskUsage,
    DeleteReport, RestoreReport, RetentionPreview, VerifyReport, report_damaged_paths,
    restore_report, retention_preview,
    size_text, verify_problem_text, verify_report,
)
from core.engine.operations import OperationCancelled, OperationRunner
from core.engine.session import new_session_id
from core.errors import ConsoleError, JobStateError, NotFound, RepositoryError, RestoreError
from core.events import PointsChanged, SessionChanged
from core.models import (
    HealthCheckMode, OperationInfo, PointEntryInfo, RepairReport, RestorePointInfo, RunKind,
    SessionInfo, SessionResult, SessionState, SessionType, StopMode, TaskInfo, TaskStatus,
    VerifyProblem, utcnow,
)
from core.paths import checked_restore_target
from core.repository import PartialRestore, Repository
from core.repository.selection import normalise
from core.repository.verify import VerifyCancelled
from core.scheduling import format_local
from core.service import integrity
from core.service.context import ServiceContext, os_reason
from core.service.pool import by_repository
from core.service.registry import Entry as RepoEntry, is_default
from core.service.sessions import Sessions
from core.service.usage import UsageCache, disk_usage


class Points:
    """Restore points: browse, restore, verify, repair, delete."""

    def __init__(self, ctx: ServiceContext, sessions: Sessions) -> None:
        self._ctx = ctx
        self._pool = ctx.pool
        self._sessions = sessions   # cancelling a backup stops its job; reports read sessions
        self._usage = UsageCache()

    def list_points(self, job: str | None = None) -> list[RestorePointInfo]:
        return self._ctx.catalogue.points(job)

    def disk_usage(self) -> DiskUsage:
        """The space the points really take, with dedup and compression (see core.service.usage)."""
        return disk_usage(self._ctx.catalogue.points(), self._pool.repository, self._usage)

    def retention_preview(self, name: str) -> RetentionPreview:
        """Which of the job's points its retention keeps (and why) and which would go now."""
        definition = self._ctx.catalogue.job(name)
        return retention_preview(definition, self._ctx.catalogue.points(definition.name))

    def browse_point(self, point_id: str, folder: str = "") -> list[PointEntryInfo]:
        """One folder of a restore point ("" is the computer's root)."""
        point = self._ctx.catalogue.point(point_id)
        return self._ctx.trees.get(point.id).list(folder)

    def running_operations(self) -> list[str]:
        """Ids of the restore and verify sessions running."""
        return [sid for sid, op in list(self._ctx.operations.items()) if not op.finished]

    def _run_operation(self, session: SessionInfo,
                       work: Callable[[OperationRunner], SessionResult]) -> OperationRunner:
        self._ctx.catalogue.create_session(session, owner_pid=os.getpid())
        runner = OperationRunner(self._ctx.catalogue, self._ctx.events, session, work,
                                 on_finished=self._operation_finished)
        with self._ctx.runners_lock:
            self._ctx.operations[session.id] = runner
        runner.start()
        self._ctx.events.publish(SessionChanged(session.job, session.id))
        return runner

    def _operation_finished(self, runner: OperationRunner) -> None:
        with self._ctx.runners_lock:
            self._ctx.operations.pop(runner.session.id, None)

    def cancel_session(self, session_id: str) -> None:
        """Cancel a running restore or verify; a backup session is stopped
        immediately (as ``stop_job`` does)."""
        operation = self._ctx.operations.get(session_id)
        if operation is not None and not operation.finished:
            operation.cancel()
            return
        runner = self._ctx.runners.get(session_id)
        if runner is not None and not runner.finished:
            self._sessions.stop_job(runner.job.name, StopMode.IMMEDIATELY)
            return
        session = self._sessions.get_session(session_id)   # NotFound for an unknown id
        raise JobStateError(f"Session {session.id} has ended; there is nothing to cancel.")

    def _restore_target(self, point: RestorePointInfo, target: Path | None,
                        overwrite: bool) -> tuple[Path, bool]:
        """(the folder to restore into, whether it is the original location)."""
        if target is None:
            try:
                job = self._ctx.catalogue.job(point.job)
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
        return checked_restore_target(self._ctx.data_dir, target, overwrite), False

    def start_restore(self, point_id: str, target: Path | None = None, *,
                      paths: list[str] | None = None, overwrite: bool = False) -> str:
        """Restore a point (or only ``paths`` of it) into ``target``, or into the
        computer's own folder when ``target`` is None (needs ``overwrite``).
        Files of the point replace files in the way; nothing else is deleted.
        Returns the Restore session's id at once; it runs in the background."""
        point = self._ctx.catalogue.point(point_id)
        folder, original = self._restore_target(point, target, overwrite)
        wanted = sorted({normalise(p) for p in paths or []} - {""})
        repo = self._pool.repository(point.repository)
        # A damaged or forged manifest, or a path the point lacks, is refused now:
        # a refused restore is no session.
        try:
            chosen = repo.preflight_restore(point.id, wanted or None)
        except RepositoryError:
            if point.imported and not repo.has_point(point.id):
                self._pool.drop_retired(self._ctx.registry.entry(point.repository), [point])
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
        runner = self._ctx.operations.get(session_id)
        if runner is not None:
            runner.join()
            if runner.error is not None:
                raise runner.error
        return restore_report(self._sessions.get_session(session_id))

    def start_health_check(self, job: str, mode: HealthCheckMode) -> str:
        """The job's scheduled health check: a Verify session over its points,
        run by the scheduler (``light``: list and size every object the points
        need, read no pack data)."""
        return self.start_verify(job=job, mode=mode)

    def start_verify(self, point_id: str | None = None, *, job: str | None = None,
                     mode: HealthCheckMode | None = None) -> str:
        """Verify one point, a job's points, or (neither given) everything: every
        point, every pack and index file. A Verify session; its log names the
        damaged files. Points found damaged are marked, points found intact lose
        their mark. ``mode`` given: the job's scheduled health check."""
        catalogued = self._ctx.catalogue.points()
        if point_id:
            points = [self._ctx.catalogue.point(point_id)]
            name, ids = points[0].job, [points[0].id]
        elif job:
            try:
                name = self._ctx.catalogue.job(job).name
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
            run_kind=RunKind.MANUAL if mode is None else RunKind.SCHEDULED,
            tasks=[TaskInfo(computer=label) for label in labels],
            operation=OperationInfo(point_ids=ids or []))
        groups = self._verify_groups(catalogued, points if ids is not None else None)

        def work(run: OperationRunner) -> SessionResult:
            if mode is None:
                run.note(f"Verify started by user: {what}")
            else:
                run.note(f"Health check ({mode.value}) started by the job's schedule: {what}"
                         + ("; every object the points need is listed and sized, no data "
                            "is read" if mode is HealthCheckMode.LIGHT else
                            "; every block is read back"))
            if not groups:
                run.note("Nothing to verify: the repository holds no restore point yet.")
                return SessionResult.SUCCESS
            report, damage = self._verify_each(groups, ids is not None, run,
                                               light=mode is HealthCheckMode.LIGHT)
            self._mark_damage(damage)
            run.update_operation(points_checked=report.points_checked,
                                 blobs_checked=report.blobs_checked, problems=report.problems,
                                 advice=report.advice, bytes=report.bytes_checked)
            for index in range(len(labels)):
                run.set_task(index, status=TaskStatus.SUCCESS)
            for problem in report.problems:
                index = task_of.get(problem.point_id, 0)
                run.set_task(index, status=TaskStatus.FAILED)
                run.task_note(index, verify_problem_text(problem), "error")
            for line in report.advice:   # before the verdict, which stays the last line
                run.note(line, "warning")
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

        groups: list[tuple[RepoEntry, list[str], list[str] | None]] = []
        for entry in self._ctx.registry.entries():
            mine = ids_in(entry, catalogued)
            if chosen is None:
                if entry.default and not mine and not Path(entry.location).exists():
                    continue
                groups.append((entry, mine, None))
            elif wanted := ids_in(entry, chosen):
                groups.append((entry, mine, wanted))
        return groups

    def _verify_each(self, groups: list[tuple[RepoEntry, list[str], list[str] | None]],
                     chosen: bool, run: OperationRunner, light: bool = False,
                     ) -> tuple[VerifyReport, dict[str, str | None]]:
        """Verify repository after repository; one that cannot be opened is a
        problem of the report when verifying everything, the error otherwise."""
        checked = blobs = read = 0
        problems: list[VerifyProblem] = []
        advice: list[str] = []
        damage: dict[str, str | None] = {}
        count = len(groups)
        listed = {p.id: p for p in self._ctx.catalogue.points()}
        for number, (entry, catalogued, ids) in enumerate(groups):
            def progress(done: int, total: int, number: int = number) -> None:
                run.progress(number * 1000 + (1000 * done // total if total else 1000),
                             count * 1000)

            if count > 1:
                run.note(f"Verifying repository '{entry.name}' ({entry.location})")
            try:
                repo = self._pool.repository(entry.name)
                report, found = integrity.verify(repo, catalogued, ids, progress=progress,
                                                 cancel=run.cancelled, light=light,
                                                 family=_family(listed, catalogued))
            except VerifyCancelled:
                raise OperationCancelled("cancelled") from None
            except (ConsoleError, OSError) as exc:
                if chosen:
                    raise
                why = os_reason(exc) if isinstance(exc, OSError) and \
                    not isinstance(exc, ConsoleError) else str(exc)
                problems.append(VerifyProblem(
                    point_id="", blob="", pack=None, paths=[],
                    problem=f"repository '{entry.name}' could not be verified: {why}"))
                run.note(f"Repository '{entry.name}' could not be verified: {why}", "error")
                continue
            report = self._without_retired(entry, repo, report, found, run.note)
            checked += report.points_checked
            blobs += report.blobs_checked
            read += report.bytes_checked
            problems += [p if p.point_id or count == 1 else p.model_copy(
                update={"problem": f"repository '{entry.name}': {p.problem}"})
                for p in report.problems]
            advice += report.advice
            damage.update(found)
        return VerifyReport(points_checked=checked, blobs_checked=blobs, bytes_checked=read,
                            problems=problems, advice=advice), damage

    def _without_retired(self, entry: RepoEntry, repo: Repository, report: VerifyReport,
                         found: dict[str, str | None],
                         note: Callable[[str], None]) -> VerifyReport:
        """The report less the imported points whose manifest is gone: their
        server removed them, which is no damage (they leave the list, noted).
        ``found`` (the damage to record) loses them too."""
        listed = {p.id: p for p in self._ctx.catalogue.points()}
        missing = {p.point_id for p in report.problems
                   if p.point_id and p.problem == "manifest missing"}
        # no longer listed: removed meanwhile (opening the repository reconciled it)
        gone = {pid for pid in missing if pid not in listed}
        retired = sorted(pid for pid in missing - gone
                         if listed[pid].imported and not repo.has_point(pid))
        gone.update(retired)
        if not gone:
            return report
        self._pool.drop_retired(entry, [listed[pid] for pid in retired], note)
        for pid in gone:
            found.pop(pid, None)
        return report.model_copy(update={
            "problems": [p for p in report.problems if p.point_id not in gone]})

    def verify(self, point_id: str | None = None) -> VerifyReport:
        """``start_verify`` and wait for its report; raises its error."""
        session_id = self.start_verify(point_id)
        runner = self._ctx.operations.get(session_id)
        if runner is not None:
            runner.join()
            if runner.error is not None:
                raise runner.error
        return verify_report(self._sessions.get_session(session_id))

    def delete_backups(self, job: str, computer: str | None = None) -> DeleteReport:
        """Delete a job's restore points (or one computer's) from disk, then
        reclaim their space."""
        try:
            definition = self._ctx.catalogue.job(job)
            name = definition.name
            if self._ctx.catalogue.active_session(name):
                raise JobStateError(f"Job '{name}' is running. Stop it before deleting its "
                                    "backups.")
        except NotFound:
            name = job   # backups of a job that no longer exists
        listed = self._ctx.catalogue.points(name, computer)
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
        groups = {repository: (self._pool.repository(repository), group)
                  for repository, group in by_repository(points).items()}
        self._ctx.catalogue.mark_forgetting(ids)
        for repo, group in groups.values():
            repo.forget(group)
        self._ctx.catalogue.remove_points(ids)
        self._ctx.trees.forget(ids)
        self._ctx.events.publish(PointsChanged(name))
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
        changed = set(self._ctx.catalogue.set_damaged(damage))
        for job in sorted({p.job for p in self._ctx.catalogue.points() if p.id in changed}):
            self._ctx.events.publish(PointsChanged(job))

    def repair(self) -> RepairReport:
        """Rebuild the repository's index from its packs, drop damaged copies
        (salvaging the intact blocks of their packs) and re-mark the points."""
        running = self._ctx.running_jobs()
        if running:
            raise JobStateError(f"Jobs are running: {', '.join(running)}. Repair the "
                                "repository when they have finished.")
        catalogued = [p.id for p in self._ctx.catalogue.points()]
        total = RepairReport()
        for entry in self._ctx.registry.entries():
            try:
                rep = self._pool.repository(entry.name).repair()
            except (ConsoleError, OSError) as exc:
                why = str(exc) if isinstance(exc, ConsoleError) else os_reason(exc)
                total.problems.append(f"repository '{entry.name}' was not repaired: {why}")
                continue
            self._mark_damage(integrity.repair_damage(rep, catalogued))
            _add_repair(total, integrity.repair_report(rep),
                        "" if entry.default else f"repository '{entry.name}': ")
        return total


def _add_repair(total: RepairReport, part: RepairReport, prefix: str) -> None:
    for field in ("packs_checked", "blobs_ok", "blobs_damaged", "packs_rewritten",
                  "index_files_replaced", "points_ok"):
        setattr(total, field, getattr(total, field) + getattr(part, field))
    total.points_relinked += part.points_relinked
    total.points_damaged.update(part.points_damaged)
    total.problems += [prefix + p for p in part.problems]


def point_label(point: RestorePointInfo) -> str:
    """How the operator knows a point: its time, to the second, in local time."""
    return point.created.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _family(listed: dict[str, RestorePointInfo], in_repository: list[str]) -> integrity.Family:
    """A point's job and computer, and their other points in the same repository
    (newest first): what verify may offer instead of a damaged point."""
    mine = [listed[i] for i in in_repository if i in listed]

    def family(point_id: str) -> tuple[str, list[integrity.Sibling]]:
        point = listed[point_id]
        same = sorted((p for p in mine if p.id != point_id and p.computer == point.computer
                       and p.job.casefold() == point.job.casefold()),
                      key=lambda p: (p.created, p.id), reverse=True)
        return (f"Computer '{point.computer}' of job '{point.job}'",
                [integrity.Sibling(p.id, point_label(p), bool(p.damaged)) for p in same])
    return family
