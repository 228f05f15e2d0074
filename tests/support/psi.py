"""A fake Linux PSI folder (``/proc/pressure``'s ``io`` and ``cpu`` files) whose ``some``
totals grow at a chosen percent of wall time, for the governor's tests
(``AGENT_BACKUP_PSI_DIR`` points the agents at it)."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

STEP_S = 0.02


class FakePsi:
    def __init__(self, folder: Path, io: float = 0.0, cpu: float = 0.0) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.percent = {"io": io, "cpu": cpu}
        self.totals = {"io": 0.0, "cpu": 0.0}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._last = time.monotonic()
        with self._lock:
            self._write()
        self._thread = threading.Thread(target=self._run, name="fake-psi", daemon=True)
        self._thread.start()

    def set(self, io: float | None = None, cpu: float | None = None) -> None:
        with self._lock:
            self._advance_locked()
            if io is not None:
                self.percent["io"] = io
            if cpu is not None:
                self.percent["cpu"] = cpu

    def _advance(self) -> None:
        with self._lock:
            self._advance_locked()

    def _advance_locked(self) -> None:
        now = time.monotonic()
        dt, self._last = now - self._last, now
        for name in self.totals:
            self.totals[name] += dt * 1e6 * self.percent[name] / 100
        self._write()

    def _write(self) -> None:
        for name, total in self.totals.items():
            tmp = self.folder / f".{name}.tmp"
            tmp.write_text(f"some avg10=0.00 avg60=0.00 avg300=0.00 total={int(total)}\n"
                           "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
            os.replace(tmp, self.folder / name)

    def _run(self) -> None:
        while not self._stop.wait(STEP_S):
            self._advance()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
