"""The window's commands: search, refresh, help, about, the options and exit."""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from core.models import Permission

from gui.widgets.actions import make_action


class WindowActions(QObject):
    """The main window's own commands (main menu and keyboard)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.find = make_action(self, "search", "Search", "Search the jobs list",
                            keys=[QKeySequence.StandardKey.Find], key_text="Ctrl+F",
                            enabled=True)
        self.refresh = make_action(self, None, "Refresh", "Fetch the jobs list again",
                               keys=["F5"],
                               enabled=True)
        self.help = make_action(self, None, "Help", "How to use the console",
                            keys=[QKeySequence.StandardKey.HelpContents], key_text="F1",
                            enabled=True)
        self.about = make_action(self, None, "About", "Version, data directory and backup server",
                             enabled=True)
        self.maintenance = make_action(self, None, "Maintenance...",
                                       "The maintenance window: when the server reclaims "
                                       "space and compacts the repositories", enabled=True,
                                       needs=Permission.MANAGE_INFRASTRUCTURE)
        self.notifications = make_action(self, None, "Notifications...",
                                         "Where the server sends job results, the daily "
                                         "summary and RPO alerts: e-mail and notification "
                                         "URLs", enabled=True,
                                         needs=Permission.MANAGE_INFRASTRUCTURE)
        self.connect_server = make_action(self, None, "Connect to Backup Server...",
                                   "Connect to a backup server on another machine, as a "
                                   "named user (over TLS)", enabled=True)
        self.exit = make_action(self, None, "Exit", "Close the console (jobs keep running)",
                            keys=["Ctrl+Q"], enabled=True)

    def all(self) -> list[QAction]:
        return [self.find, self.refresh, self.help, self.about, self.maintenance,
                self.notifications, self.connect_server, self.exit]
