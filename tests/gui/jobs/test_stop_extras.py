"""Stop, beyond the reference console: how long Gracefully will take, a
graceful stop with a deadline, and a start outside the backup window."""
from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from core.models import StopMode
from core.scheduling import BackupWindow, Schedule, ScheduleKind
from gui.jobs.jobs_model import Column
from gui.shell.main_window import MainWindow
from gui.jobs.stop_dialog import LOADING_TEXT, eta_text
from tests.support.gate import TaskGate

from tests.gui.conftest import JobFactory
from tests.gui.helpers import click_button, click_ribbon, click_row, point_computers, start_held, wait_cell


def test_graceful_stop_shows_progress_and_keeps_a_deadline(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory) -> None:
    make_job("Servers", ("c1", "c2", "c3"))
    start_held(qtbot, service, gate, "Servers", "c2")
    wait_cell(qtbot, window, "Servers", Column.STATUS, lambda t: t.startswith("Working"))
    click_row(qtbot, window, "Servers")
    click_ribbon(qtbot, window, "Stop")
    dialog = window.stop_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.estimate.text() != LOADING_TEXT)
    first, last = dialog.estimate.text().split("\n")
    assert first.startswith("c2: ") and " %, " in first
    assert last == "Estimating when the job stops…" or last.endswith("until the job stops.")
    size = dialog.size()

    assert not dialog.deadline_minutes.isEnabled()
    dialog.deadline.click()
    dialog.deadline_minutes.setValue(20)
    assert dialog.escalate_after_s == 1200
    assert dialog.size() == size
    before = time.time()
    click_button(qtbot, dialog, "Gracefully")

    qtbot.waitUntil(lambda: service.stop_preview("Servers").escalate_at is not None)
    due = service.stop_preview("Servers").escalate_at
    assert due is not None and abs(due.timestamp() - (before + 1200)) < 30
    session = service.get_session(service.stop_preview("Servers").session_id)
    assert session.stop_mode is StopMode.GRACEFULLY
    assert any("it stops immediately" in item.text for item in session.log)
    gate.release_all()
    wait_cell(qtbot, window, "Servers", Column.LAST_RESULT, "Warning")
    assert point_computers(service, "Servers") == {"c1", "c2"}


def test_eta_words() -> None:
    assert eta_text(12) == "less than a minute"
    assert eta_text(61) == "about 2 min"
    assert eta_text(3600) == "about 1 h"
    assert eta_text(4801) == "about 1 h 21 min"


def _closed_window() -> BackupWindow:
    hour = time.localtime().tm_hour
    return BackupWindow(start=f"{(hour + 2) % 24:02d}:00", end=f"{(hour + 3) % 24:02d}:00")


def test_a_start_outside_the_backup_window_asks_first(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory) -> None:
    make_job("Nightly", ("n1",), schedule=Schedule(kind=ScheduleKind.DAILY, at="03:00",
                                                   window=_closed_window()))
    wait_cell(qtbot, window, "Nightly", Column.STATUS, "Idle")
    click_row(qtbot, window, "Nightly")

    click_ribbon(qtbot, window, "Start")
    qtbot.waitUntil(lambda: window.controller.window_question is not None)
    box = window.controller.window_question
    assert box is not None and "outside its backup window" in box.text()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.No), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.controller.window_question is None)
    assert service.list_sessions("Nightly") == []

    click_ribbon(qtbot, window, "Start")
    qtbot.waitUntil(lambda: window.controller.window_question is not None)
    box = window.controller.window_question
    assert box is not None
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    wait_cell(qtbot, window, "Nightly", Column.LAST_RESULT, "Success")
    assert point_computers(service, "Nightly") == {"n1"}
    assert window.error_box is None
