"""A token bucket per computer being read, to cap its read rate (the job's
read rate limit is per computer, as the job wizard says)."""
from __future__ import annotations

import threading
import time

MIN_MBPS = 0.01
MAX_MBPS = 100_000.0
MAX_WAIT_S = 3600.0


class Throttle:
    def __init__(self, mbps: float | None) -> None:
        # Bounded: a rate of 1e-300 MB/s must neither overflow a wait nor stall for ever.
        self.rate = min(max(mbps, MIN_MBPS), MAX_MBPS) * 1024 * 1024 if mbps else None
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
            delay = min(delay, MAX_WAIT_S)
            self.waited_s += delay
            cancel.wait(delay)
