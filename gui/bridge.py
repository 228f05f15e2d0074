"""The one way engine events reach the GUI thread.

The service calls listeners on engine threads. :class:`EventBridge` turns
each event into a queued signal for the GUI thread, and coalesces them: a
burst of events becomes at most one ``refreshDue`` per ``min_interval_ms``
(100 ms: at most ten refreshes a second). The console never polls: the
server's event stream says when something changed, and after a lost
connection the client sends one event that refreshes everything.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Signal

from core.events import Event, ServerConnection, SessionChanged


Unsubscribe = Callable[[], None]
Subscribe = Callable[[Callable[[Event], None]], Unsubscribe]


class EventBridge(QObject):
    sessionChanged = Signal(str, str)     # job, session id
    serverConnection = Signal(bool, str)  # connected, server address
    refreshDue = Signal()                 # coalesced: time to fetch the jobs list again

    _arrived = Signal(object)             # engine thread -> GUI thread

    def __init__(self, subscribe: Subscribe, parent: QObject | None = None, *,
                 min_interval_ms: int = 100) -> None:
        super().__init__(parent)
        self.min_interval_ms = min_interval_ms
        self._dirty = False
        self._since_fire = QElapsedTimer()
        self._throttle = QTimer(self)
        self._throttle.setSingleShot(True)
        self._throttle.timeout.connect(self._fire)
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
        if isinstance(event, ServerConnection):
            self.serverConnection.emit(event.connected, event.address)
            return
        if isinstance(event, SessionChanged):
            self.sessionChanged.emit(event.job, event.session_id)
        self.mark_dirty()   # any change, or an event this console does not know yet

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
        self.refreshDue.emit()
