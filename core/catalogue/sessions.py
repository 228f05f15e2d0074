"""Sessions and their tasks: creation, progress, and failing the sessions a
server left running when it died."""
from __future__ import annotations

import json
import socket
import sqlite3
from datetime import datetime, timezone

from core.errors import JobStateError, NotFound
from core.models import (
    HistoryPage,
    HistoryQuery,
    LogItem,
    OperationInfo,
    RunKind,
    SessionInfo,
    SessionResult,
    SessionState,
    SessionSummary,
    SessionType,
    StopMode,
    TaskInfo,
    TaskStatus,
    utcnow,
)
from core.catalogue.db import CatalogueDB, _created, _dt, _ts
from core.catalogue.reasons import session_reason

HOST = socket.gethostname()
BACKUP = SessionType.BACKUP.value
COPY = SessionType.COPY.value
# A job's own sessions: a backup job's backups, a backup copy job's copies (a job has
# one kind or the other); restores and verifies do not count.
JOB_TYPES = f"('{BACKUP}', '{COPY}')"
# What an interrupted task's log says when the start finds no point of it; a
# point found later (in another repository, opened later) replaces this line.
INTERRUPTED_NO_POINT = ("Interrupted: the backup server stopped unexpectedly; no restore "
                        "point was created")


def _recovered_text(point_id: str) -> str:
    return (f"Restore point {point_id} was committed before the server stopped; it was "
            "found in the repository and recorded at the next start")


def _give_point(task: TaskInfo, point_id: str, now: datetime) -> None:
    """The task made ``point_id`` (committed before a crash): record it, and
    take back the line saying that no point was created."""
    task.point_id = point_id
    if not task.status.produced_point:
        task.status = TaskStatus.WARNING if task.warnings else TaskStatus.SUCCESS
    task.ended = task.ended or now
    task.log = [i for i in task.log if i.text != INTERRUPTED_NO_POINT]
    task.log.append(LogItem(time=now, level="info", text=_recovered_text(point_id)))


def _operation_json(session: SessionInfo) -> str | None:
    return session.operation.model_dump_json() if session.operation is not None else None


def _utc(dt: datetime) -> str | None:
    """As the rows store times (UTC ISO text), so that text order is time order."""
    return _ts(dt.astimezone(timezone.utc) if dt.tzinfo else dt.replace(tzinfo=timezone.utc))


def _processed(tasks: list[TaskInfo], session: SessionInfo | None = None) -> int:
    """History's Processed: what the computers' tasks read, or what a restore or
    verify read (its operation's bytes), whichever is larger."""
    op = session.operation if session is not None else None
    return max(sum(t.bytes_processed for t in tasks), op.bytes if op is not None else 0)


class SessionsMixin(CatalogueDB):
    def create_session(self, session: SessionInfo, *, owner_pid: int) -> None:
        """Insert a new active session, unless the job already has one."""
        with self._tx() as db:
            active = db.execute(
                "SELECT id, owner_pid, owner_host FROM sessions WHERE job=? AND state!=? "
                f"AND type IN {JOB_TYPES}", (session.job, SessionState.STOPPED.value)).fetchone()
            if active is not None and session.type in (SessionType.BACKUP, SessionType.COPY):
                raise JobStateError(
                    f"Job '{session.job}' is already running. "
                    "Wait for it to finish or stop it first.")
            db.execute(
                "INSERT INTO sessions(id, job, state, result, run_kind, full, created, "
                "progress, owner_host, owner_pid, heartbeat, log, type, operation, computers, "
                "processed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (session.id, session.job, session.state.value, None, session.run_kind.value,
                 int(session.full), _ts(session.created), 0, HOST, owner_pid,
                 _ts(utcnow()), json.dumps([i.model_dump(mode="json") for i in session.log]),
                 session.type.value, _operation_json(session), len(session.tasks),
                 _processed(session.tasks)))
            for ord_, task in enumerate(session.tasks):
                db.execute("INSERT INTO tasks(session_id, computer, ord, data) VALUES (?,?,?,?)",
                           (session.id, task.computer, ord_, task.model_dump_json()))

    def save_session(self, session: SessionInfo, tasks: list[TaskInfo] | None = None) -> bool:
        """Write a running session's state, progress, log, heartbeat and tasks.

        A session already recorded as stopped is never written again (a late
        owner cannot overwrite a record marked Failed); returns False then."""
        written = tasks if tasks is not None else session.tasks
        reason = session_reason(session.state, session.result, session.log, written,
                                session.stop_mode, session.stopped_by)
        with self._tx() as db:
            updated = db.execute(
                "UPDATE sessions SET state=?, result=?, stop_mode=?, ended=?, progress=?, "
                "heartbeat=?, log=?, stopped_by=?, operation=?, processed=?, reason=? "
                "WHERE id=? AND state!=?",
                (session.state.value, session.result.value if session.result else None,
                 session.stop_mode.value if session.stop_mode else None, _ts(session.ended),
                 session.progress, _ts(utcnow()),
                 json.dumps([i.model_dump(mode="json") for i in session.log]),
                 session.stopped_by, _operation_json(session), _processed(written, session), reason,
                 session.id, SessionState.STOPPED.value)).rowcount
            if not updated:
                return False
            for task in written:
                db.execute("UPDATE tasks SET data=? WHERE session_id=? AND computer=?",
                           (task.model_dump_json(), session.id, task.computer))
        return True

    def record_recovered_point(self, session_id: str, computer: str, point_id: str) -> bool:
        """A point committed to the repository whose task was recorded without it
        (the server died between the commit and the catalogue update): give the
        task its point. Returns True if a task was corrected."""
        now = utcnow()
        with self._tx() as db:
            row = db.execute("SELECT data FROM tasks WHERE session_id=? AND computer=?",
                             (session_id, computer)).fetchone()
            if row is None:
                return False
            task = TaskInfo.model_validate_json(row[0])
            if task.point_id == point_id:
                return False
            _give_point(task, point_id, now)
            db.execute("UPDATE tasks SET data=? WHERE session_id=? AND computer=?",
                       (task.model_dump_json(), session_id, computer))
            srow = db.execute("SELECT log FROM sessions WHERE id=?", (session_id,)).fetchone()
            if srow is not None:
                log = json.loads(srow[0])
                log.append(LogItem(time=now, level="info", text=(
                    f"{computer}: restore point {point_id} recovered from the repository"))
                    .model_dump(mode="json"))
                db.execute("UPDATE sessions SET log=? WHERE id=?", (json.dumps(log), session_id))
        return True

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
            created=_created(row["created"]), ended=_dt(row["ended"]), progress=row["progress"],
            tasks=tasks, log=[LogItem.model_validate(i) for i in json.loads(row["log"])],
            type=SessionType(row["type"]), stopped_by=row["stopped_by"],
            operation=OperationInfo.model_validate_json(row["operation"])
            if row["operation"] else None)

    @staticmethod
    def _summary_from_row(row: sqlite3.Row) -> SessionSummary:
        return SessionSummary(
            id=row["id"], job=row["job"], type=SessionType(row["type"]),
            state=SessionState(row["state"]),
            result=SessionResult(row["result"]) if row["result"] else None,
            run_kind=RunKind(row["run_kind"]), full=bool(row["full"]),
            stop_mode=StopMode(row["stop_mode"]) if row["stop_mode"] else None,
            stopped_by=row["stopped_by"], created=_created(row["created"]),
            ended=_dt(row["ended"]),
            progress=row["progress"], processed=row["processed"], computers=row["computers"],
            reason=row["reason"])

    def session(self, session_id: str) -> SessionInfo:
        row = self._conn().execute("SELECT * FROM sessions WHERE id=?", (session_id,)).fetchone()
        if row is None:
            raise NotFound(f"No session with id {session_id}.")
        return self._session_from_row(row)

    def sessions(self, job: str | None = None, limit: int = 200,
                 with_tasks: bool = True, type: SessionType | None = None  # noqa: A002
                 ) -> list[SessionInfo]:
        """Newest first; ``type`` None: sessions of every type."""
        conds, args = [], []
        if job is not None:
            conds.append("job=?")
            args.append(job)
        if type is not None:
            conds.append("type=?")
            args.append(type.value)
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        rows = self._conn().execute(
            f"SELECT * FROM sessions{where} ORDER BY created DESC LIMIT ?",
            (*args, limit)).fetchall()
        return [self._session_from_row(r, with_tasks) for r in rows]

    def history(self, query: HistoryQuery) -> HistoryPage:
        """A page of session summaries, newest first (see HistoryQuery)."""
        conds: list[str] = []
        args: list[object] = []
        if query.job is not None:
            conds.append("job=?")
            args.append(query.job)
        if query.types:
            conds.append(f"type IN ({','.join('?' * len(query.types))})")
            args += [t.value for t in query.types]
        if query.results:
            conds.append(f"result IN ({','.join('?' * len(query.results))})")
            args += [r.value for r in query.results]
        if query.running is not None:
            conds.append("state!=?" if query.running else "state=?")
            args.append(SessionState.STOPPED.value)
        if query.since is not None:
            conds.append("created>=?")
            args.append(_utc(query.since))
        if query.until is not None:
            conds.append("created<?")
            args.append(_utc(query.until))
        if query.ids:
            conds.append(f"id IN ({','.join('?' * len(query.ids))})")
            args += list(query.ids)
        total = None
        if query.count:
            where = f" WHERE {' AND '.join(conds)}" if conds else ""
            total = int(self._conn().execute(f"SELECT COUNT(*) FROM sessions{where}",
                                             args).fetchone()[0])
        page_conds, page_args = list(conds), list(args)
        if query.before_created is not None:
            page_conds.append("(created<? OR (created=? AND id<?))")
            before = _utc(query.before_created)
            page_args += [before, before, query.before_id or ""]
        where = f" WHERE {' AND '.join(page_conds)}" if page_conds else ""
        rows = self._conn().execute(
            "SELECT id, job, type, state, result, run_kind, full, stop_mode, stopped_by, "
            f"created, ended, progress, processed, computers, reason FROM sessions{where} "
            "ORDER BY created DESC, id DESC LIMIT ?", (*page_args, query.limit + 1)).fetchall()
        more = len(rows) > query.limit
        return HistoryPage(sessions=[self._summary_from_row(r) for r in rows[:query.limit]],
                           total=total, more=more)

    def latest_sessions(self) -> dict[str, SessionInfo]:
        """The newest backup session of every job (without tasks), for the jobs list."""
        rows = self._conn().execute(
            "SELECT s.* FROM sessions s JOIN (SELECT job, MAX(created) AS c FROM sessions "
            f"WHERE type IN {JOB_TYPES} GROUP BY job) m ON s.job=m.job AND s.created=m.c "
            f"WHERE s.type IN {JOB_TYPES}").fetchall()
        return {r["job"]: self._session_from_row(r, with_tasks=False) for r in rows}

    def latest_finished(self, job: str) -> SessionInfo | None:
        row = self._conn().execute(
            f"SELECT * FROM sessions WHERE job=? AND state=? AND type IN {JOB_TYPES} "
            "ORDER BY created DESC LIMIT 1",
            (job, SessionState.STOPPED.value)).fetchone()
        return self._session_from_row(row) if row else None

    def active_session(self, job: str) -> SessionInfo | None:
        """The job's running backup session (restores and verifies do not count)."""
        row = self._conn().execute(
            f"SELECT * FROM sessions WHERE job=? AND state!=? AND type IN {JOB_TYPES}",
            (job, SessionState.STOPPED.value)).fetchone()
        return self._session_from_row(row) if row else None

    def paused_sessions(self) -> list[SessionInfo]:
        """The sessions recorded Paused (a restart finds them so), oldest first."""
        rows = self._conn().execute(
            "SELECT * FROM sessions WHERE state=? ORDER BY created",
            (SessionState.PAUSED.value,)).fetchall()
        return [self._session_from_row(r) for r in rows]

    def fail_interrupted_sessions(self) -> list[str]:
        """Mark Failed every session still marked running. Only the owner of the
        data directory calls this, when it opens: such sessions were left by a
        server that died (killed, crashed, or the machine lost power)."""
        now = utcnow()
        failed: list[str] = []
        with self._tx() as db:
            # A Paused session is not interrupted: it is rebuilt Paused (Resume goes on)
            rows = db.execute("SELECT id, owner_host, owner_pid FROM sessions WHERE state "
                              "NOT IN (?, ?)", (SessionState.STOPPED.value,
                                                SessionState.PAUSED.value)).fetchall()
            for r in rows:
                reason = (f"The backup server (pid {r['owner_pid']} on {r['owner_host']}) "
                          "stopped unexpectedly while this session ran. Restore points "
                          "committed before that are kept.")
                session = self._session_from_row(
                    db.execute("SELECT * FROM sessions WHERE id=?", (r["id"],)).fetchone())
                session.log.append(LogItem(time=now, level="error", text=reason))
                for task in session.tasks:
                    if task.status.is_final:
                        continue
                    # The point may be catalogued while the task's record is older
                    # (the server died after recording the point, before saving
                    # the session): the task made it.
                    point_id = task.point_id or None
                    if point_id is None:
                        made = db.execute(
                            "SELECT id FROM points WHERE session_id=? AND computer=? "
                            "ORDER BY created DESC, id DESC LIMIT 1",
                            (r["id"], task.computer)).fetchone()
                        point_id = None if made is None else made[0]
                    if point_id is not None:
                        _give_point(task, point_id, now)
                        session.log.append(LogItem(time=now, level="info", text=(
                            f"{task.computer}: restore point {point_id} recovered from the "
                            "repository")))
                        continue
                    task.status = TaskStatus.FAILED
                    task.ended = now
                    task.log.append(LogItem(time=now, level="error", text=INTERRUPTED_NO_POINT))
                db.execute("UPDATE sessions SET state=?, result=?, ended=?, log=?, reason=? "
                           "WHERE id=?",
                           (SessionState.STOPPED.value, SessionResult.FAILED.value, _ts(now),
                            json.dumps([i.model_dump(mode="json") for i in session.log]),
                            reason, r["id"]))
                for task in session.tasks:
                    db.execute("UPDATE tasks SET data=? WHERE session_id=? AND computer=?",
                               (task.model_dump_json(), r["id"], task.computer))
                failed.append(r["id"])
        return failed
