"""The console around the jobs: keyboard, main menu (Help, About),
remembered layout, the status bar under a hovered button, the whole-row
hover, and the Stop window that never moves its buttons."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QColor, QStatusTipEvent
from PySide6.QtWidgets import QApplication, QHeaderView, QStyle, QStyleOptionViewItem
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from core.api.client import ServerClient
from tests.support.gate import TaskGate
from gui.app import create_main_window
from gui.jobs.jobs_model import Column
from gui.shell.main_window import MainWindow
from gui.jobs.stop_dialog import LOADING_TEXT

from tests.gui.conftest import JobFactory
from tests.gui.helpers import (
    WAIT_MS, click_ribbon, click_row, menu_action, ribbon_button, right_click_row, start_held,
    wait_cell, wait_held,
)
from tests.gui.wizard_steps import open_wizard


def _activate(qtbot: QtBot, window: MainWindow) -> None:
    """Shortcuts reach only the active window."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)


def test_keyboard_shortcuts(qtbot: QtBot, window: MainWindow, service: BackupApi,
                            make_job: JobFactory) -> None:
    make_job("Keys", ("k1",))
    wait_cell(qtbot, window, "Keys", Column.STATUS, "Idle")
    _activate(qtbot, window)
    table = window.jobs_view.table

    # Shown where the operator looks: tooltips and menus.
    assert ribbon_button(window, "Backup Job").isEnabled()
    click_row(qtbot, window, "Keys")
    assert ribbon_button(window, "Delete").toolTip() == "Delete the selected jobs (Delete)"
    assert ribbon_button(window, "Edit").toolTip() == "Edit the job's settings (Enter)"
    menu = right_click_row(qtbot, window, "Keys")
    assert menu_action(menu, "Delete").shortcut().toString() == "Del"
    assert menu_action(menu, "Edit").shortcut().toString() == "Enter"
    menu.close()
    main_menu = window.ribbon.main_menu
    assert menu_action(main_menu, "Exit").shortcut().toString() == "Ctrl+Q"
    assert "(Ctrl+F)" in window.jobs_view.search.toolTip()

    # Delete asks first; No keeps the job.
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_Delete)
    dialog = window.delete_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.reject()
    assert window.delete_dialog is None

    # Enter edits.
    qtbot.keyClick(table, Qt.Key.Key_Return)
    wizard = open_wizard(qtbot, window)
    assert wizard.original_name == "Keys"
    wizard.reject()
    qtbot.waitUntil(lambda: window.job_wizard is None)
    _activate(qtbot, window)

    # Ctrl+F goes to the search box, where Delete edits the text, never the jobs.
    qtbot.keyClick(table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    search = window.jobs_view.search
    assert search.hasFocus()
    qtbot.keyClicks(search, "Kez")
    qtbot.keyClick(search, Qt.Key.Key_Left)
    qtbot.keyClick(search, Qt.Key.Key_Delete)
    assert search.text() == "Ke" and window.delete_dialog is None
    search.clear()

    # F5 fetches the list again.
    before = window.refresher.count
    qtbot.keyClick(table, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: window.refresher.count > before)

    # Ctrl+Q exits (the job stays, as always).
    qtbot.keyClick(table, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible())
    assert [j.name for j in service.list_jobs()] == ["Keys"]


def test_help_and_about_from_the_main_menu(qtbot: QtBot, window: MainWindow,
                                           service: BackupApi) -> None:
    main_menu = window.ribbon.main_menu
    assert [a.text() for a in main_menu.actions() if not a.isSeparator()] == \
        ["Refresh", "Options", "Help", "About", "Connect to Backup Server...", "Exit"]
    assert menu_action(main_menu, "Refresh").shortcut().toString() == "F5"
    assert menu_action(main_menu, "Help").shortcut().toString() == "F1"
    menu_action(main_menu, "Help").trigger()
    help_dialog = window.help_dialog
    assert help_dialog is not None and help_dialog.isVisible()
    text = help_dialog.text()
    assert text.startswith("The console")
    assert "New Agent Backup Job" in text and "Ctrl+Q" in text
    assert "Repository" not in text.splitlines()[0]   # only the console's section
    help_dialog.close()
    assert window.help_dialog is None

    qtbot.waitUntil(lambda: window.server_connected is True)
    menu_action(main_menu, "About").trigger()
    about = window.about_dialog
    assert about is not None and about.isVisible()
    assert about.values["Data directory"].text() == str(service.data_dir)
    assert isinstance(service, ServerClient)
    assert about.values["Backup server"].text() == service.address
    assert about.values["Server state"].text() == "Connected"
    qtbot.waitUntil(lambda: about.values["Server process"].text().startswith("PID "))
    assert "0 jobs running" in about.values["Server process"].text()
    about.accept()
    assert window.about_dialog is None


def test_layout_is_remembered_after_reopening(qtbot: QtBot, window: MainWindow,
                                              service: BackupApi, make_job: JobFactory) -> None:
    make_job("Alpha", ("a1",))
    make_job("Beta", ("b1", "b2"))
    wait_cell(qtbot, window, "Beta", Column.STATUS, "Idle")
    window.resize(780, 560)   # inside the offscreen screen (800 x 800): nothing is clamped
    window.body_splitter.setSizes([300, 480])
    left = window.body_splitter.sizes()[0]
    header = window.jobs_view.table.horizontalHeader()
    header.resizeSection(Column.NAME, 234)
    header.moveSection(header.visualIndex(Column.TARGET), 1)   # Target right after Name
    window.jobs_view.table.sortByColumn(Column.OBJECTS, Qt.SortOrder.DescendingOrder)
    window.close()

    reopened = create_main_window(service.data_dir, service=service)
    reopened.show()
    try:
        qtbot.waitUntil(lambda: reopened.model.rowCount() == 2)
        assert (reopened.width(), reopened.height()) == (780, 560)
        assert reopened.body_splitter.sizes()[0] == left
        header = reopened.jobs_view.table.horizontalHeader()
        assert header.sectionSize(Column.NAME) == 234
        assert header.visualIndex(Column.TARGET) == 1
        assert header.sortIndicatorSection() == Column.OBJECTS
        assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
        proxy = reopened.proxy
        assert [proxy.index(r, Column.NAME).data() for r in range(2)] == ["Beta", "Alpha"]
        assert header.sectionResizeMode(Column.DESCRIPTION) is QHeaderView.ResizeMode.Stretch
    finally:
        reopened.close()
    assert QSettings().fileName()   # the settings live in this test's folder (conftest)


def test_description_takes_the_spare_width(qtbot: QtBot, window: MainWindow,
                                           make_job: JobFactory) -> None:
    make_job("Wide", ("w1",), description="A description that deserves the room")
    wait_cell(qtbot, window, "Wide", Column.STATUS, "Idle")
    header = window.jobs_view.table.horizontalHeader()
    before = header.sectionSize(Column.DESCRIPTION)
    assert before >= 200
    window.resize(window.width() + 300, window.height())
    qtbot.waitUntil(lambda: header.sectionSize(Column.DESCRIPTION) >= before + 250)


def test_hovering_keeps_the_status_bar_counts(qtbot: QtBot, window: MainWindow,
                                              make_job: JobFactory) -> None:
    make_job("Counted", ("c1",))
    bar = window.status_bar
    qtbot.waitUntil(lambda: bar.jobs_label.text() == "Jobs: 1")
    button = ribbon_button(window, "Backup Job")
    qtbot.mouseMove(button)
    QApplication.sendEvent(button, QStatusTipEvent(button.defaultAction().statusTip()))
    assert bar.currentMessage() == ""
    assert bar.running_label.isVisible() and bar.jobs_label.isVisible()
    assert bar.jobs_label.text() == "Jobs: 1"


def test_a_hovered_row_highlights_whole(qtbot: QtBot, window: MainWindow,
                                        make_job: JobFactory) -> None:
    make_job("Row One", ("r1",))
    make_job("Row Two", ("r2",))
    wait_cell(qtbot, window, "Row Two", Column.STATUS, "Idle")
    view = window.jobs_view
    index = view.proxy_index_of("Row Two")
    qtbot.mouseMove(view.table.viewport(), view.table.visualRect(index).center())
    qtbot.waitUntil(lambda: view.hover.hover_row == index.row())
    for column in Column:
        option = QStyleOptionViewItem()
        view.hover.initStyleOption(option, view.proxy.index(index.row(), column))
        assert option.state & QStyle.StateFlag.State_MouseOver, column
    other = view.proxy_index_of("Row One")
    option = QStyleOptionViewItem()
    view.hover.initStyleOption(option, other.siblingAtColumn(Column.STATUS))
    assert not option.state & QStyle.StateFlag.State_MouseOver
    # The far end of the hovered row is painted in the hover colour too.
    image = view.table.viewport().grab().toImage()
    rect = view.table.visualRect(index.siblingAtColumn(Column.LAST_RESULT))
    assert image.pixelColor(rect.center()) == QColor("#EEF8F1")


def _distance(a: QColor, b: QColor) -> int:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue())


def test_stop_window_never_moves_its_buttons(qtbot: QtBot, window: MainWindow,
                                             service: BackupApi, gate: TaskGate,
                                             make_job: JobFactory) -> None:
    make_job("Steady", ("s1", "s2", "s3"))
    start_held(qtbot, service, gate, "Steady", "s1")
    wait_cell(qtbot, window, "Steady", Column.STATUS, lambda t: t.startswith("Working"))
    click_row(qtbot, window, "Steady")
    click_ribbon(qtbot, window, "Stop")
    dialog = window.stop_dialog
    assert dialog is not None
    size = dialog.size()

    def place() -> tuple[QPoint, ...]:
        assert dialog is not None
        return tuple(b.mapTo(dialog, QPoint(0, 0)) for b in
                     (dialog.immediately_button, dialog.gracefully_button, dialog.cancel_button))

    where = place()
    qtbot.waitUntil(lambda: dialog.immediately.points.text() != LOADING_TEXT)
    assert "s2, s3" in dialog.nothing.text()
    assert (dialog.size(), place()) == (size, where)

    # s1 finishes and s2 starts: the "not started" line changes; nothing moves.
    gate.hold("s2")
    gate.release("s1")
    wait_held(qtbot, gate, "s2")
    qtbot.waitUntil(lambda: dialog.gracefully.points.text() == "s1, s2", timeout=WAIT_MS)
    assert "s3" in dialog.nothing.text() and "s2" not in dialog.nothing.text()
    assert (dialog.size(), place()) == (size, where)

    # The job ends while the window is open: the choices turn off and look it.
    gate.release_all()
    qtbot.waitUntil(lambda: "has finished" in dialog.question.text(), timeout=WAIT_MS)
    assert (dialog.size(), place()) == (size, where)
    default = dialog.gracefully_button
    assert default.isDefault() and not default.isEnabled()
    image = default.grab().toImage()
    fill = image.pixelColor(6, image.height() // 2)
    assert _distance(fill, QColor("#00B336")) > 200, fill.name()   # not the green of "go"
    enabled_fill = dialog.cancel_button.grab().toImage().pixelColor(6, image.height() // 2)
    assert fill != enabled_fill
    dialog.reject()
