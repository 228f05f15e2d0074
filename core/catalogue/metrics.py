"""What ``GET /metrics`` reads at scrape time: every job's newest finished backup
session with its figures, its newest successful one, and the sessions running.
One SQL query for the jobs (index ``sessions_type_job``), one for the running."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.models import SessionResult, SessionState, SessionType
from core.catalogue.db import CatalogueDB, _dt

BACKUP = SessionType.BACKUP.value
STOPPED = SessionState.STOPPED.value
_GOOD = (SessionResult.SUCCESS.value, SessionResult.WARNING.value)

_FINISHED = ("(SELECT rowid FROM sessions WHERE type=? AND job=j.name AND state=? "
             "ORDER BY created DESC LIMIT 1)")
_SUCCEEDED = ("(SELECT ended FROM sessions WHERE type=? AND job=j.name AND state=? "
              "AND result IN (?,?) ORDER BY created DESC LIMIT 1)")
_TASKS = "(SELECT COALESCE(SUM(json_extract(t.data, '$.{field}')), 0) FROM tasks t " \
         "WHERE t.session_id=f.id)"
_SQL = ("SELECT j.name, f.result, f.created, f.ended, "
        f"{_TASKS.format(field='bytes_read')}, {_TASKS.format(field='bytes_transferred')}, "
        f"{_SUCCEEDED} FROM jobs j LEFT JOIN sessions f ON f.rowid={_FINISHED} "
        "ORDER BY j.name")


@dataclass(frozen=True, slots=True)
class JobMetrics:
    job: str
    last_result: SessionResult | None     # of the newest finished backup session; None: never ran
    last_duration_s: float | None
    last_bytes_read: int                  # read from the computers
    last_bytes_stored: int                # written to the repository (after dedup, compression)
    last_success: datetime | None         # end of the newest session that made points


class MetricsMixin(CatalogueDB):
    def job_metrics(self) -> list[JobMetrics]:
        rows = self._conn().execute(_SQL, (BACKUP, STOPPED, *_GOOD, BACKUP, STOPPED)).fetchall()
        out = []
        for name, result, created, ended, read, stored, succeeded in rows:
            start, end = _dt(created), _dt(ended)
            out.append(JobMetrics(
                job=str(name), last_result=SessionResult(result) if result else None,
                last_duration_s=max(0.0, (end - start).total_seconds())
                if start is not None and end is not None else None,
                last_bytes_read=int(read or 0), last_bytes_stored=int(stored or 0),
                last_success=_dt(succeeded)))
        return out

    def running_session_counts(self) -> dict[SessionType, int]:
        """Sessions not yet stopped, by type (every type present, 0 when none runs)."""
        counts = {kind: 0 for kind in SessionType}
        for kind, n in self._conn().execute(
                "SELECT type, COUNT(*) FROM sessions WHERE state!=? GROUP BY type", (STOPPED,)):
            counts[SessionType(kind)] = int(n)
        return counts
