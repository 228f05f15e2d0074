"""The console's main window: ribbon, inventory and navigation panes,
the jobs list and the status bar, wired to the service."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QSettings, Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox, QSplitter, QVBoxLayout, QWidget

from core.api import BackupApi
from core.models import JobInfo

from .action_state import action_state
from .actions import JobActions, WindowActions
from .bridge import EventBridge
from .context_menu import build_job_context_menu
from .delete_dialog import DeleteJobDialog
from .help_dialogs import AboutDialog, HelpDialog
from .inventory import InventoryPane
from .job_controller import JobController
from .job_wizard import JobWizard
from .jobs_filter import JobsFilterProxy
from .jobs_model import JobsTableModel
from .jobs_view import JobsView
from .navigation import NavigationPane
from .refresher import JobsRefresher
from .resources import icon
from .retry_probe import RetryProbe
from .ribbon import Ribbon, RibbonPage
from .settings import console_settings
from .statistics_dialog import StatisticsDialog
from .status_bar import ConsoleStatusBar
from .stop_dialog import StopJobDialog
from .tracking import track
from .worker import TaskRunner

WINDOW_TITLE = "Agent Backup Console"
LEFT_PANE_WIDTH = 220
DEFAULT_SIZE = (1360, 780)
JOB_TOOLS = "Job Tools"

# QSettings keys
GEOMETRY_KEY = "window/geometry"
BODY_SPLITTER_KEY = "window/bodySplitter"
LEFT_SPLITTER_KEY = "window/leftSplitter"
JOBS_HEADER_KEY = "jobs/header"


class MainWindow(QMainWindow):
    def __init__(self, service: BackupApi, *, owns_service: bool = False,
                 settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MainWindow")
        self.setWindowTitle(WINDOW_TITLE)
        self.setWindowIcon(icon("app"))
        self.service = service
        self.settings = settings if settings is not None else console_settings()
        self._owns_service = owns_service
        self._shut_down = False
        self._reveal_pending: str | None = None
        self.server_connected: bool | None = None
        self.help_dialog: HelpDialog | None = None
        self.about_dialog: AboutDialog | None = None

        self.runner = TaskRunner(self)
        self.bridge = EventBridge(service.subscribe, self)
        self.model = JobsTableModel(self)
        self.proxy = JobsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.job_actions = JobActions(self)
        self.window_actions = WindowActions(self)
        self.addActions(self.window_actions.all())
        self.refresher = JobsRefresher(service.list_jobs, self.model, self.runner, self)
        self.retry_probe = RetryProbe(service.retry_candidates, self.runner, self)

        self.ribbon = Ribbon(self)
        self.home_page = self.ribbon.add_page("Home")
        self.home_page.add_group("Jobs", [self.job_actions.new_backup_job])
        self.job_page: RibbonPage = self.ribbon.add_page("Job", contextual=JOB_TOOLS)
        self.job_page.add_group("Job Control", self.job_actions.job_control())
        self.job_page.add_group("Manage Job", self.job_actions.manage_job())
        self.job_page.add_group("Details", self.job_actions.details())
        menu = self.ribbon.main_menu
        menu.addAction(self.window_actions.refresh)
        menu.addSeparator()
        menu.addAction(self.window_actions.help)
        menu.addAction(self.window_actions.about)
        menu.addSeparator()
        menu.addAction(self.window_actions.exit)

        self.inventory = InventoryPane("Home", self)
        self.navigation = NavigationPane(self)
        self.jobs_view = JobsView(self.model, self.proxy,
                                  lambda parent: build_job_context_menu(self.job_actions, parent),
                                  self, new_job=self.job_actions.new_backup_job,
                                  keyboard=self.job_actions.keyboard())
        self.status_bar = ConsoleStatusBar(service.data_dir, self)
        self.setStatusBar(self.status_bar)
        self._build_layout()

        self.controller = JobController(service, self.runner, self.bridge, self.model,
                                        self.job_actions,
                                        self.jobs_view.selected_jobs, self,
                                        reveal=self.reveal_job)
        self._wire()
        self.resize(*DEFAULT_SIZE)
        self.restore_settings()
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
        self.left_splitter = left

        body = QSplitter(Qt.Orientation.Horizontal, self)
        body.setObjectName("BodySplitter")
        body.addWidget(left)
        body.addWidget(self.jobs_view)
        body.setStretchFactor(0, 0)
        body.setStretchFactor(1, 1)
        body.setSizes([LEFT_PANE_WIDTH, DEFAULT_SIZE[0] - LEFT_PANE_WIDTH])
        body.setChildrenCollapsible(False)
        self.body_splitter = body

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
        self.bridge.serverConnection.connect(self._on_server_connection)
        self.runner.failed.connect(lambda exc: self.controller.show_error(WINDOW_TITLE, exc))
        self.jobs_view.selectionChanged.connect(self._on_selection)
        self.jobs_view.editRequested.connect(self._edit_requested)
        self.model.dataChanged.connect(lambda *_: self.update_actions())
        # Rows leaving the view (deleted, or filtered out) leave the selection too.
        self.proxy.rowsRemoved.connect(lambda *_: self._on_selection())
        self.proxy.layoutChanged.connect(lambda *_: self._on_selection())
        self.proxy.modelReset.connect(self._on_selection)
        self.retry_probe.changed.connect(self.update_actions)
        self.inventory.scopeChanged.connect(self.proxy.set_scope)
        actions = self.window_actions
        actions.find.triggered.connect(self.jobs_view.focus_search)
        actions.refresh.triggered.connect(self.bridge.mark_dirty)
        actions.help.triggered.connect(self.show_help)
        actions.about.triggered.connect(self.show_about)
        actions.exit.triggered.connect(self.close)

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
    def job_wizard(self) -> JobWizard | None:
        return self.controller.job_wizard

    @property
    def error_box(self) -> QMessageBox | None:
        return self.controller.error_box

    def after_next_refresh(self, callback: Callable[[], None]) -> None:
        """Call back once the jobs list has been fetched and shown again."""
        self.refresher.refreshed.connect(lambda _jobs: callback(),
                                         Qt.ConnectionType.SingleShotConnection)
        self.bridge.mark_dirty()

    # -- help and about ----------------------------------------------------------------------
    def show_help(self) -> None:
        if self.help_dialog is not None:
            self.help_dialog.raise_()
            self.help_dialog.activateWindow()
            return
        dialog = HelpDialog(self)
        track(self, "help_dialog", dialog)
        dialog.show()

    def show_about(self) -> None:
        if self.about_dialog is not None:
            return
        address = str(getattr(self.service, "address", ""))
        dialog = AboutDialog(self.service.data_dir, address, self.server_connected, self)
        track(self, "about_dialog", dialog)
        dialog.open()
        server_info: Callable[[], dict[str, Any]] | None = getattr(self.service, "server_info",
                                                                    None)
        if server_info is not None:
            def show(info: dict[str, Any]) -> None:
                if self.about_dialog is dialog:
                    dialog.set_server_info(info)

            def failed(_exc: BaseException) -> None:
                if self.about_dialog is dialog:
                    dialog.set_server_info(None)

            self.runner.submit(server_info, show, failed)

    def _on_server_connection(self, connected: bool, _address: str) -> None:
        self.server_connected = connected

    # -- state -------------------------------------------------------------------------------
    def _on_refreshed(self, jobs: list[JobInfo]) -> None:
        self.jobs_view.set_loaded()
        self.status_bar.show_jobs(jobs)
        if self._reveal_pending is not None and self.model.row_of(self._reveal_pending) is not None:
            name, self._reveal_pending = self._reveal_pending, None
            self._select(name)
        self.retry_probe.ensure(self.jobs_view.selected_jobs())
        self.update_actions()

    def reveal_job(self, name: str) -> None:
        """Select ``name`` in the list as soon as the list shows it."""
        if self.model.row_of(name) is not None:
            self._reveal_pending = None
            self._select(name)
        else:
            self._reveal_pending = name
        self.bridge.mark_dirty()

    def _select(self, name: str) -> None:
        """Select the job, first showing it if the search or the inventory node hid it."""
        if not self.jobs_view.proxy_index_of(name).isValid():
            self.jobs_view.search.clear()
        if not self.jobs_view.proxy_index_of(name).isValid():
            self.inventory.select("Jobs")
        self.jobs_view.select_jobs(name)
        index = self.jobs_view.proxy_index_of(name)
        if index.isValid():
            self.jobs_view.table.scrollTo(index)
        self.jobs_view.table.setFocus()

    def _on_selection(self) -> None:
        selected = self.jobs_view.selected_jobs()
        self.ribbon.show_contextual(self.job_page, bool(selected))
        self.retry_probe.ensure(selected)
        self.update_actions()

    def _edit_requested(self) -> None:
        if self.job_actions.edit.isEnabled():
            self.job_actions.edit.trigger()

    def update_actions(self) -> None:
        selected = self.jobs_view.selected_jobs()
        self.job_actions.apply(action_state(selected, self.retry_probe.has_candidates))

    def event(self, event: QEvent) -> bool:
        """Hovering an action shows its tip in a tooltip; the status bar keeps
        the job counts (a status tip would hide them)."""
        if event.type() == QEvent.Type.StatusTip:
            return True
        return super().event(event)

    # -- remembered layout ------------------------------------------------------------------
    def restore_settings(self) -> None:
        """Window size and place, pane sizes, and the jobs list's columns and sort."""
        s = self.settings
        geometry = s.value(GEOMETRY_KEY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        for key, splitter in ((BODY_SPLITTER_KEY, self.body_splitter),
                              (LEFT_SPLITTER_KEY, self.left_splitter)):
            state = s.value(key)
            if isinstance(state, QByteArray) and not state.isEmpty():
                splitter.restoreState(state)
        header = s.value(JOBS_HEADER_KEY)
        if isinstance(header, QByteArray):
            self.jobs_view.restore_header_state(header)

    def save_settings(self) -> None:
        s = self.settings
        s.setValue(GEOMETRY_KEY, self.saveGeometry())
        s.setValue(BODY_SPLITTER_KEY, self.body_splitter.saveState())
        s.setValue(LEFT_SPLITTER_KEY, self.left_splitter.saveState())
        s.setValue(JOBS_HEADER_KEY, self.jobs_view.header_state())
        s.sync()

    # -- closing --------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Jobs run in the backup server: closing the console never stops one."""
        if not self._shut_down:
            self.save_settings()
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
