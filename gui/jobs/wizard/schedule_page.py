"""The wizard's Schedule step: when the job runs by itself, automatic retry,
the backup window, and the next runs."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QTime, Qt
from PySide6.QtWidgets import (
    QButtonGroup, QCheckBox, QComboBox, QGridLayout, QHBoxLayout, QLabel, QRadioButton,
    QTimeEdit, QWidget,
)

from core.models import JobDefinition
from core.scheduling.schedule import ALL_DAYS, WEEKDAYS, ScheduleKind, Weekday

from gui.jobs.wizard import draft as F
from gui.jobs.wizard.fields import INDENT, DayChecks, ErrorLabel, WizardPage, spin

TIME_FORMAT = "HH:mm"


def _hhmm(edit: QTimeEdit) -> str:
    return edit.time().toString(TIME_FORMAT)


def _set_hhmm(edit: QTimeEdit, text: str) -> None:
    edit.setTime(QTime.fromString(text, TIME_FORMAT))


def _time_edit(parent: QWidget, text: str = "22:00") -> QTimeEdit:
    edit = QTimeEdit(parent)
    edit.setDisplayFormat(TIME_FORMAT)
    edit.setWrapping(True)
    _set_hhmm(edit, text)
    return edit


DAILY_CHOICES: list[tuple[str, tuple[Weekday, ...] | None]] = [
    ("Everyday", ALL_DAYS), ("On weekdays", WEEKDAYS), ("On these days:", None),
]


class SchedulePage(WizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.auto_check = QCheckBox("Run the job automatically", self)
        self.auto_check.setObjectName("RunAutomatically")
        self.layout_.addWidget(self.auto_check)

        grid = QGridLayout()
        grid.setContentsMargins(INDENT, 2, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(6)
        self.daily_radio = QRadioButton("Daily at this time:", self)
        self.monthly_radio = QRadioButton("Monthly at this time:", self)
        self.periodic_radio = QRadioButton("Periodically every:", self)
        kinds = QButtonGroup(self)
        for radio in (self.daily_radio, self.monthly_radio, self.periodic_radio):
            kinds.addButton(radio)
        self.daily_radio.setChecked(True)

        self.daily_time = _time_edit(self)
        self.daily_kind = QComboBox(self)
        for text, _days in DAILY_CHOICES:
            self.daily_kind.addItem(text)
        self.daily_days = DayChecks(self)
        grid.addWidget(self.daily_radio, 0, 0)
        grid.addWidget(self.daily_time, 0, 1)
        grid.addWidget(self.daily_kind, 0, 2)
        grid.addWidget(self.daily_days, 1, 1, 1, 3)

        self.monthly_time = _time_edit(self)
        self.month_day = spin(self, 1, 31, 1)
        self.month_last = QCheckBox("on the last day of the month", self)
        month_row = QHBoxLayout()
        month_row.addWidget(QLabel("on day", self))
        month_row.addWidget(self.month_day)
        month_row.addWidget(self.month_last)
        month_row.addStretch(1)
        grid.addWidget(self.monthly_radio, 2, 0)
        grid.addWidget(self.monthly_time, 2, 1)
        grid.addLayout(month_row, 2, 2, 1, 2)

        self.every_spin = spin(self, 1, 10080, 1)
        self.every_spin.setObjectName("EveryCount")
        self.every_unit = QComboBox(self)
        self.every_unit.addItems(["Hours", "Minutes"])
        grid.addWidget(self.periodic_radio, 3, 0)
        grid.addWidget(self.every_spin, 3, 1)
        grid.addWidget(self.every_unit, 3, 2)
        grid.setColumnStretch(3, 1)
        self.layout_.addLayout(grid)
        self.schedule_error = ErrorLabel(self)
        self.layout_.addWidget(self._indented(self.schedule_error))

        self.layout_.addWidget(self._section("Automatic retry"))
        retry_row = QHBoxLayout()
        self.retry_check = QCheckBox("Retry failed computers", self)
        self.retries_spin = spin(self, 1, 100, 3)
        self.retries_spin.setObjectName("Retries")
        self.retry_wait_spin = spin(self, 1, 1440, 10)
        self.retry_wait_spin.setObjectName("RetryWait")
        retry_row.addWidget(self.retry_check)
        retry_row.addWidget(self.retries_spin)
        retry_row.addWidget(QLabel("times, waiting", self))
        retry_row.addWidget(self.retry_wait_spin)
        retry_row.addWidget(QLabel("minutes before each retry", self))
        retry_row.addStretch(1)
        self.layout_.addLayout(retry_row)

        self.layout_.addSpacing(6)
        self.layout_.addWidget(self._section("Backup window"))
        window_row = QHBoxLayout()
        self.window_check = QCheckBox("Start scheduled runs only from", self)
        self.window_check.setObjectName("UseWindow")
        self.window_start = _time_edit(self, "22:00")
        self.window_end = _time_edit(self, "06:00")
        window_row.addWidget(self.window_check)
        window_row.addWidget(self.window_start)
        window_row.addWidget(QLabel("to", self))
        window_row.addWidget(self.window_end)
        window_row.addStretch(1)
        self.layout_.addLayout(window_row)
        window_days_row = QHBoxLayout()
        window_days_row.setContentsMargins(INDENT, 0, 0, 0)
        window_days_row.addWidget(QLabel("opening on", self))
        self.window_days = DayChecks(self)
        window_days_row.addWidget(self.window_days, 1)
        self.layout_.addLayout(window_days_row)
        window_stop_row = QHBoxLayout()
        window_stop_row.setContentsMargins(INDENT, 0, 0, 0)
        window_stop_row.addWidget(QLabel("When the window closes on a running job:", self))
        self.window_stop = QComboBox(self)
        self.window_stop.setObjectName("WindowStop")
        self.window_stop.addItem("Stop it gracefully")
        self.window_stop.addItem("Stop it immediately")
        self.window_stop.setItemData(0, "Computers in progress finish; no new computer starts",
                                     Qt.ItemDataRole.ToolTipRole)
        self.window_stop.setItemData(1, "Computers in progress are cancelled and get no "
                                     "restore point", Qt.ItemDataRole.ToolTipRole)
        self.window_stop.addItem("Pause it, resume when the window opens")
        self.window_stop.setItemData(2, "Computers in progress are held and keep what they "
                                     "sent; the job goes on when the window opens again",
                                     Qt.ItemDataRole.ToolTipRole)
        window_stop_row.addWidget(self.window_stop)
        window_stop_row.addStretch(1)
        self.layout_.addLayout(window_stop_row)
        self.window_error = ErrorLabel(self)
        self.layout_.addWidget(self._indented(self.window_error))

        self.layout_.addSpacing(6)
        self.layout_.addWidget(self._section("Next runs"))
        self.next_runs = QLabel("", self)
        self.next_runs.setObjectName("NextRuns")
        self.next_runs.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.layout_.addWidget(self.next_runs)
        self.layout_.addStretch(1)

        for signal in (self.daily_time.timeChanged, self.daily_kind.currentIndexChanged,
                       self.daily_days.changed, self.monthly_time.timeChanged,
                       self.month_day.valueChanged, self.every_spin.valueChanged,
                       self.every_unit.currentIndexChanged, self.retries_spin.valueChanged,
                       self.retry_wait_spin.valueChanged, self.window_start.timeChanged,
                       self.window_end.timeChanged, self.window_days.changed,
                       self.window_stop.currentIndexChanged):
            signal.connect(self._enable)
        for box in (self.auto_check, self.daily_radio, self.monthly_radio, self.periodic_radio,
                    self.month_last, self.retry_check, self.window_check):
            box.toggled.connect(self._enable)
        self.daily_kind.currentIndexChanged.connect(self._daily_kind_chosen)
        self.retry_check.setChecked(True)
        self._enable()

    def _daily_kind_chosen(self, index: int) -> None:
        days = DAILY_CHOICES[index][1]
        if days is not None:
            self.daily_days.set_days(days)

    def _enable(self, *_args: object) -> None:
        on = self.auto_check.isChecked()
        daily, monthly, periodic = (self.daily_radio.isChecked(), self.monthly_radio.isChecked(),
                                    self.periodic_radio.isChecked())
        for radio in (self.daily_radio, self.monthly_radio, self.periodic_radio):
            radio.setEnabled(on)
        self.daily_time.setEnabled(on and daily)
        self.daily_kind.setEnabled(on and daily)
        custom = DAILY_CHOICES[self.daily_kind.currentIndex()][1] is None
        self.daily_days.setEnabled(on and daily and custom)
        self.monthly_time.setEnabled(on and monthly)
        self.month_last.setEnabled(on and monthly)
        self.month_day.setEnabled(on and monthly and not self.month_last.isChecked())
        self.every_spin.setEnabled(on and periodic)
        self.every_unit.setEnabled(on and periodic)
        self.retry_check.setEnabled(on)
        self.retries_spin.setEnabled(on and self.retry_check.isChecked())
        self.retry_wait_spin.setEnabled(on and self.retry_check.isChecked())
        self.window_check.setEnabled(on)
        windowed = on and self.window_check.isChecked()
        for widget in (self.window_start, self.window_end, self.window_days, self.window_stop):
            widget.setEnabled(windowed)
        self.changed.emit()

    def load(self, definition: JobDefinition | None) -> None:
        schedule = definition.schedule if definition else None
        if schedule is not None:
            if schedule.kind is ScheduleKind.DAILY:
                self.daily_radio.setChecked(True)
            elif schedule.kind is ScheduleKind.MONTHLY:
                self.monthly_radio.setChecked(True)
            else:
                self.periodic_radio.setChecked(True)
            _set_hhmm(self.daily_time, schedule.at)
            _set_hhmm(self.monthly_time, schedule.at)
            index = next((i for i, (_t, days) in enumerate(DAILY_CHOICES)
                          if days == schedule.days), len(DAILY_CHOICES) - 1)
            self.daily_kind.setCurrentIndex(index)
            self.daily_days.set_days(schedule.days)
            self.month_day.setValue(schedule.day_of_month)
            self.month_last.setChecked(schedule.last_day)
            hours = schedule.every_minutes % 60 == 0
            self.every_unit.setCurrentIndex(0 if hours else 1)
            self.every_spin.setValue(schedule.every_minutes // 60 if hours
                                     else schedule.every_minutes)
            self.retry_check.setChecked(schedule.retries > 0)
            if schedule.retries > 0:
                self.retries_spin.setValue(schedule.retries)
            self.retry_wait_spin.setValue(schedule.retry_wait_minutes)
            window = schedule.window
            self.window_check.setChecked(window is not None)
            if window is not None:
                _set_hhmm(self.window_start, window.start)
                _set_hhmm(self.window_end, window.end)
                self.window_days.set_days(window.days)
                self.window_stop.setCurrentIndex(1 if window.terminate else
                                                 2 if window.pause else 0)
        self.auto_check.setChecked(schedule is not None)
        self._enable()

    def schedule_draft(self) -> dict[str, Any] | None:
        if not self.auto_check.isChecked():
            return None
        if self.daily_radio.isChecked():
            kind, at = ScheduleKind.DAILY, _hhmm(self.daily_time)
        elif self.monthly_radio.isChecked():
            kind, at = ScheduleKind.MONTHLY, _hhmm(self.monthly_time)
        else:
            kind, at = ScheduleKind.PERIODICALLY, "22:00"
        every = self.every_spin.value() * (60 if self.every_unit.currentIndex() == 0 else 1)
        draft: dict[str, Any] = {
            "kind": kind.value, "at": at,
            "days": [d.value for d in self.daily_days.days()] if kind is ScheduleKind.DAILY
            else [d.value for d in ALL_DAYS],
            "day_of_month": self.month_day.value(), "last_day": self.month_last.isChecked(),
            "every_minutes": every,
            "retries": self.retries_spin.value() if self.retry_check.isChecked() else 0,
            "retry_wait_minutes": self.retry_wait_spin.value(),
            "window": None,
        }
        if self.window_check.isChecked():
            draft["window"] = {"start": _hhmm(self.window_start), "end": _hhmm(self.window_end),
                               "days": [d.value for d in self.window_days.days()],
                               "terminate": self.window_stop.currentIndex() == 1,
                               "pause": self.window_stop.currentIndex() == 2}
        return draft

    def write(self, draft: dict[str, Any]) -> None:
        draft[F.SCHEDULE] = self.schedule_draft()

    def show_errors(self, errors: Mapping[str, str]) -> None:
        self.schedule_error.show_error(errors.get(F.SCHEDULE))
        self.window_error.show_error(errors.get(F.WINDOW))

    def show_next_runs(self, runs: Sequence[datetime] | None) -> None:
        """``None``: not scheduled; an empty list: the schedule never runs."""
        if runs is None:
            text = ("Not scheduled: the job runs when you start it."
                    if not self.auto_check.isChecked() else "")
        elif not runs:
            text = "Never: no run of this schedule falls inside the backup window."
        else:
            text = "   ".join(run.astimezone().strftime("%a %Y-%m-%d %H:%M") for run in runs)
        self.next_runs.setText(text)
