"""The New Agent Backup Job wizard, also the Edit window of a job.

Every edit re-validates the whole draft against the job model (pydantic) and
shows each problem next to its field; Finish is enabled only for a valid job.
What a backup would read (and whether each computer's folder can be read at
all) is asked from the backup server, off the GUI thread, a moment after the
computers or the scope change. Finish hands the definition to the
controller, which saves it and closes the wizard, or shows the server's
error and lets the operator go on.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import partial
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from core.api import ScopePreview
from core.models import Computer, FileScope, JobDefinition, JobInfo, SshSettings, utcnow
from core.scheduling.schedule import Schedule

from gui.jobs.wizard import draft as F
from gui.jobs.action_state import is_running
from gui.widgets.error_box import error_text
from gui.jobs.wizard.backup_mode_page import BackupModePage
from gui.jobs.wizard.computers_page import ComputersPage
from gui.jobs.wizard.fields import WizardPage
from gui.jobs.wizard.name_page import NamePage
from gui.jobs.wizard.notifications_page import NotificationsPage
from gui.jobs.wizard.schedule_page import SchedulePage
from gui.jobs.wizard.storage_page import StoragePage
from gui.jobs.wizard.summary_page import SummaryPage
from gui.widgets.wizard import WizardFrame
from gui.runtime.worker import TaskRunner

PreviewScope = Callable[[list[Computer], FileScope, SshSettings], ScopePreview]
PREVIEW_DELAY_MS = 250
NEXT_RUNS = 3

STEPS: list[tuple[str, str]] = [
    ("Name", "Type in a name and description for this agent backup job."),
    ("Computers", "Specify the computers to protect: a folder on this server, or a Linux "
                  "computer reached over SSH."),
    ("Backup Mode", "Choose what to back up on each computer: all of it, or chosen folders; "
                    "and what to skip."),
    ("Storage", "Choose the backup repository, how many restore points to keep, how many "
                "computers to process at once, and whether to limit the read rate."),
    ("Schedule", "Specify when the job runs automatically, how failed runs are retried, and "
                 "the backup window."),
    ("Notifications", "Choose which results of the job's sessions are sent by e-mail and to "
                      "the notification URLs, and when a missing restore point raises an "
                      "alert."),
    ("Summary", "Review the job settings, then click Finish."),
]


class JobWizard(WizardFrame):
    submitted = Signal(object, bool)   # JobDefinition, run it now

    def __init__(self, runner: TaskRunner, preview_scope: PreviewScope,
                 taken_names: Callable[[], list[str]], job: JobInfo | None = None,
                 parent: QWidget | None = None) -> None:
        editing = job is not None
        title = f"Edit Agent Backup Job [{job.name}]" if job else "New Agent Backup Job"
        super().__init__(title, "backup_job", parent, all_reachable=editing)
        self.setObjectName("JobWizard")
        self.job = job
        self.original_name = job.name if job else None
        self.running = job is not None and is_running(job)
        self._runner = runner
        self._preview_scope = preview_scope
        self._taken_names = taken_names
        self._closed = False
        self.check = F.DraftCheck(None)
        self._base: dict[str, Any] = job.definition.model_dump() if job else {}

        self.name_page = NamePage(F.new_job_name(taken_names()), self)
        self.computers_page = ComputersPage(self)
        self.mode_page = BackupModePage(self)
        self.storage_page = StoragePage(self)
        self.schedule_page = SchedulePage(self)
        self.notifications_page = NotificationsPage(self)
        self.summary_page = SummaryPage(self)
        self.pages: list[WizardPage] = [self.name_page, self.computers_page, self.mode_page,
                                        self.storage_page, self.schedule_page,
                                        self.notifications_page, self.summary_page]
        for (step, description), page in zip(STEPS, self.pages):
            self.add_step(step, description, page)
        definition = job.definition if job else None
        for page in self.pages:
            page.load(definition)
        if self.running:
            self.show_notice("This job is running. Saved changes apply to its next session; "
                             "stop it first to rename it.")
            self.summary_page.run_check.setEnabled(False)

        # What each computer's agent reports: (name, path) -> error or None.
        self._folder_errors: dict[tuple[str, str], str | None] = {}
        self._preview_key: Hashable = None
        self._preview_in_flight = False
        self._preview_again = False
        self.preview_count = 0   # answers received (for tests and the curious)
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.timeout.connect(self._request_preview)

        for page in self.pages:
            page.changed.connect(self.revalidate)
        self.finish_button.clicked.connect(self.finish)
        self.finished.connect(self._on_closed)
        self.resize(860, 600)
        self.revalidate()
        self._pristine = self.draft()   # what was entered on opening: closing it loses nothing
        self._discarding = False
        self.discard_question: QMessageBox | None = None

    # -- validation -------------------------------------------------------------------
    def draft(self) -> dict[str, Any]:
        draft = dict(self._base)
        draft.pop("enabled", None)
        for page in self.pages:
            page.write(draft)
        if self.job is not None:
            draft["enabled"] = self.job.definition.enabled
        return draft

    def revalidate(self) -> None:
        if self._closed:
            return
        draft = self.draft()
        computers = [(c["name"], c["path"]) for c in draft.get(F.COMPUTERS, [])]
        folder_errors = [e for key in computers
                         if (e := self._folder_errors.get(key)) is not None]
        self.check = F.check_draft(draft, taken=self._taken_names(),
                                   original=self.original_name, running=self.running,
                                   computer_errors=folder_errors,
                                   extra=self.mode_page.own_errors())
        for page in self.pages:
            page.show_errors(self.check.errors)
        titles = self.step_titles()
        self.set_problems({titles.index(F.PAGE_OF_FIELD[key]) for key in self.check.errors})
        self.set_finish_allowed(self.check.ok)
        self.summary_page.show_settings(self.check.definition)
        self._show_next_runs(draft.get(F.SCHEDULE))
        self._schedule_preview(draft)

    def jobs_changed(self, *_args: object) -> None:
        """The jobs list changed: names taken by other jobs may have too."""
        self.revalidate()

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

    # -- what a backup would read (asked from the server) -----------------------------------
    def _preview_request(
            self, draft: dict[str, Any]) -> tuple[list[Computer], FileScope, SshSettings] | None:
        try:
            computers = [Computer.model_validate(c) for c in draft.get(F.COMPUTERS, [])]
            scope = FileScope.model_validate(draft.get(F.SCOPE) or {})
            ssh = SshSettings.model_validate(draft.get(F.SSH) or {})
        except ValueError:
            return None
        return computers, scope, ssh

    def _schedule_preview(self, draft: dict[str, Any]) -> None:
        request = self._preview_request(draft)
        key: Hashable = None if request is None else (
            tuple((c.name, c.path, c.agent) for c in request[0]), request[1], request[2])
        if key == self._preview_key:
            return
        self._preview_key = key
        if request is None or not request[0]:
            self._preview_timer.stop()
            self.mode_page.preview.clear()
            self.mode_page.show_preview_waiting(
                "Add computers to see what would be backed up." if not draft.get(F.COMPUTERS)
                else "Fix the settings above to see what would be backed up.")
            return
        self.mode_page.show_preview_waiting("Calculating…")
        self._preview_timer.start(PREVIEW_DELAY_MS)

    def _request_preview(self) -> None:
        if self._closed:
            return
        if self._preview_in_flight:
            self._preview_again = True
            return
        request = self._preview_request(self.draft())
        if request is None or not request[0]:
            return
        key = self._preview_key
        self._preview_in_flight = True
        self._runner.submit(partial(self._preview_scope, *request),
                            partial(self._on_preview, key), partial(self._on_preview_failed, key))

    def _on_preview(self, key: Hashable, preview: ScopePreview) -> None:
        self._preview_in_flight = False
        if self._closed:
            return
        self.preview_count += 1
        request_computers = key[0] if isinstance(key, tuple) else ()
        for (name, path, _agent), found in zip(request_computers, preview.computers):
            self._folder_errors[(name, path)] = found.error
        if key == self._preview_key:
            self.mode_page.show_preview(preview)
        self.revalidate()
        self._follow_up()

    def _on_preview_failed(self, key: Hashable, exc: BaseException) -> None:
        self._preview_in_flight = False
        if self._closed:
            return
        self.preview_count += 1
        if key == self._preview_key:
            self.mode_page.preview.clear()
            self.mode_page.show_preview_waiting("Could not check the computers: "
                                                + error_text(exc))
        self._follow_up()

    def _follow_up(self) -> None:
        if self._preview_again:
            self._preview_again = False
            self._request_preview()

    @property
    def preview_pending(self) -> bool:
        return self._preview_timer.isActive() or self._preview_in_flight

    # -- finishing ---------------------------------------------------------------------
    def finish(self) -> None:
        self.revalidate()
        if not self.check.ok or self.busy or self.check.definition is None:
            return
        run_now = self.run_on_finish
        self.set_busy(True)
        self.submitted.emit(self.check.definition, run_now)

    @property
    def run_on_finish(self) -> bool:
        """"Run the job when I click Finish" (never offered for a running job)."""
        return self.summary_page.run_check.isChecked() and not self.running

    def reject(self) -> None:
        """Escape, the close button or Cancel: close at once when nothing was entered;
        otherwise ask first, so that a half-filled job is not lost by one key."""
        if self._discarding or self._closed or self.draft() == self._pristine:
            super().reject()
            return
        if self.discard_question is not None and self.discard_question.isVisible():
            return
        new = self.job is None
        box = QMessageBox(QMessageBox.Icon.Question, self.windowTitle(),
                          "Discard the new job?" if new else
                          f"Discard the changes to job '{self.original_name}'?",
                          QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("DiscardQuestion")
        box.setInformativeText("What was entered in the wizard is lost." if new else
                               "The job keeps its saved settings.")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(self._discard_answered)
        self.discard_question = box
        box.open()

    def _discard_answered(self, answer: int) -> None:
        if answer == QMessageBox.StandardButton.Discard:
            self._discarding = True
            super().reject()

    def saved(self) -> None:
        """The controller saved the job: close."""
        self.set_busy(False)
        self.accept()

    def save_failed(self) -> None:
        """The controller could not save: let the operator fix and retry."""
        self.set_busy(False)
        self.revalidate()

    def definition(self) -> JobDefinition | None:
        return self.check.definition

    def _on_closed(self, _result: int) -> None:
        self._closed = True
        self._preview_timer.stop()
