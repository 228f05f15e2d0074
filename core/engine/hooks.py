"""Points where the engine lets an observer in. Production uses the no-op
hooks; tests use ``tests.support.gate.TaskGate`` to hold a computer mid-task."""
from __future__ import annotations

from collections.abc import Callable


class EngineHooks:
    def checkpoint(self, job: str, computer: str, files_done: int,
                   cancelled: Callable[[], bool]) -> None:
        """Called by a task before each file it reads. May block; must return
        promptly once ``cancelled()`` turns true."""


NO_HOOKS = EngineHooks()
