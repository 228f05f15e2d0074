"""The Stop window answers "what does each choice cost me?" (issue 25, item 4): a
table of the job's computers with how old each one's newest restore point will be
under each choice, RPO breaches flagged, and the fourth choice, gracefully only for
the computers past their RPO, clicked for real from the ribbon."""
from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from core.api import BackupApi
from core.models import JobNotify, StopMode, TaskStatus
from gui.jobs.jobs_model import Column
from gui.jobs.stop_dialog import COST_COLUMNS, LOADING_TEXT, NO_RPO_TIP, PAST_RPO_BUTTON
from gui.shell.main_window import MainWindow
from tests.gui.conftest import JobFactory
from tests.gui.helpers import (
    button, click_button, click_ribbon, click_row, start_held, wait_cell, wait_held,
)
from tests.support.gate import TaskGate


def _table(dialog) -> list[list[str]]:
    return [[dialog.costs.item(r, c).text() for c in range(dialog.costs.columnCount())]
            for r in range(dialog.costs.rowCount())]


def test_only_past_rpo_from_the_ribbon(qtbot: QtBot, window: MainWindow, service: BackupApi,
                                       gate: TaskGate, make_job: JobFactory,
                                       tmp_path: Path) -> None:
    # 'fresh' gets a point in a first session ('late' is cancelled there: it has none);
    # then both are in flight, and 'queued' waits for a slot.
    make_job("Servers", ("fresh", "late", "queued"), task_slots=2,
             notify=JobNotify(rpo_hours=24))
    gate.hold("queued")
    first = start_held(qtbot, service, gate, "Servers", "late")
    qtbot.waitUntil(lambda: any(t.computer == "fresh" and t.status is TaskStatus.SUCCESS
                                for t in service.get_session(first).tasks))
    service.stop_job("Servers", StopMode.IMMEDIATELY)
    gate.release_all()
    wait_cell(qtbot, window, "Servers", Column.STATUS, "Idle")
    before = {p.id for p in service.list_points("Servers")}
    assert {p.computer for p in service.list_points("Servers")} == {"fresh"}

    gate.hold("fresh", "late")
    session_id = service.start_job("Servers")
    wait_held(qtbot, gate, "fresh")
    wait_held(qtbot, gate, "late")
    wait_cell(qtbot, window, "Servers", Column.STATUS, lambda t: t.startswith("Working"))

    click_row(qtbot, window, "Servers")
    click_ribbon(qtbot, window, "Stop")
    dialog = window.stop_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.immediately.points.text() != LOADING_TEXT)
    qtbot.waitUntil(lambda: dialog.costs.rowCount() == 3)
    assert [dialog.costs.horizontalHeaderItem(c).text() for c in range(5)] == \
        list(COST_COLUMNS)
    rows = {r[0]: r for r in _table(dialog)}
    assert rows["late"] == ["late", "In progress", "none", "new point", "new point"]
    assert rows["fresh"][1:3] == ["In progress", "0 min old"]
    assert rows["fresh"][3] == "new point" and rows["fresh"][4] == "0 min old"
    assert rows["queued"] == ["queued", "Not started", "none", "none", "none"]
    # flagged: 'late' immediately (no point at all), and 'queued' under every choice
    flagged = {(dialog.costs.item(r, 0).text(), c) for r in range(3) for c in (2, 3, 4)
               if dialog.costs.item(r, c).data(256) == "past RPO"}
    assert flagged == {("late", 2), ("queued", 2), ("queued", 3), ("queued", 4)}
    late_row = next(r for r in range(3) if dialog.costs.item(r, 0).text() == "late")
    assert dialog.costs.item(late_row, 2).toolTip() == \
        "Past the job's RPO of 24 h: no restore point at all."
    assert not dialog.costs.item(late_row, 2).icon().isNull()
    assert "RPO 24 h" in dialog.costs_caption.text()
    assert dialog.past_rpo.points.text() == "late"
    assert dialog.gracefully.points.text() == "fresh, late"

    click_button(qtbot, dialog, PAST_RPO_BUTTON)
    assert window.stop_dialog is None
    qtbot.waitUntil(lambda: service.get_session(session_id).stop_mode
                    is StopMode.GRACEFULLY_PAST_RPO)
    gate.release_all()
    # this session's end (the first session ended Failed too: the cell alone says nothing)
    qtbot.waitUntil(lambda: service.get_session(session_id).ended is not None, timeout=20_000)
    wait_cell(qtbot, window, "Servers", Column.LAST_RESULT, "Failed")
    session = service.get_session(session_id)
    assert {t.computer: t.status for t in session.tasks} == {
        "fresh": TaskStatus.CANCELLED, "late": TaskStatus.SUCCESS,
        "queued": TaskStatus.SKIPPED}
    new = [p for p in service.list_points("Servers") if p.id not in before]
    assert [p.computer for p in new] == ["late"]
    # on disk: the new point's manifest is in the repository, and it restores a tree
    (point,) = new
    assert service.browse_point(point.id, "")


def test_the_fourth_choice_needs_an_rpo(qtbot: QtBot, window: MainWindow,
                                        service: BackupApi, gate: TaskGate,
                                        make_job: JobFactory) -> None:
    make_job("Plain", ("c1", "c2"))
    start_held(qtbot, service, gate, "Plain", "c1")
    wait_cell(qtbot, window, "Plain", Column.STATUS, lambda t: t.startswith("Working"))
    click_row(qtbot, window, "Plain")
    click_ribbon(qtbot, window, "Stop")
    dialog = window.stop_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.costs.rowCount() == 2)
    past = button(dialog, PAST_RPO_BUTTON)
    assert not past.isEnabled()
    assert past.toolTip() == NO_RPO_TIP.replace("The job has", "The job 'Plain' has")
    assert "no RPO" in dialog.costs_caption.text()
    assert dialog.immediately_button.isEnabled()
    click_button(qtbot, dialog, "Immediately")
