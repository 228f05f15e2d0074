"""The jobs list: one row per job, updated in place so selection survives."""
from __future__ import annotations

from enum import IntEnum
from typing import Any
from collections.abc import Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QIcon

from core.models import JobInfo, JobStatus, SessionResult

from .formatting import datetime_text, next_run_text, status_text
from .resources import icon

JOB_ROLE = Qt.ItemDataRole.UserRole + 1     # the row's JobInfo
SORT_ROLE = Qt.ItemDataRole.UserRole + 2    # a value that sorts naturally

Index = QModelIndex | QPersistentModelIndex
DISABLED_TEXT = "#8A9396"


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

_RESULT_ICONS: dict[SessionResult, str] = {
    SessionResult.SUCCESS: "success",
    SessionResult.WARNING: "warning",
    SessionResult.FAILED: "failed",
}


def display_text(job: JobInfo, column: Column) -> str:
    if column is Column.NAME:
        return job.name
    if column is Column.TYPE:
        return job.type_label
    if column is Column.OBJECTS:
        return str(len(job.definition.computers))
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
        return len(job.definition.computers)
    if column is Column.STATUS:
        order = {JobStatus.WORKING: 0, JobStatus.STOPPING: 1, JobStatus.IDLE: 2,
                 JobStatus.DISABLED: 3}
        return order[job.status] * 1000 - job.progress
    if column is Column.LAST_RUN:
        return job.last_run.timestamp() if job.last_run else 0.0
    if column is Column.NEXT_RUN:
        return job.next_run.timestamp() if job.next_run else float("inf")
    return display_text(job, column).casefold()


class JobsTableModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._jobs: list[JobInfo] = []
        self._stop_requested: dict[str, str | None] = {}   # job -> session being stopped

    # -- reading ----------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._jobs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._jobs):
            return None
        job = self._jobs[index.row()]
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return display_text(job, column)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(job, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column is Column.NAME:
                names = ", ".join(c.name for c in job.definition.computers)
                return f"{job.name}\nComputers: {names}"
            return display_text(job, column) or None
        if role == Qt.ItemDataRole.ForegroundRole and job.status is JobStatus.DISABLED:
            return QColor(DISABLED_TEXT)
        if role == JOB_ROLE:
            return job
        if role == SORT_ROLE:
            return sort_key(job, column)
        return None

    @staticmethod
    def _decoration(job: JobInfo, column: Column) -> QIcon | None:
        if column is Column.NAME:
            return icon("job")
        if column is Column.LAST_RESULT and job.last_result is not None:
            return icon(_RESULT_ICONS[job.last_result])
        return None

    def job_at(self, row: int) -> JobInfo:
        return self._jobs[row]

    def jobs(self) -> list[JobInfo]:
        return list(self._jobs)

    def row_of(self, name: str) -> int | None:
        for row, job in enumerate(self._jobs):
            if job.name == name:
                return row
        return None

    # -- updating in place ------------------------------------------------------
    def mark_stopping(self, names: Sequence[str]) -> None:
        """Show Stopping at once after a stop request, until the service
        reports the session stopping or ended (no flicker back to Working)."""
        for name in names:
            row = self.row_of(name)
            if row is None:
                continue
            self._stop_requested[name] = self._jobs[row].active_session_id
        self.set_jobs(list(self._jobs))

    def _with_pending_stop(self, job: JobInfo) -> JobInfo:
        if job.name not in self._stop_requested:
            return job
        session = self._stop_requested[job.name]
        if job.status is JobStatus.WORKING and job.active_session_id == session:
            return job.model_copy(update={"status": JobStatus.STOPPING})
        if job.status is not JobStatus.STOPPING or job.active_session_id != session:
            del self._stop_requested[job.name]
        return job

    def set_jobs(self, jobs: Sequence[JobInfo]) -> None:
        """Apply a fresh list: change rows in place (dataChanged), remove the
        jobs that are gone, append the new ones. Never a reset."""
        jobs = [self._with_pending_stop(job) for job in jobs]
        fresh = {job.name: job for job in jobs}
        for row in range(len(self._jobs) - 1, -1, -1):
            if self._jobs[row].name not in fresh:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._jobs[row]
                self.endRemoveRows()
        last_column = len(Column) - 1
        known: set[str] = set()
        for row, old in enumerate(self._jobs):
            new = fresh[old.name]
            known.add(old.name)
            if new != old:
                self._jobs[row] = new
                self.dataChanged.emit(self.index(row, 0), self.index(row, last_column))
        added = [job for job in jobs if job.name not in known]
        if added:
            first = len(self._jobs)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self._jobs.extend(added)
            self.endInsertRows()
