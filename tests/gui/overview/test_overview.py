"""Home → Overview: selected when the console opens, it shows the last 24
hours' sessions by state (and the Last 24 Hours nodes count them), the latest
failures with their reasons, the repositories and the next runs, fetched from
the real server and kept up to date by its events. The jobs list's quick
filters and column chooser."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from core.errors import InvalidInput
from core.models import JobStatus
from gui.app import create_main_window
from gui.jobs.jobs_filter import QuickFilter
from gui.jobs.jobs_model import Column
from gui.history.history_model import SESSION_ROLE
from gui.shell.main_window import MainWindow
from tests.gui.conftest import JobFactory, running_jobs
from tests.gui.helpers import click_menu, start_held, visible_jobs, wait_cell
from tests.support.gate import TaskGate

WAIT_MS = 10_000


@pytest.fixture
def console(qtbot: QtBot, service: BackupApi, gate: TaskGate) -> Iterator[MainWindow]:
    """The console as it opens: no node clicked yet."""
    win = create_main_window(service.data_dir, service=service)
    win.show()
    yield win
    gate.release_all()
    qtbot.waitUntil(lambda: not running_jobs(service), timeout=WAIT_MS)
    win.close()
    win.shutdown()
    win.deleteLater()


def _counts(window: MainWindow) -> dict[str, str]:
    view = window.overview_view
    return {name: view.tile_count(name) for name in ("Running", "Success", "Warning", "Failed")}


def _labels(window: MainWindow) -> list[str]:
    return [window.inventory.label(p) for p in (
        "Last 24 Hours", "Last 24 Hours/Running", "Last 24 Hours/Success",
        "Last 24 Hours/Warning", "Last 24 Hours/Failed")]


def test_overview_opens_first_and_shows_the_day_of_real_sessions(
        qtbot: QtBot, console: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory, tmp_path: Path) -> None:
    window = console
    assert window.inventory.current_path == "Overview"
    assert window.work.currentWidget() is window.overview_view
    qtbot.waitUntil(lambda: window.overview.fetches >= 1, timeout=WAIT_MS)
    assert _counts(window) == {"Running": "0", "Success": "0", "Warning": "0", "Failed": "0"}
    # the data directory's own repository and its disk's free space
    qtbot.waitUntil(lambda: len(window.overview_view.repository_rows) == 1, timeout=WAIT_MS)
    assert "free" in window.overview_view.repository_rows[0].space.text()

    make_job("Ok Job", ("ok1",))
    make_job("Bad Job", ("bad1", "bad2"))
    make_job("Busy Job", ("busy1",))
    service.wait_session(service.start_job("Ok Job"), timeout=10)
    shutil.rmtree(tmp_path / "computers" / "Bad Job" / "bad2")   # its disk is gone
    service.wait_session(service.start_job("Bad Job"), timeout=10)
    start_held(qtbot, service, gate, "Busy Job", "busy1")

    # The server's events bring it up to date; nothing was clicked.
    qtbot.waitUntil(lambda: _counts(window) == {"Running": "1", "Success": "1",
                                               "Warning": "0", "Failed": "1"},
                    timeout=WAIT_MS)
    [(job, reason)] = window.overview_view.failure_rows()
    assert job == "Bad Job"
    assert "bad2" in reason and "does not exist" in reason
    reason_cell = window.overview_view.failures.item(0, 2)
    assert "does not exist" in reason_cell.text() and reason_cell.toolTip() == reason
    today = window.overview_view.chart.days[-1]
    assert (today.success, today.failed, today.running) == (1, 1, 1)
    assert _labels(window) == ["Last 24 Hours (3)", "Running (1)", "Success (1)", "Warning",
                               "Failed (1)"]

    # The session ends: the counts follow.
    gate.release_all()
    qtbot.waitUntil(lambda: _counts(window)["Success"] == "2"
                    and _counts(window)["Running"] == "0", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: _labels(window)[1:3] == ["Running", "Success (2)"],
                    timeout=WAIT_MS)

    # A tile opens its node: Failed lists the failed session.
    qtbot.mouseClick(window.overview_view.tiles["Failed"], Qt.MouseButton.LeftButton)
    assert window.inventory.current_path == "Last 24 Hours/Failed"
    assert window.work.currentWidget() is window.recent_view

    def listed() -> list[str]:
        proxy = window.recent_view.proxy
        return [proxy.index(r, 0).data(SESSION_ROLE).job for r in range(proxy.rowCount())]

    qtbot.waitUntil(lambda: listed() == ["Bad Job"], timeout=WAIT_MS)


def test_quick_filters_show_only_jobs_in_those_states(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory, tmp_path: Path) -> None:
    make_job("Ok Job", ("ok1",))
    make_job("Bad Job", ("bad1",))
    make_job("Off Job", ("off1",))
    make_job("Busy Job", ("busy1",))
    service.set_job_enabled("Off Job", False)
    service.wait_session(service.start_job("Ok Job"), timeout=10)
    shutil.rmtree(tmp_path / "computers" / "Bad Job" / "bad1")
    service.wait_session(service.start_job("Bad Job"), timeout=10)
    start_held(qtbot, service, gate, "Busy Job", "busy1")
    wait_cell(qtbot, window, "Busy Job", Column.STATUS, lambda t: t.startswith("Working"))
    wait_cell(qtbot, window, "Bad Job", Column.LAST_RESULT, "Failed")
    wait_cell(qtbot, window, "Off Job", Column.STATUS, JobStatus.DISABLED.value)
    everything = {"Ok Job", "Bad Job", "Off Job", "Busy Job"}
    assert visible_jobs(window) == everything

    buttons = window.jobs_view.quick_filters
    qtbot.mouseClick(buttons[QuickFilter.FAILED], Qt.MouseButton.LeftButton)
    assert visible_jobs(window) == {"Bad Job"}
    qtbot.mouseClick(buttons[QuickFilter.RUNNING], Qt.MouseButton.LeftButton)
    assert visible_jobs(window) == {"Bad Job", "Busy Job"}
    qtbot.mouseClick(buttons[QuickFilter.FAILED], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(buttons[QuickFilter.RUNNING], Qt.MouseButton.LeftButton)
    assert visible_jobs(window) == everything
    qtbot.mouseClick(buttons[QuickFilter.DISABLED], Qt.MouseButton.LeftButton)
    assert visible_jobs(window) == {"Off Job"}
    qtbot.mouseClick(buttons[QuickFilter.DISABLED], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(buttons[QuickFilter.WARNING], Qt.MouseButton.LeftButton)
    assert visible_jobs(window) == set()
    # with the search box: both must match
    qtbot.mouseClick(buttons[QuickFilter.WARNING], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(buttons[QuickFilter.RUNNING], Qt.MouseButton.LeftButton)
    qtbot.keyClicks(window.jobs_view.search, "ok")
    assert visible_jobs(window) == set()
    window.jobs_view.search.clear()
    assert visible_jobs(window) == {"Busy Job"}


def _header_menu(qtbot: QtBot, window: MainWindow) -> QMenu:
    """Right-click the jobs list's header as a mouse does."""
    header = window.jobs_view.table.horizontalHeader()
    pos = QPoint(header.sectionViewportPosition(Column.TYPE) + 10, header.height() // 2)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, header.viewport()
                              .mapToGlobal(pos))
    QApplication.sendEvent(header.viewport(), event)
    menu = window.jobs_view.column_menu
    assert menu is not None
    qtbot.waitUntil(menu.isVisible)
    return menu


def test_the_column_chooser_hides_a_column_and_the_console_remembers_it(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory) -> None:
    make_job("Some Job", ("pc1",))
    wait_cell(qtbot, window, "Some Job", Column.STATUS, "Idle")
    header = window.jobs_view.table.horizontalHeader()
    menu = _header_menu(qtbot, window)
    assert [a.text() for a in menu.actions()][:3] == ["Name", "Type", "Objects"]
    assert all(a.isChecked() for a in menu.actions())
    assert not menu.actions()[0].isEnabled()    # a row always shows its name
    click_menu(qtbot, menu, "Target")
    assert header.isSectionHidden(Column.TARGET)
    assert window.jobs_view.hidden_columns() == {Column.TARGET}
    menu = _header_menu(qtbot, window)
    assert [a.isChecked() for a in menu.actions() if a.text() == "Target"] == [False]
    menu.close()

    window.close()   # and the console is opened again
    again = create_main_window(service.data_dir, service=service)
    try:
        again.show()
        qtbot.waitUntil(lambda: again.refresher.count >= 1)
        again.inventory.select("Jobs")
        assert again.jobs_view.table.horizontalHeader().isSectionHidden(Column.TARGET)
        assert again.jobs_view.hidden_columns() == {Column.TARGET}
        # shown again from the menu
        menu = _header_menu(qtbot, again)
        click_menu(qtbot, menu, "Target")
        assert again.jobs_view.hidden_columns() == set()
    finally:
        again.close()
        again.shutdown()
        again.deleteLater()


def test_a_zone_the_server_does_not_know_falls_back_to_the_servers_own(
        qtbot: QtBot, console: MainWindow, service: BackupApi) -> None:
    with pytest.raises(InvalidInput, match="Unknown time zone 'Mars/Olympus'"):
        service.get_overview(7, "Mars/Olympus")   # over REST: a 400 in words
    window = console
    qtbot.waitUntil(lambda: window.overview.fetches >= 1 and not window.overview.busy,
                    timeout=WAIT_MS)
    fetched = window.overview.fetches
    window.overview.time_zone = "Mars/Olympus"
    window.window_actions.refresh.trigger()   # F5
    qtbot.waitUntil(lambda: window.overview.fetches > fetched, timeout=WAIT_MS)
    assert window.overview.time_zone is None
    overview = window.overview.overview
    assert overview is not None and overview.time_zone == "local"
    assert not window.overview_view.problem.isVisible()
