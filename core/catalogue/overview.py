"""The jobs list in one query: every job's definition, its newest backup
session and its newest finished one (index ``sessions_type_job``: one seek per
job, whatever the number of sessions). Parsed definitions are cached by their
stored text, so 2,000 unchanged jobs are not validated again at every call."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.models import JobDefinition, SessionResult, SessionState, SessionType
from core.catalogue.db import CatalogueDB, _dt

BACKUP = SessionType.BACKUP.value
STOPPED = SessionState.STOPPED.value
_CACHE_LIMIT = 20_000   # definitions kept; the cache is cleared past this


@dataclass(frozen=True, slots=True)
class LatestSession:
    id: str
    state: SessionState
    result: SessionResult | None
    created: datetime
    progress: int


@dataclass(frozen=True, slots=True)
class JobRow:
    definition: JobDefinition
    latest: LatestSession | None      # the newest backup session, running or not
    finished: LatestSession | None    # the newest finished backup session


# A backup copy job's own sessions are of type Copy: the type is the job's, so the
# lookup stays one equality seek on the index.
_TYPE = (f"(CASE WHEN json_extract(j.definition, '$.kind')='backup_copy' "
         f"THEN '{SessionType.COPY.value}' ELSE ? END)")
_LATEST = (f"(SELECT rowid FROM sessions WHERE type={_TYPE} AND job=j.name "
           "ORDER BY created DESC LIMIT 1)")
_FINISHED = (f"(SELECT rowid FROM sessions WHERE type={_TYPE} AND job=j.name AND state=? "
             "ORDER BY created DESC LIMIT 1)")
_SQL = ("SELECT j.definition, "
        "l.id, l.state, l.result, l.created, l.progress, "
        "f.id, f.state, f.result, f.created, f.progress "
        f"FROM jobs j LEFT JOIN sessions l ON l.rowid={_LATEST} "
        f"LEFT JOIN sessions f ON f.rowid={_FINISHED}")


def _session(row: Sequence[object], at: int) -> LatestSession | None:
    if row[at] is None:
        return None
    result = row[at + 2]
    created = _dt(row[at + 3])  # type: ignore[arg-type]
    assert created is not None
    return LatestSession(id=str(row[at]), state=SessionState(row[at + 1]),
                         result=SessionResult(result) if result else None,
                         created=created, progress=int(row[at + 4]))  # type: ignore[call-overload]


class OverviewMixin(CatalogueDB):
    def _definition(self, text: str) -> JobDefinition:
        # JobDefinition is frozen: sharing one parsed object is safe.
        cache: dict[str, JobDefinition] = self.__dict__.setdefault("_definitions", {})
        found = cache.get(text)
        if found is None:
            found = JobDefinition.model_validate_json(text)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[text] = found
        return found

    def job_rows(self, names: Sequence[str] | None = None) -> list[JobRow]:
        """Every job (or those named, case-insensitively), ordered by name,
        with its newest and newest finished backup session. One SQL query."""
        sql, args = _SQL, [BACKUP, BACKUP, STOPPED]
        if names is not None:
            if not names:
                return []
            sql += f" WHERE j.name IN ({','.join('?' * len(names))})"
            args += list(names)
        rows = self._conn().execute(sql + " ORDER BY j.name", args).fetchall()
        return [JobRow(self._definition(r[0]), _session(r, 1), _session(r, 6)) for r in rows]
