"""Text for the operator: statuses, dates, sizes, durations, rates."""
from __future__ import annotations

from datetime import datetime

from core.api import size_text
from core.models import JobInfo, JobStatus, SessionType

# The sessions a job runs: a backup job's Backup sessions, a backup copy job's Copy
# sessions. They are started, stopped and followed alike (Restore, Verify and
# Maintenance sessions are cancelled instead).
JOB_SESSIONS = (SessionType.BACKUP, SessionType.COPY)

NOT_SCHEDULED = "<not scheduled>"
DISABLED_SCHEDULE = "<Disabled>"


def status_text(job: JobInfo) -> str:
    if job.status is JobStatus.WORKING:
        return f"Working {job.progress}%"
    return str(job.status.value)   # str(): mypy types .value of a narrowed enum as Any


def datetime_text(value: datetime | None, *, seconds: bool = False) -> str:
    if value is None:
        return ""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def next_run_text(job: JobInfo) -> str:
    if job.next_run is None:
        return NOT_SCHEDULED
    if job.status is JobStatus.DISABLED:
        return DISABLED_SCHEDULE
    return datetime_text(job.next_run)


bytes_text = size_text   # one way to print sizes, the CLI's and the console's


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def rate_text(nbytes: int, seconds: float | None) -> str:
    if not seconds or seconds <= 0:
        return ""
    return f"{bytes_text(nbytes / seconds)}/s"


def one_line(text: str, limit: int = 200) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def job_text(job: str) -> str:
    """A session's job; a verify of every backup has none."""
    return job or "All backups"


def ratio_text(value: float | None) -> str:
    return f"{value:.1f}x" if value else "—"
