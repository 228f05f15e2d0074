"""Numbered schema migrations, tracked with ``PRAGMA user_version``.

Version 0 is a catalogue written before migrations existed (or a new, empty
file). Each migration brings the schema from ``version - 1`` to ``version``
inside one ``BEGIN IMMEDIATE`` transaction that also sets ``user_version``,
so a crash or a failure mid-way leaves the previous version, and two
processes opening at once migrate only once (the second sees the new
version once it gets the write lock). Never edit a released migration:
append a new one.
"""
from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import RepositoryError
from core.catalogue.reasons import session_reason
from core.models import LogItem, SessionResult, SessionState, StopMode, TaskInfo


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


# The schema as the pre-migration code created it. IF NOT EXISTS: a catalogue
# written by that code already has these tables, at user_version 0.
_V1_STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    definition TEXT NOT NULL,
    created TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    job TEXT NOT NULL COLLATE NOCASE,
    state TEXT NOT NULL,
    result TEXT,
    run_kind TEXT NOT NULL,
    full INTEGER NOT NULL,
    stop_mode TEXT,
    stop_request TEXT,
    created TEXT NOT NULL,
    ended TEXT,
    progress INTEGER NOT NULL DEFAULT 0,
    owner_host TEXT,
    owner_pid INTEGER,
    heartbeat TEXT,
    log TEXT NOT NULL DEFAULT '[]'
)""",
    "CREATE INDEX IF NOT EXISTS sessions_job ON sessions(job, created)",
    "CREATE INDEX IF NOT EXISTS sessions_active ON sessions(state)",
    """CREATE TABLE IF NOT EXISTS tasks (
    session_id TEXT NOT NULL,
    computer TEXT NOT NULL,
    ord INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (session_id, computer)
)""",
    """CREATE TABLE IF NOT EXISTS points (
    id TEXT PRIMARY KEY,
    job TEXT NOT NULL COLLATE NOCASE,
    computer TEXT NOT NULL,
    session_id TEXT NOT NULL,
    type TEXT NOT NULL,
    created TEXT NOT NULL,
    files INTEGER NOT NULL,
    size INTEGER NOT NULL,
    repository TEXT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS points_job ON points(job, computer, created)",
)


def _v1_initial_schema(db: sqlite3.Connection) -> None:
    # One statement at a time: executescript() would COMMIT the open transaction.
    for statement in _V1_STATEMENTS:
        db.execute(statement)


def _v2_server_state_and_session_reason(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS server_state ("
               "key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    columns = {r[1] for r in db.execute("PRAGMA table_info(sessions)")}
    if "reason" not in columns:
        db.execute("ALTER TABLE sessions ADD COLUMN reason TEXT")


def _v3_point_damage_and_forgetting(db: sqlite3.Connection) -> None:
    columns = {r[1] for r in db.execute("PRAGMA table_info(points)")}
    if "damaged" not in columns:
        db.execute("ALTER TABLE points ADD COLUMN damaged TEXT")
    if "forgetting" not in columns:
        db.execute("ALTER TABLE points ADD COLUMN forgetting INTEGER NOT NULL DEFAULT 0")


def _v4_session_types_and_history(db: sqlite3.Connection) -> None:
    """Restore and verify sessions next to backups (``type``), who stopped a
    session, what a restore or verify did (``operation``), and the History
    figures kept on the row itself (bytes processed, computers) so that a page
    of 100,000 sessions never reads their tasks."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(sessions)")}
    added = {
        "type": "TEXT NOT NULL DEFAULT 'Backup'",
        "stopped_by": "TEXT",
        "operation": "TEXT",
        "processed": "INTEGER NOT NULL DEFAULT 0",
        "computers": "INTEGER NOT NULL DEFAULT 0",
    }
    for name, decl in added.items():
        if name not in columns:
            db.execute(f"ALTER TABLE sessions ADD COLUMN {name} {decl}")
    db.execute("UPDATE sessions SET "
               "computers=(SELECT COUNT(*) FROM tasks WHERE session_id=sessions.id), "
               "processed=(SELECT COALESCE(SUM(json_extract(data, '$.bytes_processed')), 0) "
               "FROM tasks WHERE session_id=sessions.id)")
    db.execute("CREATE INDEX IF NOT EXISTS sessions_created ON sessions(created, id)")
    db.execute("CREATE INDEX IF NOT EXISTS sessions_type ON sessions(type, created)")
    db.execute("CREATE INDEX IF NOT EXISTS sessions_result ON sessions(result, created)")


def _v5_repositories(db: sqlite3.Connection) -> None:
    """Named backup repositories besides the data directory's own one. Secrets
    are never here: they are 0600 files under DATA_DIR/secrets, named by id."""
    db.execute("""CREATE TABLE IF NOT EXISTS repositories (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    kind TEXT NOT NULL,
    location TEXT NOT NULL,
    encrypted INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL
)""")
    db.execute("CREATE INDEX IF NOT EXISTS points_repository ON points(repository)")


def _v6_latest_session_per_job(db: sqlite3.Connection) -> None:
    """The jobs list asks, for every job, for its newest backup session and its
    newest finished one: one index seek per job instead of a scan of every
    session (100,000 of them make the jobs list slow)."""
    db.execute("CREATE INDEX IF NOT EXISTS sessions_type_job ON sessions(type, job, created)")


def _v7_server_id_and_point_owner(db: sqlite3.Connection) -> None:
    """Which backup server wrote each point, for repositories that two data
    directories share: a random id per data directory (``server_state``
    ``server_id``) and ``points.server``. Points catalogued before are this
    server's when their session is in this catalogue or they are in the data
    directory's own repository; the others were imported from another
    server's repository (or are of a job since deleted there) and are
    treated as another's ('': unknown server), so nothing here removes them."""
    row = db.execute("SELECT value FROM server_state WHERE key='server_id'").fetchone()
    server_id = row[0] if row is not None else str(uuid.uuid4())
    if row is None:
        db.execute("INSERT INTO server_state(key, value) VALUES ('server_id', ?)", (server_id,))
    columns = {r[1] for r in db.execute("PRAGMA table_info(points)")}
    if "server" not in columns:
        db.execute("ALTER TABLE points ADD COLUMN server TEXT NOT NULL DEFAULT ''")
    db.execute("UPDATE points SET server=? WHERE server='' AND ("
               "session_id IN (SELECT id FROM sessions) OR "
               f"lower(trim(repository)) IN {DEFAULT_REPOSITORY_NAMES})", (server_id,))


def _v8_session_reasons(db: sqlite3.Connection) -> None:
    """Fill ``sessions.reason`` (History's Reason column) for the failed and warned
    sessions recorded before it was kept, from their logs as a session's end does."""
    rows = db.execute(
        "SELECT id, result, stop_mode, stopped_by, log FROM sessions WHERE state=? AND "
        "result IN (?, ?) AND reason IS NULL",
        (SessionState.STOPPED.value, SessionResult.FAILED.value,
         SessionResult.WARNING.value)).fetchall()
    for session_id, result, stop_mode, stopped_by, log in rows:
        try:
            tasks = [TaskInfo.model_validate_json(r[0]) for r in db.execute(
                "SELECT data FROM tasks WHERE session_id=? ORDER BY ord", (session_id,))]
            items = [LogItem.model_validate(i) for i in json.loads(log or "[]")]
            reason = session_reason(SessionState.STOPPED, SessionResult(result), items, tasks,
                                    StopMode(stop_mode) if stop_mode else None, stopped_by)
        except (ValueError, TypeError):
            continue   # an unreadable record keeps no reason; the session itself still shows
        if reason:
            db.execute("UPDATE sessions SET reason=? WHERE id=?", (reason, session_id))


def _v9_audit_trail(db: sqlite3.Connection) -> None:
    """The audit trail (``core.catalogue.audit``): append-only, hash-chained rows of
    who did what; triggers refuse any UPDATE or DELETE."""
    db.execute("CREATE TABLE IF NOT EXISTS audit ("
               "id INTEGER PRIMARY KEY, at TEXT NOT NULL, user TEXT NOT NULL, "
               "origin TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, "
               "details TEXT NOT NULL, result TEXT NOT NULL, prev TEXT NOT NULL, "
               "hash TEXT NOT NULL)")
    db.execute("CREATE INDEX IF NOT EXISTS audit_at ON audit(at)")
    for verb in ("UPDATE", "DELETE"):
        db.execute(f"CREATE TRIGGER IF NOT EXISTS audit_no_{verb.lower()} BEFORE {verb} ON "
                   "audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END")


def _v13_repository_immutable_days(db: sqlite3.Connection) -> None:
    """repositories.immutable_days: the lock days an immutable repository is
    written with (0: not immutable; NULL: not known yet, learnt when it is
    next opened), so listing repositories opens none of them."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(repositories)")}
    if "immutable_days" not in columns:
        db.execute("ALTER TABLE repositories ADD COLUMN immutable_days INTEGER")


def _v14_users(db: sqlite3.Connection) -> None:
    """users (``core.catalogue.users``): named users with a role, an Argon2id password
    hash, an optional TOTP secret and a restore operator's allowed folders."""
    db.execute("CREATE TABLE IF NOT EXISTS users ("
               "name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL, "
               "enabled INTEGER NOT NULL DEFAULT 1, totp_secret TEXT, "
               "restore_to TEXT NOT NULL DEFAULT '[]', created TEXT NOT NULL)")


def _v15_paused_tasks(db: sqlite3.Connection) -> None:
    """paused_tasks: per task of a Paused session, the files it had stored, the bytes it
    had read and the file it was in the middle of (``core.catalogue.paused``), so that a
    restart resumes it."""
    db.execute("CREATE TABLE IF NOT EXISTS paused_tasks ("
               "session_id TEXT NOT NULL, computer TEXT NOT NULL, files TEXT NOT NULL, "
               "bytes_read INTEGER NOT NULL DEFAULT 0, saved TEXT, partial TEXT, "
               "PRIMARY KEY (session_id, computer))")


# How the data directory's own repository is named in points.repository (as
# core.service.registry.is_default reads it).
DEFAULT_REPOSITORY_NAMES = "('default backup repository', 'default', '')"

MIGRATIONS: list[Migration] = [
    Migration(1, "initial schema: jobs, sessions, tasks, points", _v1_initial_schema),
    Migration(2, "server_state table; sessions.reason", _v2_server_state_and_session_reason),
    Migration(3, "points.damaged and points.forgetting", _v3_point_damage_and_forgetting),
    Migration(4, "sessions: type, stopped_by, operation, processed, computers; History indexes",
              _v4_session_types_and_history),
    Migration(5, "repositories table (named backup repositories)", _v5_repositories),
    Migration(6, "index sessions(type, job, created) for the jobs list",
              _v6_latest_session_per_job),
    Migration(7, "server id; points.server (which server wrote a point)",
              _v7_server_id_and_point_owner),
    Migration(8, "sessions.reason filled for failed and warned sessions", _v8_session_reasons),
    Migration(9, "audit table (append-only, hash-chained)", _v9_audit_trail),
    # 10 to 12 are other branches' (numbers handed out by the lead)
    Migration(13, "repositories.immutable_days (listing opens no repository)",
              _v13_repository_immutable_days),
    Migration(14, "users table (named users, roles, Argon2id hashes, TOTP)", _v14_users),
    Migration(15, "paused_tasks (a paused session survives a restart)", _v15_paused_tasks),
]


def latest_version() -> int:
    return MIGRATIONS[-1].version if MIGRATIONS else 0


def user_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def _newer_error(path: Path, found: int) -> RepositoryError:
    return RepositoryError(
        f"The catalogue {path} was written by a newer version of Agent Backup "
        f"Console (schema {found}, this version knows {latest_version()}). Upgrade "
        "the app to open it; the catalogue was left unchanged.")


def refuse_if_newer(db: sqlite3.Connection, path: Path) -> None:
    """Raise if the catalogue was written by a newer schema. Only reads."""
    found = user_version(db)
    if found > latest_version():
        raise _newer_error(path, found)


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Apply every pending migration, one transaction each.

    ``db`` must be in autocommit mode (isolation_level=None).
    """
    for migration in MIGRATIONS:
        if user_version(db) >= migration.version:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated.
            current = user_version(db)
            if current > latest_version():
                raise _newer_error(path, current)
            if current < migration.version:
                migration.apply(db)
                db.execute(f"PRAGMA user_version = {int(migration.version)}")
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:  # SQLite may already have rolled back (e.g. disk full)
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise RepositoryError(
                    f"Could not upgrade the catalogue {path} to schema "
                    f"{migration.version} ({migration.description}): {exc}. It was "
                    f"left unchanged at schema {user_version(db)}. Check the disk "
                    "space and permissions of its folder, then restart.") from exc
            raise
    refuse_if_newer(db, path)
