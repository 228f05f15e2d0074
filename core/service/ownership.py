"""One backup server per data directory.

The owner holds an exclusive ``flock`` on ``DATA_DIR/server.lock`` and writes
who it is into the file. The kernel drops the lock when the process dies, so a
killed server never blocks the next one, and no stale-lock timeout exists.
"""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from core.errors import ConsoleError
from core.models import utcnow
from core.process.owner_record import describe_owner, read_owner
from core.paths import server_lock_path

__all__ = ["DataDirBusy", "DataDirOwnership", "describe_owner", "read_owner"]


class DataDirBusy(ConsoleError):
    """Another process already owns the data directory."""

    def __init__(self, data_dir: Path, owner: dict[str, Any] | None) -> None:
        who = describe_owner(owner)
        super().__init__(
            f"The data directory {data_dir} is already served by {who}. Use "
            "'agent-jobs server status' to see it, or 'agent-jobs server stop' to stop it.")
        self.owner = owner


class DataDirOwnership:
    """The exclusive claim on a data directory, held until :meth:`release`."""

    def __init__(self, data_dir: Path, fd: int, info: dict[str, Any]) -> None:
        self.data_dir = data_dir
        self._fd: int | None = fd
        self.info = info

    @classmethod
    def acquire(cls, data_dir: Path, role: str = "agent-jobs server") -> DataDirOwnership:
        path = server_lock_path(data_dir)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataDirBusy(data_dir, read_owner(data_dir)) from None
        except OSError:
            os.close(fd)
            raise
        owner = cls(data_dir, fd, {"role": role, "pid": os.getpid(),
                                   "started": utcnow().isoformat()})
        owner.update()
        return owner

    def update(self, **info: Any) -> None:
        """Record more about the owner (its addresses) for ``server status``."""
        if self._fd is None:
            return
        self.info.update(info)
        data = json.dumps(self.info).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        except OSError:
            pass
        os.close(self._fd)   # closing drops the flock
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
