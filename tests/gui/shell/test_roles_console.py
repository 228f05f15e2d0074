"""Issue 23: a console connected over TLS to a server in another process, as each
role: the commands the role does not allow are greyed out, whatever the selection,
with a tooltip that says why; those it allows follow the selection as before."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.api import remote
from gui.app import ConsoleStyle, apply_look, create_main_window
from gui.shell.main_window import MainWindow
from tests.gui.helpers import click_row
from tests.support.tls_server import TlsServer, add_users, agent_jobs

PASSWORD = "correct horse battery"
ROLES = {"ada": "administrator", "olga": "operator", "rita": "restore-operator",
         "vera": "viewer"}


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    root = tmp_path_factory.mktemp("console-roles")
    srv = TlsServer(root / "data")
    add_users(srv, ROLES, PASSWORD)
    (root / "pc1").mkdir()
    (root / "pc1" / "a.txt").write_text("a")
    assert agent_jobs(srv.data, "job", "create", "Nightly", "--computer",
                      f"pc1={root / 'pc1'}").returncode == 0
    yield srv
    srv.stop()


@pytest.fixture
def console(qtbot: QtBot, tls_server: TlsServer, request: pytest.FixtureRequest) \
        -> Iterator[MainWindow]:
    api = remote.login(tls_server.host, tls_server.port, tls_server.fingerprint,
                       request.param, PASSWORD)
    app = QApplication.instance()
    if isinstance(app, QApplication) and not isinstance(app.style(), ConsoleStyle):
        apply_look(app)
    win = create_main_window(Path("."), service=api)
    win.show()
    qtbot.waitUntil(lambda: win.refresher.count >= 1 and win.role is not None)
    win.inventory.select("Jobs")
    yield win
    win.close()
    win.shutdown()
    win.deleteLater()
    api.close()


@pytest.mark.parametrize("console", ["vera"], indirect=True)
def test_a_viewer_sees_every_change_greyed_out_and_why(qtbot: QtBot,
                                                        console: MainWindow) -> None:
    click_row(qtbot, console, "Nightly")
    actions = console.job_actions
    for action in (actions.start, actions.stop, actions.retry, actions.active_full):
        assert not action.isEnabled()
        assert "Your role (Backup Viewer) does not allow you to start or stop jobs; ask an " \
               "administrator." in action.toolTip()
    for action in (actions.edit, actions.clone, actions.delete, actions.new_backup_job):
        assert not action.isEnabled()
        assert "create, change or delete jobs" in action.toolTip()
    assert not console.infrastructure.actions.add.isEnabled()
    assert actions.statistics.toolTip() == "Show statistics of the job's last session"
    actions.start.setEnabled(True)   # the selection asks: the role still says no
    assert not actions.start.isEnabled()


@pytest.mark.parametrize("console", ["olga"], indirect=True)
def test_an_operator_may_start_but_not_edit(qtbot: QtBot, console: MainWindow) -> None:
    click_row(qtbot, console, "Nightly")
    actions = console.job_actions
    assert actions.start.isEnabled() and "Your role" not in actions.start.toolTip()
    assert not actions.edit.isEnabled()
    assert "Your role (Backup Operator) does not allow" in actions.edit.toolTip()
    assert not console.backup_actions.restore.isEnabled()
    assert "browse or restore points" in console.backup_actions.restore.toolTip()


@pytest.mark.parametrize("console", ["rita"], indirect=True)
def test_a_restore_operator_may_not_start(qtbot: QtBot, console: MainWindow) -> None:
    click_row(qtbot, console, "Nightly")
    assert not console.job_actions.start.isEnabled()
    assert "Restore Operator" in console.job_actions.start.toolTip()
    assert console.backup_actions.restore.denied is None


@pytest.mark.parametrize("console", ["ada"], indirect=True)
def test_an_administrator_has_every_command(qtbot: QtBot, console: MainWindow) -> None:
    click_row(qtbot, console, "Nightly")
    actions = console.job_actions
    assert actions.start.isEnabled() and actions.edit.isEnabled()
    assert actions.new_backup_job.isEnabled()
    assert all(a.denied is None for a in (actions.start, actions.edit, actions.delete))
