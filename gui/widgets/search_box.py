"""The search box above a list, with its magnifier, as in the reference console."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSortFilterProxyModel
from PySide6.QtWidgets import QLineEdit, QWidget

from gui.widgets.resources import icon


def search_box(parent: QWidget, placeholder: str) -> QLineEdit:
    box = QLineEdit(parent)
    box.setObjectName("SearchBox")
    box.setPlaceholderText(placeholder)
    box.setClearButtonEnabled(True)
    box.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
    return box


class SearchProxy(QSortFilterProxyModel):
    """A proxy whose rows a search box filters; subclasses test ``self._search``
    (stripped, case-folded) in ``filterAcceptsRow``."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._search = ""

    def set_search(self, text: str) -> None:
        text = text.strip().casefold()
        if text != self._search:
            self._change_filter(lambda: setattr(self, "_search", text))

    def _change_filter(self, change: Callable[[], None]) -> None:
        if hasattr(self, "beginFilterChange"):     # Qt >= 6.9
            self.beginFilterChange()
            change()
            self.endFilterChange()
        else:
            change()
            self.invalidateRowsFilter()
