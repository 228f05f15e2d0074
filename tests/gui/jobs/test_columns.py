"""The jobs list's default column widths fit the longest text each column shows."""
from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import QStyle
from pytestqt.qtbot import QtBot

from gui.jobs.jobs_model import Column
from gui.shell.main_window import MainWindow
from gui.widgets.formatting import NOT_SCHEDULED, datetime_text
from tests.gui.conftest import JobFactory
from tests.gui.helpers import wait_cell

ITEM_PADDING = 2 * 6   # the style sheet's "#JobsTable::item { padding: 0 6px }"
ICON = 16


def test_default_widths_fit_status_and_times(qtbot: QtBot, window: MainWindow,
                                             make_job: JobFactory) -> None:
    make_job("Short", ("pc1",))
    wait_cell(qtbot, window, "Short", Column.STATUS, "Idle")
    table = window.jobs_view.table
    header, metrics = table.horizontalHeader(), table.fontMetrics()
    # the style sheet's item padding, and the text margins of an item view's cell
    margin = 2 * (table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1)
    expected = {
        Column.STATUS: metrics.horizontalAdvance("Working 100%") + ITEM_PADDING + margin,
        Column.LAST_RUN: metrics.horizontalAdvance(datetime_text(datetime(2028, 12, 28, 20, 58)))
        + ITEM_PADDING + margin,
        Column.NEXT_RUN: metrics.horizontalAdvance(NOT_SCHEDULED) + ITEM_PADDING + margin,
        Column.LAST_RESULT: metrics.horizontalAdvance("Warning") + ITEM_PADDING + margin + ICON,
    }
    for column, width in expected.items():
        assert header.sectionSize(column) >= width, (column.name, header.sectionSize(column),
                                                     width)

