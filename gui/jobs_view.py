"""The working area of the Home view: a search box over the jobs list."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QHeaderView, QLineEdit, QMenu, QTableView, QVBoxLayout, QWidget,
)

from core.models import JobInfo

from .jobs_filter import JobsFilterProxy
from .jobs_model import JOB_ROLE, Column, JobsTableModel
from .resources import icon

MenuFactory = Callable[[QWidget], QMenu]

_WIDTHS: dict[Column, int] = {
    Column.NAME: 170, Column.TYPE: 128, Column.OBJECTS: 62, Column.STATUS: 104,
    Column.LAST_RUN: 132, Column.LAST_RESULT: 92, Column.NEXT_RUN: 110, Column.TARGET: 170,
}
_MAX_FITTED_WIDTH = 320
MIN_COLUMN_WIDTH = 48
_FIT_PADDING = 10


class JobsView(QWidget):
    selectionChanged = Signal()

    def __init__(self, model: JobsTableModel, proxy: JobsFilterProxy,
                 menu_factory: MenuFactory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("JobsView")
        self.model = model
        self.proxy = proxy
        self._menu_factory = menu_factory
        self.context_menu: QMenu | None = None
        self._fitted = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.search = QLineEdit(self)
        self.search.setObjectName("SearchBox")
        self.search.setPlaceholderText("Type in an object name to search for")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.textChanged.connect(proxy.set_search)
        layout.addWidget(self.search)

        self.table = QTableView(self)
        self.table.setObjectName("JobsTable")
        self.table.setModel(proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setHighlightSections(False)
        header.setMinimumSectionSize(MIN_COLUMN_WIDTH)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(Column.DESCRIPTION, QHeaderView.ResizeMode.Stretch)
        for column, width in _WIDTHS.items():
            self.table.setColumnWidth(column, width)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self.show_context_menu)
        self.table.selectionModel().selectionChanged.connect(
            lambda *_: self.selectionChanged.emit())
        layout.addWidget(self.table, 1)
        model.rowsInserted.connect(lambda *_: self._fit_columns_once())

    def _fit_columns_once(self) -> None:
        """Size the columns to the first jobs shown; later the operator decides."""
        if self._fitted:
            return
        self._fitted = True
        for column, default in _WIDTHS.items():
            fitted = min(_MAX_FITTED_WIDTH, self.table.sizeHintForColumn(column) + _FIT_PADDING)
            self.table.setColumnWidth(column, max(default, fitted))


    # -- selection ----------------------------------------------------------------
    def selected_jobs(self) -> list[JobInfo]:
        """The selected jobs as the model holds them now, in view order."""
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        jobs = [self.proxy.index(row, 0).data(JOB_ROLE) for row in rows]
        return [job for job in jobs if isinstance(job, JobInfo)]

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
        """Right-click on a row: select it unless it already is, then pop the menu up."""
        index = self.table.indexAt(pos)
        if not index.isValid():
            return None
        selection = self.table.selectionModel()
        if not selection.isRowSelected(index.row(), QModelIndex()):
            self.table.setCurrentIndex(index)
            selection.select(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                             | QItemSelectionModel.SelectionFlag.Rows)
        if self.context_menu is not None:
            self.context_menu.deleteLater()
        self.context_menu = self._menu_factory(self)
        self.context_menu.popup(self.table.viewport().mapToGlobal(pos))
        return self.context_menu
