"""The jobs list: one row per job, updated in place so selection survives.

Built for thousands of jobs with hundreds running:

* ``data()`` is the hot path (the view asks for every visible cell and role at
  each paint): a row's texts are computed once per change of its job and kept;
  roles the list does not use return at once.
* Changes are applied in batches: one ``dataChanged`` per run of neighbouring
  rows (not one per row, never a reset), then one ``updated``.
* The model sorts itself (``sort``), with Python's sort on one key per row: a
  ``QSortFilterProxyModel`` sort calls ``data()`` twice per comparison, about
  45,000 Python calls for 2,000 rows. The proxy only filters.
"""
from __future__ import annotations

from enum import IntEnum
from typing import Any
from collections.abc import Iterable, Mapping, Sequence

from PySide6.QtCore import (
    QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal,
)
from PySide6.QtGui import QColor, QIcon

from core.models import JobInfo, JobStatus, SessionResult

from gui.widgets.formatting import datetime_text, next_run_text, status_text
from gui.widgets.resources import icon

JOB_ROLE = Qt.ItemDataRole.UserRole + 1     # the row's JobInfo
SORT_ROLE = Qt.ItemDataRole.UserRole + 2    # a value that sorts naturally

Index = QModelIndex | QPersistentModelIndex
DISABLED_TEXT = "#8A9396"
# Changed rows closer than this are announced in one dataChanged (fewer signals,
# at the cost of a few unchanged rows checked again by the proxy).
MERGE_GAP = 8

_DISPLAY = Qt.ItemDataRole.DisplayRole.value
_DECORATION = Qt.ItemDataRole.DecorationRole.value
_TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
_FOREGROUND = Qt.ItemDataRole.ForegroundRole.value
_JOB = JOB_ROLE.value if hasattr(JOB_ROLE, "value") else int(JOB_ROLE)
_SORT = SORT_ROLE.value if hasattr(SORT_ROLE, "value") else int(SORT_ROLE)


class Column(IntEnum):
    NAME = 0
    TYPE = 1
    OBJECTS = 2
    STATUS = 3
    LAST_RUN = 4
    LAST_RESULT = 5
    NEXT_RUN = 6
    TARGET = 7
    DESCRIPTION = 8


HEADERS: dict[Column, str] = {
    Column.NAME: "Name",
    Column.TYPE: "Type",
    Column.OBJECTS: "Objects",
    Column.STATUS: "Status",
    Column.LAST_RUN: "Last Run",
    Column.LAST_RESULT: "Last Result",
    Column.NEXT_RUN: "Next Run",
    Column.TARGET: "Target",
    Column.DESCRIPTION: "Description",
}
_COLUMNS = tuple(Column)
_COLUMN_COUNT = len(Column)
_LAST_COLUMN = _COLUMN_COUNT - 1

_RESULT_ICONS: dict[SessionResult, str] = {
    SessionResult.SUCCESS: "success",
    SessionResult.WARNING: "warning",
    SessionResult.FAILED: "failed",
}
_RUNNING = (JobStatus.WORKING, JobStatus.PAUSED, JobStatus.STOPPING)
_STATUS_ORDER = {JobStatus.WORKING: 0, JobStatus.PAUSED: 1, JobStatus.STOPPING: 1,
                 JobStatus.IDLE: 2,
                 JobStatus.DISABLED: 3}


def display_text(job: JobInfo, column: Column) -> str:
    if column is Column.NAME:
        return job.name
    if column is Column.TYPE:
        return job.type_label
    if column is Column.OBJECTS:
        return "1 job" if job.definition.is_copy else str(len(job.definition.computers))
    if column is Column.STATUS:
        return status_text(job)
    if column is Column.LAST_RUN:
        return datetime_text(job.last_run)
    if column is Column.LAST_RESULT:
        return job.last_result.value if job.last_result else ""
    if column is Column.NEXT_RUN:
        return next_run_text(job)
    if column is Column.TARGET:
        return job.definition.repository
    return job.definition.description


def sort_key(job: JobInfo, column: Column) -> Any:
    if column is Column.OBJECTS:
        return -1 if job.definition.is_copy else len(job.definition.computers)
    if column is Column.STATUS:
        return _STATUS_ORDER[job.status] * 1000 - job.progress
    if column is Column.LAST_RUN:
        return job.last_run.timestamp() if job.last_run else 0.0
    if column is Column.NEXT_RUN:
        return job.next_run.timestamp() if job.next_run else float("inf")
    return display_text(job, column).casefold()


def search_text(job: JobInfo) -> str:
    """What the search box looks in: name, description, target and computers."""
    parts = [job.name, job.definition.description, job.definition.repository,
             job.definition.copy_source or ""]
    parts += [c.name for c in job.definition.computers]
    return "\n".join(parts).casefold()


def _same(a: JobInfo, b: JobInfo) -> bool:
    """``a == b``, the live fields first: the definition's deep comparison is
    most of the cost, and a running job's status differs before it."""
    return (a.status is b.status and a.progress == b.progress and a.last_run == b.last_run
            and a.last_result is b.last_result and a.next_run == b.next_run
            and a.active_session_id == b.active_session_id and a == b)


class _Row:
    """A job and what the list derives from it, computed when first asked for."""

    __slots__ = ("job", "texts", "haystack")

    def __init__(self, job: JobInfo) -> None:
        self.job = job
        self.texts: tuple[str, ...] | None = None
        self.haystack: str | None = None

    def text(self, column: int) -> str:
        texts = self.texts
        if texts is None:
            texts = self.texts = tuple(display_text(self.job, c) for c in _COLUMNS)
        return texts[column]


def runs(rows: Iterable[int], gap: int = MERGE_GAP) -> list[tuple[int, int]]:
    """Sorted row numbers as (first, last) runs; rows up to ``gap`` apart join a run."""
    found: list[tuple[int, int]] = []
    for row in sorted(rows):
        if found and row - found[-1][1] <= gap:
            found[-1] = (found[-1][0], row)
        else:
            found.append((row, row))
    return found


class JobsTableModel(QAbstractTableModel):
    updated = Signal()   # once after each batch of changed rows (after its dataChanged)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._row_of: dict[str, int] = {}
        self._stop_requested: dict[str, str | None] = {}   # job -> session being stopped
        self._sort: tuple[Column, Qt.SortOrder] | None = None
        self._disabled = QColor(DISABLED_TEXT)
        self._job_icon: QIcon | None = None
        self.sorts = 0          # times the row order changed (sort or re-sort)
        self.roster = 0         # times the set of jobs changed (rows added or removed)

    # -- reading ----------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else _COLUMN_COUNT   # Qt asks at every index()

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        row = index.row()
        if row < 0 or row >= len(self._rows):
            return None
        r = self._rows[row]
        if role == _DISPLAY:
            return r.text(index.column())
        if role == _DECORATION:
            column = index.column()
            if column == Column.NAME:
                if r.job.definition.is_copy:
                    return icon("backup_copy")
                if self._job_icon is None:
                    self._job_icon = icon("job")
                return self._job_icon
            if column == Column.LAST_RESULT and r.job.last_result is not None:
                return icon(_RESULT_ICONS[r.job.last_result])
            return None
        if role == _FOREGROUND:
            return self._disabled if r.job.status is JobStatus.DISABLED else None
        if role == _TOOLTIP:
            column = index.column()
            if column == Column.NAME:
                if r.job.definition.is_copy:
                    return (f"{r.job.name}\nBackup copy of the job "
                            f"'{r.job.definition.copy_source}'")
                names = ", ".join(c.name for c in r.job.definition.computers)
                return f"{r.job.name}\nComputers: {names}"
            return r.text(column) or None
        if role == _JOB:
            return r.job
        if role == _SORT:
            return sort_key(r.job, Column(index.column()))
        return None

    def job_at(self, row: int) -> JobInfo:
        return self._rows[row].job

    def jobs(self) -> list[JobInfo]:
        return [r.job for r in self._rows]

    def row_of(self, name: str) -> int | None:
        return self._row_of.get(name)

    def running_count(self) -> int:
        return sum(1 for r in self._rows if r.job.status in _RUNNING)

    def search_text(self, row: int) -> str:
        r = self._rows[row]
        if r.haystack is None:
            r.haystack = search_text(r.job)
        return r.haystack

    # -- sorting (the proxy forwards the view's sort here) -------------------------
    @property
    def sort_order(self) -> tuple[Column, Qt.SortOrder] | None:
        return self._sort

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (Column(column), order) if 0 <= column < len(Column) else None
        self._resort()

    def _resort(self) -> bool:
        """Put the rows in the sort order; True if any moved."""
        if self._sort is None or len(self._rows) < 2:
            return False
        column, order = self._sort
        keys = [(sort_key(r.job, column), r.job.name.casefold()) for r in self._rows]
        wanted = sorted(range(len(keys)), key=keys.__getitem__,
                        reverse=order is Qt.SortOrder.DescendingOrder)
        if all(old == new for new, old in enumerate(wanted)):
            return False
        self.layoutAboutToBeChanged.emit()
        moved_to = [0] * len(wanted)
        for new, old in enumerate(wanted):
            moved_to[old] = new
        self._rows = [self._rows[old] for old in wanted]
        self._reindex()
        before = self.persistentIndexList()
        self.changePersistentIndexList(
            before, [self.index(moved_to[i.row()], i.column()) for i in before])
        self.layoutChanged.emit()
        self.sorts += 1
        return True

    def _reindex(self) -> None:
        self._row_of = {r.job.name: i for i, r in enumerate(self._rows)}

    # -- updating in place ------------------------------------------------------
    def mark_stopping(self, names: Sequence[str]) -> None:
        """Show Stopping at once after a stop request, until the service
        reports the session stopping or ended (no flicker back to Working)."""
        for name in names:
            row = self.row_of(name)
            if row is None:
                continue
            self._stop_requested[name] = self._rows[row].job.active_session_id
        self.merge_jobs([self._rows[row].job for row in map(self.row_of, names)
                         if row is not None])

    def _with_pending_stop(self, job: JobInfo) -> JobInfo:
        if job.name not in self._stop_requested:
            return job
        session = self._stop_requested[job.name]
        if job.status in (JobStatus.WORKING, JobStatus.PAUSED) and \
                job.active_session_id == session:
            return job.model_copy(update={"status": JobStatus.STOPPING})
        if job.status is not JobStatus.STOPPING or job.active_session_id != session:
            del self._stop_requested[job.name]
        return job

    def _announce(self, rows: Iterable[int], first_column: int = 0,
                  last_column: int = _LAST_COLUMN, roles: Sequence[int] = ()) -> None:
        spans = runs(rows)
        for first, last in spans:
            self.dataChanged.emit(self.index(first, first_column),
                                  self.index(last, last_column), list(roles))
        if spans:
            self.updated.emit()

    def set_jobs(self, jobs: Sequence[JobInfo]) -> None:
        """Apply a fresh list: change rows in place (dataChanged), remove the
        jobs that are gone, add the new ones (in sort order). Never a reset."""
        fresh = {job.name: job for job in jobs}
        gone = [row for row, r in enumerate(self._rows) if r.job.name not in fresh]
        for first, last in reversed(runs(gone, gap=1)):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._rows[first:last + 1]
            self.endRemoveRows()
        if gone:
            self._reindex()
            self.roster += 1
        known = self._row_of
        added = [self._with_pending_stop(job) for job in jobs if job.name not in known]
        moved = self._replace(job for job in jobs if job.name in known)
        if added:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self._rows.extend(_Row(job) for job in added)
            self._reindex()
            self.endInsertRows()
            self.roster += 1
        if moved or added:
            self._resort()

    def merge_jobs(self, jobs: Iterable[JobInfo]) -> None:
        """Fresh copies of some of the listed jobs (others are ignored): only
        their rows are compared, replaced and announced, so a partial refresh
        costs its few jobs, not the whole list."""
        if self._replace(job for job in jobs if job.name in self._row_of):
            self._resort()

    def _replace(self, jobs: Iterable[JobInfo]) -> bool:
        """Put the listed jobs that changed in their rows and announce them (one
        batch); True if a changed row's sort key changed (the order may be off)."""
        column = self._sort[0] if self._sort is not None else None
        changed: list[int] = []
        moved = False
        for job in jobs:
            row = self._row_of[job.name]
            old = self._rows[row].job
            new = self._with_pending_stop(job)
            if _same(new, old):
                continue
            self._rows[row] = _Row(new)
            changed.append(row)
            if column is not None and not moved:
                moved = sort_key(new, column) != sort_key(old, column)
        self._announce(changed)
        return moved

    def apply_progress(self, progress: Mapping[str, tuple[str, JobStatus, int]]) -> int:
        """Live progress of running jobs: job -> (session id, status, percent).
        Only the Status column of those rows changes; returns how many rows did."""
        changed: list[int] = []
        for name, (session_id, status, percent) in progress.items():
            row = self._row_of.get(name)
            if row is None:
                continue
            job = self._rows[row].job
            if job.active_session_id != session_id:
                continue
            if job.status is status and percent <= job.progress:
                continue   # nothing new, or an answer older than the one shown
            new = self._with_pending_stop(job.model_copy(update={"status": status,
                                                                 "progress": percent}))
            if new != job:
                self._rows[row] = _Row(new)
                changed.append(row)
        if not changed:
            return 0
        column = int(Column.STATUS)
        self._announce(changed, column, column, (_DISPLAY, _TOOLTIP, _SORT))
        if self._sort is not None and self._sort[0] is Column.STATUS:
            self._resort()
        return len(changed)
