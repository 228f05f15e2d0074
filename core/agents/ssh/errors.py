"""Errors of SSH computers, in the operator's words."""
from __future__ import annotations

from core.agents.base import SourceFileError
from core.errors import ConnectionLostError, RemoteError  # noqa: F401  (defined there: they cross the wire)


class RemoteFileError(SourceFileError):
    """One file could not be read on the computer (the backup goes on)."""
