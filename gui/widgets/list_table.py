"""The look and behaviour shared by the console's lists (jobs, history,
repositories): whole rows selected and hovered, no grid, fixed row height,
left-aligned headers, a context menu, and the given column widths."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from PySide6.QtCore import (
    QByteArray, QEvent, QItemSelectionModel, QModelIndex, QObject, QPersistentModelIndex, QPoint,
    QSize, Qt,
)
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QAbstractItemView, QHeaderView, QStyle, QStyledItemDelegate, QStyleOptionViewItem,
    QTableView,
)

ROW_HEIGHT = 24

_Column = TypeVar("_Column", bound=int)   # a list's column enum (an IntEnum)


class RowHoverDelegate(QStyledItemDelegate):
    """Paints every cell of the hovered row as hovered, so the whole row lights up."""

    def __init__(self, table: QTableView) -> None:
        super().__init__(table)
        self.hover_row = -1
        self._table = table
        table.setMouseTracking(True)
        table.viewport().installEventFilter(self)

    def initStyleOption(self, option: QStyleOptionViewItem,
                        index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        if index.row() == self.hover_row:
            option.state |= QStyle.StateFlag.State_MouseOver
        else:
            option.state &= ~QStyle.StateFlag.State_MouseOver

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseMove and isinstance(event, QMouseEvent):
            self._set_row(self._table.rowAt(event.position().toPoint().y()))
        elif event.type() == QEvent.Type.Leave:
            self._set_row(-1)
        return False

    def _set_row(self, row: int) -> None:
        if row != self.hover_row:
            self.hover_row = row
            self._table.viewport().update()


def setup_list_table(table: QTableView, *, widths: Mapping[_Column, int], stretch: int,
                     on_menu: Callable[[QPoint], object], multi_select: bool = True,
                     movable: bool = True) -> RowHoverDelegate:
    """Configure ``table`` (its model already set) as a console list; returns its
    hover delegate."""
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection if multi_select
                           else QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
    hover = RowHoverDelegate(table)
    table.setItemDelegate(hover)
    header = table.horizontalHeader()
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setHighlightSections(False)
    model = table.model()
    if model is not None:
        # Highlighting no section, the header still asks, at its first paint after a
        # selection change, whether each column is wholly selected: every selected
        # row, through the model (with 2,000 jobs selected, 40,000 calls of Python
        # and a 40 ms stall). Its own selection, always empty, answers at once.
        header.setSelectionModel(QItemSelectionModel(model, header))
    header.setSectionsMovable(movable)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    for column, width in widths.items():
        table.setColumnWidth(column, width)
    table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    table.customContextMenuRequested.connect(on_menu)
    return hover


def cell_width(table: QTableView, text: str, *, with_icon: bool = False) -> int:
    """The width a cell of ``table`` needs to show ``text`` uncut (and an icon before it),
    as its style measures a cell: the font, the item's padding and margins."""
    table.ensurePolished()
    option = QStyleOptionViewItem()
    option.initFrom(table)
    option.font = table.font()
    option.fontMetrics = table.fontMetrics()
    option.text = text
    option.features |= QStyleOptionViewItem.ViewItemFeature.HasDisplay
    if with_icon:
        option.features |= QStyleOptionViewItem.ViewItemFeature.HasDecoration
        side = table.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize, None, table)
        option.decorationSize = QSize(side, side)
    size = table.style().sizeFromContents(QStyle.ContentsType.CT_ItemViewItem, option,
                                          QSize(), table)
    # The style sheet's item padding is not in that size: the text's own advance, the
    # padding (6 px a side), the item's text margins (the focus frame's and one) and the
    # icon, with a few pixels to spare.
    margin = table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, table) + 1
    icon_room = option.decorationSize.width() + 4 if with_icon else 0
    needed = table.fontMetrics().horizontalAdvance(text) + 2 * 6 + 2 * margin + icon_room + 4
    return max(size.width(), needed)


def restore_header(table: QTableView, state: QByteArray, stretch: int) -> bool:
    """Put back a remembered layout (widths, order, sort); False if ``state``
    is empty or from another version of the list."""
    header = table.horizontalHeader()
    if state.isEmpty() or not header.restoreState(state):
        return False
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    table.sortByColumn(header.sortIndicatorSection(), header.sortIndicatorOrder())
    return True
