"""The Backup Infrastructure view: the repositories list, the Add Repository
wizard (Test connection, Finish, problems shown inline) and Remove, clicked
through the real window against the real backup server."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QAbstractButton, QHeaderView, QMenu, QMessageBox
from pytestqt.qtbot import QtBot

from core.api import BackupApi, RepositoryInfo, RepositorySpec
from gui.app import create_main_window
from gui.infrastructure.infrastructure_controller import AUTO_RESCAN_MS
from gui.infrastructure.infrastructure_view import InfrastructureView
from gui.shell.main_window import MainWindow
from gui.infrastructure.repositories_model import RepoColumn, RepositoriesModel
from gui.infrastructure.repository_wizard import RepositoryWizard

from tests.support.seaweed import SeaweedS3

from tests.gui.conftest import JobFactory
from tests.gui.helpers import (
    WAIT_MS, button, click_button, click_menu, click_ribbon, menu_action, ribbon_button,
)
from tests.gui.wizard_steps import next_step, retype


VIEW = "Backup Infrastructure"
DEFAULT = "Default Backup Repository"


def open_infrastructure(qtbot: QtBot, window: MainWindow) -> None:
    """Click the navigation button; wait for the list from the server."""
    loads = window.infrastructure.loads
    qtbot.mouseClick(window.navigation.buttons[VIEW], Qt.MouseButton.LeftButton)
    assert window.work.currentWidget() is window.infrastructure.view
    assert window.inventories.currentWidget() is window.infrastructure.inventory
    qtbot.waitUntil(lambda: window.infrastructure.loads > loads, timeout=WAIT_MS)


def repo_cell(window: MainWindow, name: str, column: RepoColumn) -> str | None:
    model = window.infrastructure.model
    row = model.row_of(name)
    return None if row is None else str(model.index(row, column).data())


def selected_name(window: MainWindow) -> str | None:
    repo = window.infrastructure.view.selected_repository()
    return repo.name if repo is not None else None


def tick(qtbot: QtBot, box: QAbstractButton) -> None:
    """Click a radio button or check box on its indicator, as a mouse does."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def open_add_wizard(qtbot: QtBot, window: MainWindow) -> RepositoryWizard:
    click_ribbon(qtbot, window, "Add Repository")
    wizard = window.repository_wizard
    assert wizard is not None and wizard.isVisible() and wizard.isModal()
    return wizard


def fill_local(qtbot: QtBot, wizard: RepositoryWizard, name: str, path: str,
               password: str | None) -> None:
    """Type (Local folder) > Repository > Encryption, stopping on Review."""
    assert wizard.local_radio.isChecked()
    next_step(qtbot, wizard)
    assert wizard.name_edit.text().startswith("Backup Repository ")   # a free name to keep
    retype(qtbot, wizard.name_edit, name)
    retype(qtbot, wizard.path_edit, path)
    next_step(qtbot, wizard)
    if password is not None:
        retype(qtbot, wizard.password_edit, password)
        retype(qtbot, wizard.confirm_edit, password)
    next_step(qtbot, wizard)
    assert wizard.steps[wizard.current].title == "Review"


def test_add_local_encrypted_repository(qtbot: QtBot, window: MainWindow,
                                        tmp_path: Path) -> None:
    open_infrastructure(qtbot, window)
    assert repo_cell(window, DEFAULT, RepoColumn.TYPE) == "Local folder"
    assert window.ribbon.contextual_header(window.repository_page) == "Repository Tools"
    assert ribbon_button(window, "Rescan").isEnabled()
    assert not ribbon_button(window, "Remove").isEnabled()   # nothing selected

    wizard = open_add_wizard(qtbot, window)
    target = tmp_path / "nas" / "repository"
    fill_local(qtbot, wizard, "Offsite NAS", str(target), "correct horse battery")
    assert wizard.password_edit.echoMode() == wizard.password_edit.EchoMode.Password
    assert "Encrypted with a password" in wizard.summary.text()

    click_button(qtbot, wizard, "Test connection")
    assert wizard.testing and "Connecting" in wizard.result_text   # the GUI did not wait
    qtbot.waitUntil(lambda: wizard.test_count == 1, timeout=WAIT_MS)
    assert wizard.result_ok is True, wizard.result_text
    assert "new encrypted repository" in wizard.result_text
    assert not target.exists()          # testing creates nothing

    click_button(qtbot, wizard, "Finish")
    qtbot.waitUntil(lambda: window.repository_wizard is None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: repo_cell(window, "Offsite NAS", RepoColumn.ENCRYPTED) == "Yes",
                    timeout=WAIT_MS)
    assert repo_cell(window, "Offsite NAS", RepoColumn.LOCATION) == str(target)
    assert repo_cell(window, "Offsite NAS", RepoColumn.STATUS) == "Available"
    assert repo_cell(window, "Offsite NAS", RepoColumn.FREE) not in ("", None)
    assert any(target.iterdir())        # the server created the repository there
    qtbot.waitUntil(lambda: selected_name(window) == "Offsite NAS", timeout=WAIT_MS)
    assert ribbon_button(window, "Remove").isEnabled()
    assert window.error_box is None and window.infrastructure.error_box is None


def test_bad_paths_show_inline(qtbot: QtBot, window: MainWindow, service: BackupApi,
                               tmp_path: Path) -> None:
    open_infrastructure(qtbot, window)
    wizard = open_add_wizard(qtbot, window)
    next_step(qtbot, wizard)
    retype(qtbot, wizard.name_edit, "Relative")
    retype(qtbot, wizard.path_edit, "backups/here")
    assert wizard.path_error.isVisible()
    assert "full path" in wizard.path_error.text()
    assert not button(wizard, "Finish").isEnabled()
    assert not wizard.test_button.isEnabled()

    # A folder the server refuses: the answer shows on the Review step, in words.
    retype(qtbot, wizard.path_edit, str(service.data_dir))
    assert not wizard.path_error.isVisible()
    next_step(qtbot, wizard)
    next_step(qtbot, wizard)
    click_button(qtbot, wizard, "Test connection")
    qtbot.waitUntil(lambda: wizard.test_count == 1, timeout=WAIT_MS)
    assert wizard.result_ok is False
    assert "cannot hold the data directory" in wizard.result_text
    assert "Traceback" not in wizard.result_text

    click_button(qtbot, wizard, "Finish")   # refused too: the wizard stays, the answer inline
    qtbot.waitUntil(lambda: not wizard.saving, timeout=WAIT_MS)
    assert window.repository_wizard is wizard and wizard.isVisible()
    assert wizard.result_text.startswith("The repository was not added: ")
    assert "cannot hold the data directory" in wizard.result_text
    assert [r.name for r in service.list_repositories()] == [DEFAULT]
    click_button(qtbot, wizard, "Cancel")
    qtbot.waitUntil(lambda: window.repository_wizard is None, timeout=WAIT_MS)


def test_s3_needs_password_or_insecure(qtbot: QtBot, window: MainWindow) -> None:
    open_infrastructure(qtbot, window)
    wizard = open_add_wizard(qtbot, window)
    tick(qtbot, wizard.s3_radio)
    next_step(qtbot, wizard)
    retype(qtbot, wizard.name_edit, "Bucket")
    retype(qtbot, wizard.url_edit, "https://s3.example.com/bucket")
    assert "s3:http(s)://HOST:PORT/BUCKET" in wizard.url_error.text()
    retype(qtbot, wizard.url_edit, "s3:http://127.0.0.1:9/bucket/prefix")
    assert not wizard.url_error.isVisible()
    retype(qtbot, wizard.access_key_edit, "AKIA")
    assert wizard.secret_key_error.isVisible()
    retype(qtbot, wizard.secret_key_edit, "s3cr3t")
    assert wizard.secret_key_edit.echoMode() == wizard.secret_key_edit.EchoMode.Password
    next_step(qtbot, wizard)
    assert "Type in a password" in wizard.password_error.text()
    assert not button(wizard, "Finish").isEnabled()
    tick(qtbot, wizard.insecure_check)
    assert wizard.insecure_warning.isVisible() and not wizard.password_edit.isEnabled()
    assert button(wizard, "Finish").isEnabled()
    spec = wizard.spec()
    assert spec.insecure_no_encryption and spec.password is None
    assert spec.url == "s3:http://127.0.0.1:9/bucket/prefix"
    assert spec.secret_access_key is not None
    assert spec.secret_access_key.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in wizard.summary.text()
    click_button(qtbot, wizard, "Cancel")


def test_remove_refuses_while_a_job_uses_it(qtbot: QtBot, window: MainWindow,
                                            service: BackupApi, make_job: JobFactory,
                                            tmp_path: Path) -> None:
    spare = tmp_path / "spare"
    service.add_repository(RepositorySpec(name="Spare", url=str(spare)))
    make_job("Nightly", ("pc1",), repository="Spare")
    open_infrastructure(qtbot, window)
    assert repo_cell(window, "Spare", RepoColumn.JOBS) == "1"

    assert window.infrastructure.view.select("Spare")
    click_ribbon(qtbot, window, "Remove")
    infra = window.infrastructure
    qtbot.waitUntil(lambda: infra.error_box is not None and infra.error_box.isVisible())
    box = infra.error_box
    assert box is not None
    assert box.text() == ("The repository 'Spare' cannot be removed: the job 'Nightly' backs "
                          "up to it. Point it to another repository, or delete it, first.")
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert infra.remove_question is None and infra.error_box is None
    assert "Spare" in [r.name for r in service.list_repositories()]

    # Once no job uses it: the right-click menu's Remove asks, then forgets it.
    service.delete_job("Nightly")
    qtbot.waitUntil(lambda: repo_cell(window, "Spare", RepoColumn.JOBS) == "0", timeout=WAIT_MS)
    table = infra.view.table
    row = infra.view.proxy_index_of("Spare")
    pos: QPoint = table.visualRect(row).center()
    menu = infra.view.show_context_menu(pos)
    assert menu is not None
    qtbot.waitUntil(menu.isVisible)
    assert [a.text() for a in menu.actions() if a.text()] == ["Add Repository", "Remove",
                                                              "Rescan"]
    click_menu(qtbot, menu, "Remove")
    qtbot.waitUntil(lambda: infra.remove_question is not None)
    question = infra.remove_question
    assert question is not None
    assert "not deleted" in question.informativeText()
    qtbot.mouseClick(question.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: infra.model.row_of("Spare") is None, timeout=WAIT_MS)
    assert spare.is_dir() and any(spare.iterdir())    # its data stays
    assert infra.error_box is None


def test_default_repository_cannot_be_removed(qtbot: QtBot, window: MainWindow) -> None:
    open_infrastructure(qtbot, window)
    infra = window.infrastructure
    table = infra.view.table
    # Rescan (the ribbon) and F5 fetch the list again.
    loads = infra.loads
    click_ribbon(qtbot, window, "Rescan")
    qtbot.waitUntil(lambda: infra.loads > loads, timeout=WAIT_MS)
    loads = infra.loads
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_F5)
    # At once, not at the next event-driven rescan (AUTO_RESCAN_MS after the last one).
    qtbot.waitUntil(lambda: infra.loads > loads, timeout=AUTO_RESCAN_MS - 500)

    # Right-click off the rows: the same menu, for Add Repository; nothing to remove.
    below = QPoint(20, table.viewport().height() - 10)
    assert not table.indexAt(below).isValid()
    menu = infra.view.show_context_menu(below)
    assert menu is not None
    qtbot.waitUntil(menu.isVisible)
    assert menu_action(menu, "Add Repository").isEnabled()
    assert not menu_action(menu, "Remove").isEnabled()
    menu.close()

    assert infra.view.select(DEFAULT)
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_Delete)        # the keyboard's Remove
    qtbot.waitUntil(lambda: infra.error_box is not None and infra.error_box.isVisible())
    assert infra.error_box is not None
    assert "data directory's own repository" in infra.error_box.text()
    assert infra.remove_question is None


def test_add_s3_repository(qtbot: QtBot, window: MainWindow, seaweed: SeaweedS3,
                           s3_url: str) -> None:
    """An encrypted repository in a real S3 bucket (SeaweedFS), with the keys typed in."""
    open_infrastructure(qtbot, window)
    wizard = open_add_wizard(qtbot, window)
    tick(qtbot, wizard.s3_radio)
    next_step(qtbot, wizard)
    retype(qtbot, wizard.name_edit, "Cloud")
    retype(qtbot, wizard.url_edit, s3_url + "/console")
    retype(qtbot, wizard.access_key_edit, seaweed.access_key)
    retype(qtbot, wizard.secret_key_edit, seaweed.secret_key)
    next_step(qtbot, wizard)
    retype(qtbot, wizard.password_edit, "s3 repository password")
    retype(qtbot, wizard.confirm_edit, "s3 repository password")
    next_step(qtbot, wizard)
    assert seaweed.secret_key not in wizard.summary.text()
    click_button(qtbot, wizard, "Test connection")
    qtbot.waitUntil(lambda: wizard.test_count == 1, timeout=30_000)
    assert wizard.result_ok is True, wizard.result_text
    click_button(qtbot, wizard, "Finish")
    qtbot.waitUntil(lambda: window.repository_wizard is None, timeout=30_000)
    qtbot.waitUntil(lambda: repo_cell(window, "Cloud", RepoColumn.TYPE) == "S3 compatible",
                    timeout=WAIT_MS)
    assert repo_cell(window, "Cloud", RepoColumn.ENCRYPTED) == "Yes"
    assert repo_cell(window, "Cloud", RepoColumn.LOCATION) == s3_url + "/console"
    assert repo_cell(window, "Cloud", RepoColumn.STATUS) == "Available"


def test_repositories_columns_are_remembered(qtbot: QtBot, window: MainWindow,
                                             service: BackupApi) -> None:
    open_infrastructure(qtbot, window)
    header = window.infrastructure.view.table.horizontalHeader()
    header.resizeSection(RepoColumn.LOCATION, 333)
    header.moveSection(header.visualIndex(RepoColumn.ENCRYPTED), 1)
    window.infrastructure.view.table.sortByColumn(RepoColumn.JOBS, Qt.SortOrder.DescendingOrder)
    window.close()

    reopened = create_main_window(service.data_dir, service=service)
    reopened.show()
    try:
        open_infrastructure(qtbot, reopened)
        header = reopened.infrastructure.view.table.horizontalHeader()
        assert header.sectionSize(RepoColumn.LOCATION) == 333    # not fitted to the content
        assert header.visualIndex(RepoColumn.ENCRYPTED) == 1
        assert header.sortIndicatorSection() == RepoColumn.JOBS
        assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
        assert header.sectionResizeMode(RepoColumn.STATUS) is QHeaderView.ResizeMode.Stretch
    finally:
        reopened.close()
        reopened.shutdown()


def test_rescan_updates_rows_in_place(qtbot: QtBot) -> None:
    """A rescan changes rows in place: the selection stays on its repository."""
    model = RepositoriesModel()
    view = InfrastructureView(model, lambda parent: QMenu(parent))
    qtbot.addWidget(view)
    a = RepositoryInfo(name="A", kind="local", location="/a", used_bytes=1)
    b = RepositoryInfo(name="B", kind="s3", location="s3:http://h:9000/b", encrypted=True)
    view.set_repositories([a, b])
    assert view.select("B")
    b2 = b.model_copy(update={"problem": "The bucket s3:http://h:9000/b does not answer.",
                              "jobs": ["J1", "J2"]})
    view.set_repositories([RepositoryInfo(name="C", kind="local", location="/c"), b2])
    selected = view.selected_repository()
    assert selected is not None and selected.name == "B" and selected.problem is not None
    assert [r.name for r in model.repositories()] == ["B", "C"]
    row = model.row_of("B")
    assert row is not None
    assert model.index(row, RepoColumn.STATUS).data() == "The bucket does not answer."
    assert model.index(row, RepoColumn.STATUS).data(Qt.ItemDataRole.ToolTipRole) == \
        b2.problem                       # whole, and only what is wrong
    assert model.index(row, RepoColumn.JOBS).data() == "2"
    assert model.index(row, RepoColumn.TYPE).data() == "S3 compatible"
    assert model.index(row, RepoColumn.CAPACITY).data() == ""      # unknown while unreachable
    view.search.setText("/c")
    assert view.proxy.rowCount() == 1


def test_immutability_is_disabled_for_a_local_folder(qtbot: QtBot, window: MainWindow,
                                                     tmp_path: Path) -> None:
    open_infrastructure(qtbot, window)
    wizard = open_add_wizard(qtbot, window)
    fill_local(qtbot, wizard, "Here", str(tmp_path / "here"), None)
    assert not wizard.immutable_check.isEnabled()
    assert wizard.immutable_note.text().startswith(
        "Immutability needs object storage (S3 with Object Lock)")
    assert wizard.spec().immutable_days is None
    click_button(qtbot, wizard, "Cancel")


def test_add_immutable_s3_repository(qtbot: QtBot, window: MainWindow, seaweed: SeaweedS3,
                                     locked_s3_url: str) -> None:
    """The Encryption step's "Make recent backups immutable for N days"."""
    open_infrastructure(qtbot, window)
    wizard = open_add_wizard(qtbot, window)
    tick(qtbot, wizard.s3_radio)
    next_step(qtbot, wizard)
    retype(qtbot, wizard.name_edit, "Vault")
    retype(qtbot, wizard.url_edit, locked_s3_url)
    retype(qtbot, wizard.access_key_edit, seaweed.access_key)
    retype(qtbot, wizard.secret_key_edit, seaweed.secret_key)
    next_step(qtbot, wizard)
    retype(qtbot, wizard.password_edit, "s3 repository password")
    retype(qtbot, wizard.confirm_edit, "s3 repository password")
    assert wizard.immutable_check.isEnabled() and not wizard.immutable_days.isEnabled()
    tick(qtbot, wizard.immutable_check)
    assert wizard.immutable_days.isEnabled()
    wizard.immutable_days.setValue(14)
    next_step(qtbot, wizard)
    assert "Locked for 14 days" in wizard.summary.text()
    assert wizard.spec().immutable_days == 14
    click_button(qtbot, wizard, "Finish")
    qtbot.waitUntil(lambda: window.repository_wizard is None, timeout=30_000)
    qtbot.waitUntil(lambda: repo_cell(window, "Vault", RepoColumn.TYPE) == "S3 compatible",
                    timeout=WAIT_MS)
    bucket = locked_s3_url.rpartition("/")[2]
    head = seaweed.client().head_object(Bucket=bucket, Key="config.json")
    assert head["ObjectLockMode"] == "COMPLIANCE"
