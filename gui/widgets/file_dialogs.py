"""File dialogs opened (never exec'd) by a window that keeps a handle to the
open one in ``owner.file_dialog``, so tests can drive it and a second Browse
raises the open dialog instead of opening another."""
from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QLineEdit, QWidget

def tracked_file_dialog(owner: QWidget, title: str, start: str,
                        edit: QLineEdit) -> QFileDialog | None:
    """A new dialog whose choice fills ``edit``, remembered in
    ``owner.file_dialog`` until it closes; None (the open one is raised) if
    one is open already. The caller sets its mode and calls ``open()``."""
    current: QFileDialog | None = getattr(owner, "file_dialog", None)
    if current is not None:
        current.raise_()
        return None
    dialog = QFileDialog(owner, title, start)
    dialog.fileSelected.connect(edit.setText)
    owner.file_dialog = dialog  # type: ignore[attr-defined]

    def closed(_result: int) -> None:
        if getattr(owner, "file_dialog", None) is dialog:
            owner.file_dialog = None  # type: ignore[attr-defined]
        dialog.deleteLater()

    dialog.finished.connect(closed)
    return dialog
