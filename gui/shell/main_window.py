"""The console's main window: ribbon, inventory and navigation panes,
the jobs list and the status bar, wired to the service."""
from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import (
    QMainWindow, QMessageBox, QSplitter, QStackedWidget, QVBoxLayout, QWidget,
)

from core.api import BackupApi, LastDayCounts
from core.models import JobInfo, Me, SessionType

from gui.jobs.action_state import ActionState, action_state, may_retry
from gui.backups.actions import BackupActions
from gui.history.actions import SessionActions
from gui.jobs.actions import JobActions
from gui.infrastructure.actions import RepositoryActions
from gui.shell.actions import WindowActions
from gui.backups.backups_controller import BackupsController
from gui.runtime.bridge import EventBridge
from gui.jobs.context_menu import build_job_context_menu
from gui.history.audit_view import AUDIT_NODE, AuditView
from gui.history.history_view import SessionsView
from gui.jobs.delete_dialog import DeleteJobDialog
from gui.shell.help_dialogs import AboutDialog, HelpDialog
from gui.connect.backend import Connected
from gui.connect.connect_dialog import ConnectDialog
from gui.shell.maintenance_dialog import MaintenanceDialog
from gui.shell.notifications_dialog import NotificationsDialog
from gui.infrastructure.infrastructure_controller import InfrastructureController
from gui.infrastructure.infrastructure_view import VIEW_NAME as INFRASTRUCTURE
from gui.widgets.inventory import InventoryPane
from gui.jobs.job_controller import JobController
from gui.jobs.wizard.copy_wizard import CopyJobWizard
from gui.jobs.wizard.wizard import JobWizard
from gui.jobs.jobs_filter import JobsFilterProxy
from gui.jobs.jobs_live import LiveJobs
from gui.jobs.jobs_model import JobsTableModel
from gui.jobs.jobs_view import JobsView
from gui.shell.navigation import NavigationPane
from gui.overview.overview_controller import OverviewController
from gui.jobs.refresher import JobsRefresher
from gui.widgets.actions import permit_all
from gui.widgets.resources import icon
from gui.widgets.scope import JobScope
from gui.jobs.retry_probe import RetryProbe
from gui.backups.restore_dialog import RestoreDialog
from gui.infrastructure.repository_wizard import RepositoryWizard
from gui.shell.ribbon import Ribbon, RibbonPage
from gui.history.sessions_controller import SessionsController
from gui.runtime.settings import console_settings
from gui.jobs.statistics_dialog import StatisticsDialog
from gui.shell.status_bar import ConsoleStatusBar
from gui.jobs.stop_dialog import StopJobDialog
from gui.runtime.tracking import track
from gui.runtime.worker import TaskRunner

log = logging.getLogger(__name__)

WINDOW_TITLE = "Agent Backup Console"
LEFT_PANE_WIDTH = 220
DEFAULT_SIZE = (1360, 780)
# what a console node hands the window for its contextual ribbon page
NodeActions = JobActions | BackupActions | SessionActions | RepositoryActions

# The History view's inventory: every session, or one type.
HISTORY_TREE = [("All Sessions", "history", None, [
    ("Backup", "backup_job", SessionType.BACKUP),
    ("Backup Copy", "backup_copy", SessionType.COPY),
    ("Restore", "restore", SessionType.RESTORE),
    ("Verify", "verify", SessionType.VERIFY),
    ("Maintenance", "repository", SessionType.MAINTENANCE),
]), (AUDIT_NODE, "report", AUDIT_NODE, [])]

# QSettings keys
GEOMETRY_KEY = "window/geometry"
BODY_SPLITTER_KEY = "window/bodySplitter"
LEFT_SPLITTER_KEY = "window/leftSplitter"
JOBS_HEADER_KEY = "jobs/header"
REPOSITORIES_HEADER_KEY = "repositories/header"


def _worth_asking(selected: list[JobInfo]) -> list[JobInfo]:
    """Retry applies only when every selected job may retry: otherwise asking
    the server about each (hundreds, after Ctrl+A) cannot enable it."""
    return selected if all(may_retry(job) for job in selected) else []


_REFREEZE_AFTER_JOBS = 1000


class MainWindow(QMainWindow):
    def __init__(self, service: BackupApi, *, owns_service: bool = False,
                 settings: QSettings | None = None, parent: QWidget | None = None,
                 connection: Connected | None = None) -> None:
        """``connection``: the server on another machine and the user logged in there
        (the Connect window's answer); None for this machine's server, as its owner."""
        super().__init__(parent)
        self.setObjectName("MainWindow")
        self.setWindowTitle(WINDOW_TITLE)
        self.setWindowIcon(icon("app"))
        self.service = service
        self.connection = connection
        self.connect_dialog: ConnectDialog | None = None
        self.successor: MainWindow | None = None   # the window Connect opened instead
        self.settings = settings if settings is not None else console_settings()
        self._owns_service = owns_service
        self._shut_down = False
        self._reveal_pending: str | None = None
        self._roster_shown = -1      # the jobs model's roster the History filter offers
        self._loaded_frozen = False  # gc.freeze() done (after the first jobs list)
        self._fetched_since_freeze = 0
        self.server_connected: bool | None = None
        self.role: Me | None = None   # who the server says the console runs as
        self.help_dialog: HelpDialog | None = None
        self.about_dialog: AboutDialog | None = None
        self.maintenance_dialog: MaintenanceDialog | None = None
        self.notifications_dialog: NotificationsDialog | None = None

        self.runner = TaskRunner(self)
        self.bridge = EventBridge(service.subscribe, self)
        self.model = JobsTableModel(self)
        self.proxy = JobsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.job_actions = JobActions(self)
        self.window_actions = WindowActions(self)
        self.addActions(self.window_actions.all())
        self.refresher = JobsRefresher(service.list_jobs, self.model, self.runner, self)
        self.live_jobs = LiveJobs(service.list_history, self.refresher, self.model, self.runner,
                                  self)
        self.retry_probe = RetryProbe(service.retry_candidates, self.runner, self)
        self.infrastructure = InfrastructureController(
            service, self.runner, self.bridge, self,
            visible=lambda: self.work.currentWidget() is self.infrastructure.view)

        self.jobs_view = JobsView(self.model, self.proxy,
                                  lambda parent: build_job_context_menu(self.job_actions, parent),
                                  self, new_job=self.job_actions.new_backup_job,
                                  new_jobs=self.job_actions.new_jobs(),
                                  keyboard=self.job_actions.keyboard())

        # The jobs and sessions nodes serve each other (Statistics stops a session
        # and saves its report; History opens Statistics and stops a backup): each
        # gets the other's commands in its constructor, the later one through a lambda.
        self.controller = JobController(
            service, self.runner, self.bridge, self.model, self.job_actions,
            self.jobs_view.selected_jobs, self, reveal=self.reveal_job,
            stop_session=lambda sid, job, kind: self.sessions.stop_session(sid, job, kind),
            save_report=lambda sid: self.sessions.save_report(sid),
            notify=lambda text: self.status_bar.show_notice(text))
        self.overview = OverviewController(
            service, self.runner, self.bridge, self,
            visible=lambda: self.work.currentWidget() is self.overview_view)
        self.overview_view = self.overview.view
        self.backups = BackupsController(
            service, self.runner, self.bridge, self.model, self,
            visible=lambda: self.work.currentWidget() is self.backups_view)
        self.sessions = SessionsController(
            service, self.runner, self.bridge, self, current=self._current_sessions_view,
            open_statistics=lambda job, sid: self.controller.open_statistics(job, sid),
            stop_backup=self.controller.stop_job_named)
        # what the Backups and History nodes hand the window to place
        self.backup_actions, self.backups_view = self.backups.actions, self.backups.view
        self.backups_model = self.backups.model
        self.session_actions = self.sessions.actions
        self.recent_view, self.history_view = self.sessions.recent_view, self.sessions.history_view
        self.recent_model, self.history_model = self.recent_view.model, self.history_view.model
        self.audit_view = AuditView(service, self.runner, self)

        self.ribbon = Ribbon(self)
        self.home_page = self.ribbon.add_page("Home")
        self.home_page.add_group("Jobs", [self.job_actions.new_backup_job])
        # each node says which contextual page and groups its actions make
        self.job_page = self._contextual_page(self.job_actions)
        self.backup_page = self._contextual_page(self.backup_actions)
        self.session_page = self._contextual_page(self.session_actions)
        self.repository_page = self._contextual_page(self.infrastructure.actions)
        menu = self.ribbon.main_menu
        menu.addAction(self.window_actions.refresh)
        menu.addSeparator()
        self.options_menu = menu.addMenu("Options")
        self.options_menu.addAction(self.window_actions.maintenance)
        self.options_menu.addAction(self.window_actions.notifications)
        menu.addSeparator()
        menu.addAction(self.window_actions.help)
        menu.addAction(self.window_actions.about)
        menu.addSeparator()
        menu.addAction(self.window_actions.connect_server)
        menu.addSeparator()
        menu.addAction(self.window_actions.exit)

        self.inventory = InventoryPane("Home", self)
        self.history_inventory = InventoryPane("History", self, tree=HISTORY_TREE,
                                               first="All Sessions")
        self.navigation = NavigationPane(self)
        self.status_bar = ConsoleStatusBar(service.data_dir, self)
        if connection is not None:
            self.status_bar.show_remote(connection.address, connection.user, connection.role)
            self.setWindowTitle(f"{WINDOW_TITLE} - {connection.address}")
        self.setStatusBar(self.status_bar)
        self._build_layout()

        self._wire()
        self.resize(*DEFAULT_SIZE)
        self.restore_settings()
        self.bridge.mark_dirty()   # first load
        self.fetch_role()

    def _contextual_page(self, actions: NodeActions) -> RibbonPage:
        page = self.ribbon.add_page(actions.RIBBON_PAGE, contextual=actions.RIBBON_TOOLS)
        for title, group in actions.ribbon_groups():
            page.add_group(title, group)
        return page

    # -- layout ----------------------------------------------------------------------
    def _build_layout(self) -> None:
        left = QSplitter(Qt.Orientation.Vertical, self)
        left.setObjectName("LeftPane")
        self.inventories = QStackedWidget(self)
        self.inventories.addWidget(self.inventory)
        self.inventories.addWidget(self.history_inventory)
        self.inventories.addWidget(self.infrastructure.inventory)
        left.addWidget(self.inventories)
        left.addWidget(self.navigation)
        left.setStretchFactor(0, 1)
        left.setStretchFactor(1, 0)
        left.setChildrenCollapsible(False)
        self.left_splitter = left

        body = QSplitter(Qt.Orientation.Horizontal, self)
        body.setObjectName("BodySplitter")
        body.addWidget(left)
        self.work = QStackedWidget(self)
        self.work.setObjectName("WorkArea")
        for view in (self.overview_view, self.jobs_view, self.recent_view, self.backups_view,
                     self.history_view, self.audit_view):
            self.work.addWidget(view)
        self.work.addWidget(self.infrastructure.view)
        body.addWidget(self.work)
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
        self.bridge.jobsDue.connect(self.live_jobs.apply)
        self.refresher.refreshed.connect(self._on_refreshed)
        self.refresher.failed.connect(lambda exc: self.controller.show_error("Jobs", exc))
        self.bridge.serverConnection.connect(self.status_bar.show_server)
        self.bridge.serverConnection.connect(self._on_server_connection)
        self.runner.failed.connect(lambda exc: self.controller.show_error(WINDOW_TITLE, exc))
        self.jobs_view.selectionChanged.connect(self._on_selection)
        self.jobs_view.editRequested.connect(self._edit_requested)
        self.jobs_view.columnsChanged.connect(
            lambda: self.settings.setValue(JOBS_HEADER_KEY, self.jobs_view.header_state()))
        self.model.updated.connect(self.update_actions)
        # Rows leaving the view (deleted, or filtered out) leave the selection too.
        self.proxy.rowsRemoved.connect(lambda *_: self._on_selection())
        self.proxy.layoutChanged.connect(lambda *_: self._on_selection())
        self.proxy.modelReset.connect(self._on_selection)
        self.retry_probe.changed.connect(self.update_actions)
        self.inventory.scopeChanged.connect(self._home_node)
        self.overview.countsChanged.connect(self._show_counts)
        self.overview_view.nodeRequested.connect(self.inventory.select)
        self.overview_view.statisticsRequested.connect(
            lambda job, sid: self.controller.open_statistics(job, sid))
        self.history_inventory.scopeChanged.connect(self._history_node)
        self.bridge.jobsDue.connect(
            lambda changes: self.audit_view.refresh()
            if self.work.currentWidget() is self.audit_view and (changes.full or changes.jobs)
            else None)
        self.navigation.viewChanged.connect(self.show_view)
        self.backups_view.selectionChanged.connect(self._on_work_selection)
        for view in (self.recent_view, self.history_view):
            view.selectionChanged.connect(self._on_work_selection)
        actions = self.window_actions
        actions.find.triggered.connect(self.jobs_view.focus_search)
        actions.refresh.triggered.connect(self.bridge.mark_dirty)
        actions.refresh.triggered.connect(
            lambda: self.overview.refresh_repositories()
            if self.work.currentWidget() is self.overview_view else None)
        actions.refresh.triggered.connect(
            lambda: self.infrastructure.refresh()
            if self.work.currentWidget() is self.infrastructure.view else None)
        actions.refresh.triggered.connect(
            lambda: self.audit_view.refresh()
            if self.work.currentWidget() is self.audit_view else None)
        self.infrastructure.view.selectionChanged.connect(self._on_work_selection)
        actions.help.triggered.connect(self.show_help)
        actions.about.triggered.connect(self.show_about)
        actions.maintenance.triggered.connect(self.show_maintenance)
        actions.notifications.triggered.connect(self.show_notifications)
        actions.connect_server.triggered.connect(self.show_connect)
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
    def job_wizard(self) -> JobWizard | CopyJobWizard | None:
        return self.controller.job_wizard

    @property
    def restore_dialog(self) -> RestoreDialog | None:
        return self.backups.restore_dialog

    @property
    def repository_wizard(self) -> RepositoryWizard | None:
        return self.infrastructure.repository_wizard

    # -- views: Home (jobs, Last 24 Hours, Backups) and History --------------------------
    def show_view(self, name: str) -> None:
        """The navigation pane's views: Home, Backup Infrastructure and History."""
        if name == INFRASTRUCTURE:
            self.inventories.setCurrentWidget(self.infrastructure.inventory)
            self.work.setCurrentWidget(self.infrastructure.view)
            self.infrastructure.shown()
        elif name == "History":
            self.inventories.setCurrentWidget(self.history_inventory)
            self._history_node(self.history_inventory.scope, opened=True)
        else:
            self.inventories.setCurrentWidget(self.inventory)
            self._home_node(self.inventory.scope)
        if self.navigation.current != name:
            self.navigation.buttons[name].setChecked(True)
        self._on_selection()

    def _history_node(self, kind: SessionType | str | None, *, opened: bool = False) -> None:
        """A History inventory node: the sessions (all, or one type) or the audit trail;
        ``opened``: the History view was just opened (its sessions list catches up)."""
        if kind == AUDIT_NODE:
            self.work.setCurrentWidget(self.audit_view)
            self.audit_view.refresh()
        else:
            # Qt hands a str enum back as a plain str: SessionType compares equal to it
            switched = self.work.currentWidget() is not self.history_view
            self.work.setCurrentWidget(self.history_view)
            self.sessions.show_types(self.history_view, SessionType(kind) if kind else None)
            if opened or switched:
                self.sessions.shown(self.history_view)

    def _home_node(self, scope: JobScope) -> None:
        """A Home inventory node: the jobs list, the day's sessions, or the backups."""
        if self.inventories.currentWidget() is not self.inventory:
            return
        if scope is JobScope.OVERVIEW:
            self.work.setCurrentWidget(self.overview_view)
            self.overview.shown()
        elif scope.lists_sessions:
            self.work.setCurrentWidget(self.recent_view)
            self.sessions.show_recent(self.recent_view, scope)
        elif scope is JobScope.BACKUPS:
            self.work.setCurrentWidget(self.backups_view)
            self.backups.shown()
        else:
            self.work.setCurrentWidget(self.jobs_view)
        self.proxy.set_scope(scope)
        self._on_selection()

    def _show_counts(self, counts: LastDayCounts) -> None:
        """The Last 24 Hours nodes say how many sessions each lists."""
        for path, count in (("Last 24 Hours", counts.total),
                            ("Last 24 Hours/Running", counts.running),
                            ("Last 24 Hours/Success", counts.success),
                            ("Last 24 Hours/Warning", counts.warning),
                            ("Last 24 Hours/Failed", counts.failed)):
            self.inventory.set_count(path, count)

    def _current_sessions_view(self) -> SessionsView | None:
        current = self.work.currentWidget()
        return current if isinstance(current, SessionsView) else None

    def _on_work_selection(self) -> None:
        current = self.work.currentWidget()
        self.ribbon.show_contextual(
            self.backup_page, current is self.backups_view
            and self.backups_view.selected_node() is not None)
        sessions = self._current_sessions_view()
        self.ribbon.show_contextual(self.session_page, sessions is not None
                                    and bool(sessions.selected_sessions()))
        self.ribbon.show_contextual(self.repository_page,
                                    current is self.infrastructure.view)
        self.infrastructure.update_actions()
        self.backups.update_actions()
        self.sessions.update_actions()

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

    def show_maintenance(self) -> None:
        """Main menu → Options → Maintenance: the server-wide maintenance window."""
        if self.maintenance_dialog is not None:
            self.maintenance_dialog.raise_()
            return
        dialog = MaintenanceDialog(self.service, self.runner, self)
        track(self, "maintenance_dialog", dialog)
        dialog.open()

    def show_notifications(self) -> None:
        """Main menu → Options → Notifications: e-mail and notification URLs."""
        if self.notifications_dialog is not None:
            self.notifications_dialog.raise_()
            return
        dialog = NotificationsDialog(self.service, self.runner, self)
        track(self, "notifications_dialog", dialog)
        dialog.open()

    def show_connect(self) -> None:
        """Main menu → Connect to Backup Server: on success the console reopens on
        that server, as that user; this window closes (its server's jobs run on)."""
        if self.connect_dialog is not None:
            self.connect_dialog.raise_()
            return
        from gui.connect.tls_backend import TlsConnectBackend   # the TLS client, when asked

        dialog = ConnectDialog(TlsConnectBackend(), self.settings, self.runner, self)
        track(self, "connect_dialog", dialog)
        dialog.accepted.connect(lambda: self._reopen_on(dialog.connected))
        dialog.open()

    def _reopen_on(self, connected: Connected | None) -> None:
        if connected is None:
            return
        self.successor = MainWindow(connected.api, owns_service=True, settings=self.settings,
                                    connection=connected)
        self.successor.setGeometry(self.geometry())
        self.successor.show()
        self.close()

    def show_about(self) -> None:
        if self.about_dialog is not None:
            return
        dialog = AboutDialog(self.service.data_dir, self.service.address, self.server_connected, self)
        track(self, "about_dialog", dialog)
        dialog.open()
        if self.service.address:   # a server process to ask about itself
            def show(info: dict[str, Any] | None) -> None:
                if self.about_dialog is dialog:
                    dialog.set_server_info(info)

            def failed(_exc: BaseException) -> None:
                if self.about_dialog is dialog:
                    dialog.set_server_info(None)

            self.runner.submit(self.service.server_info, show, failed)

    def _on_server_connection(self, connected: bool, _address: str) -> None:
        self.server_connected = connected
        if connected:   # a server (re)started, perhaps with the user's role changed
            self.fetch_role()

    # -- the user's role -------------------------------------------------------------------
    def fetch_role(self) -> None:
        """Ask the server who the console runs as; commands the role does not allow
        are greyed out, their tooltips saying why."""
        self.runner.submit(self.service.whoami, self.apply_role,
                           lambda exc: log.info("who am I: %s (every command left on)", exc))

    def apply_role(self, me: Me | None) -> None:
        self.role = me
        permit_all(self.findChildren(QAction), me)

    # -- state -------------------------------------------------------------------------------
    def _on_refreshed(self, fetched: list[JobInfo]) -> None:
        """The list was updated (whole, or a few jobs merged into it): what
        depends on it follows, at a cost that does not grow with the jobs fetched."""
        model = self.model
        self.jobs_view.set_loaded()
        self._fetched_since_freeze += len(fetched)
        if not self._loaded_frozen or self._fetched_since_freeze >= _REFREEZE_AFTER_JOBS:
            # The jobs list lives as long as the window: keep the collector from
            # walking it again. With 2,000 jobs each full collection cost the GUI
            # thread 60 to 80 ms (a visible stall); frozen, it walks only what was
            # made since. Frozen again once about a list's worth was replaced
            # (a burst of starts); replaced jobs are still freed (no cycles).
            self._loaded_frozen = True
            self._fetched_since_freeze = 0
            gc.freeze()
        if self._roster_shown != model.roster:   # jobs added or removed
            self._roster_shown = model.roster
            self.history_view.set_jobs([job.name for job in model.jobs()])
        self.status_bar.show_counts(model.running_count(), model.rowCount())
        if self._reveal_pending is not None and model.row_of(self._reveal_pending) is not None:
            name, self._reveal_pending = self._reveal_pending, None
            self._select(name)
        selected = self.jobs_view.selected_jobs()
        self.retry_probe.ensure(_worth_asking(selected))
        self._apply_actions(selected)

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
        if not self.jobs_view.proxy_index_of(name).isValid() or \
                self.work.currentWidget() is not self.jobs_view:
            if self.navigation.current != "Home":
                self.show_view("Home")
            self.inventory.select("Jobs")
        self.jobs_view.select_jobs(name)
        index = self.jobs_view.proxy_index_of(name)
        if index.isValid():
            self.jobs_view.table.scrollTo(index)
        self.jobs_view.table.setFocus()

    def _on_selection(self) -> None:
        selected = self.jobs_view.selected_jobs()
        self.ribbon.show_contextual(self.job_page, bool(selected) and self._jobs_current())
        self.retry_probe.ensure(_worth_asking(selected))
        self._apply_actions(selected)
        self._on_work_selection()

    def _jobs_current(self) -> bool:
        return self.work.currentWidget() is self.jobs_view

    def _edit_requested(self) -> None:
        if self.job_actions.edit.isEnabled():
            self.job_actions.edit.trigger()

    def update_actions(self) -> None:
        self._apply_actions(self.jobs_view.selected_jobs())

    def _apply_actions(self, selected: list[JobInfo]) -> None:
        if not self._jobs_current():
            selected = []
        state = action_state(selected, self.retry_probe.has_candidates) if selected \
            else ActionState()
        self.job_actions.apply(state)

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
        header = s.value(REPOSITORIES_HEADER_KEY)
        if isinstance(header, QByteArray):
            self.infrastructure.view.restore_header_state(header)

    def save_settings(self) -> None:
        s = self.settings
        s.setValue(GEOMETRY_KEY, self.saveGeometry())
        s.setValue(BODY_SPLITTER_KEY, self.body_splitter.saveState())
        s.setValue(LEFT_SPLITTER_KEY, self.left_splitter.saveState())
        s.setValue(JOBS_HEADER_KEY, self.jobs_view.header_state())
        s.setValue(REPOSITORIES_HEADER_KEY, self.infrastructure.view.header_state())
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
        if self._loaded_frozen:
            gc.unfreeze()   # what the window held may be collected again
        self.bridge.close()
        self.runner.shutdown()
        if self._owns_service:
            self.service.close()
