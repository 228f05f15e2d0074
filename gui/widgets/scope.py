"""The Home inventory's nodes (:class:`JobScope`): what the jobs list, the
Last 24 Hours lists and the inventory pane show. Shared by the jobs and
history nodes and the inventory pane, so none of them imports another."""
from __future__ import annotations

from datetime import timedelta
from enum import Enum

LAST_DAY = timedelta(hours=24)   # the window of the Last 24 Hours nodes


class JobScope(Enum):
    """What an inventory node shows in the working area."""

    OVERVIEW = "overview"       # Overview (the state at a glance)
    ALL = "all"                 # Jobs
    BACKUP = "backup"           # Jobs > Backup (agent backup jobs)
    BACKUP_COPY = "backup_copy" # Jobs > Backup Copy (backup copy jobs)
    RUNNING = "running"         # Last 24 Hours > Running
    SUCCESS = "success"         # Last 24 Hours > Success
    WARNING = "warning"         # Last 24 Hours > Warning
    FAILED = "failed"           # Last 24 Hours > Failed
    LAST_DAY = "last_day"       # Last 24 Hours (its sessions)
    BACKUPS = "backups"         # Backups > Disk (restore points, not jobs)

    @property
    def lists_sessions(self) -> bool:
        """The Last 24 Hours nodes list that day's sessions, not jobs."""
        return self in (JobScope.LAST_DAY, JobScope.RUNNING, JobScope.SUCCESS,
                        JobScope.WARNING, JobScope.FAILED)
