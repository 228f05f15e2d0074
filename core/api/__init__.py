"""The facade the front ends use, and the data types it returns.

Two classes implement :class:`BackupApi`: :class:`core.service.facade.BackupService`
(the backup server itself, in the server process) and
:class:`core.api.client.ServerClient` (the same calls over the server's
REST API). The console and the CLI see only this protocol, so they work the
same against either.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, SecretStr

from core import errors
from core.errors import ConsoleError
from core.events import Event
from core.models import (
    Computer, FileScope, SshSettings, HistoryPage, HistoryQuery, JobDefinition, JobInfo, OperationInfo,
    PointEntryInfo, RestorePointInfo, SessionInfo, SessionResult, SessionState, Stage, StopMode,
    TaskStatus, VerifyProblem, utcnow,
)
# VerifyProblem lives in core.models (a Verify session keeps its problems); it is
# still importable from here, where VerifyReport uses it.


class ComputerEstimate(BaseModel):
    """A computer in progress: how far it is and how long it still needs."""

    computer: str
    progress: int                    # 0-100
    eta_seconds: float | None        # None while estimating (no measured rate yet)


class StopPreview(BaseModel):
    """What a stop would do to the job's current session, computer by computer."""

    job: str
    session_id: str
    completed: list[str]      # already have their new point: kept by both modes
    in_progress: list[str]    # get a point only if stopped gracefully
    not_started: list[str]    # get none in either mode
    estimates: list[ComputerEstimate] = []       # one per computer in progress
    graceful_eta_seconds: float | None = None    # until a graceful stop ends the job
    escalate_at: datetime | None = None          # a graceful stop turns immediate then

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
    session_id: str | None = None


class DeleteReport(BaseModel):
    """What ``delete_backups`` removed from disk."""

    job: str
    computer: str | None = None
    points: int = 0
    bytes_freed: int = 0
    note: str = ""          # e.g. prune postponed because the repository was busy


class VerifyReport(BaseModel):
    points_checked: int
    blobs_checked: int
    problems: list[VerifyProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


class BulkResult(BaseModel):
    """The outcome of a start or stop of several jobs in one request."""

    sessions: dict[str, str] = {}             # job -> session id (start)
    stopped: dict[str, StopPreview] = {}      # job -> where it stood (stop)
    errors: dict[str, str] = {}               # job -> why it was not started/stopped
    error_kinds: dict[str, str] = {}          # job -> the error's class, e.g. OutsideBackupWindow

    def refuse(self, job: str, error: Exception) -> None:
        self.errors[job] = str(error)
        self.error_kinds[job] = type(error).__name__


class ComputerPreview(BaseModel):
    """What a backup scope covers on one computer, as its agent sees it now."""

    computer: str
    files: int = 0
    bytes: int = 0
    error: str | None = None        # the computer cannot be read (a missing folder, ...)
    warnings: list[str] = []        # e.g. an included folder that does not exist


class ScopePreview(BaseModel):
    """The answer of ``preview_scope``: per computer, in the order asked."""

    computers: list[ComputerPreview]

    @property
    def files(self) -> int:
        return sum(c.files for c in self.computers)

    @property
    def bytes(self) -> int:
        return sum(c.bytes for c in self.computers)


class RepositoryInfo(BaseModel):
    """A backup repository as the console lists it (Backup Infrastructure).
    Never carries a password or credentials."""

    name: str
    kind: str                         # "local" | "s3"
    location: str                     # a folder path, or s3:http(s)://HOST:PORT/BUCKET[/PREFIX]
    encrypted: bool = False
    default: bool = False             # the data directory's own repository
    jobs: list[str] = []              # jobs that write to it
    used_bytes: int | None = None
    capacity_bytes: int | None = None
    free_bytes: int | None = None
    problem: str | None = None        # why it cannot be reached right now


class RepositorySpec(BaseModel):
    """What ``add_repository``/``test_repository`` take. The secrets are kept by
    the server in 0600 files in its data directory and never returned."""

    name: str
    url: str                          # restic syntax: a path, or s3:http(s)://HOST:PORT/BUCKET
    password: SecretStr | None = None
    insecure_no_encryption: bool = False      # required for S3 without a password
    access_key_id: str | None = None          # S3; else AWS_ACCESS_KEY_ID of the server
    secret_access_key: SecretStr | None = None


class RepositoryKeyInfo(BaseModel):
    id: str
    created: datetime | None          # None for a damaged key object
    current: bool = False             # the key the server opened the repository with
    damaged: bool = False             # unreadable: its password no longer opens anything


class BackupApi(Protocol):
    data_dir: Path

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]: ...
    def close(self) -> None: ...
    def list_jobs(self) -> list[JobInfo]: ...
    def get_job(self, name: str) -> JobInfo: ...
    def create_job(self, definition: JobDefinition) -> None: ...
    def update_job(self, name: str, definition: JobDefinition) -> None: ...
    def delete_job(self, name: str, *, delete_backups: bool = False) -> None: ...
    def set_job_enabled(self, name: str, enabled: bool) -> None: ...
    def start_job(self, name: str, *, full: bool = False, retry: bool = False,
                  outside_window: bool = False) -> str: ...
    def start_jobs(self, names: list[str], *, full: bool = False, retry: bool = False,
                   outside_window: bool = False) -> BulkResult: ...
    def stop_job(self, name: str, mode: StopMode,
                 escalate_after_s: float | None = None) -> StopPreview: ...
    def stop_jobs(self, names: list[str], mode: StopMode,
                  escalate_after_s: float | None = None) -> BulkResult: ...
    def stop_preview(self, name: str) -> StopPreview: ...
    def retry_candidates(self, name: str) -> list[str]: ...
    def get_session(self, session_id: str) -> SessionInfo: ...
    def list_sessions(self, job: str | None = None, limit: int = 200) -> list[SessionInfo]: ...
    def wait_session(self, session_id: str, timeout: float | None = None) -> SessionInfo: ...
    def list_points(self, job: str | None = None) -> list[RestorePointInfo]: ...
    def restore(self, point_id: str, target: Path, *, paths: list[str] | None = None,
                overwrite: bool = False) -> RestoreReport: ...
    def verify(self, point_id: str | None = None) -> VerifyReport: ...
    # History, recorded restores and verifies, browsing and deleting backups
    def list_history(self, query: HistoryQuery) -> HistoryPage: ...
    def start_restore(self, point_id: str, target: Path | None = None, *,
                      paths: list[str] | None = None, overwrite: bool = False) -> str: ...
    def start_verify(self, point_id: str | None = None, *,
                     job: str | None = None) -> str: ...
    def cancel_session(self, session_id: str) -> None: ...
    def browse_point(self, point_id: str, folder: str = "") -> list[PointEntryInfo]: ...
    def delete_backups(self, job: str, computer: str | None = None) -> DeleteReport: ...
    def setup_demo(self) -> list[str]: ...
    def preview_scope(self, computers: list[Computer], scope: FileScope,
                      ssh: SshSettings | None = None) -> ScopePreview: ...
    # Backup infrastructure: repositories (issue 13)
    def list_repositories(self) -> list[RepositoryInfo]: ...
    def add_repository(self, spec: RepositorySpec) -> RepositoryInfo: ...
    def remove_repository(self, name: str) -> int: ...   # points no longer listed
    def test_repository(self, spec: RepositorySpec) -> str: ...
    def list_repository_keys(self, name: str) -> list[RepositoryKeyInfo]: ...
    def add_repository_key(self, name: str, password: SecretStr) -> str: ...
    def remove_repository_key(self, name: str, key_id: str) -> None: ...
    def set_repository_password(self, name: str, password: SecretStr) -> None: ...
    def change_repository_password(self, name: str, new_password: SecretStr) -> str: ...
    def set_repository_s3_keys(self, name: str, access_key_id: str,
                               secret_access_key: SecretStr) -> None: ...
    # Linux computers over SSH: connects, checks the host key and the path
    def test_computer(self, computer: Computer, ssh: SshSettings) -> str: ...


def _iso(dt: Any) -> str | None:
    return dt.isoformat() if dt else None


def job_summary(job: JobInfo) -> dict[str, Any]:
    """A job as ``agent-jobs job list --json`` prints it (and the REST API returns it)."""
    d = job.definition
    return {
        "name": job.name, "type": job.type_label, "description": d.description,
        "computers": [c.name for c in d.computers],
        "status": job.status.value, "progress": job.progress, "enabled": d.enabled,
        "last_run": _iso(job.last_run),
        "last_result": job.last_result.value if job.last_result else None,
        "next_run": _iso(job.next_run), "target": d.repository,
        "task_slots": d.task_slots, "throttle_mbps": d.throttle_mbps,
        "retain_points": d.retain_points,
        "schedule": describe_schedule(d),
    }


def describe_schedule(definition: JobDefinition) -> str | None:
    schedule = getattr(definition, "schedule", None)
    return schedule.describe() if schedule is not None else None


def describe_settings(definition: JobDefinition) -> list[tuple[str, str]]:
    """A job's settings in words, as (label, text) lines: the console's
    wizard summary and ``agent-jobs job show`` print these."""
    d = definition
    points = "1 restore point" if d.retain_points == 1 else f"{d.retain_points} restore points"
    return [
        ("Name", d.name),
        ("Description", d.description or "(none)"),
        ("Computers", ", ".join(f"{c.name} ({c.path})" for c in d.computers)),
        ("Backup mode", "Selected folders: " + ", ".join(d.scope.include) if d.scope.include
         else "Entire computer"),
        ("Exclude", ", ".join(d.scope.exclude) or "(nothing)"),
        ("Repository", d.repository),
        ("Retention", f"Keep {points} per computer"),
        ("Task slots", str(d.task_slots)),
        ("Throttle", f"{d.throttle_mbps:g} MB/s" if d.throttle_mbps else "No limit"),
        ("Active full", d.active_full.describe() if d.active_full else "Off"),
        ("Schedule", d.schedule.describe() if d.schedule else "Not scheduled: run manually"),
        ("Enabled", "Yes" if d.enabled else "No"),
    ]


# -- session figures (the console's Statistics window, ``agent-jobs session show``) ----
class SessionFigures(BaseModel):
    """A session's figures, from its tasks: what the Statistics window shows."""

    duration_s: float
    processed: int
    read: int
    transferred: int
    stored_raw: int
    rate_bps: float | None            # None when nothing was read: no rate to speak of
    dedup: float | None               # read / new data before compression
    compression: float | None         # new data before / after compression
    saving: float | None              # read / transferred (dedup x compression)
    stages: dict[Stage, float]        # seconds per stage, all computers
    bottleneck: Stage | None          # the stage that took the most time; None: unmeasured
    success: int
    warning: int
    error: int
    skipped: int
    running: int                      # in progress or pending

    def stage_percent(self, stage: Stage) -> int:
        total = sum(self.stages.values())
        return round(100 * self.stages[stage] / total) if total > 0 else 0

    def bottleneck_text(self) -> str:
        if self.bottleneck is None:
            return "—"
        return self.bottleneck.value


def session_figures(session: SessionInfo) -> SessionFigures:
    tasks = session.tasks
    end = session.ended or (utcnow() if session.state is not SessionState.STOPPED
                            else session.created)
    duration = max(0.0, (end - session.created).total_seconds())
    processed = sum(t.bytes_processed for t in tasks)
    read = sum(t.bytes_read for t in tasks)
    transferred = sum(t.bytes_transferred for t in tasks)
    raw = sum(t.bytes_stored_raw for t in tasks)
    stages = {stage: 0.0 for stage in Stage}
    for t in tasks:
        for stage, seconds in t.stage_seconds().items():
            stages[stage] += seconds
    measured = sum(stages.values()) > 0
    statuses = [t.status for t in tasks]
    return SessionFigures(
        duration_s=duration, processed=processed, read=read, transferred=transferred,
        stored_raw=raw,
        rate_bps=processed / duration if read > 0 and duration > 0 else None,
        dedup=read / raw if read > 0 and raw > 0 else None,
        compression=raw / transferred if raw > 0 and transferred > 0 else None,
        saving=read / transferred if read > 0 and transferred > 0 else None,
        stages=stages, bottleneck=max(stages, key=lambda s: stages[s]) if measured else None,
        success=statuses.count(TaskStatus.SUCCESS), warning=statuses.count(TaskStatus.WARNING),
        error=statuses.count(TaskStatus.FAILED) + statuses.count(TaskStatus.CANCELLED),
        skipped=statuses.count(TaskStatus.SKIPPED),
        running=statuses.count(TaskStatus.IN_PROGRESS) + statuses.count(TaskStatus.PENDING))


def made_text(session: SessionInfo) -> str:
    """What a backup session really made: "Full", "Increment", or per computer
    where they differ ("Full: pc1; Increment: pc2, pc3")."""
    kinds: dict[str, list[str]] = {}
    for t in session.tasks:
        if t.point_type is not None:
            kinds.setdefault(t.point_type.value, []).append(t.computer)
    if not kinds:
        return "Active full" if session.full else "Backup"
    if len(kinds) == 1:
        return next(iter(kinds))
    return "; ".join(f"{kind}: {', '.join(names)}" for kind, names in kinds.items())


def size_text(size: float) -> str:
    """Bytes for people: 512 B, 1.5 KB, 2.0 GB."""
    units = ("B", "KB", "MB", "GB", "TB", "PB")
    value = float(size)
    for unit in units:
        if abs(value) < 1024 or unit == units[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def stopped_text(session: SessionInfo | Any) -> str:
    """ "Stopped by user (immediately)", or "" when the session was not stopped."""
    if session.stop_mode is None:
        return ""
    by = session.stopped_by or "by user"
    return f"Stopped {by} ({session.stop_mode.value})"


# -- reports of recorded restores and verifies ------------------------------------------
def _operation_error(session: SessionInfo) -> ConsoleError | None:
    op = session.operation
    if session.result is not SessionResult.FAILED:
        return None
    text = (op.error if op is not None and op.error else
            next((i.text for i in reversed(session.log) if i.level == "error"),
                 f"{session.type.value} session {session.id} failed."))
    kind = op.error_kind if op is not None and op.error_kind else "ConsoleError"
    cls = getattr(errors, kind, None)
    if not (isinstance(cls, type) and issubclass(cls, ConsoleError)):
        cls = ConsoleError
    return cls(text)


def restore_report(session: SessionInfo) -> RestoreReport:
    """The report of an ended Restore session; raises its error if it failed."""
    op = session.operation or OperationInfo()
    if session.result is SessionResult.FAILED and (op.error or session.stop_mode is None):
        error = _operation_error(session)
        if error is not None:
            raise error
    if session.stop_mode is not None:
        raise errors.RestoreError(f"The restore was cancelled {session.stopped_by or 'by user'}"
                                  f": {op.target} holds part of the restore point.")
    return RestoreReport(point_id=op.point_ids[0] if op.point_ids else "",
                         target=op.target or "", files=op.files, dirs=op.dirs,
                         symlinks=op.symlinks, bytes=op.bytes, session_id=session.id)


def verify_report(session: SessionInfo) -> VerifyReport:
    """The report of an ended Verify session; raises its error if it could not
    verify (damage found is a report, not an error)."""
    op = session.operation or OperationInfo()
    if session.stop_mode is not None:
        raise errors.JobStateError(f"The verify was cancelled {session.stopped_by or 'by user'}.")
    if op.error:
        error = _operation_error(session)
        if error is not None:
            raise error
    return VerifyReport(points_checked=op.points_checked, blobs_checked=op.blobs_checked,
                        problems=list(op.problems))


def report_damaged_paths(report: VerifyReport) -> list[str]:
    seen: dict[str, None] = {}
    for p in report.problems:
        for path in p.paths:
            seen.setdefault(path, None)
    return list(seen)


def verify_problem_text(p: VerifyProblem) -> str:
    """One problem as ``agent-jobs verify`` and the Verify session's log say it."""
    paths = ", ".join(p.paths[:5]) + (" ..." if len(p.paths) > 5 else "")
    if not p.point_id:   # damage no checked point depends on
        return f"repository: {p.problem}"
    if not p.blob:
        return (f"point {p.point_id}: its {p.problem.replace('manifest ', 'manifest is ')}"
                " (the point stays listed as damaged)")
    return (f"point {p.point_id}: block {p.blob} is {p.problem}"
            + (f" (pack {p.pack})" if p.pack else "")
            + (f"; damaged file(s): {paths}" if paths else ""))
