"""Manifests this process committed lately, with the digest of what was
stored, for the next backup's parent and for restores
(``Repository.recent_manifest``). A
manifest never changes once committed; a forgotten point is dropped, and
repair clears everything."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from core.repository.model import Manifest

# About 250 bytes per entry in memory: 100,000 entries are some 25 MB.
MAX_ENTRIES = 100_000


class RecentManifests:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max = max_entries
        self._items: OrderedDict[str, tuple[Manifest, str]] = OrderedDict()
        self._entries = 0
        self._lock = threading.Lock()

    def get(self, point_id: str) -> tuple[Manifest, str] | None:
        """(manifest, digest of the stored manifest), or None."""
        with self._lock:
            item = self._items.get(point_id)
            if item is not None:
                self._items.move_to_end(point_id)
            return item

    def put(self, manifest: Manifest, digest: str) -> None:
        size = len(manifest.entries)
        if size > self._max:
            return
        with self._lock:
            self._drop_locked(manifest.meta.id)
            self._items[manifest.meta.id] = (manifest, digest)
            self._entries += size
            while self._entries > self._max:
                _, (dropped, _) = self._items.popitem(last=False)
                self._entries -= len(dropped.entries)

    def drop(self, point_ids: Iterable[str]) -> None:
        with self._lock:
            for point_id in point_ids:
                self._drop_locked(point_id)

    def _drop_locked(self, point_id: str) -> None:
        old = self._items.pop(point_id, None)
        if old is not None:
            self._entries -= len(old[0].entries)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._entries = 0
