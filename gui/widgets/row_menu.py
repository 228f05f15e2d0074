"""Right-click on a table row: select it unless it already is, then pop up
the menu its view builds. Shared by the jobs and history lists."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint
from PySide6.QtWidgets import QMenu, QTableView


def popup_row_menu(table: QTableView, pos: QPoint, build: Callable[[], QMenu],
                   previous: QMenu | None) -> QMenu | None:
    """The menu that popped up at ``pos`` (None off the rows); ``previous``,
    the view's last menu, is disposed of."""
    index = table.indexAt(pos)
    if not index.isValid():
        return previous
    selection = table.selectionModel()
    if not selection.isRowSelected(index.row(), QModelIndex()):
        table.setCurrentIndex(index)
        selection.select(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                         | QItemSelectionModel.SelectionFlag.Rows)
    if previous is not None:
        previous.deleteLater()
    menu = build()
    menu.popup(table.viewport().mapToGlobal(pos))
    return menu
