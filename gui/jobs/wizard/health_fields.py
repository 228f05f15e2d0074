"""The scheduled health check, as both job wizards ask for it (the same fields
as ``agent-jobs job set --health-check-weekly/--health-check-monthly/
--no-health-check``): weekly on days or monthly on a day (or the last), and the
check's mode.

The backup wizard's Storage step and the backup copy wizard's Retention step
place the same section: :class:`HealthCheckFields` adds it to the page's layout,
and the page forwards load, write and errors.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtWidgets import (
    QButtonGroup, QCheckBox, QComboBox, QGridLayout, QLabel, QRadioButton, QWidget,
)

from core.models import ActiveFullKind, HealthCheckMode, JobDefinition
from core.scheduling.schedule import Weekday

from gui.jobs.wizard import draft as F
from gui.jobs.wizard.fields import INDENT, DayChecks, ErrorLabel, WizardPage, spin

# The health check's modes: (the words, the model's value; "" lets the server choose).
HEALTH_MODES = [("Automatic: full for a folder, light for S3", ""),
                ("Full: read every block back", HealthCheckMode.FULL.value),
                ("Light: list and size every object, read no data", HealthCheckMode.LIGHT.value)]


class HealthCheckFields:
    """The Health check section of a wizard page, added to its layout."""

    def __init__(self, page: WizardPage, *, what: str = "job's restore points",
                 after: str = "backup") -> None:
        layout = page.layout_
        layout.addWidget(page._section("Health check"))
        self.health_check = QCheckBox(f"Check the {what} periodically", page)
        self.health_check.setObjectName("HealthCheck")
        layout.addWidget(self.health_check)
        layout.addWidget(page._caption(
            f"After the first scheduled {after} on these days, a Verify session checks the "
            f"{what}."))
        grid = QGridLayout()
        grid.setContentsMargins(INDENT, 0, 0, 0)
        self.health_weekly_radio = QRadioButton("Weekly on:", page)
        self.health_monthly_radio = QRadioButton("Monthly on day", page)
        group = QButtonGroup(page)
        group.addButton(self.health_weekly_radio)
        group.addButton(self.health_monthly_radio)
        self.health_weekly_radio.setChecked(True)
        self.health_days = DayChecks(page, (Weekday.SUN,))
        self.health_day_spin = spin(page, 1, 31, 1)
        self.health_last_check = QCheckBox("the last day of the month", page)
        self.health_mode_combo = QComboBox(page)
        self.health_mode_combo.setObjectName("HealthCheckMode")
        for text, mode in HEALTH_MODES:
            self.health_mode_combo.addItem(text, mode)
        grid.addWidget(self.health_weekly_radio, 0, 0)
        grid.addWidget(self.health_days, 0, 1, 1, 2)
        grid.addWidget(self.health_monthly_radio, 1, 0)
        grid.addWidget(self.health_day_spin, 1, 1)
        grid.addWidget(self.health_last_check, 1, 2)
        grid.addWidget(QLabel("Mode:", page), 2, 0)
        grid.addWidget(self.health_mode_combo, 2, 1, 1, 2)
        grid.setColumnStretch(2, 1)
        layout.addLayout(grid)
        self.health_error = ErrorLabel(page)
        layout.addWidget(self.health_error)

    def connect(self, changed: Callable[..., Any], enable: Callable[..., Any]) -> None:
        """``changed`` on every edit; ``enable`` when a choice turns fields on or off."""
        for box in (self.health_check, self.health_weekly_radio, self.health_last_check):
            box.toggled.connect(enable)
        for signal in (self.health_days.changed, self.health_day_spin.valueChanged,
                       self.health_mode_combo.currentIndexChanged):
            signal.connect(changed)

    def enable(self) -> None:
        on = self.health_check.isChecked()
        weekly = self.health_weekly_radio.isChecked()
        controls: tuple[QWidget, ...] = (self.health_weekly_radio, self.health_monthly_radio,
                                         self.health_mode_combo)
        for control in controls:
            control.setEnabled(on)
        self.health_days.setEnabled(on and weekly)
        self.health_last_check.setEnabled(on and not weekly)
        self.health_day_spin.setEnabled(on and not weekly and
                                        not self.health_last_check.isChecked())

    def load(self, definition: JobDefinition) -> None:
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

    def write(self, draft: dict[str, Any]) -> None:
        if not self.health_check.isChecked():
            draft[F.HEALTH_CHECK] = None
            return
        weekly = self.health_weekly_radio.isChecked()
        draft[F.HEALTH_CHECK] = {
            "kind": (ActiveFullKind.WEEKLY if weekly else ActiveFullKind.MONTHLY).value,
            "days": [d.value for d in self.health_days.days()] if weekly else ["sun"],
            "day_of_month": self.health_day_spin.value(),
            "last_day": self.health_last_check.isChecked() and not weekly,
            "mode": self.health_mode_combo.currentData() or None,
        }

    def show_errors(self, errors: Mapping[str, str]) -> None:
        self.health_error.show_error(errors.get(F.HEALTH_CHECK))
