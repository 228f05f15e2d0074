"""Immutable repositories: the setting the repository itself records, and
what prune does about locked objects.

``immutability.json`` (plaintext, like config.json, and locked itself) says
``{"mode": "COMPLIANCE", "days": N}``; whoever opens the repository writes
with that lock from then on. Only a back end with ``enable_object_lock`` (S3)
can hold one: a local folder with the file is refused.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import RepositoryError

from core.repository.backend import Backend

SETTINGS = "immutability.json"
MAX_DAYS = 36500
NEEDS_OBJECT_STORAGE = "Immutability needs object storage (S3 with Object Lock)"


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
