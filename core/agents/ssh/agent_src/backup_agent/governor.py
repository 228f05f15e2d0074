"""Yield to production: a governor of the backup's read rate by the computer's own pressure.

Stdlib only (Python 3.8+): shipped to SSH computers in the agent's zipapp and used by the
local agent's reads in the server too. The pressure is Linux PSI (``/proc/pressure/io`` and
``/proc/pressure/cpu``): the ``some`` line's ``total`` (microseconds during which at least
one task stalled on the resource), its growth over the wall time between two samples is the
percent of time production was held up.

The governor is AIMD, checked every ``INTERVAL_S`` (a quarter second) at a chunk boundary (each ``consume``):

* pressure above the threshold: the rate halves (never below ``FLOOR_BPS``) and reading
  *holds* there, checking again every interval, until the pressure falls (halving again
  each interval it stays high);
* pressure at or below it: the rate grows by 1/16 of the maximum per calm interval, back to
  the maximum (the job's read rate limit, or the fastest rate measured: then unlimited).

Without PSI (not Linux, an old kernel, a container that hides it) it never holds: the
backup runs at full speed and ``available`` is False (the session log says so once).

``AGENT_BACKUP_PSI_DIR`` names another folder holding ``io`` and ``cpu`` files in PSI's
format (tests point it at a fake one)."""
from __future__ import annotations

import os
import time
from typing import Callable, Dict, Optional, Tuple

Pressure = Tuple[float, str]   # (percent, resource)

PSI_DIR = "/proc/pressure"
PSI_ENV = "AGENT_BACKUP_PSI_DIR"
RESOURCES = ("io", "cpu")
INTERVAL_S = 0.25           # pressure is measured over this much wall time
FLOOR_BPS = float(1 << 20)  # the rate never goes below 1 MiB/s
RAMP_STEPS = 16             # +1/16 of the maximum per calm interval
BURST_S = 0.05              # reads may run this far ahead of the governed rate
MIN_THRESHOLD, MAX_THRESHOLD = 1, 100


def psi_dir() -> str:
    return os.environ.get(PSI_ENV) or PSI_DIR


class PsiSource:
    """Reads the ``some`` totals (microseconds) of ``io`` and ``cpu`` from a PSI folder."""

    def __init__(self, folder: Optional[str] = None) -> None:
        self.folder = folder or psi_dir()

    def totals(self) -> Optional[Dict[str, int]]:
        """{resource: total µs}, or None when no resource's pressure can be read."""
        found: Dict[str, int] = {}
        for name in RESOURCES:
            try:
                with open(os.path.join(self.folder, name), "rb") as f:
                    text = f.read(4096).decode("ascii", "replace")
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith("some "):
                    for field in line.split()[1:]:
                        if field.startswith("total="):
                            try:
                                found[name] = int(field[6:])
                            except ValueError:
                                pass
        return found or None


class Governor:
    """The read rate of one computer's backup, lowered and held by production pressure.

    ``source()`` gives the PSI totals (or None), ``clock()`` seconds (monotonic),
    ``wait(s)`` waits ``s`` seconds and returns True when the backup is cancelled (then
    ``consume`` returns at once; the caller checks its own cancel). ``max_bps`` is the
    job's read rate limit (None: unlimited)."""

    def __init__(self, threshold: int, max_bps: Optional[float] = None,
                 source: Optional[Callable[[], Optional[Dict[str, int]]]] = None,
                 clock: Callable[[], float] = time.monotonic,
                 wait: Optional[Callable[[float], bool]] = None,
                 interval: float = INTERVAL_S) -> None:
        self.threshold = min(max(int(threshold), MIN_THRESHOLD), MAX_THRESHOLD)
        self.max_bps = max_bps
        self.source = source or PsiSource().totals
        self.clock = clock
        self.wait = wait or _sleep
        self.interval = interval
        self.rate: Optional[float] = max_bps      # None: unlimited
        self.peak = 0.0                           # the fastest rate measured over an interval
        self.held_s = 0.0                         # time spent holding at a chunk boundary
        self.slowed_s = 0.0                       # time spent waiting on a lowered rate
        self.holds = 0                            # times reading held
        self.worst: Optional[Pressure] = None        # (percent, resource) the highest seen above
        self.on_hold: Optional[Callable[[str, float], None]] = None   # first hold: (res, %)
        now = clock()
        self._last = self.source()
        self.available = self._last is not None
        self._last_t = now
        self._bytes = 0            # read since the last sample
        self._next_free = now      # the token bucket of a lowered rate
        self._holding_since: Optional[float] = None

    # -- pressure -------------------------------------------------------------
    def _sample(self) -> Optional[Pressure]:
        """(percent, resource) of the most pressed resource since the last sample."""
        now = self.clock()
        totals = self.source()
        last, elapsed = self._last, now - self._last_t
        self._last, self._last_t = totals, now
        if totals is None or last is None or elapsed <= 0:
            return None
        best: Optional[Pressure] = None
        for name, total in totals.items():
            if name in last:
                pct = max(0.0, (total - last[name]) / (elapsed * 1e6) * 100.0)
                if best is None or pct > best[0]:
                    best = (min(pct, 100.0), name)
        return best

    def _high(self, pressure: Optional[Pressure]) -> bool:
        if pressure is None or pressure[0] <= self.threshold:
            return False
        if self.worst is None or pressure[0] > self.worst[0]:
            self.worst = pressure
        return True

    def _decrease(self, measured: float) -> None:
        base = self.rate if self.rate is not None else max(measured, self.peak, FLOOR_BPS)
        self.rate = max(FLOOR_BPS, base / 2)

    def _increase(self) -> None:
        if self.rate is None:
            return
        top = self.max_bps if self.max_bps is not None else self.peak
        self.rate += max(top, FLOOR_BPS) / RAMP_STEPS
        if self.max_bps is not None:
            self.rate = min(self.rate, self.max_bps)
        elif self.rate >= self.peak:
            self.rate = None   # back to full speed

    # -- the backup's side ------------------------------------------------------
    def consume(self, n: int) -> None:
        """``n`` bytes were read: at most every interval, check the pressure (hold while
        it is high), then wait as the governed rate says. A chunk boundary."""
        if not self.available:
            return
        self._bytes += n
        now = self.clock()
        elapsed = now - self._last_t
        if elapsed >= self.interval:
            measured = self._bytes / elapsed
            self._bytes = 0
            if self.rate is None:
                self.peak = max(self.peak, measured)
            pressure = self._sample()
            if self._high(pressure):
                # The hold paid for what was read: reading resumes at once when it ends
                # (the lowered rate paces what is read from then on).
                self.hold(pressure, measured)
                self._next_free = self.clock()
                return
            else:
                self._increase()
            now = self.clock()
            self._next_free = max(self._next_free, now)
        if self.rate is not None and (self.max_bps is None or self.rate < self.max_bps):
            start = max(now, self._next_free)
            self._next_free = start + n / self.rate
            delay = self._next_free - now - BURST_S
            if delay > 0:
                t0 = self.clock()
                self.wait(delay)
                self.slowed_s += self.clock() - t0

    def hold(self, pressure: Pressure, measured: float) -> bool:
        """Hold while the pressure stays above the threshold (halving the rate each
        interval); True when cancelled meanwhile."""
        self.holds += 1
        if self.holds == 1 and self.on_hold is not None:
            self.on_hold(pressure[1], pressure[0])
        self._decrease(measured)
        t0 = self._holding_since = self.clock()
        try:
            while True:
                if self.wait(self.interval):
                    return True
                pressure = self._sample()
                if not self._high(pressure):
                    self._bytes = 0
                    return False
                self._decrease(0.0)
        finally:
            self._holding_since = None
            self.held_s += self.clock() - t0

    @property
    def held_now(self) -> float:
        """Seconds held so far, the hold in progress included."""
        since = self._holding_since
        return self.held_s + (self.clock() - since if since is not None else 0.0)

    @property
    def why(self) -> str:
        """Why it held, in the session log's words: "io pressure 43 % > 20 %"."""
        if self.worst is None:
            return ""
        return f"{self.worst[1]} pressure {self.worst[0]:.0f} % > {self.threshold} %"

    def figures(self) -> Dict[str, object]:
        return {"held_s": round(self.held_now, 3), "slowed_s": round(self.slowed_s, 3),
                "holds": self.holds, "why": self.why, "psi": self.available}


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False
