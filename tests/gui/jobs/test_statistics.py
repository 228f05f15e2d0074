"""The Statistics window: live while the session runs, and its final figures
are the core's own."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.api import BackupApi, made_text, session_figures
from core.engine import session as engine_session
from core.models import SessionResult, Stage, StopMode
from tests.support.gate import TaskGate
from gui.widgets.formatting import bytes_text, duration_text
from gui.jobs.jobs_model import Column
from gui.shell.main_window import MainWindow
from gui.jobs.statistics_dialog import PROGRESS_ROLE, SESSION_ROW, StatisticsDialog

from tests.gui.conftest import JobFactory
from tests.gui.helpers import click_ribbon, click_row, start_held, wait_cell, wait_held

WAIT_MS = 10_000


def _status_of(dialog: StatisticsDialog, computer: str) -> str:
    for i in range(dialog.computers.topLevelItemCount()):
        item = dialog.computers.topLevelItem(i)
        if item is not None and item.text(0) == computer:
            return item.text(1)
    return ""


def test_statistics_follow_a_running_session_and_end_with_the_cores_figures(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory) -> None:
    make_job("Live", ("l1", "l2", "l3"), files=6)
    gate.hold("l3")
    session_id = start_held(qtbot, service, gate, "Live", "l2")
    wait_cell(qtbot, window, "Live", Column.STATUS, lambda t: t.startswith("Working"))
    click_row(qtbot, window, "Live")
    click_ribbon(qtbot, window, "Statistics")
    dialog = window.statistics_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.session is not None
                    and _status_of(dialog, "l2") == "In progress", timeout=WAIT_MS)
    assert dialog.computer_names() == ["l1", "l2", "l3"]
    assert dialog.computers.topLevelItem(0).text(0) == "Backup session"   # the session first
    assert dialog.status["Running"].text() == "1"   # l2; l3 has not started
    assert dialog.status["Pending"].text() == "1"
    assert dialog.stop_button.isEnabled()
    processed_before = dialog.data["Processed"].text()

    # Live: l2 finishes, l3 runs; the figures move without touching the window.
    gate.release("l2")
    wait_held(qtbot, gate, "l3")
    qtbot.waitUntil(lambda: _status_of(dialog, "l3") == "In progress"
                    and _status_of(dialog, "l2") == "Success", timeout=WAIT_MS)
    assert dialog.data["Processed"].text() != processed_before
    assert dialog.status["Success"].text() == "2"

    # Stop is here too: it opens the Stop Backup Job window for this job.
    qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.stop_dialog is not None)
    assert window.stop_dialog is not None and window.stop_dialog.jobs == ["Live"]
    window.stop_dialog.reject()
    qtbot.waitUntil(lambda: window.stop_dialog is None)

    gate.release_all()
    qtbot.waitUntil(lambda: dialog.session is not None and not dialog.session.state.is_active,
                    timeout=WAIT_MS)
    final = service.get_session(session_id)
    fig = session_figures(final)
    assert final.result is SessionResult.SUCCESS
    assert dialog.data["Processed"].text() == bytes_text(fig.processed)
    assert dialog.data["Read"].text() == bytes_text(fig.read)
    assert dialog.data["Transferred"].text() == bytes_text(fig.transferred)
    assert dialog.summary["Duration"].text() == duration_text(fig.duration_s)
    assert dialog.summary["Processing rate"].text() == f"{bytes_text(fig.rate_bps)}/s"
    # The bottleneck is measured: every stage has its seconds, the largest is named.
    assert fig.bottleneck is not None and fig.stages[fig.bottleneck] > 0
    assert dialog.summary["Bottleneck"].text() == fig.bottleneck.value
    assert all(f"{stage.value} " in dialog.summary["Bottleneck"].toolTip() for stage in Stage)
    assert [dialog.status[k].text() for k in ("Success", "Warning", "Error", "Skipped",
                                              "Running", "Pending")] == ["3", "0", "0", "0", "0",
                                                                         "0"]
    assert dialog.summary["Status"].text() == "Success"
    assert not dialog.stop_button.isEnabled()
    assert made_text(final) == "Full" and "Full" in dialog.heading.text()
    assert dialog.chart.samples >= 2   # the chart took the rate while it ran
    # The session's own log is the first row's.
    dialog.select_row("session")
    assert "3 of 3 computer(s) got a new restore point." in dialog.log_lines()
    dialog.select_row("l2")
    assert any("Restore point created" in line for line in dialog.log_lines())
    dialog.close()
    assert window.statistics_dialog is None


def test_long_log_lines_wrap_and_show_whole_on_hover(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory) -> None:
    make_job("Wrap", ("w1",))
    session_id = service.start_job("Wrap")
    service.wait_session(session_id, timeout=10)
    window.controller.open_statistics("Wrap", session_id)
    dialog = window.statistics_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.session is not None)
    dialog.select_row("session")
    first = dialog.log.topLevelItem(0)
    assert first is not None and first.toolTip(1) == first.text(1)
    assert first.text(1).startswith("Job started manually by user")
    assert dialog.log.wordWrap()
    # A wrapped line is taller than one line of text.
    dialog.log.setColumnWidth(1, 120)
    dialog.log.doItemsLayout()
    index = dialog.log.indexFromItem(first, 1)
    assert dialog.log.visualRect(index).height() > dialog.log.fontMetrics().height() * 2


def test_a_session_that_read_nothing_has_no_rate(
        qtbot: QtBot, window: MainWindow, service: BackupApi, make_job: JobFactory) -> None:
    make_job("Same", ("s1",))
    service.wait_session(service.start_job("Same"), timeout=10)
    again = service.start_job("Same")   # nothing changed: every file is reused, none read
    service.wait_session(again, timeout=10)
    window.controller.open_statistics("Same", again)
    dialog = window.statistics_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.session is not None)
    assert dialog.data["Read"].text() == "0 B"
    assert dialog.summary["Processing rate"].text() == "—"
    assert "Increment" in dialog.heading.text()


def _bar(dialog: StatisticsDialog, name: str) -> int | None:
    for i in range(dialog.computers.topLevelItemCount()):
        item = dialog.computers.topLevelItem(i)
        if item is not None and item.data(0, Qt.ItemDataRole.UserRole) == name:
            value = item.data(2, PROGRESS_ROLE)
            return value if isinstance(value, int) else None
    raise AssertionError(f"no row {name!r}")


def test_bars_counts_and_the_header_agree_with_the_rows(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory) -> None:
    make_job("Bars", ("b1", "b2", "b3", "b4"), files=6)
    gate.hold("b2")
    session_id = start_held(qtbot, service, gate, "Bars", "b2")   # b1 done, b3 and b4 wait
    window.controller.open_statistics("Bars", session_id)
    dialog = window.statistics_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: _status_of(dialog, "b2") == "In progress"
                    and _status_of(dialog, "b1") == "Success", timeout=WAIT_MS)
    assert dialog.status["Running"].text() == "1"
    assert dialog.status["Pending"].text() == "2"
    rows = [_bar(dialog, c) for c in ("b1", "b2", "b3", "b4")]
    assert rows[0] == 100 and rows[2] == rows[3] == 0 and rows[1] is not None
    # The header and the session's row are the rows' mean (not another formula).
    header = dialog.progress.value()
    assert header == _bar(dialog, SESSION_ROW)
    assert abs(header - sum(r or 0 for r in rows) / 4) < 1

    # Stopped immediately: b2 is cancelled, b3 and b4 skipped; none of them shows a full bar.
    service.stop_job("Bars", StopMode.IMMEDIATELY)
    qtbot.waitUntil(lambda: _status_of(dialog, "b4") == "Skipped"
                    and _status_of(dialog, "b2") == "Cancelled", timeout=WAIT_MS)
    assert _bar(dialog, "b3") is None and _bar(dialog, "b4") is None
    cancelled = _bar(dialog, "b2")
    assert cancelled is None or cancelled < 100
    assert _bar(dialog, "b1") == 100
    dialog.close()


def test_the_rate_chart_stays_after_the_session_ends(
        qtbot: QtBot, window: MainWindow, service: BackupApi, gate: TaskGate,
        make_job: JobFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_session, "RATE_SAMPLE_S", 0.05)
    make_job("Rate", ("r1",), files=6)
    session_id = start_held(qtbot, service, gate, "Rate", "r1")

    def sampled_for(seconds: float) -> bool:
        samples = service.get_session(session_id).tasks[0].rate_samples
        return len(samples) >= 3 and samples[-1][0] - samples[0][0] >= seconds

    qtbot.waitUntil(lambda: sampled_for(0.6), timeout=WAIT_MS)
    gate.release_all()
    service.wait_session(session_id, timeout=10)
    # Opened after the end (as from History), the chart is drawn from the session's record.
    window.controller.open_statistics("Rate", session_id)
    dialog = window.statistics_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.session is not None, timeout=WAIT_MS)
    assert not dialog.session.state.is_active
    assert len(dialog.chart.rates) >= 2 and dialog.chart.peak > 0
    dialog.close()
