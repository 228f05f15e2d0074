"""The inventory pane: the Home view's Overview, Jobs, Backups and Last 24 Hours nodes,
the Backup Infrastructure view's Backup Repositories, and the History view's
session types."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from gui.widgets.resources import icon
from gui.widgets.scope import JobScope

SCOPE_ROLE = Qt.ItemDataRole.UserRole + 1
LABEL_ROLE = Qt.ItemDataRole.UserRole + 2   # the node's label without its count

# (label, icon, scope, children)
Tree = list[tuple[str, str, Any, list[tuple[str, str, Any]]]]
OVERVIEW_NODE = "Overview"
_TREE: Tree = [
    (OVERVIEW_NODE, "overview", JobScope.OVERVIEW, []),
    ("Jobs", "jobs", JobScope.ALL, [("Backup", "backup_job", JobScope.BACKUP),
                                    ("Backup Copy", "backup_copy", JobScope.BACKUP_COPY)]),
    ("Backups", "backups", JobScope.BACKUPS, [("Disk", "disk", JobScope.BACKUPS)]),
    ("Last 24 Hours", "last24", JobScope.LAST_DAY, [
        ("Running", "running", JobScope.RUNNING),
        ("Success", "success", JobScope.SUCCESS),
        ("Warning", "warning", JobScope.WARNING),
        ("Failed", "failed", JobScope.FAILED),
    ]),
]

# The Backup Infrastructure view's inventory.
REPOSITORIES_NODE = "Backup Repositories"
INFRASTRUCTURE_TREE: Tree = [(REPOSITORIES_NODE, "repository", "repositories", [])]


class InventoryPane(QWidget):
    scopeChanged = Signal(object)   # JobScope (Home), or the node's own value

    def __init__(self, title: str = "Home", parent: QWidget | None = None, *,
                 tree: Tree | None = None, first: str = OVERVIEW_NODE) -> None:
        super().__init__(parent)
        self.setObjectName("InventoryPane")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        header = QLabel(title, self)
        header.setObjectName("PaneHeader")
        header.setMinimumWidth(60)   # a long title never widens the window
        layout.addWidget(header)
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("Inventory")
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setIndentation(14)
        layout.addWidget(self.tree, 1)
        self._items: dict[str, QTreeWidgetItem] = {}
        for label, icon_name, scope, children in (tree if tree is not None else _TREE):
            top = self._add(None, label, icon_name, scope)
            for child_label, child_icon, child_scope in children:
                self._add(top, child_label, child_icon, child_scope)
            top.setExpanded(True)
        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.setCurrentItem(self._items[first])

    def _add(self, parent: QTreeWidgetItem | None, label: str, icon_name: str,
             scope: Any) -> QTreeWidgetItem:
        item = QTreeWidgetItem([label])
        item.setIcon(0, icon(icon_name))
        item.setData(0, SCOPE_ROLE, scope)
        item.setData(0, LABEL_ROLE, label)
        if parent is None:
            self.tree.addTopLevelItem(item)
        else:
            parent.addChild(item)
        key = label if parent is None else f"{parent.text(0)}/{label}"
        self._items[key] = item
        return item

    def item(self, path: str) -> QTreeWidgetItem:
        """A node by its path, e.g. ``"Jobs"`` or ``"Last 24 Hours/Failed"``."""
        return self._items[path]

    def set_count(self, path: str, count: int | None) -> None:
        """Show ``count`` after the node's label ("Failed (2)"); none when 0 or None."""
        item = self._items[path]
        label = str(item.data(0, LABEL_ROLE))
        text = f"{label} ({count})" if count else label
        if item.text(0) != text:
            item.setText(0, text)

    def label(self, path: str) -> str:
        """The node's text as shown, with its count."""
        return self._items[path].text(0)

    def select(self, path: str) -> None:
        self.tree.setCurrentItem(self._items[path])

    @property
    def scope(self) -> Any:
        item = self.tree.currentItem()
        return item.data(0, SCOPE_ROLE) if item is not None else JobScope.ALL

    @property
    def current_path(self) -> str:
        item = self.tree.currentItem()
        return next((k for k, v in self._items.items() if v is item), "")

    def _on_current(self, current: QTreeWidgetItem | None, _previous: object) -> None:
        if current is not None:
            self.scopeChanged.emit(current.data(0, SCOPE_ROLE))
