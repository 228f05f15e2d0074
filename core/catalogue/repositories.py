"""Registered backup repositories (the data directory's own one is implicit)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import AlreadyExists, NotFound
from core.catalogue.db import CatalogueDB, _dt, _ts


@dataclass(frozen=True)
class RepositoryRecord:
    id: str
    name: str
    kind: str            # "local" | "s3"
    location: str        # a folder path, or s3:http(s)://HOST:PORT/BUCKET[/PREFIX]
    encrypted: bool
    created: datetime
    immutable_days: int | None = None   # 0: not immutable; None: not known yet


class RepositoriesMixin(CatalogueDB):
    def add_repository(self, record: RepositoryRecord) -> None:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM repositories WHERE name=?",
                          (record.name,)).fetchone():
                raise AlreadyExists(f"A backup repository named '{record.name}' already "
                                    "exists. Choose another name.")
            db.execute("INSERT INTO repositories(id, name, kind, location, encrypted, created, "
                       "immutable_days) VALUES (?,?,?,?,?,?,?)",
                       (record.id, record.name, record.kind, record.location,
                        int(record.encrypted), _ts(record.created), record.immutable_days))

    def set_repository_immutable_days(self, repo_id: str, days: int) -> None:
        """Record how a repository is written (0: not immutable), as found when
        it was opened."""
        with self._tx() as db:
            db.execute("UPDATE repositories SET immutable_days=? WHERE id=?", (days, repo_id))

    def remove_repository(self, name: str) -> None:
        with self._tx() as db:
            if db.execute("DELETE FROM repositories WHERE name=?", (name,)).rowcount == 0:
                raise NotFound(f"No backup repository named '{name}'. Run 'agent-jobs "
                               "repository list' to see them.")

    def repositories(self) -> list[RepositoryRecord]:
        rows = self._conn().execute(
            "SELECT id, name, kind, location, encrypted, created, immutable_days FROM repositories "
            "ORDER BY name").fetchall()
        return [_record(r) for r in rows]

    def repository(self, name: str) -> RepositoryRecord:
        row = self._conn().execute(
            "SELECT id, name, kind, location, encrypted, created, immutable_days FROM repositories "
            "WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"No backup repository named '{name}'. Run 'agent-jobs repository "
                           "list' to see them.")
        return _record(row)

    def repository_point_counts(self) -> dict[str, int]:
        """Catalogued restore points per repository name."""
        rows = self._conn().execute(
            "SELECT repository, COUNT(*) FROM points GROUP BY repository").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}


def _record(row: Sequence[Any]) -> RepositoryRecord:
    r = tuple(row)
    created = _dt(r[5])
    assert created is not None
    return RepositoryRecord(id=r[0], name=r[1], kind=r[2], location=r[3],
                            encrypted=bool(r[4]), created=created,
                            immutable_days=None if r[6] is None else int(r[6]))
