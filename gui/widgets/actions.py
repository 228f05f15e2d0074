"""The factory of the console's actions, which the ribbon, the context menus,
the main menu and the keyboard share. Each node keeps its own actions in its
``actions`` module. A shortcut shows in the action's menus and in its tooltip."""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

from gui.widgets.resources import icon

KeySpec = QKeySequence | QKeySequence.StandardKey | Qt.Key | str


def make_action(parent: QObject, icon_name: str | None, text: str, tip: str, *,
                keys: Sequence[KeySpec] = (), key_text: str | None = None,
                enabled: bool = False) -> QAction:
    action = QAction(icon(icon_name), text, parent) if icon_name else QAction(text, parent)
    sequences = [QKeySequence(key) for key in keys]
    if sequences:
        action.setShortcuts(sequences)
        shown = key_text or sequences[0].toString(QKeySequence.SequenceFormat.NativeText)
        tip = f"{tip} ({shown})"
    action.setToolTip(tip)
    action.setStatusTip(tip)
    action.setEnabled(enabled)
    return action
