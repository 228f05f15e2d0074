"""The named users' table (issue 23): name, role, Argon2id hash, enabled, the
optional TOTP secret, and a restore operator's allowed folders. Only the users
desk (``core.service.users``) reads the hash and the secret."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from core.catalogue.db import CatalogueDB


@dataclass
class UserRecord:
    name: str
    role: str
    password_hash: str
    enabled: bool = True
    totp_secret: str | None = None
    restore_to: list[str] = field(default_factory=list)
    created: str = ""


_COLUMNS = "name, role, password_hash, enabled, totp_secret, restore_to, created"


def _record(row: tuple[object, ...]) -> UserRecord:
    return UserRecord(str(row[0]), str(row[1]), str(row[2]), bool(row[3]),
                      None if row[4] is None else str(row[4]), json.loads(str(row[5] or "[]")),
                      str(row[6] or ""))


class UsersMixin(CatalogueDB):
    def _has_users(self) -> bool:
        return self._conn().execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='users'").fetchone() \
            is not None

    def list_user_records(self) -> list[UserRecord]:
        if not self._has_users():
            return []
        rows = self._conn().execute(f"SELECT {_COLUMNS} FROM users ORDER BY name").fetchall()
        return [_record(r) for r in rows]

    def get_user_record(self, name: str) -> UserRecord | None:
        if not self._has_users():
            return None
        row = self._conn().execute(f"SELECT {_COLUMNS} FROM users WHERE name=?",
                                   (name,)).fetchone()
        return None if row is None else _record(row)

    def insert_user(self, record: UserRecord) -> None:
        created = record.created or datetime.now(timezone.utc).isoformat()
        with self._tx() as db:
            db.execute(f"INSERT INTO users({_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                       (record.name, record.role, record.password_hash, int(record.enabled),
                        record.totp_secret, json.dumps(record.restore_to), created))

    def save_user(self, record: UserRecord) -> None:
        with self._tx() as db:
            db.execute("UPDATE users SET role=?, password_hash=?, enabled=?, totp_secret=?, "
                       "restore_to=? WHERE name=?",
                       (record.role, record.password_hash, int(record.enabled),
                        record.totp_secret, json.dumps(record.restore_to), record.name))

    def delete_user(self, name: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM users WHERE name=?", (name,))
