"""What the desks of the backup server share: one :class:`ServiceContext`.

The facade (:mod:`core.service.facade`) builds it once and hands it to every
desk. It holds the data directory, the catalogue, the event hub, the
repository registry and pool, the point trees, the clock, the scheduler and
its deadlines, and the table of live sessions (backups running, restores and
verifies running, sessions ended but not yet saved) with its lock. The desks
own behaviour; what they share is here and nowhere else.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from core.catalogue import Catalogue
from core.engine.operations import OperationRunner
from core.engine.session import SessionRunner
from core.events import EventBus
from core.service.scheduler import Scheduler
from core.scheduling.deadlines import DeadlineKeeper
from core.service.browse import TreeCache
from core.service.pool import RepositoryPool
from core.service.registry import Registry


@dataclass
class ServiceContext:
    data_dir: Path
    catalogue: Catalogue
    events: EventBus
    registry: Registry
    pool: RepositoryPool
    trees: TreeCache
    clock: Callable[[], datetime]
    scheduler: Scheduler
    deadlines: DeadlineKeeper
    scheduler_wake: threading.Event   # set: the scheduler loop looks again at once
    runners: dict[str, SessionRunner] = field(default_factory=dict)   # backups running
    operations: dict[str, OperationRunner] = field(default_factory=dict)   # restores, verifies
    unsaved: dict[str, SessionRunner] = field(default_factory=dict)   # ended, not yet catalogued
    runners_lock: threading.Lock = field(default_factory=threading.Lock)

    def running_jobs(self) -> list[str]:
        """Names of the jobs that have a session running."""
        with self.runners_lock:
            return [r.job.name for r in self.runners.values() if not r.finished]

    def paused_jobs(self) -> list[str]:
        """Names of the jobs whose session is paused (every computer held): a server may
        stop under them, they stay paused over the restart."""
        with self.runners_lock:
            return [r.job.name for r in self.runners.values()
                    if not r.finished and r.is_paused]

    def operations_running(self) -> bool:
        """A restore or verify session is running."""
        return any(not op.finished for op in self.operations.values())


def os_reason(exc: OSError) -> str:
    """An OSError in the operator's words: its reason, as a sentence."""
    reason = exc.strerror or str(exc) or exc.__class__.__name__
    return reason if reason.endswith(".") else reason + "."
