"""The Backups node's commands, shared by its ribbon tab and its right-click menu."""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from core.models import Permission
from gui.widgets.actions import make_action


class BackupActions(QObject):
    """Commands on the Backups node's selection (a job, a computer or a
    restore point), shared by its ribbon tab and its right-click menu."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.restore = make_action(self, "restore", "Restore Files",
                               "Browse a restore point and restore files and folders",
                               needs=Permission.RESTORE)
        self.verify = make_action(self, "verify", "Verify",
                              "Read back the stored data of the restore point, or of every "
                              "restore point of the job, and report damaged files",
                              needs=Permission.RUN)
        self.delete = make_action(self, "delete", "Delete from Disk",
                              "Delete the job's (or the computer's) backups from disk",
                              needs=Permission.EDIT_JOBS)

    def all(self) -> list[QAction]:
        return [self.restore, self.verify, self.delete]

    #: the contextual ribbon page this node's actions fill when its items are selected
    RIBBON_PAGE, RIBBON_TOOLS = 'Backup', 'Backup Tools'

    def ribbon_groups(self) -> list[tuple[str, list[QAction]]]:
        """The groups of that page, in order: the window only places them."""
        return [("Restore", [self.restore]), ("Manage Backups", [self.verify, self.delete])]

    def menu(self, parent: QWidget) -> QMenu:
        """The Backups tree's right-click menu."""
        menu = QMenu(parent)
        menu.setObjectName("BackupContextMenu")
        menu.addAction(self.restore)
        menu.addSeparator()
        menu.addAction(self.verify)
        menu.addAction(self.delete)
        return menu

    def apply(self, kind: str | None) -> None:
        """``kind``: what is selected ("job", "computer", "point", "retained" or None);
        a retained point (kept only by an immutable repository's lock) takes none."""
        self.restore.setEnabled(kind in ("computer", "point"))
        self.verify.setEnabled(kind in ("job", "computer", "point"))
        self.delete.setEnabled(kind in ("job", "computer"))
