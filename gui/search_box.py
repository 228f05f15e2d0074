"""The search box above a list, with its magnifier, as in the reference console."""
from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QWidget

from .resources import icon


def search_box(parent: QWidget, placeholder: str) -> QLineEdit:
    box = QLineEdit(parent)
    box.setObjectName("SearchBox")
    box.setPlaceholderText(placeholder)
    box.setClearButtonEnabled(True)
    box.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
    return box
