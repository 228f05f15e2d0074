"""The Backup Infrastructure view's commands (Add Repository, Remove,
Rescan) and keeping its repositories list up to date.

Every facade call runs on the TaskRunner; the Add Repository wizard and the
questions open with ``open()`` and are kept as attributes while they show, so
the window, and tests, can reach them.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QElapsedTimer, QObject, QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from core.api import BackupApi, RepositoryInfo
from core.errors import ConsoleError

from gui.infrastructure.actions import RepositoryActions
from gui.infrastructure.infrastructure_view import (
    VIEW_NAME, InfrastructureView, build_repository_menu,
)
from gui.infrastructure.repositories_model import RepositoriesModel
from gui.infrastructure.repository_wizard import RepositoryWizard
from gui.runtime.bridge import EventBridge
from gui.runtime.tracking import track
from gui.runtime.worker import TaskRunner
from gui.widgets.error_box import show_error
from gui.widgets.inventory import INFRASTRUCTURE_TREE, REPOSITORIES_NODE, InventoryPane

AUTO_RESCAN_MS = 3000     # events refresh the list at most this often (a rescan may be slow)


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
        self.view: InfrastructureView = InfrastructureView(
            self.model, lambda parent: build_repository_menu(self.actions, parent),
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
