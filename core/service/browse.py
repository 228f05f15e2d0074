"""Browsing a restore point one folder at a time.

The console's Restore window lists a point's tree lazily: it asks for one
folder's items when the operator opens that folder. :class:`PointTree` reads
the manifest once, groups its entries by folder and sums each folder's files
and bytes; the server keeps the last few trees, so opening folder after
folder of a 100,000-file point reads its manifest once.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timezone

from core.errors import NotFound
from core.models import PointEntryInfo
from core.repository import Manifest
from core.repository.model import DIR, FILE, HARDLINK, Entry

CACHED_TREES = 4


def _parent(path: str) -> str:
    cut = path.rfind("/")
    return path[:cut] if cut >= 0 else ""


class PointTree:
    def __init__(self, manifest: Manifest) -> None:
        self.point_id = manifest.meta.id
        self._children: dict[str, list[Entry]] = {}
        self._totals: dict[str, list[int]] = {"": [0, 0]}   # folder -> [files, bytes]
        kinds: dict[str, str] = {}
        for e in manifest.entries:
            kinds[e.path] = e.kind
            self._children.setdefault(_parent(e.path), []).append(e)
            if e.kind == DIR:
                self._totals.setdefault(e.path, [0, 0])
        for e in manifest.entries:
            if e.kind not in (FILE, HARDLINK):
                continue
            size = e.size if e.kind == FILE else 0   # a hard link adds no data
            folder = _parent(e.path)
            while True:
                totals = self._totals.setdefault(folder, [0, 0])
                totals[0] += 1
                totals[1] += size
                if not folder:
                    break
                folder = _parent(folder)
        for items in self._children.values():
            items.sort(key=lambda e: (e.kind != DIR, e.path.rsplit("/", 1)[-1].casefold()))
        self._kinds = kinds

    @property
    def files(self) -> int:
        return self._totals[""][0]

    @property
    def bytes(self) -> int:
        return self._totals[""][1]

    def totals(self, path: str) -> tuple[int, int]:
        """(files, bytes) of a path: a folder's content, or one file."""
        path = path.strip("/")
        if path in self._totals:
            files, size = self._totals[path]
            return files, size
        kind = self._kinds.get(path)
        if kind is None:
            raise NotFound(f"Restore point {self.point_id} holds no '{path}'.")
        entry = next(e for e in self._children.get(_parent(path), []) if e.path == path)
        return (1, entry.size) if kind == FILE else (1 if kind == HARDLINK else 0, 0)

    def list(self, folder: str) -> list[PointEntryInfo]:
        folder = folder.strip("/")
        if folder and self._kinds.get(folder) != DIR:
            if folder in self._kinds:
                raise NotFound(f"'{folder}' is not a folder of restore point {self.point_id}.")
            raise NotFound(f"Restore point {self.point_id} holds no folder '{folder}'.")
        out: list[PointEntryInfo] = []
        for e in self._children.get(folder, []):
            files, size = self._totals.get(e.path, (0, 0)) if e.kind == DIR else \
                (1, e.size if e.kind in (FILE, HARDLINK) else 0)
            out.append(PointEntryInfo(
                name=e.path.rsplit("/", 1)[-1], path=e.path, kind=e.kind, size=size,
                files=files,
                mtime=datetime.fromtimestamp(e.mtime_ns / 1e9, timezone.utc)
                if isinstance(e.mtime_ns, int) and abs(e.mtime_ns) < 2**62 else None,
                target=e.target))
        return out


class TreeCache:
    """The last few points' trees, built once each (thread-safe)."""

    def __init__(self, load: Callable[[str], Manifest], size: int = CACHED_TREES) -> None:
        self._load = load
        self._size = size
        self._trees: OrderedDict[str, PointTree] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    def get(self, point_id: str) -> PointTree:
        with self._lock:
            tree = self._trees.get(point_id)
            if tree is not None:
                self._trees.move_to_end(point_id)
                return tree
            building = self._building.setdefault(point_id, threading.Lock())
        with building:   # one build per point, even when asked for twice at once
            with self._lock:
                tree = self._trees.get(point_id)
            if tree is None:
                tree = PointTree(self._load(point_id))
                with self._lock:
                    self._trees[point_id] = tree
                    while len(self._trees) > self._size:
                        self._trees.popitem(last=False)
                    self._building.pop(point_id, None)
        return tree

    def forget(self, point_ids: list[str]) -> None:
        with self._lock:
            for pid in point_ids:
                self._trees.pop(pid, None)
