"""A restore point's tree for the Restore window, loaded lazily from the
server one folder at a time (Qt's ``canFetchMore``/``fetchMore``), with a
check box per file and folder: a checked folder means everything under it,
loaded or not, so a 100,000-file point never has to be listed in full."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal,
)

from core.models import PointEntryInfo

from gui.widgets.formatting import bytes_text, datetime_text
from gui.widgets.resources import icon
from gui.runtime.worker import TaskRunner

Index = QModelIndex | QPersistentModelIndex
Browse = Callable[[str, str], list[PointEntryInfo]]   # (point id, folder) -> items
HEADERS = ["Name", "Size", "Files", "Modified"]
CHECKED, PARTIAL, UNCHECKED = (Qt.CheckState.Checked, Qt.CheckState.PartiallyChecked,
                               Qt.CheckState.Unchecked)
_ICONS = {"dir": "folder", "file": "file", "symlink": "link", "hardlink": "file"}


class _Node:
    __slots__ = ("entry", "parent", "children", "row", "check", "loading")

    def __init__(self, entry: PointEntryInfo, parent: _Node | None, row: int,
                 check: Qt.CheckState) -> None:
        self.entry = entry
        self.parent = parent
        self.children: list[_Node] | None = None if entry.kind == "dir" else []
        self.row = row
        self.check = check
        self.loading = False

    @property
    def is_dir(self) -> bool:
        return self.entry.kind == "dir"


class PointTreeModel(QAbstractItemModel):
    folderLoaded = Signal(str)      # a folder's items arrived ("" for the root)
    failed = Signal(object)

    def __init__(self, runner: TaskRunner, browse: Browse, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._browse = browse
        self.point_id: str | None = None
        self._roots: list[_Node] = []
        self._generation = 0
        self.loads = 0    # folders fetched from the server

    # -- the point ------------------------------------------------------------------------
    def set_point(self, point_id: str, label: str, files: int, size: int) -> None:
        """Show ``point_id``: one root row (the computer's folder), unloaded."""
        self._generation += 1
        self.beginResetModel()
        self.point_id = point_id
        root = PointEntryInfo(name=label, path="", kind="dir", size=size, files=files)
        self._roots = [_Node(root, None, 0, UNCHECKED)]
        self.endResetModel()

    def root_index(self) -> QModelIndex:
        return self.index(0, 0) if self._roots else QModelIndex()

    # -- structure ------------------------------------------------------------------------
    def _node(self, index: Index) -> _Node | None:
        return index.internalPointer() if index.isValid() else None

    def _siblings(self, parent: _Node | None) -> list[_Node]:
        if parent is None:
            return self._roots
        return parent.children or []

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        siblings = self._siblings(self._node(parent))
        if not 0 <= row < len(siblings) or not 0 <= column < len(HEADERS):
            return QModelIndex()
        return self.createIndex(row, column, siblings[row])

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        node = self._node(index)
        if node is None or node.parent is None:
            return QModelIndex()
        return self.createIndex(node.parent.row, 0, node.parent)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._siblings(self._node(parent)))

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return len(HEADERS)

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:  # noqa: N802
        node = self._node(parent)
        if node is None:
            return bool(self._roots)
        return node.is_dir and (node.children is None or bool(node.children))

    def canFetchMore(self, parent: Index) -> bool:  # noqa: N802
        node = self._node(parent)
        return node is not None and node.is_dir and node.children is None and not node.loading

    def fetchMore(self, parent: Index) -> None:  # noqa: N802
        node = self._node(parent)
        if node is None or not self.canFetchMore(parent) or self.point_id is None:
            return
        node.loading = True
        persistent = QPersistentModelIndex(parent)
        generation, point_id, path = self._generation, self.point_id, node.entry.path

        def landed(items: list[PointEntryInfo]) -> None:
            node.loading = False
            if generation != self._generation or not persistent.isValid():
                return
            index = self.index(persistent.row(), 0, persistent.parent())
            inherit = CHECKED if node.check is CHECKED else UNCHECKED
            children = [_Node(e, node, i, inherit) for i, e in enumerate(items)]
            if children:
                self.beginInsertRows(index, 0, len(children) - 1)
                node.children = children
                self.endInsertRows()
            else:
                node.children = children
                self.dataChanged.emit(index, index)
            self.loads += 1
            self.folderLoaded.emit(path)

        def failed(exc: BaseException) -> None:
            node.loading = False
            if generation == self._generation:
                self.failed.emit(exc)

        self._runner.submit(lambda: self._browse(point_id, path), landed, failed)

    # -- display --------------------------------------------------------------------------
    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == 0:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node = self._node(index)
        if node is None:
            return None
        e, column = node.entry, index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return e.name + (f" → {e.target}" if e.kind == "symlink" and e.target else "")
            if column == 1:
                return bytes_text(e.size) if e.kind != "symlink" else ""
            if column == 2:
                return f"{e.files:,}" if e.kind == "dir" else ""
            return datetime_text(e.mtime) if e.mtime else ""
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return e.path or e.name
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return icon("computer" if node.parent is None else _ICONS.get(e.kind, "file"))
        if role == Qt.ItemDataRole.CheckStateRole and column == 0:
            return node.check
        if role == Qt.ItemDataRole.UserRole:
            return e
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        node = self._node(index)
        if node is None or role != Qt.ItemDataRole.CheckStateRole or index.column() != 0:
            return False
        state = Qt.CheckState(value) if not isinstance(value, Qt.CheckState) else value
        self._set_down(node, CHECKED if state is CHECKED else UNCHECKED)
        self._update_up(node.parent)
        self._changed_subtree(index)
        return True

    def _set_down(self, node: _Node, state: Qt.CheckState) -> None:
        node.check = state
        for child in node.children or []:
            self._set_down(child, state)

    def _update_up(self, node: _Node | None) -> None:
        while node is not None and node.children:
            states = {c.check for c in node.children}
            node.check = states.pop() if len(states) == 1 and PARTIAL not in states else PARTIAL
            index = self.createIndex(node.row, 0, node)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
            node = node.parent

    def _changed_subtree(self, index: QModelIndex | QPersistentModelIndex) -> None:
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        rows = self.rowCount(index)
        if rows:
            self.dataChanged.emit(self.index(0, 0, index), self.index(rows - 1, 0, index),
                                  [Qt.ItemDataRole.CheckStateRole])
            for row in range(rows):
                child = self.index(row, 0, index)
                if self.rowCount(child):
                    self._changed_subtree(child)

    # -- the selection ------------------------------------------------------------------------
    def check_path(self, path: str, state: Qt.CheckState = CHECKED) -> bool:
        """Check a loaded item by its path ("" is the whole point)."""
        index = self.index_of(path)
        if not index.isValid():
            return False
        return self.setData(index, state, Qt.ItemDataRole.CheckStateRole)

    def index_of(self, path: str) -> QModelIndex:
        nodes = self._roots
        parent = QModelIndex()
        node = nodes[0] if nodes else None
        if node is None:
            return QModelIndex()
        index = self.index(0, 0, parent)
        if not path:
            return index
        parts = path.split("/")
        for depth in range(len(parts)):
            want = "/".join(parts[:depth + 1])
            found = next((c for c in node.children or [] if c.entry.path == want), None)
            if found is None:
                return QModelIndex()
            index = self.index(found.row, 0, index)
            node = found
        return index

    def selected_paths(self) -> list[str] | None:
        """None: nothing checked; []: the whole point; else the checked paths
        (a checked folder stands for everything under it)."""
        if not self._roots or self._roots[0].check is UNCHECKED:
            return None
        root = self._roots[0]
        if root.check is CHECKED:
            return []
        found: list[str] = []

        def walk(node: _Node) -> None:
            for child in node.children or []:
                if child.check is CHECKED:
                    found.append(child.entry.path)
                elif child.check is PARTIAL:
                    walk(child)

        walk(root)
        return found

    def selected_totals(self) -> tuple[int, int]:
        """(files, bytes) of what is checked."""
        if not self._roots:
            return 0, 0
        root = self._roots[0]
        if root.check is CHECKED:
            return root.entry.files, root.entry.size
        files = size = 0

        def walk(node: _Node) -> None:
            nonlocal files, size
            for child in node.children or []:
                if child.check is CHECKED:
                    files += child.entry.files if child.is_dir else 1
                    size += child.entry.size
                elif child.check is PARTIAL:
                    walk(child)

        walk(root)
        return files, size
