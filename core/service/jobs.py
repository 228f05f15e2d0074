"""The jobs desk: backup job definitions and what the job list shows.

It owns creating, changing, enabling and deleting jobs (checking a job's
repository and local computers first), and each job's row of the list: its
status, progress, last result and next run, from the catalogue and from the
sessions running now. Starting and stopping jobs is the sessions desk's.
"""
from __future__ import annotations

from collections.abc import Sequence

from core.agents.select import agent_for
from core.api.text import clone_name
from core.catalogue import JobRow
from core.errors import InvalidInput, JobStateError, NotFound
from core.events import JobsChanged, PointsChanged
from core.models import JobDefinition, JobInfo, JobStatus, SessionState
from core.service.context import ServiceContext
from core.service.pool import by_repository


class Jobs:
    """Backup job definitions, and the job list's rows."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._pool = ctx.pool

    def _validate(self, definition: JobDefinition) -> JobDefinition:
        repository = self._pool.repository_name(definition.repository)
        if definition.is_copy:
            return self._validate_copy(definition, repository)
        for computer in definition.computers:
            if computer.agent == "local":   # a computer over SSH may be offline now
                agent_for(computer).check()
        return definition.model_copy(update={"repository": repository})

    def _validate_copy(self, definition: JobDefinition, repository: str) -> JobDefinition:
        """A copy job's source is a backup job of this server, and the copy goes to
        another repository than the source's."""
        try:
            source = self._ctx.catalogue.job(definition.copy_source or "")
        except NotFound:
            raise InvalidInput(
                f"There is no job named '{definition.copy_source}' to copy: name an existing "
                "backup job as the source (see 'agent-jobs job list').") from None
        if source.is_copy:
            raise InvalidInput(
                f"Job '{source.name}' is itself a backup copy job: the source of a copy job "
                "must be a backup job.")
        if self._pool.repository_name(source.repository).lower() == repository.lower():
            raise InvalidInput(
                f"Backup copy job '{definition.name}' would copy into repository "
                f"'{repository}', where its source job '{source.name}' already keeps its "
                "points: choose another repository (--repository), e.g. an S3 one for an "
                "off-site copy.")
        return definition.model_copy(update={"repository": repository,
                                             "copy_source": source.name})

    def _copies_of(self, name: str) -> list[JobDefinition]:
        """The backup copy jobs whose source is the job ``name``."""
        return [j for j in self._ctx.catalogue.jobs()
                if j.is_copy and (j.copy_source or "").lower() == name.lower()]

    def create_job(self, definition: JobDefinition) -> None:
        self._ctx.catalogue.add_job(self._validate(definition))
        self._ctx.events.publish(JobsChanged())

    def update_job(self, name: str, definition: JobDefinition) -> None:
        current = self._ctx.catalogue.job(name)
        if definition.name != current.name and self._ctx.catalogue.active_session(name):
            raise JobStateError(f"Job '{name}' is running; stop it before renaming it.")
        if definition.is_copy != current.is_copy:
            raise InvalidInput(
                f"Job '{current.name}' is a "
                + ("backup copy job" if current.is_copy else "backup job")
                + ": its kind cannot change. Create a new job of the other kind instead.")
        copies = self._copies_of(current.name) if definition.name != current.name else []
        self._ctx.catalogue.replace_job(name, self._validate(definition))
        for copy in copies:   # a renamed source: its copy jobs follow it
            self._ctx.catalogue.replace_job(
                copy.name, copy.model_copy(update={"copy_source": definition.name}))
        self._ctx.events.publish(JobsChanged())

    def delete_job(self, name: str, *, delete_backups: bool = False) -> None:
        job = self._ctx.catalogue.job(name)
        if self._ctx.catalogue.active_session(job.name):
            raise JobStateError(f"Job '{job.name}' is running. Stop it before deleting it.")
        copies = self._copies_of(job.name)
        if copies:
            names = ", ".join(f"'{c.name}'" for c in copies)
            raise JobStateError(
                f"Job '{job.name}' is the source of backup copy job(s) {names}: delete those "
                "first, or give them another source ('agent-jobs job set NAME --source JOB').")
        if delete_backups:   # this server's points; imported ones stay their server's
            points = [p for p in self._ctx.catalogue.points(job.name) if not p.imported]
            for repository, ids in by_repository(points).items():
                repo = self._pool.repository(repository)
                self._ctx.catalogue.mark_forgetting(ids)
                repo.forget(ids)
                self._ctx.catalogue.remove_points(ids)
                repo.prune()
            if points:
                self._ctx.events.publish(PointsChanged(job.name))
        self._ctx.catalogue.delete_job(job.name)
        self._ctx.events.publish(JobsChanged())

    def set_job_enabled(self, name: str, enabled: bool) -> None:
        job = self._ctx.catalogue.job(name)
        self._ctx.catalogue.replace_job(job.name, job.model_copy(update={"enabled": enabled}))
        self._ctx.events.publish(JobsChanged())

    def clone_job(self, name: str, new_name: str | None = None) -> JobInfo:
        """A copy of the job, created disabled: it would otherwise back up the same
        computers on the same schedule as the original."""
        source = self._ctx.catalogue.job(name)
        taken = [j.name for j in self._ctx.catalogue.jobs()]
        name_of_clone = new_name if new_name is not None else clone_name(source.name, taken)
        copy = JobDefinition.model_validate(
            {**source.model_dump(), "name": name_of_clone, "enabled": False})
        self.create_job(copy)
        return self.get_job(copy.name)

    def get_job(self, name: str) -> JobInfo:
        rows = self._ctx.catalogue.job_rows([name])
        if not rows:
            self._ctx.catalogue.job(name)   # raises NotFound with its message
        return self._row_info(rows[0])

    def list_jobs(self, names: Sequence[str] | None = None) -> list[JobInfo]:
        """Every job (or the named ones; unknown names are left out), by name.
        One catalogue query whatever the number of jobs and sessions."""
        return [self._row_info(r) for r in self._ctx.catalogue.job_rows(names)]

    def _row_info(self, row: JobRow) -> JobInfo:
        job, latest = row.definition, row.latest
        state = latest.state if latest else None
        progress = latest.progress if latest else 0
        result = latest.result if latest else None
        if latest is not None:
            runner = self._ctx.runners.get(latest.id) or self._ctx.unsaved.get(latest.id)
            if runner is not None:   # its own state is newer than the catalogue's
                state, progress, result = runner.live_state()
        running = state is not None and state is not SessionState.STOPPED
        if running:
            status = JobStatus.STOPPING if state is SessionState.STOPPING \
                else JobStatus.PAUSED if state is SessionState.PAUSED else JobStatus.WORKING
            result = row.finished.result if row.finished is not None else None
        else:
            status = JobStatus.IDLE if job.enabled else JobStatus.DISABLED
        return JobInfo(
            definition=job, status=status, progress=progress if running else 0,
            last_run=latest.created if latest else None, last_result=result,
            next_run=self._ctx.scheduler.next_run(job),
            active_session_id=latest.id if running and latest else None)

    def has_schedules(self) -> bool:
        return any(j.enabled and j.schedule is not None for j in self._ctx.catalogue.jobs())

    def scheduled_jobs(self) -> list[JobDefinition]:
        return [j for j in self._ctx.catalogue.jobs() if j.schedule is not None]

    def is_running(self, name: str) -> bool:
        return self._ctx.catalogue.active_session(name) is not None
