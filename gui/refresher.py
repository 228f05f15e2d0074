"""Fetches the jobs list on a worker and applies it to the model in place.

At most one fetch is in flight; a request made meanwhile is remembered and
served once the current fetch lands, so bursts collapse into one more fetch.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from core.models import JobInfo

from .jobs_model import JobsTableModel
from .worker import TaskRunner

ListJobs = Callable[[], list[JobInfo]]


class JobsRefresher(QObject):
    refreshed = Signal(object)   # list[JobInfo], after the model was updated
    failed = Signal(object)      # the exception of a failed fetch

    def __init__(self, list_jobs: ListJobs, model: JobsTableModel, runner: TaskRunner,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._list_jobs = list_jobs
        self._model = model
        self._runner = runner
        self._in_flight = False
        self._again = False
        self.count = 0                   # completed refreshes
        self.last_error: BaseException | None = None

    def request(self) -> None:
        if self._in_flight:
            self._again = True
            return
        self._in_flight = True
        self._runner.submit(self._list_jobs, self._on_jobs, self._on_error)

    def _on_jobs(self, jobs: list[JobInfo]) -> None:
        self._in_flight = False
        self.last_error = None
        self._model.set_jobs(jobs)
        self.count += 1
        self.refreshed.emit(jobs)
        self._follow_up()

    def _on_error(self, exc: BaseException) -> None:
        self._in_flight = False
        first = self.last_error is None
        self.last_error = exc
        if first:   # report once, not at every poll while the problem lasts
            self.failed.emit(exc)
        self._follow_up()

    def _follow_up(self) -> None:
        if self._again:
            self._again = False
            self.request()
