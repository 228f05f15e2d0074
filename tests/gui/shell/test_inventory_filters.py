"""The inventory pane: Jobs and the Last 24 Hours nodes filter the jobs list."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.models import Computer, JobDefinition, JobInfo, JobStatus, SessionResult, StopMode
from core.api import BackupApi
from tests.support.gate import TaskGate
from gui.jobs.jobs_filter import JobsFilterProxy
from gui.widgets.scope import JobScope
from gui.jobs.jobs_model import Column, JobsTableModel
from gui.shell.main_window import MainWindow

from tests.gui.conftest import JobFactory
from gui.history.history_model import SESSION_ROLE

from tests.gui.helpers import start_held, visible_jobs, wait_cell


def _click_node(qtbot: QtBot, window: MainWindow, path: str) -> None:
    tree = window.inventory.tree
    item = window.inventory.item(path)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualItemRect(item).center())
    assert tree.currentItem() is item


def _sessions(window: MainWindow) -> list[tuple[str, str]]:
    """(job, result or state) of the sessions the working area lists."""
    view = window.recent_view
    rows = [view.proxy.index(r, 0).data(SESSION_ROLE) for r in range(view.proxy.rowCount())]
    return [(s.job, s.result.value if s.result else s.state.value) for s in rows]


def _settled(window: MainWindow) -> bool:
    return not window.recent_model.busy and not window.bridge.pending


def test_last_24_hours_nodes_list_sessions(qtbot: QtBot, window: MainWindow,
                                           service: BackupApi, gate: TaskGate,
                                           make_job: JobFactory) -> None:
    make_job("Ok Job", ("ok1",))
    make_job("Bad Job", ("bad1", "bad2"))
    make_job("Busy Job", ("busy1",))
    make_job("New Job", ("new1",))
    service.wait_session(service.start_job("Ok Job"), timeout=10)
    bad = start_held(qtbot, service, gate, "Bad Job", "bad1")
    service.stop_job("Bad Job", StopMode.IMMEDIATELY)
    service.wait_session(bad, timeout=10)
    # A later session of the same job ends Warning: the Failed one stays under Failed.
    warn = start_held(qtbot, service, gate, "Bad Job", "bad1")
    service.stop_job("Bad Job", StopMode.GRACEFULLY)
    gate.release("bad1")
    service.wait_session(warn, timeout=10)
    start_held(qtbot, service, gate, "Busy Job", "busy1")
    wait_cell(qtbot, window, "Busy Job", Column.STATUS, lambda t: t.startswith("Working"))
    everything = {"Ok Job", "Bad Job", "Busy Job", "New Job"}
    assert visible_jobs(window) == everything

    _click_node(qtbot, window, "Last 24 Hours/Failed")
    assert window.work.currentWidget() is window.recent_view
    qtbot.waitUntil(lambda: _sessions(window) == [("Bad Job", "Failed")])
    _click_node(qtbot, window, "Last 24 Hours/Warning")
    qtbot.waitUntil(lambda: _sessions(window) == [("Bad Job", "Warning")])
    _click_node(qtbot, window, "Last 24 Hours/Success")
    qtbot.waitUntil(lambda: _sessions(window) == [("Ok Job", "Success")])
    _click_node(qtbot, window, "Last 24 Hours/Running")
    qtbot.waitUntil(lambda: _sessions(window) == [("Busy Job", "Working")])
    _click_node(qtbot, window, "Last 24 Hours")
    qtbot.waitUntil(lambda: len(_sessions(window)) == 4)
    assert [job for job, _ in _sessions(window)] == ["Busy Job", "Bad Job", "Bad Job", "Ok Job"]

    # A running session leaves the Running node live, as soon as it ends ...
    _click_node(qtbot, window, "Last 24 Hours/Running")
    gate.release_all()
    qtbot.waitUntil(lambda: _sessions(window) == [] and _settled(window), timeout=10_000)
    # ... and an empty list says so.
    qtbot.waitUntil(lambda: window.recent_view.showing_empty)
    assert window.recent_view.empty.text() == "No session is running."
    _click_node(qtbot, window, "Last 24 Hours/Success")
    qtbot.waitUntil(lambda: sorted(_sessions(window)) == [("Busy Job", "Success"),
                                                           ("Ok Job", "Success")])

    _click_node(qtbot, window, "Jobs/Backup")
    assert window.work.currentWidget() is window.jobs_view
    assert visible_jobs(window) == everything
    _click_node(qtbot, window, "Jobs")
    assert visible_jobs(window) == everything


def test_an_empty_last_24_hours_node_says_so(qtbot: QtBot, window: MainWindow,
                                             make_job: JobFactory) -> None:
    make_job("Quiet", ("q1",))
    _click_node(qtbot, window, "Last 24 Hours/Failed")
    qtbot.waitUntil(lambda: window.recent_view.showing_empty)
    assert window.recent_view.empty.text() == "No failed sessions in the last 24 hours."
    assert window.recent_view.empty.isVisible()


def test_search_box_filters_by_name_description_and_computer(
        qtbot: QtBot, window: MainWindow, make_job: JobFactory) -> None:
    make_job("Linux Servers", ("srv-web01",), description="Web farm")
    make_job("Finance", ("ws-fin01",))
    wait_cell(qtbot, window, "Finance", Column.STATUS, "Idle")
    qtbot.keyClicks(window.jobs_view.search, "fin")
    assert visible_jobs(window) == {"Finance"}
    window.jobs_view.search.clear()
    qtbot.keyClicks(window.jobs_view.search, "web")
    assert visible_jobs(window) == {"Linux Servers"}
    window.jobs_view.search.clear()
    assert visible_jobs(window) == {"Linux Servers", "Finance"}


def _job(name: str, result: SessionResult | None, hours_ago: float | None,
         status: JobStatus = JobStatus.IDLE) -> JobInfo:
    definition = JobDefinition(name=name, computers=(Computer(name="c1", path="/nonexistent"),))
    last_run = None if hours_ago is None else (
        datetime.now(timezone.utc) - timedelta(hours=hours_ago))
    return JobInfo(definition=definition, status=status, last_run=last_run, last_result=result)


def test_last_24_hours_excludes_older_sessions(qtbot: QtBot) -> None:
    model = JobsTableModel()
    proxy = JobsFilterProxy()
    proxy.setSourceModel(model)
    model.set_jobs([_job("Recent", SessionResult.FAILED, 2),
                    _job("Old", SessionResult.FAILED, 30),
                    _job("Never", None, None)])
    proxy.set_scope(JobScope.FAILED)
    names = {proxy.index(r, 0).data() for r in range(proxy.rowCount())}
    assert names == {"Recent"}


def test_filtering_out_the_selected_job_hides_the_job_tab(
        qtbot: QtBot, window: MainWindow, make_job: JobFactory) -> None:
    make_job("Never Ran", ("nr1",))
    wait_cell(qtbot, window, "Never Ran", Column.STATUS, "Idle")
    window.jobs_view.select_jobs("Never Ran")
    assert window.ribbon.isTabVisible(window.ribbon.indexOf(window.job_page))
    _click_node(qtbot, window, "Last 24 Hours/Failed")
    assert visible_jobs(window) == set()
    assert window.jobs_view.selected_jobs() == []
    assert not window.ribbon.isTabVisible(window.ribbon.indexOf(window.job_page))
    assert not window.job_actions.start.isEnabled()
