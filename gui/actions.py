"""The job actions shared by the ribbon and the context menu."""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from .action_state import ActionState
from .resources import icon


def _action(parent: QObject, icon_name: str, text: str, tip: str) -> QAction:
    action = QAction(icon(icon_name), text, parent)
    action.setToolTip(tip)
    action.setStatusTip(tip)
    action.setEnabled(False)
    return action


class JobActions(QObject):
    """One QAction per job command; enabled state follows the selection."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.start = _action(self, "start", "Start", "Start the selected jobs now")
        self.stop = _action(self, "stop", "Stop", "Stop the selected jobs")
        self.retry = _action(self, "retry", "Retry",
                             "Process again only the computers that failed in the last session")
        self.active_full = _action(self, "active_full", "Active Full",
                                   "Read all data again and start a new backup chain")
        self.toggle_enabled = _action(self, "disable", "Disable",
                                      "Disable or enable the selected jobs")
        self.delete = _action(self, "delete", "Delete", "Delete the selected jobs")
        self.statistics = _action(self, "statistics", "Statistics",
                                  "Show statistics of the job's last session")
        self.new_backup_job = _action(self, "backup_job", "Backup Job",
                                      "Create an agent backup job (coming with the job wizard)")

    def job_control(self) -> list[QAction]:
        return [self.start, self.stop, self.retry, self.active_full]

    def manage_job(self) -> list[QAction]:
        return [self.toggle_enabled, self.delete]

    def details(self) -> list[QAction]:
        return [self.statistics]

    def apply(self, state: ActionState) -> None:
        self.start.setEnabled(state.start)
        self.stop.setEnabled(state.stop)
        self.retry.setEnabled(state.retry)
        self.active_full.setEnabled(state.active_full)
        self.toggle_enabled.setEnabled(state.toggle_enabled)
        self.toggle_enabled.setText("Enable" if state.enable_label else "Disable")
        self.toggle_enabled.setIcon(icon("enable" if state.enable_label else "disable"))
        self.delete.setEnabled(state.delete)
        self.statistics.setEnabled(state.statistics)
