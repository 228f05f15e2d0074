"""What Home → Overview counts: sessions by state and result over a time
range, and the latest failed ones (indexes ``sessions_created`` and
``sessions_result``: a few seeks whatever the number of sessions)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.models import JobDefinition, SessionInfo, SessionResult, SessionState
from core.catalogue.overview import OverviewMixin
from core.catalogue.sessions import SessionsMixin, _utc

STOPPED = SessionState.STOPPED.value
FAILED = SessionResult.FAILED.value


class HomeMixin(OverviewMixin, SessionsMixin):
    def job_definitions(self) -> list[JobDefinition]:
        """Every job, by name; unchanged definitions are not parsed again."""
        rows = self._conn().execute("SELECT definition FROM jobs ORDER BY name").fetchall()
        return [self._definition(r[0]) for r in rows]

    def running_count(self) -> int:
        """Sessions of every type not yet stopped."""
        return int(self._conn().execute("SELECT COUNT(*) FROM sessions WHERE state!=?",
                                        (STOPPED,)).fetchone()[0])

    def results_between(self, starts: Sequence[datetime]) -> list[dict[str, int]]:
        """For each range ``[starts[i], starts[i+1])``: the sessions created in
        it by result (``"Success"``, ``"Warning"``, ``"Failed"``), those still
        running under ``"running"`` and all of them under ``"total"``."""
        if len(starts) < 2:
            return []
        bounds = [_utc(s) for s in starts]
        # counted by SQLite, not row by row here: a week of 2,000 hourly jobs is 336,000 rows
        bucket = "CASE " + " ".join(f"WHEN created<? THEN {i}" for i in range(len(bounds) - 1)) \
            + " END"
        rows = self._conn().execute(
            f"SELECT {bucket} AS b, CASE WHEN state!=? THEN 'running' ELSE result END AS k, "
            "COUNT(*) FROM sessions WHERE created>=? AND created<? GROUP BY b, k",
            (*bounds[1:], STOPPED, bounds[0], bounds[-1])).fetchall()
        counts: list[dict[str, int]] = [{} for _ in range(len(bounds) - 1)]
        for at, key, count in rows:
            if at is None:
                continue
            day = counts[int(at)]
            day[str(key or "")] = day.get(str(key or ""), 0) + int(count)
            day["total"] = day.get("total", 0) + int(count)
        return counts

    def failed_sessions(self, since: datetime, limit: int) -> list[SessionInfo]:
        """The newest failed sessions created since ``since``, with their tasks."""
        rows = self._conn().execute(
            "SELECT * FROM sessions WHERE result=? AND created>=? "
            "ORDER BY created DESC, id DESC LIMIT ?", (FAILED, _utc(since), limit)).fetchall()
        return [self._session_from_row(r) for r in rows]

