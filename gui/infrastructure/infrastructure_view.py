"""The Backup Infrastructure view: the repositories list with its search box,
empty state and right-click menu. Its commands live in
``infrastructure_controller``.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QByteArray, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QLabel, QMenu, QPushButton, QStackedWidget, QTableView, QVBoxLayout, QWidget,
)

from core.api import RepositoryInfo

from gui.infrastructure.actions import RepositoryActions
from gui.infrastructure.repositories_model import (
    REPOSITORY_ROLE, RepoColumn, RepositoriesModel, RepositoriesProxy,
)
from gui.widgets.list_table import restore_header, setup_list_table
from gui.widgets.row_menu import popup_row_menu
from gui.widgets.search_box import search_box

VIEW_NAME = "Backup Infrastructure"
_WIDTHS: dict[RepoColumn, int] = {
    RepoColumn.NAME: 200, RepoColumn.TYPE: 110, RepoColumn.LOCATION: 260,
    RepoColumn.ENCRYPTED: 80, RepoColumn.CAPACITY: 80, RepoColumn.FREE: 76,
    RepoColumn.USED: 88, RepoColumn.JOBS: 44,
}
_MAX_FITTED_WIDTH = 340
MenuFactory = Callable[[QWidget], QMenu]


def build_repository_menu(actions: RepositoryActions, parent: QWidget | None = None) -> QMenu:
    """The repositories list's right-click menu: the ribbon's commands."""
    menu = QMenu(parent)
    menu.setObjectName("RepositoryContextMenu")
    menu.addAction(actions.add)
    menu.addSeparator()
    menu.addAction(actions.remove)
    menu.addAction(actions.rescan)
    return menu


class InfrastructureView(QWidget):
    """The working area: a search box over the repositories list."""

    selectionChanged = Signal()

    def __init__(self, model: RepositoriesModel, menu_factory: MenuFactory,
                 add_action: QAction | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("InfrastructureView")
        self.model = model
        self.proxy = RepositoriesProxy(self)
        self.proxy.setSourceModel(model)
        self._menu_factory = menu_factory
        self.context_menu: QMenu | None = None
        self._loaded = False
        self._fitted = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.search = search_box(self, "Type in a repository name or location to search for")
        self.search.textChanged.connect(self.proxy.set_search)
        layout.addWidget(self.search)

        self.stack = QStackedWidget(self)
        self.table = QTableView(self.stack)
        self.table.setObjectName("RepositoriesTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(RepoColumn.NAME, Qt.SortOrder.AscendingOrder)
        self.hover = setup_list_table(self.table, widths=_WIDTHS, stretch=RepoColumn.STATUS,
                                      on_menu=self.show_context_menu, multi_select=False)
        self.table.selectionModel().selectionChanged.connect(
            lambda *_: self.selectionChanged.emit())
        self.proxy.modelReset.connect(self.selectionChanged.emit)
        self.proxy.rowsRemoved.connect(lambda *_: self.selectionChanged.emit())

        self.empty = QWidget(self.stack)
        self.empty.setObjectName("EmptyInventory")
        empty_layout = QVBoxLayout(self.empty)
        empty_layout.addStretch(2)
        title = QLabel("No backup repositories", self.empty)
        title.setObjectName("EmptyTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addWidget(title)
        # Two short lines, not a wrapped label (see jobs_view.EMPTY_TEXT).
        self.empty_text = QLabel("Add a local folder or an S3 compatible\n"
                                 "bucket to keep backups in.", self.empty)
        self.empty_text.setObjectName("EmptyText")
        self.empty_text.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addWidget(self.empty_text)
        self.empty_button = QPushButton("Add Repository", self.empty)
        self.empty_button.setObjectName("EmptyNewJob")
        if add_action is not None:
            self.empty_button.clicked.connect(add_action.trigger)
        empty_layout.addWidget(self.empty_button, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addStretch(3)
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)

    def set_repositories(self, repos: list[RepositoryInfo]) -> None:
        self._loaded = True
        self.model.set_repositories(repos)
        if repos and not self._fitted:   # once: the operator's widths win afterwards
            self._fitted = True
            for column in (RepoColumn.NAME, RepoColumn.LOCATION):
                self.table.resizeColumnToContents(column)
                width = self.table.columnWidth(column) + 12
                self.table.setColumnWidth(column, max(120, min(width, _MAX_FITTED_WIDTH)))
        self.stack.setCurrentWidget(self.empty if not repos else self.table)
        self.selectionChanged.emit()

    @property
    def loaded(self) -> bool:
        return self._loaded

    # -- remembered layout: widths, order, sort --------------------------------------------
    def header_state(self) -> QByteArray:
        return self.table.horizontalHeader().saveState()

    def restore_header_state(self, state: QByteArray) -> bool:
        if not restore_header(self.table, state, RepoColumn.STATUS):
            return False
        self._fitted = True   # the operator's widths win over fitting to the content
        return True

    def selected_repository(self) -> RepositoryInfo | None:
        rows = self.table.selectionModel().selectedRows()
        repo = rows[0].data(REPOSITORY_ROLE) if rows else None
        return repo if isinstance(repo, RepositoryInfo) else None

    def proxy_index_of(self, name: str) -> QModelIndex:
        row = self.model.row_of(name)
        if row is None:
            return QModelIndex()
        return self.proxy.mapFromSource(self.model.index(row, 0))

    def select(self, name: str) -> bool:
        index = self.proxy_index_of(name)
        if not index.isValid():
            return False
        self.table.selectRow(index.row())
        self.table.scrollTo(index)
        return True

    def show_context_menu(self, pos: QPoint) -> QMenu | None:
        """On a row: that repository's menu; off the rows: the same menu, for Add."""
        if self.table.indexAt(pos).isValid():
            self.context_menu = popup_row_menu(self.table, pos, lambda: self._menu_factory(self),
                                               self.context_menu)
            return self.context_menu
        self.table.clearSelection()
        if self.context_menu is not None:
            self.context_menu.deleteLater()
        self.context_menu = self._menu_factory(self)
        self.context_menu.popup(self.table.viewport().mapToGlobal(pos))
        return self.context_menu
