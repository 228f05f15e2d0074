"""Entry points, the status bar, resources, closing with running jobs, and
jobs started by another process (the CLI) on the same data directory."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from core.models import Computer, JobDefinition, JobStatus
from core.service import BackupService
from core.testing import TaskGate
from gui import resources
from gui.app import create_main_window
from gui.jobs_model import Column
from gui.main_window import MainWindow

from .conftest import JobFactory, shutdown_service, write_tree
from .helpers import (
    button, click_button, click_ribbon, click_row, point_computers, start_held, wait_cell,
    wait_held,
)

REPO = Path(__file__).resolve().parents[2]


def test_resources_are_found_and_icons_are_svg() -> None:
    base = resources.resources_dir()
    assert (base / "style.qss").is_file()
    for name in ["start", "stop", "retry", "active_full", "enable", "disable", "delete",
                 "statistics", "backup_job", "home", "jobs", "running", "success",
                 "warning", "failed"]:
        path = resources.icon_path(name)
        assert path.suffix == ".svg" and path.is_file(), name
        pixmap = resources.icon(name).pixmap(64, 64)
        assert not pixmap.isNull() and pixmap.width() == 64
    assert "#00B336" in resources.style_sheet()


def test_create_main_window_is_ready_but_not_shown(qtbot: QtBot, service: BackupService,
                                                   make_job: JobFactory) -> None:
    make_job("One", ("o1",))
    window = create_main_window(service.data_dir, service=service)
    qtbot.addWidget(window)
    assert isinstance(window, MainWindow) and not window.isVisible()
    qtbot.waitUntil(lambda: window.refresher.count >= 1)
    assert window.model.rowCount() == 1
    assert cell_row(window, "One") == ["One", "Linux Agent Backup", "1", "Idle", "", "",
                                       "<not scheduled>", "Default Backup Repository", ""]
    assert str(service.data_dir) in window.status_bar.data_dir_label.text()
    assert window.status_bar.running_label.text() == "No jobs running"
    window.close()


def cell_row(window: MainWindow, job: str) -> list[str]:
    row = window.model.row_of(job)
    assert row is not None
    return [str(window.model.index(row, c).data()) for c in Column]


def test_status_bar_counts_running_jobs(qtbot: QtBot, window: MainWindow,
                                        service: BackupService, gate: TaskGate,
                                        make_job: JobFactory) -> None:
    make_job("R1", ("r1",))
    make_job("R2", ("r2",))
    start_held(qtbot, service, gate, "R1", "r1")
    start_held(qtbot, service, gate, "R2", "r2")
    qtbot.waitUntil(lambda: window.status_bar.running_label.text() == "2 jobs running")
    gate.release_all()
    qtbot.waitUntil(lambda: window.status_bar.running_label.text() == "No jobs running",
                    timeout=10_000)


def test_close_with_running_jobs_asks(qtbot: QtBot, window: MainWindow, service: BackupService,
                                      gate: TaskGate, make_job: JobFactory) -> None:
    make_job("Night", ("n1", "n2", "n3"))
    gate.hold("n2")
    wait_cell(qtbot, window, "Night", Column.STATUS, "Idle")
    click_row(qtbot, window, "Night")
    click_ribbon(qtbot, window, "Start")
    wait_held(qtbot, gate, "n2")
    wait_cell(qtbot, window, "Night", Column.STATUS, lambda t: t.startswith("Working"))

    window.close()
    box = window.close_dialog
    assert box is not None and box.isVisible()
    assert "Night" in box.text()
    click_button(qtbot, box, "Cancel")
    assert window.isVisible()
    assert service.get_job("Night").status is JobStatus.WORKING

    window.close()
    box = window.close_dialog
    assert box is not None
    assert button(box, "Stop Jobs and Exit")
    click_button(qtbot, box, "Stop Jobs and Exit")
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert service.get_job("Night").last_result is not None
    assert cell(service, "Night") == "Failed"
    assert point_computers(service, "Night") == {"n1"}


def cell(service: BackupService, job: str) -> str:
    result = service.get_job(job).last_result
    return result.value if result else ""


@pytest.mark.parametrize("watch", [True])
def test_job_started_by_another_process_appears_within_a_second(
        qtbot: QtBot, window: MainWindow, service: BackupService, tmp_path: Path,
        watch: bool) -> None:
    other_gate = TaskGate()
    other = BackupService(service.data_dir, hooks=other_gate, watch=False)   # "the CLI"
    try:
        computers = tuple(Computer(name=n, path=str(write_tree(tmp_path / "cli" / n)))
                          for n in ("cli1", "cli2"))
        other.create_job(JobDefinition(name="From CLI", computers=computers, task_slots=1))
        qtbot.waitUntil(lambda: window.model.row_of("From CLI") is not None, timeout=1500)
        other_gate.hold("cli1")
        other.start_job("From CLI")
        wait_cell(qtbot, window, "From CLI", Column.STATUS, lambda t: t.startswith("Working"),
                  timeout=1500)

        # ... and the console can stop what the CLI started.
        click_row(qtbot, window, "From CLI")
        click_ribbon(qtbot, window, "Stop")
        dialog = window.stop_dialog
        assert dialog is not None
        qtbot.waitUntil(lambda: dialog.gracefully.points.text() == "cli1")
        click_button(qtbot, dialog, "Immediately")
        wait_cell(qtbot, window, "From CLI", Column.LAST_RESULT, "Failed", timeout=5000)
        assert point_computers(service, "From CLI") == set()
    finally:
        shutdown_service(other, other_gate)


def test_screenshot_command_line(tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-m", "gui", "--data-dir", str(tmp_path / "data"), "--demo",
         "--screenshot", str(shot)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr
    image = QImage(str(shot))
    assert not image.isNull() and image.width() >= 800 and image.height() >= 500
    assert (tmp_path / "data").is_dir()
