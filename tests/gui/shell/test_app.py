"""Entry points, the status bar, resources, closing while jobs run, and jobs
started by another client (the CLI) of the same server."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QElapsedTimer
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from core.models import Computer, JobDefinition, JobStatus
from core.api.client import ServerClient
from core.server.runtime import ServerRuntime
from tests.support.gate import TaskGate
from gui.widgets import resources
from gui.app import create_main_window
from gui.jobs.jobs_model import Column
from gui.shell.main_window import MainWindow

from tests.gui.conftest import JobFactory, write_tree
from tests.gui.helpers import (
    click_button, click_ribbon, click_row, point_computers, start_held, wait_cell, wait_held,
)

REPO = Path(__file__).resolve().parents[3]


def test_resources_are_found_and_icons_are_svg(qapp: object) -> None:
    base = resources.resources_dir()
    assert (base / "style.qss").is_file()
    for name in ["start", "stop", "retry", "active_full", "enable", "disable", "delete",
                 "statistics", "backup_job", "home", "jobs", "running", "success",
                 "warning", "failed", "edit", "clone", "empty", "history", "restore",
                 "verify", "report", "backups", "disk", "computer", "point", "folder", "file",
                 "link"]:
        path = resources.icon_path(name)
        assert path.suffix == ".svg" and path.is_file(), name
        pixmap = resources.icon(name).pixmap(64, 64)
        assert not pixmap.isNull() and pixmap.width() == 64
    assert "#00B336" in resources.style_sheet()


def test_create_main_window_is_ready_but_not_shown(qtbot: QtBot, service: BackupApi,
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
                                        service: BackupApi, gate: TaskGate,
                                        make_job: JobFactory) -> None:
    make_job("R1", ("r1",))
    make_job("R2", ("r2",))
    start_held(qtbot, service, gate, "R1", "r1")
    start_held(qtbot, service, gate, "R2", "r2")
    qtbot.waitUntil(lambda: window.status_bar.running_label.text() == "2 jobs running")
    gate.release_all()
    qtbot.waitUntil(lambda: window.status_bar.running_label.text() == "No jobs running",
                    timeout=10_000)


def test_closing_the_console_never_stops_a_job(qtbot: QtBot, window: MainWindow,
                                              service: BackupApi, gate: TaskGate,
                                              make_job: JobFactory) -> None:
    make_job("Night", ("n1", "n2", "n3"))
    gate.hold("n2")
    wait_cell(qtbot, window, "Night", Column.STATUS, "Idle")
    click_row(qtbot, window, "Night")
    click_ribbon(qtbot, window, "Start")
    wait_held(qtbot, gate, "n2")
    wait_cell(qtbot, window, "Night", Column.STATUS, lambda t: t.startswith("Working"))

    window.close()   # no question asked: the job belongs to the server
    assert not window.isVisible()
    assert service.get_job("Night").status is JobStatus.WORKING

    reopened = create_main_window(service.data_dir, service=service)
    reopened.show()
    wait_cell(qtbot, reopened, "Night", Column.STATUS, lambda t: t.startswith("Working"))
    gate.release_all()
    wait_cell(qtbot, reopened, "Night", Column.LAST_RESULT, "Success")
    assert point_computers(service, "Night") == {"n1", "n2", "n3"}
    reopened.close()


def test_job_started_by_another_client_appears_at_once(
        qtbot: QtBot, window: MainWindow, service: BackupApi, server: ServerRuntime,
        gate: TaskGate, tmp_path: Path) -> None:
    other = ServerClient(server.data_dir, autostart=False)   # "the CLI"
    try:
        computers = tuple(Computer(name=n, path=str(write_tree(tmp_path / "cli" / n)))
                          for n in ("cli1", "cli2"))
        other.create_job(JobDefinition(name="From CLI", computers=computers, task_slots=1))
        qtbot.waitUntil(lambda: window.model.row_of("From CLI") is not None, timeout=1000)
        gate.hold("cli1")
        clock = QElapsedTimer()
        clock.start()
        other.start_job("From CLI")
        wait_cell(qtbot, window, "From CLI", Column.STATUS, lambda t: t.startswith("Working"),
                  timeout=1000)
        shown_after_ms = clock.elapsed()
        # Usually about 110 ms (the bridge coalesces for 100 ms); a loaded CI gets slack.
        assert shown_after_ms < 1000

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
        other.close()


def test_screenshot_command_line(tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               XDG_CONFIG_HOME=str(tmp_path / "config"))   # no layout of the user's
    result = subprocess.run(
        [sys.executable, "-m", "gui", "--data-dir", str(tmp_path / "data"), "--demo",
         "--screenshot", str(shot)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr
    image = QImage(str(shot))
    assert not image.isNull() and image.width() >= 800 and image.height() >= 500
    assert (tmp_path / "data").is_dir()


def test_two_consoles_side_by_side(qtbot: QtBot, window: MainWindow, service: BackupApi,
                                   gate: TaskGate, make_job: JobFactory) -> None:
    make_job("Shared", ("s1", "s2"))
    second = create_main_window(service.data_dir,
                                service=ServerClient(service.data_dir, autostart=False))
    second.show()
    second.inventory.select("Jobs")   # it opens on the Overview
    try:
        wait_cell(qtbot, second, "Shared", Column.STATUS, "Idle")
        wait_cell(qtbot, window, "Shared", Column.STATUS, "Idle")
        gate.hold("s1")
        click_row(qtbot, window, "Shared")
        click_ribbon(qtbot, window, "Start")
        wait_held(qtbot, gate, "s1")
        wait_cell(qtbot, second, "Shared", Column.STATUS, lambda t: t.startswith("Working"))
        click_row(qtbot, second, "Shared")
        click_ribbon(qtbot, second, "Stop")
        dialog = second.stop_dialog
        assert dialog is not None
        qtbot.waitUntil(lambda: dialog.gracefully.points.text() == "s1")
        click_button(qtbot, dialog, "Gracefully")
        gate.release_all()
        wait_cell(qtbot, window, "Shared", Column.LAST_RESULT, "Warning")
        wait_cell(qtbot, second, "Shared", Column.LAST_RESULT, "Warning")
        assert point_computers(service, "Shared") == {"s1"}
    finally:
        second.close()
