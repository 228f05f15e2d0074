"""The facade the front ends use, and the data types it returns.

Two classes implement :class:`BackupApi`: :class:`core.service.BackupService`
(the backup server itself, in the server process) and
:class:`core.server.client.ServerClient` (the same calls over the server's
REST API). The console and the CLI see only this protocol, so they work the
same against either.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from .events import Event
from .models import (
    Computer, FileScope, JobDefinition, JobInfo, RestorePointInfo, SessionInfo, StopMode,
)


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


class VerifyProblem(BaseModel):
    point_id: str
    blob: str
    pack: str | None
    problem: str          # "missing" | "corrupt"
    paths: list[str]      # files of the point that use this blob


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
    def restore(self, point_id: str, target: Path) -> RestoreReport: ...
    def verify(self, point_id: str | None = None) -> VerifyReport: ...
    def setup_demo(self) -> list[str]: ...
    def preview_scope(self, computers: list[Computer], scope: FileScope) -> ScopePreview: ...


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
