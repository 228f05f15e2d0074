"""Stopping jobs, as in the seed: Stop on the ribbon or in the right-click
menu opens "Stop Backup Job"; Immediately, Gracefully or Cancel."""
from __future__ import annotations

from pytestqt.qtbot import QtBot

from core.models import JobStatus
from core.api import BackupApi, BulkResult
from tests.support.gate import TaskGate
from gui.jobs.jobs_model import Column
from gui.shell.main_window import MainWindow
from gui.jobs.stop_dialog import LOADING_TEXT

from tests.gui.conftest import JobFactory
from tests.gui.helpers import (
    cell, click_button, click_menu, click_ribbon, click_row, point_computers, right_click_row,
    start_held, wait_cell,
)


def _running_with_held(qtbot: QtBot, window: MainWindow, service: BackupApi,
                       gate: TaskGate, make_job: JobFactory, name: str) -> None:
    """Three computers, one at a time: c1 done, c2 in progress (held), c3 waiting."""
    make_job(name, ("c1", "c2", "c3"))
    start_held(qtbot, service, gate, name, "c2")
    wait_cell(qtbot, window, name, Column.STATUS, lambda t: t.startswith("Working"))


def _open_stop_dialog_previewed(qtbot: QtBot, window: MainWindow) -> None:
    dialog = window.stop_dialog
    assert dialog is not None and dialog.isVisible() and dialog.isModal()
    assert dialog.windowTitle() == "Stop Backup Job"
    qtbot.waitUntil(lambda: dialog.immediately.points.text() != LOADING_TEXT)


def test_stop_immediately_from_ribbon(qtbot: QtBot, window: MainWindow,
                                      service: BackupApi, gate: TaskGate,
                                      make_job: JobFactory) -> None:
    _running_with_held(qtbot, window, service, gate, make_job, "Servers")

    click_row(qtbot, window, "Servers")
    click_ribbon(qtbot, window, "Stop")
    _open_stop_dialog_previewed(qtbot, window)
    dialog = window.stop_dialog
    assert dialog is not None
    assert dialog.immediately.points.text() == "c1"
    assert dialog.gracefully.points.text() == "c1, c2"
    assert "c3" in dialog.nothing.text()

    click_button(qtbot, dialog, "Immediately")

    assert window.stop_dialog is None
    assert cell(window, "Servers", Column.STATUS) == "Stopping"
    wait_cell(qtbot, window, "Servers", Column.LAST_RESULT, "Failed")
    wait_cell(qtbot, window, "Servers", Column.STATUS, "Idle")
    assert point_computers(service, "Servers") == {"c1"}


def test_stop_gracefully_from_context_menu(qtbot: QtBot, window: MainWindow,
                                           service: BackupApi, gate: TaskGate,
                                           make_job: JobFactory) -> None:
    _running_with_held(qtbot, window, service, gate, make_job, "Workstations")

    menu = right_click_row(qtbot, window, "Workstations")
    click_menu(qtbot, menu, "Stop")
    _open_stop_dialog_previewed(qtbot, window)
    dialog = window.stop_dialog
    assert dialog is not None
    click_button(qtbot, dialog, "Gracefully")

    # c2 is still held: the job is really stopping, and the row says so.
    qtbot.waitUntil(lambda: service.get_job("Workstations").status is JobStatus.STOPPING)
    wait_cell(qtbot, window, "Workstations", Column.STATUS, "Stopping")
    gate.release("c2")
    wait_cell(qtbot, window, "Workstations", Column.LAST_RESULT, "Warning")
    wait_cell(qtbot, window, "Workstations", Column.STATUS, "Idle")
    assert point_computers(service, "Workstations") == {"c1", "c2"}


def test_stop_cancel_changes_nothing(qtbot: QtBot, window: MainWindow,
                                     service: BackupApi, gate: TaskGate,
                                     make_job: JobFactory) -> None:
    _running_with_held(qtbot, window, service, gate, make_job, "Build")

    click_row(qtbot, window, "Build")
    click_ribbon(qtbot, window, "Stop")
    dialog = window.stop_dialog
    assert dialog is not None
    click_button(qtbot, dialog, "Cancel")

    assert window.stop_dialog is None
    assert service.get_job("Build").status is JobStatus.WORKING
    wait_cell(qtbot, window, "Build", Column.STATUS, lambda t: t.startswith("Working"))
    gate.release_all()
    wait_cell(qtbot, window, "Build", Column.LAST_RESULT, "Success")
    assert point_computers(service, "Build") == {"c1", "c2", "c3"}


def test_stop_preview_follows_the_job_while_open(qtbot: QtBot, window: MainWindow,
                                                 service: BackupApi, gate: TaskGate,
                                                 make_job: JobFactory) -> None:
    make_job("Live", ("l1", "l2", "l3"))
    gate.hold("l1", "l2")
    service.start_job("Live")
    qtbot.waitUntil(lambda: gate.is_waiting("l1"))
    wait_cell(qtbot, window, "Live", Column.STATUS, lambda t: t.startswith("Working"))
    click_row(qtbot, window, "Live")
    click_ribbon(qtbot, window, "Stop")
    dialog = window.stop_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.gracefully.points.text() == "l1")
    assert dialog.immediately.points.text() == "none"

    gate.release("l1")   # l1 finishes, l2 starts and is held
    qtbot.waitUntil(lambda: dialog.gracefully.points.text() == "l1, l2", timeout=5000)
    assert dialog.immediately.points.text() == "l1"
    click_button(qtbot, dialog, "Cancel")


def test_stop_window_follows_a_job_that_finishes_meanwhile(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory) -> None:
    _running_with_held(qtbot, window, service, gate, make_job, "Racing")
    click_row(qtbot, window, "Racing")
    click_ribbon(qtbot, window, "Stop")
    _open_stop_dialog_previewed(qtbot, window)
    dialog = window.stop_dialog
    assert dialog is not None and dialog.immediately_button.isEnabled()

    gate.release("c2")  # the job runs to its end while the operator hesitates
    qtbot.waitUntil(lambda: "has finished" in dialog.question.text(), timeout=10_000)
    assert not dialog.immediately_button.isEnabled()
    assert not dialog.gracefully_button.isEnabled()
    click_button(qtbot, dialog, "Close")
    assert window.stop_dialog is None
    wait_cell(qtbot, window, "Racing", Column.LAST_RESULT, "Success")
    assert point_computers(service, "Racing") == {"c1", "c2", "c3"}


def test_a_job_that_ends_while_the_stop_dialog_is_open_is_no_error(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory) -> None:
    make_job("Quick", ("q1",))
    start_held(qtbot, service, gate, "Quick", "q1")
    wait_cell(qtbot, window, "Quick", Column.STATUS, lambda t: t.startswith("Working"))
    click_row(qtbot, window, "Quick")
    click_ribbon(qtbot, window, "Stop")
    _open_stop_dialog_previewed(qtbot, window)
    dialog = window.stop_dialog
    assert dialog is not None
    gate.release("q1")   # it finishes by itself while the operator reads the dialog
    # wait for the end without running the GUI's event loop, so the dialog has not
    # heard of it yet when Gracefully is pressed (else it rightly disables the button)
    service.wait_session(service.list_sessions("Quick")[0].id, timeout=10)
    assert service.get_job("Quick").status is JobStatus.IDLE

    answers: list[BulkResult] = []
    report = window.controller._stopped
    window.controller._stopped = lambda title, result: (answers.append(result),
                                                        report(title, result))
    click_button(qtbot, dialog, "Gracefully")

    qtbot.waitUntil(lambda: bool(answers))   # the server's answer reached the console
    assert answers[0].error_kinds == {"Quick": "JobNotRunning"}
    assert window.error_box is None
    wait_cell(qtbot, window, "Quick", Column.LAST_RESULT, "Success")
    wait_cell(qtbot, window, "Quick", Column.STATUS, "Idle")
    assert point_computers(service, "Quick") == {"q1"}
