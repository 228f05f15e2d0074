"""Errors of SSH computers, in the operator's words."""
from __future__ import annotations

from core.agents.base import SourceFileError
from core.errors import (  # defined there, as every error that crosses the wire
    ConnectionLostError as ConnectionLostError,
    RemoteError as RemoteError,
)


class RemoteFileError(SourceFileError):
    """One file could not be read on the computer (the backup goes on)."""
