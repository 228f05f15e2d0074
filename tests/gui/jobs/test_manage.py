"""Disable/Enable, Delete (with its backups or not), Statistics, and how
errors from the core reach the operator."""
from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from tests.support.gate import TaskGate
from gui.jobs.jobs_model import Column
from gui.shell.main_window import MainWindow

from tests.gui.conftest import JobFactory
from tests.gui.helpers import (
    click_button, click_ribbon, click_row, point_computers, ribbon_button, start_held,
    visible_jobs, wait_cell,
)


def test_disable_and_enable(qtbot: QtBot, window: MainWindow, service: BackupApi,
                            make_job: JobFactory) -> None:
    make_job("Toggle", ("t1",))
    wait_cell(qtbot, window, "Toggle", Column.STATUS, "Idle")
    click_row(qtbot, window, "Toggle")
    click_ribbon(qtbot, window, "Disable")
    wait_cell(qtbot, window, "Toggle", Column.STATUS, "Disabled")
    assert not service.get_job("Toggle").definition.enabled
    qtbot.waitUntil(lambda: ribbon_button(window, "Enable").isEnabled())
    assert not ribbon_button(window, "Start").isEnabled()
    click_ribbon(qtbot, window, "Enable")
    wait_cell(qtbot, window, "Toggle", Column.STATUS, "Idle")
    assert service.get_job("Toggle").definition.enabled


def test_delete_asks_and_can_delete_backups(qtbot: QtBot, window: MainWindow,
                                            service: BackupApi, make_job: JobFactory
                                            ) -> None:
    make_job("Keep Points", ("k1",))
    make_job("Drop Points", ("d1",))
    for name in ("Keep Points", "Drop Points"):
        service.wait_session(service.start_job(name), timeout=10)
    wait_cell(qtbot, window, "Drop Points", Column.LAST_RESULT, "Success")

    click_row(qtbot, window, "Drop Points")
    click_ribbon(qtbot, window, "Delete")
    dialog = window.delete_dialog
    assert dialog is not None and dialog.isVisible()
    click_button(qtbot, dialog, "No")
    assert window.delete_dialog is None
    assert {j.name for j in service.list_jobs()} == {"Keep Points", "Drop Points"}

    click_ribbon(qtbot, window, "Delete")
    dialog = window.delete_dialog
    assert dialog is not None
    dialog.delete_backups.click()
    click_button(qtbot, dialog, "Yes")
    qtbot.waitUntil(lambda: visible_jobs(window) == {"Keep Points"}, timeout=10_000)
    assert point_computers(service, "Drop Points") == set()

    click_row(qtbot, window, "Keep Points")
    click_ribbon(qtbot, window, "Delete")
    dialog = window.delete_dialog
    assert dialog is not None and not dialog.delete_backups.isChecked()
    click_button(qtbot, dialog, "Yes")
    qtbot.waitUntil(lambda: visible_jobs(window) == set(), timeout=10_000)
    assert point_computers(service, "Keep Points") == {"k1"}


def test_statistics_of_last_session(qtbot: QtBot, window: MainWindow, service: BackupApi,
                                    gate: TaskGate, make_job: JobFactory) -> None:
    make_job("Stats", ("s1", "s2"), files=4)
    start_held(qtbot, service, gate, "Stats", "s2")
    wait_cell(qtbot, window, "Stats", Column.STATUS, lambda t: t.startswith("Working"))
    click_row(qtbot, window, "Stats")
    click_ribbon(qtbot, window, "Statistics")
    dialog = window.statistics_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.session is not None)
    assert dialog.computer_names() == ["s1", "s2"]

    gate.release_all()   # the open window follows the session to its end
    qtbot.waitUntil(lambda: dialog.status["Success"].text() == "2", timeout=10_000)
    # the session ends just after its last computer: its status follows with the next update
    qtbot.waitUntil(lambda: dialog.summary["Status"].text() == "Success", timeout=10_000)
    assert dialog.data["Processed"].text().endswith("KB")
    assert dialog.status["Error"].text() == "0"
    dialog.select_row("s2")
    log = dialog.log_lines()
    assert log and any("s2" in line for line in log)
    dialog.close()
    assert window.statistics_dialog is None


def test_core_error_shows_its_text(qtbot: QtBot, window: MainWindow, service: BackupApi,
                                   make_job: JobFactory) -> None:
    """An error the server reports appears in a message box, in its own words."""
    make_job("Err", ("e1",))
    wait_cell(qtbot, window, "Err", Column.STATUS, "Idle")
    repositories = service.data_dir / "repositories"
    repositories.mkdir(parents=True, exist_ok=True)
    (repositories / "default").write_text("not a repository")   # a broken repository
    message = (f"Cannot create a repository at {repositories / 'default'}: it is a file. "
               "Choose a folder.")

    click_row(qtbot, window, "Err")
    click_ribbon(qtbot, window, "Start")
    qtbot.waitUntil(lambda: window.error_box is not None and window.error_box.isVisible())
    box = window.error_box
    assert box is not None
    assert box.text() == message
    assert "Traceback" not in box.text()
    box.close()


def test_unexpected_error_is_one_line(qtbot: QtBot, window: MainWindow,
                                      service: BackupApi, make_job: JobFactory,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    make_job("Boom", ("x1",))
    wait_cell(qtbot, window, "Boom", Column.STATUS, "Idle")

    def explode(name: str, enabled: bool) -> None:
        raise RuntimeError("disk controller exploded\nTraceback (most recent call last): ...")

    monkeypatch.setattr(service, "set_job_enabled", explode)
    click_row(qtbot, window, "Boom")
    click_ribbon(qtbot, window, "Disable")
    qtbot.waitUntil(lambda: window.error_box is not None and window.error_box.isVisible())
    box = window.error_box
    assert box is not None
    assert box.text() == "Unexpected error (RuntimeError): disk controller exploded"
    box.close()
