"""Errors the backup server reports to its front ends.

Every error carries a message written for the operator: what went wrong and
what to do about it. Front ends show ``str(error)`` and never a traceback.
"""
from __future__ import annotations


class ConsoleError(Exception):
    """Base class for every error a front end may show to the user."""


class InvalidInput(ConsoleError):
    pass


class NotFound(ConsoleError):
    pass


class AlreadyExists(ConsoleError):
    pass


class JobStateError(ConsoleError):
    """The job is not in a state that allows the request (running, idle, disabled)."""


class JobNotRunning(JobStateError):
    """A stop found no session: the job is idle (it may have ended by itself
    while the operator chose how to stop it)."""


class RepositoryError(ConsoleError):
    """The repository is missing, corrupt, locked or out of space."""


class RestoreError(ConsoleError):
    pass


class CatalogueError(RepositoryError):
    """The catalogue cannot be read or written (damaged, disk full, I/O error)."""


class ReadOnlyError(ConsoleError):
    """The data directory is read-only: reading works, changing does not."""


class OutsideBackupWindow(JobStateError):
    """A manual start outside the job's backup window, not confirmed."""
