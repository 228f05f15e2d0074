"""Starting jobs, as in the seed: select the job, click Start on the ribbon
or right-click the job and select Start."""
from __future__ import annotations

from pytestqt.qtbot import QtBot

from core.models import PointType, RunKind
from core.api import BackupApi
from tests.support.gate import TaskGate
from gui.jobs.jobs_model import Column
from gui.shell.main_window import MainWindow

from tests.gui.conftest import JobFactory
from tests.gui.helpers import (
    cell, click_menu, click_ribbon, click_row, point_computers, right_click_row, wait_cell,
    wait_held,
)


def _percent(text: str) -> int:
    return int(text.removeprefix("Working ").removesuffix("%"))


def test_start_from_ribbon(qtbot: QtBot, window: MainWindow, service: BackupApi,
                           gate: TaskGate, make_job: JobFactory) -> None:
    make_job("Linux Servers", ("web01", "db01", "app01"))
    gate.hold("web01", "db01")
    wait_cell(qtbot, window, "Linux Servers", Column.STATUS, "Idle")

    click_row(qtbot, window, "Linux Servers")
    click_ribbon(qtbot, window, "Start")

    wait_held(qtbot, gate, "web01")
    wait_cell(qtbot, window, "Linux Servers", Column.STATUS, lambda t: t.startswith("Working"))
    first = _percent(cell(window, "Linux Servers", Column.STATUS))
    gate.release("web01")          # web01 completes, db01 starts and is held
    wait_held(qtbot, gate, "db01")
    wait_cell(qtbot, window, "Linux Servers", Column.STATUS,
              lambda t: t.startswith("Working") and _percent(t) > first)
    gate.release_all()
    wait_cell(qtbot, window, "Linux Servers", Column.LAST_RESULT, "Success")
    wait_cell(qtbot, window, "Linux Servers", Column.STATUS, "Idle")
    assert point_computers(service, "Linux Servers") == {"web01", "db01", "app01"}
    assert service.list_sessions("Linux Servers")[0].run_kind is RunKind.MANUAL


def test_start_from_context_menu(qtbot: QtBot, window: MainWindow, service: BackupApi,
                                 gate: TaskGate, make_job: JobFactory) -> None:
    make_job("Finance", ("fin01", "fin02"))
    gate.hold("fin01")
    wait_cell(qtbot, window, "Finance", Column.STATUS, "Idle")

    menu = right_click_row(qtbot, window, "Finance")
    click_menu(qtbot, menu, "Start")

    wait_held(qtbot, gate, "fin01")
    wait_cell(qtbot, window, "Finance", Column.STATUS, lambda t: t.startswith("Working"))
    gate.release_all()
    wait_cell(qtbot, window, "Finance", Column.LAST_RESULT, "Success")
    assert point_computers(service, "Finance") == {"fin01", "fin02"}


def test_start_applies_to_every_selected_job(qtbot: QtBot, window: MainWindow,
                                             service: BackupApi, make_job: JobFactory
                                             ) -> None:
    make_job("Job A", ("a1",))
    make_job("Job B", ("b1",))
    wait_cell(qtbot, window, "Job B", Column.STATUS, "Idle")
    click_row(qtbot, window, "Job A")
    click_row(qtbot, window, "Job B", add=True)
    click_ribbon(qtbot, window, "Start")
    wait_cell(qtbot, window, "Job A", Column.LAST_RESULT, "Success")
    wait_cell(qtbot, window, "Job B", Column.LAST_RESULT, "Success")
    assert point_computers(service, "Job A") == {"a1"}
    assert point_computers(service, "Job B") == {"b1"}


def test_active_full_from_ribbon(qtbot: QtBot, window: MainWindow, service: BackupApi,
                                 make_job: JobFactory) -> None:
    make_job("Full Job", ("f1", "f2"))
    service.wait_session(service.start_job("Full Job"), timeout=10)
    wait_cell(qtbot, window, "Full Job", Column.LAST_RESULT, "Success")

    click_row(qtbot, window, "Full Job")
    click_ribbon(qtbot, window, "Active Full")

    qtbot.waitUntil(lambda: len(service.list_sessions("Full Job")) == 2, timeout=10_000)
    latest = service.list_sessions("Full Job")[0]
    assert latest.full
    service.wait_session(latest.id, timeout=10)
    wait_cell(qtbot, window, "Full Job", Column.LAST_RESULT, "Success")
    newest = [p for p in service.list_points("Full Job") if p.session_id == latest.id]
    assert {p.computer for p in newest} == {"f1", "f2"}
    assert {p.type for p in newest} == {PointType.FULL}
