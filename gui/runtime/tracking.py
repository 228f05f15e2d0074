"""Dialog handles: the one showing is kept as an attribute of its owner."""
from __future__ import annotations

from PySide6.QtWidgets import QDialog


def track(owner: object, handle: str, dialog: QDialog) -> None:
    """Keep ``dialog`` as ``owner.<handle>`` until it closes, then drop it."""
    setattr(owner, handle, dialog)

    def closed(_result: int) -> None:
        if getattr(owner, handle) is dialog:
            setattr(owner, handle, None)
        dialog.deleteLater()

    dialog.finished.connect(closed)
