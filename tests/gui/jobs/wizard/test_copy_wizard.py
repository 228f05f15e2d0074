"""Backup copy jobs in the console: Home > Backup Job > Backup Copy... opens the
copy wizard (Name, Source Job, Target, Retention, Schedule, Summary); the job is
listed as "Backup Copy"; Start, Stop and Statistics on the ribbon act on its Copy
sessions; Backups > Disk lists its own points per computer; Edit opens the copy
wizard again; Cancel asks once something was entered. Against a real server
process, over its socket, as in production."""
from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import (
    QApplication, QComboBox, QMenu, QMessageBox, QStyle, QStyleOptionToolButton, QWidget,
)
from pytestqt.qtbot import QtBot

from core.api import BackupApi, RepositorySpec
from core.models import JobDefinition, SessionResult, SessionType
from core.repository import Repository
from gui.backups.backups_model import NODE_ROLE
from gui.history.history_model import SessionColumn
from gui.jobs.jobs_model import Column
from gui.jobs.wizard import copy_draft as C
from gui.jobs.wizard.copy_wizard import CopyJobWizard
from gui.shell.main_window import MainWindow
from tests.gui.conftest import JobFactory
from tests.gui.history.test_history import open_history, rows, settled
from tests.gui.helpers import (
    WAIT_MS, button, cell, click_button, click_ribbon, click_row, ribbon_button, start_held,
    visible_jobs, wait_cell,
)
from tests.gui.wizard_steps import current_step, next_step, retype

TARGET_PASSWORD = "offsite-password-7"
STEPS = ["Name", "Source Job", "Target", "Retention", "Schedule", "Summary"]


# -- operator steps ----------------------------------------------------------------------
def choose_from_menu_button(qtbot: QtBot, window: MainWindow, text: str, item: str) -> None:
    """Click the drop-down arrow of the ribbon button ``text``, then ``item`` in its menu.
    The menu runs its own event loop: the click on the item is queued before."""
    ribbon_button_ = ribbon_button(window, text)
    menu = ribbon_button_.defaultAction().menu()
    assert isinstance(menu, QMenu)
    clicked: list[str] = []

    def pick() -> None:
        if not menu.isVisible():
            QTimer.singleShot(10, pick)
            return
        action = next(a for a in menu.actions() if a.text() == item)
        clicked.append(item)
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton,
                         pos=menu.actionGeometry(action).center())

    option = QStyleOptionToolButton()
    ribbon_button_.initStyleOption(option)
    arrow = ribbon_button_.style().subControlRect(
        QStyle.ComplexControl.CC_ToolButton, option, QStyle.SubControl.SC_ToolButtonMenu,
        ribbon_button_)
    assert arrow.isValid() and arrow.width() > 0, "the button has no drop-down arrow"
    QTimer.singleShot(0, pick)
    qtbot.mouseClick(ribbon_button_, Qt.MouseButton.LeftButton, pos=arrow.center())
    qtbot.waitUntil(lambda: clicked == [item], timeout=WAIT_MS)


def open_copy_wizard(qtbot: QtBot, window: MainWindow) -> CopyJobWizard:
    qtbot.waitUntil(lambda: window.job_wizard is not None, timeout=WAIT_MS)
    wizard = window.job_wizard
    assert isinstance(wizard, CopyJobWizard) and wizard.isVisible() and wizard.isModal()
    return wizard


def click_source(qtbot: QtBot, wizard: CopyJobWizard, name: str) -> None:
    tree = wizard.source_page.jobs_tree
    item = wizard.source_page.item_of(name)
    assert item is not None, f"{name!r} is not offered: {wizard.source_page.names()}"
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualItemRect(item).center())


def type_into_combo(qtbot: QtBot, combo: QComboBox, text: str) -> None:
    """Choose an item of a closed combo box with the arrow keys, as the keyboard does."""
    wanted = combo.findText(text)
    assert wanted >= 0, f"{text!r} is not offered"
    combo.setFocus()
    while combo.currentIndex() != wanted:
        key = Qt.Key.Key_Down if combo.currentIndex() < wanted else Qt.Key.Key_Up
        qtbot.keyClick(combo, key)
    assert combo.currentText() == text


def top_of(widget: QWidget, page: QWidget) -> int:
    """Where ``widget`` sits on ``page`` once the page's layout has settled."""
    layout = page.layout()
    assert layout is not None
    layout.activate()
    return widget.mapTo(page, QPoint(0, 0)).y()


def add_target(service: BackupApi, tmp_path: Path, name: str = "Offsite") -> Path:
    folder = tmp_path / "offsite-repo"
    service.add_repository(RepositorySpec(name=name, url=str(folder),
                                          password=SecretStr(TARGET_PASSWORD)))
    return folder


def backed_up(qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory,
              name: str = "Nightly", computers: tuple[str, ...] = ("pc1", "pc2"),
              **options: object) -> None:
    make_job(name, computers, **options)
    session = service.wait_session(service.start_job(name), timeout=20)
    assert session.result is SessionResult.SUCCESS
    wait_cell(qtbot, window, name, Column.LAST_RESULT, "Success")


def make_copy_job(service: BackupApi, name: str = "Offsite Copy", source: str = "Nightly",
                  repository: str = "Offsite", **options: object) -> None:
    service.create_job(JobDefinition.model_validate(
        {"name": name, "kind": "backup_copy", "copy_source": source,
         "repository": repository, **options}))


# -- tests -------------------------------------------------------------------------------
def test_a_copy_job_made_in_its_wizard_copies_from_the_ribbon(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory,
        tmp_path: Path) -> None:
    """Depends on the server's copy engine (branch copyjobs) for the last part."""
    service.add_repository(RepositorySpec(name="Primary", url=str(tmp_path / "primary-repo"),
                                          password=SecretStr("primary-password-3")))
    backed_up(qtbot, window, service, make_job, repository="Primary")
    folder = add_target(service, tmp_path)

    choose_from_menu_button(qtbot, window, "Backup Job", "Backup Copy...")
    wizard = open_copy_wizard(qtbot, window)
    assert wizard.windowTitle() == "New Backup Copy Job"
    assert wizard.step_titles() == STEPS
    assert not button(wizard, "Finish").isEnabled()

    retype(qtbot, wizard.name_page.name_edit, "Offsite Copy")
    next_step(qtbot, wizard)
    assert current_step(wizard) == "Source Job"
    assert wizard.source_page.names() == ["Nightly"]
    assert wizard.source_page.source_error.text() == C.NO_SOURCE
    click_source(qtbot, wizard, "Nightly")
    assert wizard.source_page.source_error.text() == ""
    next_step(qtbot, wizard)

    target = wizard.target_page
    qtbot.waitUntil(lambda: target.repositories is not None, timeout=WAIT_MS)
    assert target.repository_error.text() == C.NO_TARGET
    caption = top_of(target.transfer_caption, target)
    type_into_combo(qtbot, target.repository_combo, "Offsite")
    assert target.repository_error.text() == ""
    assert top_of(target.transfer_caption, target) == caption   # the note had its room
    assert target.encryption_note.text().startswith(
        "The two repositories have different keys: each block is decrypted with the key of "
        "'Primary' and sealed again with the key of 'Offsite'.")
    assert "Local folder" in target.repository_details.text()
    next_step(qtbot, wizard)

    retention = wizard.retention_page
    retype(qtbot, retention.retain_spin, "3")
    retype(qtbot, retention.gfs_spins["weekly"], "2")
    next_step(qtbot, wizard)
    assert current_step(wizard) == "Schedule"
    next_step(qtbot, wizard)
    summary = wizard.summary_page.text()
    assert "Source job:\nNightly (2 computers, in Primary)\n" in summary
    assert "Target repository:\nOffsite\n" in summary
    click_button(qtbot, wizard, "Finish")
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)

    wait_cell(qtbot, window, "Offsite Copy", Column.TYPE, "Backup Copy")
    assert cell(window, "Offsite Copy", Column.TARGET) == "Offsite"
    saved = service.get_job("Offsite Copy").definition
    assert (saved.kind, saved.copy_source, saved.repository, saved.retain_points,
            saved.gfs.keep_weekly) == ("backup_copy", "Nightly", "Offsite", 3, 2)

    # Start on the ribbon's Job tab: a Copy session, then its Statistics
    click_row(qtbot, window, "Offsite Copy")
    assert not ribbon_button(window, "Active Full").isEnabled()
    click_ribbon(qtbot, window, "Start")
    wait_cell(qtbot, window, "Offsite Copy", Column.LAST_RESULT, "Success", timeout=20_000)
    click_ribbon(qtbot, window, "Statistics")
    stats = window.statistics_dialog
    assert stats is not None
    qtbot.waitUntil(lambda: stats.session is not None and not stats.session.state.is_active,
                    timeout=WAIT_MS)
    assert stats.session is not None and stats.session.type is SessionType.COPY
    rows = {stats.computers.topLevelItem(i).text(0): stats.computers.topLevelItem(i).text(7)
            for i in range(1, stats.computers.topLevelItemCount())}
    assert rows == {"pc1": "1 point copied", "pc2": "1 point copied"}
    stats.close()

    # Backups > Disk: the copy job's own points, per computer, kept in the target
    tree = window.inventory.tree
    item = window.inventory.item("Backups/Disk")
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualItemRect(item).center())
    model = window.backups_model
    qtbot.waitUntil(lambda: model.findItems("Offsite Copy") != [], timeout=WAIT_MS)
    job_row = model.findItems("Offsite Copy")[0]
    assert model.item(job_row.row(), 1).text() == "Backup copy"
    computers = {job_row.child(i, 0).text(): job_row.child(i, 0).rowCount()
                 for i in range(job_row.rowCount())}
    assert computers == {"pc1": 1, "pc2": 1}
    point = job_row.child(0, 0).child(0, 0).data(NODE_ROLE).point
    assert point.repository == "Offsite"
    copies = service.list_points("Offsite Copy")
    assert {p.repository for p in copies} == {"Offsite"}
    with Repository.open(folder, password=TARGET_PASSWORD) as repo:   # on disk, in the target
        assert set(repo.point_ids()) == {p.id for p in copies}


def test_stop_immediately_on_a_copy_job_keeps_the_copied_computer(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory, gate,
        tmp_path: Path) -> None:
    """Depends on the server's copy engine (branch copyjobs)."""
    backed_up(qtbot, window, service, make_job, computers=("pc1", "pc2", "pc3"))
    add_target(service, tmp_path)
    make_copy_job(service, task_slots=1)
    wait_cell(qtbot, window, "Offsite Copy", Column.TYPE, "Backup Copy")
    start_held(qtbot, service, gate, "Offsite Copy", "pc2")
    wait_cell(qtbot, window, "Offsite Copy", Column.STATUS, lambda t: t.startswith("Working"))

    click_row(qtbot, window, "Offsite Copy")
    click_ribbon(qtbot, window, "Stop")
    dialog = window.stop_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.immediately.points.text() == "pc1", timeout=WAIT_MS)
    click_button(qtbot, dialog, "Immediately")
    wait_cell(qtbot, window, "Offsite Copy", Column.LAST_RESULT, "Failed")
    wait_cell(qtbot, window, "Offsite Copy", Column.STATUS, "Idle")
    assert {p.computer for p in service.list_points("Offsite Copy")} == {"pc1"}

    # History > Backup Copy: the Copy session, stopped by the operator
    view = open_history(qtbot, window)
    window.history_inventory.select("All Sessions/Backup Copy")
    qtbot.waitUntil(lambda: [(r.job, r.type) for r in rows(view)] ==
                    [("Offsite Copy", SessionType.COPY)] and settled(window), timeout=WAIT_MS)
    row = window.history_model.row_of(rows(view)[0].id)
    assert row is not None
    assert window.history_model.index(row, SessionColumn.STOPPED).data() == \
        "Stopped by user (immediately)"


def test_the_copy_wizard_checks_source_and_target_in_reserved_room(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory,
        tmp_path: Path) -> None:
    make_job("Nightly", ("pc1",))
    add_target(service, tmp_path)
    make_copy_job(service, name="Existing Copy")
    qtbot.waitUntil(lambda: window.model.row_of("Existing Copy") is not None)

    choose_from_menu_button(qtbot, window, "Backup Job", "Backup Copy...")
    wizard = open_copy_wizard(qtbot, window)
    name = wizard.name_page
    below = top_of(name.description_edit, name)
    retype(qtbot, name.name_edit, "existing copy")
    assert name.name_error.text() == "A job named 'existing copy' already exists. " \
        "Choose another name."
    assert top_of(name.description_edit, name) == below      # the room was kept
    retype(qtbot, name.name_edit, "Second Copy")
    assert name.name_error.text() == ""
    next_step(qtbot, wizard)

    source = wizard.source_page
    assert source.names() == ["Nightly"]                      # never a copy job
    caption = top_of(source.details, source)
    click_source(qtbot, wizard, "Nightly")
    assert top_of(source.details, source) == caption
    next_step(qtbot, wizard)

    target = wizard.target_page
    qtbot.waitUntil(lambda: target.repositories is not None, timeout=WAIT_MS)
    note = top_of(target.encryption_note, target)
    caption = top_of(target.transfer_caption, target)
    type_into_combo(qtbot, target.repository_combo, "Default Backup Repository")
    assert target.repository_error.text() == (
        "This is the repository of the source job 'Nightly'. Choose another one: a copy in "
        "the same repository is lost with it.")
    assert top_of(target.encryption_note, target) == note
    assert target.encryption_note.text() == ""     # the same repository: nothing to say
    assert not button(wizard, "Finish").isEnabled()
    assert wizard.step_list.item(STEPS.index("Target")).toolTip() != ""
    type_into_combo(qtbot, target.repository_combo, "Offsite")
    assert target.repository_error.text() == ""
    assert target.encryption_note.text().startswith("The copies are encrypted with the key")
    assert top_of(target.encryption_note, target) == note
    assert top_of(target.transfer_caption, target) == caption   # the note's room was kept
    assert button(wizard, "Finish").isEnabled()

    retention = wizard.retention_page
    wizard.go_to_step("Retention")
    retype(qtbot, retention.retain_spin, "0")
    assert retention.retain_error.text() == "Keep at least 1 restore point."
    assert not button(wizard, "Finish").isEnabled()
    wizard.go_to_step("Summary")
    assert "Retention: Keep at least 1 restore point." in wizard.summary_page.problems.text()
    wizard.go_to_step("Retention")
    retype(qtbot, retention.retain_spin, "4")
    assert button(wizard, "Finish").isEnabled()


def test_cancel_asks_once_the_copy_wizard_is_half_filled(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory) -> None:
    make_job("Nightly", ("pc1",))
    qtbot.waitUntil(lambda: window.model.row_of("Nightly") is not None)

    # nothing entered: Cancel closes at once
    choose_from_menu_button(qtbot, window, "Backup Job", "Backup Copy...")
    wizard = open_copy_wizard(qtbot, window)
    qtbot.waitUntil(lambda: wizard.target_page.repositories is not None, timeout=WAIT_MS)
    click_button(qtbot, wizard, "Cancel")
    assert wizard.discard_question is None
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)

    # half filled: Cancel asks; "Cancel" in the question goes back, "Discard" closes
    choose_from_menu_button(qtbot, window, "Backup Job", "Backup Copy...")
    wizard = open_copy_wizard(qtbot, window)
    retype(qtbot, wizard.name_page.name_edit, "Half Done")
    next_step(qtbot, wizard)
    click_source(qtbot, wizard, "Nightly")
    click_button(qtbot, wizard, "Cancel")
    question = wizard.discard_question
    assert isinstance(question, QMessageBox) and question.isVisible()
    assert question.text() == "Discard the new backup copy job?"
    qtbot.mouseClick(question.button(QMessageBox.StandardButton.Cancel),
                     Qt.MouseButton.LeftButton)
    assert wizard.isVisible() and window.job_wizard is wizard
    assert wizard.source_page.chosen() == "Nightly"
    qtbot.keyClick(wizard, Qt.Key.Key_Escape)                 # Esc asks too
    question = wizard.discard_question
    assert isinstance(question, QMessageBox) and question.isVisible()
    qtbot.mouseClick(question.button(QMessageBox.StandardButton.Discard),
                     Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)
    assert [job.name for job in service.list_jobs()] == ["Nightly"]


def test_edit_opens_the_copy_wizard_and_saves(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory,
        tmp_path: Path) -> None:
    make_job("Nightly", ("pc1",))
    add_target(service, tmp_path)
    make_copy_job(service, retain_points=5, description="To the second disk")
    wait_cell(qtbot, window, "Offsite Copy", Column.TYPE, "Backup Copy")
    assert cell(window, "Offsite Copy", Column.OBJECTS) == "1 job"
    window.inventory.select("Jobs/Backup Copy")
    assert visible_jobs(window) == {"Offsite Copy"}
    window.inventory.select("Jobs/Backup")
    assert visible_jobs(window) == {"Nightly"}
    window.inventory.select("Jobs")

    click_row(qtbot, window, "Offsite Copy")
    click_ribbon(qtbot, window, "Edit")
    wizard = open_copy_wizard(qtbot, window)
    assert wizard.windowTitle() == "Edit Backup Copy Job [Offsite Copy]"
    assert wizard.name_page.description_edit.text() == "To the second disk"
    assert wizard.source_page.chosen() == "Nightly"
    selected = wizard.source_page.jobs_tree.currentItem()
    assert selected is not None and selected.text(0) == "Nightly"
    qtbot.waitUntil(lambda: wizard.target_page.repositories is not None, timeout=WAIT_MS)
    assert wizard.target_page.chosen() == "Offsite"
    assert wizard.retention_page.retain_spin.value() == 5
    wizard.go_to_step("Retention")
    retype(qtbot, wizard.retention_page.retain_spin, "9")
    wizard.go_to_step("Summary")
    click_button(qtbot, wizard, "Finish")
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)
    saved = service.get_job("Offsite Copy").definition
    assert (saved.kind, saved.copy_source, saved.retain_points) == ("backup_copy", "Nightly", 9)


def test_the_copy_wizard_sets_a_health_check_and_editing_keeps_it(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory,
        tmp_path: Path) -> None:
    """Issue 21: the copy wizard's Retention step has the backup wizard's Health
    check section (job set --health-check-weekly/--health-check-monthly)."""
    make_job("Nightly", ("pc1",))
    add_target(service, tmp_path)
    wait_cell(qtbot, window, "Nightly", Column.TYPE, lambda text: text != "")
    choose_from_menu_button(qtbot, window, "Backup Job", "Backup Copy...")
    wizard = open_copy_wizard(qtbot, window)
    retype(qtbot, wizard.name_page.name_edit, "Offsite Copy")
    next_step(qtbot, wizard)
    click_source(qtbot, wizard, "Nightly")
    next_step(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.target_page.repositories is not None, timeout=WAIT_MS)
    type_into_combo(qtbot, wizard.target_page.repository_combo, "Offsite")
    next_step(qtbot, wizard)
    assert current_step(wizard) == "Retention"
    health = wizard.retention_page.health
    assert not health.health_check.isChecked() and not health.health_days.isEnabled()
    health.health_check.click()
    health.health_monthly_radio.click()
    assert health.health_day_spin.isEnabled() and not health.health_days.isEnabled()
    retype(qtbot, health.health_day_spin, "15")
    health.health_mode_combo.setCurrentIndex(health.health_mode_combo.findData("light"))
    next_step(qtbot, wizard)
    next_step(qtbot, wizard)
    assert "Health check:\nMonthly on day 15" in wizard.summary_page.text()
    click_button(qtbot, wizard, "Finish")
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)
    check = service.get_job("Offsite Copy").definition.health_check
    assert check is not None
    assert (check.kind.value, check.day_of_month, check.last_day, check.mode.value) == (
        "monthly", 15, False, "light")

    # Edit: the section shows the check, and saving another edit keeps it
    wait_cell(qtbot, window, "Offsite Copy", Column.TYPE, "Backup Copy")
    click_row(qtbot, window, "Offsite Copy")
    click_ribbon(qtbot, window, "Edit")
    wizard = open_copy_wizard(qtbot, window)
    health = wizard.retention_page.health
    assert health.health_check.isChecked() and health.health_monthly_radio.isChecked()
    assert health.health_day_spin.value() == 15
    assert health.health_mode_combo.currentData() == "light"
    wizard.go_to_step("Retention")
    retype(qtbot, wizard.retention_page.retain_spin, "4")
    wizard.go_to_step("Summary")
    click_button(qtbot, wizard, "Finish")
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)
    saved = service.get_job("Offsite Copy").definition
    assert saved.retain_points == 4 and saved.health_check == check

    # ... and turning it off in the wizard is --no-health-check
    click_row(qtbot, window, "Offsite Copy")
    click_ribbon(qtbot, window, "Edit")
    wizard = open_copy_wizard(qtbot, window)
    wizard.go_to_step("Retention")
    wizard.retention_page.health.health_check.click()
    wizard.go_to_step("Summary")
    click_button(qtbot, wizard, "Finish")
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)
    assert service.get_job("Offsite Copy").definition.health_check is None


def test_the_jobs_list_offers_both_kinds_off_the_rows(
        qtbot: QtBot, window: MainWindow, make_job: JobFactory) -> None:
    make_job("Nightly", ("pc1",))
    qtbot.waitUntil(lambda: window.model.row_of("Nightly") is not None)
    table = window.jobs_view.table
    viewport = table.viewport()
    below = viewport.rect().bottomLeft() + QPoint(20, -10)   # under the last row
    assert not table.indexAt(below).isValid()
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, below, viewport.mapToGlobal(below))
    QApplication.sendEvent(viewport, event)
    menu = window.jobs_view.context_menu
    assert menu is not None
    qtbot.waitUntil(menu.isVisible)
    assert [a.text() for a in menu.actions()] == ["Backup...", "Backup Copy..."]
    action = menu.actions()[1]
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())
    wizard = open_copy_wizard(qtbot, window)
    assert wizard.source_page.names() == ["Nightly"]
    click_button(qtbot, wizard, "Cancel")
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)
