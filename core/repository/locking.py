"""Repository locks on the ``lock`` file with flock(2).

Each lock opens its own descriptor: flock locks belong to the open file
description, so two writers in one process conflict exactly like two
processes do, and the kernel drops the lock when the process dies (no stale
locks)."""
from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from core.errors import RepositoryError


_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


class RepoLock:
    def __init__(self, path: Path, fd: int | None) -> None:
        self._path = path
        self._fd: int | None = fd

    @classmethod
    def _open(cls, path: Path) -> int | None:
        """A descriptor to lock; None on read-only media where the lock file was
        never created: nothing can write there, so there is nothing to lock."""
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno not in _READ_ONLY:
                raise RepositoryError(
                    f"Cannot open repository lock file {path}: {exc.strerror or exc}. Check "
                    "that the repository disk is attached."
                ) from exc
        # read-only media: flock also works on a read-only descriptor
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RepositoryError(
                f"Cannot open repository lock file {path}: {exc.strerror or exc}. Check the "
                "repository folder's permissions."
            ) from exc

    @classmethod
    def shared(cls, path: Path) -> RepoLock:
        """Block until no exclusive holder (prune) remains."""
        fd = cls._open(path)
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_SH)
        return cls(path, fd)

    @classmethod
    def try_exclusive(cls, path: Path) -> RepoLock | None:
        fd = cls._open(path)
        if fd is None:
            return cls(path, None)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> RepoLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()
