"""The console against a real server process: closing it never stops a job."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from core.models import JobStatus, SessionResult
from core.api.client import ServerClient
from gui.app import create_main_window
from gui.jobs.jobs_model import Column
from tests.gui.helpers import click_ribbon, click_row, wait_cell

from tests.e2e.test_server_process import agent_jobs


@pytest.fixture(autouse=True)
def settings_dir(tmp_path: Path) -> None:
    """The console's layout goes to this test's folder."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(tmp_path / "settings"))


def test_close_the_console_while_a_job_runs(qtbot: QtBot, tmp_path: Path) -> None:
    data = tmp_path / "data"
    args = []
    for name in ("pc1", "pc2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "data.bin").write_bytes(os.urandom(2 << 20))
        args += ["--computer", f"{name}={tmp_path / name}"]
    created = agent_jobs(data, "job", "create", "Night", "--tasks", "1", "--throttle", "1",
                         *args)   # this starts the server process
    assert created.returncode == 0, created.stderr

    window = create_main_window(data)   # a client of that server
    window.show()
    window.inventory.select("Jobs")   # it opens on the Overview
    wait_cell(qtbot, window, "Night", Column.STATUS, "Idle")
    click_row(qtbot, window, "Night")
    click_ribbon(qtbot, window, "Start")
    wait_cell(qtbot, window, "Night", Column.STATUS, lambda t: t.startswith("Working"))
    window.close()   # no question: the job belongs to the server
    assert not window.isVisible()

    client = ServerClient(data, autostart=False)
    try:
        job = client.get_job("Night")
        assert job.status is JobStatus.WORKING and job.active_session_id

        reopened = create_main_window(data)
        reopened.show()
        wait_cell(qtbot, reopened, "Night", Column.STATUS, lambda t: t.startswith("Working"))
        session = client.wait_session(job.active_session_id, timeout=60)
        assert session.result is SessionResult.SUCCESS
        wait_cell(qtbot, reopened, "Night", Column.LAST_RESULT, "Success")
        assert {p.computer for p in client.list_points("Night")} == {"pc1", "pc2"}
        reopened.close()
    finally:
        client.close()
