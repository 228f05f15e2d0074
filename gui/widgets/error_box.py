"""Errors for the operator: clear text in a message box, never a traceback."""
from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from core.errors import ConsoleError

from gui.widgets.formatting import one_line

log = logging.getLogger(__name__)


def error_text(exc: BaseException) -> str:
    """The core's own message for a ConsoleError; a one-line summary otherwise."""
    if isinstance(exc, ConsoleError):
        return str(exc) or type(exc).__name__
    summary = one_line(str(exc)) or "no details"
    return f"Unexpected error ({type(exc).__name__}): {summary}"


def show_error(parent: QWidget | None, title: str, exc: BaseException) -> QMessageBox:
    """Open a window-modal message box without blocking; the caller may keep it."""
    if not isinstance(exc, ConsoleError):
        log.error("unexpected error: %s", title, exc_info=exc)
    box = QMessageBox(parent)
    box.setObjectName("ErrorBox")
    box.setIcon(QMessageBox.Icon.Critical if not isinstance(exc, ConsoleError)
                else QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(error_text(exc))
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
