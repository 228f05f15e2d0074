"""An in-memory back end for tests: a dict of objects and a reader-writer lock."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from core.repository.backend.base import CANCEL_POLL, BackendLock, LockCancel, ObjectInfo, ObjectNotFound, Usage, \
    is_cancelled


class _RwLock:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    def acquire(self, exclusive: bool, wait: bool, cancel: LockCancel | None = None,
                on_wait: Callable[[str], None] | None = None) -> bool:
        with self._cond:
            def free() -> bool:
                return not self._writer and (not exclusive or self._readers == 0)
            if not free():
                if not wait:
                    return False
                if on_wait is not None:
                    on_wait("another user of this repository in this process ("
                            + ("exclusive" if self._writer else "shared") + ")")
                while not self._cond.wait_for(free, CANCEL_POLL):
                    if is_cancelled(cancel):
                        return False
            if exclusive:
                self._writer = True
            else:
                self._readers += 1
            return True

    def release(self, exclusive: bool) -> None:
        with self._cond:
            if exclusive:
                self._writer = False
            else:
                self._readers -= 1
            self._cond.notify_all()


class _MemoryLock:
    def __init__(self, rw: _RwLock, exclusive: bool) -> None:
        self._rw: _RwLock | None = rw
        self._exclusive = exclusive
        self.lost = False

    @property
    def held(self) -> bool:
        return self._rw is not None and not self.lost

    def release(self) -> None:
        rw, self._rw = self._rw, None
        if rw is not None:
            rw.release(self._exclusive)

    def __enter__(self) -> _MemoryLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class MemoryBackend:
    kind = "memory"

    def __init__(self, name: str = "memory") -> None:
        self._name = name
        self._objects: dict[str, bytes] = {}
        self._mutex = threading.Lock()
        self._rw = _RwLock()
        self._locks: list[_MemoryLock] = []

    @property
    def location(self) -> str:
        return f"memory:{self._name}"

    def save(self, name: str, data: bytes | bytearray | memoryview) -> None:
        blob = bytes(data)
        with self._mutex:
            self._objects[name] = blob

    def load(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        with self._mutex:
            try:
                blob = self._objects[name]
            except KeyError:
                raise ObjectNotFound(f"{self.location}/{name} does not exist") from None
        end = None if length is None else offset + length
        return blob[offset:end]

    def stat(self, name: str) -> ObjectInfo:
        with self._mutex:
            try:
                return ObjectInfo(name, len(self._objects[name]))
            except KeyError:
                raise ObjectNotFound(f"{self.location}/{name} does not exist") from None

    def exists(self, name: str) -> bool:
        with self._mutex:
            return name in self._objects

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        with self._mutex:
            found = [ObjectInfo(n, len(b)) for n, b in self._objects.items()
                     if n.startswith(prefix)]
        return iter(found)

    def remove(self, name: str) -> None:
        with self._mutex:
            self._objects.pop(name, None)

    def lock(self, *, exclusive: bool, wait: bool, cancel: LockCancel | None = None,
             purpose: str | None = None,
             on_wait: Callable[[str], None] | None = None) -> BackendLock | None:
        if not self._rw.acquire(exclusive, wait, cancel, on_wait):
            return None
        lock = _MemoryLock(self._rw, exclusive)
        with self._mutex:
            self._locks = [k for k in self._locks if k.held] + [lock]
        return lock

    def usage(self) -> Usage:
        with self._mutex:
            return Usage(used=sum(len(b) for b in self._objects.values()))

    def close(self) -> None:
        pass

    # -- for fault-injection tests -----------------------------------------
    def corrupt(self, name: str, offset: int, xor: int = 0xFF) -> None:
        with self._mutex:
            blob = bytearray(self._objects[name])
            blob[offset] ^= xor
            self._objects[name] = bytes(blob)

    def lose_locks(self) -> None:
        """Every lock held now is lost, as a lease that expired while its
        holder could not reach the storage (the holder still has to release it)."""
        with self._mutex:
            for lock in self._locks:
                lock.lost = True
