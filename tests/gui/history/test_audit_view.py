"""History → Audit Trail: what the operator did in the console shows there, live,
and Verify Chain says whether anyone changed the trail behind the server's back."""
from __future__ import annotations

import sqlite3

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from core.paths import catalogue_path
from gui.history.audit_model import AuditColumn
from gui.shell.main_window import MainWindow

from tests.gui.conftest import JobFactory
from tests.gui.helpers import click_ribbon, click_row


def _rows(window: MainWindow) -> list[tuple[str, str, str, str]]:
    proxy = window.audit_view.proxy
    return [tuple(proxy.index(r, c).data() for c in (AuditColumn.USER, AuditColumn.ACTION,
                                                      AuditColumn.TARGET, AuditColumn.RESULT))
            for r in range(proxy.rowCount())]


def _open_audit(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.mouseClick(window.navigation.buttons["History"], Qt.MouseButton.LeftButton)
    tree = window.history_inventory.tree
    item = window.history_inventory.item("Audit Trail")
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualItemRect(item).center())
    assert window.work.currentWidget() is window.audit_view


def test_the_console_shows_who_did_what_and_finds_a_changed_entry(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory) -> None:
    make_job("Alpha", ("a1",))
    make_job("Beta", ("b1",))
    qtbot.waitUntil(lambda: window.model.rowCount() == 2)
    click_row(qtbot, window, "Beta")
    click_ribbon(qtbot, window, "Disable")
    qtbot.waitUntil(lambda: not service.get_job("Beta").definition.enabled)

    _open_audit(qtbot, window)
    qtbot.waitUntil(lambda: window.audit_view.loads >= 1 and len(_rows(window)) == 3)
    assert _rows(window)[0] == ("local", "job.disable", "Beta", "done")
    assert {r[1] for r in _rows(window)} == {"job.create", "job.disable"}
    assert window.audit_view.summary.text() == "3 entries"

    service.set_job_enabled("Beta", True)     # another console, or the CLI: shown live
    qtbot.waitUntil(lambda: _rows(window)[0][1:3] == ("job.enable", "Beta"))
    window.audit_view.search.setText("alpha")
    assert [r[2] for r in _rows(window)] == ["Alpha"]
    window.audit_view.search.setText("")

    qtbot.mouseClick(window.audit_view.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.audit_view.check_box is not None)
    box = window.audit_view.check_box
    assert box is not None and box.icon() == QMessageBox.Icon.Information
    assert "intact: 4 entries" in box.text()
    box.close()

    db = sqlite3.connect(catalogue_path(service.data_dir))
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit SET target='Gamma' WHERE id=3")
    db.commit()
    db.close()
    window.audit_view.check_box = None
    qtbot.mouseClick(window.audit_view.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.audit_view.check_box is not None)
    box = window.audit_view.check_box
    assert box is not None and box.icon() == QMessageBox.Icon.Warning
    assert "tampered" in box.text() and "row 3" in box.informativeText()
    box.close()
