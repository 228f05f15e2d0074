"""Issue 23, item 5 and 3 in the console: the Connect to Backup Server window
against a real server process listening with TLS on loopback, real Argon2id
logins, the first-time fingerprint question, a changed certificate refused
before any password is sent, a second factor, and the main window greying out
what the role does not allow (and saying why)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from PySide6.QtWidgets import QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from core.models import Role
from gui.connect.connect_dialog import ConnectDialog
from gui.connect.tls_backend import TlsConnectBackend
from gui.jobs.jobs_model import Column
from gui.jobs.stop_dialog import LOADING_TEXT
from gui.runtime.settings import console_settings
from gui.runtime.worker import TaskRunner
from gui.shell.main_window import MainWindow
from tests.gui.helpers import click_row, ribbon_button, visible_jobs, wait_cell
from tests.support.tls_server import TlsServer, add_users, agent_jobs

PASSWORD = "correct horse battery"
USERS = {"ada": Role.ADMINISTRATOR, "olga": Role.OPERATOR, "vera": Role.VIEWER,
         "tom": Role.OPERATOR, "wes": Role.VIEWER}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    root = tmp_path_factory.mktemp("connect")
    srv = TlsServer(root / "data")
    add_users(srv, {name: role.value for name, role in USERS.items()}, PASSWORD)
    src = root / "src"
    src.mkdir()
    (src / "data.bin").write_bytes(b"z" * (8 << 20))
    done = agent_jobs(srv.data, "job", "create", "Remote", "--computer", f"pc1={src}",
                      "--throttle", "2")
    assert done.returncode == 0, done.stderr
    yield srv
    agent_jobs(srv.data, "stop", "Remote", "--immediately")
    srv.stop()


@pytest.fixture(autouse=True)
def known_servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The known-servers file (shared with the CLI) of this test only."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "agent-jobs" / "known_servers"


@pytest.fixture
def dialog(qtbot: QtBot) -> Iterator[ConnectDialog]:
    runner = TaskRunner()
    box = ConnectDialog(TlsConnectBackend(), console_settings(), runner)
    qtbot.addWidget(box)
    box.show()
    yield box
    runner.shutdown()


def fill(dialog: ConnectDialog, server: TlsServer, user: str, password: str = PASSWORD) -> None:
    dialog.server.setCurrentText(server.host)
    dialog.port.setValue(server.port)
    dialog.user.setText(user)
    dialog.password.setText(password)


def answer(qtbot: QtBot, dialog: ConnectDialog, name: str,
           button: QMessageBox.StandardButton) -> QMessageBox:
    qtbot.waitUntil(lambda: dialog.question is not None and dialog.question.isVisible()
                    and dialog.question.objectName() == name, timeout=15_000)
    box = dialog.question
    assert box is not None
    found = box.button(button)
    assert isinstance(found, QPushButton)
    qtbot.mouseClick(found, _left())
    return box


def _left():   # noqa: ANN202 - Qt's enum
    from PySide6.QtCore import Qt
    return Qt.MouseButton.LeftButton


def logins(server: TlsServer, user: str) -> list[dict[str, object]]:
    done = agent_jobs(server.data, "audit", "--user", user, "--json")
    assert done.returncode == 0, done.stderr
    return [e for e in json.loads(done.stdout) if "login" in str(e.get("action", ""))]


def open_window(qtbot: QtBot, dialog: ConnectDialog) -> MainWindow:
    try:
        qtbot.waitUntil(lambda: dialog.connected is not None, timeout=20_000)
    except Exception:
        raise AssertionError(f"not connected: {dialog.status.text()!r}") from None
    connected = dialog.connected
    assert connected is not None
    window = MainWindow(connected.api, owns_service=True, connection=connected)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: "Remote" in visible_jobs(window), timeout=20_000)
    return window


def test_first_connection_asks_about_the_fingerprint_and_remembers_it(
        qtbot: QtBot, dialog: ConnectDialog, server: TlsServer, known_servers: Path) -> None:
    fill(dialog, server, "olga")
    qtbot.mouseClick(dialog.connect_button, _left())
    box = answer(qtbot, dialog, "TrustServer", QMessageBox.StandardButton.Yes)
    shown = box.informativeText().split("\n")[0].replace(":", "").lower()
    assert shown == server.fingerprint                       # the certificate's, to compare
    window = open_window(qtbot, dialog)
    try:
        assert known_servers.read_text().split() == [f"{server.host}:{server.port}",
                                                     server.fingerprint]
        assert window.status_bar.data_dir_label.text() == "User: olga (Backup Operator)"
        qtbot.waitUntil(lambda: window.status_bar.server_label.text()
                        == f"Backup server {server.host}:{server.port}: connected")
        # an operator starts jobs, but edits and deletes none: greyed out, and says why
        window.inventory.select("Jobs")
        click_row(qtbot, window, "Remote")
        qtbot.waitUntil(lambda: window.job_actions.start.isEnabled())
        for command in ("Edit", "Delete", "Clone"):
            shown_button = ribbon_button(window, command)
            assert not shown_button.isEnabled()
            assert "Your role (Backup Operator) does not allow you to create, change or delete jobs" \
                in shown_button.toolTip()
        qtbot.mouseClick(ribbon_button(window, "Start"), _left())
        wait_cell(qtbot, window, "Remote", Column.STATUS, lambda t: t.startswith("Working"))
    finally:
        agent_jobs(server.data, "stop", "Remote", "--immediately")
        window.close()
    # the next time nothing is asked: the fingerprint is known
    again = ConnectDialog(TlsConnectBackend(), console_settings(), TaskRunner())
    qtbot.addWidget(again)
    assert (again.server.currentText(), again.port.value()) == (server.host, server.port)
    assert again.user.text() == "olga"
    assert again.password.text() == ""                     # passwords are never remembered
    again.password.setText(PASSWORD)
    qtbot.mouseClick(again.connect_button, _left())
    qtbot.waitUntil(lambda: again.connected is not None, timeout=20_000)
    assert again.question is None
    assert again.connected is not None
    again.connected.api.close()


def test_a_changed_certificate_is_refused_before_the_password_is_sent(
        qtbot: QtBot, dialog: ConnectDialog, server: TlsServer, known_servers: Path) -> None:
    known_servers.parent.mkdir(parents=True)
    known_servers.write_text(f"{server.host}:{server.port} {'ab' * 32}\n")
    before = len(logins(server, "tom"))
    fill(dialog, server, "tom")
    qtbot.mouseClick(dialog.connect_button, _left())
    box = answer(qtbot, dialog, "FingerprintChanged", QMessageBox.StandardButton.Close)
    assert "your password was not sent" in box.text()
    assert server.fingerprint.upper()[:2] in box.informativeText()
    qtbot.waitUntil(lambda: "has changed" in dialog.status.text())
    assert dialog.connected is None and dialog.isVisible()
    assert len(logins(server, "tom")) == before              # the server saw no login


def test_a_viewer_sees_everything_and_can_start_nothing(
        qtbot: QtBot, dialog: ConnectDialog, server: TlsServer) -> None:
    fill(dialog, server, "vera")
    qtbot.mouseClick(dialog.connect_button, _left())
    answer(qtbot, dialog, "TrustServer", QMessageBox.StandardButton.Yes)
    window = open_window(qtbot, dialog)
    try:
        window.inventory.select("Jobs")
        click_row(qtbot, window, "Remote")
        qtbot.waitUntil(lambda: [j.name for j in window.jobs_view.selected_jobs()] == ["Remote"])
        assert window.job_actions.toggle_enabled.text() == "Disable"   # the selection applied
        start = ribbon_button(window, "Start")
        assert not start.isEnabled()
        assert "Your role (Backup Viewer) does not allow you to start or stop jobs" in start.toolTip()
        assert not window.window_actions.maintenance.isEnabled()
    finally:
        window.close()


def test_a_user_with_a_second_factor_is_asked_for_the_code(
        qtbot: QtBot, dialog: ConnectDialog, server: TlsServer) -> None:
    done = agent_jobs(server.data, "user", "set", "ada", "--totp")
    assert done.returncode == 0, done.stderr
    [secret] = [line.split(":", 1)[1].strip() for line in done.stdout.splitlines()
                if line.strip().startswith("secret:")]
    fill(dialog, server, "ada")
    qtbot.mouseClick(dialog.connect_button, _left())
    answer(qtbot, dialog, "TrustServer", QMessageBox.StandardButton.Yes)
    qtbot.waitUntil(lambda: dialog.code.isVisible(), timeout=20_000)
    assert dialog.connected is None
    dialog.code.setText(pyotp.TOTP(secret).now())
    qtbot.mouseClick(dialog.connect_button, _left())
    window = open_window(qtbot, dialog)
    try:
        assert "ada (Backup Administrator)" in window.status_bar.data_dir_label.text()
        window.inventory.select("Jobs")
        click_row(qtbot, window, "Remote")
        qtbot.waitUntil(lambda: ribbon_button(window, "Edit").isEnabled())
    finally:
        window.close()


def test_two_users_consoles_see_each_others_stop_live(
        qtbot: QtBot, server: TlsServer) -> None:
    """Item 6: an operator's stop shows in a viewer's console through the event stream."""
    windows = []
    for user in ("olga", "vera"):
        box = ConnectDialog(TlsConnectBackend(), console_settings(), TaskRunner())
        qtbot.addWidget(box)
        box.show()
        fill(box, server, user)
        qtbot.mouseClick(box.connect_button, _left())
        if user == "olga":
            answer(qtbot, box, "TrustServer", QMessageBox.StandardButton.Yes)
        windows.append(open_window(qtbot, box))
    olga, vera = windows
    try:
        for window in windows:
            window.inventory.select("Jobs")
        click_row(qtbot, olga, "Remote")
        qtbot.waitUntil(lambda: olga.job_actions.start.isEnabled())
        qtbot.mouseClick(ribbon_button(olga, "Start"), _left())
        wait_cell(qtbot, vera, "Remote", Column.STATUS, lambda t: t.startswith("Working"))
        fetches = vera.refresher.count
        click_row(qtbot, olga, "Remote")
        qtbot.waitUntil(lambda: olga.job_actions.stop.isEnabled())
        qtbot.mouseClick(ribbon_button(olga, "Stop"), _left())
        qtbot.waitUntil(lambda: olga.stop_dialog is not None)
        stop = olga.stop_dialog
        assert stop is not None
        qtbot.waitUntil(lambda: stop.immediately.points.text() != LOADING_TEXT, timeout=10_000)
        qtbot.mouseClick(stop.immediately_button, _left())
        wait_cell(qtbot, vera, "Remote", Column.STATUS, "Idle")
        assert vera.refresher.count > fetches                # learned from the event stream
        done = agent_jobs(server.data, "sessions", "Remote", "--json")
        assert "Stopped by olga" in done.stdout or "olga" in done.stdout
    finally:
        for window in windows:
            window.close()


def test_the_console_reconnects_after_the_server_comes_back(
        qtbot: QtBot, tmp_path: Path) -> None:
    """A network drop (here: the server killed and started again on the same port,
    with the same certificate): the open view stays, the status bar says so, and
    commands work again once it is back; the client logs in again by itself."""
    srv = TlsServer(tmp_path / "data")
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    assert agent_jobs(srv.data, "user", "add", "olga", "--role", "operator",
                      "--password-file", str(pw)).returncode == 0
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a")
    assert agent_jobs(srv.data, "job", "create", "Remote", "--computer",
                      f"pc1={tmp_path / 'src'}").returncode == 0
    box = ConnectDialog(TlsConnectBackend(), console_settings(), TaskRunner())
    qtbot.addWidget(box)
    box.show()
    fill(box, srv, "olga")
    qtbot.mouseClick(box.connect_button, _left())
    answer(qtbot, box, "TrustServer", QMessageBox.StandardButton.Yes)
    window = open_window(qtbot, box)
    again: TlsServer | None = None
    try:
        srv.proc.kill()
        srv.proc.wait(timeout=10)
        label = window.status_bar.server_label
        qtbot.waitUntil(lambda: "reconnecting" in label.text(), timeout=20_000)
        again = TlsServer(srv.data, "--listen", f"{srv.host}:{srv.port}")
        assert again.fingerprint == srv.fingerprint
        qtbot.waitUntil(lambda: label.text().endswith("connected")
                        and "reconnecting" not in label.text(), timeout=30_000)
        assert "Remote" in visible_jobs(window)                 # the view was kept
        window.inventory.select("Jobs")
        click_row(qtbot, window, "Remote")
        qtbot.waitUntil(lambda: window.job_actions.start.isEnabled())
        qtbot.mouseClick(ribbon_button(window, "Start"), _left())
        wait_cell(qtbot, window, "Remote", Column.LAST_RESULT, "Success", timeout=30_000)
    finally:
        window.close()
        (again or srv).stop()


# Last in the module: a failed login slows the next logins from this address.
def test_a_wrong_password_keeps_the_window_open_and_says_so(
        qtbot: QtBot, dialog: ConnectDialog, server: TlsServer) -> None:
    fill(dialog, server, "wes", "not the password")   # failed logins slow the next: own user
    qtbot.mouseClick(dialog.connect_button, _left())
    answer(qtbot, dialog, "TrustServer", QMessageBox.StandardButton.Yes)
    qtbot.waitUntil(lambda: dialog.connect_button.isEnabled() and dialog.status.text() != ""
                    and "Logging in" not in dialog.status.text(), timeout=20_000)
    assert dialog.connected is None and dialog.isVisible()
    assert "password" in dialog.status.text().lower()
