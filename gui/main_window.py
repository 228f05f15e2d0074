"""The console's main window: ribbon, inventory and navigation panes,
the jobs list and the status bar, wired to the service."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox, QSplitter, QVBoxLayout, QWidget

from core.api import BackupApi
from core.models import JobInfo

from .action_state import action_state
from .actions import JobActions
from .bridge import EventBridge
from .context_menu import build_job_context_menu
from .delete_dialog import DeleteJobDialog
from .inventory import InventoryPane
from .job_controller import JobController
from .jobs_filter import JobsFilterProxy
from .jobs_model import JobsTableModel
from .jobs_view import JobsView
from .navigation import NavigationPane
from .refresher import JobsRefresher
from .resources import icon
from .retry_probe import RetryProbe
from .ribbon import Ribbon, RibbonPage
from .statistics_dialog import StatisticsDialog
from .status_bar import ConsoleStatusBar
from .stop_dialog import StopJobDialog
from .worker import TaskRunner

WINDOW_TITLE = "Agent Backup Console"
LEFT_PANE_WIDTH = 220


class MainWindow(QMainWindow):
    def __init__(self, service: BackupApi, *, owns_service: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MainWindow")
        self.setWindowTitle(WINDOW_TITLE)
        self.setWindowIcon(icon("app"))
        self.service = service
        self._owns_service = owns_service
        self._shut_down = False

        self.runner = TaskRunner(self)
        self.bridge = EventBridge(service.subscribe, self)
        self.model = JobsTableModel(self)
        self.proxy = JobsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.job_actions = JobActions(self)
        self.refresher = JobsRefresher(service.list_jobs, self.model, self.runner, self)
        self.retry_probe = RetryProbe(service.retry_candidates, self.runner, self)

        self.ribbon = Ribbon(self)
        self.home_page = self.ribbon.add_page("Home")
        self.home_page.add_group("Jobs", [self.job_actions.new_backup_job])
        self.job_page: RibbonPage = self.ribbon.add_page("Job", contextual=True)
        self.job_page.add_group("Job Control", self.job_actions.job_control())
        self.job_page.add_group("Manage Job", self.job_actions.manage_job())
        self.job_page.add_group("Details", self.job_actions.details())
        exit_action = self.ribbon.main_menu.addAction("Exit")
        exit_action.triggered.connect(self.close)

        self.inventory = InventoryPane("Home", self)
        self.navigation = NavigationPane(self)
        self.jobs_view = JobsView(self.model, self.proxy,
                                  lambda parent: build_job_context_menu(self.job_actions, parent),
                                  self)
        self.status_bar = ConsoleStatusBar(service.data_dir, self)
        self.setStatusBar(self.status_bar)
        self._build_layout()

        self.controller = JobController(service, self.runner, self.bridge, self.model,
                                        self.job_actions,
                                        self.jobs_view.selected_jobs, self)
        self._wire()
        self.resize(1360, 780)
        self.bridge.mark_dirty()   # first load

    # -- layout ----------------------------------------------------------------------
    def _build_layout(self) -> None:
        left = QSplitter(Qt.Orientation.Vertical, self)
        left.setObjectName("LeftPane")
        left.addWidget(self.inventory)
        left.addWidget(self.navigation)
        left.setStretchFactor(0, 1)
        left.setStretchFactor(1, 0)
        left.setChildrenCollapsible(False)

        body = QSplitter(Qt.Orientation.Horizontal, self)
        body.setObjectName("BodySplitter")
        body.addWidget(left)
        body.addWidget(self.jobs_view)
        body.setStretchFactor(0, 0)
        body.setStretchFactor(1, 1)
        body.setSizes([LEFT_PANE_WIDTH, 1360 - LEFT_PANE_WIDTH])
        body.setChildrenCollapsible(False)

        central = QWidget(self)
        central.setObjectName("Central")
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.ribbon)
        layout.addWidget(body, 1)
        self.setCentralWidget(central)

    def _wire(self) -> None:
        self.bridge.refreshDue.connect(self.refresher.request)
        self.refresher.refreshed.connect(self._on_refreshed)
        self.refresher.failed.connect(lambda exc: self.controller.show_error("Jobs", exc))
        self.bridge.serverConnection.connect(self.status_bar.show_server)
        self.runner.failed.connect(lambda exc: self.controller.show_error(WINDOW_TITLE, exc))
        self.jobs_view.selectionChanged.connect(self._on_selection)
        self.model.dataChanged.connect(lambda *_: self.update_actions())
        # Rows leaving the view (deleted, or filtered out) leave the selection too.
        self.proxy.rowsRemoved.connect(lambda *_: self._on_selection())
        self.proxy.layoutChanged.connect(lambda *_: self._on_selection())
        self.proxy.modelReset.connect(self._on_selection)
        self.retry_probe.changed.connect(self.update_actions)
        self.inventory.scopeChanged.connect(self.proxy.set_scope)

    # -- dialog handles (the one showing, if any) ---------------------------------------
    @property
    def stop_dialog(self) -> StopJobDialog | None:
        return self.controller.stop_dialog

    @property
    def delete_dialog(self) -> DeleteJobDialog | None:
        return self.controller.delete_dialog

    @property
    def statistics_dialog(self) -> StatisticsDialog | None:
        return self.controller.statistics_dialog

    @property
    def error_box(self) -> QMessageBox | None:
        return self.controller.error_box

    def after_next_refresh(self, callback: Callable[[], None]) -> None:
        """Call back once the jobs list has been fetched and shown again."""
        self.refresher.refreshed.connect(lambda _jobs: callback(),
                                         Qt.ConnectionType.SingleShotConnection)
        self.bridge.mark_dirty()

    # -- state -------------------------------------------------------------------------------
    def _on_refreshed(self, jobs: list[JobInfo]) -> None:
        self.status_bar.show_jobs(jobs)
        self.retry_probe.ensure(self.jobs_view.selected_jobs())
        self.update_actions()

    def _on_selection(self) -> None:
        selected = self.jobs_view.selected_jobs()
        self.ribbon.show_contextual(self.job_page, bool(selected))
        self.retry_probe.ensure(selected)
        self.update_actions()

    def update_actions(self) -> None:
        selected = self.jobs_view.selected_jobs()
        self.job_actions.apply(action_state(selected, self.retry_probe.has_candidates))

    # -- closing --------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Jobs run in the backup server: closing the console never stops one."""
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop listening and wait for background calls; close the service if ours."""
        if self._shut_down:
            return
        self._shut_down = True
        self.bridge.close()
        self.runner.shutdown()
        if self._owns_service:
            self.service.close()
