"""The wizard's Storage step: the backup repository, retention (the last N and GFS: daily,
weekly, monthly, yearly points, with a preview of what an existing job's points become),
task slots, read rate limit, periodic active full backups and the scheduled health check."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView, QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout,
    QHBoxLayout, QLabel, QRadioButton, QSpinBox, QTreeWidget, QTreeWidgetItem, QWidget,
)
from shiboken6 import isValid

from core.api import RepositoryInfo, retention_preview
from core.models import ActiveFullKind, HealthCheckMode, JobDefinition, RestorePointInfo
from core.scheduling.retention import MAX_KEEP, GfsRetention
from core.scheduling.schedule import Weekday

from gui.jobs.wizard import draft as F
from gui.jobs.wizard.computer_dialog import console_backend
from gui.jobs.wizard.fields import INDENT, DayChecks, ErrorLabel, WizardPage, spin
from gui.widgets.formatting import bytes_text, datetime_text

# Shown until the server's list arrives. The same name as the server's default
# repository, which neither core.api nor core.models exports yet.
DEFAULT_REPOSITORY = "Default Backup Repository"
# The health check's modes: (the words, the model's value; "" lets the server choose).
HEALTH_MODES = [("Automatic: full for a folder, light for S3", ""),
                ("Full: read every block back", HealthCheckMode.FULL.value),
                ("Light: list and size every object, read no data", HealthCheckMode.LIGHT.value)]


class StoragePage(WizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        grid.addWidget(QLabel("Backup repository:", self), 0, 0)
        self.repository_combo = QComboBox(self)
        self.repository_combo.setObjectName("RepositoryCombo")
        self.repository_combo.addItem(DEFAULT_REPOSITORY)
        grid.addWidget(self.repository_combo, 0, 1, 1, 2)
        self.repository_error = ErrorLabel(self)
        grid.addWidget(self.repository_error, 1, 1, 1, 2)
        self.repository_details = self._caption("")
        self.repository_details.setObjectName("RepositoryDetails")
        grid.addWidget(self.repository_details, 1, 1, 1, 2)
        self.repositories: dict[str, RepositoryInfo] = {}
        self.repositories_loaded = False   # the list came from the server
        self._fetch_repositories()

        grid.addWidget(QLabel("Retention policy:", self), 2, 0)
        self.retain_spin = spin(self, 0, 999, 7)
        self.retain_spin.setObjectName("RetainPoints")
        grid.addWidget(self.retain_spin, 2, 1)
        grid.addWidget(QLabel("restore points to keep per computer", self), 2, 2)
        # GFS: the newest point of each of the last N days, ISO weeks, months, years
        grid.addWidget(QLabel("GFS retention:", self), 3, 0)
        gfs_row = QHBoxLayout()
        gfs_row.setContentsMargins(0, 0, 0, 0)
        gfs_row.setSpacing(6)
        gfs_row.addWidget(QLabel("also keep the newest point of each of the last", self))
        self.gfs_spins: dict[str, QSpinBox] = {}
        for period, unit in (("daily", "days,"), ("weekly", "weeks,"), ("monthly", "months,"),
                             ("yearly", "years")):
            keep = spin(self, 0, MAX_KEEP, 0, width=60)
            keep.setObjectName(f"Keep{period.capitalize()}")
            keep.setToolTip(f"GFS: keep a {period} point (0: none)")
            self.gfs_spins[period] = keep
            gfs_row.addSpacing(4)
            gfs_row.addWidget(keep)
            gfs_row.addWidget(QLabel(unit, self))
        gfs_row.addStretch(1)
        grid.addLayout(gfs_row, 3, 1, 1, 2)
        self.retain_error = ErrorLabel(self)   # also says what is wrong with the GFS numbers
        grid.addWidget(self.retain_error, 4, 1, 1, 2)

        grid.addWidget(QLabel("Task slots:", self), 5, 0)
        self.slots_spin = spin(self, 1, 64, 2)
        self.slots_spin.setObjectName("TaskSlots")
        grid.addWidget(self.slots_spin, 5, 1)
        grid.addWidget(QLabel("computers processed at the same time", self), 5, 2)
        self.slots_error = ErrorLabel(self)
        grid.addWidget(self.slots_error, 6, 1, 1, 2)

        self.throttle_check = QCheckBox("Limit the read rate to", self)
        grid.addWidget(self.throttle_check, 7, 0)
        self.throttle_spin = QDoubleSpinBox(self)
        self.throttle_spin.setObjectName("Throttle")
        self.throttle_spin.setRange(0.0, 100_000.0)
        self.throttle_spin.setDecimals(1)
        self.throttle_spin.setSingleStep(1.0)
        self.throttle_spin.setValue(10.0)
        self.throttle_spin.setFixedWidth(90)
        grid.addWidget(self.throttle_spin, 7, 1)
        grid.addWidget(QLabel("MB/s per computer", self), 7, 2)
        self.throttle_error = ErrorLabel(self)
        grid.addWidget(self.throttle_error, 8, 1, 1, 2)
        grid.setColumnStretch(2, 1)
        self.layout_.addLayout(grid)

        self.layout_.addSpacing(6)
        self.layout_.addWidget(self._section("Active full"))
        self.active_full_check = QCheckBox("Create active full backups periodically", self)
        self.layout_.addWidget(self.active_full_check)
        self.layout_.addWidget(self._caption(
            "The first scheduled run on these days reads all data again and starts a new "
            "backup chain."))
        full = QGridLayout()
        full.setContentsMargins(INDENT, 0, 0, 0)
        self.weekly_radio = QRadioButton("Weekly on:", self)
        self.monthly_radio = QRadioButton("Monthly on day", self)
        group = QButtonGroup(self)
        group.addButton(self.weekly_radio)
        group.addButton(self.monthly_radio)
        self.weekly_radio.setChecked(True)
        self.full_days = DayChecks(self, (Weekday.SAT,))
        self.month_day_spin = spin(self, 1, 31, 1)
        self.month_last_check = QCheckBox("the last day of the month", self)
        full.addWidget(self.weekly_radio, 0, 0)
        full.addWidget(self.full_days, 0, 1, 1, 2)
        full.addWidget(self.monthly_radio, 1, 0)
        full.addWidget(self.month_day_spin, 1, 1)
        full.addWidget(self.month_last_check, 1, 2)
        full.setColumnStretch(2, 1)
        self.layout_.addLayout(full)
        self.active_full_error = ErrorLabel(self)
        self.layout_.addWidget(self.active_full_error)
        self._health_section()

        # An existing job: what its points become with the settings above
        self.retention_summary = self._caption("")
        self.retention_summary.setObjectName("RetentionSummary")
        self.layout_.addWidget(self.retention_summary)
        self.retention_tree = QTreeWidget(self)
        self.retention_tree.setObjectName("RetentionPreview")
        self.retention_tree.setHeaderLabels(["Computer", "Created", "Retention"])
        self.retention_tree.setRootIsDecorated(False)
        self.retention_tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.retention_tree.setColumnWidth(0, 110)
        self.retention_tree.setColumnWidth(1, 150)
        self.retention_tree.setMaximumHeight(110)
        self.retention_tree.hide()
        self.layout_.addWidget(self.retention_tree)
        self.layout_.addStretch(1)
        self._job: JobDefinition | None = None
        self.job_points: list[RestorePointInfo] | None = None   # the edited job's, once fetched

        self.repository_combo.currentIndexChanged.connect(self._show_repository)
        for number in (self.retain_spin, *self.gfs_spins.values()):
            number.valueChanged.connect(self._show_retention)
        for signal in (*(b.valueChanged for b in self.gfs_spins.values()),
                       self.repository_combo.currentIndexChanged, self.retain_spin.valueChanged,
                       self.slots_spin.valueChanged, self.throttle_spin.valueChanged,
                       self.full_days.changed, self.month_day_spin.valueChanged):
            signal.connect(self._emit)
        for box in (self.throttle_check, self.active_full_check, self.weekly_radio,
                    self.month_last_check, self.health_check, self.health_weekly_radio,
                    self.health_last_check):
            box.toggled.connect(self._enable)
        for signal in (self.health_days.changed, self.health_day_spin.valueChanged,
                       self.health_mode_combo.currentIndexChanged):
            signal.connect(self._emit)
        self._enable()

    def _health_section(self) -> None:
        """Health check: weekly on days or monthly on a day, as Veeam's option."""
        self.layout_.addWidget(self._section("Health check"))
        self.health_check = QCheckBox("Check the job's restore points periodically", self)
        self.health_check.setObjectName("HealthCheck")
        self.layout_.addWidget(self.health_check)
        self.layout_.addWidget(self._caption(
            "After the first scheduled backup on these days, a Verify session checks the "
            "job's restore points."))
        grid = QGridLayout()
        grid.setContentsMargins(INDENT, 0, 0, 0)
        self.health_weekly_radio = QRadioButton("Weekly on:", self)
        self.health_monthly_radio = QRadioButton("Monthly on day", self)
        group = QButtonGroup(self)
        group.addButton(self.health_weekly_radio)
        group.addButton(self.health_monthly_radio)
        self.health_weekly_radio.setChecked(True)
        self.health_days = DayChecks(self, (Weekday.SUN,))
        self.health_day_spin = spin(self, 1, 31, 1)
        self.health_last_check = QCheckBox("the last day of the month", self)
        self.health_mode_combo = QComboBox(self)
        self.health_mode_combo.setObjectName("HealthCheckMode")
        for text, mode in HEALTH_MODES:
            self.health_mode_combo.addItem(text, mode)
        grid.addWidget(self.health_weekly_radio, 0, 0)
        grid.addWidget(self.health_days, 0, 1, 1, 2)
        grid.addWidget(self.health_monthly_radio, 1, 0)
        grid.addWidget(self.health_day_spin, 1, 1)
        grid.addWidget(self.health_last_check, 1, 2)
        grid.addWidget(QLabel("Mode:", self), 2, 0)
        grid.addWidget(self.health_mode_combo, 2, 1, 1, 2)
        grid.setColumnStretch(2, 1)
        self.layout_.addLayout(grid)
        self.health_error = ErrorLabel(self)
        self.layout_.addWidget(self.health_error)

    def _fetch_repositories(self) -> None:
        """Fill the repository list from the backup server (Backup Infrastructure)."""
        backend = console_backend(self)
        if backend is None or not hasattr(backend[1], "list_repositories"):
            return
        runner, service = backend
        runner.submit(service.list_repositories, self._repositories_landed,
                      lambda _exc: None)   # keep the names the list has

    def _repositories_landed(self, repos: Sequence[RepositoryInfo]) -> None:
        if not isValid(self):
            return
        combo = self.repository_combo
        current = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        for repo in repos:
            place = f"{repo.location} (unavailable: {repo.problem})" if repo.problem \
                else repo.location
            combo.addItem(repo.name)
            combo.setItemData(combo.count() - 1, place, Qt.ItemDataRole.ToolTipRole)
        if current and combo.findText(current) < 0:
            combo.addItem(current)
        combo.setCurrentText(current if current else combo.itemText(0))
        combo.blockSignals(False)
        self.repositories = {repo.name: repo for repo in repos}
        self.repositories_loaded = True
        self._show_repository()
        self.changed.emit()

    def _show_repository(self, *_args: object) -> None:
        """The chosen repository in a line: type, place, free space, encryption."""
        repo = self.repositories.get(self.repository_combo.currentText())
        if repo is None:
            self.repository_details.setText("")
            return
        parts = ["S3 compatible" if repo.kind == "s3" else "Local folder", repo.location]
        if repo.free_bytes is not None:
            parts.append(f"{bytes_text(repo.free_bytes)} free")
        parts.append("encrypted" if repo.encrypted else "not encrypted")
        if repo.problem:
            parts.append(f"unavailable: {repo.problem}")
        self.repository_details.setText(" · ".join(parts))

    def _fetch_points(self, job: str) -> None:
        """The edited job's restore points, for the retention preview."""
        backend = console_backend(self)
        if backend is None or not hasattr(backend[1], "list_points"):
            return
        runner, service = backend
        runner.submit(lambda: service.list_points(job), self._points_landed,
                      lambda _exc: None)   # no preview: the settings still save

    def _points_landed(self, points: Sequence[RestorePointInfo]) -> None:
        if not isValid(self):
            return
        self.job_points = list(points)
        self._show_retention()

    def gfs(self) -> GfsRetention:
        return GfsRetention(**{f"keep_{period}": box.value()
                               for period, box in self.gfs_spins.items()})

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

    def _enable(self, *_args: object) -> None:
        self.throttle_spin.setEnabled(self.throttle_check.isChecked())
        on = self.active_full_check.isChecked()
        weekly = self.weekly_radio.isChecked()
        for widget in (self.weekly_radio, self.monthly_radio):
            widget.setEnabled(on)
        self.full_days.setEnabled(on and weekly)
        self.month_last_check.setEnabled(on and not weekly)
        self.month_day_spin.setEnabled(on and not weekly and not self.month_last_check.isChecked())
        on = self.health_check.isChecked()
        weekly = self.health_weekly_radio.isChecked()
        health: tuple[QWidget, ...] = (self.health_weekly_radio, self.health_monthly_radio,
                                       self.health_mode_combo)
        for control in health:
            control.setEnabled(on)
        self.health_days.setEnabled(on and weekly)
        self.health_last_check.setEnabled(on and not weekly)
        self.health_day_spin.setEnabled(on and not weekly and
                                        not self.health_last_check.isChecked())
        self.changed.emit()

    def load(self, definition: JobDefinition | None) -> None:
        if definition is None:
            return
        if self.repository_combo.findText(definition.repository) < 0:
            self.repository_combo.addItem(definition.repository)
        self.repository_combo.setCurrentText(definition.repository)
        self.retain_spin.setValue(definition.retain_points)
        for period, box in self.gfs_spins.items():
            box.setValue(getattr(definition.gfs, f"keep_{period}"))
        self._job = definition
        self._fetch_points(definition.name)
        self.slots_spin.setValue(definition.task_slots)
        self.throttle_check.setChecked(definition.throttle_mbps is not None)
        if definition.throttle_mbps is not None:
            self.throttle_spin.setValue(definition.throttle_mbps)
        plan = definition.active_full
        self.active_full_check.setChecked(plan is not None)
        if plan is not None:
            (self.weekly_radio if plan.kind is ActiveFullKind.WEEKLY
             else self.monthly_radio).setChecked(True)
            self.full_days.set_days(plan.days)
            self.month_day_spin.setValue(plan.day_of_month)
            self.month_last_check.setChecked(plan.last_day)
        check = definition.health_check
        self.health_check.setChecked(check is not None)
        if check is not None:
            (self.health_weekly_radio if check.kind is ActiveFullKind.WEEKLY
             else self.health_monthly_radio).setChecked(True)
            self.health_days.set_days(check.days)
            self.health_day_spin.setValue(check.day_of_month)
            self.health_last_check.setChecked(check.last_day)
            self.health_mode_combo.setCurrentIndex(max(0, self.health_mode_combo.findData(
                check.mode.value if check.mode is not None else "")))
        self._enable()

    def write(self, draft: dict[str, Any]) -> None:
        draft[F.REPOSITORY] = self.repository_combo.currentText()
        draft[F.RETAIN] = self.retain_spin.value()
        draft[F.GFS] = {f"keep_{period}": box.value() for period, box in self.gfs_spins.items()}
        draft[F.TASK_SLOTS] = self.slots_spin.value()
        draft[F.THROTTLE] = self.throttle_spin.value() if self.throttle_check.isChecked() \
            else None
        if not self.active_full_check.isChecked():
            draft[F.ACTIVE_FULL] = None
        else:
            weekly = self.weekly_radio.isChecked()
            draft[F.ACTIVE_FULL] = {
                "kind": (ActiveFullKind.WEEKLY if weekly else ActiveFullKind.MONTHLY).value,
                "days": [d.value for d in self.full_days.days()] if weekly else ["sat"],
                "day_of_month": self.month_day_spin.value(),
                "last_day": self.month_last_check.isChecked() and not weekly,
            }
        if not self.health_check.isChecked():
            draft[F.HEALTH_CHECK] = None
        else:
            weekly = self.health_weekly_radio.isChecked()
            draft[F.HEALTH_CHECK] = {
                "kind": (ActiveFullKind.WEEKLY if weekly else ActiveFullKind.MONTHLY).value,
                "days": [d.value for d in self.health_days.days()] if weekly else ["sun"],
                "day_of_month": self.health_day_spin.value(),
                "last_day": self.health_last_check.isChecked() and not weekly,
                "mode": self.health_mode_combo.currentData() or None,
            }

    def show_errors(self, errors: Mapping[str, str]) -> None:
        self.repository_error.show_error(errors.get(F.REPOSITORY))
        self.repository_details.setVisible(not errors.get(F.REPOSITORY))
        self.retain_error.show_error(errors.get(F.RETAIN) or errors.get(F.GFS))
        self.slots_error.show_error(errors.get(F.TASK_SLOTS))
        self.throttle_error.show_error(errors.get(F.THROTTLE))
        self.active_full_error.show_error(errors.get(F.ACTIVE_FULL))
        self.health_error.show_error(errors.get(F.HEALTH_CHECK))
