"""Events published by the backup server. Plain data, no Qt.

Subscribers are called on the publishing thread; they must return quickly
(the GUI bridge only queues the event for its own thread)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from collections.abc import Callable


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class JobsChanged(Event):
    """Jobs were created, edited, deleted, enabled or disabled."""


@dataclass(frozen=True)
class SessionChanged(Event):
    """A session of ``job`` changed state (Working, Paused, Stopping, Stopped), progress
    or result."""

    job: str
    session_id: str


@dataclass(frozen=True)
class PointsChanged(Event):
    """Restore points of ``job`` were added or removed."""

    job: str


Listener = Callable[[Event], None]


@dataclass
class EventBus:
    _listeners: list[Listener] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a broken listener must not break the engine
                import logging

                logging.getLogger(__name__).exception("event listener failed")


@dataclass(frozen=True)
class CatalogueChanged(Event):
    """The catalogue changed, possibly by another process: refresh everything."""


@dataclass(frozen=True)
class ServerConnection(Event):
    """A client's link to the backup server came up or went down."""

    connected: bool
    address: str
