"""Home → Overview, built from the catalogue: the last 24 hours by state,
the latest failures and why, the next scheduled runs, and each day's results.

Shared by the backup server (:class:`~core.service.facade.BackupService`) and
the read-only data directory (:class:`~core.service.offline.ReadOnlyService`)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import tz as dateutil_tz

from core.api import stopped_text
from core.api.overview import (
    MAX_OVERVIEW_DAYS, OVERVIEW_FAILURES, OVERVIEW_NEXT_RUNS, DayResults, FailureInfo,
    HomeOverview, LastDayCounts, NextRunInfo,
)
from core.catalogue import Catalogue
from core.errors import InvalidInput
from core.models import JobDefinition, SessionInfo, SessionResult, TaskStatus

LAST_DAY = timedelta(hours=24)
NextRun = Callable[[JobDefinition], "datetime | None"]
_FAILED_PREFIX = "Failed: "


def time_zone(name: str | None) -> tuple[tzinfo, str]:
    """The zone days are counted in: an IANA name (``Europe/Paris``, ``UTC``),
    or the server's own zone when None."""
    if name is None or not name.strip():
        return dateutil_tz.tzlocal(), "local"
    try:
        return ZoneInfo(name.strip()), name.strip()
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise InvalidInput(f"Unknown time zone '{name}': give an IANA name such as "
                           "Europe/Paris or UTC, or none for the server's own.") from exc


def failure_reason(session: SessionInfo) -> str:
    """Why a session failed, in one line: who stopped it, the error of a
    restore or verify, or the first failed computer's error."""
    stopped = stopped_text(session)
    if stopped:
        return stopped
    if session.operation is not None and session.operation.error:
        return session.operation.error
    failed = [t for t in session.tasks if t.status is TaskStatus.FAILED]
    for task in failed:
        errors = [i.text for i in task.log if i.level == "error"]
        if errors:
            text = errors[-1].removeprefix(_FAILED_PREFIX)
            if task.computer not in text:
                text = f"{task.computer}: {text}"
            more = len(failed) - 1
            return text + (f" (and {more} more computer{'s' if more > 1 else ''})"
                           if more else "")
    errors = [i.text for i in session.log if i.level == "error"]
    if errors:
        return errors[-1]
    if failed:
        return f"{len(failed)} computer(s) failed: " + ", ".join(t.computer for t in failed)
    return "No reason was recorded."


def build_overview(catalogue: Catalogue, now: datetime, *, days: int, zone_name: str | None,
                   next_run: NextRun) -> HomeOverview:
    if not 1 <= days <= MAX_OVERVIEW_DAYS:
        raise InvalidInput(f"The overview counts 1 to {MAX_OVERVIEW_DAYS} days, not {days}.")
    zone, zone_label = time_zone(zone_name)
    today = now.astimezone(zone).date()
    dates = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    starts = [datetime.combine(d, time(0), tzinfo=zone) for d in dates]
    starts.append(datetime.combine(today + timedelta(days=1), time(0), tzinfo=zone))
    per_day = catalogue.results_between(starts)
    chart = [DayResults(day=d, success=c.get(SessionResult.SUCCESS.value, 0),
                        warning=c.get(SessionResult.WARNING.value, 0),
                        failed=c.get(SessionResult.FAILED.value, 0),
                        running=c.get("running", 0))
             for d, c in zip(dates, per_day)]
    [last] = catalogue.results_between([now - LAST_DAY, now + LAST_DAY])
    counts = LastDayCounts(running=catalogue.running_count(),
                           success=last.get(SessionResult.SUCCESS.value, 0),
                           warning=last.get(SessionResult.WARNING.value, 0),
                           failed=last.get(SessionResult.FAILED.value, 0),
                           total=last.get("total", 0))
    failures = [FailureInfo(session_id=s.id, job=s.job, type=s.type, created=s.created,
                            ended=s.ended, reason=failure_reason(s))
                for s in catalogue.failed_sessions(starts[0], OVERVIEW_FAILURES)]
    jobs = catalogue.job_definitions()
    upcoming = []
    for job in jobs:
        at = next_run(job) if job.enabled else None
        if at is not None:
            upcoming.append(NextRunInfo(job=job.name, at=at))
    upcoming.sort(key=lambda n: (n.at, n.job.casefold()))
    return HomeOverview(generated=now, time_zone=zone_label, last_day=counts,
                        failures=failures, next_runs=upcoming[:OVERVIEW_NEXT_RUNS], days=chart,
                        jobs=len(jobs), jobs_disabled=sum(1 for j in jobs if not j.enabled))
