"""The Add computer window's fields stay put under the pointer: a validation message
never moves them, and switching to Local folder leaves no tall empty window."""
from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from gui.jobs.wizard.computer_dialog import ComputerDialog


def _where(dialog: ComputerDialog, widgets: list[QWidget]) -> list[QRect]:
    return [QRect(w.mapTo(dialog, w.rect().topLeft()), w.size()) for w in widgets]


def test_a_validation_message_moves_no_field(qtbot: QtBot) -> None:
    dialog = ComputerDialog([])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.mouseClick(dialog.ssh_radio, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.ssh_page.isVisible())
    fields: list[QWidget] = [dialog.user_edit, dialog.remote_path_edit, dialog.accept_new_check,
                             dialog.ok_button]
    before = _where(dialog, fields)
    height = dialog.height()
    qtbot.keyClicks(dialog.host_edit, "bad host!")    # a message under the host
    qtbot.waitUntil(lambda: dialog.host_error.text() != "")
    dialog.user_edit.setText("no such user name with spaces")
    qtbot.waitUntil(lambda: dialog.user_error.text() != "")
    dialog.layout().activate()
    assert _where(dialog, fields) == before
    assert dialog.height() == height
    assert dialog.host_error.toolTip() == dialog.field_errors()["host"]


def test_switching_to_local_folder_shrinks_the_window(qtbot: QtBot) -> None:
    """With messages showing on the SSH fields (as when an operator tried SSH first),
    Local folder's shorter page leaves no tall empty window."""
    dialog = ComputerDialog([])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.mouseClick(dialog.ssh_radio, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.ssh_page.isVisible())
    qtbot.keyClicks(dialog.host_edit, "bad host!")
    qtbot.waitUntil(lambda: dialog.host_error.text() != "")
    dialog.user_edit.setText("no such user name with spaces")
    qtbot.waitUntil(lambda: dialog.user_error.text() != "")
    ssh_height = dialog.height()
    qtbot.mouseClick(dialog.local_radio, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.local_page.isVisible())
    qtbot.waitUntil(lambda: dialog.height() < ssh_height - 60)
    assert dialog.height() <= dialog.sizeHint().height() + 2
