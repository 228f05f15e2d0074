"""The one way engine events reach the GUI thread.

The service calls listeners on engine threads. :class:`EventBridge` turns
each event into a queued signal for the GUI thread, and coalesces them: a
burst of events becomes at most one ``refreshDue`` per ``min_interval_ms``
(100 ms: at most ten refreshes a second). While a job runs it also marks
itself dirty every ``poll_interval_ms`` (1 s), and slowly when idle, so work
done by other processes shows up even if an event was missed.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Signal

from core.events import Event, JobsChanged, PointsChanged, SessionChanged


Unsubscribe = Callable[[], None]
Subscribe = Callable[[Callable[[Event], None]], Unsubscribe]


class EventBridge(QObject):
    jobsChanged = Signal()
    sessionChanged = Signal(str, str)     # job, session id
    pointsChanged = Signal(str)           # job
    catalogueChanged = Signal()           # anything, possibly in another process
    refreshDue = Signal()                 # coalesced: time to fetch the jobs list again

    _arrived = Signal(object)             # engine thread -> GUI thread

    def __init__(self, subscribe: Subscribe, parent: QObject | None = None, *,
                 min_interval_ms: int = 100, poll_interval_ms: int = 1000,
                 idle_poll_interval_ms: int = 5000) -> None:
        super().__init__(parent)
        self.min_interval_ms = min_interval_ms
        self._dirty = False
        self._since_fire = QElapsedTimer()
        self._throttle = QTimer(self)
        self._throttle.setSingleShot(True)
        self._throttle.timeout.connect(self._fire)
        self._poll = QTimer(self)
        self._poll.timeout.connect(self.mark_dirty)
        self._poll_interval_ms = poll_interval_ms
        self._idle_poll_interval_ms = idle_poll_interval_ms
        self.set_busy(False)
        self._arrived.connect(self._on_event, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe: Unsubscribe | None = subscribe(self._listener)

    # -- engine threads -------------------------------------------------------
    def _listener(self, event: Event) -> None:
        """Called on engine threads: only queue the event, never touch Qt widgets."""
        try:
            self._arrived.emit(event)
        except RuntimeError:  # the bridge was deleted while the engine ran on
            pass

    # -- GUI thread -----------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if isinstance(event, SessionChanged):
            self.sessionChanged.emit(event.job, event.session_id)
        elif isinstance(event, PointsChanged):
            self.pointsChanged.emit(event.job)
        elif isinstance(event, JobsChanged):
            self.jobsChanged.emit()
        else:  # CatalogueChanged, or any event this console does not know yet
            self.catalogueChanged.emit()
        self.mark_dirty()

    def mark_dirty(self) -> None:
        """Ask for a refresh; it comes within ``min_interval_ms``, never faster."""
        self._dirty = True
        if self._throttle.isActive():
            return
        elapsed = self._since_fire.elapsed() if self._since_fire.isValid() else self.min_interval_ms
        self._throttle.start(max(0, self.min_interval_ms - elapsed))

    @property
    def pending(self) -> bool:
        """Whether a refresh is still due (events arrived since the last one)."""
        return self._dirty or self._throttle.isActive()

    def set_busy(self, busy: bool) -> None:
        """Poll every second while jobs run, slowly otherwise."""
        interval = self._poll_interval_ms if busy else self._idle_poll_interval_ms
        if self._poll.interval() != interval or not self._poll.isActive():
            self._poll.start(interval)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._poll.stop()
        self._throttle.stop()

    def _fire(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self._since_fire.start()
        self.refreshDue.emit()
