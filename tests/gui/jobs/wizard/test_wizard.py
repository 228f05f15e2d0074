"""The New Agent Backup Job wizard, Edit and Clone: every job setting is
reachable from the console, and what it saves is what the CLI shows."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTime
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from core.cli import main as agent_jobs
from core.models import ActiveFullKind, JobStatus, utcnow
from core.scheduling.schedule import Schedule, ScheduleKind, Weekday
from tests.support.gate import TaskGate
from gui.widgets.formatting import datetime_text
from gui.jobs.jobs_model import Column
from gui.shell.main_window import MainWindow

from tests.gui.conftest import JobFactory, write_tree
from tests.gui.helpers import (
    WAIT_MS, button, cell, click_button, click_ribbon, click_row, start_held, visible_jobs,
    wait_cell,
)
from tests.gui.wizard_steps import (
    add_computer, click_step, current_step, finish, next_step, open_wizard, retype,
    wait_checked,
)


def cli_json(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> object:
    capsys.readouterr()
    code = agent_jobs(["--data-dir", str(data_dir), *args, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_create_a_job_from_the_empty_console_to_finish(
        qtbot: QtBot, window: MainWindow, service: BackupApi, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # A new user sees how to start, not an empty list.
    view = window.jobs_view
    assert view.showing_empty and view.empty.isVisible()
    click_button(qtbot, view.empty, "Backup Job")
    wizard = open_wizard(qtbot, window)
    assert wizard.windowTitle() == "New Agent Backup Job"
    assert wizard.step_titles() == ["Name", "Computers", "Backup Mode", "Storage",
                                    "Schedule", "Notifications", "Summary"]
    assert current_step(wizard) == "Name"
    assert not button(wizard, "Finish").isEnabled()

    # Name
    retype(qtbot, wizard.name_page.name_edit, "Nightly Files")
    retype(qtbot, wizard.name_page.description_edit, "Home folders of the office")
    next_step(qtbot, wizard)

    # Computers: two, then the second moved up.
    assert current_step(wizard) == "Computers"
    assert wizard.computers_page.error.text() == "Add at least one computer."
    add_computer(qtbot, wizard, str(write_tree(tmp_path / "pcs" / "office-pc", files=4)))
    add_computer(qtbot, wizard, str(write_tree(tmp_path / "pcs" / "laptop", files=2)), "lap1")
    assert wizard.computers_page.names() == ["office-pc", "lap1"]   # named after the folder
    click_button(qtbot, wizard.computers_page, "Up")
    assert wizard.computers_page.names() == ["lap1", "office-pc"]
    assert wizard.computers_page.error.text() == ""
    next_step(qtbot, wizard)

    # Backup Mode: what would be read, counted by the server.
    assert current_step(wizard) == "Backup Mode"
    wait_checked(qtbot, wizard)
    assert wizard.mode_page.preview_total.text().startswith("6 files, 6.0 KB on 2 computers")
    qtbot.keyClicks(wizard.mode_page.masks.edit, "*_00.txt")
    click_button(qtbot, wizard.mode_page.masks, "Add")
    wait_checked(qtbot, wizard)
    assert wizard.mode_page.preview_total.text().startswith("4 files, 4.0 KB on 2 computers")
    next_step(qtbot, wizard)

    # Storage
    assert current_step(wizard) == "Storage"
    retype(qtbot, wizard.storage_page.retain_spin, "5")
    wizard.storage_page.active_full_check.click()
    assert wizard.storage_page.full_days.days() == (Weekday.SAT,)
    next_step(qtbot, wizard)

    # Schedule: daily at 23:30 on weekdays; the next three runs follow as I edit.
    page = wizard.schedule_page
    assert current_step(wizard) == "Schedule"
    assert page.next_runs.text().startswith("Not scheduled")
    page.auto_check.click()
    page.daily_time.setTime(QTime(23, 30))
    page.daily_kind.setCurrentIndex(1)   # On weekdays
    expected = Schedule(kind=ScheduleKind.DAILY, at="23:30",
                        days=(Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU,
                              Weekday.FRI)).next_runs(utcnow(), 3)
    shown = page.next_runs.text().split("   ")
    assert shown == [run.astimezone().strftime("%a %Y-%m-%d %H:%M") for run in expected]
    assert page.retries_spin.value() == 3 and page.retry_wait_spin.value() == 10
    next_step(qtbot, wizard)

    # Notifications: warning and failure by default; only after the last retry,
    # to one more address (a wrong one is said next to the field), an RPO of 30 h.
    notes = wizard.notifications_page
    assert current_step(wizard) == "Notifications"
    assert [box.isChecked() for box in notes.result_checks.values()] == [True, True, False]
    notes.last_retry_check.click()
    qtbot.keyClicks(notes.to_edit, "boss")
    assert notes.to_error.text() == ("'boss' is not an e-mail address: write it as "
                                     "name@example.com.")
    assert not button(wizard, "Finish").isEnabled()
    qtbot.keyClicks(notes.to_edit, "@example.test")
    assert notes.to_error.text() == ""
    notes.rpo_check.click()
    retype(qtbot, notes.rpo_spin, "30")
    next_step(qtbot, wizard)

    # Summary
    assert current_step(wizard) == "Summary"
    summary = wizard.summary_page.text()
    for words in ("Nightly Files", "lap1", "office-pc", "*_00.txt", "Keep 5 restore points",
                  "Weekly on Sat", "Daily at 23:30 on weekdays, retry 3 times every 10 min",
                  "On warning, failure, after the last retry only; also to boss@example.test; "
                  "alert when a computer has no new restore point for 30 h"):
        assert words in summary
    wizard.summary_page.run_check.click()
    finish(qtbot, wizard)

    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: [j.name for j in window.jobs_view.selected_jobs()]
                    == ["Nightly Files"], timeout=WAIT_MS)
    assert not view.showing_empty
    wait_cell(qtbot, window, "Nightly Files", Column.LAST_RESULT, "Success")   # it ran
    assert cell(window, "Nightly Files", Column.NEXT_RUN) == datetime_text(expected[0])

    (listed,) = cli_json(capsys, service.data_dir, "job", "list")
    assert listed["name"] == "Nightly Files" and listed["computers"] == ["lap1", "office-pc"]
    assert listed["retain_points"] == 5
    assert listed["schedule"] == "Daily at 23:30 on weekdays, retry 3 times every 10 min"
    shown = cli_json(capsys, service.data_dir, "job", "show", "Nightly Files")
    assert shown["definition"]["scope"] == {"include": [], "exclude": ["*_00.txt"]}
    assert shown["definition"]["active_full"]["kind"] == "weekly"
    assert shown["definition"]["notify"] == {"on": ["warning", "failure"],
                                             "last_retry_only": True,
                                             "to": ["boss@example.test"], "rpo_hours": 30}
    assert shown["description"] == "Home folders of the office"


def _new_wizard(qtbot: QtBot, window: MainWindow):
    click_ribbon(qtbot, window, "Backup Job")
    return open_wizard(qtbot, window)


def test_each_validation_error_in_plain_words(qtbot: QtBot, window: MainWindow,
                                              make_job: JobFactory, tmp_path: Path) -> None:
    make_job("Existing", ("e1",))
    qtbot.waitUntil(lambda: window.model.row_of("Existing") is not None)
    wizard = _new_wizard(qtbot, window)
    finish_button = button(wizard, "Finish")
    name = wizard.name_page

    retype(qtbot, name.name_edit, "")
    assert name.name_error.text() == "Type in a name for the job."
    retype(qtbot, name.name_edit, "existing")
    assert name.name_error.text() == "A job named 'existing' already exists. Choose another name."
    retype(qtbot, name.name_edit, "a/b")
    assert name.name_error.text().startswith("Invalid job name: use 1 to 64 printable")
    retype(qtbot, name.name_edit, "Checked")
    assert name.name_error.text() == ""

    click_step(qtbot, wizard, "Computers")   # not reachable yet: not seen
    assert current_step(wizard) == "Name"
    next_step(qtbot, wizard)
    assert wizard.computers_page.error.text() == "Add at least one computer."
    assert not finish_button.isEnabled()
    add_computer(qtbot, wizard, str(tmp_path / "no-such-folder"), "ghost")
    wait_checked(qtbot, wizard)   # the server's agent looks for the folder
    qtbot.waitUntil(lambda: "does not exist" in wizard.computers_page.error.text())
    assert wizard.computers_page.error.text() == (
        f"Computer 'ghost': path {tmp_path / 'no-such-folder'} does not exist. Check the "
        "computer's path in the job settings.")
    assert not finish_button.isEnabled()
    wizard.computers_page.remove()
    add_computer(qtbot, wizard, str(write_tree(tmp_path / "real")), "real")
    wait_checked(qtbot, wizard)
    assert wizard.computers_page.error.text() == ""
    assert finish_button.isEnabled()   # the defaults make a valid job

    next_step(qtbot, wizard)
    mode = wizard.mode_page
    mode.folders_radio.click()
    assert mode.scope_error.text() == "Add at least one folder, or back up the entire computer."
    assert not finish_button.isEnabled()
    qtbot.keyClicks(mode.folders.edit, "docs")
    click_button(qtbot, mode.folders, "Add")
    assert mode.scope_error.text() == ""
    wait_checked(qtbot, wizard)
    assert mode.preview_total.text().startswith("1 files")

    next_step(qtbot, wizard)
    storage = wizard.storage_page
    retype(qtbot, storage.retain_spin, "0")
    assert storage.retain_error.text() == "Keep at least 1 restore point."
    assert not finish_button.isEnabled()
    retype(qtbot, storage.retain_spin, "3")
    assert storage.retain_error.text() == ""
    storage.throttle_check.click()
    retype(qtbot, storage.throttle_spin, "0")
    assert storage.throttle_error.text().startswith("The read rate limit must be ")
    storage.throttle_check.click()
    assert storage.throttle_error.text() == ""
    storage.active_full_check.click()
    storage.full_days.boxes[Weekday.SAT].click()
    assert storage.active_full_error.text() == "Choose at least one day for the active full."
    storage.monthly_radio.click()
    assert storage.active_full_error.text() == ""

    next_step(qtbot, wizard)
    schedule = wizard.schedule_page
    schedule.auto_check.click()
    schedule.daily_kind.setCurrentIndex(2)   # On these days:
    for box in schedule.daily_days.boxes.values():
        if box.isChecked():
            box.click()
    assert schedule.schedule_error.text() == "Choose at least one day."
    assert schedule.next_runs.text() == ""
    schedule.daily_days.boxes[Weekday.TUE].click()
    assert schedule.schedule_error.text() == ""
    schedule.window_check.click()
    schedule.window_end.setTime(QTime(22, 0))   # the window opens at 22:00 too
    assert schedule.window_error.text() == \
        "The backup window must end at another time than it starts."
    assert not finish_button.isEnabled()
    # The steps with something to fix are marked in the list, and the summary says what.
    assert wizard._problems == {wizard.step_titles().index("Schedule")}
    click_step(qtbot, wizard, "Summary")
    assert "Schedule: The backup window must end" in wizard.summary_page.problems.text()
    click_step(qtbot, wizard, "Schedule")
    schedule.window_end.setTime(QTime(6, 0))
    assert schedule.window_error.text() == "" and finish_button.isEnabled()
    click_button(qtbot, wizard, "Cancel")   # something was entered: asked first
    qtbot.waitUntil(lambda: wizard.discard_question is not None
                    and wizard.discard_question.isVisible())
    assert wizard.discard_question is not None
    qtbot.mouseClick(wizard.discard_question.button(QMessageBox.StandardButton.Discard),
                     Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.job_wizard is None)


def test_edit_a_schedule_and_see_next_run_change(qtbot: QtBot, window: MainWindow,
                                                 service: BackupApi,
                                                 make_job: JobFactory) -> None:
    make_job("Edit Me", ("m1",))
    wait_cell(qtbot, window, "Edit Me", Column.NEXT_RUN, "<not scheduled>")
    click_row(qtbot, window, "Edit Me")
    qtbot.keyClick(window.jobs_view.table, Qt.Key.Key_Return)   # Enter edits
    wizard = open_wizard(qtbot, window)
    assert wizard.windowTitle() == "Edit Agent Backup Job [Edit Me]"
    assert wizard.name_page.name_edit.text() == "Edit Me"
    assert wizard.computers_page.names() == ["m1"]
    assert button(wizard, "Finish").isEnabled()

    click_step(qtbot, wizard, "Schedule")   # every step is reachable when editing
    page = wizard.schedule_page
    page.auto_check.click()
    page.periodic_radio.click()
    retype(qtbot, page.every_spin, "2")
    assert page.every_unit.currentText() == "Hours"
    page.window_check.click()   # 22:00-06:00, and a job still running then is terminated
    page.window_stop.setCurrentIndex(1)
    finish(qtbot, wizard)
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)

    definition = service.get_job("Edit Me").definition
    assert definition.schedule is not None and definition.schedule.every_minutes == 120
    window_ = definition.schedule.window
    assert window_ is not None and (window_.start, window_.end) == ("22:00", "06:00")
    assert window_.terminate
    wait_cell(qtbot, window, "Edit Me", Column.NEXT_RUN, lambda t: t != "<not scheduled>")
    next_run = datetime.strptime(cell(window, "Edit Me", Column.NEXT_RUN), "%Y-%m-%d %H:%M")
    assert next_run.minute == 0 and next_run.hour % 2 == 0

    # Double-click edits too; the wizard shows what was saved.
    qtbot.mouseDClick(window.jobs_view.table.viewport(), Qt.MouseButton.LeftButton,
                      pos=window.jobs_view.table.visualRect(
                          window.jobs_view.proxy_index_of("Edit Me")).center())
    wizard = open_wizard(qtbot, window)
    assert wizard.schedule_page.periodic_radio.isChecked()
    assert wizard.schedule_page.every_spin.value() == 2
    assert wizard.schedule_page.window_stop.currentIndex() == 1
    click_step(qtbot, wizard, "Schedule")
    wizard.schedule_page.auto_check.click()   # back to manual runs
    finish(qtbot, wizard)
    wait_cell(qtbot, window, "Edit Me", Column.NEXT_RUN, "<not scheduled>")


def test_the_window_can_pause_a_job_at_close(qtbot: QtBot, window: MainWindow,
                                            service: BackupApi,
                                            make_job: JobFactory) -> None:
    """The Schedule step's third choice: pause at the window's close, resume at its
    opening (issue 25); kept when the job is edited again."""
    make_job("Pausing", ("m1",))
    wait_cell(qtbot, window, "Pausing", Column.NEXT_RUN, "<not scheduled>")
    click_row(qtbot, window, "Pausing")
    qtbot.keyClick(window.jobs_view.table, Qt.Key.Key_Return)
    wizard = open_wizard(qtbot, window)
    click_step(qtbot, wizard, "Schedule")
    page = wizard.schedule_page
    page.auto_check.click()
    page.window_check.click()
    page.window_stop.setCurrentIndex(2)
    assert page.window_stop.currentText() == "Pause it, resume when the window opens"
    finish(qtbot, wizard)
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)
    window_ = service.get_job("Pausing").definition.schedule.window   # type: ignore[union-attr]
    assert window_ is not None and window_.pause and not window_.terminate
    wait_cell(qtbot, window, "Pausing", Column.NEXT_RUN, lambda t: t != "<not scheduled>")
    qtbot.mouseDClick(window.jobs_view.table.viewport(), Qt.MouseButton.LeftButton,
                      pos=window.jobs_view.table.visualRect(
                          window.jobs_view.proxy_index_of("Pausing")).center())
    wizard = open_wizard(qtbot, window)
    assert wizard.schedule_page.window_stop.currentIndex() == 2
    wizard.reject()


def test_edit_while_running_applies_to_the_next_session(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory) -> None:
    make_job("Busy", ("b1", "b2"))
    start_held(qtbot, service, gate, "Busy", "b1")
    wait_cell(qtbot, window, "Busy", Column.STATUS, lambda t: t.startswith("Working"))
    click_row(qtbot, window, "Busy")
    click_ribbon(qtbot, window, "Edit")
    wizard = open_wizard(qtbot, window)
    assert wizard.notice.isVisible() and "next session" in wizard.notice.text()
    assert not wizard.summary_page.run_check.isEnabled()
    retype(qtbot, wizard.name_page.name_edit, "Busy renamed")
    assert wizard.name_page.name_error.text() == "The job is running. Stop it before renaming it."
    assert not button(wizard, "Finish").isEnabled()
    retype(qtbot, wizard.name_page.name_edit, "Busy")
    click_step(qtbot, wizard, "Storage")
    retype(qtbot, wizard.storage_page.retain_spin, "9")
    finish(qtbot, wizard)
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)
    assert service.get_job("Busy").definition.retain_points == 9
    assert service.get_job("Busy").status is JobStatus.WORKING   # the session goes on
    gate.release_all()
    wait_cell(qtbot, window, "Busy", Column.LAST_RESULT, "Success")


def test_a_save_refused_by_the_server_keeps_the_wizard_open(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory,
        tmp_path: Path) -> None:
    wizard = _new_wizard(qtbot, window)
    retype(qtbot, wizard.name_page.name_edit, "Late")
    next_step(qtbot, wizard)
    add_computer(qtbot, wizard, str(write_tree(tmp_path / "late")), "late1")
    wait_checked(qtbot, wizard)
    make_job("Late", ("x1",))   # another client takes the name meanwhile
    finish(qtbot, wizard)
    qtbot.waitUntil(lambda: window.error_box is not None and window.error_box.isVisible())
    box = window.error_box
    assert box is not None and box.parent() is wizard
    assert box.text() == "A job named 'Late' already exists. Choose another name."
    box.close()
    assert window.job_wizard is wizard and wizard.isVisible() and not wizard.busy
    qtbot.waitUntil(lambda: wizard.name_page.name_error.text().startswith(
        "A job named 'Late' already exists"))   # once the list shows the other job
    assert not button(wizard, "Finish").isEnabled()


def test_clone_creates_a_disabled_copy_selects_it_and_says_so(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory) -> None:
    make_job("Source", ("s1", "s2"), retain_points=4,
             schedule=Schedule(kind=ScheduleKind.MONTHLY, last_day=True))
    wait_cell(qtbot, window, "Source", Column.STATUS, "Idle")
    click_row(qtbot, window, "Source")
    click_ribbon(qtbot, window, "Clone")
    qtbot.waitUntil(lambda: [j.name for j in window.jobs_view.selected_jobs()]
                    == ["Source clone"], timeout=WAIT_MS)
    # The clone would back up the same computers at the same time: it is disabled.
    original = service.get_job("Source").definition
    clone = service.get_job("Source clone")
    assert clone.definition == original.model_copy(update={"name": "Source clone",
                                                           "enabled": False})
    assert original.enabled and clone.next_run is None
    wait_cell(qtbot, window, "Source clone", Column.STATUS, "Disabled")
    notice = window.status_bar.notice_label
    assert notice.isVisible() and notice.text() == (
        "Clone 'Source clone' created disabled so that it does not run beside 'Source'; "
        "enable it when ready.")

    click_row(qtbot, window, "Source")
    click_ribbon(qtbot, window, "Clone")
    qtbot.waitUntil(lambda: [j.name for j in window.jobs_view.selected_jobs()]
                    == ["Source clone 2"], timeout=WAIT_MS)
    assert visible_jobs(window) == {"Source", "Source clone", "Source clone 2"}
    assert not service.get_job("Source clone 2").definition.enabled
    qtbot.waitUntil(lambda: "'Source clone 2'" in notice.text())


def test_active_full_settings_round_trip(qtbot: QtBot, window: MainWindow,
                                         service: BackupApi, make_job: JobFactory) -> None:
    make_job("Fulls", ("f1",))
    wait_cell(qtbot, window, "Fulls", Column.STATUS, "Idle")
    click_row(qtbot, window, "Fulls")
    click_ribbon(qtbot, window, "Edit")
    wizard = open_wizard(qtbot, window)
    click_step(qtbot, wizard, "Storage")
    storage = wizard.storage_page
    storage.active_full_check.click()
    storage.monthly_radio.click()
    storage.month_last_check.click()
    finish(qtbot, wizard)
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)
    plan = service.get_job("Fulls").definition.active_full
    assert plan is not None and plan.kind is ActiveFullKind.MONTHLY and plan.last_day

    click_ribbon(qtbot, window, "Edit")
    wizard = open_wizard(qtbot, window)
    assert wizard.storage_page.active_full_check.isChecked()
    assert wizard.storage_page.monthly_radio.isChecked()
    assert wizard.storage_page.month_last_check.isChecked()
    click_button(qtbot, wizard, "Cancel")


def test_computers_browse_edit_remove_and_order(qtbot: QtBot, window: MainWindow,
                                                tmp_path: Path) -> None:
    wizard = _new_wizard(qtbot, window)
    next_step(qtbot, wizard)
    page = wizard.computers_page
    for name in ("c-a", "c-b", "c-c"):
        add_computer(qtbot, wizard, str(write_tree(tmp_path / name)))
    assert page.names() == ["c-a", "c-b", "c-c"]

    # Browse chooses the folder in a file window; the name follows the folder.
    click_button(qtbot, page, "Add...")
    dialog = page.computer_dialog
    assert dialog is not None
    click_button(qtbot, dialog, "Browse...")
    files = dialog.file_dialog
    assert files is not None and files.isVisible()
    chosen = write_tree(tmp_path / "web 01")
    files.fileSelected.emit(str(chosen))
    files.reject()
    assert dialog.folder_edit.text() == str(chosen) and dialog.name_edit.text() == "web-01"
    retype(qtbot, dialog.name_edit, "c-a")   # taken
    assert dialog.name_error.text() == "The job already has a computer named 'c-a'."
    assert not dialog.ok_button.isEnabled()
    retype(qtbot, dialog.name_edit, "web01")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert page.names() == ["c-a", "c-b", "c-c", "web01"]

    # Edit (double-click) renames; Remove and Down reorder.
    first = page.table.topLevelItem(0)
    assert first is not None
    page.table.setCurrentItem(first)
    click_button(qtbot, page, "Edit...")
    dialog = page.computer_dialog
    assert dialog is not None and dialog.windowTitle() == "Edit Computer"
    assert dialog.folder_edit.text() == str(tmp_path / "c-a")
    retype(qtbot, dialog.name_edit, "c-first")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    click_button(qtbot, page, "Down")
    assert page.names() == ["c-b", "c-first", "c-c", "web01"]
    click_button(qtbot, page, "Remove")
    assert page.names() == ["c-b", "c-c", "web01"]
    wait_checked(qtbot, wizard)
    assert wizard.computers_page.error.text() == ""
    click_button(qtbot, wizard, "Cancel")


def test_a_saved_job_hidden_by_the_filters_is_shown_and_selected(
        qtbot: QtBot, window: MainWindow, make_job: JobFactory) -> None:
    """After Finish or Clone the console selects the job, even if the search
    text or the inventory node would hide it."""
    make_job("Other", ("o1",))
    wait_cell(qtbot, window, "Other", Column.STATUS, "Idle")
    window.inventory.select("Last 24 Hours/Running")   # nothing runs: an empty list
    qtbot.keyClicks(window.jobs_view.search, "Hid")
    assert visible_jobs(window) == set()
    window.reveal_job("Other")
    assert window.jobs_view.search.text() == "" and window.inventory.scope.value == "all"
    assert [j.name for j in window.jobs_view.selected_jobs()] == ["Other"]


def test_health_check_settings_round_trip(qtbot: QtBot, window: MainWindow,
                                          service: BackupApi, make_job: JobFactory,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    make_job("Checked", ("c1",))
    wait_cell(qtbot, window, "Checked", Column.STATUS, "Idle")
    click_row(qtbot, window, "Checked")
    click_ribbon(qtbot, window, "Edit")
    wizard = open_wizard(qtbot, window)
    click_step(qtbot, wizard, "Storage")
    storage = wizard.storage_page
    assert not storage.health_days.isEnabled()
    storage.health_check.click()
    storage.health_days.boxes[Weekday.WED].click()
    storage.health_days.boxes[Weekday.SUN].click()       # Wed only
    storage.health_mode_combo.setCurrentIndex(storage.health_mode_combo.findData("light"))
    finish(qtbot, wizard)
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)
    shown = cli_json(capsys, service.data_dir, "job", "show", "Checked")
    check = shown["definition"]["health_check"]
    assert (check["kind"], check["days"], check["mode"]) == ("weekly", ["wed"], "light")

    click_ribbon(qtbot, window, "Edit")
    wizard = open_wizard(qtbot, window)
    click_step(qtbot, wizard, "Storage")
    storage = wizard.storage_page
    assert storage.health_check.isChecked()
    assert storage.health_days.days() == (Weekday.WED,)
    assert storage.health_mode_combo.currentData() == "light"
    storage.health_monthly_radio.click()
    storage.health_last_check.click()
    storage.health_mode_combo.setCurrentIndex(0)          # automatic
    finish(qtbot, wizard)
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)
    plan = service.get_job("Checked").definition.health_check
    assert plan is not None and plan.kind is ActiveFullKind.MONTHLY and plan.last_day
    assert plan.mode is None


def test_gfs_fields_and_the_retention_preview_of_the_edited_job(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory,
        capsys: pytest.CaptureFixture[str]) -> None:
    make_job("Keeper", ("k1",), retain_points=5)
    for _ in range(3):
        service.wait_session(service.start_job("Keeper"), timeout=20)
    wait_cell(qtbot, window, "Keeper", Column.LAST_RESULT, "Success")
    click_row(qtbot, window, "Keeper")
    click_ribbon(qtbot, window, "Edit")
    wizard = open_wizard(qtbot, window)
    click_step(qtbot, wizard, "Storage")
    storage = wizard.storage_page
    assert [storage.gfs_spins[p].value() for p in ("daily", "weekly", "monthly", "yearly")] \
        == [0, 0, 0, 0]
    tree = storage.retention_tree
    qtbot.waitUntil(lambda: tree.topLevelItemCount() == 3, timeout=WAIT_MS)
    assert storage.retention_summary.text() == (
        "With these settings 3 of the job's 3 restore points are kept; none would be removed.")
    retype(qtbot, storage.retain_spin, "1")
    retype(qtbot, storage.gfs_spins["weekly"], "4")
    retype(qtbot, storage.gfs_spins["yearly"], "2")
    assert storage.retention_summary.text() == (
        "With these settings 1 of the job's 3 restore points are kept; 2 would be removed by "
        "the next backup.")
    rows = [[tree.topLevelItem(i).text(c) for c in range(3)] for i in range(3)]
    assert rows[0][0] == "k1" and rows[0][2].startswith("last 1, weekly ")
    assert ", yearly " in rows[0][2]
    assert [r[2] for r in rows[1:]] == ["Removed by the next backup"] * 2
    finish(qtbot, wizard)
    qtbot.waitUntil(lambda: window.job_wizard is None, timeout=WAIT_MS)
    shown = cli_json(capsys, service.data_dir, "job", "show", "Keeper")
    assert isinstance(shown, dict)
    assert shown["definition"]["retain_points"] == 1
    assert shown["definition"]["gfs"] == {"keep_daily": 0, "keep_weekly": 4, "keep_monthly": 0,
                                          "keep_yearly": 2}
    # asking removed nothing; the wizard shows the saved numbers again
    assert len(service.list_points("Keeper")) == 3
    click_ribbon(qtbot, window, "Edit")
    wizard = open_wizard(qtbot, window)
    assert wizard.storage_page.gfs_spins["weekly"].value() == 4
    click_button(qtbot, wizard, "Cancel")
