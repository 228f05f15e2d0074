"""The Home view's Backups > Disk node: the tree of restore points on disk
(see ``backups_model``), its search box, selection and right-click menu."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from PySide6.QtCore import (
    QItemSelectionModel, QModelIndex, QPoint, QSortFilterProxyModel, Qt, Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView, QHeaderView, QLabel, QMenu, QStackedWidget, QTreeView,
    QVBoxLayout, QWidget,
)

from core.api import DiskUsage
from core.models import JobDefinition, RestorePointInfo

from gui.backups.backups_model import (
    NODE_ROLE, SORT_ROLE, BackupNode, BackupsModel, Retained,
)
from gui.widgets.search_box import search_box

MenuFactory = Callable[[QWidget], QMenu]


class BackupsView(QWidget):
    selectionChanged = Signal()
    restoreRequested = Signal()   # a restore point was double-clicked

    def __init__(self, model: BackupsModel, menu_factory: MenuFactory | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("BackupsView")
        self.model = model
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(model)
        self.proxy.setRecursiveFilteringEnabled(True)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setSortRole(SORT_ROLE)
        self._menu_factory = menu_factory
        self.context_menu: QMenu | None = None
        self._loaded = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.search = search_box(self, "Type in a job or computer name to search for")
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        layout.addWidget(self.search)
        self.stack = QStackedWidget(self)
        self.tree = QTreeView(self.stack)
        self.tree.setObjectName("BackupsTree")
        self.tree.setModel(self.proxy)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setUniformRowHeights(True)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((240, 100, 110, 80, 90, 90)):
            self.tree.setColumnWidth(column, width)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self.show_context_menu)
        self.tree.selectionModel().selectionChanged.connect(
            lambda *_: self.selectionChanged.emit())
        self.tree.doubleClicked.connect(self._double_clicked)
        self.empty = QLabel("No backups on disk yet: run a backup job to create restore "
                            "points.", self.stack)
        self.empty.setObjectName("EmptySessions")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.tree)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)

    def set_points(self, points: Sequence[RestorePointInfo],
                   policies: Mapping[str, JobDefinition] | None = None,
                   usage: DiskUsage | None = None,
                   retained: Sequence[Retained] | None = None) -> None:
        """Rebuild the tree; what was expanded and selected stays so. ``policies``: the
        jobs' definitions, for the Retention column (None: the last ones given);
        ``retained``: points kept only by an immutable repository's lock."""
        expanded: set[tuple[str, ...]] = set()
        selected = self.selected_node()
        self._walk(lambda index, node: expanded.add(node.key)
                   if self.tree.isExpanded(index) else None)
        first = not self._loaded
        self._loaded = True
        self.model.set_points(points, policies, usage, retained)
        self._walk(lambda index, node: self.tree.setExpanded(
            index, first and node.kind == "job" or node.key in expanded))
        if selected is not None:
            self.select(selected.key)
        self.stack.setCurrentWidget(self.empty if not points and not self.model.retained
                                    else self.tree)
        self.selectionChanged.emit()

    def _walk(self, visit: Callable[[QModelIndex, BackupNode], None],
              parent: QModelIndex = QModelIndex()) -> None:
        for row in range(self.proxy.rowCount(parent)):
            index = self.proxy.index(row, 0, parent)
            node = index.data(NODE_ROLE)
            if isinstance(node, BackupNode):
                visit(index, node)
            self._walk(visit, index)

    def index_of(self, key: tuple[str, ...]) -> QModelIndex:
        found: list[QModelIndex] = []
        self._walk(lambda index, node: found.append(index) if node.key == key else None)
        return found[0] if found else QModelIndex()

    def select(self, key: tuple[str, ...]) -> bool:
        index = self.index_of(key)
        if not index.isValid():
            return False
        parent = index.parent()
        while parent.isValid():
            self.tree.setExpanded(parent, True)
            parent = parent.parent()
        self.tree.selectionModel().select(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.tree.setCurrentIndex(index)
        self.tree.scrollTo(index)
        return True

    def selected_node(self) -> BackupNode | None:
        rows = self.tree.selectionModel().selectedRows()
        node = rows[0].data(NODE_ROLE) if rows else None
        return node if isinstance(node, BackupNode) else None

    def _double_clicked(self, index: QModelIndex) -> None:
        node = index.data(NODE_ROLE)
        if isinstance(node, BackupNode) and node.kind == "point":
            self.restoreRequested.emit()

    def show_context_menu(self, pos: QPoint) -> QMenu | None:
        index = self.tree.indexAt(pos)
        if not index.isValid() or self._menu_factory is None:
            return None
        self.tree.selectionModel().select(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.tree.setCurrentIndex(index)
        if self.context_menu is not None:
            self.context_menu.deleteLater()
        self.context_menu = self._menu_factory(self)
        self.context_menu.popup(self.tree.viewport().mapToGlobal(pos))
        return self.context_menu
