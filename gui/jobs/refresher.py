"""Fetches the jobs list on a worker and applies it to the model in place.

At most one fetch is in flight; a request made meanwhile is remembered and
served once the current fetch lands, so bursts collapse into one more fetch.

When only some jobs changed (a session started or ended), :meth:`request_jobs`
fetches those jobs alone, at most ``MAX_NAMED`` per request, and merges them
into the list (:meth:`JobsTableModel.merge_jobs`: only their rows change).
Starting 2,000 jobs then costs a few small replies, each parsed and applied in
a few milliseconds, not a 1.7 MB list per burst of events: parsing that list
holds the interpreter lock (the GUI thread waits) for tens of milliseconds.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from PySide6.QtCore import QObject, Signal

from core.models import JobInfo

from gui.jobs.jobs_model import JobsTableModel
from gui.runtime.worker import TaskRunner

ListJobs = Callable[..., list[JobInfo]]   # BackupApi.list_jobs: list_jobs() or list_jobs(names=...)
MAX_NAMED = 200    # jobs per named fetch: more changed jobs take several fetches



class JobsRefresher(QObject):
    refreshed = Signal(object)   # list[JobInfo] fetched (all, or the changed ones),
                                 # after the model was updated
    failed = Signal(object)      # the exception of a failed fetch

    def __init__(self, list_jobs: ListJobs, model: JobsTableModel, runner: TaskRunner,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._list_jobs = list_jobs
        self._model = model
        self._runner = runner
        self._in_flight = False
        self._again = False
        self._names: set[str] = set()    # jobs to fetch alone once the current fetch lands
        self.count = 0                   # completed refreshes (whole or partial)
        self.full_fetches = 0            # for tests: whole-list fetches started
        self.named_fetches = 0           # for tests: fetches of some jobs started
        self.last_error: BaseException | None = None

    def request(self) -> None:
        if self._in_flight:
            self._again = True
            return
        self._in_flight = True
        self._names.clear()              # the whole list brings them too
        self.full_fetches += 1
        self._runner.submit(self._list_jobs, self._on_jobs, self._on_error)

    def request_jobs(self, names: Iterable[str]) -> None:
        """Only these jobs changed: fetch them alone when the list can."""
        self._names.update(names)
        if not self._in_flight and self._names:
            self._fetch_named()

    def _fetch_named(self) -> None:
        names = sorted(self._names)[:MAX_NAMED]
        self._names.difference_update(names)
        self._in_flight = True
        self.named_fetches += 1
        self._runner.submit(lambda: self._list_jobs(names=names),
                            lambda jobs: self._on_named(names, jobs), self._on_error)

    def _on_jobs(self, jobs: list[JobInfo]) -> None:
        self._in_flight = False
        self.last_error = None
        self._model.set_jobs(jobs)
        self.count += 1
        self.refreshed.emit(jobs)
        self._follow_up()

    def _on_named(self, names: Sequence[str], jobs: list[JobInfo]) -> None:
        self._in_flight = False
        self.last_error = None
        fresh = {job.name: job for job in jobs}
        model = self._model
        if len(fresh) != len(names) or any(model.row_of(n) is None for n in fresh):
            self._again = True     # a job was renamed, added or deleted meanwhile
        else:
            model.merge_jobs(jobs)
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
        elif self._names:
            self._fetch_named()
