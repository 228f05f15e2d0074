"""Restore points (an index of the repository, which stays the source of truth)."""
from __future__ import annotations

import sqlite3

from core.errors import NotFound
from core.models import RestorePointInfo
from core.catalogue.db import CatalogueDB, _created, _ts


class PointsMixin(CatalogueDB):
    _server_id: str | None = None

    @property
    def server_id(self) -> str:
        """This data directory's backup server id (made once, by migration 7),
        written into every manifest it commits."""
        if self._server_id is None:
            row = self._conn().execute(
                "SELECT value FROM server_state WHERE key='server_id'").fetchone()
            if row is None:
                raise NotFound(f"The catalogue {self.path} has no server id.")
            self._server_id = str(row[0])
        return self._server_id

    def set_server_id(self, server_id: str) -> None:
        """Take over the id of the catalogue this one replaces (a rebuild)."""
        with self._tx() as db:
            db.execute("INSERT INTO server_state(key, value) VALUES ('server_id', ?) "
                       "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (server_id,))
            db.execute("UPDATE points SET server=? WHERE server=?", (server_id, self.server_id))
        self._server_id = server_id

    def add_point(self, point: RestorePointInfo) -> None:
        """``point.server`` None: a point of this server."""
        server = self.server_id if point.server is None else point.server
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO points(id, job, computer, session_id, type, "
                       "created, files, size, repository, damaged, server) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       (point.id, point.job, point.computer, point.session_id, point.type.value,
                        _ts(point.created), point.files, point.size, point.repository,
                        point.damaged, server))

    def has_session(self, session_id: str) -> bool:
        return self._conn().execute("SELECT 1 FROM sessions WHERE id=?",
                                    (session_id,)).fetchone() is not None

    def remove_points(self, ids: list[str]) -> None:
        with self._tx() as db:
            db.executemany("DELETE FROM points WHERE id=?", [(i,) for i in ids])

    def mark_forgetting(self, ids: list[str]) -> None:
        """Record that these points are being removed (retention, job deletion), so
        that a crash between removing the manifest and the row is finished by
        the next start, not mistaken for a damaged point."""
        with self._tx() as db:
            db.executemany("UPDATE points SET forgetting=1 WHERE id=?", [(i,) for i in ids])

    def forgetting_points(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT id FROM points WHERE forgetting=1")]

    def set_damaged(self, damage: dict[str, str | None]) -> list[str]:
        """Mark points damaged (id -> why) or intact again (id -> None); returns
        the ids whose state changed."""
        changed: list[str] = []
        with self._tx() as db:
            for point_id, why in damage.items():
                row = db.execute("SELECT damaged FROM points WHERE id=?", (point_id,)).fetchone()
                if row is None or row[0] == why:
                    continue
                db.execute("UPDATE points SET damaged=? WHERE id=?", (why, point_id))
                changed.append(point_id)
        return changed

    def points(self, job: str | None = None, computer: str | None = None) -> list[RestorePointInfo]:
        sql, args = "SELECT * FROM points", []
        conds = []
        if job is not None:
            conds.append("job=?")
            args.append(job)
        if computer is not None:
            conds.append("computer=?")
            args.append(computer)
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        sql += " ORDER BY created, id"
        return [_point_from_row(r, self.server_id) for r in self._conn().execute(sql, args)]

    def point(self, point_id: str) -> RestorePointInfo:
        """The point with this id, or the only one whose id starts with it."""
        rows = self._conn().execute(
            "SELECT * FROM points WHERE substr(id, 1, ?)=? ORDER BY id=? DESC LIMIT 2",
            (len(point_id), point_id, point_id)).fetchall()
        if not rows:
            raise NotFound(f"No restore point with id {point_id}. Run 'points' to list them.")
        if rows[0]["id"] != point_id and len(rows) > 1:
            raise NotFound(f"Restore point id {point_id} is ambiguous; give more characters.")
        return _point_from_row(rows[0], self.server_id)


def _point_from_row(r: sqlite3.Row, server_id: str) -> RestorePointInfo:
    return RestorePointInfo(id=r["id"], job=r["job"], computer=r["computer"],
                            session_id=r["session_id"], type=r["type"],
                            created=_created(r["created"]), files=r["files"], size=r["size"],
                            repository=r["repository"], damaged=r["damaged"],
                            server=r["server"], imported=r["server"] != server_id)
