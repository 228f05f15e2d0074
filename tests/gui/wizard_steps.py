"""What an operator does in the job wizard, as test steps."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox, QLineEdit
from pytestqt.qtbot import QtBot

from gui.jobs.wizard.wizard import JobWizard
from gui.shell.main_window import MainWindow

from tests.gui.helpers import WAIT_MS, button, click_button


def open_wizard(qtbot: QtBot, window: MainWindow) -> JobWizard:
    """The wizard that opened (Edit first fetches the job from the server)."""
    qtbot.waitUntil(lambda: window.job_wizard is not None, timeout=WAIT_MS)
    wizard = window.job_wizard
    assert wizard is not None and wizard.isVisible() and wizard.isModal()
    return wizard


def retype(qtbot: QtBot, edit: QLineEdit | QAbstractSpinBox, text: str) -> None:
    """Select what the field holds and type ``text`` over it, key by key."""
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    if text:
        qtbot.keyClicks(edit, text)


def next_step(qtbot: QtBot, wizard: JobWizard) -> None:
    click_button(qtbot, wizard, "Next")


def current_step(wizard: JobWizard) -> str:
    return wizard.steps[wizard.current].title


def click_step(qtbot: QtBot, wizard: JobWizard, title: str) -> None:
    """Click a step in the list on the left."""
    row = wizard.step_titles().index(title)
    item = wizard.step_list.item(row)
    rect = wizard.step_list.visualItemRect(item)
    qtbot.mouseClick(wizard.step_list.viewport(), Qt.MouseButton.LeftButton,
                     pos=rect.center())


def add_computer(qtbot: QtBot, wizard: JobWizard, folder: str, name: str | None = None) -> None:
    """Computers step: Add..., type the folder (and a name), OK."""
    page = wizard.computers_page
    click_button(qtbot, page, "Add...")
    dialog = page.computer_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClicks(dialog.folder_edit, folder)
    if name is not None:
        retype(qtbot, dialog.name_edit, name)
    ok = dialog.ok_button
    assert ok.isEnabled(), dialog.errors()
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert page.computer_dialog is None


def wait_checked(qtbot: QtBot, wizard: JobWizard) -> None:
    """Wait until the server has answered about the current computers and scope."""
    qtbot.waitUntil(lambda: not wizard.preview_pending, timeout=WAIT_MS)


def finish(qtbot: QtBot, wizard: JobWizard) -> None:
    finish_button = button(wizard, "Finish")
    assert finish_button.isEnabled(), wizard.check.errors
    qtbot.mouseClick(finish_button, Qt.MouseButton.LeftButton)
