"""The session commands of the History and Last 24 Hours lists."""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from core.models import Permission
from gui.widgets.actions import make_action


class SessionActions(QObject):
    """Commands on the selected sessions (History, Last 24 Hours)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.statistics = make_action(self, "statistics", "Statistics",
                                  "Show the session's statistics and logs")
        self.report = make_action(self, "report", "Report",
                              "Save an HTML report of the session and open it in the browser")
        self.stop = make_action(self, "stop", "Stop",
                            "Stop the running backup session, or cancel the restore or verify",
                            needs=Permission.RUN)

    def all(self) -> list[QAction]:
        return [self.statistics, self.report, self.stop]

    #: the contextual ribbon page this node's actions fill when its items are selected
    RIBBON_PAGE, RIBBON_TOOLS = 'Session', 'Session Tools'

    def ribbon_groups(self) -> list[tuple[str, list[QAction]]]:
        """The groups of that page, in order: the window only places them."""
        return [("Session", self.all())]

    def menu(self, parent: QWidget) -> QMenu:
        """The sessions lists' right-click menu."""
        menu = QMenu(parent)
        menu.setObjectName("SessionContextMenu")
        menu.addActions(self.all())
        return menu

    def apply(self, selected: int, running: bool) -> None:
        self.statistics.setEnabled(selected == 1)
        self.report.setEnabled(selected == 1)
        self.stop.setEnabled(selected == 1 and running)
