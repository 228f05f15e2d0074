"""The one way engine events reach the GUI thread.

The service calls listeners on engine threads (or the client's event-stream
thread). :class:`EventBridge` queues them and wakes the GUI thread once per
burst, not once per event: 200 running sessions report progress 800 times a
second, and the GUI thread sees one wake-up with every distinct event since
the last. It then coalesces further: a burst of events becomes at most one
``refreshDue`` per ``min_interval_ms`` (100 ms: at most ten refreshes a
second), and with it one ``jobsDue`` that says what the jobs list needs: the
sessions that reported (often progress alone) or, after any other change, a
full fetch. The console never polls: the server's event stream says when
something changed, and after a lost connection the client sends one event
that refreshes everything.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Signal

from core.events import Event, PointsChanged, ServerConnection, SessionChanged


Unsubscribe = Callable[[], None]
Subscribe = Callable[[Callable[[Event], None]], Unsubscribe]


@dataclass
class JobsChanges:
    """What changed for the jobs list since the last ``jobsDue``."""

    full: bool = False                                       # fetch the whole list again
    sessions: dict[str, str] = field(default_factory=dict)   # session id -> job
    jobs: set[str] = field(default_factory=set)              # jobs a command changed


class EventBridge(QObject):
    sessionChanged = Signal(str, str)     # job, session id
    serverConnection = Signal(bool, str)  # connected, server address
    refreshDue = Signal()                 # coalesced: time to bring the views up to date
    jobsDue = Signal(object)              # coalesced, just before refreshDue: JobsChanges

    _arrived = Signal()                   # engine thread -> GUI thread: events are queued

    def __init__(self, subscribe: Subscribe, parent: QObject | None = None, *,
                 min_interval_ms: int = 100) -> None:
        super().__init__(parent)
        self.min_interval_ms = min_interval_ms
        self._dirty = False
        self._changes = JobsChanges()
        self._lock = threading.Lock()
        self._queued: list[Event] = []
        self._woken = False
        self.wakeups = 0                       # GUI-thread wake-ups (bursts), for tests
        self._since_fire = QElapsedTimer()
        self._throttle = QTimer(self)
        self._throttle.setSingleShot(True)
        self._throttle.timeout.connect(self._fire)
        self._arrived.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe: Unsubscribe | None = subscribe(self._listener)

    # -- engine threads -------------------------------------------------------
    def _listener(self, event: Event) -> None:
        """Called on engine threads: only queue the event, never touch Qt widgets.
        The GUI thread is woken once per burst."""
        with self._lock:
            self._queued.append(event)
            if self._woken:
                return
            self._woken = True
        try:
            self._arrived.emit()
        except RuntimeError:  # the bridge was deleted while the engine ran on
            pass

    # -- GUI thread -----------------------------------------------------------
    def _drain(self) -> None:
        with self._lock:
            events, self._queued = self._queued, []
            self._woken = False
        self.wakeups += 1
        for event in events:
            self._on_event(event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ServerConnection):
            self.serverConnection.emit(event.connected, event.address)
            return
        if isinstance(event, SessionChanged):
            self.sessionChanged.emit(event.job, event.session_id)
            self._changes.sessions[event.session_id] = event.job
            self._schedule()
        elif isinstance(event, PointsChanged):
            self._schedule()    # the jobs list shows no restore points
        else:
            self.mark_dirty()   # any other change, or an event this console does not know yet

    def mark_dirty(self) -> None:
        """Ask for a full refresh; it comes within ``min_interval_ms``, never faster."""
        self._changes.full = True
        self._schedule()

    def mark_jobs(self, names: Iterable[str]) -> None:
        """A command changed these jobs alone (started or stopped them): fetch
        them, not the whole list; within ``min_interval_ms``, never faster."""
        self._changes.jobs.update(names)
        self._schedule()

    def _schedule(self) -> None:
        self._dirty = True
        if self._throttle.isActive():
            return
        elapsed = self._since_fire.elapsed() if self._since_fire.isValid() else self.min_interval_ms
        self._throttle.start(max(0, self.min_interval_ms - elapsed))

    @property
    def pending(self) -> bool:
        """Whether a refresh is still due (events arrived since the last one)."""
        return self._dirty or self._throttle.isActive()

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._throttle.stop()

    def _fire(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self._since_fire.start()
        changes, self._changes = self._changes, JobsChanges()
        self.jobsDue.emit(changes)
        self.refreshDue.emit()
