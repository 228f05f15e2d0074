"""Sessions as a table (History, and the Home view's Last 24 Hours nodes).

The server filters and pages: :class:`SessionsModel` holds the sessions
fetched so far, newest first, and fetches the next page when the view
scrolls to the end (Qt's ``canFetchMore``/``fetchMore``), so 100,000
sessions cost one page at a time. ``refresh`` (on the server's events)
brings new sessions in on top and updates the running ones in place.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal,
)
from PySide6.QtGui import QIcon

from core.api import stopped_text
from core.models import (
    HistoryPage, HistoryQuery, SessionResult, SessionState, SessionSummary, SessionType, utcnow,
)

from gui.widgets.formatting import bytes_text, datetime_text, duration_text, job_text
from gui.widgets.resources import icon
from gui.runtime.worker import TaskRunner

SESSION_ROLE = Qt.ItemDataRole.UserRole + 1
PAGE_SIZE = 200
Index = QModelIndex | QPersistentModelIndex
ListHistory = Callable[[HistoryQuery], HistoryPage]


class SessionColumn(IntEnum):
    JOB = 0
    TYPE = 1
    STATE = 2
    RESULT = 3
    START = 4
    END = 5
    DURATION = 6
    PROCESSED = 7
    STOPPED = 8
    REASON = 9


HEADERS = {
    SessionColumn.JOB: "Job", SessionColumn.TYPE: "Type", SessionColumn.STATE: "State",
    SessionColumn.RESULT: "Result", SessionColumn.START: "Start", SessionColumn.END: "End",
    SessionColumn.DURATION: "Duration", SessionColumn.PROCESSED: "Processed",
    SessionColumn.STOPPED: "Details", SessionColumn.REASON: "Reason",
}
_RESULT_ICONS = {SessionResult.SUCCESS: "success", SessionResult.WARNING: "warning",
                 SessionResult.FAILED: "failed"}
_TYPE_ICONS = {SessionType.BACKUP: "job", SessionType.RESTORE: "restore",
               SessionType.VERIFY: "verify", SessionType.MAINTENANCE: "repository",
               SessionType.COPY: "backup_copy"}


@dataclass(frozen=True)
class SessionFilter:
    """What a sessions list shows. ``within`` is relative to now (Last 24 Hours)."""

    job: str | None = None
    types: tuple[SessionType, ...] = ()
    results: tuple[SessionResult, ...] = ()
    running: bool | None = None
    within: timedelta | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def query(self, now: datetime) -> HistoryQuery:
        return HistoryQuery(job=self.job, types=list(self.types), results=list(self.results),
                            running=self.running,
                            since=now - self.within if self.within is not None else None)

    def with_(self, **changes: Any) -> SessionFilter:
        return replace(self, **changes)


def display_text(s: SessionSummary, column: SessionColumn) -> str:
    if column is SessionColumn.JOB:
        return job_text(s.job)
    if column is SessionColumn.TYPE:
        return s.type.value
    if column is SessionColumn.STATE:
        return s.state.value if s.state is not SessionState.WORKING \
            else f"Working {s.progress}%"
    if column is SessionColumn.RESULT:
        return s.result.value if s.result else ""
    if column is SessionColumn.START:
        return datetime_text(s.created, seconds=True)
    if column is SessionColumn.END:
        return datetime_text(s.ended, seconds=True)
    if column is SessionColumn.DURATION:
        return duration_text(s.duration_s)
    if column is SessionColumn.PROCESSED:
        return bytes_text(s.processed)
    if column is SessionColumn.REASON:
        return s.reason or ""
    return stopped_text(s)


class SessionsModel(QAbstractTableModel):
    loaded = Signal()          # a page or a refresh landed
    failed = Signal(object)    # the exception of a failed fetch

    def __init__(self, runner: TaskRunner, list_history: ListHistory,
                 parent: QObject | None = None, *, page_size: int = PAGE_SIZE,
                 clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(parent)
        self._runner = runner
        self._list = list_history
        self._page = page_size
        self._clock = clock
        self._rows: list[SessionSummary] = []
        self._row_of: dict[str, int] = {}
        self._filter = SessionFilter()
        self._query = self._filter.query(clock())
        self._generation = 0
        self._more = False
        self._fetching = False
        self._refreshing = False
        self._refresh_again = False
        self._started = False
        self.total: int | None = None
        self.pages_fetched = 0

    # -- reading --------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(SessionColumn)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[SessionColumn(section)]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        s = self._rows[index.row()]
        column = SessionColumn(index.column())
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            text = display_text(s, column)
            if role == Qt.ItemDataRole.ToolTipRole and column is SessionColumn.JOB:
                return f"{job_text(s.job)}\nSession {s.id}"
            return text or None if role == Qt.ItemDataRole.ToolTipRole else text
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(s, column)
        if role == SESSION_ROLE:
            return s
        return None

    @staticmethod
    def _decoration(s: SessionSummary, column: SessionColumn) -> QIcon | None:
        if column is SessionColumn.JOB:
            return icon(_TYPE_ICONS[s.type])
        if column is SessionColumn.RESULT and s.result is not None:
            return icon(_RESULT_ICONS[s.result])
        if column is SessionColumn.STATE and s.state.is_active:
            return icon("running")
        return None

    def session_at(self, row: int) -> SessionSummary:
        return self._rows[row]

    def sessions(self) -> list[SessionSummary]:
        return list(self._rows)

    def row_of(self, session_id: str) -> int | None:
        return self._row_of.get(session_id)

    @property
    def filter(self) -> SessionFilter:
        return self._filter

    @property
    def started(self) -> bool:
        """The first page has been asked for (the list is in use)."""
        return self._started

    @property
    def busy(self) -> bool:
        return self._fetching or self._refreshing

    # -- paging -----------------------------------------------------------------------
    def set_filter(self, new: SessionFilter) -> None:
        """Show sessions matching ``new``: start again from the newest."""
        self._filter = new
        self.reload()

    def reload(self) -> None:
        self._generation += 1
        self.beginResetModel()
        self._rows.clear()
        self._row_of.clear()
        self.endResetModel()
        self._query = self._filter.query(self._clock())
        self._more = True
        self._fetching = False
        self._refreshing = False
        self._started = True
        self.total = None
        self._fetch_page(first=True)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: N802
        return not parent.isValid() and self._more and not self._fetching

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: N802
        if self.canFetchMore(parent):
            self._fetch_page(first=False)

    def _fetch_page(self, *, first: bool) -> None:
        last = self._rows[-1] if self._rows and not first else None
        query = self._query.model_copy(update={
            "limit": self._page, "count": first,
            "before_created": last.created if last else None,
            "before_id": last.id if last else None})
        generation = self._generation
        self._fetching = True

        def landed(page: HistoryPage) -> None:
            if generation != self._generation:
                return
            self._fetching = False
            self.pages_fetched += 1
            if page.total is not None:
                self.total = page.total
            self._more = page.more
            self._append([s for s in page.sessions if s.id not in self._row_of])
            self.loaded.emit()

        def failed(exc: BaseException) -> None:
            if generation != self._generation:
                return
            self._fetching = False
            self._more = False
            self.failed.emit(exc)

        self._runner.submit(lambda: self._list(query), landed, failed)

    def _append(self, rows: list[SessionSummary]) -> None:
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        for s in rows:
            self._row_of[s.id] = len(self._rows)
            self._rows.append(s)
        self.endInsertRows()

    # -- live -------------------------------------------------------------------------
    def refresh(self, changed: set[str] | None = None) -> None:
        """New sessions on top, running (and ``changed``) ones updated in place."""
        if not self._started:
            return
        if self._fetching and not self._rows:
            return   # the first page is on its way
        if self._refreshing:
            self._refresh_again = True
            return
        now = self._clock()
        fresh_query = self._filter.query(now)
        if self._filter.within is not None and self._rows and \
                fresh_query.since is not None and self._rows[-1].created < fresh_query.since:
            self.reload()   # the oldest rows aged out of "the last N hours"
            return
        top = self._rows[0] if self._rows else None
        newer = fresh_query.model_copy(update={
            "since": max(filter(None, [fresh_query.since, top.created if top else None]),
                         default=None),
            "limit": 1000, "count": True})
        watch = list(dict.fromkeys([s.id for s in self._rows if s.state.is_active]
                                   + sorted(changed or set())))
        watched = fresh_query.model_copy(update={"ids": watch[:1000], "limit": 1000,
                                                 "count": False})
        generation = self._generation
        self._refreshing = True

        def fetch() -> tuple[HistoryPage, HistoryPage | None]:
            return self._list(newer), self._list(watched) if watch else None

        def landed(pages: tuple[HistoryPage, HistoryPage | None]) -> None:
            if generation != self._generation:
                return
            self._refreshing = False
            fresh, updates = pages
            before = len(self._rows)
            self._merge(fresh.sessions, updates, watch)
            if top is None and fresh.total is not None:
                self.total = fresh.total
            elif self.total is not None:
                self.total = max(0, self.total + len(self._rows) - before)
            self.loaded.emit()
            if self._refresh_again:
                self._refresh_again = False
                self.refresh()

        def failed(exc: BaseException) -> None:
            if generation != self._generation:
                return
            self._refreshing = False
            self.failed.emit(exc)

        self._runner.submit(fetch, landed, failed)

    def _merge(self, fresh: list[SessionSummary], updates: HistoryPage | None,
               watched: list[str]) -> None:
        found = {s.id: s for s in fresh}
        if updates is not None:
            found.update({s.id: s for s in updates.sessions})
            for sid in watched:   # no longer matching the filter (e.g. it left Running)
                if sid not in found and sid in self._row_of:
                    self._remove(self._row_of[sid])
        for s in sorted(found.values(), key=lambda s: (s.created, s.id)):
            row = self._row_of.get(s.id)
            if row is not None:
                self._replace(row, s)
            else:
                self._insert_sorted(s)

    def _insert_sorted(self, s: SessionSummary) -> None:
        """Insert where it belongs (newest first); one older than every loaded
        row is left to a later page."""
        key = (s.created, s.id)
        lo, hi = 0, len(self._rows)
        while lo < hi:
            mid = (lo + hi) // 2
            if (self._rows[mid].created, self._rows[mid].id) > key:
                lo = mid + 1
            else:
                hi = mid
        if lo == len(self._rows) and self._more:
            return
        self.beginInsertRows(QModelIndex(), lo, lo)
        self._rows.insert(lo, s)
        self._row_of = {r.id: i for i, r in enumerate(self._rows)}
        self.endInsertRows()

    def _replace(self, row: int, s: SessionSummary) -> None:
        if self._rows[row] != s:
            self._rows[row] = s
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(SessionColumn) - 1))

    def _remove(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._rows[row]
        self.endRemoveRows()
        self._row_of = {s.id: i for i, s in enumerate(self._rows)}
