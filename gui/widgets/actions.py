"""The actions shared by the ribbon, the context menu, the main menu and
the keyboard. A shortcut shows in the action's menus and in its tooltip."""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

from gui.jobs.action_state import ActionState
from gui.widgets.resources import icon

KeySpec = QKeySequence | QKeySequence.StandardKey | str


def _action(parent: QObject, icon_name: str | None, text: str, tip: str, *,
            keys: Sequence[KeySpec] = (), key_text: str | None = None,
            enabled: bool = False) -> QAction:
    action = QAction(icon(icon_name), text, parent) if icon_name else QAction(text, parent)
    sequences = [QKeySequence(key) for key in keys]
    if sequences:
        action.setShortcuts(sequences)
        shown = key_text or sequences[0].toString(QKeySequence.SequenceFormat.NativeText)
        tip = f"{tip} ({shown})"
    action.setToolTip(tip)
    action.setStatusTip(tip)
    action.setEnabled(enabled)
    return action


class JobActions(QObject):
    """One QAction per job command; enabled state follows the selection.

    Delete and Enter act on the jobs list only (the list adds them with a
    widget shortcut context), so typing in the search box never deletes."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.start = _action(self, "start", "Start", "Start the selected jobs now")
        self.stop = _action(self, "stop", "Stop", "Stop the selected jobs")
        self.retry = _action(self, "retry", "Retry",
                             "Process again only the computers that failed in the last session")
        self.active_full = _action(self, "active_full", "Active Full",
                                   "Read all data again and start a new backup chain")
        self.edit = _action(self, "edit", "Edit", "Edit the job's settings",
                            keys=[Qt.Key.Key_Enter, Qt.Key.Key_Return], key_text="Enter")
        self.clone = _action(self, "clone", "Clone",
                             "Create a copy of the job with the same settings")
        self.toggle_enabled = _action(self, "disable", "Disable",
                                      "Disable or enable the selected jobs")
        self.delete = _action(self, "delete", "Delete", "Delete the selected jobs",
                              keys=[QKeySequence.StandardKey.Delete], key_text="Delete")
        self.statistics = _action(self, "statistics", "Statistics",
                                  "Show statistics of the job's last session")
        self.new_backup_job = _action(self, "backup_job", "Backup Job",
                                      "Create an agent backup job", enabled=True)
        for action in (self.edit, self.delete):
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)

    def job_control(self) -> list[QAction]:
        return [self.start, self.stop, self.retry, self.active_full]

    def manage_job(self) -> list[QAction]:
        return [self.edit, self.clone, self.toggle_enabled, self.delete]

    def details(self) -> list[QAction]:
        return [self.statistics]

    def keyboard(self) -> list[QAction]:
        """The actions the jobs list answers to with a key."""
        return [self.edit, self.delete]

    def apply(self, state: ActionState) -> None:
        self.start.setEnabled(state.start)
        self.stop.setEnabled(state.stop)
        self.retry.setEnabled(state.retry)
        self.active_full.setEnabled(state.active_full)
        self.edit.setEnabled(state.edit)
        self.clone.setEnabled(state.clone)
        self.toggle_enabled.setEnabled(state.toggle_enabled)
        self.toggle_enabled.setText("Enable" if state.enable_label else "Disable")
        self.toggle_enabled.setIcon(icon("enable" if state.enable_label else "disable"))
        self.delete.setEnabled(state.delete)
        self.statistics.setEnabled(state.statistics)


class BackupActions(QObject):
    """Commands on the Backups node's selection (a job, a computer or a
    restore point), shared by its ribbon tab and its right-click menu."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.restore = _action(self, "restore", "Restore Files",
                               "Browse a restore point and restore files and folders")
        self.verify = _action(self, "verify", "Verify",
                              "Read back the stored data of the restore point, or of every "
                              "restore point of the job, and report damaged files")
        self.delete = _action(self, "delete", "Delete from Disk",
                              "Delete the job's (or the computer's) backups from disk")

    def all(self) -> list[QAction]:
        return [self.restore, self.verify, self.delete]

    def apply(self, kind: str | None) -> None:
        """``kind``: what is selected ("job", "computer", "point" or None)."""
        self.restore.setEnabled(kind in ("computer", "point"))
        self.verify.setEnabled(kind is not None)
        self.delete.setEnabled(kind in ("job", "computer"))


class SessionActions(QObject):
    """Commands on the selected sessions (History, Last 24 Hours)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.statistics = _action(self, "statistics", "Statistics",
                                  "Show the session's statistics and logs")
        self.report = _action(self, "report", "Report",
                              "Save an HTML report of the session and open it in the browser")
        self.stop = _action(self, "stop", "Stop",
                            "Stop the running backup session, or cancel the restore or verify")

    def all(self) -> list[QAction]:
        return [self.statistics, self.report, self.stop]

    def apply(self, selected: int, running: bool) -> None:
        self.statistics.setEnabled(selected == 1)
        self.report.setEnabled(selected == 1)
        self.stop.setEnabled(selected == 1 and running)


class RepositoryActions(QObject):
    """Commands of the Backup Infrastructure view's repositories, shared by its
    ribbon tab and its right-click menu."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.add = _action(self, "add_repository", "Add Repository",
                           "Add a backup repository: a local folder or an S3 compatible "
                           "bucket", enabled=True)
        self.remove = _action(self, "delete", "Remove",
                              "Remove the repository from the console; its data stays "
                              "where it is",
                              keys=[QKeySequence.StandardKey.Delete], key_text="Delete")
        self.remove.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)   # the list only
        self.rescan = _action(self, "rescan", "Rescan",
                              "Check every repository again: reachability, capacity and "
                              "free space", enabled=True)

    def all(self) -> list[QAction]:
        return [self.add, self.remove, self.rescan]

    def apply(self, selected: bool) -> None:
        """Remove needs a repository; the server or the list says why one cannot go."""
        self.remove.setEnabled(selected)


class WindowActions(QObject):
    """The main window's own commands (main menu and keyboard)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.find = _action(self, "search", "Search", "Search the jobs list",
                            keys=[QKeySequence.StandardKey.Find], key_text="Ctrl+F",
                            enabled=True)
        self.refresh = _action(self, None, "Refresh", "Fetch the jobs list again",
                               keys=["F5"],
                               enabled=True)
        self.help = _action(self, None, "Help", "How to use the console",
                            keys=[QKeySequence.StandardKey.HelpContents], key_text="F1",
                            enabled=True)
        self.about = _action(self, None, "About", "Version, data directory and backup server",
                             enabled=True)
        self.exit = _action(self, None, "Exit", "Close the console (jobs keep running)",
                            keys=["Ctrl+Q"], enabled=True)

    def all(self) -> list[QAction]:
        return [self.find, self.refresh, self.help, self.about, self.exit]
