"""Main menu → Options → Notifications, against the real server: the mail
server and a notification URL typed in and saved with the dialog's own
buttons, a test message that reaches a real SMTP server (aiosmtpd) and a
real HTTP receiver, and what the CLI then shows."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTime
from PySide6.QtWidgets import QDialogButtonBox, QPushButton
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from core.cli import main as agent_jobs
from gui.shell.main_window import MainWindow
from gui.shell.notifications_dialog import NotificationsDialog

from tests.gui.helpers import WAIT_MS, menu_action
from tests.support.receivers import hook_sink, smtp_sink


def open_notifications(qtbot: QtBot, window: MainWindow) -> NotificationsDialog:
    options = menu_action(window.ribbon.main_menu, "Options").menu()
    assert options is not None
    menu_action(options, "Notifications...").trigger()
    dialog = window.notifications_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=WAIT_MS)
    return dialog


def click(qtbot: QtBot, button: QPushButton) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def ok(qtbot: QtBot, dialog: NotificationsDialog) -> None:
    click(qtbot, dialog.buttons.button(QDialogButtonBox.StandardButton.Ok))


def cli_show(capsys: pytest.CaptureFixture[str], data_dir: Path) -> dict:
    capsys.readouterr()
    code = agent_jobs(["--data-dir", str(data_dir), "notifications", "show", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_set_notifications_from_the_options_and_send_a_test(
        qtbot: QtBot, window: MainWindow, service: BackupApi,
        capsys: pytest.CaptureFixture[str]) -> None:
    with smtp_sink() as mail, hook_sink() as hook:
        dialog = open_notifications(qtbot, window)
        assert not dialog.use_smtp.isChecked() and not dialog.host_edit.isEnabled()
        assert dialog.status.text() == "Since the server started: 0 sent, 0 not sent."
        dialog.use_smtp.click()
        qtbot.keyClicks(dialog.host_edit, mail.host)
        dialog.port_spin.setValue(mail.port)
        qtbot.keyClicks(dialog.sender_edit, "backup@example.test")
        qtbot.keyClicks(dialog.to_edit, "ops")
        ok(qtbot, dialog)                                   # a wrong address: said, not saved
        assert dialog.error.text() == "'ops' is not an e-mail address: write it as " \
                                      "name@example.com."
        assert service.get_notifications().smtp is None
        qtbot.keyClicks(dialog.to_edit, "@example.test, boss@example.test")

        qtbot.keyClicks(dialog.url_edit, "not a url")
        click(qtbot, dialog.add_url_button)
        assert "is not a notification URL" in dialog.error.text()
        dialog.url_edit.clear()
        qtbot.keyClicks(dialog.url_edit, hook.url)
        click(qtbot, dialog.add_url_button)
        assert dialog.urls() == [hook.url] and dialog.url_edit.text() == ""
        dialog.use_summary.click()
        dialog.summary_time.setTime(QTime(6, 45))

        click(qtbot, dialog.test_button)                    # saves, then sends a test
        qtbot.waitUntil(lambda: dialog.tested == 1, timeout=WAIT_MS)
        assert dialog.test_result.text() == (
            f"mail server {mail.host}:{mail.port}: test message delivered\n"
            f"{hook.url}: test message delivered")
        assert mail.inbox.wait_for(1) and hook.inbox.wait_for(1)
        assert sorted(mail.mails[0].rcpt_tos) == ["boss@example.test", "ops@example.test"]
        assert hook.posts[0]["title"] == "[Agent Backup] Test notification"
        ok(qtbot, dialog)
        qtbot.waitUntil(lambda: window.notifications_dialog is None, timeout=WAIT_MS)

        shown = cli_show(capsys, service.data_dir)
        assert shown["smtp"]["host"] == mail.host and shown["smtp"]["port"] == mail.port
        assert shown["smtp"]["security"] == "none" and shown["smtp"]["user"] is None
        assert shown["smtp"]["to"] == ["ops@example.test", "boss@example.test"]
        assert shown["urls"] == [hook.url] and shown["summary_at"] == "06:45"

        dialog = open_notifications(qtbot, window)           # shows what the server keeps
        assert dialog.use_smtp.isChecked() and dialog.host_edit.text() == mail.host
        assert dialog.port_spin.value() == mail.port
        assert dialog.to_edit.text() == "ops@example.test, boss@example.test"
        assert dialog.use_summary.isChecked() and dialog.summary_time.time() == QTime(6, 45)
        dialog.url_list.setCurrentRow(0)
        click(qtbot, dialog.remove_url_button)
        dialog.use_smtp.click()                              # no more e-mail
        ok(qtbot, dialog)
        qtbot.waitUntil(lambda: window.notifications_dialog is None, timeout=WAIT_MS)
        shown = cli_show(capsys, service.data_dir)
        assert shown["smtp"] is None and shown["urls"] == [] and shown["summary_at"] == "06:45"
