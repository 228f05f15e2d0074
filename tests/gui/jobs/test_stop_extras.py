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
from tests.gui.helpers import (
    click_button, click_ribbon, click_row, point_computers, start_held, wait_cell, wait_held,
)


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


def test_reopened_during_a_graceful_stop_it_says_the_stop_is_under_way(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory) -> None:
    make_job("Slow", ("s1", "s2", "s3"))
    start_held(qtbot, service, gate, "Slow", "s2")
    service.stop_job("Slow", StopMode.GRACEFULLY)
    wait_cell(qtbot, window, "Slow", Column.STATUS, "Stopping")
    click_row(qtbot, window, "Slow")
    click_ribbon(qtbot, window, "Stop")
    dialog = window.stop_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: "under way" in dialog.question.text())
    since = service.stop_preview("Slow").stop_requested_at
    assert since is not None
    text = dialog.question.text()
    assert f"A graceful stop of 'Slow' is under way since {since.astimezone():%H:%M}" in text
    assert "it waits for s2 to finish" in text
    assert not dialog.gracefully_button.isEnabled() and dialog.immediately_button.isEnabled()
    dialog.reject()


def test_after_the_job_finished_the_window_lists_who_got_points(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory) -> None:
    make_job("Ends", ("e1", "e2", "e3"))
    start_held(qtbot, service, gate, "Ends", "e2")
    wait_cell(qtbot, window, "Ends", Column.STATUS, lambda t: t.startswith("Working"))
    click_row(qtbot, window, "Ends")
    click_ribbon(qtbot, window, "Stop")
    dialog = window.stop_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.gracefully.points.text() == "e1, e2")
    size = dialog.size()
    gate.release_all()   # the job ends while the window is open
    qtbot.waitUntil(lambda: "has finished" in dialog.question.text(), timeout=10_000)
    assert "New restore points for: e1, e2, e3." in dialog.question.text()
    assert "(Success at " in dialog.question.text()
    assert dialog.immediately.points.text() == dialog.gracefully.points.text() == "e1, e2, e3"
    assert not dialog.immediately_button.isEnabled() and not dialog.gracefully_button.isEnabled()
    assert dialog.cancel_button.text() == "Close"
    assert dialog.size() == size
    dialog.reject()


def test_the_two_job_window_shows_how_long_it_takes_uncut(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory) -> None:
    make_job("First Long Job Name", ("f1", "f2"), task_slots=2)
    make_job("Second Long Job Name", ("g1", "g2"), task_slots=2)
    gate.hold("f1", "f2", "g1", "g2")
    for job, computers in (("First Long Job Name", ("f1", "f2")),
                           ("Second Long Job Name", ("g1", "g2"))):
        service.start_job(job)
        for computer in computers:
            wait_held(qtbot, gate, computer)
    wait_cell(qtbot, window, "Second Long Job Name", Column.STATUS,
              lambda t: t.startswith("Working"))
    click_row(qtbot, window, "First Long Job Name")
    click_row(qtbot, window, "Second Long Job Name", add=True)
    click_ribbon(qtbot, window, "Stop")
    dialog = window.stop_dialog
    assert dialog is not None and len(dialog.jobs) == 2
    qtbot.waitUntil(lambda: dialog.estimate.text().count("%") == 4)
    box = dialog.estimate_box
    needed = dialog.estimate.heightForWidth(box.viewport().width())
    assert needed <= box.viewport().height(), (needed, box.viewport().height())
    dialog.reject()
