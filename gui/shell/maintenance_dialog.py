"""Main menu → Options → Maintenance: the server-wide maintenance window.

Inside the window the backup server prunes and compacts every repository (a
Maintenance session in History) instead of doing it at the end of backups;
the window's close stops it. The settings are read and written through the
TaskRunner: the GUI thread never waits on the server."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTime
from PySide6.QtWidgets import (
    QCheckBox, QDialog, QDialogButtonBox, QGridLayout, QLabel, QTimeEdit, QVBoxLayout, QWidget,
)
from shiboken6 import isValid

from core.models import MaintenanceSettings
from core.scheduling import ALL_DAYS, BackupWindow

from gui.jobs.wizard.fields import DayChecks, ErrorLabel
from gui.runtime.worker import TaskRunner

EXPLANATION = (
    "Inside this window the backup server reclaims space: it deletes data no restore point "
    "uses any more and compacts packs that are less than half in use, in a Maintenance "
    "session (History). Backups then no longer do it at their end. When the window closes, "
    "maintenance stops after the pack in progress. Without a window, backups reclaim space "
    "themselves.")


class MaintenanceDialog(QDialog):
    def __init__(self, service: Any, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MaintenanceDialog")
        self.setWindowTitle("Maintenance")
        self._service = service
        self._runner = runner
        layout = QVBoxLayout(self)
        text = QLabel(EXPLANATION, self)
        text.setWordWrap(True)
        layout.addWidget(text)
        self.use_window = QCheckBox("Run maintenance only inside this window", self)
        self.use_window.setObjectName("UseMaintenanceWindow")
        layout.addWidget(self.use_window)
        grid = QGridLayout()
        grid.addWidget(QLabel("From:", self), 0, 0)
        self.start_edit = QTimeEdit(QTime(1, 0), self)
        self.start_edit.setObjectName("MaintenanceStart")
        self.start_edit.setDisplayFormat("HH:mm")
        grid.addWidget(self.start_edit, 0, 1)
        grid.addWidget(QLabel("To:", self), 0, 2)
        self.end_edit = QTimeEdit(QTime(5, 0), self)
        self.end_edit.setObjectName("MaintenanceEnd")
        self.end_edit.setDisplayFormat("HH:mm")
        grid.addWidget(self.end_edit, 0, 3)
        grid.addWidget(QLabel("On:", self), 1, 0)
        self.days = DayChecks(self, ALL_DAYS)
        grid.addWidget(self.days, 1, 1, 1, 4)
        grid.setColumnStretch(4, 1)
        layout.addLayout(grid)
        self.error = ErrorLabel(self)
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.use_window.toggled.connect(self._enable)
        self._ok().setEnabled(False)   # until the current settings arrive
        self._enable()
        self.loaded = False
        runner.submit(service.get_maintenance, self._landed, self._failed)

    def _ok(self) -> Any:
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    def _enable(self, *_args: object) -> None:
        on = self.use_window.isChecked()
        for widget in (self.start_edit, self.end_edit, self.days):
            widget.setEnabled(on)

    def _landed(self, settings: MaintenanceSettings) -> None:
        if not isValid(self):
            return
        window = settings.window
        self.use_window.setChecked(window is not None)
        if window is not None:
            self.start_edit.setTime(QTime.fromString(window.start, "HH:mm"))
            self.end_edit.setTime(QTime.fromString(window.end, "HH:mm"))
            self.days.set_days(window.days)
        self.loaded = True
        self._ok().setEnabled(True)
        self._enable()

    def _failed(self, exc: BaseException) -> None:
        if isValid(self):
            self.error.show_error(str(exc))
            self._ok().setEnabled(True)

    def settings(self) -> MaintenanceSettings:
        """What the dialog shows, as the server's model (ValueError if invalid)."""
        if not self.use_window.isChecked():
            return MaintenanceSettings()
        days = self.days.days()
        if not days:
            raise ValueError("Choose at least one day the maintenance window opens.")
        start, end = (edit.time().toString("HH:mm") for edit in (self.start_edit,
                                                                 self.end_edit))
        if start == end:
            raise ValueError("The maintenance window must end at another time than it "
                             "starts.")
        return MaintenanceSettings(window=BackupWindow(start=start, end=end, days=days))

    def _save(self) -> None:
        try:
            settings = self.settings()
        except ValueError as exc:
            self.error.show_error(str(exc))
            return
        self.error.show_error(None)
        self._ok().setEnabled(False)
        self._runner.submit(lambda: self._service.set_maintenance(settings),
                            self._saved, self._failed)

    def _saved(self, _settings: MaintenanceSettings) -> None:
        if isValid(self):
            self.accept()
