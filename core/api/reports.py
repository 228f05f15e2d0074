"""What the server reports back to front ends: stop previews, restore, delete and verify
reports, bulk results, scope previews and repository descriptions."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo

from pydantic import BaseModel, Field, SecretStr

from core import errors
from core.errors import ConsoleError
from core.models import (
    JobDefinition, OperationInfo, PointType, RestorePointInfo,
    SessionInfo, SessionResult, StopMode, VerifyProblem,
)
from core.scheduling.retention import GfsRetention, decide


class ComputerEstimate(BaseModel):
    """A computer in progress: how far it is and how long it still needs."""

    computer: str
    progress: int                    # 0-100
    eta_seconds: float | None        # None while estimating (no measured rate yet)
    # Seconds it yielded to production so far (held or slowed by the computer's pressure):
    # already in the measured rate, and so in ``eta_seconds``
    production_s: float = 0.0


class PointAge(BaseModel):
    """A computer under one stop choice: whether it gets a new point, and how old its
    newest restore point is once the job has stopped that way."""

    gets_point: bool
    age_seconds: float | None        # None: no restore point at all
    past_rpo: bool                   # older than the job's RPO (no point at all counts)


class StopCost(BaseModel):
    """What each stop choice costs one computer of the session."""

    computer: str
    where: str                       # "completed", "in_progress" or "not_started"
    newest_before: datetime | None   # its newest point before this session
    immediately: PointAge
    gracefully: PointAge
    gracefully_past_rpo: PointAge


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
    # A stop already under way: how, since when and by whom ("by user", "by the backup window").
    stop_mode: StopMode | None = None
    stop_requested_at: datetime | None = None
    stopped_by: str | None = None
    paused: bool = False   # the session is paused (or pausing): Resume lets it go on
    # What each choice costs (how old each computer's newest point will be), and the
    # job's RPO; ``finishes_past_rpo``: the computers in progress a graceful stop only
    # past the RPO lets finish (past their RPO, or passing it before they could finish).
    rpo_hours: int | None = None
    costs: list[StopCost] = []
    finishes_past_rpo: list[str] = []

    @property
    def immediately_gets_point(self) -> list[str]:
        return list(self.completed)

    @property
    def gracefully_gets_point(self) -> list[str]:
        return self.completed + self.in_progress

    @property
    def gracefully_past_rpo_gets_point(self) -> list[str]:
        return self.completed + [c for c in self.in_progress if c in self.finishes_past_rpo]

    def gets_point(self, mode: StopMode) -> list[str]:
        """The computers with a new restore point once the job has stopped ``mode``."""
        if mode is StopMode.IMMEDIATELY:
            return self.immediately_gets_point
        if mode is StopMode.GRACEFULLY_PAST_RPO:
            return self.gracefully_past_rpo_gets_point
        return self.gracefully_gets_point


class DiskUsage(BaseModel):
    """The space restore points really take in their repositories, after dedup and
    compression (Backups > Disk's "On disk"); a point whose manifest cannot be read is
    absent."""

    points: dict[str, int] = {}                  # point id -> the new data it added
    jobs: dict[str, int] = {}                    # job -> its points' blocks, each once
    computers: dict[str, dict[str, int]] = {}    # job -> computer -> its points' blocks
    repositories: dict[str, int] = {}            # repository -> its size on disk


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
    bytes_checked: int = 0   # stored bytes read back (History's Processed)
    # what can be restored instead of the damaged points, one line per computer
    advice: list[str] = []

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


class RetainedPointInfo(BaseModel):
    """A restore point retention dropped whose data stays until its lock ends."""

    id: str
    job: str
    computer: str
    created: str
    type: str
    locked_until: datetime


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
    immutable_days: int | None = None  # every object locked (S3 Object Lock, COMPLIANCE) N days
    # points retention dropped whose data the lock keeps: "kept by immutability until DATE"
    retained_points: list[RetainedPointInfo] = []


class RepositorySpec(BaseModel):
    """What ``add_repository``/``test_repository`` take. The secrets are kept by
    the server in 0600 files in its data directory and never returned."""

    name: str
    url: str                          # restic syntax: a path, or s3:http(s)://HOST:PORT/BUCKET
    password: SecretStr | None = None
    insecure_no_encryption: bool = False      # required for S3 without a password
    access_key_id: str | None = None          # S3; else AWS_ACCESS_KEY_ID of the server
    secret_access_key: SecretStr | None = None
    immutable_days: int | None = Field(default=None, ge=1, le=36500)   # S3 with Object Lock


class PointRetention(BaseModel):
    """One restore point in a retention preview: kept or going, and why."""

    id: str
    computer: str
    created: datetime
    type: PointType
    keep: bool
    reasons: list[str] = []   # "last 3", "daily 2026-12-05", "weekly 2026-W48", ...


class RetentionPreview(BaseModel):
    """What the job's retention keeps and drops now (nothing is removed by asking)."""

    job: str
    retain_points: int
    gfs: GfsRetention
    points: list[PointRetention] = []   # per computer, oldest first

    @property
    def kept(self) -> list[PointRetention]:
        return [p for p in self.points if p.keep]

    @property
    def dropped(self) -> list[PointRetention]:
        return [p for p in self.points if not p.keep]


class RepositoryKeyInfo(BaseModel):
    id: str
    created: datetime | None          # None for a damaged key object
    current: bool = False             # the key the server opened the repository with
    damaged: bool = False             # unreadable: its password no longer opens anything


class NotificationTest(BaseModel):
    """What ``notifications test`` found at one destination."""

    destination: str                  # "mail server HOST:PORT" or a notification URL
    ok: bool
    error: str | None = None          # why it was not delivered, in the operator's words


# -- reports of recorded restores and verifies ------------------------------------------
def _operation_error(session: SessionInfo) -> ConsoleError | None:
    op = session.operation
    if session.result is not SessionResult.FAILED:
        return None
    text = (op.error if op is not None and op.error else
            next((i.text for i in reversed(session.log) if i.level == "error"),
                 f"{session.type.value} session {session.id} failed."))
    kind = op.error_kind if op is not None and op.error_kind else "ConsoleError"
    return errors.from_wire(kind, text)


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
                        problems=list(op.problems), advice=list(op.advice),
                        bytes_checked=op.bytes)


def report_damaged_paths(report: VerifyReport) -> list[str]:
    seen: dict[str, None] = {}
    for p in report.problems:
        for path in p.paths:
            seen.setdefault(path, None)
    return list(seen)




def retention_preview(definition: JobDefinition, points: Iterable[RestorePointInfo],
                      tz: tzinfo | None = None) -> RetentionPreview:
    """What ``definition``'s retention (the last N and its GFS points) keeps of ``points``
    (the job's) and what it would drop now: the same decision the server takes after a
    backup (``core.scheduling.retention``). Pure: the caller fetched the points."""
    listed = list(points)
    types = {p.id: p.type for p in listed}
    decisions = decide(listed, definition.retain_points, definition.gfs, tz)
    return RetentionPreview(
        job=definition.name, retain_points=definition.retain_points, gfs=definition.gfs,
        points=[PointRetention(id=d.id, computer=d.computer, created=d.created,
                               type=types[d.id], keep=d.keep, reasons=list(d.reasons))
                for d in decisions])
