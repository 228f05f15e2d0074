"""Errors the backup server reports to its front ends.

Every error carries a message written for the operator: what went wrong and
what to do about it. Front ends show ``str(error)`` and never a traceback.
"""
from __future__ import annotations

from typing import Any


class ConsoleError(Exception):
    """Base class for every error a front end may show to the user."""


class InvalidInput(ConsoleError):
    pass


class NotFound(ConsoleError):
    pass


class AlreadyExists(ConsoleError):
    pass


class Unauthorized(ConsoleError):
    """Not logged in, a wrong user name or password, or an expired token (401)."""


class FingerprintMismatch(ConsoleError):
    """The server presented another certificate than the one pinned for it (raised by
    the client before anything is sent; never an answer of the REST API)."""


class CodeRequired(Unauthorized):
    """The user has a second factor: log in again with the TOTP code (401)."""


class Forbidden(ConsoleError):
    """The user's role does not allow the request (403)."""


class TooManyAttempts(ConsoleError):
    """Failed logins for this user or from this address: wait before the next (429)."""


class JobStateError(ConsoleError):
    """The job is not in a state that allows the request (running, idle, disabled)."""


class JobNotRunning(JobStateError):
    """A stop found no session: the job is idle (it may have ended by itself
    while the operator chose how to stop it)."""


class RepositoryError(ConsoleError):
    """The repository is missing, corrupt, locked or out of space."""


class EntryBlobDamaged(RepositoryError):
    """An entry blob of a format-3 manifest (a piece of a point's list of files) has
    no intact copy: the point cannot be read; verify and repair say more."""

    def __init__(self, message: str, blob: str, pack: str | None, problem: str) -> None:
        super().__init__(message)
        self.blob = blob
        self.pack = pack
        self.problem = problem


class RestoreError(ConsoleError):
    pass


class CatalogueError(RepositoryError):
    """The catalogue cannot be read or written (damaged, disk full, I/O error)."""


class ReadOnlyError(ConsoleError):
    """The data directory is read-only: reading works, changing does not."""


class OutsideBackupWindow(JobStateError):
    """A manual start outside the job's backup window, not confirmed."""


# -- kinds raised deep in the server that front ends must tell apart. They live here,
# not beside the code that raises them, because a client rebuilds an error by its
# kind's name from this module (core.api.client), and front ends load no server code.
# tests/core/test_errors.py checks that every kind that can cross the wire is here.


class PasswordRequired(RepositoryError):
    """The repository is encrypted and no (or an empty) password was given."""


class WrongPassword(RepositoryError):
    """No key object of the repository opens with the password."""


class DamagedKey(RepositoryError):
    """A key object cannot be read (not JSON, fields missing or invalid)."""

    def __init__(self, message: str, key_id: str = "", why: str = "") -> None:
        super().__init__(message)
        self.key_id = key_id
        self.why = why


class KeyNotFound(NotFound, RepositoryError):
    """No key object has the id."""


class KeyInUse(RepositoryError):
    """Refused: the key would be the current or the last one."""


class DecryptError(RepositoryError):
    """A sealed object was changed, or sealed with another key."""


class S3AccessDenied(RepositoryError):
    """The S3 server refused the keys (wrong, or not allowed on the bucket)."""


class PointNotFound(NotFound, RepositoryError):
    """The restore point does not exist (never committed, or forgotten)."""


class PartialRestore(RestoreError):
    """Some files could not be restored exactly; they were not written, every
    other file was. ``stats`` says what was restored and what was not."""

    def __init__(self, stats: Any, unindexed_packs: int = 0) -> None:   # a RestoreStats
        failed = stats.failed
        names = ", ".join(f"{path!r} ({why})" for path, why in failed)
        advice = (
            f"The repository has {unindexed_packs} pack file(s) that its index does not list "
            "(an index file was lost), which may hold those blocks: run 'agent-jobs repair' "
            "to rebuild the index from the packs, then restore again."
            if unindexed_packs else
            "Run 'agent-jobs verify': the next backup of that computer stores good copies of "
            "damaged blocks, or restore an older point.")
        super().__init__(
            f"Restore of point {stats.point_id} to {stats.target} is incomplete: {len(failed)} "
            f"file(s) could not be restored exactly and were not written: {names}. The other "
            f"{stats.files} file(s) were restored. {advice}"
        )
        self.stats = stats


class RemoteError(ConsoleError):
    """The computer cannot be reached or used over SSH (connect, host key,
    authentication, python3, the folder)."""


class ConnectionLostError(RemoteError):
    """The connection to a computer dropped in the middle of the work."""


def from_wire(kind: str, message: str) -> ConsoleError:
    """The error a server sent as ``{"error": message, "kind": kind}``, as its own
    class (a ConsoleError when the kind is unknown). A class whose constructor
    takes more than the message is rebuilt with the message alone."""
    cls = globals().get(kind)
    if not (isinstance(cls, type) and issubclass(cls, ConsoleError)):
        cls = ConsoleError
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    return error
