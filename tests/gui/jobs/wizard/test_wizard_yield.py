"""The wizard's Storage step: "Yield to production above N %" through the real wizard, kept
when editing, shown in the Summary, and an out-of-range threshold refused in plain words."""
from __future__ import annotations


import pytest
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from core.cli import main as agent_jobs
from gui.jobs.jobs_model import Column
from gui.shell.main_window import MainWindow
from tests.gui.conftest import JobFactory
from tests.gui.helpers import WAIT_MS, click_ribbon, click_row, wait_cell
from tests.gui.wizard_steps import click_step, finish, open_wizard, retype


def test_yield_to_production_round_trip(qtbot: QtBot, window: MainWindow, service: BackupApi,
                                        make_job: JobFactory,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    make_job("Busy", ("b1",))
    wait_cell(qtbot, window, "Busy", Column.STATUS, "Idle")
    click_row(qtbot, window, "Busy")
    click_ribbon(qtbot, window, "Edit")
    wizard = open_wizard(qtbot, window)
    click_step(qtbot, wizard, "Storage")
    storage = wizard.storage_page
    assert not storage.yield_check.isChecked() and not storage.pressure_spin.isEnabled()
    assert storage.pressure_spin.value() == 20
    storage.yield_check.click()
    assert storage.pressure_spin.isEnabled()
    retype(qtbot, storage.pressure_spin, "35")
    click_step(qtbot, wizard, "Summary")
    qtbot.waitUntil(lambda: "pressure is above 35 %"
                    in wizard.summary_page.summary.toPlainText(), timeout=WAIT_MS)
    finish(qtbot, wizard)
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)
    definition = service.get_job("Busy").definition
    assert definition.yield_to_production and definition.pressure_threshold == 35
    capsys.readouterr()
    assert agent_jobs(["--data-dir", str(service.data_dir), "job", "show", "Busy"]) == 0
    assert "Yield to production: each computer slows" in capsys.readouterr().out

    click_ribbon(qtbot, window, "Edit")
    wizard = open_wizard(qtbot, window)
    click_step(qtbot, wizard, "Storage")
    storage = wizard.storage_page
    assert storage.yield_check.isChecked() and storage.pressure_spin.value() == 35
    storage.yield_check.click()
    finish(qtbot, wizard)
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)
    definition = service.get_job("Busy").definition
    assert not definition.yield_to_production and definition.pressure_threshold == 35
