"""A token bucket shared by a session's tasks, to cap the read rate."""
from __future__ import annotations

import threading
import time


class Throttle:
    def __init__(self, mbps: float | None) -> None:
        self.rate = mbps * 1024 * 1024 if mbps else None
        self._lock = threading.Lock()
        self._next_free = time.monotonic()
        self.waited_s = 0.0

    @property
    def active(self) -> bool:
        return self.rate is not None

    def consume(self, nbytes: int, cancel: threading.Event) -> None:
        """Account for ``nbytes`` and wait until the rate allows them. Returns
        early (without error) once ``cancel`` is set; the caller checks it."""
        if self.rate is None:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_free)
            self._next_free = start + nbytes / self.rate
            delay = self._next_free - now - 0.05  # allow a small burst
        if delay > 0:
            self.waited_s += delay
            cancel.wait(delay)
