"""Paused sessions' progress (migration 15): per task, the files it had stored when
the session was paused (their blocks are durable in the repository's packs and index)
and the bytes it had read. A restart of the server finds the session Paused and
rebuilds it from here; Resume reads none of those files again. The record never
becomes a restore point and goes when the session ends."""
from __future__ import annotations

import json
from typing import Any, NamedTuple

from core.catalogue.db import CatalogueDB, _ts
from core.models import utcnow
from core.repository.model import Entry, PartialFile


def _entry(row: list[Any]) -> Entry:
    path, kind, mode, mtime_ns, size, ctime_ns, inode, blocks, target = row
    return Entry(str(path), str(kind), int(mode), int(mtime_ns), int(size), int(ctime_ns),
                 int(inode), tuple(str(b) for b in blocks),
                 None if target is None else str(target))


class PausedTask(NamedTuple):
    """A paused task's record: the files it had completed, the bytes it had read, the
    file it was in the middle of."""

    files: list[Entry]
    bytes_read: int
    partial: PartialFile | None = None


class PausedMixin(CatalogueDB):
    def save_paused_task(self, session_id: str, computer: str, files: list[Entry],
                         bytes_read: int, partial: PartialFile | None = None) -> None:
        """What a held task has stored (and the file it was in the middle of): replaces
        its previous record."""
        data = json.dumps(files, separators=(",", ":"))
        part = None if partial is None else json.dumps(
            {"entry": partial.entry, "sizes": partial.sizes}, separators=(",", ":"))
        with self._tx() as db:
            db.execute("INSERT INTO paused_tasks(session_id, computer, files, bytes_read, saved, "
                       "partial) VALUES (?,?,?,?,?,?) ON CONFLICT(session_id, computer) DO "
                       "UPDATE SET files=excluded.files, bytes_read=excluded.bytes_read, "
                       "saved=excluded.saved, partial=excluded.partial",
                       (session_id, computer, data, int(bytes_read), _ts(utcnow()), part))

    def paused_tasks(self, session_id: str) -> dict[str, PausedTask]:
        """computer -> what it had stored when its session was paused."""
        rows = self._conn().execute(
            "SELECT computer, files, bytes_read, partial FROM paused_tasks WHERE session_id=?",
            (session_id,)).fetchall()
        out: dict[str, PausedTask] = {}
        for computer, files, bytes_read, part in rows:
            try:
                entries = [_entry(r) for r in json.loads(files)]
            except (ValueError, TypeError):
                entries = []   # unreadable: those files are read again, nothing worse
            partial: PartialFile | None = None
            if part:
                try:
                    d = json.loads(part)
                    partial = PartialFile(_entry(d["entry"]), tuple(int(n) for n in d["sizes"]))
                except (ValueError, TypeError, KeyError):
                    partial = None
            out[str(computer)] = PausedTask(entries, int(bytes_read), partial)
        return out

    def drop_paused(self, session_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM paused_tasks WHERE session_id=?", (session_id,))
