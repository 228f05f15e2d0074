"""Home → Overview: the state of the backup server at a glance (Veeam's Home
summary). One answer, :class:`HomeOverview`, built by the server from the
catalogue in a few indexed queries: the last 24 hours' sessions by state, the
latest failures with their reasons, the next scheduled runs and the results of
each of the last days. Repositories' space is :meth:`BackupApi.list_repositories`'s
(it may take seconds for a far S3 bucket, so the console asks for it apart)."""
from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from core.models import SessionType

OVERVIEW_DAYS = 7          # the chart's days, unless asked otherwise
MAX_OVERVIEW_DAYS = 31
OVERVIEW_FAILURES = 5      # the latest failures listed
OVERVIEW_NEXT_RUNS = 5     # the next scheduled runs listed


class LastDayCounts(BaseModel):
    """The Home inventory's Last 24 Hours nodes, counted as they list:
    sessions of every type; Running counts every session still running."""

    running: int = 0
    success: int = 0
    warning: int = 0
    failed: int = 0
    total: int = 0             # every session of the last 24 hours (the node itself)


class FailureInfo(BaseModel):
    """A failed session and why, in the operator's words."""

    session_id: str
    job: str
    type: SessionType = SessionType.BACKUP
    created: datetime
    ended: datetime | None = None
    reason: str


class NextRunInfo(BaseModel):
    job: str
    at: datetime


class DayResults(BaseModel):
    """The sessions that started on one local day, by result."""

    day: date
    success: int = 0
    warning: int = 0
    failed: int = 0
    running: int = 0


class HomeOverview(BaseModel):
    generated: datetime                      # the server's now
    time_zone: str                           # the zone the days are counted in
    last_day: LastDayCounts = LastDayCounts()
    failures: list[FailureInfo] = []         # newest first, within the chart's days
    next_runs: list[NextRunInfo] = []        # soonest first
    days: list[DayResults] = Field(default=[])   # oldest first, today last
    jobs: int = 0
    jobs_disabled: int = 0
