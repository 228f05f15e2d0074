"""The working area of the Home view: a search box and quick filters by
state over the jobs list, whose header's right-click menu chooses the columns."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QByteArray, QItemSelectionModel, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QMenu, QPushButton, QStackedWidget, QTableView, QToolButton,
    QVBoxLayout, QWidget,
)

from core.models import JobInfo

from gui.jobs.jobs_filter import JobsFilterProxy, QuickFilter
from gui.jobs.jobs_model import HEADERS, Column, JobsTableModel
from gui.widgets.formatting import NOT_SCHEDULED, datetime_text
from gui.widgets.list_table import cell_width, restore_header, setup_list_table
from gui.widgets.row_menu import popup_row_menu
from gui.widgets.resources import icon
from gui.widgets.search_box import search_box

MenuFactory = Callable[[QWidget], QMenu]

_WIDTHS: dict[Column, int] = {
    Column.NAME: 170, Column.TYPE: 128, Column.OBJECTS: 62, Column.STATUS: 96,
    Column.LAST_RUN: 120, Column.LAST_RESULT: 90, Column.NEXT_RUN: 116, Column.TARGET: 160,
}
# The longest text a column is expected to show: its default width never cuts it.
_LONGEST: dict[Column, str] = {
    Column.STATUS: "Working 100%", Column.LAST_RUN: datetime_text(datetime(2028, 12, 28, 20, 58)),
    Column.NEXT_RUN: NOT_SCHEDULED, Column.LAST_RESULT: "Warning", Column.OBJECTS: "Objects",
}
_WITH_ICON = {Column.LAST_RESULT}
# When fitting leaves too little room for Description, these give way first, down to:
_GIVE_WAY: dict[Column, int] = {Column.TARGET: 100, Column.NAME: 160}
_MAX_FITTED_WIDTH = 240
MIN_COLUMN_WIDTH = 48
MIN_DESCRIPTION_WIDTH = 200
_FIT_PADDING = 10
# Fitting columns to their content reads this many rows, not the first 1,000 (Qt's
# default): with 2,000 jobs that was 9,000 size hints, a third of a second.
FIT_ROWS = 50
# Two short lines, not a wrapped label: a wrapped label's height is fixed before the
# style sheet sets its font, and its second line was cut off.
EMPTY_TEXT = ("Create an agent backup job to protect computers:\n"
              "choose their folders, the backup repository and when the job runs.")


class EmptyInventory(QWidget):
    """What the working area shows before the first job exists."""

    def __init__(self, new_job: QAction | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("EmptyInventory")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(40, 40, 40, 40)
        layout.addStretch(2)
        picture = QLabel(self)
        picture.setPixmap(icon("empty").pixmap(64, 64))
        picture.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(picture)
        title = QLabel("No jobs yet", self)
        title.setObjectName("EmptyTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(title)
        text = QLabel(EMPTY_TEXT, self)
        text.setObjectName("EmptyText")
        text.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(text, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(8)
        self.button = QPushButton("Backup Job", self)
        self.button.setObjectName("EmptyNewJob")
        self.button.setToolTip("Create an agent backup job (Home > Backup Job)")
        if new_job is not None:
            self.button.clicked.connect(new_job.trigger)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(3)


_QUICK_TIPS: dict[QuickFilter, str] = {
    QuickFilter.RUNNING: "Show only jobs that are running",
    QuickFilter.FAILED: "Show only jobs whose last session failed",
    QuickFilter.WARNING: "Show only jobs whose last session ended with a warning",
    QuickFilter.DISABLED: "Show only disabled jobs",
}
# Columns the chooser cannot hide: a row needs its name.
FIXED_COLUMNS = frozenset({Column.NAME})


class JobsView(QWidget):
    selectionChanged = Signal()
    editRequested = Signal()   # a row was double-clicked
    columnsChanged = Signal()  # a column was shown or hidden (the window remembers it)

    def __init__(self, model: JobsTableModel, proxy: JobsFilterProxy,
                 menu_factory: MenuFactory, parent: QWidget | None = None, *,
                 new_job: QAction | None = None,
                 new_jobs: list[QAction] | None = None,
                 keyboard: list[QAction] | None = None) -> None:
        """``new_jobs``: the kinds of new job the menu off the rows offers."""
        super().__init__(parent)
        self.setObjectName("JobsView")
        self.model = model
        self.proxy = proxy
        self._menu_factory = menu_factory
        self._new_jobs = list(new_jobs or [])
        self.context_menu: QMenu | None = None
        self._fitted = False
        self._loaded = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.search = search_box(self, "Type in an object name to search for")
        self.search.setToolTip("Search the jobs list by name, description, computer or "
                               "target (Ctrl+F)")
        self.search.textChanged.connect(proxy.set_search)
        bar = QWidget(self)
        bar.setObjectName("JobsBar")
        row = QHBoxLayout(bar)
        row.setContentsMargins(0, 0, 8, 0)
        row.setSpacing(4)
        row.addWidget(self.search, 1)
        self.quick_filters: dict[QuickFilter, QToolButton] = {}
        for state in QuickFilter:
            button = QToolButton(bar)
            button.setObjectName("QuickFilter")
            button.setText(state.value)
            button.setCheckable(True)
            button.setToolTip(_QUICK_TIPS[state])
            button.toggled.connect(self._quick_filters_changed)
            self.quick_filters[state] = button
            row.addWidget(button)
        layout.addWidget(bar)
        self.column_menu: QMenu | None = None

        self.stack = QStackedWidget(self)
        self.table = QTableView(self.stack)
        self.table.setObjectName("JobsTable")
        self.table.setModel(proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
        self.table.setAlternatingRowColors(False)
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(MIN_COLUMN_WIDTH)
        header.setResizeContentsPrecision(FIT_ROWS)
        self.hover = setup_list_table(self.table, widths=self.default_widths(),
                                      stretch=Column.DESCRIPTION, on_menu=self.show_context_menu)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self.show_column_menu)
        self._selected_rows: list[int] | None = None   # source rows, in view order
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        for signal in (proxy.layoutChanged, proxy.rowsInserted, proxy.rowsRemoved,
                       proxy.modelReset):
            signal.connect(self._forget_selected_rows)
        self.table.doubleClicked.connect(lambda _index: self.editRequested.emit())
        for action in keyboard or []:
            self.table.addAction(action)
        self.empty = EmptyInventory(new_job, self.stack)
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)
        for signal in (model.rowsInserted, model.rowsRemoved, model.modelReset):
            signal.connect(lambda *_: self._show_empty())
        model.rowsInserted.connect(lambda *_: self._fit_columns_once())

    # -- the empty inventory --------------------------------------------------------------
    def set_loaded(self) -> None:
        """The jobs list has been fetched once: an empty list now means no jobs."""
        self._loaded = True
        self._show_empty()

    @property
    def showing_empty(self) -> bool:
        return self.stack.currentWidget() is self.empty

    def _show_empty(self) -> None:
        empty = self._loaded and self.model.rowCount() == 0
        self.stack.setCurrentWidget(self.empty if empty else self.table)
        self.search.setEnabled(not empty)
        for button in self.quick_filters.values():
            button.setEnabled(not empty)

    # -- quick filters by state -------------------------------------------------------
    def _quick_filters_changed(self) -> None:
        self.proxy.set_states(s for s, b in self.quick_filters.items() if b.isChecked())

    # -- the column chooser -----------------------------------------------------------
    def hidden_columns(self) -> set[Column]:
        header = self.table.horizontalHeader()
        return {c for c in Column if header.isSectionHidden(c)}

    def set_column_shown(self, column: Column, shown: bool) -> None:
        if column in FIXED_COLUMNS:
            return
        header = self.table.horizontalHeader()
        if header.isSectionHidden(column) == (not shown):
            return
        header.setSectionHidden(column, not shown)
        self.columnsChanged.emit()

    def build_column_menu(self) -> QMenu:
        """A checkable item per column; the Name column always shows."""
        menu = QMenu(self)
        menu.setObjectName("ColumnChooser")
        header = self.table.horizontalHeader()
        for column in sorted(Column, key=header.visualIndex):
            action = menu.addAction(HEADERS[column])
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(column))
            action.setEnabled(column not in FIXED_COLUMNS)
            action.toggled.connect(lambda on, c=column: self.set_column_shown(c, on))
        return menu

    def show_column_menu(self, pos: QPoint) -> QMenu:
        """Right-click on the header: choose the columns shown."""
        if self.column_menu is not None:
            self.column_menu.close()
            self.column_menu.deleteLater()
        self.column_menu = menu = self.build_column_menu()
        menu.popup(self.table.horizontalHeader().mapToGlobal(pos))
        return menu

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    # -- remembered layout: widths, order, sort -------------------------------------------
    def header_state(self) -> QByteArray:
        return self.table.horizontalHeader().saveState()

    def restore_header_state(self, state: QByteArray) -> bool:
        if not restore_header(self.table, state, Column.DESCRIPTION):
            return False
        self._fitted = True   # the operator's widths win over fitting to the content
        return True

    def default_widths(self) -> dict[Column, int]:
        """Each column's width before fitting: wide enough for its longest expected text
        ("Working 100%", a date and time) in the table's font."""
        return {column: max(width, cell_width(self.table, _LONGEST[column],
                                              with_icon=column in _WITH_ICON))
                if column in _LONGEST else width for column, width in _WIDTHS.items()}

    def _fit_columns_once(self) -> None:
        """Size the columns to the first jobs shown; later the operator decides."""
        if self._fitted:
            return
        self._fitted = True
        widths = {}
        for column, default in self.default_widths().items():
            fitted = min(_MAX_FITTED_WIDTH, self.table.sizeHintForColumn(column) + _FIT_PADDING)
            widths[column] = max(default, fitted)
        # Description takes the spare width: fitting never squeezes it below its minimum.
        viewport = self.table.viewport().width()
        excess = sum(widths.values()) - (viewport - MIN_DESCRIPTION_WIDTH)
        if self.isVisible() and excess > 0:
            for column, floor in _GIVE_WAY.items():
                cut = max(0, min(excess, widths[column] - floor))
                widths[column] -= cut
                excess -= cut
        for column, width in widths.items():
            self.table.setColumnWidth(column, width)

    # -- selection ----------------------------------------------------------------
    def _selection_changed(self) -> None:
        self._selected_rows = None
        self.selectionChanged.emit()

    def _forget_selected_rows(self) -> None:
        self._selected_rows = None

    def _source_rows_selected(self) -> list[int]:
        """The model rows of the selection, kept until the selection or the
        rows' order changes: with 2,000 jobs selected the actions are checked at
        every update, and mapping 2,000 rows each time showed as a stall."""
        if self._selected_rows is None:
            proxy = self.proxy
            identity = proxy.accepts_all
            rows: list[int] = []
            # PySide6's stubs omit QItemSelection's iteration (it is a list of ranges)
            for span in self.table.selectionModel().selection():  # type: ignore[attr-defined]
                if not span.isValid():
                    continue
                for row in range(span.top(), span.bottom() + 1):
                    rows.append(row if identity
                                else proxy.mapToSource(proxy.index(row, 0)).row())
            self._selected_rows = sorted(set(rows), key=self._view_order(identity))
        return self._selected_rows

    def _view_order(self, identity: bool) -> Callable[[int], int]:
        if identity:
            return lambda row: row
        return lambda row: self.proxy.mapFromSource(self.model.index(row, 0)).row()

    def selected_jobs(self) -> list[JobInfo]:
        """The selected jobs as the model holds them now, in view order."""
        count = self.model.rowCount()
        return [self.model.job_at(row) for row in self._source_rows_selected()
                if 0 <= row < count]

    def proxy_index_of(self, name: str) -> QModelIndex:
        row = self.model.row_of(name)
        if row is None:
            return QModelIndex()
        return self.proxy.mapFromSource(self.model.index(row, 0))

    def select_jobs(self, *names: str) -> None:
        selection = self.table.selectionModel()
        selection.clearSelection()
        flags = (QItemSelectionModel.SelectionFlag.Select
                 | QItemSelectionModel.SelectionFlag.Rows)
        for name in names:
            index = self.proxy_index_of(name)
            if index.isValid():
                selection.select(index, flags)
                selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)

    # -- context menu --------------------------------------------------------------
    def show_context_menu(self, pos: QPoint) -> QMenu | None:
        """Right-click on a row: select it unless it already is, then pop the menu up.
        Off the rows: the menu of new jobs (Backup..., Backup Copy...)."""
        if not self.table.indexAt(pos).isValid():
            if not self._new_jobs:
                return None
            if self.context_menu is not None:
                self.context_menu.deleteLater()
            menu = QMenu(self)
            menu.setObjectName("NewJobContextMenu")
            menu.addActions(self._new_jobs)
            menu.popup(self.table.viewport().mapToGlobal(pos))
            self.context_menu = menu
            return menu
        self.context_menu = popup_row_menu(self.table, pos, lambda: self._menu_factory(self),
                                           self.context_menu)
        return self.context_menu
