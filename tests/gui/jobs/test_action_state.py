"""The ribbon's contextual Job tab and the enabled state of the shared actions."""
from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.models import StopMode
from core.api import BackupApi
from tests.support.gate import TaskGate
from gui.jobs.jobs_model import Column
from gui.shell.main_window import MainWindow

from tests.gui.conftest import JobFactory
from tests.gui.helpers import (
    click_row, menu_action, ribbon_button, right_click_row, start_held, wait_cell,
)

JOB_TAB_BUTTONS = ["Start", "Stop", "Pause", "Retry", "Active Full", "Edit",
                   "Clone", "Disable", "Delete", "Statistics"]


def _enabled(window: MainWindow) -> dict[str, bool]:
    return {text: ribbon_button(window, text).isEnabled()
            for text in ["Start", "Stop", "Retry", "Active Full", "Delete", "Statistics"]}


def _manage(window: MainWindow) -> dict[str, bool]:
    return {text: ribbon_button(window, text).isEnabled() for text in ["Edit", "Clone"]}


def test_job_tab_appears_and_becomes_current(qtbot: QtBot, window: MainWindow,
                                             make_job: JobFactory) -> None:
    make_job("Alpha", ("a1",))
    wait_cell(qtbot, window, "Alpha", Column.STATUS, "Idle")
    ribbon = window.ribbon
    job_tab = ribbon.indexOf(window.job_page)
    assert not ribbon.isTabVisible(job_tab)
    assert ribbon.contextual_header(window.job_page) is None
    assert ribbon.tabText(ribbon.currentIndex()) == "Home"
    assert [b.text() for b in window.home_page.groups[0].buttons] == ["Backup Job"]
    assert ribbon_button(window, "Backup Job").isEnabled()

    click_row(qtbot, window, "Alpha")
    assert ribbon.isTabVisible(job_tab)
    assert ribbon.currentIndex() == job_tab
    assert ribbon.contextual_header(window.job_page) == "Job Tools"
    groups = {g.title: [b.text() for b in g.buttons] for g in window.job_page.groups}
    assert groups == {"Job Control": ["Start", "Stop", "Pause", "Resume", "Retry",
                                      "Active Full"],
                      "Manage Job": ["Edit", "Clone", "Disable", "Delete"],
                      "Details": ["Statistics"]}
    assert [b.text() for b in window.ribbon.buttons() if b.isVisible()] == \
        JOB_TAB_BUTTONS
    for button in window.ribbon.buttons():
        assert button.toolButtonStyle() is Qt.ToolButtonStyle.ToolButtonTextUnderIcon
        assert not button.icon().isNull()

    window.jobs_view.table.clearSelection()
    assert not ribbon.isTabVisible(job_tab)


def test_enabled_state_follows_selection(qtbot: QtBot, window: MainWindow,
                                         service: BackupApi, gate: TaskGate,
                                         make_job: JobFactory) -> None:
    make_job("Idle Job", ("i1",))
    make_job("Busy Job", ("b1", "b2"))
    make_job("Off Job", ("o1",), enabled=False)
    start_held(qtbot, service, gate, "Busy Job", "b1")
    wait_cell(qtbot, window, "Busy Job", Column.STATUS, lambda t: t.startswith("Working"))
    wait_cell(qtbot, window, "Off Job", Column.STATUS, "Disabled")

    click_row(qtbot, window, "Idle Job")
    assert _enabled(window) == {"Start": True, "Stop": False, "Retry": False,
                                "Active Full": True, "Delete": True, "Statistics": False}

    click_row(qtbot, window, "Busy Job")
    assert _enabled(window) == {"Start": False, "Stop": True, "Retry": False,
                                "Active Full": False, "Delete": False, "Statistics": True}

    click_row(qtbot, window, "Off Job")
    assert _enabled(window)["Start"] is False
    assert _enabled(window)["Stop"] is False
    assert ribbon_button(window, "Enable").isEnabled()

    assert _manage(window) == {"Edit": True, "Clone": True}

    click_row(qtbot, window, "Idle Job")
    assert _manage(window) == {"Edit": True, "Clone": True}
    click_row(qtbot, window, "Busy Job", add=True)   # mixed: neither applies to both
    assert _enabled(window)["Start"] is False
    assert _enabled(window)["Stop"] is False
    assert _manage(window) == {"Edit": False, "Clone": False}   # one job at a time

    # The context menu holds the very same actions, so it agrees with the ribbon.
    # Right-clicking a row outside the selection selects that row alone.
    click_row(qtbot, window, "Idle Job")
    menu = right_click_row(qtbot, window, "Busy Job")
    assert [j.name for j in window.jobs_view.selected_jobs()] == ["Busy Job"]
    assert menu_action(menu, "Stop") is window.job_actions.stop
    assert menu_action(menu, "Start").isEnabled() is False
    assert menu_action(menu, "Stop").isEnabled() is True
    assert menu_action(menu, "Edit") is window.job_actions.edit
    assert menu_action(menu, "Clone") is window.job_actions.clone
    menu.close()

    # The row's state changes under the selection: the actions follow.
    gate.release_all()
    wait_cell(qtbot, window, "Busy Job", Column.LAST_RESULT, "Success")
    qtbot.waitUntil(lambda: ribbon_button(window, "Start").isEnabled())
    assert not ribbon_button(window, "Stop").isEnabled()
    assert window.jobs_view.selected_jobs()[0].name == "Busy Job"


def test_retry_enabled_only_after_failure_and_runs_failed_computers(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory) -> None:
    make_job("Retry Job", ("r1", "r2", "r3"))
    start_held(qtbot, service, gate, "Retry Job", "r2")
    service.stop_job("Retry Job", StopMode.IMMEDIATELY)
    gate.release_all()
    wait_cell(qtbot, window, "Retry Job", Column.LAST_RESULT, "Failed")

    click_row(qtbot, window, "Retry Job")
    qtbot.waitUntil(lambda: ribbon_button(window, "Retry").isEnabled())
    qtbot.mouseClick(ribbon_button(window, "Retry"), Qt.MouseButton.LeftButton)

    wait_cell(qtbot, window, "Retry Job", Column.LAST_RESULT, "Success")
    latest = service.list_sessions("Retry Job")[0]
    assert [t.computer for t in latest.tasks] == ["r2", "r3"]
    assert {p.computer for p in service.list_points("Retry Job")} == {"r1", "r2", "r3"}
    qtbot.waitUntil(lambda: not ribbon_button(window, "Retry").isEnabled())
