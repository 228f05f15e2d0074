"""The space restore points really take (Backups > Disk's "On disk"): per point the
new data it added, per job and computer the blocks their points use, each counted
once, with dedup and compression; and each repository's size on disk.

Reading every manifest is the cost, so an answer is kept per repository until the
set of its points changes."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from core.api import DiskUsage
from core.errors import ConsoleError
from core.models import RestorePointInfo
from core.repository import Repository

log = logging.getLogger(__name__)
_SEP = "\x00"

_Answer = tuple[dict[str, int], dict[str, int], int]   # new per point, per group, size


class UsageCache:
    """One answer per repository, for the points it was computed for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[tuple[str, ...], _Answer]] = {}

    def get(self, repository: str, ids: tuple[str, ...]) -> _Answer | None:
        with self._lock:
            found = self._answers.get(repository)
        return found[1] if found is not None and found[0] == ids else None

    def put(self, repository: str, ids: tuple[str, ...], answer: _Answer) -> None:
        with self._lock:
            self._answers[repository] = (ids, answer)


def disk_usage(points: list[RestorePointInfo], open_repository: Callable[[str], Repository],
               cache: UsageCache) -> DiskUsage:
    """``points``: every catalogued point; a repository that cannot be opened is left
    out (its points show no figure) and logged."""
    usage = DiskUsage()
    by_repository: dict[str, list[RestorePointInfo]] = {}
    for p in points:
        by_repository.setdefault(p.repository, []).append(p)
    for name, mine in by_repository.items():
        mine.sort(key=lambda p: (p.created, p.id))
        ids = tuple(p.id for p in mine)
        answer = cache.get(name, ids)
        if answer is None:
            groups: dict[str, list[str]] = {}
            for p in mine:
                groups.setdefault(p.job, []).append(p.id)
                groups.setdefault(p.job + _SEP + p.computer, []).append(p.id)
            try:
                repo = open_repository(name)
                new, totals = repo.usage(ids, groups)
                answer = (new, totals, repo.stats().bytes_on_disk)
            except (ConsoleError, OSError) as exc:
                log.warning("The space used in repository '%s' is unknown: %s", name, exc)
                continue
            cache.put(name, ids, answer)
        new, totals, size = answer
        usage.points.update(new)
        usage.repositories[name] = size
        for group, total in totals.items():
            job, _, computer = group.partition(_SEP)
            if computer:
                computers = usage.computers.setdefault(job, {})
                computers[computer] = computers.get(computer, 0) + total
            else:   # a job whose points are in two repositories (it moved) takes both
                usage.jobs[job] = usage.jobs.get(job, 0) + total
    return usage
