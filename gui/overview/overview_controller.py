"""Home → Overview: fetches the overview from the server, off the GUI
thread, and keeps it (and the counts on the Last 24 Hours nodes) up to date.

It follows the window's one :class:`~gui.runtime.bridge.EventBridge`: each
coalesced ``refreshDue`` asks for a new overview, one request at a time and
at most one per ``min_interval_ms`` (a burst of progress becomes one request).
The repositories' space (``list_repositories``, which may wait seconds for a
far S3 bucket) is fetched apart: when the Overview is shown, on F5, and when a
session has ended since."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QElapsedTimer, QObject, QTimer, QTimeZone, Signal
from PySide6.QtWidgets import QWidget

from core.api import BackupApi, HomeOverview, LastDayCounts, RepositoryInfo
from core.api.overview import OVERVIEW_DAYS
from core.errors import InvalidInput

from gui.overview.overview_view import OverviewView
from gui.runtime.bridge import EventBridge
from gui.runtime.worker import TaskRunner

MIN_INTERVAL_MS = 1000


def local_time_zone() -> str | None:
    """This computer's IANA zone name (the days of the chart are its days)."""
    name = bytes(QTimeZone.systemTimeZoneId().data()).decode("ascii", "replace").strip()
    return name or None


def _finished(counts: LastDayCounts) -> int:
    return counts.success + counts.warning + counts.failed


class OverviewController(QObject):
    countsChanged = Signal(object)   # LastDayCounts
    loaded = Signal(object)          # HomeOverview, after each fetch

    def __init__(self, service: BackupApi, runner: TaskRunner, bridge: EventBridge,
                 window: QWidget, *, visible: Callable[[], bool],
                 min_interval_ms: int = MIN_INTERVAL_MS) -> None:
        super().__init__(window)
        self._service = service
        self._runner = runner
        self._visible = visible
        self.view = OverviewView(window)
        self.time_zone = local_time_zone()
        self.min_interval_ms = min_interval_ms
        self.overview: HomeOverview | None = None
        self.fetches = 0                    # overviews fetched, for tests
        self._busy = False
        self._again = False
        self._since = QElapsedTimer()
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self.request)
        self._repos_busy = False
        self._repos_finished: int | None = None   # finished sessions when last measured
        bridge.refreshDue.connect(self.request)

    @property
    def busy(self) -> bool:
        return self._busy or self._later.isActive() or self._repos_busy

    # -- the overview --------------------------------------------------------------
    def request(self) -> None:
        """Fetch a new overview now, or as soon as the last one is in and the
        minimum interval has passed."""
        if self._busy:
            self._again = True
            return
        if self._since.isValid() and self._since.elapsed() < self.min_interval_ms:
            if not self._later.isActive():
                self._later.start(self.min_interval_ms - self._since.elapsed())
            return
        self._busy, self._again = True, False
        self._since.start()
        self._runner.submit(partial(self._service.get_overview, OVERVIEW_DAYS, self.time_zone),
                            self._landed, self._failed)

    def _landed(self, overview: HomeOverview) -> None:
        self._busy = False
        self.overview = overview
        self.fetches += 1
        self.view.set_overview(overview)
        self.countsChanged.emit(overview.last_day)
        if self._visible() and self._repos_finished != _finished(overview.last_day):
            self.refresh_repositories()
        self.loaded.emit(overview)
        if self._again:
            self.request()

    def _failed(self, exc: BaseException) -> None:
        self._busy = False
        if isinstance(exc, InvalidInput) and self.time_zone is not None:
            self.time_zone = None   # the server does not know our zone: count in its own
            self.request()
            return
        self.view.show_problem(f"The overview could not be fetched: {exc}")
        if self._again:
            self.request()

    # -- repositories --------------------------------------------------------------
    def refresh_repositories(self) -> None:
        if self._repos_busy:
            return
        self._repos_busy = True
        if self.overview is not None:
            self._repos_finished = _finished(self.overview.last_day)
        self._runner.submit(self._service.list_repositories, self._repositories_landed,
                            self._repositories_failed)

    def _repositories_landed(self, repositories: list[RepositoryInfo]) -> None:
        self._repos_busy = False
        self.view.set_repositories(repositories)

    def _repositories_failed(self, exc: BaseException) -> None:
        self._repos_busy = False
        self.view.repositories_failed(f"The repositories could not be listed: {exc}")

    # -- the window ----------------------------------------------------------------------
    def shown(self) -> None:
        """The Overview became visible: bring it up to date."""
        self.request()
        self.refresh_repositories()
