"""The History view: every session (backup, restore, verify) in pages, its
filters, Statistics on a double-click, and the HTML session report."""
from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from core.models import SessionResult, SessionSummary, SessionType, StopMode, utcnow
from core.repository import Repository, RestoreStats
from core.server.runtime import ServerRuntime
from tests.support.gate import TaskGate
from gui.history import sessions_controller
from gui.history.history_model import SESSION_ROLE, SessionColumn
from gui.history.history_view import SessionsView
from gui.shell.main_window import MainWindow

from tests.gui.conftest import JobFactory
from tests.gui.helpers import start_held

WAIT_MS = 10_000


def rows(view: SessionsView) -> list[SessionSummary]:
    found = [view.proxy.index(r, 0).data(SESSION_ROLE) for r in range(view.proxy.rowCount())]
    return [s for s in found if isinstance(s, SessionSummary)]


def settled(window: MainWindow) -> bool:
    return not window.history_model.busy and not window.bridge.pending


def open_history(qtbot: QtBot, window: MainWindow) -> SessionsView:
    qtbot.mouseClick(window.navigation.buttons["History"], Qt.MouseButton.LeftButton)
    assert window.work.currentWidget() is window.history_view
    assert window.inventories.currentWidget() is window.history_inventory
    qtbot.waitUntil(lambda: window.history_model.started and settled(window))
    return window.history_view


def test_history_lists_every_session_and_filters_them(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory, tmp_path: Path) -> None:
    make_job("Alpha", ("a1",))
    make_job("Beta", ("b1", "b2"))
    service.wait_session(service.start_job("Alpha"), timeout=10)
    stopped = start_held(qtbot, service, gate, "Beta", "b1")
    service.stop_job("Beta", StopMode.IMMEDIATELY)
    service.wait_session(stopped, timeout=10)
    point = service.list_points("Alpha")[0]
    service.restore(point.id, tmp_path / "restored")
    service.verify(point.id)

    view = open_history(qtbot, window)
    qtbot.waitUntil(lambda: len(rows(view)) == 4)
    assert [(s.job, s.type.value) for s in rows(view)] == [
        ("Alpha", "Verify"), ("Alpha", "Restore"), ("Beta", "Backup"), ("Alpha", "Backup")]
    beta = rows(view)[2]
    row = window.history_model.row_of(beta.id)
    assert row is not None
    cell = window.history_model.index(row, SessionColumn.STOPPED).data()
    assert cell == "Stopped by user (immediately)"
    assert window.history_model.index(row, SessionColumn.RESULT).data() == "Failed"
    assert view.count_label.text() == "4 session(s)"

    # Filter by job, by result, by type (the inventory) and by time.
    qtbot.waitUntil(lambda: view.job_filter.findText("Beta") >= 0)   # the jobs list's names
    view.job_filter.setCurrentIndex(view.job_filter.findText("Beta"))
    qtbot.waitUntil(lambda: [s.job for s in rows(view)] == ["Beta"] and settled(window))
    view.job_filter.setCurrentIndex(0)
    view.result_filter.setCurrentIndex(view.result_filter.findText("Success"))
    qtbot.waitUntil(lambda: len(rows(view)) == 3 and settled(window))
    assert {s.result.value for s in rows(view) if s.result} == {"Success"}
    view.result_filter.setCurrentIndex(0)
    window.history_inventory.select("All Sessions/Restore")
    qtbot.waitUntil(lambda: [s.type for s in rows(view)] == [SessionType.RESTORE]
                    and settled(window))
    window.history_inventory.select("All Sessions")
    qtbot.waitUntil(lambda: len(rows(view)) == 4 and settled(window))
    view.time_filter.setCurrentIndex(view.time_filter.findText("Last 24 hours"))
    qtbot.waitUntil(lambda: len(rows(view)) == 4 and settled(window))
    assert window.history_model.filter.within == timedelta(hours=24)

    # A new session shows on top while the view is open.
    service.wait_session(service.start_job("Alpha"), timeout=10)
    qtbot.waitUntil(lambda: len(rows(view)) == 5, timeout=WAIT_MS)
    assert rows(view)[0].job == "Alpha" and rows(view)[0].type is SessionType.BACKUP

    # Double-click opens Statistics of that session.
    assert view.select_session(beta.id)
    center = view.table.visualRect(view.table.currentIndex()).center()
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=center)
    qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=center)
    qtbot.waitUntil(lambda: window.statistics_dialog is not None
                    and window.statistics_dialog.session is not None)
    dialog = window.statistics_dialog
    assert dialog is not None and dialog.session is not None
    assert dialog.session.id == beta.id
    assert "stopped by user (immediately)" in dialog.summary["Status"].text().lower()
    dialog.close()


def test_history_fetches_in_pages(qtbot: QtBot, window: MainWindow, server: ServerRuntime,
                                  make_job: JobFactory) -> None:
    """Thousands of sessions: the first page shows at once, the next when the
    list is scrolled to its end."""
    make_job("Many", ("m1",))
    catalogue = server.service.catalogue
    created = utcnow() - timedelta(days=3)
    with catalogue._tx() as db:
        db.executemany(
            "INSERT INTO sessions(id, job, state, result, run_kind, full, created, ended, "
            "progress, log, type, processed, computers) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(f"s{i:06d}", "Many", "Stopped", "Success", "manual", 0,
              (created + timedelta(seconds=i)).isoformat(),
              (created + timedelta(seconds=i + 1)).isoformat(), 100, "[]", "Backup",
              1024 * i, 1) for i in range(1000)])
    view = open_history(qtbot, window)
    model = window.history_model
    qtbot.waitUntil(lambda: model.rowCount() == 200 and model.total == 1000)
    assert rows(view)[0].id == "s000999"
    assert view.count_label.text() == "200 of 1,000 session(s) loaded"
    view.table.scrollToBottom()   # the view asks for more at its end
    qtbot.waitUntil(lambda: model.rowCount() >= 400)
    while model.canFetchMore():
        model.fetchMore()
        qtbot.waitUntil(lambda: not model.busy)
    assert model.rowCount() == 1000 and model.pages_fetched == 5
    assert [s.id for s in model.sessions()] == [f"s{i:06d}" for i in range(999, -1, -1)]


def test_the_session_report_lists_the_computers_and_results(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Path] = []
    monkeypatch.setattr(sessions_controller, "open_in_browser", opened.append)
    make_job("Reported", ("r1", "r2", "r3"))
    session_id = start_held(qtbot, service, gate, "Reported", "r2")
    service.stop_job("Reported", StopMode.GRACEFULLY)
    gate.release_all()
    service.wait_session(session_id, timeout=10)

    view = open_history(qtbot, window)
    qtbot.waitUntil(lambda: len(rows(view)) == 1)
    assert view.select_session(session_id)
    assert window.session_actions.report.isEnabled()
    window.session_actions.report.trigger()
    qtbot.waitUntil(lambda: len(opened) == 1)
    path = opened[0]
    assert path.parent == service.data_dir / "reports" and path.suffix == ".html"
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    for computer, status in (("r1", "Success"), ("r2", "Success"), ("r3", "Skipped")):
        assert f"<td>{computer}</td>" in html
        assert f">{status}</span>" in html
    assert "Warning" in html and "Stopped by user (gracefully)".lower() in html.lower()
    assert "2 of 3 computer(s) got a new restore point." in html   # the session's log
    assert "Processing r1" in html                                   # the computers' logs


def test_stop_on_the_session_tab_cancels_a_running_restore(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_job("Quick", ("q1",))
    service.wait_session(service.start_job("Quick"), timeout=10)
    point = service.list_points("Quick")[0]

    def endless_restore(self: Repository, point_id: str, target: Path, *, cancel=None,
                        progress=None, paths=None, checked=None) -> RestoreStats:
        progress(1, 100)   # runs until it is cancelled
        waiter = threading.Event()
        while not cancel():
            waiter.wait(0.01)
        return RestoreStats(point_id, str(target), 1, 0, 0, 100, cancelled=True)

    monkeypatch.setattr(Repository, "restore", endless_restore)   # in the server
    restore_id = service.start_restore(point.id, tmp_path / "out")
    view = open_history(qtbot, window)
    qtbot.waitUntil(lambda: any(s.id == restore_id and s.state.is_active for s in rows(view)))
    assert view.select_session(restore_id)
    assert window.ribbon.isTabVisible(window.ribbon.indexOf(window.session_page))
    assert window.session_actions.stop.isEnabled()
    window.session_actions.stop.trigger()
    ended = service.wait_session(restore_id, timeout=10)
    assert ended.result is SessionResult.FAILED and ended.stop_mode is StopMode.IMMEDIATELY
    assert any("Restore cancelled by user" in i.text for i in ended.log)
    qtbot.waitUntil(lambda: any(s.id == restore_id and not s.state.is_active
                                for s in rows(view)), timeout=WAIT_MS)
    row = window.history_model.row_of(restore_id)
    assert row is not None
    assert window.history_model.index(row, SessionColumn.STOPPED).data() == \
        "Stopped by user (immediately)"
    qtbot.waitUntil(lambda: not window.session_actions.stop.isEnabled())
