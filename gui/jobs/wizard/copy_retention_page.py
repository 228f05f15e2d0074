"""The backup copy wizard's Retention step: how many copied restore points the
copy job keeps (the last N and GFS, as the backup wizard's Storage step asks),
how many computers it copies at once, the transfer rate limit, and the scheduled
health check of the copies (the backup wizard's section)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QGridLayout, QLabel, QWidget

from core.models import JobDefinition

from gui.jobs.wizard import draft as F
from gui.jobs.wizard.fields import ErrorLabel, WizardPage, spin
from gui.jobs.wizard.health_fields import HealthCheckFields
from gui.jobs.wizard.retention_fields import RetentionFields


class CopyRetentionPage(WizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        self.retention = RetentionFields(self, grid, 0,
                                         unit="copied restore points to keep per computer")
        self.retain_spin = self.retention.retain_spin
        self.gfs_spins = self.retention.gfs_spins
        self.retain_error = self.retention.retain_error

        grid.addWidget(QLabel("Task slots:", self), 3, 0)
        self.slots_spin = spin(self, 1, 64, 2)
        self.slots_spin.setObjectName("TaskSlots")
        grid.addWidget(self.slots_spin, 3, 1)
        grid.addWidget(QLabel("computers copied at the same time", self), 3, 2)
        self.slots_error = ErrorLabel(self)
        grid.addWidget(self.slots_error, 4, 1, 1, 2)

        self.throttle_check = QCheckBox("Limit the transfer rate to", self)
        grid.addWidget(self.throttle_check, 5, 0)
        self.throttle_spin = QDoubleSpinBox(self)
        self.throttle_spin.setObjectName("Throttle")
        self.throttle_spin.setRange(0.0, 100_000.0)
        self.throttle_spin.setDecimals(1)
        self.throttle_spin.setValue(10.0)
        self.throttle_spin.setFixedWidth(90)
        grid.addWidget(self.throttle_spin, 5, 1)
        grid.addWidget(QLabel("MB/s per computer", self), 5, 2)
        self.throttle_error = ErrorLabel(self)
        grid.addWidget(self.throttle_error, 6, 1, 1, 2)
        grid.setColumnStretch(2, 1)
        self.layout_.addLayout(grid)
        self.layout_.addWidget(self._caption(
            "The copy job's retention is its own: the source job's retention removes its "
            "points in its repository, this one removes copies in the target repository. "
            "GFS points are the newest copied point of each day, ISO week, month and year."))
        self.health = HealthCheckFields(self, what="copied restore points", after="copy")
        self.layout_.addSpacing(6)
        self.retention.add_preview(self.layout_)
        self.layout_.addStretch(1)

        self.retention.connect(self._emit)
        self.slots_spin.valueChanged.connect(self._emit)
        self.throttle_spin.valueChanged.connect(self._emit)
        self.throttle_check.toggled.connect(self._enable)
        self.health.connect(self._emit, self._enable)
        self._enable()

    def _enable(self, *_args: object) -> None:
        self.throttle_spin.setEnabled(self.throttle_check.isChecked())
        self.health.enable()
        self.changed.emit()

    def load(self, definition: JobDefinition | None) -> None:
        if definition is None:
            return
        self.retention.load(definition)
        self.slots_spin.setValue(definition.task_slots)
        self.throttle_check.setChecked(definition.throttle_mbps is not None)
        if definition.throttle_mbps is not None:
            self.throttle_spin.setValue(definition.throttle_mbps)
        self.health.load(definition)
        self._enable()

    def write(self, draft: dict[str, Any]) -> None:
        self.retention.write(draft)
        draft[F.TASK_SLOTS] = self.slots_spin.value()
        draft[F.THROTTLE] = self.throttle_spin.value() if self.throttle_check.isChecked() \
            else None
        self.health.write(draft)

    def show_errors(self, errors: Mapping[str, str]) -> None:
        self.retention.show_errors(errors)
        self.slots_error.show_error(errors.get(F.TASK_SLOTS))
        self.throttle_error.show_error(errors.get(F.THROTTLE))
        self.health.show_errors(errors)
