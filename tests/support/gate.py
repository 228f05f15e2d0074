"""A gate that holds chosen computers in the middle of their task, so tests
control exactly which computers are completed, in progress or not started
at the moment of a stop."""
from __future__ import annotations

import threading
from collections.abc import Callable

from core.engine.hooks import EngineHooks


class TaskGate(EngineHooks):
    def __init__(self, after_files: int = 1) -> None:
        """A held computer blocks before its file number ``after_files`` (so by
        default it has already processed one file: it is truly in progress)."""
        self._after_files = after_files
        self._cond = threading.Condition()
        self._held: set[str] = set()
        self._waiting: set[str] = set()

    def hold(self, *computers: str) -> None:
        with self._cond:
            self._held.update(computers)

    def release(self, *computers: str) -> None:
        with self._cond:
            self._held.difference_update(computers)
            self._cond.notify_all()

    def release_all(self) -> None:
        with self._cond:
            self._held.clear()
            self._cond.notify_all()

    def is_waiting(self, computer: str) -> bool:
        with self._cond:
            return computer in self._waiting

    def wait_held(self, computer: str, timeout: float = 10.0) -> bool:
        """Block until ``computer``'s task is parked at the gate."""
        with self._cond:
            return self._cond.wait_for(lambda: computer in self._waiting, timeout)

    def checkpoint(self, job: str, computer: str, files_done: int,
                   cancelled: Callable[[], bool]) -> None:
        if files_done < self._after_files:
            return
        with self._cond:
            if computer not in self._held:
                return
            self._waiting.add(computer)
            self._cond.notify_all()
            try:
                while computer in self._held and not cancelled():
                    self._cond.wait(0.02)
            finally:
                self._waiting.discard(computer)
                self._cond.notify_all()
