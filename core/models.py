"""Pydantic models at the boundary of the backup server: job definitions,
sessions, tasks and restore points, in Veeam's vocabulary."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .scheduling.schedule import Schedule

JOB_NAME_RE = re.compile(r"^[^\x00-\x1f/\\]{1,64}$")
COMPUTER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SessionState(str, Enum):
    STARTING = "Starting"
    WORKING = "Working"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    @property
    def is_active(self) -> bool:
        return self is not SessionState.STOPPED


class SessionResult(str, Enum):
    SUCCESS = "Success"
    WARNING = "Warning"
    FAILED = "Failed"


class StopMode(str, Enum):
    IMMEDIATELY = "immediately"
    GRACEFULLY = "gracefully"


class RunKind(str, Enum):
    MANUAL = "manual"
    SCHEDULED = "scheduled"
    RETRY = "retry"


class TaskStatus(str, Enum):
    PENDING = "Pending"
    IN_PROGRESS = "In progress"
    SUCCESS = "Success"
    WARNING = "Warning"
    FAILED = "Failed"
    CANCELLED = "Cancelled"   # was in progress at an immediate stop: no restore point
    SKIPPED = "Skipped"       # never started because the job was stopped

    @property
    def is_final(self) -> bool:
        return self not in (TaskStatus.PENDING, TaskStatus.IN_PROGRESS)

    @property
    def produced_point(self) -> bool:
        return self in (TaskStatus.SUCCESS, TaskStatus.WARNING)


class PointType(str, Enum):
    FULL = "Full"
    INCREMENT = "Increment"


class Computer(BaseModel):
    """A protected computer. For now a directory tree on this machine,
    protected by the local agent (``agent == "local"``)."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: str
    agent: str = "local"

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        if not COMPUTER_NAME_RE.match(v):
            raise ValueError(
                f"invalid computer name {v!r}: use letters, digits, '.', '_' or '-' "
                "(at most 63 characters, starting with a letter or digit)"
            )
        return v


class FileScope(BaseModel):
    """File-level backup scope: folders (relative to the computer's root,
    empty = the whole tree) and exclude masks (fnmatch patterns matched
    against the relative path and the file name)."""

    model_config = ConfigDict(frozen=True)

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


class JobDefinition(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    computers: tuple[Computer, ...]
    scope: FileScope = FileScope()
    repository: str = "Default Backup Repository"
    retain_points: int = Field(7, ge=1, le=999)
    task_slots: int = Field(2, ge=1, le=64)
    throttle_mbps: float | None = Field(None, gt=0)
    enabled: bool = True
    schedule: Schedule | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        v = v.strip()
        if not JOB_NAME_RE.match(v):
            raise ValueError(
                "invalid job name: use 1 to 64 printable characters without '/' or '\\'"
            )
        return v

    @field_validator("computers")
    @classmethod
    def _computers(cls, v: tuple[Computer, ...]) -> tuple[Computer, ...]:
        if not v:
            raise ValueError("a job needs at least one computer")
        names = [c.name for c in v]
        if len(set(names)) != len(names):
            raise ValueError("each computer may appear only once in a job")
        return v


class LogItem(BaseModel):
    time: datetime
    level: str = "info"   # info | warning | error
    text: str


class TaskInfo(BaseModel):
    """One computer's part of a job session."""

    computer: str
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
    log: list[LogItem] = []

    @property
    def duration_s(self) -> float | None:
        if self.started is None:
            return None
        end = self.ended or utcnow()
        return max(0.0, (end - self.started).total_seconds())


class SessionInfo(BaseModel):
    id: str
    job: str
    state: SessionState
    result: SessionResult | None = None
    run_kind: RunKind = RunKind.MANUAL
    full: bool = False
    stop_mode: StopMode | None = None
    created: datetime
    ended: datetime | None = None
    progress: int = 0  # percent
    tasks: list[TaskInfo] = []
    log: list[LogItem] = []

    @property
    def run_manually(self) -> bool:
        return self.run_kind is not RunKind.SCHEDULED


class RestorePointInfo(BaseModel):
    id: str
    job: str
    computer: str
    session_id: str
    type: PointType
    created: datetime
    files: int
    size: int
    repository: str = "Default Backup Repository"


class JobStatus(str, Enum):
    IDLE = "Idle"
    WORKING = "Working"
    STOPPING = "Stopping"
    DISABLED = "Disabled"


class JobInfo(BaseModel):
    """A catalogue row for the jobs list: the definition plus its live state."""

    definition: JobDefinition
    status: JobStatus
    progress: int = 0
    last_run: datetime | None = None
    last_result: SessionResult | None = None
    next_run: datetime | None = None
    active_session_id: str | None = None

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def type_label(self) -> str:
        return "Linux Agent Backup"

