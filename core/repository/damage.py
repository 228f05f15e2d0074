"""Block copies known to be damaged, so that nothing relies on them again.

Verify, restore and repair record every (blob, pack) pair they could not read
back intact in ``damaged.json``. The index leaves those copies out, so the next
backup that reads the same data stores a good copy (and every point using that
block is healed, since points name blocks by content), and prune never keeps a
damaged copy when a good one exists. The file is advisory: if it is lost or
unreadable, the next verify finds the damage again.

On an immutable repository it also records each object whose newer locked
version failed its content check and was rejected for an older locked one
(see ``immutability.fall_back``): the data is intact, but someone holding the
storage keys wrote over it, and verify says so.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from typing import Any

from core.repository.layout import Layout

log = logging.getLogger(__name__)

Pair = tuple[str, str]   # (blob id, pack id)
Rejected = tuple[str, str, str]   # (version id rejected, version id read instead, why)


class DamageRegistry:
    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._lock = threading.Lock()
        self._problems: dict[Pair, str] = {}
        self._objects: dict[str, Rejected] = {}
        self.load()

    def load(self) -> bool:
        """Re-read the file (another process may have written it); True if the
        recorded pairs changed."""
        path = self._layout.describe(self._layout.damaged)
        try:
            raw = json.loads(self._layout.load_sealed(self._layout.damaged))
            problems = {(str(b), str(p)): str(why) for b, p, why in raw["blobs"]}
            objects = {str(n): (str(r), str(k), str(why))
                       for n, r, k, why in raw.get("objects", [])}
        except FileNotFoundError:
            problems, objects = {}, {}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable %s (%s); the next verify finds the damage again",
                        path, exc)
            problems, objects = {}, {}
        with self._lock:
            changed = problems.keys() != self._problems.keys()
            self._problems = problems
            self._objects.update(objects)
        return changed

    def record_rejection(self, rejection: Any) -> None:
        """An object's newer locked version failed its check and an older one is
        read instead (an ``objectlock.Rejection``); saved at once."""
        with self._lock:
            entry = (str(rejection.rejected), str(rejection.kept), str(rejection.why))
            if self._objects.get(rejection.name) == entry:
                return
            self._objects[rejection.name] = entry
            self._save()

    def rejected_objects(self) -> dict[str, Rejected]:
        """Object name -> (version rejected, version read instead, why)."""
        with self._lock:
            return dict(self._objects)

    @property
    def pairs(self) -> frozenset[Pair]:
        with self._lock:
            return frozenset(self._problems)

    def problem(self, blob: str, pack: str) -> str | None:
        return self._problems.get((blob, pack))

    def packs(self) -> set[str]:
        with self._lock:
            return {p for _, p in self._problems}

    def update(self, add: Iterable[tuple[str, str, str]] = (),
               remove: Iterable[Pair] = ()) -> bool:
        """Record and forget pairs; True if anything changed. Saved at once
        (best effort: a read-only repository keeps the change in memory)."""
        with self._lock:
            before = dict(self._problems)
            for blob, pack, problem in add:
                self._problems[(blob, pack)] = problem
            for pair in remove:
                self._problems.pop(pair, None)
            changed = self._problems != before
            if changed:
                self._save()
        return changed

    def keep_only_packs(self, packs: set[str]) -> bool:
        """Forget damaged copies in packs that are gone or no longer indexed."""
        with self._lock:
            stale = [pair for pair in self._problems if pair[1] not in packs]
        return self.update(remove=stale)

    def _save(self) -> None:
        rows = sorted([b, p, why] for (b, p), why in self._problems.items())
        doc: dict[str, Any] = {"blobs": rows}
        if self._objects:
            doc["objects"] = sorted([n, *entry] for n, entry in self._objects.items())
        data = json.dumps(doc, indent=1).encode() + b"\n"
        name = self._layout.damaged
        try:
            if rows or self._objects or self._layout.backend.exists(name):
                self._layout.save_sealed(name, data)
        except OSError as exc:
            log.warning("could not record damaged blocks in %s: %s",
                        self._layout.describe(name), exc)
