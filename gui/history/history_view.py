"""A sessions list: the History view (with its filter bar) and the Home
view's Last 24 Hours nodes (a fixed filter). Double-click opens Statistics."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from PySide6.QtCore import (
    QItemSelectionModel, QModelIndex, QObject, QPersistentModelIndex, QPoint, Qt, Signal,
)
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QLabel, QMenu, QStackedWidget, QTableView, QVBoxLayout,
    QWidget,
)

from core.models import SessionResult, SessionSummary

from gui.history.history_model import SESSION_ROLE, SessionColumn, SessionFilter, SessionsModel
from gui.widgets.list_table import setup_list_table
from gui.widgets.row_menu import popup_row_menu
from gui.widgets.search_box import SearchProxy, search_box

MenuFactory = Callable[[QWidget], QMenu]

_WIDTHS = {SessionColumn.JOB: 160, SessionColumn.TYPE: 70, SessionColumn.STATE: 96,
           SessionColumn.RESULT: 80, SessionColumn.START: 140, SessionColumn.END: 140,
           SessionColumn.DURATION: 70, SessionColumn.PROCESSED: 84,
           SessionColumn.STOPPED: 160}

RESULT_CHOICES: list[tuple[str, dict[str, object]]] = [
    ("All results", {"results": (), "running": None}),
    ("Success", {"results": (SessionResult.SUCCESS,), "running": None}),
    ("Warning", {"results": (SessionResult.WARNING,), "running": None}),
    ("Failed", {"results": (SessionResult.FAILED,), "running": None}),
    ("Running", {"results": (), "running": True}),
]
TIME_CHOICES: list[tuple[str, timedelta | None]] = [
    ("Last 24 hours", timedelta(hours=24)), ("Last 7 days", timedelta(days=7)),
    ("Last 30 days", timedelta(days=30)), ("All time", None),
]
ALL_JOBS = "All jobs"


class SessionsProxy(SearchProxy):
    """The search box over the sessions fetched so far (job name or session id)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)

    def filterAcceptsRow(self, source_row: int,
                         source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not self._search:
            return True
        s = self.sourceModel().index(source_row, 0, source_parent).data(SESSION_ROLE)
        return isinstance(s, SessionSummary) and (self._search in s.job.casefold()
                                                  or self._search in s.id.casefold())


class SessionsView(QWidget):
    selectionChanged = Signal()
    statisticsRequested = Signal()   # a row was double-clicked (or Enter)

    def __init__(self, model: SessionsModel, menu_factory: MenuFactory | None,
                 parent: QWidget | None = None, *, filters: bool = True,
                 empty_text: str = "No sessions match these filters.") -> None:
        super().__init__(parent)
        self.setObjectName("HistoryView" if filters else "SessionsView")
        self.model = model
        self.proxy = SessionsProxy(self)
        self.proxy.setSourceModel(model)
        self._menu_factory = menu_factory
        self.context_menu: QMenu | None = None
        self.empty_text = empty_text
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)

        self.filter_bar = QWidget(self)
        self.filter_bar.setObjectName("HistoryFilters")
        bar = QHBoxLayout(self.filter_bar)
        bar.setContentsMargins(6, 4, 6, 4)
        self.job_filter = QComboBox(self.filter_bar)
        self.job_filter.setObjectName("HistoryJobFilter")
        self.job_filter.addItem(ALL_JOBS, None)
        self._offered: list[str | None] = [None]   # the Job filter's choices
        self.job_filter.setMinimumContentsLength(16)
        # Not sized to its longest item: with 2,000 jobs measuring them all stalled
        # the first showing of History.
        self.job_filter.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.result_filter = QComboBox(self.filter_bar)
        self.result_filter.setObjectName("HistoryResultFilter")
        for text, _ in RESULT_CHOICES:
            self.result_filter.addItem(text)
        self.time_filter = QComboBox(self.filter_bar)
        self.time_filter.setObjectName("HistoryTimeFilter")
        for text, _ in TIME_CHOICES:
            self.time_filter.addItem(text)
        self.time_filter.setCurrentIndex(len(TIME_CHOICES) - 1)
        self.search = search_box(self.filter_bar, "Search the sessions shown by job or session id")
        self.count_label = QLabel("", self.filter_bar)
        self.count_label.setObjectName("HistoryCount")
        for label, widget in (("Job:", self.job_filter), ("Result:", self.result_filter),
                              ("Time:", self.time_filter)):
            bar.addWidget(QLabel(label, self.filter_bar))
            bar.addWidget(widget)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.count_label)
        layout.addWidget(self.filter_bar)
        self.filter_bar.setVisible(filters)

        self.stack = QStackedWidget(self)
        self.table = QTableView(self.stack)
        self.table.setObjectName("SessionsTable")
        self.table.setModel(self.proxy)
        self.hover = setup_list_table(self.table, widths=_WIDTHS, stretch=SessionColumn.REASON,
                                      on_menu=self.show_context_menu, movable=False)
        self.table.selectionModel().selectionChanged.connect(
            lambda *_: self.selectionChanged.emit())
        self.table.doubleClicked.connect(lambda _index: self.statisticsRequested.emit())
        self.empty = QLabel(empty_text, self.stack)
        self.empty.setObjectName("EmptySessions")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)

        self.search.textChanged.connect(self.proxy.set_search)
        for combo in (self.job_filter, self.result_filter, self.time_filter):
            combo.currentIndexChanged.connect(lambda _i: self._filters_changed())
        model.loaded.connect(self._show_state)
        model.modelReset.connect(self._show_state)
        model.rowsInserted.connect(lambda *_: self._show_state())
        model.rowsRemoved.connect(lambda *_: self._show_state())
        model.modelReset.connect(lambda: self.selectionChanged.emit())
        model.rowsRemoved.connect(lambda *_: self.selectionChanged.emit())

    # -- filters ------------------------------------------------------------------------
    def filter_from_bar(self, base: SessionFilter) -> SessionFilter:
        changes = dict(RESULT_CHOICES[self.result_filter.currentIndex()][1])
        return base.with_(job=self.job_filter.currentData(),
                          within=TIME_CHOICES[self.time_filter.currentIndex()][1],
                          **changes)

    def _filters_changed(self) -> None:
        if not self.filter_bar.isHidden():
            self.model.set_filter(self.filter_from_bar(self.model.filter))

    def set_jobs(self, names: Sequence[str]) -> None:
        """The job names the Job filter offers (the current choice stays)."""
        wanted = [None, *sorted(names, key=str.casefold)]
        if wanted == self._offered:   # the usual case: asking the combo costs 2,000 calls
            return
        current = self.job_filter.currentData()
        self._offered = wanted
        self.job_filter.blockSignals(True)
        self.job_filter.clear()
        for name in wanted:
            self.job_filter.addItem(ALL_JOBS if name is None else name, name)
        index = self.job_filter.findData(current)
        self.job_filter.setCurrentIndex(max(0, index))
        self.job_filter.blockSignals(False)
        if index < 0 and current is not None:
            self._filters_changed()

    def set_empty_text(self, text: str) -> None:
        self.empty_text = text
        self.empty.setText(text)

    def _show_state(self) -> None:
        model = self.model
        empty = model.rowCount() == 0 and not model.busy and model.started
        self.stack.setCurrentWidget(self.empty if empty else self.table)
        total = model.total
        if total is None:
            self.count_label.setText("")
        else:
            shown = model.rowCount()
            self.count_label.setText(f"{total:,} session(s)" if shown >= total
                                     else f"{shown:,} of {total:,} session(s) loaded")

    @property
    def showing_empty(self) -> bool:
        return self.stack.currentWidget() is self.empty

    # -- selection ------------------------------------------------------------------------
    def selected_sessions(self) -> list[SessionSummary]:
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        found = [self.proxy.index(row, 0).data(SESSION_ROLE) for row in rows]
        return [s for s in found if isinstance(s, SessionSummary)]

    def select_session(self, session_id: str) -> bool:
        row = self.model.row_of(session_id)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return False
        self.table.selectionModel().select(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.setCurrentIndex(index)
        return True

    def show_context_menu(self, pos: QPoint) -> QMenu | None:
        factory = self._menu_factory
        if factory is None or not self.table.indexAt(pos).isValid():
            return None
        self.context_menu = popup_row_menu(self.table, pos, lambda: factory(self),
                                           self.context_menu)
        return self.context_menu
