"""Main menu → Options → Maintenance: the server-wide maintenance window, set
from the console against the real server, and what the CLI then shows."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QTime
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from core.cli import main as agent_jobs
from core.scheduling.schedule import Weekday
from gui.shell.main_window import MainWindow
from gui.shell.maintenance_dialog import MaintenanceDialog

from tests.gui.helpers import WAIT_MS, menu_action


def open_maintenance(qtbot: QtBot, window: MainWindow) -> MaintenanceDialog:
    options = menu_action(window.ribbon.main_menu, "Options").menu()
    assert options is not None
    menu_action(options, "Maintenance...").trigger()
    dialog = window.maintenance_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=WAIT_MS)
    return dialog


def ok(dialog: MaintenanceDialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def cli_show(capsys: pytest.CaptureFixture[str], data_dir: Path) -> dict:
    capsys.readouterr()
    code = agent_jobs(["--data-dir", str(data_dir), "maintenance", "show", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_set_the_maintenance_window_from_the_options(
        qtbot: QtBot, window: MainWindow, service: BackupApi,
        capsys: pytest.CaptureFixture[str]) -> None:
    dialog = open_maintenance(qtbot, window)
    assert not dialog.use_window.isChecked() and not dialog.start_edit.isEnabled()
    dialog.use_window.click()
    dialog.start_edit.setTime(QTime(2, 0))
    dialog.end_edit.setTime(QTime(6, 30))
    for day in Weekday:
        dialog.days.boxes[day].click()                   # every day off: refused
    ok(dialog)
    assert dialog.error.text() == "Choose at least one day the maintenance window opens."
    assert service.get_maintenance().window is None
    dialog.days.boxes[Weekday.SAT].click()
    dialog.days.boxes[Weekday.SUN].click()
    ok(dialog)
    qtbot.waitUntil(lambda: window.maintenance_dialog is None, timeout=WAIT_MS)
    window_set = cli_show(capsys, service.data_dir)["window"]
    assert (window_set["start"], window_set["end"], window_set["days"]) == \
        ("02:00", "06:30", ["sat", "sun"])

    dialog = open_maintenance(qtbot, window)             # shows what the server keeps
    assert dialog.use_window.isChecked()
    assert dialog.start_edit.time() == QTime(2, 0) and dialog.end_edit.time() == QTime(6, 30)
    assert dialog.days.days() == (Weekday.SAT, Weekday.SUN)
    dialog.use_window.click()                            # no window: backups prune again
    ok(dialog)
    qtbot.waitUntil(lambda: window.maintenance_dialog is None, timeout=WAIT_MS)
    assert cli_show(capsys, service.data_dir) == {"window": None}
