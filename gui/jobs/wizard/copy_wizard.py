"""The New Backup Copy Job wizard, also the Edit window of a copy job.

A backup copy job copies the restore points of a backup job (its source) into
another repository and keeps its own retention there. Its steps: Name, Source
Job, Target, Retention, Schedule (the backup wizard's step) and Summary. Every
edit checks the whole draft (the job model, plus what only the console knows:
the jobs and repositories it lists) and shows each problem in the room kept
for it under its field; Finish is enabled only for a valid job and hands the
definition to the controller, as the backup wizard does.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget
from shiboken6 import isValid

from core.api import RepositoryInfo
from core.models import JobDefinition, JobInfo, utcnow
from core.scheduling.schedule import Schedule

from gui.jobs.action_state import is_running
from gui.jobs.wizard import copy_draft as C
from gui.jobs.wizard import draft as F
from gui.jobs.wizard.copy_retention_page import CopyRetentionPage
from gui.jobs.wizard.fields import WizardPage
from gui.jobs.wizard.name_page import NamePage
from gui.jobs.wizard.schedule_page import SchedulePage
from gui.jobs.wizard.source_page import SourcePage
from gui.jobs.wizard.summary_page import SummaryPage
from gui.jobs.wizard.target_page import TargetPage
from gui.runtime.worker import TaskRunner
from gui.widgets.error_box import error_text
from gui.widgets.wizard import WizardFrame

NEXT_RUNS = 3
ListJobs = Callable[[], list[JobInfo]]
ListRepositories = Callable[[], list[RepositoryInfo]]

STEPS: list[tuple[str, str]] = [
    (C.NAME_STEP, "Type in a name and description for this backup copy job."),
    (C.SOURCE_STEP, "Choose the backup job whose restore points this job copies to another "
                    "repository."),
    (C.TARGET_STEP, "Choose the repository the restore points are copied to: another place, "
                    "so that a copy survives the loss of the first."),
    (C.RETENTION_STEP, "Specify how many copied restore points to keep, how many computers to "
                       "copy at once, and whether to limit the transfer rate."),
    (C.SCHEDULE_STEP, "Specify when the job copies new restore points automatically, how "
                      "failed runs are retried, and the window copies may start in."),
    (C.SUMMARY_STEP, "Review the backup copy job settings, then click Finish."),
]


class CopyJobWizard(WizardFrame):
    submitted = Signal(object, bool)   # JobDefinition, run it now

    def __init__(self, runner: TaskRunner, list_jobs: ListJobs,
                 list_repositories: ListRepositories, job: JobInfo | None = None,
                 parent: QWidget | None = None) -> None:
        editing = job is not None
        title = f"Edit Backup Copy Job [{job.name}]" if job else "New Backup Copy Job"
        super().__init__(title, "backup_copy", parent, all_reachable=editing)
        self.setObjectName("CopyJobWizard")
        self.job = job
        self.original_name = job.name if job else None
        self.running = job is not None and is_running(job)
        self._runner = runner
        self._list_jobs = list_jobs
        self._closed = False
        self.check = F.DraftCheck(None)
        self._base: dict[str, Any] = job.definition.model_dump() if job else {}
        self.repositories_error: str | None = None   # why the list could not be fetched

        self.name_page = NamePage(C.new_copy_name(job.name for job in list_jobs()), self)
        self.source_page = SourcePage(self)
        self.target_page = TargetPage(self)
        self.retention_page = CopyRetentionPage(self)
        self.schedule_page = SchedulePage(self)
        self.summary_page = SummaryPage(self, C.PAGE_OF_FIELD)
        self.pages: list[WizardPage] = [self.name_page, self.source_page, self.target_page,
                                        self.retention_page, self.schedule_page,
                                        self.summary_page]
        for (step, description), page in zip(STEPS, self.pages):
            self.add_step(step, description, page)
        definition = job.definition if job else None
        for page in self.pages:
            page.load(definition)
        self.source_page.set_jobs(list_jobs())
        if self.running:
            self.show_notice("This job is running. Saved changes apply to its next session; "
                             "stop it first to rename it.")
            self.summary_page.run_check.setEnabled(False)
        self._untouched = self.draft()   # what Cancel compares with

        for page in self.pages:
            page.changed.connect(self.revalidate)
        self.finish_button.clicked.connect(self.finish)
        self.finished.connect(self._on_closed)
        self.resize(860, 600)
        self.revalidate()
        runner.submit(list_repositories, self._repositories_landed,
                      self._repositories_failed)

    # -- what the server lists -----------------------------------------------------------
    def _repositories_landed(self, repos: Sequence[RepositoryInfo]) -> None:
        if self._closed or not isValid(self):
            return
        untouched = self.draft() == self._untouched
        self.target_page.set_repositories(repos)
        if untouched:
            self._untouched = self.draft()
        self.revalidate()

    def _repositories_failed(self, exc: BaseException) -> None:
        if self._closed or not isValid(self):
            return
        self.repositories_error = error_text(exc)
        self.target_page.repository_details.setText(
            "Could not list the repositories: " + self.repositories_error)

    def jobs_changed(self, *_args: object) -> None:
        """The jobs list changed: the sources offered and names taken may have too."""
        if self._closed:
            return
        self.source_page.set_jobs(self._list_jobs())
        self.revalidate()

    # -- validation -------------------------------------------------------------------
    def draft(self) -> dict[str, Any]:
        draft = dict(self._base)
        draft.pop("enabled", None)
        draft[F.KIND] = C.COPY_KIND
        for page in self.pages:
            page.write(draft)
        if self.job is not None:
            draft["enabled"] = self.job.definition.enabled
        return draft

    def source_job(self) -> JobInfo | None:
        name = self.source_page.chosen()
        if not name:
            return None
        return next((job for job in self._list_jobs()
                     if job.name.casefold() == name.casefold() and not C.is_copy(job)), None)

    def revalidate(self) -> None:
        if self._closed:
            return
        draft = self.draft()
        source = self.source_job()
        self.target_page.set_source(source)
        self.check = C.check_copy_draft(draft, jobs=self._list_jobs(),
                                        repositories=self.target_page.repositories,
                                        original=self.original_name, running=self.running)
        for page in self.pages:
            page.show_errors(self.check.errors)
        titles = self.step_titles()
        self.set_problems({titles.index(C.PAGE_OF_FIELD.get(key, C.NAME_STEP))
                           for key in self.check.errors})
        self.set_finish_allowed(self.check.ok)
        self.summary_page.show_settings(self.check.definition,
                                        partial(C.describe_copy, source=source))
        self._show_next_runs(draft.get(F.SCHEDULE))

    def _show_next_runs(self, schedule: dict[str, Any] | None) -> None:
        if schedule is None:
            self.schedule_page.show_next_runs(None)
            return
        try:
            runs = Schedule.model_validate(schedule).next_runs(utcnow(), NEXT_RUNS)
        except ValueError:
            self.schedule_page.show_next_runs(None)
            return
        self.schedule_page.show_next_runs(runs)

    def has_unsaved_input(self) -> bool:
        return not self._closed and self.draft() != self._untouched

    def discard_text(self) -> str:
        return ("Discard the changes to this backup copy job?" if self.job is not None
                else "Discard the new backup copy job?")

    # -- finishing ---------------------------------------------------------------------
    def finish(self) -> None:
        self.revalidate()
        if not self.check.ok or self.busy or self.check.definition is None:
            return
        self.set_busy(True)
        self.submitted.emit(self.check.definition, self.run_on_finish)

    @property
    def run_on_finish(self) -> bool:
        return self.summary_page.run_check.isChecked() and not self.running

    def saved(self) -> None:
        self.set_busy(False)
        self._closed = True
        self.accept()

    def save_failed(self) -> None:
        self.set_busy(False)
        self.revalidate()

    def definition(self) -> JobDefinition | None:
        return self.check.definition

    def _on_closed(self, _result: int) -> None:
        self._closed = True
