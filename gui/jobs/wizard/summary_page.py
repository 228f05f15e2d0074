"""The wizard's Summary step: the settings in words, and what is left to fix."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape
from typing import Any

from PySide6.QtWidgets import QCheckBox, QLabel, QTextBrowser, QWidget

from core.api import describe_settings
from core.models import JobDefinition

from gui.jobs.wizard import draft as F
from gui.jobs.wizard.fields import WizardPage


class SummaryPage(WizardPage):
    def __init__(self, parent: QWidget | None = None,
                 page_of_field: Mapping[str, str] = F.PAGE_OF_FIELD) -> None:
        """``page_of_field``: the step that shows each field (the wizard's own map)."""
        super().__init__(parent)
        self._page_of_field = page_of_field
        self.summary = QTextBrowser(self)
        self.summary.setObjectName("JobSummary")
        self.summary.setOpenLinks(False)
        self.layout_.addWidget(self.summary, 1)
        self.problems = QLabel("", self)
        self.problems.setObjectName("FieldError")
        self.problems.setWordWrap(True)
        self.layout_.addWidget(self.problems)
        self.run_check = QCheckBox("Run the job when I click Finish", self)
        self.run_check.setObjectName("RunOnFinish")
        self.layout_.addWidget(self.run_check)

    def load(self, definition: JobDefinition | None) -> None:
        pass

    def write(self, draft: dict[str, Any]) -> None:
        pass

    def show_errors(self, errors: Mapping[str, str]) -> None:
        if errors:
            pages = self._page_of_field
            order = list(dict.fromkeys(pages.values()))
            keys = sorted(errors, key=lambda k: order.index(pages.get(k, "Name")))
            lines = [f"{pages.get(key, 'Name')}: {errors[key]}" for key in keys]
            self.problems.setText("Before you can finish:\n" + "\n".join(lines))
        else:
            self.problems.setText("")

    def show_settings(self, definition: JobDefinition | None,
                      words: Callable[[JobDefinition], list[tuple[str, str]]] = describe_settings
                      ) -> None:
        if definition is None:
            self.summary.setHtml("<p>The settings are not complete yet.</p>")
            return
        rows = "".join(f"<tr><td class='k'>{escape(label)}:</td><td>{escape(text)}</td></tr>"
                       for label, text in words(definition))
        self.summary.setHtml(
            "<style>td{padding:2px 10px 2px 0;vertical-align:top}"
            "td.k{color:#52606A;white-space:nowrap}</style>"
            f"<table>{rows}</table>")

    def text(self) -> str:
        return self.summary.toPlainText()
