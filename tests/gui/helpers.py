"""What an operator does, as test steps: find controls by their visible
text, click them, read the jobs list."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QContextMenuEvent
from PySide6.QtWidgets import (QApplication, QMenu, QPushButton, QTableView, QToolButton,
                               QWidget)
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from tests.support.gate import TaskGate
from gui.jobs.jobs_filter import JobsFilterProxy
from gui.jobs.jobs_model import Column, JobsTableModel
from gui.shell.main_window import MainWindow

WAIT_MS = 10_000


def jobs_table(qtbot: QtBot, model: JobsTableModel) -> tuple[QTableView, JobsFilterProxy]:
    """A table view showing ``model`` through the console's filter proxy."""
    proxy = JobsFilterProxy()
    proxy.setSourceModel(model)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    return view, proxy


def ribbon_button(window: MainWindow, text: str) -> QToolButton:
    found = [b for b in window.ribbon.buttons() if b.text() == text and b.isVisible()]
    assert len(found) == 1, f"ribbon button {text!r}: found {len(found)}"
    return found[0]


def click_ribbon(qtbot: QtBot, window: MainWindow, text: str) -> None:
    button = ribbon_button(window, text)
    assert button.isEnabled(), f"ribbon button {text!r} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def row_center(window: MainWindow, job: str) -> QPoint:
    index = window.jobs_view.proxy_index_of(job)
    assert index.isValid(), f"job {job!r} is not in the list"
    return window.jobs_view.table.visualRect(index).center()


def click_row(qtbot: QtBot, window: MainWindow, job: str, *, add: bool = False) -> None:
    modifier = Qt.KeyboardModifier.ControlModifier if add else Qt.KeyboardModifier.NoModifier
    qtbot.mouseClick(window.jobs_view.table.viewport(), Qt.MouseButton.LeftButton,
                     modifier, row_center(window, job))


def right_click_row(qtbot: QtBot, window: MainWindow, job: str) -> QMenu:
    """Right-click the job's row like a mouse does; returns the menu that popped up."""
    viewport = window.jobs_view.table.viewport()
    pos = row_center(window, job)
    qtbot.mousePress(viewport, Qt.MouseButton.RightButton, pos=pos)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, viewport.mapToGlobal(pos))
    QApplication.sendEvent(viewport, event)
    qtbot.mouseRelease(viewport, Qt.MouseButton.RightButton, pos=pos)
    menu = window.jobs_view.context_menu
    assert menu is not None
    qtbot.waitUntil(menu.isVisible)
    return menu


def menu_action(menu: QMenu, text: str) -> QAction:
    found = [a for a in menu.actions() if a.text() == text]
    assert len(found) == 1, f"menu item {text!r}: found {len(found)}"
    return found[0]


def click_menu(qtbot: QtBot, menu: QMenu, text: str) -> None:
    action = menu_action(menu, text)
    assert action.isEnabled(), f"menu item {text!r} is disabled"
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())


def button(widget: QWidget, text: str) -> QPushButton:
    found = [b for b in widget.findChildren(QPushButton) if b.text().replace("&", "") == text]
    assert len(found) == 1, f"button {text!r}: found {len(found)}"
    return found[0]


def click_button(qtbot: QtBot, widget: QWidget, text: str) -> None:
    qtbot.mouseClick(button(widget, text), Qt.MouseButton.LeftButton)


def cell(window: MainWindow, job: str, column: Column) -> str:
    row = window.model.row_of(job)
    assert row is not None, f"job {job!r} is not in the model"
    return str(window.model.index(row, column).data())


def wait_cell(qtbot: QtBot, window: MainWindow, job: str, column: Column,
              expected: str | Callable[[str], bool], timeout: int = WAIT_MS) -> None:
    check = expected if callable(expected) else (lambda text: text == expected)

    def ok() -> bool:
        return window.model.row_of(job) is not None and check(cell(window, job, column))

    qtbot.waitUntil(ok, timeout=timeout)


def visible_jobs(window: MainWindow) -> set[str]:
    proxy = window.proxy
    return {str(proxy.index(row, Column.NAME).data()) for row in range(proxy.rowCount())}


def wait_held(qtbot: QtBot, gate: TaskGate, computer: str) -> None:
    """Wait, with the event loop running, until the computer is parked at the gate."""
    qtbot.waitUntil(lambda: gate.is_waiting(computer), timeout=WAIT_MS)


def start_held(qtbot: QtBot, service: BackupApi, gate: TaskGate, job: str,
               computer: str) -> str:
    """Start ``job`` from the core (as another front end would) with ``computer`` held."""
    gate.hold(computer)
    session_id = service.start_job(job)
    wait_held(qtbot, gate, computer)
    return session_id


def point_computers(service: BackupApi, job: str) -> set[str]:
    return {p.computer for p in service.list_points(job)}
