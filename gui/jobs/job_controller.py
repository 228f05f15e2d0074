"""The job commands: what happens when the operator triggers a job action.

Every facade call runs on the :class:`TaskRunner`; dialogs are opened with
``open()`` (never ``exec()``) and kept as attributes so the window, and
tests, can reach the one that is showing.
"""
from __future__ import annotations

from functools import partial
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from core.errors import ConsoleError, JobNotRunning
from core.models import (
    HistoryQuery, JobDefinition, JobInfo, JobStatus, SessionInfo, SessionType, StopMode,
)
from core.api import BackupApi, BulkResult, StopPreview, clone_note

from gui.jobs.action_state import can_start, is_running
from gui.jobs.actions import JobActions
from gui.runtime.bridge import EventBridge
from gui.jobs.delete_dialog import DeleteJobDialog
from gui.widgets.error_box import show_error
from gui.widgets.formatting import JOB_SESSIONS
from gui.jobs.wizard.copy_wizard import CopyJobWizard
from gui.jobs.wizard.wizard import JobWizard
from gui.jobs.jobs_model import JobsTableModel
from gui.jobs.statistics_dialog import StatisticsDialog
from gui.jobs.stop_dialog import StopJobDialog
from gui.runtime.tracking import track
from gui.runtime.worker import TaskRunner

SelectedJobs = Callable[[], list[JobInfo]]
Reveal = Callable[[str], None]
StopSession = Callable[[str, str, SessionType], None]   # session id, job, session type
SaveReport = Callable[[str], None]                      # session id
AnyWizard = JobWizard | CopyJobWizard
Notify = Callable[[str], None]                          # a line for the status bar


class JobController(QObject):
    def __init__(self, service: BackupApi, runner: TaskRunner, bridge: EventBridge,
                 model: JobsTableModel, actions: JobActions,
                 selected: SelectedJobs, window: QWidget,
                 reveal: Reveal | None = None, stop_session: StopSession | None = None,
                 save_report: SaveReport | None = None, notify: Notify | None = None) -> None:
        """``stop_session`` and ``save_report`` serve the Statistics window's Stop
        and Report buttons (the sessions node does both); without them the
        buttons do nothing. ``notify`` shows a line in the status bar."""
        super().__init__(window)
        self._service = service
        self._runner = runner
        self._bridge = bridge
        self._model = model
        self._selected = selected
        self._window = window
        self._reveal: Reveal = reveal or (lambda _name: None)
        self.stop_dialog: StopJobDialog | None = None
        self.delete_dialog: DeleteJobDialog | None = None
        self.statistics_dialog: StatisticsDialog | None = None
        self.job_wizard: AnyWizard | None = None   # a backup or a backup copy job's
        self.error_box: QMessageBox | None = None
        self.window_question: QMessageBox | None = None   # start outside the backup window?
        self._preview_in_flight = False
        self._stats_in_flight = False
        self._stats_again = False
        self._fetching_job = False
        self._stop_session = stop_session
        self._save_report = save_report
        self._notify: Notify = notify or (lambda _text: None)

        actions.start.triggered.connect(lambda: self.start())
        actions.retry.triggered.connect(lambda: self.start(retry=True))
        actions.active_full.triggered.connect(lambda: self.start(full=True))
        actions.stop.triggered.connect(self.stop)
        actions.pause.triggered.connect(lambda: self.pause(True))
        actions.resume.triggered.connect(lambda: self.pause(False))
        actions.toggle_enabled.triggered.connect(self.toggle_enabled)
        actions.delete.triggered.connect(self.delete)
        actions.statistics.triggered.connect(self.statistics)
        actions.new_backup_job.triggered.connect(self.new_job)
        actions.new_backup_copy.triggered.connect(self.new_copy_job)
        actions.edit.triggered.connect(self.edit)
        actions.clone.triggered.connect(self.clone)
        bridge.refreshDue.connect(self._refresh_open_dialogs)

    # -- errors -------------------------------------------------------------------
    def show_error(self, title: str, exc: BaseException, parent: QWidget | None = None) -> None:
        self.error_box = show_error(parent or self._window, title, exc)

    def _call(self, title: str, fn: Callable[[], object],
              on_result: Callable[[object], None] | None = None, *,
              jobs: Sequence[str] | None = None) -> None:
        """Run a command on a worker; refresh afterwards (only ``jobs``, when the
        command changed those alone and succeeded); show its error if any."""
        def done(value: object) -> None:
            if on_result is not None:
                on_result(value)
            if jobs is None:
                self._bridge.mark_dirty()
            else:
                self._bridge.mark_jobs(jobs)

        def failed(exc: BaseException) -> None:
            self.show_error(title, exc)
            self._bridge.mark_dirty()

        self._runner.submit(fn, done, failed)

    # -- start, retry, active full -------------------------------------------------
    def start(self, *, full: bool = False, retry: bool = False) -> None:
        """Start every selected job that can start, in one request to the server."""
        title = "Retry Job" if retry else "Active Full" if full else "Start Job"
        names = [job.name for job in self._selected() if can_start(job)]
        if not names:
            return
        self._call(title, partial(self._service.start_jobs, names, full=full, retry=retry),
                   partial(self._started, title, full, retry), jobs=names)

    def _started(self, title: str, full: bool, retry: bool, result: object) -> None:
        """Report what did not start; offer to start anyway what is outside its window."""
        assert isinstance(result, BulkResult)
        outside = [job for job, kind in result.error_kinds.items()
                   if kind == "OutsideBackupWindow"]
        others = {job: text for job, text in result.errors.items() if job not in outside}
        if others:
            self.show_error(title, ConsoleError("\n".join(others.values())))
        if outside and self.window_question is None:
            self._ask_outside_window(title, outside, [result.errors[j] for j in outside],
                                     full, retry)

    def _ask_outside_window(self, title: str, names: list[str], reasons: list[str],
                            full: bool, retry: bool) -> None:
        box = QMessageBox(QMessageBox.Icon.Question, title,
                          "\n".join(r.split(" Start it anyway")[0] for r in reasons),
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                          self._window)
        box.setObjectName("OutsideWindowQuestion")
        box.setInformativeText("Start anyway? The job then runs now, although its backup "
                               "window is closed.")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        self._track("window_question", box)

        def answered(_result: int) -> None:
            if box.clickedButton() is box.button(QMessageBox.StandardButton.Yes):
                self._call(title, partial(self._service.start_jobs, names, full=full,
                                          retry=retry, outside_window=True),
                           partial(self._bulk_done, title), jobs=names)

        box.finished.connect(answered)
        box.open()

    def _bulk_done(self, title: str, result: object) -> None:
        assert isinstance(result, BulkResult)
        if result.errors:
            self.show_error(title, ConsoleError("\n".join(result.errors.values())))

    # -- stop ----------------------------------------------------------------------
    def stop(self) -> None:
        names = [job.name for job in self._selected() if is_running(job)]
        if not names or self.stop_dialog is not None:
            return
        dialog = StopJobDialog(names, self._window)
        self._track("stop_dialog", dialog)
        dialog.chosen.connect(lambda mode: self._stop(names, mode, dialog.escalate_after_s))
        dialog.pause_chosen.connect(lambda pausing: self._pause(names, pausing))
        dialog.open()
        self._fetch_previews()

    # -- pause, resume ---------------------------------------------------------------
    def pause(self, pausing: bool) -> None:
        """Pause (or resume) every selected job that can."""
        wanted = JobStatus.WORKING if pausing else JobStatus.PAUSED
        names = [job.name for job in self._selected() if job.status is wanted]
        if names:
            self._pause(names, pausing)

    def _pause(self, names: Sequence[str], pausing: bool) -> None:
        title = "Pause Job" if pausing else "Resume Job"
        do = self._service.pause_job if pausing else self._service.resume_job

        def each() -> BulkResult:
            result = BulkResult()
            for name in names:
                try:
                    result.stopped[name] = do(name)
                except ConsoleError as exc:
                    result.refuse(name, exc)
            return result
        self._call(title, each, partial(self._stopped, title), jobs=names)

    def _track(self, handle: str, dialog: QDialog) -> None:
        """Keep ``dialog`` as ``self.<handle>`` until it closes, then drop it."""
        track(self, handle, dialog)

    def _fetch_previews(self) -> None:
        dialog = self.stop_dialog
        if dialog is None or self._preview_in_flight:
            return
        names = list(dialog.jobs)

        def previews() -> tuple[list[StopPreview], list[str], list[SessionInfo]]:
            found: list[StopPreview] = []
            gone: list[str] = []
            finished: list[SessionInfo] = []
            for name in names:
                try:
                    found.append(self._service.stop_preview(name))
                except ConsoleError:
                    gone.append(name)
                    last = self._last_backup(name)   # who got a restore point
                    if last is not None:
                        finished.append(last)
            return found, gone, finished

        def show(result: tuple[list[StopPreview], list[str], list[SessionInfo]]) -> None:
            self._preview_in_flight = False
            if self.stop_dialog is dialog:
                dialog.set_previews(*result)

        def failed(exc: BaseException) -> None:
            self._preview_in_flight = False
            if self.stop_dialog is dialog:
                self.show_error("Stop Backup Job", exc)

        self._preview_in_flight = True
        self._runner.submit(previews, show, failed)

    def _last_backup(self, job: str) -> SessionInfo | None:
        """The job's latest backup session, once it has ended (worker thread)."""
        try:
            page = self._service.list_history(HistoryQuery(
                job=job, types=[SessionType.BACKUP], limit=1, count=False))
            if not page.sessions or page.sessions[0].state.is_active:
                return None
            return self._service.get_session(page.sessions[0].id)
        except ConsoleError:
            return None

    def _stop(self, names: Sequence[str], mode: StopMode,
              escalate_after_s: float | None = None) -> None:
        self._model.mark_stopping(names)
        self._call("Stop Job", partial(self._service.stop_jobs, list(names), mode,
                                       escalate_after_s),
                   partial(self._stopped, "Stop Job"), jobs=names)

    def _stopped(self, title: str, result: object) -> None:
        """Report what could not be stopped. A job that ended by itself while
        the stop was being chosen is what the operator wanted: not an error."""
        assert isinstance(result, BulkResult)
        errors = [why for name, why in result.errors.items()
                  if result.error_kinds.get(name) != JobNotRunning.__name__]
        if errors:
            self.show_error(title, ConsoleError("\n".join(errors)))

    # -- new job, edit, clone ---------------------------------------------------------
    def _job_names(self) -> list[str]:
        return [job.name for job in self._model.jobs()]

    def new_job(self) -> None:
        self._open_wizard(None)

    def new_copy_job(self) -> None:
        """The New Backup Copy Job wizard (Home > Backup Job > Backup Copy...)."""
        self._open_wizard(None, copy=True)

    def edit(self) -> None:
        """Open the wizard on the selected job, as the server has it now."""
        jobs = self._selected()
        if len(jobs) != 1 or self._fetching_job:
            return
        if self.job_wizard is not None:
            self._open_wizard(None)   # brings the open one to the front
            return

        def fetched(job: JobInfo) -> None:
            self._fetching_job = False
            self._open_wizard(job, copy=job.definition.is_copy)

        def failed(exc: BaseException) -> None:
            self._fetching_job = False
            self.show_error("Edit Job", exc)
            self._bridge.mark_dirty()

        self._fetching_job = True
        self._runner.submit(partial(self._service.get_job, jobs[0].name), fetched, failed)

    def _open_wizard(self, job: JobInfo | None, *, copy: bool = False) -> None:
        if self.job_wizard is not None:   # one at a time, as in the reference console
            self.job_wizard.raise_()
            self.job_wizard.activateWindow()
            return
        wizard: AnyWizard
        if copy:
            wizard = CopyJobWizard(self._runner, self._model.jobs,
                                   self._service.list_repositories, job, self._window)
        else:
            wizard = JobWizard(self._runner, self._service.preview_scope, self._job_names,
                               job, self._window)
        self._track("job_wizard", wizard)
        wizard.submitted.connect(partial(self._save_job, wizard))
        for signal in (self._model.rowsInserted, self._model.rowsRemoved,
                       self._model.dataChanged):
            signal.connect(wizard.jobs_changed)   # another job's name may now be taken
        wizard.open()

    def _save_job(self, wizard: AnyWizard, definition: JobDefinition, run_now: bool) -> None:
        original = wizard.original_name
        title = "Edit Job" if original is not None else "New Job"
        if original is None:
            save: Callable[[], object] = partial(self._service.create_job, definition)
        else:
            save = partial(self._service.update_job, original, definition)

        def saved(_result: object) -> None:
            if self.job_wizard is wizard:
                wizard.saved()
            self._reveal(definition.name)
            if run_now:
                self._call("Start Job", partial(self._service.start_job, definition.name))
            self._bridge.mark_dirty()

        def failed(exc: BaseException) -> None:
            if self.job_wizard is wizard:
                wizard.save_failed()
                self.show_error(title, exc, wizard)
            else:
                self.show_error(title, exc)
            self._bridge.mark_dirty()

        self._runner.submit(save, saved, failed)

    def clone(self) -> None:
        """The server creates "<name> clone" (or "... clone 2", ...), disabled so
        that it does not run beside the original; select it and say so."""
        jobs = self._selected()
        if len(jobs) != 1:
            return
        source = jobs[0].name

        def cloned(result: object) -> None:
            assert isinstance(result, JobInfo)
            self._reveal(result.name)
            self._notify(clone_note(source, result.name))

        self._call("Clone Job", partial(self._service.clone_job, source), cloned)

    # -- manage --------------------------------------------------------------------
    def toggle_enabled(self) -> None:
        jobs = self._selected()
        if not jobs:
            return
        enable = all(not job.definition.enabled for job in jobs)
        for job in jobs:
            self._call("Enable Job" if enable else "Disable Job",
                       partial(self._service.set_job_enabled, job.name, enable))

    def delete(self) -> None:
        names = [job.name for job in self._selected() if not is_running(job)]
        if not names or self.delete_dialog is not None:
            return
        dialog = DeleteJobDialog(names, self._window)
        self._track("delete_dialog", dialog)
        dialog.confirmed.connect(lambda with_backups: self._delete(names, with_backups))
        dialog.open()

    def _delete(self, names: Sequence[str], delete_backups: bool) -> None:
        for name in names:
            self._call("Delete Job", partial(self._service.delete_job, name,
                                             delete_backups=delete_backups))

    # -- statistics ------------------------------------------------------------------
    def statistics(self) -> None:
        """The Statistics window of the selected job's latest session; it follows
        the job's next session too."""
        jobs = self._selected()
        if len(jobs) != 1:
            return
        self.open_statistics(jobs[0].name, jobs[0].active_session_id, follow_job=True)

    def open_statistics(self, job: str, session_id: str | None = None, *,
                        follow_job: bool = False) -> None:
        """The Statistics window of one session (History, the Backups node) or,
        with ``follow_job``, of the job's latest backup session."""
        if self.statistics_dialog is not None:
            self.statistics_dialog.close()
        dialog = StatisticsDialog(job, session_id, self._window, follow_job=follow_job)
        self._track("statistics_dialog", dialog)
        dialog.stopRequested.connect(partial(self._stop_from_statistics, dialog))
        dialog.reportRequested.connect(partial(self._report_from_statistics, dialog))
        dialog.show()
        self._fetch_statistics()

    def _stop_from_statistics(self, dialog: StatisticsDialog) -> None:
        session = dialog.session
        if session is not None and session.state.is_active and self._stop_session is not None:
            self._stop_session(session.id, session.job, session.type)

    def _report_from_statistics(self, dialog: StatisticsDialog) -> None:
        if dialog.session is not None and self._save_report is not None:
            self._save_report(dialog.session.id)

    def stop_job_named(self, name: str) -> None:
        """The Stop Backup Job window for one job (from Statistics or History)."""
        if self.stop_dialog is not None:
            self.stop_dialog.raise_()
            return
        dialog = StopJobDialog([name], self._window)
        self._track("stop_dialog", dialog)
        dialog.chosen.connect(lambda mode: self._stop([name], mode, dialog.escalate_after_s))
        dialog.open()
        self._fetch_previews()

    def _fetch_statistics(self) -> None:
        dialog = self.statistics_dialog
        if dialog is None or self._stats_in_flight:
            return
        job, wanted, follow = dialog.job, dialog.session_id, dialog.follow_job

        def fetch() -> SessionInfo | None:
            session_id = wanted
            if follow:
                page = self._service.list_history(HistoryQuery(
                    job=job, types=list(JOB_SESSIONS), limit=1, count=False))
                session_id = page.sessions[0].id if page.sessions else wanted
            return self._service.get_session(session_id) if session_id else None

        def show(session: SessionInfo | None) -> None:
            self._stats_in_flight = False
            if self.statistics_dialog is dialog:
                dialog.set_session(session)
                if self._stats_again:
                    self._stats_again = False
                    self._fetch_statistics()

        def failed(exc: BaseException) -> None:
            self._stats_in_flight = False
            if self.statistics_dialog is dialog:
                self.show_error("Statistics", exc)

        self._stats_in_flight = True
        self._stats_again = False
        self._runner.submit(fetch, show, failed)

    def _refresh_open_dialogs(self) -> None:
        if self.stop_dialog is not None:
            self._fetch_previews()
        dialog = self.statistics_dialog
        if dialog is not None:
            row = self._model.row_of(dialog.job)
            job = self._model.job_at(row) if row is not None else None
            shown = dialog.session
            stale = (shown is None or shown.state.is_active
                     or (dialog.follow_job and job is not None
                         and job.active_session_id not in (None, shown.id)))
            if stale and self._stats_in_flight:
                self._stats_again = True   # the session moved on while it was fetched
            elif stale:
                self._fetch_statistics()

    # -- demo ------------------------------------------------------------------------------
    def setup_demo(self, on_done: Callable[[], None]) -> None:
        """Create the demo computers and jobs on a worker, then call back."""
        def failed(exc: BaseException) -> None:
            self.show_error("Demo", exc)
            on_done()

        self._runner.submit(self._service.setup_demo, lambda _r: on_done(), failed)
