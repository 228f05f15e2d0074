"""The Backup Infrastructure view: its inventory (Backup Repositories), the
repositories list, and its commands (Add Repository, Remove, Rescan).

Every facade call runs on the TaskRunner; the Add Repository wizard and the
questions open with ``open()`` and are kept as attributes while they show, so
the window, and tests, can reach them.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import (
    QByteArray, QElapsedTimer, QModelIndex, QObject, QPoint, Qt, QTimer, Signal,
)
from PySide6.QtWidgets import (
    QLabel, QMenu, QMessageBox, QPushButton, QStackedWidget, QTableView, QVBoxLayout,
    QWidget,
)

from core.api import BackupApi, RepositoryInfo
from core.errors import ConsoleError

from gui.infrastructure.actions import RepositoryActions
from gui.runtime.bridge import EventBridge
from gui.widgets.error_box import show_error
from gui.widgets.inventory import INFRASTRUCTURE_TREE, REPOSITORIES_NODE, InventoryPane
from gui.widgets.list_table import restore_header, setup_list_table
from gui.infrastructure.repositories_model import (
    REPOSITORY_ROLE, RepoColumn, RepositoriesModel, RepositoriesProxy,
)
from gui.infrastructure.repository_wizard import RepositoryWizard
from gui.widgets.row_menu import popup_row_menu
from gui.widgets.search_box import search_box
from gui.runtime.tracking import track
from gui.runtime.worker import TaskRunner

VIEW_NAME = "Backup Infrastructure"
AUTO_RESCAN_MS = 3000     # events refresh the list at most this often (a rescan may be slow)
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
                 add_action: QObject | None = None, parent: QWidget | None = None) -> None:
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


class InfrastructureController(QObject):
    """Add Repository, Remove and Rescan, and keeping the list up to date."""

    def __init__(self, service: BackupApi, runner: TaskRunner, bridge: EventBridge,
                 window: QWidget, visible: Callable[[], bool] | None = None) -> None:
        super().__init__(window)
        self._service = service
        self._runner = runner
        self._window = window
        self._visible = visible or (lambda: self.view.isVisible())
        self.actions = RepositoryActions(self)
        self.model = RepositoriesModel(self)
        self.view = InfrastructureView(self.model,
                                       lambda parent: build_repository_menu(self.actions, parent),
                                       self.actions.add, window)
        self.inventory = InventoryPane(VIEW_NAME, window, tree=INFRASTRUCTURE_TREE,
                                       first=REPOSITORIES_NODE)
        self.repository_wizard: RepositoryWizard | None = None
        self.remove_question: QMessageBox | None = None
        self.error_box: QMessageBox | None = None
        self.loads = 0               # lists received (for tests and the curious)
        self.last_error: BaseException | None = None
        self._in_flight = False
        self._again = False
        self._stale = True
        self._reveal: str | None = None
        self._since = QElapsedTimer()
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self.refresh)

        self.actions.add.triggered.connect(self.add)
        self.actions.remove.triggered.connect(self.remove)
        self.actions.rescan.triggered.connect(self.refresh)
        self.view.selectionChanged.connect(self.update_actions)
        self.view.table.addAction(self.actions.remove)     # the Delete key on the list
        bridge.refreshDue.connect(self._on_refresh_due)
        self.update_actions()

    # -- the list --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Fetch the repositories again (at most one fetch in flight)."""
        self._later.stop()
        if self._in_flight:
            self._again = True
            return
        self._in_flight = True
        self._stale = False
        self._since.start()
        self._runner.submit(self._service.list_repositories, self._landed, self._failed)

    def _landed(self, repos: list[RepositoryInfo]) -> None:
        self._in_flight = False
        self.loads += 1
        self.last_error = None
        self.view.set_repositories(repos)
        if self._reveal is not None and self.view.select(self._reveal):
            self._reveal = None
        self._follow_up()

    def _failed(self, exc: BaseException) -> None:
        self._in_flight = False
        first = self.last_error is None
        self.last_error = exc
        if first and self._visible():   # once, not at every event while it lasts
            self.show_error("Backup Repositories", exc)
        self._follow_up()

    def _follow_up(self) -> None:
        if self._again:
            self._again = False
            self.refresh()

    def shown(self) -> None:
        """The view became visible: bring it up to date (and say so if it cannot be)."""
        if self._stale or not self.loads or self.last_error is not None:
            self.last_error = None
            self.refresh()

    def _on_refresh_due(self) -> None:
        """Something changed (a job was saved, a session ended...): the jobs and
        the space of the repositories may have too."""
        if not self._visible():
            self._stale = True
            return
        if self._later.isActive():
            return
        elapsed = self._since.elapsed() if self._since.isValid() else AUTO_RESCAN_MS
        self._later.start(max(0, AUTO_RESCAN_MS - elapsed))

    def update_actions(self) -> None:
        self.actions.apply(self.view.selected_repository() is not None)

    def show_error(self, title: str, exc: BaseException) -> None:
        box = show_error(self._window, title, exc)
        self.error_box = box

        def closed(_result: int) -> None:   # the box deletes itself on close
            if self.error_box is box:
                self.error_box = None

        box.finished.connect(closed)

    # -- add -------------------------------------------------------------------------------
    def add(self) -> None:
        if self.repository_wizard is not None:
            self.repository_wizard.raise_()
            self.repository_wizard.activateWindow()
            return
        wizard = RepositoryWizard(self._runner, self._service.test_repository,
                                  self._service.add_repository,
                                  [r.name for r in self.model.repositories()], self._window)
        track(self, "repository_wizard", wizard)
        wizard.added.connect(self._added)
        wizard.open()

    def _added(self, info: object) -> None:
        if isinstance(info, RepositoryInfo):
            self._reveal = info.name
        self.refresh()

    # -- remove ----------------------------------------------------------------------------
    def remove(self) -> None:
        repo = self.view.selected_repository()
        if repo is None or self.remove_question is not None:
            return
        refusal = self._refusal(repo)
        if refusal is not None:
            self.show_error("Remove Repository", ConsoleError(refusal))
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Remove Repository",
                          f"Remove the repository '{repo.name}' from the backup "
                          "infrastructure?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                          self._window)
        box.setObjectName("RemoveRepositoryQuestion")
        box.setInformativeText(
            f"Its data is not deleted: {repo.location} keeps every restore point. They are "
            "no longer listed under Backups, and are again if the repository is added back.")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        track(self, "remove_question", box)

        def answered(_result: int) -> None:
            if box.clickedButton() is box.button(QMessageBox.StandardButton.Yes):
                self._runner.submit(partial(self._service.remove_repository, repo.name),
                                    lambda _r: self.refresh(), self._remove_failed)

        box.finished.connect(answered)
        box.open()

    @staticmethod
    def _refusal(repo: RepositoryInfo) -> str | None:
        """Why the repository cannot be removed, as far as the list knows."""
        if repo.jobs:
            jobs = ", ".join(f"'{job}'" for job in repo.jobs)
            word = "job" if len(repo.jobs) == 1 else "jobs"
            return (f"The repository '{repo.name}' cannot be removed: the {word} {jobs} "
                    f"back{'s' if len(repo.jobs) == 1 else ''} up to it. Point "
                    f"{'it' if len(repo.jobs) == 1 else 'them'} to another repository, "
                    "or delete "
                    f"{'it' if len(repo.jobs) == 1 else 'them'}, first.")
        if repo.default:
            return (f"The repository '{repo.name}' is the data directory's own repository "
                    "and cannot be removed.")
        return None

    def _remove_failed(self, exc: BaseException) -> None:
        self.show_error("Remove Repository", exc)
        self.refresh()
