"""Filtering of the jobs list (inventory node, search text and the quick
filters by state), and the
view's sort, which the proxy hands to the jobs model (see ``jobs_model``).

``filterAcceptsRow`` runs once per row at every filter change: it reads the
model's rows directly and matches a cached, case-folded text per job."""
from __future__ import annotations

from datetime import datetime, timezone
from collections.abc import Callable, Iterable
from enum import Enum

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt

from core.models import JobInfo, SessionResult

from gui.jobs.action_state import is_running
from gui.jobs.jobs_model import JOB_ROLE, SORT_ROLE, JobsTableModel
from gui.widgets.scope import LAST_DAY, JobScope
from gui.widgets.search_box import SearchProxy

Clock = Callable[[], datetime]

_RESULT_SCOPES: dict[JobScope, SessionResult] = {
    JobScope.SUCCESS: SessionResult.SUCCESS,
    JobScope.WARNING: SessionResult.WARNING,
    JobScope.FAILED: SessionResult.FAILED,
}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class QuickFilter(Enum):
    """The buttons above the jobs list: show only jobs in one of these states."""

    RUNNING = "Running"
    FAILED = "Failed"
    WARNING = "Warning"
    DISABLED = "Disabled"


def in_state(job: JobInfo, wanted: QuickFilter) -> bool:
    if wanted is QuickFilter.RUNNING:
        return is_running(job)
    if wanted is QuickFilter.DISABLED:
        return not job.definition.enabled
    if wanted is QuickFilter.FAILED:
        return job.last_result is SessionResult.FAILED
    return job.last_result is SessionResult.WARNING
_ALL_SCOPES = frozenset({JobScope.OVERVIEW, JobScope.ALL, JobScope.LAST_DAY, JobScope.BACKUPS})


def in_scope(job: JobInfo, scope: JobScope, now: datetime) -> bool:
    if scope in _ALL_SCOPES:
        return True
    if scope is JobScope.BACKUP:        # agent backup jobs
        return not job.definition.is_copy
    if scope is JobScope.BACKUP_COPY:   # backup copy jobs
        return job.definition.is_copy
    if scope is JobScope.RUNNING:
        return is_running(job)
    wanted = _RESULT_SCOPES[scope]
    return (job.last_result is wanted and job.last_run is not None
            and now - job.last_run <= LAST_DAY)


class JobsFilterProxy(SearchProxy):
    def __init__(self, parent: QObject | None = None, *, clock: Clock = _utcnow) -> None:
        super().__init__(parent)
        self._scope = JobScope.ALL
        self._states: frozenset[QuickFilter] = frozenset()
        self._clock = clock
        self._jobs_model: JobsTableModel | None = None
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def setSourceModel(self, model: object) -> None:  # noqa: N802
        self._jobs_model = model if isinstance(model, JobsTableModel) else None
        super().setSourceModel(model)  # type: ignore[arg-type]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """The jobs model sorts its own rows (one key per row, Python's sort);
        the proxy keeps their order. Another source model: the proxy sorts."""
        if self._jobs_model is None:
            super().sort(column, order)
            return
        self._jobs_model.sort(column, order)

    @property
    def accepts_all(self) -> bool:
        """Whether every row shows, in the model's order (proxy row = source row)."""
        return (self._jobs_model is not None and not self._search and not self._states
                and self._scope in _ALL_SCOPES)

    @property
    def scope(self) -> JobScope:
        return self._scope

    def set_scope(self, scope: JobScope) -> None:
        if scope is not self._scope:
            self._change_filter(lambda: setattr(self, "_scope", scope))

    @property
    def states(self) -> frozenset[QuickFilter]:
        return self._states

    def set_states(self, states: Iterable[QuickFilter]) -> None:
        """Show only jobs in one of ``states`` (none: every job)."""
        wanted = frozenset(states)
        if wanted != self._states:
            self._change_filter(lambda: setattr(self, "_states", wanted))

    def _state_ok(self, job: JobInfo) -> bool:
        return not self._states or any(in_state(job, s) for s in self._states)

    def filterAcceptsRow(self, source_row: int,
                         source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self._jobs_model
        if model is not None:
            if self._search and self._search not in model.search_text(source_row):
                return False
            if self._states and not self._state_ok(model.job_at(source_row)):
                return False
            if self._scope in _ALL_SCOPES:
                return True
            return in_scope(model.job_at(source_row), self._scope, self._clock())
        index = self.sourceModel().index(source_row, 0, source_parent)
        job = index.data(JOB_ROLE)
        if not isinstance(job, JobInfo):
            return False
        if self._search and not self._matches(job):
            return False
        if not self._state_ok(job):
            return False
        return in_scope(job, self._scope, self._clock())

    def _matches(self, job: JobInfo) -> bool:
        haystack = [job.name, job.definition.description, job.definition.repository,
                    job.definition.copy_source or ""]
        haystack += [c.name for c in job.definition.computers]
        return any(self._search in text.casefold() for text in haystack)
