"""What the pages of the New Agent Backup Job wizard share: the page base
(:class:`WizardPage`), the error line under a field, the week's day boxes, and
a number field.

Each page loads a job definition, writes its part of the draft (the dict a
:class:`JobDefinition` is validated from), shows the errors of its fields in
plain words next to them, and says ``changed`` whenever the operator edits.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from core.models import JobDefinition
from core.scheduling.schedule import ALL_DAYS, Weekday

INDENT = 22


def spin(parent: QWidget, low: int, high: int, value: int, width: int = 70) -> QSpinBox:
    spin = QSpinBox(parent)
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setFixedWidth(width)
    return spin


class ErrorLabel(QLabel):
    """A field's problem in plain words, right under the field. It keeps one
    line of room when empty, so fields do not jump as errors come and go."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__("", parent)
        self.setObjectName("FieldError")
        self.setWordWrap(True)
        self.setMinimumHeight(self.fontMetrics().height() + 2)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def show_error(self, text: str | None) -> None:
        self.setText(text or "")


class DayChecks(QWidget):
    """Seven check boxes, Mon to Sun."""

    changed = Signal()

    def __init__(self, parent: QWidget, days: Iterable[Weekday] = ALL_DAYS) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.boxes: dict[Weekday, QCheckBox] = {}
        for day in Weekday:
            box = QCheckBox(day.label, self)
            box.toggled.connect(lambda _=False: self.changed.emit())
            self.boxes[day] = box
            row.addWidget(box)
        row.addStretch(1)
        self.set_days(days)

    def days(self) -> tuple[Weekday, ...]:
        return tuple(day for day, box in self.boxes.items() if box.isChecked())

    def set_days(self, days: Iterable[Weekday]) -> None:
        chosen = set(days)
        for day, box in self.boxes.items():
            box.blockSignals(True)
            box.setChecked(day in chosen)
            box.blockSignals(False)
        self.changed.emit()


class WizardPage(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("WizardPage")
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(20, 16, 20, 12)
        self.layout_.setSpacing(4)

    def _emit(self, *_args: object) -> None:
        self.changed.emit()

    def _caption(self, text: str) -> QLabel:
        label = QLabel(text, self)
        label.setObjectName("WizardCaption")
        label.setWordWrap(True)
        return label

    def _section(self, text: str) -> QLabel:
        self.layout_.addSpacing(6)
        label = QLabel(text, self)
        label.setObjectName("WizardSection")
        return label

    def _indented(self, widget: QWidget) -> QWidget:
        """``widget`` in a row indented under the option above it."""
        holder = QWidget(self)
        row = QHBoxLayout(holder)
        row.setContentsMargins(INDENT, 0, 0, 0)
        row.addWidget(widget)
        return holder

    def load(self, definition: JobDefinition | None) -> None:
        raise NotImplementedError

    def write(self, draft: dict[str, Any]) -> None:
        raise NotImplementedError

    def show_errors(self, errors: Mapping[str, str]) -> None:
        raise NotImplementedError
