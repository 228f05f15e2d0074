"""A task's restore points: the base of its backup (the parent manifest), recording the new
point in the catalogue, and retention (the job keeps its newest ``retain_points`` and its GFS points)."""
from __future__ import annotations

import secrets

from core.engine.context import TaskRun, TaskSession, log_size
from core.errors import ConsoleError, RepositoryError
from core.events import PointsChanged
from core.models import PointType, RestorePointInfo, TaskStatus
from core.repository import Manifest, PointMeta, PointNotFound, Repository
from core.scheduling.retention import decide


def new_point_id() -> str:
    return secrets.token_hex(8)


def point_info(meta: PointMeta, repository: str, server: str | None = None) -> RestorePointInfo:
    """The catalogue's record of the point whose manifest says ``meta``, kept in the repository
    named ``repository``. ``server``: the id of the server that wrote it, or None for a point
    this server records as it makes it (the one way a manifest becomes a catalogue row)."""
    return RestorePointInfo(
        id=meta.id, job=meta.job, computer=meta.computer, session_id=meta.session_id,
        type=PointType(meta.type), created=meta.created, files=meta.files, size=meta.size,
        repository=repository, server=server)


class TaskPoints:
    """One task's computer's points, as the task sees them."""

    def __init__(self, runner: TaskSession, task: TaskRun) -> None:
        self.runner = runner
        self.task = task
        self.job = runner.job
        self.ctx = runner.ctx

    def own(self) -> list[RestorePointInfo]:
        """The computer's points this server wrote, oldest first (those of another
        server sharing the repository are imported: never a base, never retired)."""
        return [p for p in self.ctx.catalogue.points(self.job.name, self.task.computer.name)
                if not p.imported]

    def parent_manifest(self, repo: Repository) -> Manifest | None:
        """The computer's newest point whose manifest can be read. A damaged
        one is passed over (noted), never a reason to fail the backup. Only this
        server's points: another server sharing the repository may remove its own."""
        for p in reversed(self.own()):
            try:
                return repo.recent_manifest(p.id)
            except PointNotFound:
                continue
            except RepositoryError as exc:
                self.task.note(f"Restore point {p.id} cannot be used as the base of this "
                               f"backup ({exc}); an older one is used, or every file is read")
                continue
        return None

    def record(self, meta: PointMeta) -> None:
        """The committed point ``meta`` enters the catalogue; then retention."""
        task = self.task
        task.note(f"Restore point created: {meta.type}, {meta.files} file(s), "
                  f"{log_size(meta.size)}; {log_size(task.bytes_transferred)} transferred")
        repo_name = self.ctx.repository_name(self.job.repository)
        cat = self.ctx.catalogue
        cat.add_point(point_info(meta, repo_name))
        self.ctx.events.publish(PointsChanged(self.job.name))
        try:
            self.apply_retention(repo_name)
        except ConsoleError as exc:
            with self.runner.lock:
                task.note(f"Retention could not remove older restore points: {exc}", "warning")
                task.status = TaskStatus.WARNING

    def apply_retention(self, repo_name: str) -> None:
        """Keep the newest ``retain_points`` intact points and the job's GFS points (daily,
        weekly, monthly, yearly: ``core.scheduling.retention``); the others go. A damaged
        point never counts as kept, and one newer than the oldest kept stays listed (so
        that its damage stays visible). Points of another server sharing the repository
        are that server's to retire."""
        task, cat = self.task, self.ctx.catalogue
        points = self.own()
        going = {d.id for d in decide(points, self.job.retain_points, self.job.gfs)
                 if not d.keep}
        extra = [p for p in points if p.id in going]
        if extra:
            ids = [p.id for p in extra]
            cat.mark_forgetting(ids)   # a crash from here on is finished at the next start
            by_repository: dict[str, list[str]] = {}
            for p in extra:   # a job that moved keeps older points in its old repository
                by_repository.setdefault(p.repository or repo_name, []).append(p.id)
            for name, repo_ids in by_repository.items():
                self.ctx.repository(name).forget(repo_ids)
            cat.remove_points(ids)
            self.runner.points_forgotten()
            rules = f"the last {self.job.retain_points}" + (
                f" and {self.job.gfs.describe()}" if self.job.gfs.enabled else "")
            task.note(f"Retention: removed {len(ids)} restore point(s) not kept by {rules}")
            self.ctx.events.publish(PointsChanged(self.job.name))

