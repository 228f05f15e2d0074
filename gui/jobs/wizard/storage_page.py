"""The wizard's Storage step: the backup repository, retention (the last N and GFS: daily,
weekly, monthly, yearly points, with a preview of what an existing job's points become),
task slots, read rate limit, yielding to production, periodic active full backups and the scheduled health check."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QLabel, QRadioButton,
    QWidget,
)
from shiboken6 import isValid

from core.api import RepositoryInfo
from core.models import ActiveFullKind, JobDefinition, RestorePointInfo
from core.scheduling.retention import GfsRetention
from core.scheduling.schedule import Weekday

from gui.jobs.wizard import draft as F
from gui.jobs.wizard.computer_dialog import console_backend
from gui.jobs.wizard.fields import INDENT, DayChecks, ErrorLabel, WizardPage, spin
from gui.jobs.wizard.health_fields import HealthCheckFields
from gui.jobs.wizard.retention_fields import RetentionFields
from gui.widgets.formatting import bytes_text

# Shown until the server's list arrives. The same name as the server's default
# repository, which neither core.api nor core.models exports yet.
DEFAULT_REPOSITORY = "Default Backup Repository"


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

        self.retention = RetentionFields(self, grid, 2)
        # the fields by their old names (tests and callers read them here)
        self.retain_spin = self.retention.retain_spin
        self.gfs_spins = self.retention.gfs_spins
        self.retain_error = self.retention.retain_error
        self.retention_summary = self.retention.retention_summary
        self.retention_tree = self.retention.retention_tree

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

        self.yield_check = QCheckBox("Yield to production above", self)
        self.yield_check.setObjectName("YieldToProduction")
        self.yield_check.setToolTip(
            "Each computer watches its own pressure (Linux PSI: io and cpu). While it is "
            "above this percent the backup lowers its read rate and holds at a chunk "
            "boundary; it ramps back up when the pressure falls.")
        grid.addWidget(self.yield_check, 9, 0)
        self.pressure_spin = spin(self, 1, 100, 20)
        self.pressure_spin.setObjectName("PressureThreshold")
        self.pressure_spin.setSuffix(" %")
        self.pressure_spin.setFixedWidth(90)
        grid.addWidget(self.pressure_spin, 9, 1)
        grid.addWidget(QLabel("pressure on the computer (io or cpu)", self), 9, 2)
        self.pressure_error = ErrorLabel(self)
        grid.addWidget(self.pressure_error, 10, 1, 1, 2)
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

        self.retention.add_preview(self.layout_)
        self.layout_.addStretch(1)

        self.repository_combo.currentIndexChanged.connect(self._show_repository)
        self.retention.connect(self._emit)
        for signal in (self.repository_combo.currentIndexChanged,
                       self.slots_spin.valueChanged, self.throttle_spin.valueChanged,
                       self.pressure_spin.valueChanged,
                       self.full_days.changed, self.month_day_spin.valueChanged):
            signal.connect(self._emit)
        for box in (self.throttle_check, self.yield_check, self.active_full_check, self.weekly_radio,
                    self.month_last_check):
            box.toggled.connect(self._enable)
        self.health.connect(self._emit, self._enable)
        self._enable()

    def _health_section(self) -> None:
        """Health check: weekly on days or monthly on a day, as Veeam's option."""
        self.health = HealthCheckFields(self)
        # the fields by their names on this page (tests and callers read them here)
        self.health_check = self.health.health_check
        self.health_weekly_radio = self.health.health_weekly_radio
        self.health_monthly_radio = self.health.health_monthly_radio
        self.health_days = self.health.health_days
        self.health_day_spin = self.health.health_day_spin
        self.health_last_check = self.health.health_last_check
        self.health_mode_combo = self.health.health_mode_combo
        self.health_error = self.health.health_error

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

    @property
    def job_points(self) -> list[RestorePointInfo] | None:
        """The edited job's points, once fetched (for the retention preview)."""
        return self.retention.job_points

    def gfs(self) -> GfsRetention:
        return self.retention.gfs()

    def _enable(self, *_args: object) -> None:
        self.throttle_spin.setEnabled(self.throttle_check.isChecked())
        self.pressure_spin.setEnabled(self.yield_check.isChecked())
        on = self.active_full_check.isChecked()
        weekly = self.weekly_radio.isChecked()
        for widget in (self.weekly_radio, self.monthly_radio):
            widget.setEnabled(on)
        self.full_days.setEnabled(on and weekly)
        self.month_last_check.setEnabled(on and not weekly)
        self.month_day_spin.setEnabled(on and not weekly and not self.month_last_check.isChecked())
        self.health.enable()
        self.changed.emit()

    def load(self, definition: JobDefinition | None) -> None:
        if definition is None:
            return
        if self.repository_combo.findText(definition.repository) < 0:
            self.repository_combo.addItem(definition.repository)
        self.repository_combo.setCurrentText(definition.repository)
        self.retention.load(definition)
        self.slots_spin.setValue(definition.task_slots)
        self.throttle_check.setChecked(definition.throttle_mbps is not None)
        if definition.throttle_mbps is not None:
            self.throttle_spin.setValue(definition.throttle_mbps)
        self.yield_check.setChecked(definition.yield_to_production)
        self.pressure_spin.setValue(definition.pressure_threshold)
        plan = definition.active_full
        self.active_full_check.setChecked(plan is not None)
        if plan is not None:
            (self.weekly_radio if plan.kind is ActiveFullKind.WEEKLY
             else self.monthly_radio).setChecked(True)
            self.full_days.set_days(plan.days)
            self.month_day_spin.setValue(plan.day_of_month)
            self.month_last_check.setChecked(plan.last_day)
        self.health.load(definition)
        self._enable()

    def write(self, draft: dict[str, Any]) -> None:
        draft[F.REPOSITORY] = self.repository_combo.currentText()
        self.retention.write(draft)
        draft[F.TASK_SLOTS] = self.slots_spin.value()
        draft[F.THROTTLE] = self.throttle_spin.value() if self.throttle_check.isChecked() \
            else None
        draft[F.YIELD] = self.yield_check.isChecked()
        draft[F.PRESSURE] = self.pressure_spin.value()
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
        self.health.write(draft)

    def show_errors(self, errors: Mapping[str, str]) -> None:
        self.repository_error.show_error(errors.get(F.REPOSITORY))
        self.repository_details.setVisible(not errors.get(F.REPOSITORY))
        self.retention.show_errors(errors)
        self.slots_error.show_error(errors.get(F.TASK_SLOTS))
        self.throttle_error.show_error(errors.get(F.THROTTLE))
        self.pressure_error.show_error(errors.get(F.PRESSURE) or errors.get(F.YIELD))
        self.active_full_error.show_error(errors.get(F.ACTIVE_FULL))
        self.health.show_errors(errors)
