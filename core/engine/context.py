"""What every part of a backup session shares: the engine's context (the catalogue, events,
hooks and repositories it works with), a task's live counters (:class:`TaskRun`), what a task
asks of its session (:class:`TaskSession`), and how the engine's log lines say a size."""
from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from core.catalogue import Catalogue
from core.engine.hold import HoldGate
from core.engine.hooks import EngineHooks
from core.events import EventBus
from core.models import (
    Computer, JobDefinition, LogItem, PointType, SessionInfo, TaskInfo, TaskStatus, utcnow,
)
from core.repository import BackupWriter, Repository
from core.repository.model import Entry, PartialFile


@dataclass(slots=True)
class TaskRun:
    """A task's live counters, mutated in the hot loop (a plain dataclass)."""

    computer: Computer
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
    reading_since: datetime | None = None   # the first block read: the rate counts from here
    log: list[LogItem] = field(default_factory=list)
    point_type: PointType | None = None
    points_copied: int = 0     # a copy task: source points committed into the target
    # Where the task thread spends its time (the bottleneck), in seconds; see stages().
    source_s: float = 0.0      # scanning, opening and reading the computer's files
    throttle_s: float = 0.0    # waiting on the job's read rate limit
    production_s: float = 0.0  # yielding to production: held or slowed by the computer's pressure
    production_why: str = ""   # why it held ("io pressure 43 % > 20 %")
    writer_s: float = 0.0      # inside the writer between blocks: hashing, or waiting on its pool
    commit_s: float = 0.0      # flushing packs and index, writing the manifest
    loop_wait_s: float | None = None   # the writer's pool wait when the last block was added
    # (seconds since the session was created, bytes processed): see SessionRunner._sample
    rate_samples: list[tuple[float, int]] = field(default_factory=list)
    # the BackupWriter while there is one, then its figures
    writer: BackupWriter | WriterFigures | None = field(default=None, repr=False)
    # set when this computer is cancelled: by an immediate stop (every task's), or alone
    # (a graceful stop only for computers past their RPO cancels the others)
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def note(self, text: str, level: str = "info") -> None:
        self.log.append(LogItem(time=utcnow(), level=level, text=text))
        if level == "warning":
            self.warnings += 1

    @property
    def fraction(self) -> float:
        if self.status.is_final:
            return 1.0
        if self.status is TaskStatus.PENDING:
            return 0.0
        if self.bytes_total:
            return min(1.0, self.bytes_processed / self.bytes_total)
        return self.files_done / self.files_total if self.files_total else 0.0

    def stages(self) -> tuple[float, float, float, float, int]:
        """(source, cpu, target, throttling) seconds and the new blocks' raw bytes.

        The task thread reads (Source), waits on the throttle (Throttling),
        hashes inside the writer (CPU) or waits there on the writer's pool,
        and flushes and commits (Target). The pool's wait is split between CPU
        and Target by the pool's own compress and write times."""
        writer = self.writer
        if writer is None:
            return self.source_s, 0.0, self.commit_s, self.throttle_s, 0
        wait = writer.wait_s if self.loop_wait_s is None else self.loop_wait_s
        encode, write = writer.encode_s, writer.write_s
        share = encode / (encode + write) if encode + write > 0 else 0.5
        hashing = max(0.0, self.writer_s - wait)
        return (self.source_s, hashing + wait * share, wait * (1 - share) + self.commit_s,
                self.throttle_s, writer.raw_bytes_new)

    def info(self) -> TaskInfo:
        source, cpu, target, throttle, raw = self.stages()
        return TaskInfo(
            computer=self.computer.name, status=self.status, started=self.started,
            ended=self.ended, bytes_processed=self.bytes_processed, bytes_read=self.bytes_read,
            bytes_transferred=self.bytes_transferred, files_total=self.files_total,
            files_done=self.files_done, bytes_total=self.bytes_total, warnings=self.warnings,
            point_id=self.point_id, reading_since=self.reading_since, log=list(self.log),
            point_type=self.point_type, bytes_stored_raw=raw, source_s=source, cpu_s=cpu,
            target_s=target, throttle_s=throttle, production_s=self.production_s,
            production_why=self.production_why, points_copied=self.points_copied,
            rate_samples=list(self.rate_samples))


@dataclass(frozen=True, slots=True)
class WriterFigures:
    """A finished writer's timing figures (see TaskRun.stages)."""

    wait_s: float
    encode_s: float
    write_s: float
    raw_bytes_new: int


@dataclass
class EngineContext:
    catalogue: Catalogue
    events: EventBus
    hooks: EngineHooks
    repository: Callable[[str], Repository]   # repository name -> open repository
    repository_name: Callable[[str], str]      # normalises a job's repository field
    data_dir: Path | None = None   # default: the catalogue's folder (SSH known_hosts live there)
    # The server's maintenance window in words, or None: with one, retention's
    # prune waits for the window instead of running at the session's end.
    maintenance_window: Callable[[], str | None] = field(default=lambda: None)
    clock: Callable[[], datetime] = utcnow   # the server's clock: when a point is created

    def data_folder(self) -> Path | None:
        if self.data_dir is not None:
            return self.data_dir
        path = getattr(self.catalogue, "path", None)
        return Path(path).parent if path is not None else None

def log_size(n: float) -> str:
    """A size as the engine's log lines say it: 512 B, 1.5 KB, 2.0 GB, and never more than
    GB (1 TiB reads "1024.0 GB"). Not ``core.api.text.size_text``, which says TB from 1 TiB
    on and truncates a fraction of a byte where this rounds: the session logs keep their words."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def os_error_text(exc: OSError) -> str:
    """Why a task failed on an OSError, in the session log's words (a full disk says so)."""
    where = exc.filename or "unknown file"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"The disk is full: {exc.strerror} ({where})"
    return f"{exc.strerror or exc} ({where})"


def fail_task(runner: TaskSession, task: TaskRun, message: str) -> None:
    """Mark ``task`` Failed now, with ``message`` in its log (under the session's lock)."""
    with runner.lock:
        task.status = TaskStatus.FAILED
        task.ended = utcnow()
        task.note(f"Failed: {message}", "error")


class TaskSession(Protocol):
    """What a task asks of the session it runs in (a :class:`core.engine.session.SessionRunner`)."""

    ctx: EngineContext
    job: JobDefinition
    session: SessionInfo
    #: taken for a task's final step (the commit) and a stop decision, and to change a task's status
    lock: threading.RLock
    #: set when the session is stopped immediately
    cancel_event: threading.Event
    #: Pause and Resume: checked at every block boundary
    hold: HoldGate
    #: computer -> the files it had completed when a restart found it paused
    resume_entries: dict[str, list[Entry]]
    #: computer -> the file it was in the middle of then
    resume_partial: dict[str, PartialFile]

    def points_forgotten(self) -> None:
        """Retention removed points: the session reclaims their space at its end."""

    def paused_progress(self, task: TaskRun, files: list[Entry],
                        partial: PartialFile | None = None) -> None:
        """A task held by a pause made ``files`` (and the blocks of ``partial``, the file
        it is in the middle of) durable: recorded so that a resume after a restart of the
        server reads none of them again."""

    def fits_after_scan(self, task: TaskRun) -> bool:
        """After ``task``'s scan: False when its backup window closes before the
        computer can be read at its usual rate (the session has marked it Skipped)."""
