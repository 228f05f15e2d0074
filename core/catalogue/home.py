"""What Home → Overview counts: sessions by state and result over a time
range, and the latest failed ones (indexes ``sessions_created`` and
``sessions_result``: a few seeks whatever the number of sessions)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.models import SessionInfo, SessionResult, SessionState
from core.catalogue.sessions import SessionsMixin, _utc

STOPPED = SessionState.STOPPED.value
FAILED = SessionResult.FAILED.value


class HomeMixin(SessionsMixin):
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
        rows = self._conn().execute(
            "SELECT created, state, result FROM sessions WHERE created>=? AND created<?",
            (bounds[0], bounds[-1])).fetchall()
        counts: list[dict[str, int]] = [{} for _ in range(len(bounds) - 1)]
        for created, state, result in rows:
            at = _bucket(bounds, created)
            if at is None:
                continue
            key = "running" if state != STOPPED else (result or "")
            counts[at][key] = counts[at].get(key, 0) + 1
            counts[at]["total"] = counts[at].get("total", 0) + 1
        return counts

    def failed_sessions(self, since: datetime, limit: int) -> list[SessionInfo]:
        """The newest failed sessions created since ``since``, with their tasks."""
        rows = self._conn().execute(
            "SELECT * FROM sessions WHERE result=? AND created>=? "
            "ORDER BY created DESC, id DESC LIMIT ?", (FAILED, _utc(since), limit)).fetchall()
        return [self._session_from_row(r) for r in rows]


def _bucket(bounds: list[str | None], created: str) -> int | None:
    """The range a stored time falls in (UTC ISO text: text order is time order)."""
    for i in range(len(bounds) - 1):
        low, high = bounds[i], bounds[i + 1]
        if low is not None and high is not None and low <= created < high:
            return i
    return None
