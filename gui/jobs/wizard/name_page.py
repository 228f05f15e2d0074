"""The wizard's Name step: the job's name and description."""
from __future__ import annotations

import getpass
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from PySide6.QtWidgets import QLabel, QLineEdit, QWidget

from core.models import JobDefinition

from gui.jobs.wizard import draft as F
from gui.jobs.wizard.fields import ErrorLabel, WizardPage


class NamePage(WizardPage):
    def __init__(self, default_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._default_name = default_name
        self.layout_.addWidget(QLabel("Name:", self))
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("JobName")
        self.name_edit.setMaxLength(F.MAX_NAME)
        self.layout_.addWidget(self.name_edit)
        self.name_error = ErrorLabel(self)
        self.layout_.addWidget(self.name_error)
        self.layout_.addSpacing(6)
        self.layout_.addWidget(QLabel("Description:", self))
        self.description_edit = QLineEdit(self)
        self.description_edit.setObjectName("JobDescription")
        self.layout_.addWidget(self.description_edit)
        self.description_error = ErrorLabel(self)
        self.layout_.addWidget(self.description_error)
        self.layout_.addStretch(1)
        self.name_edit.textChanged.connect(self._emit)
        self.description_edit.textChanged.connect(self._emit)

    def load(self, definition: JobDefinition | None) -> None:
        if definition is None:
            self.name_edit.setText(self._default_name)
            stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
            self.description_edit.setText(f"Created by {getpass.getuser()} at {stamp}.")
        else:
            self.name_edit.setText(definition.name)
            self.description_edit.setText(definition.description)
        self.name_edit.selectAll()

    def write(self, draft: dict[str, Any]) -> None:
        draft[F.NAME] = self.name_edit.text()
        draft[F.DESCRIPTION] = self.description_edit.text()

    def show_errors(self, errors: Mapping[str, str]) -> None:
        self.name_error.show_error(errors.get(F.NAME))
        self.description_error.show_error(errors.get(F.DESCRIPTION))
