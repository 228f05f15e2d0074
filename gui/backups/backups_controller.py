"""The Backups node's commands: Restore Files, Verify, Delete from Disk.

Every facade call runs on the TaskRunner; dialogs open with ``open()`` or
``show()`` and are kept as attributes while they show (see tracking). A
restore or verify runs in the server as a session: the Restore window and
the verify verdict follow it through the server's events.
"""
from __future__ import annotations

import logging

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from core.api import BackupApi, DeleteReport, DiskUsage, RepositoryInfo, verify_problem_text
from core.models import JobDefinition, RestorePointInfo, SessionInfo, SessionResult

from gui.backups.actions import BackupActions
from gui.backups.backups_model import BackupNode, BackupsModel, Retained
from gui.backups.backups_view import BackupsView
from gui.runtime.bridge import EventBridge
from gui.widgets.error_box import show_error
from gui.widgets.formatting import bytes_text, job_text
from gui.jobs.jobs_model import JobsTableModel
from gui.backups.point_tree import PointTreeModel
from gui.backups.restore_dialog import RestoreDialog
from gui.runtime.tracking import track
from gui.runtime.worker import TaskRunner


class BackupsController(QObject):
    verifyFinished = Signal(object)   # SessionInfo of a verify started here, once it ended

    def __init__(self, service: BackupApi, runner: TaskRunner, bridge: EventBridge,
                 jobs: JobsTableModel, window: QWidget, visible: Callable[[], bool]) -> None:
        super().__init__(window)
        self._service = service
        self._runner = runner
        self._bridge = bridge
        # the node's own parts, handed to the window to place
        self.actions = actions = BackupActions(window)
        self.model = BackupsModel(window)
        self.view = view = BackupsView(self.model, actions.menu, window)
        self._jobs = jobs
        self._window = window
        self._visible = visible
        self._actions = actions
        self.restore_dialog: RestoreDialog | None = None
        self.delete_question: QMessageBox | None = None
        self.info_box: QMessageBox | None = None
        self.error_box: QMessageBox | None = None
        self.verifying: set[str] = set()     # verify sessions started here, not ended yet
        self._in_flight = False
        self._again = False
        self._stale = True
        self.loads = 0
        self.usage_loads = 0
        self._usage_in_flight = False
        self._usage_again = False
        self.retained_loads = 0
        self._retained_in_flight = False
        self._retained_again = False
        self.tree_model = PointTreeModel(runner, service.browse_point, self)
        self.tree_model.failed.connect(lambda exc: self.show_error("Restore Files", exc))

        actions.restore.triggered.connect(self.restore)
        actions.verify.triggered.connect(self.verify)
        actions.delete.triggered.connect(self.delete)
        view.selectionChanged.connect(self.update_actions)
        view.restoreRequested.connect(self.restore)
        bridge.refreshDue.connect(self._on_refresh_due)
        for signal in (jobs.modelReset, jobs.dataChanged, jobs.rowsInserted):
            signal.connect(self._jobs_changed)
        self.update_actions()

    def show_error(self, title: str, exc: BaseException, parent: QWidget | None = None) -> None:
        self.error_box = show_error(parent or self._window, title, exc)

    def update_actions(self) -> None:
        node = self.view.selected_node()
        self._actions.apply(node.kind if node is not None else None)

    # -- the points list -------------------------------------------------------------------
    def refresh(self) -> None:
        """Fetch the restore points again (at most one fetch in flight)."""
        if self._in_flight:
            self._again = True
            return
        self._in_flight = True
        self._stale = False

        def landed(points: list[RestorePointInfo]) -> None:
            self._in_flight = False
            self.loads += 1
            self.view.set_points(points, self._policies())
            self._fetch_usage()
            self._fetch_retained()
            self._follow_up()

        def failed(exc: BaseException) -> None:
            self._in_flight = False
            self.show_error("Backups", exc)

        self._runner.submit(self._service.list_points, landed, failed)

    def _fetch_usage(self) -> None:
        """The On disk column: the space the points take (reads their manifests on the
        server, so it lands after the points; at most one fetch in flight)."""
        if self._usage_in_flight:
            self._usage_again = True
            return
        self._usage_in_flight = True

        def landed(usage: DiskUsage) -> None:
            self._usage_in_flight = False
            self.usage_loads += 1
            self.view.set_points(self.model.points, None, usage)
            if self._usage_again:
                self._usage_again = False
                self._fetch_usage()

        def failed(exc: BaseException) -> None:   # the column stays empty; the rest works
            self._usage_in_flight = False
            logging.getLogger(__name__).warning("The space the restore points take is "
                                                "unknown: %s", exc)

        self._runner.submit(self._service.disk_usage, landed, failed)

    def _fetch_retained(self) -> None:
        """Points retention dropped that immutable repositories still keep under lock
        (``RepositoryInfo.retained_points``): greyed rows under their computer."""
        if self._retained_in_flight:
            self._retained_again = True
            return
        self._retained_in_flight = True

        def landed(repositories: list[RepositoryInfo]) -> None:
            self._retained_in_flight = False
            self.retained_loads += 1
            kept = [Retained(r.name, p) for r in repositories for p in r.retained_points]
            if kept or self.model.retained:
                self.view.set_points(self.model.points, None, None, kept)
            if self._retained_again:
                self._retained_again = False
                self._fetch_retained()

        def failed(exc: BaseException) -> None:   # the rows stay as they were
            self._retained_in_flight = False
            logging.getLogger(__name__).warning("The points kept by immutability are "
                                                "unknown: %s", exc)

        self._runner.submit(self._service.list_repositories, landed, failed)

    def _policies(self) -> dict[str, JobDefinition]:
        """Each job's definition: what its retention keeps (the Retention column)."""
        return {job.name: job.definition for job in self._jobs.jobs()}

    def _jobs_changed(self, *_args: object) -> None:
        """A job's retention changed (Edit): the Retention column follows at once."""
        policies = self._policies()
        if self.loads and policies != self.model.policies:
            self.view.set_points(self.model.points, policies)

    def _follow_up(self) -> None:
        if self._again:
            self._again = False
            self.refresh()

    def shown(self) -> None:
        """The Backups node became visible: bring it up to date."""
        if self._stale or not self.loads:
            self.refresh()

    def _on_refresh_due(self) -> None:
        if self._visible():
            self.refresh()
        else:
            self._stale = True
        self._follow_sessions()

    # -- restore -----------------------------------------------------------------------
    def restore(self) -> None:
        node = self.view.selected_node()
        if node is None or node.kind not in ("computer", "point"):
            return
        if self.restore_dialog is not None:
            self.restore_dialog.raise_()
            self.restore_dialog.activateWindow()
            return
        computer_points = self._points_of(node)
        self.open_restore(computer_points, node.point.id if node.point else None)

    def _points_of(self, node: BackupNode) -> list[RestorePointInfo]:
        """The computer's points, newest first."""
        every = self.view.model.points
        return sorted((p for p in every if p.job == node.job and p.computer == node.computer),
                      key=lambda p: (p.created, p.id), reverse=True)

    def _original_location(self, point: RestorePointInfo) -> str | None:
        row = self._jobs.row_of(point.job)
        if row is None:
            return None
        job = self._jobs.job_at(row)
        if job.definition.is_copy and job.definition.copy_source:   # its source's computers
            source = self._jobs.row_of(job.definition.copy_source)
            if source is None:
                return None
            job = self._jobs.job_at(source)
        return next((c.path for c in job.definition.computers if c.name == point.computer), None)

    def open_restore(self, points: list[RestorePointInfo], point_id: str | None = None) -> None:
        if not points:
            return
        dialog = RestoreDialog(self.tree_model, points, self._original_location(points[0]),
                               self._window, point_id=point_id)
        track(self, "restore_dialog", dialog)
        dialog.restoreRequested.connect(partial(self._start_restore, dialog))
        dialog.cancelRequested.connect(partial(self._cancel_restore, dialog))
        dialog.show()

    def _start_restore(self, dialog: RestoreDialog, point_id: str, target: str | None,
                       paths: list[str], overwrite: bool) -> None:
        from pathlib import Path

        def started(session_id: str) -> None:
            if self.restore_dialog is dialog:
                dialog.started(session_id)
                self._fetch_restore_session()
            self._bridge.mark_dirty()

        def failed(exc: BaseException) -> None:
            if self.restore_dialog is dialog:
                dialog.start_failed(str(exc))
                self.show_error("Restore Files", exc, dialog)

        self._runner.submit(partial(self._service.start_restore, point_id,
                                    Path(target) if target is not None else None,
                                    paths=paths, overwrite=overwrite), started, failed)

    def _cancel_restore(self, dialog: RestoreDialog) -> None:
        if dialog.session_id:
            self._runner.submit(partial(self._service.cancel_session, dialog.session_id),
                                lambda _r: None,
                                lambda exc: self.show_error("Restore Files", exc, dialog))

    def _fetch_restore_session(self) -> None:
        dialog = self.restore_dialog
        if dialog is None or not dialog.session_id or (dialog.session is not None
                                                       and not dialog.session.state.is_active):
            return
        session_id = dialog.session_id

        def landed(session: SessionInfo) -> None:
            if self.restore_dialog is dialog and dialog.session_id == session_id:
                dialog.set_session(session)

        self._runner.submit(partial(self._service.get_session, session_id), landed,
                            lambda exc: None)

    # -- verify ------------------------------------------------------------------------
    def verify(self) -> None:
        node = self.view.selected_node()
        if node is None:
            return
        if node.kind == "point" and node.point is not None:
            call = partial(self._service.start_verify, node.point.id)
        else:
            call = partial(self._service.start_verify, None, job=node.job)

        def started(session_id: str) -> None:
            self.verifying.add(session_id)
            self._bridge.mark_dirty()

        self._runner.submit(call, started, lambda exc: self.show_error("Verify", exc))

    def _follow_sessions(self) -> None:
        self._fetch_restore_session()
        for session_id in list(self.verifying):
            self._runner.submit(partial(self._service.get_session, session_id),
                                self._verify_progress, lambda exc: None)

    def _verify_progress(self, session: SessionInfo) -> None:
        if session.id not in self.verifying or session.state.is_active:
            return
        self.verifying.discard(session.id)
        self.verifyFinished.emit(session)
        self.show_verdict(session)

    def show_verdict(self, session: SessionInfo) -> None:
        """The verify's verdict in words; damage names the damaged files."""
        op = session.operation
        what = job_text(session.job)
        if session.result is SessionResult.SUCCESS and op is not None:
            icon, text = QMessageBox.Icon.Information, (
                f"Verify of {what}: OK. {op.points_checked} restore point(s) and "
                f"{op.blobs_checked:,} block(s) were read back intact.")
            details = ""
        elif op is not None and op.problems:
            damaged = op.damaged_paths
            icon = QMessageBox.Icon.Warning
            text = (f"Verify of {what}: damaged. {len(op.problems)} problem(s) in "
                    f"{op.points_checked} restore point(s)" + (
                        f"; damaged files: {', '.join(damaged[:10])}"
                        + (f" and {len(damaged) - 10} more" if len(damaged) > 10 else "")
                        if damaged else "") + ".")
            if op.advice:   # which points of the computer can be restored instead
                text += "\n\n" + "\n".join(op.advice)
            details = "\n".join(verify_problem_text(p) for p in op.problems)
        else:
            errors = [i.text for i in session.log if i.level == "error"]
            icon, details = QMessageBox.Icon.Warning, ""
            text = f"Verify of {what} did not finish: " + (errors[-1] if errors else
                                                           "see the session's log.")
        box = QMessageBox(icon, "Verify", text, QMessageBox.StandardButton.Ok, self._window)
        box.setObjectName("VerifyVerdict")
        if details:
            box.setDetailedText(details)
        track(self, "info_box", box)
        box.open()

    # -- delete from disk ----------------------------------------------------------------
    def delete(self) -> None:
        node = self.view.selected_node()
        if node is None or node.kind not in ("job", "computer") or \
                self.delete_question is not None:
            return
        whose = f"computer '{node.computer}' of job '{node.job}'" if node.kind == "computer" \
            else f"job '{node.job}'"
        size = sum(p.size for p in node.points)
        box = QMessageBox(QMessageBox.Icon.Question, "Delete from Disk",
                          f"Delete the backups of {whose} from disk?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                          self._window)
        box.setObjectName("DeleteBackupsQuestion")
        box.setInformativeText(f"{len(node.points)} restore point(s) ({bytes_text(size)} of "
                               "files) are deleted; this cannot be undone.")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        track(self, "delete_question", box)

        def answered(_result: int) -> None:
            if box.clickedButton() is box.button(QMessageBox.StandardButton.Yes):
                self._runner.submit(partial(self._service.delete_backups, node.job,
                                            node.computer if node.kind == "computer" else None),
                                    self._deleted,
                                    lambda exc: self.show_error("Delete from Disk", exc))

        box.finished.connect(answered)
        box.open()

    def _deleted(self, report: DeleteReport) -> None:
        whose = f"computer '{report.computer}' of job '{report.job}'" if report.computer \
            else f"job '{report.job}'"
        text = (f"Deleted {report.points} restore point(s) of {whose}; "
                f"{bytes_text(report.bytes_freed)} freed on disk.")
        if report.note:
            text += f" {report.note}"
        box = QMessageBox(QMessageBox.Icon.Information, "Delete from Disk", text,
                          QMessageBox.StandardButton.Ok, self._window)
        box.setObjectName("DeleteBackupsDone")
        track(self, "info_box", box)
        box.open()
        self._bridge.mark_dirty()
        self.refresh()
