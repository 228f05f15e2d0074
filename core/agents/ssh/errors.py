"""Errors of SSH computers, in the operator's words."""
from __future__ import annotations

from core.agents.base import SourceFileError
from core.errors import ConsoleError


class RemoteError(ConsoleError):
    """The computer cannot be reached or used over SSH (connect, host key,
    authentication, python3, the folder)."""


class ConnectionLostError(RemoteError):
    """The connection to a computer dropped in the middle of the work."""


class RemoteFileError(SourceFileError):
    """One file could not be read on the computer (the backup goes on)."""
