"""Repository locks on object storage: lock objects with a lease.

A lock is an object ``locks/<random id>`` holding JSON ``{exclusive, host,
pid, operation, created, refreshed, lease_seconds}``. Its holder rewrites it
every lease/3 from a daemon thread. Nobody can delete a lock object when its
process dies, so a lock that has not been rewritten for longer than its lease
is *stale*: the next process that meets it removes it (with a warning naming
the holder and how long it had been silent) and goes on.

Acquiring: write our own lock object, then list the locks. If another live
lock conflicts (either of the two is exclusive), remove ours and give up
(``wait=False``) or try again after a random, growing pause (``wait=True``,
until a ``cancel`` event ends the wait; the caller is told once who it waits
for).
Two processes that write at the same time both see each other and both back
off; the random pause lets one of them win the next round.

How old a lock is, is measured by the store's own clock when it has one
(``object_ages``: on S3 the listing's ``Date`` header minus each object's
``LastModified``), so the clients' clocks may be wrong by any amount. Those
times have whole seconds, so a lock counts as stale only when its age minus
that granularity (``clock_granularity``) is above its lease. A store without
a clock (the in-memory back end, one process) compares the ``refreshed`` time
in the lock with this machine's clock.

The holder's side is measured on its monotonic clock from the start of its
last successful rewrite: once that is more than a lease ago, ``held`` is
False (nobody may have taken the lock over before that) and the repository
must not commit; a rewrite that finishes more than a lease after the previous
one might have raced with a takeover, so it counts as lost too and the lock
object is removed again. Before a step that must not outlive the lock (a
commit), the holder calls :meth:`LeaseLock.refresh` for a full lease, and
checks ``held`` again once the step is done.
"""
from __future__ import annotations

import json
import logging
import os
import random
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from core.errors import RepositoryError

from core.repository.backend.base import BackendError, LockCancel, ObjectInfo, ObjectNotFound, is_cancelled, \
    wait_or_cancel

__all__ = ["DEFAULT_LEASE_SECONDS", "LOCK_PREFIX", "LeaseLock", "LockInfo", "acquire_lease",
           "read_locks", "renew_lease"]

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 60.0
LOCK_PREFIX = "locks/"
_FIRST_PAUSE = 0.05
_MAX_PAUSE = 2.0


class LeaseStore(Protocol):
    """What a lease needs of a back end (any :class:`~.base.Backend` has it).
    A store may also offer ``object_ages(prefix) -> {name: seconds}`` and
    ``clock_granularity`` to measure ages with its own clock."""

    @property
    def location(self) -> str: ...
    def save(self, name: str, data: bytes | bytearray | memoryview) -> None: ...
    def load(self, name: str, offset: int = 0, length: int | None = None) -> bytes: ...
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...
    def remove(self, name: str) -> None: ...


@dataclass(frozen=True)
class LockInfo:
    """Another process's lock as read from the store."""
    name: str
    exclusive: bool
    host: str
    pid: int | None
    lease_seconds: float
    age: float | None           # seconds since it was last rewritten; None: unknown
    operation: str | None = None

    @property
    def holder(self) -> str:
        return f"{self.host} (pid {self.pid})" if self.pid is not None else self.host

    def describe(self) -> str:
        """Who holds it and what for: ``host (pid 12, prune)``."""
        what = self.operation or ("prune or repair" if self.exclusive
                                  else "backup, restore or verify")
        pid = f"pid {self.pid}, " if self.pid is not None else ""
        return f"{self.host} ({pid}{what})"

    def stale(self, granularity: float) -> bool:
        return self.age is not None and self.age - granularity > self.lease_seconds


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")


def _parse_time(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _seal(store: LeaseStore, document: bytes) -> bytes:
    """An encrypted repository's store has a ``lock_sealer`` (its master key):
    lock objects name hosts and pids, so the object store sees them sealed."""
    sealer = getattr(store, "lock_sealer", None)
    return document if sealer is None else sealer.seal(document)


def _unseal(store: LeaseStore, raw: bytes) -> bytes:
    """ValueError when a sealed lock object cannot be opened."""
    sealer = getattr(store, "lock_sealer", None)
    if sealer is None:
        return raw
    try:
        return bytes(sealer.open(raw))
    except RepositoryError as exc:
        raise ValueError(str(exc)) from None


def read_locks(store: LeaseStore, *, skip: str | None = None) -> list[LockInfo]:
    """Every lock object in ``store`` but ``skip``, with its age."""
    ages_of = getattr(store, "object_ages", None)
    ages: dict[str, float] | None = ages_of(LOCK_PREFIX) if ages_of is not None else None
    names = list(ages) if ages is not None else [info.name for info in store.list(LOCK_PREFIX)]
    found: list[LockInfo] = []
    for name in names:
        if name == skip:
            continue
        try:
            raw = store.load(name)
        except ObjectNotFound:
            continue                    # released while we looked
        try:
            doc = json.loads(_unseal(store, raw))
            if not isinstance(doc, dict):
                raise ValueError("not an object")
        except ValueError:
            doc = {}                    # unreadable: an exclusive lock of unknown holder
        lease = doc.get("lease_seconds")
        lease = float(lease) if isinstance(lease, (int, float)) and lease > 0 \
            else DEFAULT_LEASE_SECONDS
        if ages is not None:
            age: float | None = ages[name]
        else:
            refreshed = _parse_time(doc.get("refreshed")) or _parse_time(doc.get("created"))
            # no clock and no time in it: garbage nobody refreshes, treat as stale
            age = time.time() - refreshed if refreshed is not None else float("inf")
        pid = doc.get("pid")
        operation = doc.get("operation")
        found.append(LockInfo(
            name=name, exclusive=doc.get("exclusive") is not False,
            host=str(doc.get("host") or "an unknown host"),
            pid=pid if isinstance(pid, int) else None, lease_seconds=lease, age=age,
            operation=operation if isinstance(operation, str) else None))
    return found


class LeaseLock:
    """A lock object that a daemon thread keeps alive until :meth:`release`."""

    def __init__(self, store: LeaseStore, name: str, exclusive: bool, lease_seconds: float,
                 created: float, renewed_at: float, operation: str | None = None) -> None:
        self._store = store
        self.name = name
        self.exclusive = exclusive
        self.operation = operation
        self.lease_seconds = lease_seconds
        self._created = created
        self._renewed_at = renewed_at   # monotonic start of the last good rewrite
        self._lost = False
        self._released = False
        self._stop = threading.Event()
        self._io = threading.Lock()     # a rewrite never races with the removal
        # the thread holds the lock only weakly: a lock its owner dropped is
        # released by __del__, like a closed flock descriptor
        self._thread = threading.Thread(
            target=_refresh_loop, args=(weakref.ref(self), self._stop, lease_seconds / 3),
            daemon=True, name=f"lease {name}")

    # -- the lock object -----------------------------------------------------

    def _document(self) -> bytes:
        return json.dumps({
            "exclusive": self.exclusive, "host": socket.gethostname(), "pid": os.getpid(),
            "operation": self.operation, "created": _iso(self._created),
            "refreshed": _iso(time.time()), "lease_seconds": self.lease_seconds,
        }).encode()

    def _write(self) -> None:
        self._store.save(self.name, _seal(self._store, self._document()))

    # -- state ---------------------------------------------------------------

    @property
    def held(self) -> bool:
        return (not self._released and not self._lost
                and time.monotonic() - self._renewed_at <= self.lease_seconds)

    @property
    def location(self) -> str:
        return self._store.location

    def __repr__(self) -> str:
        mode = "exclusive" if self.exclusive else "shared"
        return f"LeaseLock({self._store.location}/{self.name}, {mode}, held={self.held})"

    # -- refreshing ----------------------------------------------------------

    def _start(self) -> None:
        self._thread.start()

    def _refresh_once(self, interval: float) -> float | None:
        """Rewrite the lock object; the pause before the next rewrite, or None
        when refreshing is over."""
        with self._io:
            if self._stop.is_set():
                return None
            started = time.monotonic()
            if started - self._renewed_at > self.lease_seconds:
                self._lose(f"it could not be refreshed for more than its "
                           f"{self.lease_seconds:g} s lease")
                return None
            try:
                self._write()
            except OSError as exc:
                log.warning("Cannot refresh the repository lock %s on %s: %s; retrying.",
                            self.name, self._store.location, exc.strerror or exc)
                return interval / 2
            return interval if self._renewed(started) else None

    def refresh(self) -> bool:
        """Rewrite the lock object now, so a full lease is left; False when
        the lock is no longer held. OSError from the store passes through
        (the lock stays held while its lease runs)."""
        with self._io:
            if not self.held:
                return False
            started = time.monotonic()
            self._write()
            return self._renewed(started)

    def _renewed(self, started: float) -> bool:
        """After a rewrite begun at ``started``: a full lease from then on, or
        the lock is lost when the write landed after the lease ran out
        (another process may have taken it over in between)."""
        if time.monotonic() - self._renewed_at > self.lease_seconds:
            self._lose(f"refreshing it took past the end of its {self.lease_seconds:g} s lease")
            return False
        self._renewed_at = started
        return True

    def _lose(self, why: str) -> None:
        self._lost = True
        log.warning("Lost the repository lock %s on %s: %s. The running operation will not "
                    "commit.", self.name, self._store.location, why)
        try:
            self._store.remove(self.name)
        except OSError:
            pass                        # it is stale anyway; the next locker removes it

    # -- release -------------------------------------------------------------

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        self._stop.set()
        with self._io:
            try:
                self._store.remove(self.name)
            except OSError as exc:
                log.warning("Cannot remove the repository lock %s on %s: %s. Others can take "
                            "it over once its %g s lease has run out.", self.name,
                            self._store.location, exc.strerror or exc, self.lease_seconds)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)

    def __enter__(self) -> LeaseLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:       # noqa: BLE001 - at interpreter exit anything may be gone
            pass


def _refresh_loop(ref: weakref.ref[LeaseLock], stop: threading.Event, interval: float) -> None:
    pause: float | None = interval
    while pause is not None and not stop.wait(pause):
        lock = ref()
        if lock is None:
            return
        pause = lock._refresh_once(interval)
        del lock


def _conflicts(store: LeaseStore, own: str, exclusive: bool) -> LockInfo | None:
    """A live lock other than ``own`` that conflicts; stale ones are removed."""
    granularity = float(getattr(store, "clock_granularity", 0.0))
    conflict: LockInfo | None = None
    for other in read_locks(store, skip=own):
        if other.stale(granularity):
            try:
                store.remove(other.name)
            except ObjectNotFound:
                pass
            silent = "an unknown time" if other.age in (None, float("inf")) \
                else f"{other.age:.0f} s"
            log.warning(
                "Took over the repository lock of %s on %s: it had not been refreshed for %s, "
                "longer than its %g s lease, so that process has most likely died.",
                other.holder, store.location, silent, other.lease_seconds)
            continue
        if (exclusive or other.exclusive) and (conflict is None or other.exclusive):
            conflict = other
    return conflict


def acquire_lease(store: LeaseStore, *, exclusive: bool, wait: bool,
                  lease_seconds: float = DEFAULT_LEASE_SECONDS,
                  cancel: LockCancel | None = None, purpose: str | None = None,
                  on_wait: Callable[[str], None] | None = None) -> LeaseLock | None:
    """Take a shared or exclusive lease lock on ``store``. ``wait=False``
    returns None when a live lock conflicts; ``wait=True`` tries again until
    it can be taken, or returns None once ``cancel`` is set; ``on_wait`` is
    told the holder (``LockInfo.describe``) when the first wait starts.
    OSError from the store passes through."""
    if lease_seconds <= 0:
        raise ValueError("lease_seconds must be positive")
    pause = _FIRST_PAUSE
    lock = LeaseLock(store, f"{LOCK_PREFIX}{secrets.token_hex(16)}", exclusive, lease_seconds,
                     time.time(), time.monotonic(), purpose)
    lock._released = True       # until it is taken: nothing for __del__ to remove
    slow = 0
    while True:
        started = lock._renewed_at = time.monotonic()
        try:
            lock._write()
            conflict = _conflicts(store, lock.name, exclusive)
        except BaseException:
            _remove_quietly(store, lock.name)
            raise
        if conflict is None:
            if time.monotonic() - started <= lease_seconds / 2:
                lock._released = False
                lock._start()
                return lock
            slow += 1           # most of the lease went on looking: write it afresh
            if slow < 3:
                continue
            _remove_quietly(store, lock.name)
            raise BackendError(
                f"{store.location} answers too slowly to hold a lock with a "
                f"{lease_seconds:g} s lease. Check the storage and the network.")
        _remove_quietly(store, lock.name)
        if not wait or is_cancelled(cancel):
            return None
        if on_wait is not None:
            on_wait(conflict.describe())
            on_wait = None
        if wait_or_cancel(cancel, pause * random.uniform(0.5, 1.5)):
            return None
        pause = min(pause * 2, _MAX_PAUSE, lease_seconds / 3)


def renew_lease(lock: object) -> None:
    """Refresh ``lock`` now if it is a lease (other locks need nothing), so
    a full lease is left for the next step. A failed rewrite is only logged:
    ``held`` says whether the lease still runs."""
    if not isinstance(lock, LeaseLock):
        return
    try:
        lock.refresh()
    except OSError as exc:
        log.warning("Cannot refresh the repository lock %s on %s: %s", lock.name,
                    lock.location, exc.strerror or exc)


def _remove_quietly(store: LeaseStore, name: str) -> None:
    try:
        store.remove(name)
    except OSError:
        pass
