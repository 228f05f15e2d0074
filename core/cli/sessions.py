"""``agent-jobs start|stop|sessions|points|restore|verify``."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from ..errors import ConsoleError
from ..models import SessionInfo, SessionResult, StopMode
from ..server.client import ServerClient
from .connect import client
from .output import iso, print_json, short, table


def start(args: argparse.Namespace, data_dir: Path) -> int:
    with client(data_dir) as api:
        session_id = api.start_job(args.name, full=args.full, retry=args.retry)
        if not args.wait:
            print(f"Started job '{args.name}' (session {session_id}).")
            return 0
        print(f"Started job '{args.name}' (session {session_id}). "
              "Press Ctrl-C to stop gracefully, twice to stop immediately.", flush=True)
        presses = {"n": 0}

        def on_sigint(signum: int, frame: Any) -> None:
            presses["n"] += 1
            mode = StopMode.GRACEFULLY if presses["n"] == 1 else StopMode.IMMEDIATELY
            print(f"\nStopping {mode.value}...", file=sys.stderr, flush=True)
            threading.Thread(target=_quiet_stop, args=(api, args.name, mode),
                             daemon=True).start()

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            session = api.wait_session(session_id)
        finally:
            signal.signal(signal.SIGINT, previous)
        return _report(session, exit_on_failed=True)


def _quiet_stop(api: ServerClient, name: str, mode: StopMode) -> None:
    try:
        api.stop_job(name, mode)
    except ConsoleError:
        pass   # it ended on its own meanwhile


def stop(args: argparse.Namespace, data_dir: Path) -> int:
    mode = StopMode.IMMEDIATELY if args.immediately else StopMode.GRACEFULLY
    with client(data_dir) as api:
        outcome = api.stop_job(args.name, mode)
        gets = outcome.immediately_gets_point if mode is StopMode.IMMEDIATELY \
            else outcome.gracefully_gets_point
        print(f"Stopping job '{outcome.job}' {mode.value}; new restore points for: "
              f"{', '.join(gets) if gets else 'none'}.")
        if args.wait:
            return _report(api.wait_session(outcome.session_id), exit_on_failed=False)
    return 0


def _report(session: SessionInfo, *, exit_on_failed: bool) -> int:
    done = [t.computer for t in session.tasks if t.status.produced_point]
    print(f"Session {session.id} ended: {session.result.value if session.result else 'None'}"
          + (f" (stopped {session.stop_mode.value})" if session.stop_mode else "")
          + f"; new restore points for: {', '.join(done) if done else 'none'}.")
    for t in session.tasks:
        why = next((i.text for i in reversed(t.log) if i.level == "error"), "") \
            if not t.status.produced_point else ""
        print(f"  {t.computer}: {t.status.value}" + (f" ({why})" if why else ""))
    if not exit_on_failed:
        return 0
    return 0 if session.result in (SessionResult.SUCCESS, SessionResult.WARNING) else 1


def list_sessions(args: argparse.Namespace, data_dir: Path) -> int:
    with client(data_dir) as api:
        sessions = api.list_sessions(args.name)
    if args.json:
        print_json([{
            "id": s.id, "job": s.job, "state": s.state.value,
            "result": s.result.value if s.result else None, "started": iso(s.created),
            "ended": iso(s.ended), "progress": s.progress, "run_kind": s.run_kind.value,
            "full": s.full, "stop_mode": s.stop_mode.value if s.stop_mode else None,
            "tasks": [{"computer": t.computer, "status": t.status.value, "point_id": t.point_id,
                       "bytes_read": t.bytes_read, "bytes_transferred": t.bytes_transferred,
                       "files": t.files_done, "warnings": t.warnings,
                       "log": [{"time": iso(i.time), "level": i.level, "text": i.text}
                               for i in t.log]} for t in s.tasks],
            "log": [{"time": iso(i.time), "level": i.level, "text": i.text} for i in s.log],
        } for s in sessions])
    else:
        table(["Session", "Job", "State", "Result", "Started", "Kind", "Stop"],
              [[s.id, s.job, s.state.value, s.result.value if s.result else "",
                short(s.created), s.run_kind.value, s.stop_mode.value if s.stop_mode else ""]
               for s in sessions])
    return 0


def points(args: argparse.Namespace, data_dir: Path) -> int:
    with client(data_dir) as api:
        if args.name:
            api.get_job(args.name)   # a job that does not exist is an error, not "no points"
        found = api.list_points(args.name)
    if args.json:
        print_json([{
            "id": p.id, "job": p.job, "computer": p.computer, "session_id": p.session_id,
            "type": p.type.value, "created": iso(p.created), "files": p.files, "size": p.size,
            "repository": p.repository} for p in found])
    else:
        table(["Id", "Job", "Computer", "Type", "Created", "Files", "Size"],
              [[p.id, p.job, p.computer, p.type.value, short(p.created), p.files, p.size]
               for p in found])
    return 0


def restore(args: argparse.Namespace, data_dir: Path) -> int:
    with client(data_dir) as api:
        rep = api.restore(args.point_id, Path(args.target))
    print(f"Restored point {rep.point_id} to {rep.target}: {rep.files} file(s), "
          f"{rep.dirs} folder(s), {rep.symlinks} symlink(s), {rep.bytes} bytes.")
    return 0


def verify(args: argparse.Namespace, data_dir: Path) -> int:
    with client(data_dir) as api:
        report = api.verify(args.point_id)
    for p in report.problems:
        paths = ", ".join(p.paths[:5]) + (" ..." if len(p.paths) > 5 else "")
        print(f"point {p.point_id}: block {p.blob} is {p.problem}"
              + (f" (pack {p.pack})" if p.pack else "") + (f"; used by {paths}" if paths else ""))
    print(f"Verified {report.points_checked} point(s), {report.blobs_checked} block(s): "
          + ("OK" if report.ok else f"{len(report.problems)} problem(s) found"))
    return 0 if report.ok else 1
