"""The jobs list's right-click menu, built from the shared job actions."""
from __future__ import annotations

from PySide6.QtWidgets import QMenu, QWidget

from gui.jobs.actions import JobActions


def build_job_context_menu(actions: JobActions, parent: QWidget | None = None) -> QMenu:
    menu = QMenu(parent)
    menu.setObjectName("JobContextMenu")
    menu.addActions(actions.job_control())
    menu.addSeparator()
    menu.addActions(actions.manage_job())
    menu.addSeparator()
    menu.addActions(actions.details())
    return menu
