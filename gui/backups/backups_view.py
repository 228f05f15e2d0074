"""The Home view's Backups > Disk node: every job's restore points on disk,
job > computer > restore point, with totals per job and per computer."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import (
    QItemSelectionModel, QModelIndex, QPoint, QSortFilterProxyModel, Qt, Signal,
)
from PySide6.QtGui import QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView, QHeaderView, QLabel, QMenu, QStackedWidget, QTreeView,
    QVBoxLayout, QWidget,
)

from core.models import RestorePointInfo

from gui.widgets.formatting import bytes_text, datetime_text
from gui.widgets.resources import icon
from gui.widgets.search_box import search_box

NODE_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
HEADERS = ["Name", "Type", "Restore points", "Files", "Size", "State"]
DAMAGED = QColor("#C0392B")
MenuFactory = Callable[[QWidget], QMenu]


@dataclass(frozen=True)
class BackupNode:
    """What a row of the Backups tree stands for."""

    kind: str                          # "job" | "computer" | "point"
    job: str
    computer: str | None = None
    point: RestorePointInfo | None = None
    points: tuple[RestorePointInfo, ...] = ()   # the points under it (newest first)

    @property
    def key(self) -> tuple[str, ...]:
        if self.kind == "point" and self.point is not None:
            return ("point", self.point.id)
        return (self.kind, self.job.casefold(), (self.computer or "").casefold())

    @property
    def newest(self) -> RestorePointInfo | None:
        return self.point if self.point is not None else (self.points[0] if self.points
                                                          else None)


def _row(node: BackupNode, texts: list[str], icon_name: str,
         sort: list[object]) -> list[QStandardItem]:
    items = []
    for column, text in enumerate(texts):
        item = QStandardItem(text)
        item.setEditable(False)
        item.setData(node, NODE_ROLE)
        item.setData(sort[column], SORT_ROLE)
        item.setToolTip(text)
        items.append(item)
    items[0].setIcon(icon(icon_name))
    return items


IMPORTED_TIP = ("Imported: written by another backup server that shares this repository. "
                "It can be restored; that server's retention removes it, and Delete from "
                "Disk here keeps it.")


def point_state(p: RestorePointInfo) -> str:
    """A point's State column: Damaged, OK, or Imported (another server's)."""
    if p.damaged:
        return "Damaged"
    return "Imported" if p.imported else "OK"


class BackupsModel(QStandardItemModel):
    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)
        self.setHorizontalHeaderLabels(HEADERS)
        self.points: list[RestorePointInfo] = []

    def set_points(self, points: Sequence[RestorePointInfo]) -> None:
        self.points = list(points)
        self.removeRows(0, self.rowCount())
        by_job: dict[str, dict[str, list[RestorePointInfo]]] = {}
        for p in sorted(points, key=lambda p: (p.created, p.id), reverse=True):
            by_job.setdefault(p.job, {}).setdefault(p.computer, []).append(p)
        for job in sorted(by_job, key=str.casefold):
            computers = by_job[job]
            every = tuple(p for c in computers.values() for p in c)
            size, files = sum(p.size for p in every), sum(p.files for p in every)
            damaged = sum(1 for p in every if p.damaged)
            node = BackupNode("job", job, points=tuple(sorted(every, key=lambda p: p.created,
                                                              reverse=True)))
            job_row = _row(node, [job, "Agent backup", str(len(every)), "",
                                  bytes_text(size),
                                  f"{damaged} damaged" if damaged else "OK"],
                           "jobs", [job.casefold(), "", len(every), files, size, damaged])
            for computer in sorted(computers, key=str.casefold):
                pts = computers[computer]
                csize = sum(p.size for p in pts)
                cnode = BackupNode("computer", job, computer, points=tuple(pts))
                cdamaged = sum(1 for p in pts if p.damaged)
                crow = _row(cnode, [computer, "Computer", str(len(pts)), str(pts[0].files),
                                    bytes_text(csize),
                                    f"{cdamaged} damaged" if cdamaged else "OK"], "computer",
                            [computer.casefold(), "", len(pts), pts[0].files, csize, cdamaged])
                for p in pts:
                    prow = _row(BackupNode("point", job, computer, point=p),
                                [datetime_text(p.created, seconds=True), p.type.value, "",
                                 str(p.files), bytes_text(p.size),
                                 point_state(p)],
                                "point", [p.created.timestamp(), p.type.value, 0, p.files,
                                          p.size, 1 if p.damaged else 0])
                    if p.damaged:
                        for item in prow:
                            item.setForeground(DAMAGED)
                            item.setToolTip(p.damaged)
                    elif p.imported:
                        for item in prow:
                            item.setToolTip(IMPORTED_TIP)
                    crow[0].appendRow(prow)
                job_row[0].appendRow(crow)
            self.appendRow(job_row)


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
        for column, width in enumerate((240, 100, 110, 80, 100)):
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

    def set_points(self, points: Sequence[RestorePointInfo]) -> None:
        """Rebuild the tree; what was expanded and selected stays so."""
        expanded: set[tuple[str, ...]] = set()
        selected = self.selected_node()
        self._walk(lambda index, node: expanded.add(node.key)
                   if self.tree.isExpanded(index) else None)
        first = not self._loaded
        self._loaded = True
        self.model.set_points(points)
        self._walk(lambda index, node: self.tree.setExpanded(
            index, first and node.kind == "job" or node.key in expanded))
        if selected is not None:
            self.select(selected.key)
        self.stack.setCurrentWidget(self.empty if not points else self.tree)
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
