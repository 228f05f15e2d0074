"""Pause and resume from the console (issue 25): the ribbon's Pause holds the job and
the jobs list shows Paused; Resume lets it finish, with a restore point on disk. The Stop
window's third choice pauses too, and offers Resume (and both stops) once paused."""
from __future__ import annotations

from pytestqt.qtbot import QtBot

from core.api import BackupApi
from core.models import JobStatus
from gui.jobs.jobs_model import Column
from gui.jobs.stop_dialog import LOADING_TEXT
from gui.shell.main_window import MainWindow
from tests.gui.conftest import JobFactory
from tests.gui.helpers import (
    click_button, click_menu, click_ribbon, click_row, point_computers, ribbon_button,
    right_click_row, start_held, wait_cell,
)
from tests.support.gate import TaskGate


def _paused(qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
            name: str) -> None:
    """The pause was asked for with c1 held in progress by the test gate: letting it go,
    c1 parks at the session's hold gate at its next block; the row shows Paused."""
    qtbot.waitUntil(lambda: service.stop_preview(name).paused, timeout=10_000)   # asked for
    gate.release_all()
    qtbot.waitUntil(lambda: service.get_job(name).status is JobStatus.PAUSED, timeout=10_000)
    wait_cell(qtbot, window, name, Column.STATUS, "Paused")


def test_ribbon_pause_shows_paused_and_resume_makes_the_points(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory) -> None:
    make_job("Servers", ("c1", "c2"))
    session_id = start_held(qtbot, service, gate, "Servers", "c1")
    wait_cell(qtbot, window, "Servers", Column.STATUS, lambda t: t.startswith("Working"))
    click_row(qtbot, window, "Servers")
    assert window.job_actions.resume.isVisible() is False   # Pause holds its place
    click_ribbon(qtbot, window, "Pause")
    _paused(qtbot, window, service, gate, "Servers")
    qtbot.waitUntil(lambda: window.job_actions.resume.isVisible())
    assert ribbon_button(window, "Resume").isEnabled()
    assert not window.job_actions.pause.isVisible()
    assert ribbon_button(window, "Stop").isEnabled()   # a paused job can still be stopped
    assert point_computers(service, "Servers") == set()

    click_ribbon(qtbot, window, "Resume")
    wait_cell(qtbot, window, "Servers", Column.LAST_RESULT, "Success")
    wait_cell(qtbot, window, "Servers", Column.STATUS, "Idle")
    assert point_computers(service, "Servers") == {"c1", "c2"}
    session = service.get_session(session_id)
    assert all(t.point_id for t in session.tasks)
    assert {p.id for p in service.list_points("Servers")} == {t.point_id for t in session.tasks}


def test_stop_window_pauses_then_offers_resume_and_stop_immediately(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory) -> None:
    make_job("Build", ("c1", "c2"))
    start_held(qtbot, service, gate, "Build", "c1")
    wait_cell(qtbot, window, "Build", Column.STATUS, lambda t: t.startswith("Working"))
    menu = right_click_row(qtbot, window, "Build")
    click_menu(qtbot, menu, "Stop")
    dialog = window.stop_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.immediately.points.text() != LOADING_TEXT)
    assert dialog.pause_button.text() == "Pause" and dialog.pause_button.isEnabled()
    click_button(qtbot, dialog, "Pause")
    assert window.stop_dialog is None
    _paused(qtbot, window, service, gate, "Build")

    click_row(qtbot, window, "Build")
    click_ribbon(qtbot, window, "Stop")
    dialog = window.stop_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.pause_button.text() == "Resume")
    click_button(qtbot, dialog, "Immediately")   # paused computers get no point
    wait_cell(qtbot, window, "Build", Column.LAST_RESULT, "Failed")
    assert point_computers(service, "Build") == set()
