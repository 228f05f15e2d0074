"""The audit trail's table: append-only and hash-chained.

Each row's ``hash`` is SHA-256 over its own fields and the previous row's hash,
so changing, removing or reordering a row breaks the chain from there on; the
newest row's id and hash are also kept in ``server_state`` (``audit_head``) so
cutting rows off the end is detected too. Triggers refuse UPDATE and DELETE on
the table: nothing in the server can rewrite history, and whoever edits the file
directly is found out by :meth:`AuditMixin.check_audit`.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from core.catalogue.db import CatalogueDB, _created
from core.models import AuditCheck, AuditEntry

GENESIS = "0" * 64
HEAD_KEY = "audit_head"
_COLUMNS = "id, at, user, origin, action, target, details, result, prev"


def row_hash(row: tuple[Any, ...]) -> str:
    """SHA-256 of one row: (id, at, user, origin, action, target, details, result, prev)."""
    canonical = json.dumps(list(row), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _utc(when: datetime) -> str:
    """Times are kept, and compared as text, in UTC (``since`` may come in local time)."""
    return when.astimezone(timezone.utc).isoformat()


def _describe(row: tuple[Any, ...]) -> str:
    at = str(row[1])[:19].replace("T", " ")
    return f"row {row[0]} ({at}, {row[4]} {row[5] or ''} by {row[2]})".replace("  ", " ")


class AuditMixin(CatalogueDB):
    def _has_audit(self) -> bool:
        """A read-only catalogue of an older schema has no audit table yet."""
        return self._conn().execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='audit'").fetchone() \
            is not None

    def append_audit(self, at: datetime, user: str, origin: str, action: str, target: str,
                     details: dict[str, Any], result: str) -> int:
        details_json = json.dumps(details, sort_keys=True, default=str)
        with self._tx() as db:
            last = db.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
            new_id, prev = (1, GENESIS) if last is None else (int(last[0]) + 1, str(last[1]))
            row = (new_id, _utc(at), user, origin, action, target, details_json,
                   result, prev)
            digest = row_hash(row)
            db.execute(f"INSERT INTO audit({_COLUMNS}, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
                       (*row, digest))
            db.execute("INSERT INTO server_state(key, value) VALUES (?,?) "
                       "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                       (HEAD_KEY, f"{new_id}:{digest}"))
        return new_id

    def audit_entries(self, *, since: datetime | None = None, user: str | None = None,
                      limit: int = 1000) -> list[AuditEntry]:
        """Newest first."""
        if not self._has_audit():
            return []
        where, args = [], []
        if since is not None:
            where.append("at >= ?")
            args.append(_utc(since))
        if user is not None:
            where.append("user = ?")
            args.append(user)
        sql = (f"SELECT {_COLUMNS} FROM audit" + (" WHERE " + " AND ".join(where) if where
                                                   else "") + " ORDER BY id DESC LIMIT ?")
        rows = self._conn().execute(sql, (*args, limit)).fetchall()
        return [AuditEntry(id=r[0], at=_created(r[1]), user=r[2], origin=r[3], action=r[4],
                           target=r[5], details=json.loads(r[6] or "{}"), result=r[7])
                for r in rows]

    def check_audit(self) -> AuditCheck:
        """Walk the chain from the first row; name the first row that does not fit."""
        if not self._has_audit():
            return AuditCheck(rows=0, intact=True)
        conn = self._conn()
        prev, count, last_id = GENESIS, 0, 0
        for r in conn.execute(f"SELECT {_COLUMNS}, hash FROM audit ORDER BY id"):
            row, stored = tuple(r[:-1]), r[-1]
            count += 1
            if row[8] != prev or row[0] != last_id + 1:
                return AuditCheck(rows=count, intact=False, first_bad_id=row[0], problem=(
                    f"{_describe(row)} does not follow the row before it: a row before it "
                    "was removed or changed."))
            if row_hash(row) != stored:
                return AuditCheck(rows=count, intact=False, first_bad_id=row[0], problem=(
                    f"{_describe(row)} was changed after it was written."))
            prev, last_id = stored, row[0]
        head = conn.execute("SELECT value FROM server_state WHERE key=?",
                            (HEAD_KEY,)).fetchone()
        expected = f"{last_id}:{prev}" if count else None
        if (head[0] if head else None) != expected:
            return AuditCheck(rows=count, intact=False, first_bad_id=last_id + 1, problem=(
                f"The trail ends at row {last_id}, but the server last wrote row "
                f"{str(head[0]).split(':')[0] if head else '?'}: rows were cut off its end."))
        return AuditCheck(rows=count, intact=True)
