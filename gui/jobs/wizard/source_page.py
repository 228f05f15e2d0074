"""The backup copy wizard's Source Job step: the backup job whose restore points
the copy job copies, chosen from the backup jobs of this server."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QLabel, QTreeWidget, QTreeWidgetItem, QWidget

from core.models import JobDefinition, JobInfo

from gui.jobs.wizard import draft as F
from gui.jobs.wizard.copy_draft import source_jobs
from gui.jobs.wizard.fields import ErrorLabel, WizardPage
from gui.widgets.formatting import datetime_text
from gui.widgets.resources import icon

COLUMNS = ["Job", "Computers", "Repository", "Last run", "Last result"]
NAME_ROLE = Qt.ItemDataRole.UserRole + 1


class SourcePage(WizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_.addWidget(QLabel("Backup job to copy:", self))
        self.jobs_tree = QTreeWidget(self)
        self.jobs_tree.setObjectName("SourceJobs")
        self.jobs_tree.setHeaderLabels(COLUMNS)
        self.jobs_tree.setRootIsDecorated(False)
        self.jobs_tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        for column, width in enumerate((190, 80, 190, 130)):
            self.jobs_tree.setColumnWidth(column, width)
        self.layout_.addWidget(self.jobs_tree, 1)
        self.source_error = ErrorLabel(self)
        self.layout_.addWidget(self.source_error)
        self.details = self._caption(
            "The copy job copies every restore point of this job that it does not hold yet, "
            "computer by computer, and keeps its own retention in its own repository.")
        self.layout_.addWidget(self.details)
        self._chosen: str | None = None
        self.jobs_tree.currentItemChanged.connect(self._picked)

    def set_jobs(self, jobs: Sequence[JobInfo]) -> None:
        """List the backup jobs (again); the chosen one stays chosen."""
        tree = self.jobs_tree
        tree.blockSignals(True)
        try:
            tree.clear()
            for job in source_jobs(jobs):
                d = job.definition
                item = QTreeWidgetItem([
                    job.name, str(len(d.computers)), d.repository, datetime_text(job.last_run),
                    job.last_result.value if job.last_result else ""])
                item.setIcon(0, icon("job"))
                item.setData(0, NAME_ROLE, job.name)
                item.setToolTip(0, d.description or job.name)
                tree.addTopLevelItem(item)
                if self._chosen is not None and job.name.casefold() == self._chosen.casefold():
                    tree.setCurrentItem(item)
        finally:
            tree.blockSignals(False)

    def items(self) -> list[QTreeWidgetItem]:
        tree = self.jobs_tree
        return [item for i in range(tree.topLevelItemCount())
                if (item := tree.topLevelItem(i)) is not None]

    def names(self) -> list[str]:
        return [str(item.data(0, NAME_ROLE)) for item in self.items()]

    def item_of(self, name: str) -> QTreeWidgetItem | None:
        return next((item for item in self.items()
                     if str(item.data(0, NAME_ROLE)).casefold() == name.casefold()), None)

    def chosen(self) -> str | None:
        return self._chosen

    def _picked(self, current: QTreeWidgetItem | None, _previous: object = None) -> None:
        if current is not None:
            self._chosen = str(current.data(0, NAME_ROLE))
            self.changed.emit()

    def load(self, definition: JobDefinition | None) -> None:
        self._chosen = definition.copy_source if definition is not None else None

    def write(self, draft: dict[str, Any]) -> None:
        draft[F.COPY_SOURCE] = self._chosen

    def show_errors(self, errors: Mapping[str, str]) -> None:
        self.source_error.show_error(errors.get(F.COPY_SOURCE) or errors.get(F.COMPUTERS))
