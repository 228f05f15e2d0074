"""Knows, per job, whether Retry has computers to process again.

The answer comes from ``service.retry_candidates`` on a worker; it is cached
per job and last session, so it is asked once per finished session."""
from __future__ import annotations

from datetime import datetime
from functools import partial
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, Signal

from core.models import JobInfo, SessionResult

from gui.jobs.action_state import may_retry
from gui.runtime.worker import TaskRunner

RetryCandidates = Callable[[str], list[str]]
_Key = tuple[datetime | None, SessionResult | None]


class RetryProbe(QObject):
    changed = Signal()

    def __init__(self, retry_candidates: RetryCandidates, runner: TaskRunner,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fetch = retry_candidates
        self._runner = runner
        self._known: dict[str, tuple[_Key, list[str]]] = {}
        self._asking: dict[str, _Key] = {}

    @staticmethod
    def _key(job: JobInfo) -> _Key:
        return (job.last_run, job.last_result)

    def has_candidates(self, job: JobInfo) -> bool:
        known = self._known.get(job.name)
        return known is not None and known[0] == self._key(job) and bool(known[1])

    def candidates(self, job: JobInfo) -> list[str]:
        known = self._known.get(job.name)
        return list(known[1]) if known is not None and known[0] == self._key(job) else []

    def ensure(self, jobs: Iterable[JobInfo]) -> None:
        """Ask, off the GUI thread, about jobs whose answer is missing or stale."""
        for job in jobs:
            if not may_retry(job):
                continue
            key = self._key(job)
            known = self._known.get(job.name)
            if (known is not None and known[0] == key) or self._asking.get(job.name) == key:
                continue
            self._asking[job.name] = key
            self._runner.submit(partial(self._fetch, job.name),
                                partial(self._on_result, job.name, key),
                                partial(self._on_error, job.name, key))

    def _on_error(self, name: str, key: _Key, _exc: BaseException) -> None:
        self._on_result(name, key, [])   # unknown: Retry stays disabled

    def _on_result(self, name: str, key: _Key, candidates: object) -> None:
        assert isinstance(candidates, list)
        if self._asking.get(name) == key:
            del self._asking[name]
        self._known[name] = (key, list(candidates))
        self.changed.emit()
