"""The wizard's Notifications step: which results of the job's sessions are
sent (e-mail and notification URLs, set in main menu → Options →
Notifications), only after the last retry or not, extra recipients, and the
RPO alert."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QCheckBox, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QWidget

from core.models import DEFAULT_NOTIFY_ON, JobDefinition, JobNotify, NotifyOn

from gui.jobs.wizard import draft as F
from gui.jobs.wizard.fields import ErrorLabel, WizardPage, spin

RESULT_WORDS = {NotifyOn.FAILURE: "Failed", NotifyOn.WARNING: "Warning",
                NotifyOn.SUCCESS: "Success"}


class NotificationsPage(WizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_.addWidget(self._caption(
            "The backup server sends these by e-mail and to its notification URLs (main menu "
            "→ Options → Notifications). A session stopped by you or by the backup window "
            "says so in the subject."))
        self.layout_.addWidget(self._section("Notify when a session ends"))
        row = QHBoxLayout()
        row.setSpacing(16)
        self.result_checks: dict[NotifyOn, QCheckBox] = {}
        for result in (NotifyOn.FAILURE, NotifyOn.WARNING, NotifyOn.SUCCESS):
            box = QCheckBox(RESULT_WORDS[result], self)
            box.setObjectName(f"NotifyOn{RESULT_WORDS[result]}")
            box.toggled.connect(self._emit)
            self.result_checks[result] = box
            row.addWidget(box)
        row.addStretch(1)
        self.layout_.addLayout(row)
        self.last_retry_check = QCheckBox(
            "Only after the last retry (a failed scheduled run that will be retried says "
            "nothing yet)", self)
        self.last_retry_check.setObjectName("NotifyLastRetryOnly")
        self.last_retry_check.toggled.connect(self._emit)
        self.layout_.addWidget(self.last_retry_check)

        self.layout_.addWidget(self._section("Extra recipients"))
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.addWidget(QLabel("Also e-mail to:", self), 0, 0)
        self.to_edit = QLineEdit(self)
        self.to_edit.setObjectName("NotifyTo")
        self.to_edit.setPlaceholderText("name@example.com, another@example.com")
        self.to_edit.textChanged.connect(self._emit)
        grid.addWidget(self.to_edit, 0, 1)
        self.to_error = ErrorLabel(self)
        grid.addWidget(self.to_error, 1, 1)
        grid.setColumnStretch(1, 1)
        self.layout_.addLayout(grid)

        self.layout_.addWidget(self._section("Recovery point objective"))
        rpo = QHBoxLayout()
        self.rpo_check = QCheckBox("Alert when a computer has had no new restore point for",
                                   self)
        self.rpo_check.setObjectName("NotifyRpo")
        self.rpo_spin = spin(self, 1, 8760, 24)
        self.rpo_spin.setObjectName("NotifyRpoHours")
        rpo.addWidget(self.rpo_check)
        rpo.addWidget(self.rpo_spin)
        rpo.addWidget(QLabel("hours (sent once, until it gets one)", self))
        rpo.addStretch(1)
        self.layout_.addLayout(rpo)
        self.rpo_error = ErrorLabel(self)
        self.layout_.addWidget(self.rpo_error)
        self.layout_.addStretch(1)
        self.rpo_check.toggled.connect(self._rpo_toggled)
        self.rpo_spin.valueChanged.connect(self._emit)
        self._rpo_toggled()

    def _rpo_toggled(self, *_args: object) -> None:
        self.rpo_spin.setEnabled(self.rpo_check.isChecked())
        self._emit()

    def load(self, definition: JobDefinition | None) -> None:
        notify = definition.notify if definition is not None else JobNotify()
        for result, box in self.result_checks.items():
            box.setChecked(result in (notify.on if definition is not None
                                      else DEFAULT_NOTIFY_ON))
        self.last_retry_check.setChecked(notify.last_retry_only)
        self.to_edit.setText(", ".join(notify.to))
        self.rpo_check.setChecked(notify.rpo_hours is not None)
        if notify.rpo_hours is not None:
            self.rpo_spin.setValue(notify.rpo_hours)

    def write(self, draft: dict[str, Any]) -> None:
        draft[F.NOTIFY] = {
            "on": [r.value for r, box in self.result_checks.items() if box.isChecked()],
            "last_retry_only": self.last_retry_check.isChecked(),
            "to": [a.strip() for a in self.to_edit.text().replace(";", ",").split(",")
                   if a.strip()],
            "rpo_hours": self.rpo_spin.value() if self.rpo_check.isChecked() else None,
        }

    def show_errors(self, errors: Mapping[str, str]) -> None:
        text = errors.get(F.NOTIFY)
        self.to_error.show_error(text if text and "address" in text else None)
        self.rpo_error.show_error(text if text and "address" not in text else None)
