"""Escape on a half-filled wizard asks before discarding it; on an untouched one it
closes at once."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from gui.shell.main_window import MainWindow

from tests.gui.helpers import click_ribbon
from tests.gui.wizard_steps import open_wizard, retype


def test_escape_closes_an_untouched_wizard_and_asks_on_a_half_filled_one(
        qtbot: QtBot, window: MainWindow, service: BackupApi) -> None:
    click_ribbon(qtbot, window, "Backup Job")
    wizard = open_wizard(qtbot, window)
    qtbot.keyClick(wizard, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not wizard.isVisible())
    assert wizard.discard_question is None

    click_ribbon(qtbot, window, "Backup Job")
    wizard = open_wizard(qtbot, window)
    retype(qtbot, wizard.name_page.name_edit, "Half done")
    qtbot.keyClick(wizard, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: wizard.discard_question is not None
                    and wizard.discard_question.isVisible())
    box = wizard.discard_question
    assert box is not None and box.text() == "Discard the new job?"
    assert wizard.isVisible()
    # Cancel (the default) keeps the wizard and what was typed.
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.isVisible())
    assert wizard.isVisible() and wizard.name_page.name_edit.text() == "Half done"
    # The title bar's close button asks too; Discard closes.
    wizard.close()
    qtbot.waitUntil(lambda: wizard.discard_question is not box
                    and wizard.discard_question is not None
                    and wizard.discard_question.isVisible())
    again = wizard.discard_question
    assert again is not None
    qtbot.mouseClick(again.button(QMessageBox.StandardButton.Discard),
                     Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not wizard.isVisible())
    assert [j.name for j in service.list_jobs()] == []
