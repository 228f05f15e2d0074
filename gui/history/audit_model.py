"""History → Audit Trail's list: one row per audit entry, newest first."""
from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from core.api.text import audit_details_text
from core.models import AuditEntry

from gui.widgets.formatting import datetime_text, one_line
from gui.widgets.search_box import SearchProxy

Index = QModelIndex | QPersistentModelIndex
REFUSED_COLOR = QColor("#C62828")


class AuditColumn(IntEnum):
    WHEN = 0
    USER = 1
    ORIGIN = 2
    ACTION = 3
    TARGET = 4
    RESULT = 5
    DETAILS = 6


HEADERS = {AuditColumn.WHEN: "When", AuditColumn.USER: "User", AuditColumn.ORIGIN: "From",
           AuditColumn.ACTION: "Action", AuditColumn.TARGET: "Object",
           AuditColumn.RESULT: "Result", AuditColumn.DETAILS: "Details"}


def _cell(entry: AuditEntry, column: AuditColumn) -> str:
    if column is AuditColumn.WHEN:
        return datetime_text(entry.at, seconds=True)
    if column is AuditColumn.USER:
        return entry.user
    if column is AuditColumn.ORIGIN:
        return entry.origin
    if column is AuditColumn.ACTION:
        return entry.action
    if column is AuditColumn.TARGET:
        return entry.target
    if column is AuditColumn.RESULT:
        return one_line(entry.result)
    return one_line(audit_details_text(entry.details), 300)


class AuditModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.entries: list[AuditEntry] = []

    def set_entries(self, entries: Sequence[AuditEntry]) -> None:
        self.beginResetModel()
        self.entries = list(entries)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(AuditColumn)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[AuditColumn(section)]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self.entries[index.row()]
        column = AuditColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell(entry, column)
        if role == Qt.ItemDataRole.ToolTipRole and column in (AuditColumn.RESULT,
                                                               AuditColumn.DETAILS):
            return entry.result if column is AuditColumn.RESULT else \
                audit_details_text(entry.details)
        if role == Qt.ItemDataRole.ForegroundRole and column is AuditColumn.RESULT and \
                entry.result != "done":
            return REFUSED_COLOR
        return None


class AuditProxy(SearchProxy):
    """Rows whose user, origin, action, object, result or details hold the search."""

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if not self._search:
            return True
        model = self.sourceModel()
        assert isinstance(model, AuditModel)
        entry = model.entries[source_row]
        return any(self._search in _cell(entry, c).casefold() for c in AuditColumn
                   if c is not AuditColumn.WHEN)
