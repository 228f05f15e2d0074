"""Pydantic models at the boundary of the backup server: job definitions,
sessions, tasks and restore points, in Veeam's vocabulary."""
from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import date, datetime, timezone
from enum import Enum

from typing import Any, Literal, NamedTuple
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator,
)

from core.scheduling.retention import GfsRetention
from core.scheduling.schedule import BackupWindow, Schedule, Weekday, parse_days

JOB_NAME_RE = re.compile(r"^[^\x00-\x1f/\\]{1,64}$")
MIN_THROTTLE_MBPS = 0.01
MAX_THROTTLE_MBPS = 100_000.0


def _invisible(c: str) -> bool:
    """Control, format (bidi overrides, zero-width), separator or unassigned
    characters: two names differing only by them look the same."""
    return unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") or (
        unicodedata.category(c) == "Zs" and c != " ")
COMPUTER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SessionState(str, Enum):
    STARTING = "Starting"
    WORKING = "Working"
    PAUSED = "Paused"       # every computer in flight held at a block boundary (Resume goes on)
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
    # computers in progress past (or about to pass) their RPO finish; the others are cancelled
    GRACEFULLY_PAST_RPO = "gracefullyPastRpo"

    @property
    def text(self) -> str:
        """The mode in the operator's words ("gracefully, only computers past their RPO")."""
        return "gracefully, only computers past their RPO" \
            if self is StopMode.GRACEFULLY_PAST_RPO else self.value

    @property
    def graceful(self) -> bool:
        """Some computers in progress may still finish."""
        return self is not StopMode.IMMEDIATELY


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


class SessionType(str, Enum):
    """What a session does: back a job's computers up, restore files from a
    restore point, or verify stored data."""

    BACKUP = "Backup"
    RESTORE = "Restore"
    VERIFY = "Verify"
    MAINTENANCE = "Maintenance"   # prune and compaction in the maintenance window
    COPY = "Copy"                 # a backup copy job copying its source job's points


class Stage(str, Enum):
    """Where a backup spends its time (the bottleneck figures)."""

    SOURCE = "Source"          # reading the computer's files
    CPU = "CPU"                # hashing and compressing blocks
    TARGET = "Target"          # writing packs, index and manifest
    THROTTLING = "Throttling"  # waiting on the job's read rate limit
    PRODUCTION = "Production"  # yielding to production: held or slowed by the computer's pressure


class SshTarget(NamedTuple):
    """The parts of an ``ssh://USER@HOST[:PORT]/PATH`` computer path."""

    user: str
    host: str
    port: int
    path: str

    @property
    def address(self) -> str:
        return f"{self.user}@{self.host}" + ("" if self.port == 22 else f":{self.port}")


def parse_ssh_path(v: str) -> SshTarget:
    """ValueError (in the operator's words) unless ``v`` is ssh://USER@HOST[:PORT]/PATH."""
    form = "write it as ssh://USER@HOST[:PORT]/PATH, e.g. ssh://backup@web1:22/srv/data"
    try:
        url = urlsplit(v)
        port = 22 if url.port is None else url.port
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ValueError(f"{v!r} is not a valid SSH address (bad port): {form}")
    if url.scheme != "ssh" or not url.hostname or url.query or url.fragment:
        raise ValueError(f"{v!r} is not a valid SSH address: {form}")
    if not url.username or url.password is not None:
        raise ValueError(f"{v!r} names no user (passwords do not belong in it): {form}")
    if not url.path.startswith("/"):
        raise ValueError(f"{v!r} names no folder on the computer: {form}")
    path = unquote(url.path)
    if len(path) > 1:
        path = path.rstrip("/")
    return SshTarget(unquote(url.username), url.hostname, port, path)


class Computer(BaseModel):
    """A protected computer: a directory tree on this machine, protected by
    the local agent (``agent == "local"``), or a Linux computer reached over
    SSH (``path`` ``ssh://USER@HOST[:PORT]/PATH``, ``agent == "ssh"``)."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: str = Field(min_length=1, max_length=4095)
    agent: Literal["local", "ssh"] = "local"

    @model_validator(mode="before")
    @classmethod
    def _ssh_agent(cls, data: Any) -> Any:
        if isinstance(data, dict) and str(data.get("path", "")).startswith("ssh://") \
                and data.get("agent", "local") == "local":
            data = {**data, "agent": "ssh"}
        return data

    @field_validator("path")
    @classmethod
    def _valid_path(cls, v: str) -> str:
        if "\x00" in v:
            raise ValueError("a computer's path cannot contain a NUL character")
        if v.startswith("ssh://"):
            parse_ssh_path(v)
        return v

    @model_validator(mode="after")
    def _agent_matches_path(self) -> Computer:
        if self.agent == "ssh" and not self.path.startswith("ssh://"):
            raise ValueError("an SSH computer's path must be ssh://USER@HOST[:PORT]/PATH")
        return self

    @property
    def ssh_target(self) -> SshTarget:
        """The SSH address parts (ValueError for a local computer)."""
        return parse_ssh_path(self.path)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        if not COMPUTER_NAME_RE.match(v):
            raise ValueError(
                f"invalid computer name {v!r}: use letters, digits, '.', '_' or '-' "
                "(at most 63 characters, starting with a letter or digit)"
            )
        return v


class SshSettings(BaseModel):
    """How the server reaches a job's Linux computers over SSH (``ssh://USER@HOST[:PORT]/PATH``).

    ``identity_file``: the private key (default: the server user's usual keys);
    ``known_hosts_file``: where host keys are checked (default: the data
    directory's ``known_hosts``); ``accept_new_host_key``: trust and remember a
    host key never seen before (OpenSSH's accept-new). A changed key is always
    refused."""

    model_config = ConfigDict(frozen=True)

    identity_file: str | None = None
    known_hosts_file: str | None = None
    accept_new_host_key: bool = False


class FileScope(BaseModel):
    """File-level backup scope: folders (relative to the computer's root,
    empty = the whole tree) and exclude masks (fnmatch patterns matched
    against the relative path and the file name)."""

    model_config = ConfigDict(frozen=True)

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @field_validator("include")
    @classmethod
    def _inside_root(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for folder in v:
            parts = folder.strip("/").split("/")
            if "\x00" in folder or len(folder) > 4096 or not folder.strip("/") \
                    or any(p in ("", ".", "..") for p in parts):
                raise ValueError(
                    f"include folder {folder!r} must be a folder inside the computer's root, "
                    "given relative to it (no '.', '..' or empty parts)")
        return v

    @field_validator("exclude")
    @classmethod
    def _masks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for mask in v:
            if not mask or "\x00" in mask or len(mask) > 1024:
                raise ValueError(f"exclude mask {mask!r} must be 1 to 1024 characters")
        return v


class ActiveFullKind(str, Enum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class ActiveFullSchedule(BaseModel):
    """Periodic active full: the first scheduled run on one of these days
    reads all data again and starts a new backup chain."""

    model_config = ConfigDict(frozen=True)

    kind: ActiveFullKind = ActiveFullKind.WEEKLY
    days: tuple[Weekday, ...] = (Weekday.SAT,)     # weekly
    day_of_month: int = Field(default=1, ge=1, le=31)  # monthly; a shorter month: its last day
    last_day: bool = False                         # monthly: the last day of every month

    @field_validator("days", mode="before")
    @classmethod
    def _days_input(cls, v: Any) -> Any:
        return parse_days(v) if isinstance(v, str) else v

    @field_validator("days")
    @classmethod
    def _valid_days(cls, v: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if not v:
            raise ValueError("choose at least one day for the active full")
        return tuple(d for d in Weekday if d in v)

    def applies(self, day: date) -> bool:
        """Whether ``day`` (a local calendar day) is an active full day."""
        if self.kind is ActiveFullKind.WEEKLY:
            return list(Weekday)[day.weekday()] in self.days
        last = calendar.monthrange(day.year, day.month)[1]
        return day.day == (last if self.last_day else min(self.day_of_month, last))

    def describe(self) -> str:
        if self.kind is ActiveFullKind.WEEKLY:
            return "Weekly on " + ", ".join(d.label for d in self.days)
        return "Monthly on the last day" if self.last_day \
            else f"Monthly on day {self.day_of_month}"


class HealthCheckMode(str, Enum):
    """How a scheduled health check reads the job's points: ``full`` re-reads,
    decompresses and re-hashes every block; ``light`` only lists and sizes
    every object the points need (manifests, index files, packs), reading no
    pack data, which is what object storage bills for."""

    LIGHT = "light"
    FULL = "full"


class HealthCheckSchedule(ActiveFullSchedule):
    """Scheduled health check (Veeam's): after the first backup on one of
    these days, a Verify session checks the job's points. ``mode`` None: full
    for a local folder, light for object storage."""

    mode: HealthCheckMode | None = None

    @field_validator("days")
    @classmethod
    def _valid_days(cls, v: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if not v:
            raise ValueError("choose at least one day for the health check")
        return tuple(d for d in Weekday if d in v)

    def describe(self) -> str:
        text = super().describe()
        return text + (f" ({self.mode.value})" if self.mode is not None else "")


class MaintenanceSettings(BaseModel):
    """The server-wide maintenance window: prune and compaction (repacking
    packs whose live share fell below half) run there, as a Maintenance
    session, instead of at the end of backup sessions. No window: backups
    reclaim space themselves (as before)."""

    model_config = ConfigDict(frozen=True)

    window: BackupWindow | None = None

    def describe(self) -> str:
        if self.window is None:
            return "No maintenance window: backups reclaim space at their end"
        return f"Maintenance window {self.window.describe()}"


EMAIL_RE = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")


def check_address(v: str, what: str = "e-mail address") -> str:
    """``v`` stripped, or ValueError naming what is wrong with the address."""
    v = v.strip()
    if not EMAIL_RE.match(v):
        raise ValueError(f"'{v}' is not an {what}: write it as name@example.com")
    return v


class NotifyOn(str, Enum):
    """A session result a job's notification is sent for."""

    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


DEFAULT_NOTIFY_ON = (NotifyOn.WARNING, NotifyOn.FAILURE)


class JobNotify(BaseModel):
    """When a job's sessions are told by e-mail and notification URLs (the
    server's settings: ``agent-jobs notifications``)."""

    model_config = ConfigDict(frozen=True)

    on: tuple[NotifyOn, ...] = DEFAULT_NOTIFY_ON
    last_retry_only: bool = False    # a failure with a retry to come says nothing yet
    to: tuple[str, ...] = ()         # recipients besides the server's
    rpo_hours: int | None = Field(default=None, ge=1, le=8760)

    @field_validator("on")
    @classmethod
    def _on(cls, v: tuple[NotifyOn, ...]) -> tuple[NotifyOn, ...]:
        return tuple(r for r in NotifyOn if r in v)   # one order, no repeats

    @field_validator("to")
    @classmethod
    def _to(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for address in v:
            seen.setdefault(check_address(address), None)
        return tuple(seen)

    def describe(self) -> str:
        text = ("On " + ", ".join(r.value for r in self.on)) if self.on else "Never"
        if self.on and self.last_retry_only:
            text += ", after the last retry only"
        if self.to:
            text += "; also to " + ", ".join(self.to)
        if self.rpo_hours is not None:
            text += f"; alert when a computer has no new restore point for {self.rpo_hours} h"
        return text


class SmtpSecurity(str, Enum):
    NONE = "none"
    STARTTLS = "starttls"
    SSL = "ssl"


class SmtpSettings(BaseModel):
    """The mail server notifications go through. Its password is kept in
    ``DATA_DIR/secrets`` (0600), never here: ``password_set`` says whether one is."""

    model_config = ConfigDict(frozen=True)

    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=25, ge=1, le=65535)
    security: SmtpSecurity = SmtpSecurity.NONE
    user: str | None = Field(default=None, max_length=256)
    password_set: bool = False
    sender: str
    to: tuple[str, ...] = Field(min_length=1)

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        v = v.strip()
        if not v or any(c.isspace() or c in "/@" for c in v):
            raise ValueError(f"'{v}' is not a mail server's host name or address")
        return v

    @field_validator("sender")
    @classmethod
    def _sender(cls, v: str) -> str:
        return check_address(v, "e-mail address for From")

    @field_validator("to")
    @classmethod
    def _to(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(check_address(a) for a in v))

    def describe(self) -> str:
        login = f", login {self.user}" + ("" if self.password_set else " (no password)") \
            if self.user else ""
        return (f"{self.host}:{self.port} ({self.security.value}{login}), from {self.sender} "
                f"to {', '.join(self.to)}")


class NotificationSettings(BaseModel):
    """The server's notification settings: a mail server, any number of
    notification URLs in apprise's syntax, and the time of the daily summary."""

    model_config = ConfigDict(frozen=True)

    smtp: SmtpSettings | None = None
    urls: tuple[str, ...] = ()
    summary_at: str | None = Field(default=None, description="HH:MM, the server's local time")

    @field_validator("urls")
    @classmethod
    def _urls(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        urls = tuple(dict.fromkeys(u.strip() for u in v))
        for url in urls:
            if "://" not in url or any(c.isspace() for c in url):
                raise ValueError(f"'{url}' is not a notification URL: write it as apprise "
                                 "does, e.g. json://HOST:PORT/PATH or ntfy://TOPIC")
        return urls

    @field_validator("summary_at")
    @classmethod
    def _summary_at(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", v.strip())
        if not m or int(m[1]) > 23 or int(m[2]) > 59:
            raise ValueError(f"'{v}' is not a time of day: write HH:MM, e.g. 07:30")
        return f"{int(m[1]):02d}:{m[2]}"

    @property
    def configured(self) -> bool:
        return self.smtp is not None or bool(self.urls)
JobKind = Literal["backup", "backup_copy"]


class JobDefinition(BaseModel):
    """A job. ``kind`` "backup" (the default) reads its ``computers`` into
    ``repository``. ``kind`` "backup_copy" (a *backup copy job*) has no
    computers of its own: it copies the restore points of the backup job
    named ``copy_source`` (its computers are that job's) into ``repository``,
    sending only the data the target lacks, and keeps its own retention.

    Over REST a copy job is created like any job, ``POST /api/v1/jobs`` with
    this model as the body, e.g. ``{"name": "Offsite", "kind": "backup_copy",
    "copy_source": "Nightly", "repository": "S3 Offsite", "retain_points": 14}``
    (see ``CopyJobRequest`` for the copy-only fields in one place)."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: JobKind = "backup"
    copy_source: str | None = None   # backup_copy: the name of the source (backup) job
    description: str = Field(default="", max_length=1024)
    # a backup job's (at least one); a copy job has none (validated even when left out)
    computers: tuple[Computer, ...] = Field(default=(), validate_default=True)
    scope: FileScope = FileScope()
    repository: str = "Default Backup Repository"
    retain_points: int = Field(default=7, ge=1, le=999)   # keep the last N
    gfs: GfsRetention = GfsRetention()   # and daily, weekly, monthly, yearly points
    task_slots: int = Field(default=2, ge=1, le=64)
    throttle_mbps: float | None = Field(default=None, ge=MIN_THROTTLE_MBPS, le=MAX_THROTTLE_MBPS,
                                        allow_inf_nan=False)
    # Yield to production: each computer's agent lowers its read rate, and holds at a chunk
    # boundary, while the computer's own pressure (Linux PSI, io and cpu) is above this percent.
    yield_to_production: bool = False
    pressure_threshold: int = Field(default=20, ge=1, le=100)
    enabled: bool = True
    schedule: Schedule | None = None
    active_full: ActiveFullSchedule | None = None
    health_check: HealthCheckSchedule | None = None
    ssh: SshSettings = SshSettings()
    notify: JobNotify = JobNotify()

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        v = v.strip()
        if not JOB_NAME_RE.match(v):
            raise ValueError(
                "invalid job name: use 1 to 64 printable characters without '/' or '\\'"
            )
        hidden = next((c for c in v if _invisible(c)), None)
        if hidden is not None:
            raise ValueError(
                f"invalid job name: it contains the invisible or control character "
                f"U+{ord(hidden):04X}; use 1 to 64 printable characters without '/' or '\\'"
            )
        return v

    @field_validator("computers")
    @classmethod
    def _computers(cls, v: tuple[Computer, ...], info: ValidationInfo) -> tuple[Computer, ...]:
        if info.data.get("kind", "backup") == "backup_copy":
            if v:
                raise ValueError("a backup copy job has no computers of its own: it copies "
                                 "the points of its source job's computers; leave computers "
                                 "empty")
            return v
        if not v:
            raise ValueError("a job needs at least one computer")
        names = [c.name for c in v]
        if len(set(names)) != len(names):
            raise ValueError("each computer may appear only once in a job")
        return v

    @field_validator("copy_source")
    @classmethod
    def _valid_source(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip()
        if not JOB_NAME_RE.match(v):
            raise ValueError("invalid source job name: name the backup job whose restore "
                             "points this copy job copies (see 'agent-jobs job list')")
        return v

    @model_validator(mode="after")
    def _kind_fits(self) -> JobDefinition:
        if self.kind == "backup":
            if self.copy_source is not None:
                raise ValueError("only a backup copy job has a source job: set kind "
                                 "'backup_copy', or leave copy_source out")
            return self
        if self.copy_source is None:
            raise ValueError("a backup copy job needs a source job (copy_source): the backup "
                             "job whose restore points it copies")
        if self.copy_source.lower() == self.name.lower():
            raise ValueError("a backup copy job cannot copy itself: name another job as "
                             "its source")
        if self.scope != FileScope():
            raise ValueError("a backup copy job copies whole restore points: it takes no "
                             "include folders or exclude masks")
        if self.active_full is not None:
            raise ValueError("a backup copy job has no active full: it copies the points "
                             "its source job made")
        if self.yield_to_production:
            raise ValueError("a backup copy job reads repositories, not computers: it does "
                             "not yield to production; set it on the source backup job")
        return self

    @property
    def is_copy(self) -> bool:
        return self.kind == "backup_copy"


class CopyJobRequest(BaseModel):
    """The body of a backup copy job as front ends build it: the fields a
    copy job has. ``definition()`` is the ``JobDefinition`` that
    ``POST /api/v1/jobs`` (``create_job``) and ``PUT /api/v1/jobs/{name}``
    take."""

    model_config = ConfigDict(frozen=True)

    name: str
    source: str                                    # the source backup job
    repository: str                                # the target repository
    description: str = Field(default="", max_length=1024)
    retain_points: int = Field(default=7, ge=1, le=999)
    gfs: GfsRetention = GfsRetention()
    task_slots: int = Field(default=2, ge=1, le=64)
    throttle_mbps: float | None = Field(default=None, ge=MIN_THROTTLE_MBPS,
                                        le=MAX_THROTTLE_MBPS, allow_inf_nan=False)
    enabled: bool = True
    schedule: Schedule | None = None
    health_check: HealthCheckSchedule | None = None

    def definition(self) -> JobDefinition:
        return JobDefinition(
            name=self.name, kind="backup_copy", copy_source=self.source,
            repository=self.repository, description=self.description,
            retain_points=self.retain_points, gfs=self.gfs, task_slots=self.task_slots,
            throttle_mbps=self.throttle_mbps, enabled=self.enabled, schedule=self.schedule,
            health_check=self.health_check)


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
    reading_since: datetime | None = None   # when the first block was read
    log: list[LogItem] = []
    point_type: PointType | None = None     # what the task made (or is making)
    bytes_stored_raw: int = 0               # new blocks before compression (dedup figure)
    # A copy task: source points copied into the target (bytes_read: read from the
    # source repository; bytes_transferred: sent to the target repository).
    points_copied: int = 0
    # (seconds since the session was created, bytes processed), about once a second while
    # the task runs: the Statistics window draws the processing rate from these, during
    # the session and after it.
    rate_samples: list[tuple[float, int]] = []
    # Seconds the engine spent per stage (the bottleneck): see Stage.
    source_s: float = 0.0
    cpu_s: float = 0.0
    target_s: float = 0.0
    throttle_s: float = 0.0
    production_s: float = 0.0   # yielding to production (held or slowed by pressure)
    production_why: str = ""    # e.g. "io pressure 43 % > 20 %"

    @property
    def duration_s(self) -> float | None:
        if self.started is None:
            return None
        end = self.ended or utcnow()
        return max(0.0, (end - self.started).total_seconds())

    def stage_seconds(self) -> dict[Stage, float]:
        return {Stage.SOURCE: self.source_s, Stage.CPU: self.cpu_s,
                Stage.TARGET: self.target_s, Stage.THROTTLING: self.throttle_s,
                Stage.PRODUCTION: self.production_s}


class VerifyProblem(BaseModel):
    point_id: str
    blob: str
    pack: str | None
    problem: str          # "missing" | "corrupt"
    paths: list[str]      # files of the point that use this blob


class OperationInfo(BaseModel):
    """What a restore or verify session was asked to do, and what it found."""

    point_ids: list[str] = []
    target: str | None = None           # restore: the folder restored into
    original_location: bool = False     # restore: into the computer's own folder
    overwrite: bool = False             # restore: files of the point replace existing ones
    paths: list[str] = []               # restore: only these paths of the point (all: empty)
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    bytes: int = 0
    failed: list[tuple[str, str]] = []  # restore: (path, why) of files not restored
    points_checked: int = 0             # verify
    blobs_checked: int = 0
    problems: list[VerifyProblem] = []  # verify: damage found
    advice: list[str] = []              # verify: what to restore instead, per computer
    error: str | None = None            # why it failed, in the operator's words
    error_kind: str | None = None       # the error's class (core.errors), for clients

    @property
    def damaged_paths(self) -> list[str]:
        seen: dict[str, None] = {}
        for p in self.problems:
            for path in p.paths:
                seen.setdefault(path, None)
        return list(seen)


class SessionInfo(BaseModel):
    id: str
    job: str
    state: SessionState
    type: SessionType = SessionType.BACKUP
    result: SessionResult | None = None
    run_kind: RunKind = RunKind.MANUAL
    full: bool = False
    stop_mode: StopMode | None = None
    created: datetime
    ended: datetime | None = None
    progress: int = 0  # percent
    tasks: list[TaskInfo] = []
    log: list[LogItem] = []
    stopped_by: str | None = None          # "by user", "by the backup window", ...
    operation: OperationInfo | None = None  # restore and verify sessions

    @property
    def run_manually(self) -> bool:
        return self.run_kind is not RunKind.SCHEDULED


class SessionSummary(BaseModel):
    """One History row: a session without its tasks and logs."""

    id: str
    job: str
    type: SessionType = SessionType.BACKUP
    state: SessionState
    result: SessionResult | None = None
    run_kind: RunKind = RunKind.MANUAL
    full: bool = False
    stop_mode: StopMode | None = None
    stopped_by: str | None = None
    created: datetime
    ended: datetime | None = None
    progress: int = 0
    processed: int = 0       # bytes
    computers: int = 0
    reason: str | None = None   # why it failed or warned, in one line (core.catalogue.reasons)

    @property
    def duration_s(self) -> float:
        end = self.ended or utcnow()
        return max(0.0, (end - self.created).total_seconds())


class HistoryQuery(BaseModel):
    """Which sessions a History page holds: newest first, ``limit`` of them,
    older than the cursor (``before_created``, ``before_id``) when given."""

    job: str | None = None
    types: list[SessionType] = []        # empty: every type
    results: list[SessionResult] = []    # empty: every result (and running ones)
    running: bool | None = None          # True: only active sessions; False: only ended
    since: datetime | None = None
    until: datetime | None = None
    ids: list[str] = Field(default=[], max_length=1000)   # only these sessions
    before_created: datetime | None = None
    before_id: str | None = None
    limit: int = Field(default=200, ge=1, le=5000)
    count: bool = True                   # also count every session matching


class HistoryPage(BaseModel):
    sessions: list[SessionSummary]
    total: int | None = None             # sessions matching the query (all pages)
    more: bool = False                   # older sessions match too


class PointEntryInfo(BaseModel):
    """One item of a restore point's folder, for browsing it."""

    name: str
    path: str                 # relative to the computer's root
    kind: str                 # "file" | "dir" | "symlink" | "hardlink"
    size: int = 0             # a folder: bytes of every file under it
    files: int = 0            # a folder: files under it
    mtime: datetime | None = None
    target: str | None = None


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
    damaged: str | None = None   # why it cannot be restored in full; None: intact as far as known
    # The id of the backup server (data directory) that wrote it; None when
    # recording a point of this server. Another server's point is "imported":
    # listed and restorable, never removed here (retention, Delete from Disk).
    server: str | None = None
    imported: bool = False


class RepairReport(BaseModel):
    """What ``agent-jobs repair`` did: the repository's index rebuilt from its
    packs, damaged copies dropped; with ``--catalogue`` the catalogue rebuilt
    from the repository's manifests."""

    packs_checked: int = 0
    blobs_ok: int = 0
    blobs_damaged: int = 0
    packs_rewritten: int = 0
    index_files_replaced: int = 0
    points_ok: int = 0
    points_relinked: list[str] = []
    points_damaged: dict[str, str] = {}
    problems: list[str] = []
    catalogue_rebuilt: bool = False
    catalogue_aside: str | None = None
    jobs_kept: list[str] = []
    jobs_lost: int = 0
    points_imported: int = 0


class JobStatus(str, Enum):
    IDLE = "Idle"
    WORKING = "Working"
    PAUSED = "Paused"
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
        return "Backup Copy" if self.definition.is_copy else "Linux Agent Backup"



class AuditEntry(BaseModel):
    """One row of the audit trail: who did what, when, from where, and how it ended.
    ``details`` holds the action's parameters (a stop's mode and deadline, a
    restore's paths and target) and, for changes, ``before`` and ``after``."""

    id: int
    at: datetime
    user: str                   # a user name; "local" is the server's own Unix user
    origin: str                 # "local socket", a client address, "scheduler"
    action: str                 # e.g. "job.edit", "session.stop", "restore"
    target: str = ""            # the job, point, repository or user acted on
    details: dict[str, Any] = {}
    result: str = "done"        # "done", or the message the action was refused with


class AuditCheck(BaseModel):
    """What ``audit verify`` found: every row's hash chains to the one before it and
    the newest row is the one the server last wrote."""

    rows: int
    intact: bool
    problem: str | None = None
    first_bad_id: int | None = None


# -- named users and their roles (issue 23) ---------------------------------------
class Role(str, Enum):
    """The reference console's roles."""

    ADMINISTRATOR = "administrator"          # Backup Administrator: everything
    OPERATOR = "operator"                    # start, stop, retry, active full; sees everything
    RESTORE_OPERATOR = "restore-operator"    # browse and restore (to allowed folders)
    VIEWER = "viewer"                        # sees everything, changes nothing

    @property
    def label(self) -> str:
        return ROLE_TITLES[self]


# the reference console's names for them
ROLE_TITLES = {Role.ADMINISTRATOR: "Backup Administrator", Role.OPERATOR: "Backup Operator",
               Role.RESTORE_OPERATOR: "Restore Operator", Role.VIEWER: "Backup Viewer"}


class Permission(str, Enum):
    """What a REST route needs; each role holds a set of them (``ROLE_PERMISSIONS``)."""

    PUBLIC = "public"                  # logging in
    VIEW = "view"                      # jobs, sessions, points, history, overview, events
    VIEW_INFRASTRUCTURE = "view_infrastructure"   # repositories, settings, audit, metrics
    RUN = "run"                        # start, stop, retry, active full, verify, cancel
    RESTORE = "restore"                # browse a point, restore it
    EDIT_JOBS = "edit_jobs"            # create, edit, delete, enable, clone jobs; delete backups
    MANAGE_INFRASTRUCTURE = "manage_infrastructure"  # repositories, keys, settings, repair
    MANAGE_USERS = "manage_users"      # users and their roles
    MANAGE_SERVER = "manage_server"    # stop the server


PERMISSION_TEXT = {
    Permission.PUBLIC: "log in", Permission.VIEW: "see jobs and sessions",
    Permission.VIEW_INFRASTRUCTURE: "see the backup infrastructure and settings",
    Permission.RUN: "start or stop jobs", Permission.RESTORE: "browse or restore points",
    Permission.EDIT_JOBS: "create, change or delete jobs",
    Permission.MANAGE_INFRASTRUCTURE: "change repositories or server settings",
    Permission.MANAGE_USERS: "manage users", Permission.MANAGE_SERVER: "stop the server",
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMINISTRATOR: frozenset(Permission),
    Role.OPERATOR: frozenset({Permission.PUBLIC, Permission.VIEW,
                              Permission.VIEW_INFRASTRUCTURE, Permission.RUN}),
    Role.RESTORE_OPERATOR: frozenset({Permission.PUBLIC, Permission.VIEW,
                                      Permission.RESTORE}),
    Role.VIEWER: frozenset({Permission.PUBLIC, Permission.VIEW,
                            Permission.VIEW_INFRASTRUCTURE}),
}


class UserInfo(BaseModel):
    """A named user as ``user list --json`` shows it (never its hash or TOTP secret)."""

    name: str
    role: Role
    enabled: bool = True
    totp: bool = False
    restore_to: list[str] = []      # a restore operator's allowed folders
    created: datetime | None = None


class UserChange(BaseModel):
    """``user set``: what changes (left out: stays). ``restore_to`` replaces the list."""

    role: Role | None = None
    password: SecretStr | None = None
    restore_to: list[str] | None = Field(default=None, max_length=1000)
    enabled: bool | None = None


class TotpSetup(BaseModel):
    """A new TOTP secret, shown once: the secret and the provisioning URI (QR code)."""

    secret: str
    uri: str


class Me(BaseModel):
    """Who the request runs as, for the console to grey out what it may not do."""

    user: str
    role: Role
    permissions: list[Permission]
    restore_to: list[str] = []
