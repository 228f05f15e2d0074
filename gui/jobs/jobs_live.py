"""Keeps the jobs list live without fetching all of it at every event.

The bridge says, ten times a second at most, which sessions reported since
the last time (:class:`gui.runtime.bridge.JobsChanges`). When those are the running
sessions the list already shows, one request for their summaries (a few
hundred rows of History, by id) brings their progress, and only their Status
cells change. A session that started or ended, or a job a command started or
stopped, brings its job alone (:meth:`JobsRefresher.request_jobs`); anything
else (a job created or edited, a reconnect) fetches the whole list again
through the refresher.
With 2,000 jobs and 200 running, that is the difference between parsing and
comparing 2,000 jobs ten times a second and 200 small rows.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from core.models import HistoryPage, HistoryQuery, JobStatus, SessionState, SessionType

from gui.widgets.formatting import JOB_SESSIONS
from gui.runtime.bridge import JobsChanges
from gui.jobs.jobs_model import JobsTableModel
from gui.jobs.refresher import JobsRefresher
from gui.runtime.worker import TaskRunner

ListHistory = Callable[[HistoryQuery], HistoryPage]
MAX_IDS = 1000   # HistoryQuery.ids holds at most this many: more take several requests


class LiveJobs(QObject):
    def __init__(self, list_history: ListHistory, refresher: JobsRefresher,
                 model: JobsTableModel, runner: TaskRunner,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._list = list_history
        self._refresher = refresher
        self._model = model
        self._runner = runner
        self._in_flight = False
        self._waiting: dict[str, str] = {}   # sessions that reported during a fetch
        self._ignored: set[str] = set()      # restore and verify sessions: not in this list
        self.progress_fetches = 0            # for tests: summary requests made
        self.full_requests = 0               # for tests: full fetches asked for
        self.job_requests = 0                # for tests: fetches of changed jobs asked for

    def apply(self, changes: JobsChanges) -> None:
        if changes.full:
            self._full()     # the whole list comes again: progress with it
            return
        if changes.jobs:
            self.job_requests += 1
            self._refresher.request_jobs(changes.jobs)
        sessions = {sid: job for sid, job in changes.sessions.items()
                    if sid not in self._ignored}
        if not sessions:
            return
        if self._in_flight:
            self._waiting.update(sessions)
            return
        self._fetch(sessions)

    def _full(self) -> None:
        self.full_requests += 1
        self._refresher.request()

    def _fetch(self, sessions: dict[str, str]) -> None:
        ids = list(sessions)
        if len(ids) > MAX_IDS:   # more than a summary request holds: the rest comes next
            ids, rest = ids[:MAX_IDS], ids[MAX_IDS:]
            self._waiting.update((sid, sessions[sid]) for sid in rest)
            sessions = {sid: sessions[sid] for sid in ids}
        self._in_flight = True
        self.progress_fetches += 1
        query = HistoryQuery(ids=ids, limit=len(ids), count=False)
        self._runner.submit(lambda: self._list(query),
                            lambda page: self._landed(sessions, page), self._failed)

    def _failed(self, _exc: BaseException) -> None:
        self._in_flight = False
        self._full()   # the refresher reports the problem, once
        self._follow_up()

    def _landed(self, sessions: dict[str, str], page: object) -> None:
        self._in_flight = False
        assert isinstance(page, HistoryPage)
        model = self._model
        found = {s.id: s for s in page.sessions}
        progress: dict[str, tuple[str, JobStatus, int]] = {}
        changed: set[str] = set()    # jobs whose session started or ended
        for sid, job_name in sessions.items():
            s = found.get(sid)
            if s is None:            # not recorded yet: its job's row knows more
                changed.add(job_name)
                continue
            if s.type not in JOB_SESSIONS:
                self._ignored.add(sid)
                continue
            row = model.row_of(s.job)
            job = model.job_at(row) if row is not None else None
            if job is None or job.active_session_id != s.id or not s.state.is_active:
                changed.add(s.job)   # a job started or ended, or one this list lacks
                continue
            status = JobStatus.STOPPING if s.state is SessionState.STOPPING \
                else JobStatus.PAUSED if s.state is SessionState.PAUSED else JobStatus.WORKING
            progress[job.name] = (s.id, status, s.progress)
        model.apply_progress(progress)
        if changed:
            self.job_requests += 1
            self._refresher.request_jobs(changed)
        self._follow_up()

    def _follow_up(self) -> None:
        if self._waiting:
            waiting, self._waiting = self._waiting, {}
            self._fetch(waiting)
