"""Immutable repositories: the setting the repository itself records, and
what prune does about locked objects.

``immutability.json`` (plaintext, like config.json, and locked itself) says
``{"mode": "COMPLIANCE", "days": N}``; whoever opens the repository writes
with that lock from then on. Only a back end with ``enable_object_lock`` (S3)
can hold one: a local folder with the file is refused.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from core.errors import RepositoryError

from core.repository.backend import Backend

SETTINGS = "immutability.json"
MAX_DAYS = 36500
NEEDS_OBJECT_STORAGE = "Immutability needs object storage (S3 with Object Lock)"
REJECTED = "newer version rejected"

_T = TypeVar("_T")


@dataclass(frozen=True)
class RetainedPoint:
    """A restore point retention dropped whose data is kept until its lock ends."""

    id: str
    job: str
    computer: str
    created: str
    type: str
    until: datetime


def object_lock(backend: Backend) -> Any:
    """The back end's ObjectLock, or None when the repository is not immutable."""
    return getattr(backend, "object_lock", None)


def read_days(backend: Backend) -> int | None:
    """N of ``immutability.json``, None without one."""
    try:
        raw = backend.load(SETTINGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RepositoryError(f"Cannot read {backend.location}/{SETTINGS}: "
                              f"{exc.strerror or exc}. Check that the repository storage is "
                              "reachable and readable.") from exc
    try:
        doc = json.loads(raw)
        days = int(doc["days"])
        if days < 1:
            raise ValueError(days)
    except (ValueError, KeyError, TypeError):
        raise RepositoryError(f"{backend.location}/{SETTINGS} is damaged: it must say "
                              '{"mode": "COMPLIANCE", "days": N}. Nothing was changed.') from None
    return days


def check_days(days: int) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"Immutability is given in days: from 1 to {MAX_DAYS}, not {days}.")


def enable(backend: Backend, days: int) -> None:
    """Make the back end write locked objects (OSError when the bucket cannot)."""
    turn_on = getattr(backend, "enable_object_lock", None)
    if turn_on is None:
        raise RepositoryError(f"{NEEDS_OBJECT_STORAGE}: {backend.location} is a "
                              f"{backend.kind} repository. Add the repository in an S3 bucket "
                              "that has Object Lock enabled, or add it without immutability.")
    turn_on(days)


def write_settings(backend: Backend, days: int) -> None:
    backend.save(SETTINGS, json.dumps({"mode": "COMPLIANCE", "days": days},
                                      sort_keys=True).encode())


def lock_existing(backend: Backend) -> int:
    """Lock every object already there (a repository made immutable after
    its creation); returns how many."""
    lock = object_lock(backend)
    if lock is None:
        return 0
    return int(lock.extend(info.name for info in backend.list("")))


def point_note(meta: Any) -> dict[str, str]:
    return {"id": meta.id, "job": meta.job, "computer": meta.computer,
            "created": meta.created.isoformat(), "type": meta.type}


def retained_points(backend: Backend) -> list[RetainedPoint]:
    lock = object_lock(backend)
    if lock is None:
        return []
    found = []
    for retired in lock.retired():
        point = retired.point
        if point is None:
            continue
        found.append(RetainedPoint(id=str(point.get("id", "")), job=str(point.get("job", "")),
                                   computer=str(point.get("computer", "")),
                                   created=str(point.get("created", "")),
                                   type=str(point.get("type", "")), until=retired.until))
    return found


def maintain(backend: Backend) -> tuple[int, int, int]:
    """Prune's part: delete retired objects whose lock expired, and push the
    lock of every object still needed N days ahead. Returns (deleted, still
    kept by their lock, locks extended)."""
    lock = object_lock(backend)
    if lock is None:
        return 0, 0, 0
    deleted, kept = lock.purge()
    extended = int(lock.extend(info.name for info in backend.list("")))
    return deleted, kept, extended


def _content_error(exc: Exception) -> bool:
    return not isinstance(exc, OSError)


def fall_back(backend: Backend, name: str, seen: str | None, why: str,
              check: Callable[[bytes], _T], offset: int = 0,
              length: int | None = None) -> tuple[bool, _T | None]:
    """After what was read of ``name`` (version ``seen``, see
    ``ObjectLock.serving``) failed its content check: try the older locked
    versions, newest first, and adopt the first that passes ``check``.
    (True, its result), or (False, None) when none does (or the repository
    is not immutable): the failure stands."""
    lock = object_lock(backend)
    if lock is None or not lock.locked(name):
        return False, None
    try:
        read, older = lock.older(name, seen)
    except OSError:
        return False, None
    for version in older:
        try:
            data = lock.load_version(name, version.id, offset, length)
            result = check(data)
        except Exception:   # noqa: BLE001 - that version fails too: try the next
            continue
        lock.adopt(name, read, version, why)
        return True, result
    return False, None


def load_checked(backend: Backend, name: str, check: Callable[[bytes], _T],
                 offset: int = 0, length: int | None = None) -> _T:
    """``check(backend.load(name, ...))``; on an immutable repository, a content
    check that fails (anything ``check`` raises but an OSError) tries the
    older locked versions of ``name`` before the failure is raised."""
    lock = object_lock(backend)
    if lock is None or not lock.locked(name):
        return check(backend.load(name, offset, length))
    seen = lock.serving(name)
    data = backend.load(name, offset, length)
    try:
        return check(data)
    except Exception as exc:
        if not _content_error(exc):
            raise
        done, result = fall_back(backend, name, seen, _why(exc), check, offset, length)
        if not done:
            raise
        return result   # type: ignore[return-value]


def _why(exc: Exception) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def rejections(backend: Backend) -> list[Any]:
    """The newer versions rejected so far by this back end (``Rejection``)."""
    lock = object_lock(backend)
    return list(lock.rejections) if lock is not None else []
