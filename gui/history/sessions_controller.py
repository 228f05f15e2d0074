"""Sessions lists and their commands: the History view, the Home view's Last
24 Hours nodes, and Statistics, Report and Stop on the selected session."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QWidget

from core.api import BackupApi
from core.models import SessionInfo, SessionResult, SessionSummary, SessionType

from gui.history.actions import SessionActions
from gui.runtime.bridge import EventBridge
from gui.widgets.error_box import show_error
from gui.widgets.formatting import JOB_SESSIONS
from gui.history.history_model import SessionFilter, SessionsModel
from gui.history.history_view import SessionsView
from gui.history.report import open_in_browser, save_report
from gui.runtime.worker import TaskRunner
from gui.widgets.scope import LAST_DAY, JobScope

# The Home view's Last 24 Hours nodes: what each lists, and what it says when empty.
RECENT: dict[JobScope, tuple[SessionFilter, str]] = {
    JobScope.LAST_DAY: (SessionFilter(within=LAST_DAY),
                        "No sessions in the last 24 hours."),
    JobScope.RUNNING: (SessionFilter(within=None, running=True),
                       "No session is running."),
    JobScope.SUCCESS: (SessionFilter(within=LAST_DAY, results=(SessionResult.SUCCESS,)),
                       "No successful sessions in the last 24 hours."),
    JobScope.WARNING: (SessionFilter(within=LAST_DAY, results=(SessionResult.WARNING,)),
                       "No sessions ended with a warning in the last 24 hours."),
    JobScope.FAILED: (SessionFilter(within=LAST_DAY, results=(SessionResult.FAILED,)),
                      "No failed sessions in the last 24 hours."),
}

OpenStatistics = Callable[[str, str], None]    # (job, session id)
StopBackup = Callable[[str], None]             # job


class SessionsController(QObject):
    reportSaved = Signal(object)   # Path of a report just written (and opened)

    def __init__(self, service: BackupApi, runner: TaskRunner, bridge: EventBridge,
                 window: QWidget, current: Callable[[], SessionsView | None],
                 open_statistics: OpenStatistics, stop_backup: StopBackup) -> None:
        super().__init__(window)
        self._service = service
        self._runner = runner
        self._bridge = bridge
        # the node's own parts, handed to the window to place: its actions, the
        # Last 24 Hours list (no filters: the inventory scopes it) and History
        self.actions = actions = SessionActions(window)
        self.recent_view = SessionsView(SessionsModel(runner, service.list_history, window),
                                        actions.menu, window, filters=False)
        self.history_view = SessionsView(SessionsModel(runner, service.list_history, window),
                                         actions.menu, window)
        self._views = views = [self.recent_view, self.history_view]
        self._actions = actions
        self._window = window
        self._current = current
        self._open_statistics = open_statistics
        self._stop_backup = stop_backup
        self._changed: set[str] = set()
        self.error_box: QMessageBox | None = None
        self.report_box: QMessageBox | None = None   # where a report went, when no browser opened
        self.last_report: Path | None = None
        actions.statistics.triggered.connect(self.statistics)
        actions.report.triggered.connect(self.report)
        actions.stop.triggered.connect(self.stop)
        for view in views:
            view.selectionChanged.connect(self.update_actions)
            view.statisticsRequested.connect(self.statistics)
            view.model.failed.connect(lambda exc: self.show_error("History", exc))
            view.model.dataChanged.connect(lambda *_: self.update_actions())
        bridge.sessionChanged.connect(lambda _job, sid: self._changed.add(sid))
        bridge.refreshDue.connect(self._on_refresh_due)

    def show_error(self, title: str, exc: BaseException) -> None:
        self.error_box = show_error(self._window, title, exc)

    # -- live -------------------------------------------------------------------------
    def _on_refresh_due(self) -> None:
        changed, self._changed = self._changed, set()
        view = self._current()
        if view is not None:
            view.model.refresh(changed)

    def shown(self, view: SessionsView) -> None:
        """A sessions list became visible: load it, or bring it up to date."""
        if not view.model.started:
            view.model.reload()
        else:
            view.model.refresh()
        self.update_actions()

    def show_recent(self, view: SessionsView, scope: JobScope) -> None:
        """The Home view's Last 24 Hours node ``scope``."""
        wanted, empty = RECENT[scope]
        view.set_empty_text(empty)
        if view.model.filter != wanted or not view.model.started:
            view.model.set_filter(wanted)
        else:
            view.model.refresh()
        self.update_actions()

    def show_types(self, view: SessionsView, kind: SessionType | None) -> None:
        """The History view's inventory: every session, or one type."""
        types = (kind,) if kind is not None else ()
        if view.model.filter.types != types or not view.model.started:
            view.model.set_filter(view.filter_from_bar(view.model.filter).with_(types=types))
        self.update_actions()

    # -- the selection -------------------------------------------------------------------
    def selected(self) -> list[SessionSummary]:
        view = self._current()
        return view.selected_sessions() if view is not None else []

    def update_actions(self) -> None:
        chosen = self.selected()
        self._actions.apply(len(chosen), bool(chosen) and chosen[0].state.is_active)

    # -- commands ------------------------------------------------------------------------
    def statistics(self) -> None:
        chosen = self.selected()
        if len(chosen) == 1:
            self._open_statistics(chosen[0].job, chosen[0].id)

    def stop(self) -> None:
        chosen = self.selected()
        if len(chosen) != 1 or not chosen[0].state.is_active:
            return
        self.stop_session(chosen[0].id, chosen[0].job, chosen[0].type)

    def stop_session(self, session_id: str, job: str, kind: SessionType) -> None:
        """A backup: the Stop Backup Job window; a restore or verify: cancel it."""
        if kind in JOB_SESSIONS:   # a backup or a copy: stopped computer by computer
            self._stop_backup(job)
            return
        self._runner.submit(partial(self._service.cancel_session, session_id),
                            lambda _r: self._bridge.mark_dirty(),
                            lambda exc: self.show_error("Stop", exc))

    def report(self) -> None:
        chosen = self.selected()
        if len(chosen) == 1:
            self.save_report(chosen[0].id)

    def _report_saved_box(self, path: Path) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "Session Report",
                          f"The report was saved to:\n{path}", QMessageBox.StandardButton.Ok,
                          self._window)
        box.setObjectName("ReportSaved")
        box.setInformativeText("No browser opened it. Open the file from its folder.")
        folder = box.addButton("Open folder", QMessageBox.ButtonRole.ActionRole)
        folder.clicked.connect(lambda: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(path.parent))))
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.report_box = box
        box.open()

    def save_report(self, session_id: str) -> None:
        """Write the session's HTML report (in the data directory's reports
        folder) and open it in the browser."""
        folder = Path(self._service.data_dir) / "reports"

        def write() -> Path:
            session: SessionInfo = self._service.get_session(session_id)
            return save_report(session, folder)

        def written(path: Path) -> None:
            self.last_report = path
            if not open_in_browser(path):   # no browser here: say where the file is
                self._report_saved_box(path)
            self.reportSaved.emit(path)

        self._runner.submit(write, written, lambda exc: self.show_error("Report", exc))
