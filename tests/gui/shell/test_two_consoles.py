"""Several consoles at once: two consoles, each with its own connection to
the same backup server, see each other's changes live through the server's
event stream — a job one creates, a start and a stop from the other.

Neither console polls: what the second shows, it learned from an event.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from core.api.client import ServerClient
from core.server.runtime import ServerRuntime
from gui.app import create_main_window
from gui.jobs.jobs_model import Column
from gui.jobs.stop_dialog import LOADING_TEXT
from gui.shell.main_window import MainWindow
from tests.gui.conftest import JobFactory
from tests.gui.helpers import (
    click_button, click_ribbon, click_row, point_computers, visible_jobs, wait_cell,
    wait_held,
)
from tests.support.gate import TaskGate


@pytest.fixture
def second_console(qtbot: QtBot, server: ServerRuntime) -> Iterator[MainWindow]:
    """Another operator's console: its own client, its own event stream."""
    client = ServerClient(server.data_dir, autostart=False)
    win = create_main_window(server.data_dir, service=client)
    win.show()
    qtbot.waitUntil(lambda: win.refresher.count >= 1)
    win.inventory.select("Jobs")
    yield win
    win.close()
    win.shutdown()
    win.deleteLater()
    client.close()


def test_a_start_and_a_stop_in_one_console_show_in_the_other(
        qtbot: QtBot, window: MainWindow, second_console: MainWindow, gate: TaskGate,
        make_job: JobFactory) -> None:
    other = second_console
    make_job("Shared", ("s1", "s2", "s3"))
    qtbot.waitUntil(lambda: "Shared" in visible_jobs(other))

    gate.hold("s2")
    click_row(qtbot, window, "Shared")
    click_ribbon(qtbot, window, "Start")
    wait_held(qtbot, gate, "s2")
    wait_cell(qtbot, other, "Shared", Column.STATUS, lambda t: t.startswith("Working"))

    fetches = other.refresher.count
    click_row(qtbot, window, "Shared")
    click_ribbon(qtbot, window, "Stop")
    dialog = window.stop_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.immediately.points.text() != LOADING_TEXT)
    click_button(qtbot, dialog, "Immediately")

    wait_cell(qtbot, other, "Shared", Column.LAST_RESULT, "Failed")
    wait_cell(qtbot, other, "Shared", Column.STATUS, "Idle")
    assert other.refresher.count > fetches          # it learned it from the event stream
    wait_cell(qtbot, window, "Shared", Column.LAST_RESULT, "Failed")
    assert point_computers(window.service, "Shared") == {"s1"}


def test_a_job_deleted_in_one_console_leaves_the_other(
        qtbot: QtBot, window: MainWindow, second_console: MainWindow,
        make_job: JobFactory) -> None:
    make_job("Gone soon", ("g1",))
    qtbot.waitUntil(lambda: "Gone soon" in visible_jobs(second_console))
    window.service.delete_job("Gone soon")
    qtbot.waitUntil(lambda: "Gone soon" not in visible_jobs(second_console))
