"""The Backup Infrastructure view's repository commands."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

from core.models import Permission
from gui.widgets.actions import make_action


class RepositoryActions(QObject):
    """Commands of the Backup Infrastructure view's repositories, shared by its
    ribbon tab and its right-click menu."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.add = make_action(self, "add_repository", "Add Repository",
                           "Add a backup repository: a local folder or an S3 compatible "
                           "bucket", enabled=True,
                           needs=Permission.MANAGE_INFRASTRUCTURE)
        self.remove = make_action(self, "delete", "Remove",
                              "Remove the repository from the console; its data stays "
                              "where it is",
                              keys=[QKeySequence.StandardKey.Delete], key_text="Delete",
                              needs=Permission.MANAGE_INFRASTRUCTURE)
        self.remove.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)   # the list only
        self.rescan = make_action(self, "rescan", "Rescan",
                              "Check every repository again: reachability, capacity and "
                              "free space", enabled=True)

    def all(self) -> list[QAction]:
        return [self.add, self.remove, self.rescan]

    #: the contextual ribbon page this node's actions fill when its items are selected
    RIBBON_PAGE, RIBBON_TOOLS = 'Backup Repository', 'Repository Tools'

    def ribbon_groups(self) -> list[tuple[str, list[QAction]]]:
        """The groups of that page, in order: the window only places them."""
        return [("Manage Repository", [self.add, self.remove]), ("Tools", [self.rescan])]

    def apply(self, selected: bool) -> None:
        """Remove needs a repository; the server or the list says why one cannot go."""
        self.remove.setEnabled(selected)
