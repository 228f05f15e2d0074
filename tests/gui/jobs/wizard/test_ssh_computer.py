"""The job wizard's Linux computers (SSH): the Add Computer window builds
``ssh://USER@HOST[:PORT]/PATH`` with the job's SSH settings, and its Test
connection asks the real server off the GUI thread; the Storage step lists
the server's repositories."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QAbstractButton
from pytestqt.qtbot import QtBot

from core.api import BackupApi, RepositorySpec
from core.errors import RestoreError
from core.models import Computer, SshSettings
from gui.jobs.wizard.computer_dialog import ComputerDialog, SshAddress, parse_ssh_url
from gui.jobs.wizard.wizard import JobWizard
from gui.shell.main_window import MainWindow
from tests.support.sshd import sshd_available, start_sshd

from gui.jobs.jobs_model import Column

from tests.gui.backups.test_backups import open_backups, open_restore, run_restore
from tests.gui.helpers import WAIT_MS, click_button, click_ribbon, click_row, wait_cell
from tests.gui.wizard_steps import finish, next_step, open_wizard, retype, wait_checked


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tick(qtbot: QtBot, box: QAbstractButton) -> None:
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def new_job_wizard(qtbot: QtBot, window: MainWindow) -> JobWizard:
    click_ribbon(qtbot, window, "Backup Job")
    return open_wizard(qtbot, window)


def add_ssh_dialog(qtbot: QtBot, wizard: JobWizard) -> ComputerDialog:
    next_step(qtbot, wizard)
    assert wizard.steps[wizard.current].title == "Computers"
    page = wizard.computers_page
    click_button(qtbot, page, "Add...")
    dialog = page.computer_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.local_radio.isChecked()
    tick(qtbot, dialog.ssh_radio)
    assert dialog.pages.currentWidget() is dialog.ssh_page
    return dialog


def test_ssh_address_round_trip() -> None:
    cases = [SshAddress("backup", "web1", 22, "/srv/data"),
             SshAddress("root", "[::1]", 2222, "/home/a b"),
             SshAddress("svc", "10.0.0.5", 2200, "/")]
    for address in cases:
        url = address.url()
        assert Computer(name="x", path=url, agent="ssh").ssh_target.path == address.path
        assert parse_ssh_url(url) == address
    assert cases[0].url() == "ssh://backup@web1/srv/data"       # port 22 is left out
    assert parse_ssh_url("/srv/data") is None


def test_ssh_computer_and_failed_test(qtbot: QtBot, window: MainWindow,
                                      tmp_path: Path) -> None:
    wizard = new_job_wizard(qtbot, window)
    dialog = add_ssh_dialog(qtbot, wizard)
    port = closed_port()
    key = tmp_path / "id_ed25519"
    key.write_text("not a real key\n")
    retype(qtbot, dialog.host_edit, "127.0.0.1")
    retype(qtbot, dialog.port_spin, str(port))
    retype(qtbot, dialog.user_edit, "backup")
    assert not dialog.ok_button.isEnabled()            # no path yet
    assert "folder to back up" in dialog.remote_path_error.text()
    retype(qtbot, dialog.remote_path_edit, "srv/data")
    assert "starting with '/'" in dialog.remote_path_error.text()
    retype(qtbot, dialog.remote_path_edit, "/srv/data")
    click_button(qtbot, dialog, "Test connection")
    # The click came back at once: the server is asked on a worker.
    assert dialog.testing and "Connecting to 127.0.0.1" in dialog.test_result.text()
    assert not dialog.test_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.test_count == 1, timeout=30_000)
    assert dialog.test_ok is False
    answer = dialog.test_result.text()
    assert str(port) in answer and "Traceback" not in answer and "Connecting" not in answer
    assert dialog.test_button.isEnabled()

    retype(qtbot, dialog.identity_edit, str(key))
    retype(qtbot, dialog.known_hosts_edit, str(tmp_path / "known_hosts"))
    tick(qtbot, dialog.accept_new_check)
    assert dialog.ok_button.isEnabled(), dialog.field_errors()
    assert dialog.name_edit.text() == "127.0.0.1"       # follows the host until typed
    retype(qtbot, dialog.name_edit, "web-01")
    assert dialog.computer() == Computer(name="web-01",
                                         path=f"ssh://backup@127.0.0.1:{port}/srv/data",
                                         agent="ssh")
    assert dialog.ssh_settings() == SshSettings(identity_file=str(key),
                                                known_hosts_file=str(tmp_path / "known_hosts"),
                                                accept_new_host_key=True)

    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    page = wizard.computers_page
    assert page.computer_dialog is None
    assert page.computers == [Computer(name="web-01",
                                       path=f"ssh://backup@127.0.0.1:{port}/srv/data",
                                       agent="ssh")]
    assert page.table.topLevelItem(0).text(2) == "Linux (SSH)"
    draft = wizard.draft()
    assert draft["ssh"] == {"identity_file": str(key),
                            "known_hosts_file": str(tmp_path / "known_hosts"),
                            "accept_new_host_key": True}
    assert "computers" not in wizard.check.errors and "ssh" not in wizard.check.errors

    # Edit brings the same settings back.
    click_button(qtbot, page, "Edit...")
    again = page.computer_dialog
    assert again is not None and again.ssh_radio.isChecked()
    assert (again.host_edit.text(), again.port_spin.value(), again.user_edit.text(),
            again.remote_path_edit.text()) == ("127.0.0.1", port, "backup", "/srv/data")
    assert again.accept_new_check.isChecked()
    click_button(qtbot, again, "Cancel")
    qtbot.mouseClick(wizard.cancel_button, Qt.MouseButton.LeftButton)


def test_storage_lists_the_servers_repositories(qtbot: QtBot, window: MainWindow,
                                                service: BackupApi, tmp_path: Path) -> None:
    service.add_repository(RepositorySpec(name="Offsite", url=str(tmp_path / "offsite")))
    wizard = new_job_wizard(qtbot, window)
    storage = wizard.storage_page
    qtbot.waitUntil(lambda: storage.repositories_loaded, timeout=WAIT_MS)
    combo = storage.repository_combo
    names = [combo.itemText(i) for i in range(combo.count())]
    assert names == ["Default Backup Repository", "Offsite"]
    assert combo.currentText() == "Default Backup Repository"
    assert combo.itemData(1, Qt.ItemDataRole.ToolTipRole) == str(tmp_path / "offsite")
    combo.setCurrentIndex(1)
    assert wizard.draft()["repository"] == "Offsite"
    qtbot.mouseClick(wizard.cancel_button, Qt.MouseButton.LeftButton)


@pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd (bash .ci/setup)")
def test_ssh_computer_against_a_real_sshd(qtbot: QtBot, window: MainWindow,
                                          service: BackupApi, tmp_path: Path) -> None:
    """Test connection refuses an unknown host key, then, told to trust it the
    first time, succeeds and records it; the job gets the SSH settings, the
    wizard's check reads the computer with them, and Start from the ribbon
    makes a restore point of the remote files."""
    sshd = start_sshd(tmp_path / "sshd")
    try:
        files = tmp_path / "web" / "srv"
        (files / "docs").mkdir(parents=True)
        (files / "docs" / "a.txt").write_text("hello\n")
        known_hosts = tmp_path / "known_hosts"
        wizard = new_job_wizard(qtbot, window)
        retype(qtbot, wizard.name_page.name_edit, "Linux servers")
        dialog = add_ssh_dialog(qtbot, wizard)
        retype(qtbot, dialog.host_edit, sshd.host)
        retype(qtbot, dialog.port_spin, str(sshd.port))
        retype(qtbot, dialog.user_edit, sshd.user)
        retype(qtbot, dialog.remote_path_edit, str(files))
        retype(qtbot, dialog.identity_edit, str(sshd.client_key))
        retype(qtbot, dialog.known_hosts_edit, str(known_hosts))
        retype(qtbot, dialog.name_edit, "web-01")

        click_button(qtbot, dialog, "Test connection")      # an unknown host key: refused
        qtbot.waitUntil(lambda: dialog.test_count == 1, timeout=30_000)
        assert dialog.test_ok is False, dialog.test_result.text()
        tick(qtbot, dialog.accept_new_check)                 # trust it the first time
        click_button(qtbot, dialog, "Test connection")
        qtbot.waitUntil(lambda: dialog.test_count == 2, timeout=30_000)
        assert dialog.test_ok is True, dialog.test_result.text()
        assert sshd.host_public.split()[1] in known_hosts.read_text()

        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
        page = wizard.computers_page
        assert page.computers == [Computer(name="web-01", path=sshd.url(files), agent="ssh")]
        assert wizard.draft()["ssh"] == SshSettings(
            identity_file=str(sshd.client_key), known_hosts_file=str(known_hosts),
            accept_new_host_key=True).model_dump()

        wait_checked(qtbot, wizard)       # read over SSH with the job's key and known_hosts
        assert wizard.check.errors == {}, wizard.check.errors
        finish(qtbot, wizard)
        qtbot.waitUntil(lambda: window.model.row_of("Linux servers") is not None,
                        timeout=WAIT_MS)
        click_row(qtbot, window, "Linux servers")
        click_ribbon(qtbot, window, "Start")
        wait_cell(qtbot, window, "Linux servers", Column.LAST_RESULT, "Success",
                  timeout=60_000)
        (point,) = service.list_points("Linux servers")
        assert (point.computer, point.files) == ("web-01", 1)

        # Restoring onto the computer itself is not offered; to a folder is.
        with pytest.raises(RestoreError, match="over SSH"):
            service.start_restore(point.id, None, overwrite=True)
        open_backups(qtbot, window)
        restore = open_restore(qtbot, window, point.id)
        assert not restore.to_original.isEnabled()
        assert "SSH" in restore.to_original.text() and sshd.url(files) in \
            restore.to_original.toolTip()
        restore.model.check_path("")
        restore.folder_edit.setText(str(tmp_path / "restored"))
        run_restore(qtbot, restore)
        assert (tmp_path / "restored" / "docs" / "a.txt").read_text() == "hello\n"
    finally:
        sshd.stop()
