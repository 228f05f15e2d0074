"""Retention, as both job wizards ask for it: keep the last N restore points per
computer and GFS points (the newest of each of the last days, ISO weeks, months,
years), with the preview of what an existing job's points become.

The backup wizard's Storage step and the backup copy wizard's Retention step
place the same fields: :class:`RetentionFields` adds its rows to the page's grid
and its preview under it, and the page forwards load, write and errors.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView, QGridLayout, QHBoxLayout, QLabel, QSpinBox, QTreeWidget,
    QTreeWidgetItem, QVBoxLayout,
)
from shiboken6 import isValid

from core.api import retention_preview
from core.models import JobDefinition, RestorePointInfo
from core.scheduling.retention import MAX_KEEP, GfsRetention

from gui.jobs.wizard import draft as F
from gui.jobs.wizard.computer_dialog import console_backend
from gui.jobs.wizard.fields import ErrorLabel, WizardPage, spin
from gui.widgets.formatting import datetime_text

GFS_PERIODS = (("daily", "days,"), ("weekly", "weeks,"), ("monthly", "months,"),
               ("yearly", "years"))


class RetentionFields:
    """The retention rows of a wizard page (three rows of its grid from ``row``)."""

    def __init__(self, page: WizardPage, grid: QGridLayout, row: int, *,
                 unit: str = "restore points to keep per computer") -> None:
        self._page = page
        grid.addWidget(QLabel("Retention policy:", page), row, 0)
        self.retain_spin = spin(page, 0, 999, 7)
        self.retain_spin.setObjectName("RetainPoints")
        grid.addWidget(self.retain_spin, row, 1)
        grid.addWidget(QLabel(unit, page), row, 2)
        # GFS: the newest point of each of the last N days, ISO weeks, months, years
        grid.addWidget(QLabel("GFS retention:", page), row + 1, 0)
        gfs_row = QHBoxLayout()
        gfs_row.setContentsMargins(0, 0, 0, 0)
        gfs_row.setSpacing(6)
        gfs_row.addWidget(QLabel("also keep the newest point of each of the last", page))
        self.gfs_spins: dict[str, QSpinBox] = {}
        for period, period_unit in GFS_PERIODS:
            keep = spin(page, 0, MAX_KEEP, 0, width=60)
            keep.setObjectName(f"Keep{period.capitalize()}")
            keep.setToolTip(f"GFS: keep a {period} point (0: none)")
            self.gfs_spins[period] = keep
            gfs_row.addSpacing(4)
            gfs_row.addWidget(keep)
            gfs_row.addWidget(QLabel(period_unit, page))
        gfs_row.addStretch(1)
        grid.addLayout(gfs_row, row + 1, 1, 1, 2)
        self.retain_error = ErrorLabel(page)   # also says what is wrong with the GFS numbers
        grid.addWidget(self.retain_error, row + 2, 1, 1, 2)

        # An existing job: what its points become with the settings above
        self.retention_summary = QLabel("", page)
        self.retention_summary.setObjectName("RetentionSummary")
        self.retention_summary.setWordWrap(True)
        self.retention_tree = QTreeWidget(page)
        self.retention_tree.setObjectName("RetentionPreview")
        self.retention_tree.setHeaderLabels(["Computer", "Created", "Retention"])
        self.retention_tree.setRootIsDecorated(False)
        self.retention_tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.retention_tree.setColumnWidth(0, 110)
        self.retention_tree.setColumnWidth(1, 150)
        self.retention_tree.setMaximumHeight(110)
        self.retention_tree.hide()
        self._job: JobDefinition | None = None
        self.job_points: list[RestorePointInfo] | None = None   # the edited job's, once fetched
        for number in self.spins():
            number.valueChanged.connect(self._show_retention)

    def spins(self) -> list[QSpinBox]:
        return [self.retain_spin, *self.gfs_spins.values()]

    def connect(self, slot: Callable[..., None]) -> None:
        for number in self.spins():
            number.valueChanged.connect(slot)

    def add_preview(self, layout: QVBoxLayout) -> None:
        """Place the retention preview (shown when editing a job that has points)."""
        layout.addWidget(self.retention_summary)
        layout.addWidget(self.retention_tree)

    def gfs(self) -> GfsRetention:
        return GfsRetention(**{f"keep_{period}": box.value()
                               for period, box in self.gfs_spins.items()})

    def load(self, definition: JobDefinition) -> None:
        self.retain_spin.setValue(definition.retain_points)
        for period, box in self.gfs_spins.items():
            box.setValue(getattr(definition.gfs, f"keep_{period}"))
        self._job = definition
        self._fetch_points(definition.name)

    def write(self, draft: dict[str, Any]) -> None:
        draft[F.RETAIN] = self.retain_spin.value()
        draft[F.GFS] = {f"keep_{period}": box.value() for period, box in self.gfs_spins.items()}

    def show_errors(self, errors: Mapping[str, str]) -> None:
        self.retain_error.show_error(errors.get(F.RETAIN) or errors.get(F.GFS))

    def _fetch_points(self, job: str) -> None:
        """The edited job's restore points, for the retention preview."""
        backend = console_backend(self._page)
        if backend is None or not hasattr(backend[1], "list_points"):
            return
        runner, service = backend
        runner.submit(lambda: service.list_points(job), self._points_landed,
                      lambda _exc: None)   # no preview: the settings still save

    def _points_landed(self, points: Sequence[RestorePointInfo]) -> None:
        if not isValid(self._page):
            return
        self.job_points = list(points)
        self._show_retention()

    def _show_retention(self, *_args: object) -> None:
        """The edited job's points under the retention set above: kept (why) or going."""
        if self._job is None or self.job_points is None:
            return
        tree = self.retention_tree
        tree.clear()
        if not self.job_points:
            self.retention_summary.setText("This job has no restore points yet.")
            tree.hide()
            return
        try:
            job = self._job.model_copy(update={"retain_points": max(1, self.retain_spin.value()),
                                               "gfs": self.gfs()})
        except ValueError:
            return
        preview = retention_preview(job, self.job_points)
        going = len(preview.dropped)
        self.retention_summary.setText(
            f"With these settings {len(preview.kept)} of the job's {len(preview.points)} "
            "restore points are kept" + (f"; {going} would be removed by the next backup."
                                         if going else "; none would be removed."))
        for p in reversed(preview.points):   # newest first
            item = QTreeWidgetItem([p.computer, datetime_text(p.created),
                                    ", ".join(p.reasons) if p.keep
                                    else "Removed by the next backup"])
            if not p.keep:
                item.setForeground(2, Qt.GlobalColor.darkRed)
            tree.addTopLevelItem(item)
        tree.show()
