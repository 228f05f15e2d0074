"""The backup copy wizard's Target step: the repository the restore points are
copied to, what it is, and what copying does to the points' encryption."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QWidget

from core.api import RepositoryInfo
from core.models import JobDefinition, JobInfo

from gui.jobs.wizard import draft as F
from gui.jobs.wizard.copy_draft import encryption_note
from gui.jobs.wizard.fields import ErrorLabel, WizardPage
from gui.widgets.formatting import bytes_text

NOTE_LINES = 3   # the encryption note keeps this much room: the step never moves


def repository_line(repo: RepositoryInfo) -> str:
    """A repository in a line: type, place, free space, encryption, problem."""
    parts = ["S3 compatible" if repo.kind == "s3" else "Local folder", repo.location]
    if repo.free_bytes is not None:
        parts.append(f"{bytes_text(repo.free_bytes)} free")
    parts.append("encrypted" if repo.encrypted else "not encrypted")
    if repo.problem:
        parts.append(f"unavailable: {repo.problem}")
    return " · ".join(parts)


class TargetPage(WizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        grid.addWidget(QLabel("Backup repository:", self), 0, 0)
        self.repository_combo = QComboBox(self)
        self.repository_combo.setObjectName("TargetRepository")
        self.repository_combo.setPlaceholderText("Choose a repository")
        self.repository_combo.setMinimumWidth(320)
        grid.addWidget(self.repository_combo, 0, 1)
        # the error and the repository's details share one reserved line
        self.repository_error = ErrorLabel(self)
        grid.addWidget(self.repository_error, 1, 1)
        self.repository_details = self._caption("")
        self.repository_details.setObjectName("RepositoryDetails")
        grid.addWidget(self.repository_details, 1, 1)
        grid.setColumnStretch(1, 1)
        self.layout_.addLayout(grid)
        self.layout_.addWidget(self._section("Encryption"))
        self.encryption_note = self._caption("")
        self.encryption_note.setObjectName("EncryptionNote")
        self.encryption_note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.encryption_note.setMinimumHeight(self.fontMetrics().lineSpacing() * NOTE_LINES + 4)
        self.layout_.addWidget(self.encryption_note)
        self.transfer_caption = self._caption(
            "Only the data the target repository lacks is sent. Each copied restore point "
            "can be restored from the target repository alone.")
        self.layout_.addWidget(self.transfer_caption)
        self.layout_.addStretch(1)
        self.repositories: dict[str, RepositoryInfo] | None = None   # None: not listed yet
        self._wanted: str | None = None
        self._source: JobInfo | None = None
        self.repository_combo.currentIndexChanged.connect(self._picked)

    def set_repositories(self, repos: Sequence[RepositoryInfo]) -> None:
        combo = self.repository_combo
        wanted = self.chosen()
        combo.blockSignals(True)
        try:
            combo.clear()
            for repo in repos:
                combo.addItem(repo.name)
                combo.setItemData(combo.count() - 1, repository_line(repo),
                                  Qt.ItemDataRole.ToolTipRole)
            if wanted and combo.findText(wanted) < 0:
                combo.addItem(wanted)   # gone from the server: the check says so
            combo.setCurrentIndex(combo.findText(wanted) if wanted else -1)
        finally:
            combo.blockSignals(False)
        self.repositories = {repo.name: repo for repo in repos}
        self._show()
        self.changed.emit()

    def set_source(self, source: JobInfo | None) -> None:
        """The chosen source job: the note compares its repository with the target."""
        self._source = source
        self._show()

    def choose(self, name: str) -> None:
        self.repository_combo.setCurrentIndex(self.repository_combo.findText(name))

    def chosen(self) -> str | None:
        if self.repository_combo.currentIndex() < 0:
            return self._wanted
        return self.repository_combo.currentText() or None

    def _picked(self, _index: int) -> None:
        self._wanted = self.chosen()
        self._show()
        self.changed.emit()

    def _show(self) -> None:
        repos = self.repositories or {}
        target = repos.get(self.chosen() or "")
        self.repository_details.setText(repository_line(target) if target else "")
        source = repos.get(self._source.definition.repository) if self._source else None
        self.encryption_note.setText(encryption_note(source, target)
                                     if source is not target else "")

    def load(self, definition: JobDefinition | None) -> None:
        if definition is not None:
            self._wanted = definition.repository
            self.repository_combo.addItem(definition.repository)
            self.repository_combo.setCurrentIndex(0)

    def write(self, draft: dict[str, Any]) -> None:
        draft[F.REPOSITORY] = self.chosen() or ""

    def show_errors(self, errors: Mapping[str, str]) -> None:
        problem = errors.get(F.REPOSITORY)
        self.repository_error.show_error(problem)
        self.repository_details.setVisible(not problem)
