"""The catalogue: jobs, sessions, tasks and restore points in SQLite (WAL).

Several processes (the console, the CLI, detached session workers) share one
catalogue. Each thread gets its own connection. The repository stays the
source of truth for restore points; the catalogue indexes them.
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from collections.abc import Iterator

from .errors import AlreadyExists, JobStateError, NotFound, RepositoryError
from .models import (
    JobDefinition,
    LogItem,
    RestorePointInfo,
    RunKind,
    SessionInfo,
    SessionResult,
    SessionState,
    StopMode,
    TaskInfo,
    TaskStatus,
    utcnow,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    definition TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
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
);
CREATE INDEX IF NOT EXISTS sessions_job ON sessions(job, created);
CREATE INDEX IF NOT EXISTS sessions_active ON sessions(state);
CREATE TABLE IF NOT EXISTS tasks (
    session_id TEXT NOT NULL,
    computer TEXT NOT NULL,
    ord INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (session_id, computer)
);
CREATE TABLE IF NOT EXISTS points (
    id TEXT PRIMARY KEY,
    job TEXT NOT NULL COLLATE NOCASE,
    computer TEXT NOT NULL,
    session_id TEXT NOT NULL,
    type TEXT NOT NULL,
    created TEXT NOT NULL,
    files INTEGER NOT NULL,
    size INTEGER NOT NULL,
    repository TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS points_job ON points(job, computer, created);
"""

HEARTBEAT_STALE = timedelta(seconds=30)
HOST = socket.gethostname()


def _ts(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _dt(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Catalogue:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn().executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise RepositoryError(
                f"The catalogue {path} is unreadable ({exc}). Move it aside and "
                "restart; restore points are re-imported from the repository."
            ) from exc

    # -- connections -------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def data_version(self) -> int:
        return int(self._conn().execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- jobs --------------------------------------------------------------
    def add_job(self, definition: JobDefinition) -> None:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM jobs WHERE name=?", (definition.name,)).fetchone():
                raise AlreadyExists(
                    f"A job named '{definition.name}' already exists. Choose another name."
                )
            db.execute("INSERT INTO jobs(name, definition, created) VALUES (?,?,?)",
                       (definition.name, definition.model_dump_json(), _ts(utcnow())))

    def replace_job(self, name: str, definition: JobDefinition) -> None:
        with self._tx() as db:
            if not db.execute("SELECT 1 FROM jobs WHERE name=?", (name,)).fetchone():
                raise NotFound(f"No job named '{name}'.")
            if definition.name.lower() != name.lower() and db.execute(
                    "SELECT 1 FROM jobs WHERE name=?", (definition.name,)).fetchone():
                raise AlreadyExists(
                    f"A job named '{definition.name}' already exists. Choose another name.")
            db.execute("UPDATE jobs SET name=?, definition=? WHERE name=?",
                       (definition.name, definition.model_dump_json(), name))
            if definition.name != name:
                for table in ("sessions", "points"):
                    db.execute(f"UPDATE {table} SET job=? WHERE job=?", (definition.name, name))

    def delete_job(self, name: str) -> None:
        with self._tx() as db:
            if db.execute("DELETE FROM jobs WHERE name=?", (name,)).rowcount == 0:
                raise NotFound(f"No job named '{name}'. Run 'job list' to see the jobs.")
            ids = [r[0] for r in db.execute("SELECT id FROM sessions WHERE job=?", (name,))]
            db.executemany("DELETE FROM tasks WHERE session_id=?", [(i,) for i in ids])
            db.execute("DELETE FROM sessions WHERE job=?", (name,))

    def jobs(self) -> list[JobDefinition]:
        rows = self._conn().execute("SELECT definition FROM jobs ORDER BY name").fetchall()
        return [JobDefinition.model_validate_json(r[0]) for r in rows]

    def job(self, name: str) -> JobDefinition:
        row = self._conn().execute("SELECT definition FROM jobs WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"No job named '{name}'. Run 'job list' to see the jobs.")
        return JobDefinition.model_validate_json(row[0])

    # -- sessions ----------------------------------------------------------
    def create_session(self, session: SessionInfo, *, owner_pid: int) -> None:
        """Insert a new active session, unless the job already has one."""
        with self._tx() as db:
            active = db.execute(
                "SELECT id, owner_pid, owner_host FROM sessions WHERE job=? AND state!=?",
                (session.job, SessionState.STOPPED.value)).fetchone()
            if active is not None:
                where = "this console" if active["owner_pid"] == os.getpid() else \
                    f"another process (pid {active['owner_pid']})"
                raise JobStateError(
                    f"Job '{session.job}' is already running, started by {where}. "
                    "Wait for it to finish or stop it first.")
            db.execute(
                "INSERT INTO sessions(id, job, state, result, run_kind, full, created, "
                "progress, owner_host, owner_pid, heartbeat, log) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (session.id, session.job, session.state.value, None, session.run_kind.value,
                 int(session.full), _ts(session.created), 0, HOST, owner_pid,
                 _ts(utcnow()), json.dumps([i.model_dump(mode="json") for i in session.log])))
            for ord_, task in enumerate(session.tasks):
                db.execute("INSERT INTO tasks(session_id, computer, ord, data) VALUES (?,?,?,?)",
                           (session.id, task.computer, ord_, task.model_dump_json()))

    def save_session(self, session: SessionInfo, tasks: list[TaskInfo] | None = None) -> None:
        """Write a running session's state, progress, log, heartbeat and tasks."""
        with self._tx() as db:
            db.execute(
                "UPDATE sessions SET state=?, result=?, stop_mode=?, ended=?, progress=?, "
                "heartbeat=?, log=? WHERE id=?",
                (session.state.value, session.result.value if session.result else None,
                 session.stop_mode.value if session.stop_mode else None, _ts(session.ended),
                 session.progress, _ts(utcnow()),
                 json.dumps([i.model_dump(mode="json") for i in session.log]), session.id))
            for task in tasks if tasks is not None else session.tasks:
                db.execute("UPDATE tasks SET data=? WHERE session_id=? AND computer=?",
                           (task.model_dump_json(), session.id, task.computer))

    def request_stop(self, session_id: str, mode: StopMode) -> None:
        with self._tx() as db:
            row = db.execute("SELECT stop_request FROM sessions WHERE id=?",
                             (session_id,)).fetchone()
            if row is None:
                raise NotFound(f"No session {session_id}.")
            if row[0] == StopMode.IMMEDIATELY.value:
                return  # never downgrade
            db.execute("UPDATE sessions SET stop_request=? WHERE id=?", (mode.value, session_id))

    def stop_request(self, session_id: str) -> StopMode | None:
        row = self._conn().execute("SELECT stop_request FROM sessions WHERE id=?",
                                   (session_id,)).fetchone()
        return StopMode(row[0]) if row and row[0] else None

    def _session_from_row(self, row: sqlite3.Row, with_tasks: bool = True) -> SessionInfo:
        tasks: list[TaskInfo] = []
        if with_tasks:
            tasks = [TaskInfo.model_validate_json(r[0]) for r in self._conn().execute(
                "SELECT data FROM tasks WHERE session_id=? ORDER BY ord", (row["id"],))]
        return SessionInfo(
            id=row["id"], job=row["job"], state=SessionState(row["state"]),
            result=SessionResult(row["result"]) if row["result"] else None,
            run_kind=RunKind(row["run_kind"]), full=bool(row["full"]),
            stop_mode=StopMode(row["stop_mode"]) if row["stop_mode"] else None,
            created=_dt(row["created"]), ended=_dt(row["ended"]), progress=row["progress"],
            tasks=tasks, log=[LogItem.model_validate(i) for i in json.loads(row["log"])])

    def session(self, session_id: str) -> SessionInfo:
        row = self._conn().execute("SELECT * FROM sessions WHERE id=?", (session_id,)).fetchone()
        if row is None:
            raise NotFound(f"No session with id {session_id}.")
        return self._session_from_row(row)

    def sessions(self, job: str | None = None, limit: int = 200,
                 with_tasks: bool = True) -> list[SessionInfo]:
        if job is None:
            rows = self._conn().execute(
                "SELECT * FROM sessions ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        else:
            rows = self._conn().execute(
                "SELECT * FROM sessions WHERE job=? ORDER BY created DESC LIMIT ?",
                (job, limit)).fetchall()
        return [self._session_from_row(r, with_tasks) for r in rows]

    def latest_sessions(self) -> dict[str, SessionInfo]:
        """The newest session of every job (without tasks), for the jobs list."""
        rows = self._conn().execute(
            "SELECT s.* FROM sessions s JOIN (SELECT job, MAX(created) AS c FROM sessions "
            "GROUP BY job) m ON s.job=m.job AND s.created=m.c").fetchall()
        return {r["job"]: self._session_from_row(r, with_tasks=False) for r in rows}

    def latest_finished(self, job: str) -> SessionInfo | None:
        row = self._conn().execute(
            "SELECT * FROM sessions WHERE job=? AND state=? ORDER BY created DESC LIMIT 1",
            (job, SessionState.STOPPED.value)).fetchone()
        return self._session_from_row(row) if row else None

    def active_session(self, job: str) -> SessionInfo | None:
        row = self._conn().execute("SELECT * FROM sessions WHERE job=? AND state!=?",
                                   (job, SessionState.STOPPED.value)).fetchone()
        return self._session_from_row(row) if row else None

    def fail_orphaned_sessions(self, live_pids: set[int] | None = None) -> list[str]:
        """Mark Failed every session left running by a process that died."""
        now = utcnow()
        failed: list[str] = []
        with self._tx() as db:
            rows = db.execute("SELECT id, owner_host, owner_pid, heartbeat FROM sessions "
                              "WHERE state!=?", (SessionState.STOPPED.value,)).fetchall()
            for r in rows:
                if live_pids is not None and r["owner_pid"] in live_pids and r["owner_host"] == HOST:
                    continue
                dead = r["owner_host"] == HOST and not _pid_alive(r["owner_pid"])
                stale = (_dt(r["heartbeat"]) or now) < now - HEARTBEAT_STALE
                if not (dead or stale):
                    continue
                session = self._session_from_row(
                    db.execute("SELECT * FROM sessions WHERE id=?", (r["id"],)).fetchone())
                session.log.append(LogItem(time=now, level="error", text=(
                    "The session was interrupted: the process running it ended unexpectedly. "
                    "Restore points committed before the interruption are kept.")))
                for task in session.tasks:
                    if not task.status.is_final:
                        task.status = TaskStatus.FAILED
                        task.ended = now
                        task.log.append(LogItem(time=now, level="error",
                                                text="Interrupted: no restore point created"))
                db.execute("UPDATE sessions SET state=?, result=?, ended=?, log=? WHERE id=?",
                           (SessionState.STOPPED.value, SessionResult.FAILED.value, _ts(now),
                            json.dumps([i.model_dump(mode="json") for i in session.log]), r["id"]))
                for task in session.tasks:
                    db.execute("UPDATE tasks SET data=? WHERE session_id=? AND computer=?",
                               (task.model_dump_json(), r["id"], task.computer))
                failed.append(r["id"])
        return failed

    # -- restore points ----------------------------------------------------
    def add_point(self, point: RestorePointInfo) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO points VALUES (?,?,?,?,?,?,?,?,?)",
                       (point.id, point.job, point.computer, point.session_id, point.type.value,
                        _ts(point.created), point.files, point.size, point.repository))

    def remove_points(self, ids: list[str]) -> None:
        with self._tx() as db:
            db.executemany("DELETE FROM points WHERE id=?", [(i,) for i in ids])

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
        return [_point_from_row(r) for r in self._conn().execute(sql, args)]

    def point(self, point_id: str) -> RestorePointInfo:
        """The point with this id, or the only one whose id starts with it."""
        rows = self._conn().execute(
            "SELECT * FROM points WHERE substr(id, 1, ?)=? ORDER BY id=? DESC LIMIT 2",
            (len(point_id), point_id, point_id)).fetchall()
        if not rows:
            raise NotFound(f"No restore point with id {point_id}. Run 'points' to list them.")
        if rows[0]["id"] != point_id and len(rows) > 1:
            raise NotFound(f"Restore point id {point_id} is ambiguous; give more characters.")
        return _point_from_row(rows[0])


def _point_from_row(r: sqlite3.Row) -> RestorePointInfo:
    return RestorePointInfo(id=r["id"], job=r["job"], computer=r["computer"],
                            session_id=r["session_id"], type=r["type"],
                            created=_dt(r["created"]), files=r["files"], size=r["size"],
                            repository=r["repository"])
