"""The repository pool: the open repositories of the server, shared by every
session and desk.

It owns opening a registered repository once (one opener per repository,
others are not held up by it), handing the open one out, letting go of it
when a repository is removed or its keys change, closing them all at
shutdown, and the reconciliation of the catalogue with what the
repositories hold (the repository is the truth of what exists).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.catalogue import Catalogue
from core.engine.points import point_info
from core.errors import ConsoleError
from core.events import EventBus, PointsChanged
from core.models import RestorePointInfo
from core.repository import Manifest, RepoStats, Repository
from core.service.browse import TreeCache
from core.service.integrity import MANIFEST_DAMAGE, MANIFEST_MISSING, MANIFEST_UNREADABLE
from core.service.registry import (
    DEFAULT_REPOSITORY, Entry as RepoEntry, Registry, close_repository, is_default,
)


class RepositoryPool:
    """The open repositories, by repository id; opened on first use."""

    def __init__(self, catalogue: Catalogue, registry: Registry, events: EventBus) -> None:
        self._catalogue = catalogue
        self._registry = registry
        self._events = events
        self.trees = TreeCache(self.load_manifest)   # browsed points' trees, by point id
        self._repos: dict[str, Repository] = {}   # repository id -> open repository
        self._repos_lock = threading.Lock()
        self._opening: dict[str, threading.Lock] = {}   # repository id -> its opener

    # -- handing repositories out ------------------------------------------------
    def repository_name(self, name: str) -> str:
        """The registered name of a repository (InvalidInput when unknown)."""
        return self._registry.entry(name).name

    def repository(self, name: str) -> Repository:
        """The open repository of that name; opened once, shared by every
        session, closed by ``close_all()``. A registered repository is never
        created here: one whose disk is detached fails instead."""
        entry = self._registry.entry(name)
        with self._repos_lock:
            repo = self._repos.get(entry.id)
            if repo is not None:
                return repo
            opening = self._opening.setdefault(entry.id, threading.Lock())
        with opening:   # one opener per repository; others are not held up by it
            with self._repos_lock:
                repo = self._repos.get(entry.id)
            if repo is not None:
                return repo
            repo = self._registry.open(entry)
            with self._repos_lock:
                self._repos[entry.id] = repo
            try:   # listing repositories reads it from the catalogue (opens none)
                self._registry.note_immutability(entry, repo)
            except ConsoleError as exc:
                logging.getLogger(__name__).warning("%s", exc)
        if not entry.default:   # points a crash left uncatalogued, or added elsewhere
            self.reconcile_repository(entry, repo)
        return repo

    def load_manifest(self, point_id: str) -> Manifest:
        """The manifest of a catalogued point, from its repository."""
        point = self._catalogue.point(point_id)
        return self.repository(point.repository).load_manifest(point.id)

    def open_repositories(self) -> list[tuple[RepoEntry, Repository]]:
        with self._repos_lock:
            opened = dict(self._repos)
        return [(e, opened[e.id]) for e in self._registry.entries() if e.id in opened]

    def opened(self, entry_id: str) -> Repository | None:
        """The repository of that id if it is open now (never opens it)."""
        with self._repos_lock:
            return self._repos.get(entry_id)

    def adopt(self, entry_id: str, repo: Repository) -> None:
        """Keep a repository opened elsewhere (just added) as the open one."""
        with self._repos_lock:
            self._repos[entry_id] = repo

    def take(self, entry_id: str) -> Repository | None:
        """Let go of the open repository of that id (opened again when next
        used); the caller closes it, or leaves it to a session still using it."""
        with self._repos_lock:
            return self._repos.pop(entry_id, None)

    def s3_backends(self) -> dict[str, Any]:
        """Repository id -> back end, of the open S3 repositories."""
        with self._repos_lock:
            return {rid: repo.backend for rid, repo in self._repos.items()
                    if repo.backend.kind == "s3"}

    def close_all(self) -> None:
        with self._repos_lock:
            opened, self._repos = list(self._repos.values()), {}
        for repo in opened:
            try:
                close_repository(repo)
            except Exception:
                logging.getLogger(__name__).exception("closing a repository failed")

    def point_ids(self) -> set[str]:
        """Ids of the points whose manifests are committed, in every repository
        that holds catalogued points (and the data directory's own one)."""
        names = {DEFAULT_REPOSITORY} | set(by_repository(self._catalogue.points()))
        return {m.id for name in names for m in self.repository(name).list_points()}

    def stats(self) -> RepoStats:
        return self.repository(DEFAULT_REPOSITORY).stats()

    # -- reconciliation ----------------------------------------------------------
    def reconcile_points(self) -> None:
        """The repository is the truth of what exists. Import points whose manifest
        was committed but not catalogued (a crash in between; their task gets the
        point too), finish removals a crash interrupted, and mark damaged, never
        drop, the points whose manifest is missing or unreadable. The data
        directory's repository is checked at every start; another one when it is
        first opened (and again here while it is open)."""
        default = self._registry.default_entry()
        path = Path(default.location)
        if not path.exists():
            self._catalogue.set_damaged({
                p.id: f"{MANIFEST_MISSING}: the repository {path} is missing (is its disk "
                      "attached?)" for p in self._catalogue.points() if is_default(p.repository)})
            return
        try:
            self.repository(DEFAULT_REPOSITORY)
        except ConsoleError:
            logging.getLogger(__name__).exception("cannot reconcile restore points")
            return
        for entry, repo in self.open_repositories():
            self.reconcile_repository(entry, repo)

    def reconcile_repository(self, entry: RepoEntry, repo: Repository) -> None:
        def here(repository: str) -> bool:
            return is_default(repository) if entry.default \
                else repository.strip().lower() == entry.name.lower()

        try:
            metas, unreadable = repo.point_health()
        except (ConsoleError, OSError):
            logging.getLogger(__name__).exception("cannot reconcile restore points of %s",
                                                  entry.name)
            return
        catalogued: dict[str, RestorePointInfo] = {}
        elsewhere: set[str] = set()
        for p in self._catalogue.points():
            if here(p.repository):
                catalogued[p.id] = p
            else:
                elsewhere.add(p.id)
        on_disk = {m.id: m for m in metas if m.id not in elsewhere}
        forgetting = set(self._catalogue.forgetting_points()) - elsewhere
        if forgetting:
            repo.forget(sorted(forgetting))
            self._catalogue.remove_points(sorted(forgetting))
            for pid in forgetting:
                catalogued.pop(pid, None)
                on_disk.pop(pid, None)
                unreadable.pop(pid, None)
        for pid in on_disk.keys() - catalogued.keys():
            m = on_disk[pid]
            server = self._writer_of(m.server, m.session_id, entry)
            self._catalogue.add_point(point_info(m, entry.name, server))
            if server == self._catalogue.server_id:   # a crash between commit and catalogue
                self._catalogue.record_recovered_point(m.session_id, m.computer, m.id)
        damage: dict[str, str | None] = {}
        retired: list[RestorePointInfo] = []
        for pid, point in catalogued.items():
            if pid in unreadable:
                damage[pid] = f"{MANIFEST_UNREADABLE}: {unreadable[pid]}"
            elif pid not in on_disk:
                if point.imported:
                    retired.append(point)
                    continue
                damage[pid] = (f"{MANIFEST_MISSING}: repository {entry.location} holds no "
                               "manifest for this point")
            elif point.damaged and point.damaged.startswith(MANIFEST_DAMAGE):
                damage[pid] = None   # readable again (a file put back from a copy)
        self._catalogue.set_damaged(damage)
        self.drop_retired(entry, retired)

    def _writer_of(self, server: str | None, session_id: str, entry: RepoEntry) -> str:
        """Which server wrote a point found in a repository. A manifest written
        before servers had ids is this server's when its session is in this
        catalogue or it is in the data directory's own repository, else
        another's ('' : unknown), so that nothing here ever removes it."""
        if server:
            return server
        if entry.default or self._catalogue.has_session(session_id):
            return self._catalogue.server_id
        return ""

    def drop_retired(self, entry: RepoEntry, points: list[RestorePointInfo],
                     note: Callable[[str], None] | None = None) -> None:
        """Imported points whose manifest is gone: the server that wrote them
        removed them (its retention, its Delete from Disk). They leave the list,
        with a note; this is not damage."""
        if not points:
            return
        self._catalogue.remove_points([p.id for p in points])
        self.trees.forget([p.id for p in points])
        for p in points:
            text = (f"Restore point {p.id} of job '{p.job}', computer '{p.computer}' "
                    f"({p.created:%Y-%m-%d %H:%M} UTC) was imported from another backup server "
                    f"sharing repository '{entry.name}', which has removed it: it is no "
                    "longer listed")
            logging.getLogger(__name__).info("%s", text)
            if note is not None:
                note(text)
        for job in sorted({p.job for p in points}):
            self._events.publish(PointsChanged(job))


def by_repository(points: list[RestorePointInfo]) -> dict[str, list[str]]:
    """Point ids per repository name (a job's points may be in several, when its
    repository was changed)."""
    groups: dict[str, list[str]] = {}
    for p in points:
        key = DEFAULT_REPOSITORY if is_default(p.repository) else p.repository
        groups.setdefault(key, []).append(p.id)
    return groups
