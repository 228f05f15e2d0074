"""Deadlines the server keeps for running sessions: a graceful stop that must
become immediate after N minutes, a backup window that closes. Clock-injected
like the scheduler: ``check()`` fires what is due at ``clock()``; only the
server's loop waits."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deadline:
    due: datetime
    action: Callable[[], None]


class DeadlineKeeper:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._deadlines: dict[str, Deadline] = {}

    def set(self, key: str, due: datetime, action: Callable[[], None]) -> None:
        with self._lock:
            self._deadlines[key] = Deadline(due, action)

    def due_at(self, key: str) -> datetime | None:
        with self._lock:
            deadline = self._deadlines.get(key)
        return deadline.due if deadline else None

    def cancel(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._deadlines.pop(key, None)

    def check(self) -> list[str]:
        """Run the actions whose time has come; returns their keys."""
        now = self._clock()
        with self._lock:
            due = sorted(((d.due, k) for k, d in self._deadlines.items() if d.due <= now))
            fired = [(k, self._deadlines.pop(k).action) for _, k in due]
        for key, action in fired:
            try:
                action()
            except Exception:
                log.exception("deadline %s failed", key)
        return [key for key, _ in fired]

    def seconds_until_next(self) -> float | None:
        with self._lock:
            if not self._deadlines:
                return None
            nearest = min(d.due for d in self._deadlines.values())
        return max(0.0, (nearest - self._clock()).total_seconds())
