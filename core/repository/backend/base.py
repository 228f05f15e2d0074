"""The storage back-end interface.

Object names are relative, '/'-separated paths such as ``config.json``,
``packs/ab/ab12….pack``, ``index/….idx``, ``points/….json.zst`` or
``keys/…``. A back end stores bytes under names; it knows nothing of the
repository format.

Contract (every implementation is tested against it):

- ``save`` is atomic and durable: once it returns, the whole object exists
  and survives a crash; if it raises or the process dies, the object is
  absent or still has its old content, never partial. The manifest-last
  commit of a restore point relies on this.
- ``load(name, offset, length)`` returns exactly the requested range
  (``length=None``: to the end). A missing object raises
  :class:`ObjectNotFound`; a range beyond the end returns what exists.
- ``list(prefix)`` yields every object whose name starts with ``prefix``,
  at any depth, in no particular order.
- ``remove`` of a missing object is not an error.
- Failures other than "not found" raise :class:`BackendError` (an
  ``OSError``: ``errno`` is set where one applies, e.g. ``ENOSPC``, so the
  repository's messages about a full or read-only disk keep working).
- ``lock`` gives the repository's shared (backups, restores, verifies) or
  exclusive (prune, repair) lock. Local folders use flock(2); object storage
  uses lock objects with a lease the holder refreshes. A wait for it can be
  cancelled, and says who holds it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, Union, runtime_checkable


class ObjectNotFound(FileNotFoundError):
    """The named object does not exist."""


class BackendError(OSError):
    """The back end failed (I/O, network, permissions, a full disk)."""


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    size: int


@dataclass(frozen=True)
class Usage:
    used: int | None = None        # bytes stored by this repository, when cheap to know
    capacity: int | None = None    # total size of the medium (local disks), else None
    free: int | None = None


# Ends a lock wait: an Event, or a callable polled every CANCEL_POLL seconds.
LockCancel = Union[threading.Event, Callable[[], bool]]
CANCEL_POLL = 0.1


def wait_or_cancel(cancel: LockCancel | None, seconds: float) -> bool:
    """Pause up to ``seconds``; True (at once) when ``cancel`` is set."""
    if cancel is None:
        threading.Event().wait(seconds)
        return False
    if isinstance(cancel, threading.Event):
        return cancel.wait(seconds)
    waiter = threading.Event()
    while seconds > 0 and not cancel():
        waiter.wait(min(seconds, CANCEL_POLL))
        seconds -= CANCEL_POLL
    return bool(cancel())


def is_cancelled(cancel: LockCancel | None) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if isinstance(cancel, threading.Event) else bool(cancel())


@runtime_checkable
class BackendLock(Protocol):
    @property
    def held(self) -> bool: ...
    def release(self) -> None: ...
    def __enter__(self) -> BackendLock: ...
    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class Backend(Protocol):
    @property
    def location(self) -> str:
        """Where the repository is, for messages: a path or a URL, never
        credentials."""
        ...

    @property
    def kind(self) -> str:
        """``local``, ``memory`` or ``s3``."""
        ...

    def save(self, name: str, data: bytes | bytearray | memoryview) -> None: ...
    def load(self, name: str, offset: int = 0, length: int | None = None) -> bytes: ...
    def stat(self, name: str) -> ObjectInfo: ...
    def exists(self, name: str) -> bool: ...
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...
    def remove(self, name: str) -> None: ...

    def lock(self, *, exclusive: bool, wait: bool, cancel: LockCancel | None = None,
             purpose: str | None = None,
             on_wait: Callable[[str], None] | None = None) -> BackendLock | None:
        """Take the repository lock. ``wait=False`` returns None when it is
        held elsewhere in a conflicting mode; ``wait=True`` blocks until it
        can be taken, or returns None promptly once ``cancel`` is set.

        Before it waits, ``on_wait(holder)`` is called once with who holds the
        lock, e.g. ``"host (pid 12, prune)"``. ``purpose`` ("backup", "prune",
        ...) names this lock's operation to such waiters where the back end
        can record it."""
        ...

    def usage(self) -> Usage: ...
    def close(self) -> None: ...
