"""Last 24 Hours → Failed and History say why a session failed (the Reason column)."""
from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from gui.history.history_model import HEADERS, SESSION_ROLE, SessionColumn
from gui.history.history_view import SessionsView
from gui.shell.main_window import MainWindow

from tests.gui.conftest import JobFactory

WAIT_MS = 10_000


def _click_node(qtbot: QtBot, window: MainWindow, path: str) -> None:
    tree = window.inventory.tree
    item = window.inventory.item(path)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualItemRect(item).center())
    assert tree.currentItem() is item


def _reasons(view: SessionsView) -> list[str]:
    column = SessionColumn.REASON
    return [view.proxy.index(r, column).data() for r in range(view.proxy.rowCount())
            if view.proxy.index(r, 0).data(SESSION_ROLE) is not None]


def _header_visible(view: SessionsView, title: str) -> bool:
    header = view.table.horizontalHeader()
    section = next(c for c, t in HEADERS.items() if t == title)
    return not header.isSectionHidden(section) and header.sectionSize(section) > 100 and \
        view.proxy.headerData(section, Qt.Orientation.Horizontal) == title


def test_failed_sessions_show_their_reason_in_last_24_hours_and_history(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory,
        tmp_path: Path) -> None:
    make_job("Office", ("ws1", "ws2"))
    gone = tmp_path / "computers" / "Office" / "ws2"
    shutil.rmtree(gone)   # the computer's folder went away after the job was made
    service.wait_session(service.start_job("Office"), timeout=30)
    expected = (f"ws2: Computer 'ws2': path {gone} does not exist. Check the computer's "
                "path in the job settings.")

    _click_node(qtbot, window, "Last 24 Hours/Failed")
    view = window.recent_view
    qtbot.waitUntil(lambda: _reasons(view) == [expected], timeout=WAIT_MS)
    assert _header_visible(view, "Reason")
    row = view.proxy.index(0, SessionColumn.REASON)
    assert row.data(Qt.ItemDataRole.ToolTipRole) == expected   # whole, however narrow

    qtbot.mouseClick(window.navigation.buttons["History"], Qt.MouseButton.LeftButton)
    history = window.history_view
    qtbot.waitUntil(lambda: _reasons(history) == [expected], timeout=WAIT_MS)
    assert _header_visible(history, "Reason")


def test_report_says_where_the_file_is_when_no_browser_opens_it(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory,
        monkeypatch) -> None:
    from gui.history import sessions_controller
    from PySide6.QtWidgets import QMessageBox
    monkeypatch.setattr(sessions_controller, "open_in_browser", lambda path: False)
    make_job("Reported", ("r1",))
    session_id = service.start_job("Reported")
    service.wait_session(session_id, timeout=30)
    qtbot.mouseClick(window.navigation.buttons["History"], Qt.MouseButton.LeftButton)
    view = window.history_view
    qtbot.waitUntil(lambda: view.select_session(session_id), timeout=WAIT_MS)
    from tests.gui.helpers import click_ribbon
    click_ribbon(qtbot, window, "Report")
    qtbot.waitUntil(lambda: window.sessions.report_box is not None, timeout=WAIT_MS)
    box = window.sessions.report_box
    assert box is not None and box.isVisible()
    path = window.sessions.last_report
    assert path is not None and path.is_file() and str(path) in box.text()
    names = [b.text() for b in box.buttons()]
    assert "Open folder" in names
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.isVisible())


def test_a_verify_session_shows_the_bytes_it_read_as_processed(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory) -> None:
    from core.models import HistoryQuery, SessionType
    make_job("Checked", ("c1",), files=6)
    service.wait_session(service.start_job("Checked"), timeout=30)
    point = service.list_points("Checked")[0]
    report = service.verify(point.id)
    assert report.ok and report.bytes_checked > 0
    [verify] = service.list_history(HistoryQuery(types=[SessionType.VERIFY])).sessions
    assert verify.processed == report.bytes_checked
    qtbot.mouseClick(window.navigation.buttons["History"], Qt.MouseButton.LeftButton)
    model = window.history_model
    qtbot.waitUntil(lambda: model.row_of(verify.id) is not None, timeout=WAIT_MS)
    row = model.row_of(verify.id)
    assert row is not None
    text = model.index(row, SessionColumn.PROCESSED).data()
    assert text and text != "0 B", text
