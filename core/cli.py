"""``agent-jobs``: the command-line front end of the backup server."""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from pydantic import ValidationError

from .errors import ConsoleError, InvalidInput
from .models import (
    Computer,
    FileScope,
    JobDefinition,
    SessionInfo,
    SessionResult,
    StopMode,
)
from .paths import resolve_data_dir


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agent-jobs",
                                description="Manage and run agent backup jobs.")
    p.add_argument("--data-dir", help="data directory (default: $AGENT_CONSOLE_DATA_DIR "
                                      "or the platform's user data directory)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("demo", help="create the demo computers and jobs (idempotent)")

    job = sub.add_parser("job", help="create, list or delete jobs")
    jsub = job.add_subparsers(dest="job_command", required=True, metavar="ACTION")
    create = jsub.add_parser("create", help="create an agent backup job")
    create.add_argument("name")
    create.add_argument("--computer", action="append", required=True, metavar="CNAME=PATH",
                        help="a computer to protect (repeatable)")
    create.add_argument("--description", default="")
    create.add_argument("--tasks", type=int, default=2, help="task slots (default 2)")
    create.add_argument("--throttle", type=float, default=None, metavar="MBPS",
                        help="cap the read rate in MB/s")
    create.add_argument("--retain", type=int, default=7,
                        help="restore points to keep per computer (default 7)")
    create.add_argument("--include", action="append", default=[], metavar="FOLDER")
    create.add_argument("--exclude", action="append", default=[], metavar="MASK")
    lst = jsub.add_parser("list", help="list jobs")
    lst.add_argument("--json", action="store_true")
    delete = jsub.add_parser("delete", help="delete a job")
    delete.add_argument("name")
    delete.add_argument("--delete-backups", action="store_true",
                        help="also delete the job's restore points from disk")
    for verb in ("enable", "disable"):
        jsub.add_parser(verb, help=f"{verb} a job").add_argument("name")

    start = sub.add_parser("start", help="start a job")
    start.add_argument("name")
    start.add_argument("--full", action="store_true", help="active full: read all data again")
    start.add_argument("--retry", action="store_true",
                       help="process only the computers that failed last time")
    start.add_argument("--wait", action="store_true", help="return when the session ends")

    stop = sub.add_parser("stop", help="stop a running job")
    stop.add_argument("name")
    mode = stop.add_mutually_exclusive_group(required=True)
    mode.add_argument("--immediately", action="store_true")
    mode.add_argument("--gracefully", action="store_true")
    stop.add_argument("--wait", action="store_true", help="return when the session ends")

    sessions = sub.add_parser("sessions", help="list job sessions")
    sessions.add_argument("name", nargs="?")
    sessions.add_argument("--json", action="store_true")

    points = sub.add_parser("points", help="list restore points")
    points.add_argument("name", nargs="?")
    points.add_argument("--json", action="store_true")

    restore = sub.add_parser("restore", help="restore a point into a new or empty folder")
    restore.add_argument("point_id")
    restore.add_argument("target")

    verify = sub.add_parser("verify", help="re-check stored data of one or all points")
    verify.add_argument("point_id", nargs="?")

    run = sub.add_parser("_run-detached", help=argparse.SUPPRESS)
    run.add_argument("name")
    run.add_argument("--full", action="store_true")
    run.add_argument("--retry", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        data_dir = resolve_data_dir(args.data_dir)
        return _dispatch(args, data_dir)
    except ConsoleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValidationError as exc:
        print(f"error: {_validation_message(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # never a traceback
        print(f"error: unexpected {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 2


OPTION_OF_FIELD = {"task_slots": "--tasks", "retain_points": "--retain",
                   "throttle_mbps": "--throttle", "description": "--description",
                   "computers": "--computer", "name": "NAME"}


def _validation_message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    msg = str(err.get("msg", exc)).removeprefix("Value error, ")
    loc = [str(x) for x in err.get("loc", ())]
    if not loc or loc[0] not in OPTION_OF_FIELD or loc[0] in msg:
        return msg
    return f"{OPTION_OF_FIELD[loc[0]]}: {msg[0].lower()}{msg[1:]}"


def _service(data_dir: Path):
    from .service import BackupService

    return BackupService(data_dir, watch=False)


def _dispatch(args: argparse.Namespace, data_dir: Path) -> int:
    cmd = args.command
    if cmd == "_run-detached":
        return _run_detached(args, data_dir)
    svc = _service(data_dir)
    if cmd == "demo":
        created = svc.setup_demo()
        print(f"Demo ready in {data_dir}: " +
              (f"created {', '.join(created)}" if created else "already set up"))
        return 0
    if cmd == "job":
        return _job(args, svc)
    if cmd == "start":
        return _start(args, svc, data_dir)
    if cmd == "stop":
        mode = StopMode.IMMEDIATELY if args.immediately else StopMode.GRACEFULLY
        preview = svc.stop_preview(args.name)
        svc.stop_job(args.name, mode)
        print(f"Stopping job '{preview.job}' {mode.value}.")
        if args.wait:
            return _report(svc.wait_session(preview.session_id), exit_on_failed=False)
        return 0
    if cmd == "sessions":
        return _print_sessions(svc.list_sessions(args.name), args.json)
    if cmd == "points":
        return _print_points(svc, args)
    if cmd == "restore":
        rep = svc.restore(args.point_id, Path(args.target))
        print(f"Restored point {rep.point_id} to {rep.target}: {rep.files} file(s), "
              f"{rep.dirs} folder(s), {rep.symlinks} symlink(s), {rep.bytes} bytes.")
        return 0
    if cmd == "verify":
        report = svc.verify(args.point_id)
        for p in report.problems:
            paths = ", ".join(p.paths[:5]) + (" ..." if len(p.paths) > 5 else "")
            print(f"point {p.point_id}: block {p.blob} is {p.problem}"
                  + (f" (pack {p.pack})" if p.pack else "") + (f"; used by {paths}" if paths else ""))
        print(f"Verified {report.points_checked} point(s), {report.blobs_checked} block(s): "
              + ("OK" if report.ok else f"{len(report.problems)} problem(s) found"))
        return 0 if report.ok else 1
    raise InvalidInput(f"unknown command {cmd}")


def _job(args: argparse.Namespace, svc) -> int:
    sub = args.job_command
    if sub == "create":
        computers = []
        for spec in args.computer:
            name, sep, path = spec.partition("=")
            if not sep or not name or not path:
                raise InvalidInput(f"--computer '{spec}' must look like NAME=PATH.")
            computers.append(Computer(name=name, path=str(Path(path).expanduser().resolve())))
        svc.create_job(JobDefinition(
            name=args.name, description=args.description, computers=tuple(computers),
            task_slots=args.tasks, throttle_mbps=args.throttle, retain_points=args.retain,
            scope=FileScope(include=tuple(args.include), exclude=tuple(args.exclude))))
        print(f"Created job '{args.name.strip()}' with {len(computers)} computer(s).")
    elif sub == "list":
        jobs = svc.list_jobs()
        if args.json:
            _print_json([{
                "name": j.name, "type": j.type_label, "description": j.definition.description,
                "computers": [c.name for c in j.definition.computers],
                "status": j.status.value, "progress": j.progress, "enabled": j.definition.enabled,
                "last_run": _iso(j.last_run),
                "last_result": j.last_result.value if j.last_result else None,
                "next_run": _iso(j.next_run), "target": j.definition.repository,
                "task_slots": j.definition.task_slots, "throttle_mbps": j.definition.throttle_mbps,
                "retain_points": j.definition.retain_points,
            } for j in jobs])
        else:
            _table(["Name", "Objects", "Status", "Last Run", "Last Result"],
                   [[j.name, len(j.definition.computers),
                     f"{j.status.value} {j.progress}%" if j.status.value == "Working"
                     else j.status.value, _short(j.last_run),
                     j.last_result.value if j.last_result else ""] for j in jobs])
    elif sub == "delete":
        svc.delete_job(args.name, delete_backups=args.delete_backups)
        print(f"Deleted job '{args.name}'" + (" and its backups." if args.delete_backups else "."))
    elif sub in ("enable", "disable"):
        svc.set_job_enabled(args.name, sub == "enable")
        print(f"Job '{args.name}' {sub}d.")
    return 0


def _start(args: argparse.Namespace, svc, data_dir: Path) -> int:
    if not args.wait:
        return _start_detached(args, data_dir)
    session_id = svc.start_job(args.name, full=args.full, retry=args.retry)
    print(f"Started job '{args.name}' (session {session_id}). "
          "Press Ctrl-C to stop gracefully, twice to stop immediately.", flush=True)
    presses = {"n": 0}

    def on_sigint(signum: int, frame: Any) -> None:
        presses["n"] += 1
        mode = StopMode.GRACEFULLY if presses["n"] == 1 else StopMode.IMMEDIATELY
        print(f"\nStopping {mode.value}...", file=sys.stderr, flush=True)
        threading.Thread(target=_quiet_stop, args=(svc, args.name, mode), daemon=True).start()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        session = svc.get_session(session_id)
        while session.state.value != "Stopped":
            session = svc.wait_session(session_id, timeout=0.2)
    finally:
        signal.signal(signal.SIGINT, previous)
    return _report(session, exit_on_failed=True)


def _quiet_stop(svc, name: str, mode: StopMode) -> None:
    try:
        svc.stop_job(name, mode)
    except ConsoleError:
        pass


def _start_detached(args: argparse.Namespace, data_dir: Path) -> int:
    """Run the session in a detached worker process that outlives this command;
    wait only for it to report that the session started."""
    cmd = [sys.executable, "-m", "core.cli", "--data-dir", str(data_dir), "_run-detached",
           args.name] + (["--full"] if args.full else []) + (["--retry"] if args.retry else [])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parent.parent)] + env.get("PYTHONPATH", "").split(os.pathsep))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True, env=env, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    proc.stdout.close()
    if line.startswith("started "):
        print(f"Started job '{args.name}' (session {line.split()[1]}).")
        return 0
    if line.startswith("error "):
        print(f"error: {line[6:]}", file=sys.stderr)
        return 1
    proc.wait()
    print("error: the session worker ended before starting the job.", file=sys.stderr)
    return 1


def _run_detached(args: argparse.Namespace, data_dir: Path) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        svc = _service(data_dir)
        session_id = svc.start_job(args.name, full=args.full, retry=args.retry)
    except (ConsoleError, ValidationError) as exc:
        print(f"error {exc}", flush=True)
        return 1
    print(f"started {session_id}", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    svc.wait_session(session_id)
    return 0


def _report(session: SessionInfo, *, exit_on_failed: bool) -> int:
    done = [t.computer for t in session.tasks if t.status.produced_point]
    print(f"Session {session.id} ended: {session.result.value if session.result else 'None'}"
          + (f" (stopped {session.stop_mode.value})" if session.stop_mode else "")
          + f"; new restore points for: {', '.join(done) if done else 'none'}.")
    for t in session.tasks:
        print(f"  {t.computer}: {t.status.value}")
    if not exit_on_failed:
        return 0
    return 0 if session.result in (SessionResult.SUCCESS, SessionResult.WARNING) else 1


def _print_sessions(sessions: list[SessionInfo], as_json: bool) -> int:
    if as_json:
        _print_json([{
            "id": s.id, "job": s.job, "state": s.state.value,
            "result": s.result.value if s.result else None, "started": _iso(s.created),
            "ended": _iso(s.ended), "progress": s.progress, "run_kind": s.run_kind.value,
            "full": s.full, "stop_mode": s.stop_mode.value if s.stop_mode else None,
            "tasks": [{"computer": t.computer, "status": t.status.value, "point_id": t.point_id,
                       "bytes_read": t.bytes_read, "bytes_transferred": t.bytes_transferred,
                       "files": t.files_done, "warnings": t.warnings} for t in s.tasks],
            "log": [{"time": _iso(i.time), "level": i.level, "text": i.text} for i in s.log],
        } for s in sessions])
    else:
        _table(["Session", "Job", "State", "Result", "Started", "Stop"],
               [[s.id, s.job, s.state.value, s.result.value if s.result else "",
                 _short(s.created), s.stop_mode.value if s.stop_mode else ""] for s in sessions])
    return 0


def _print_points(svc, args: argparse.Namespace) -> int:
    if args.name:
        svc.get_job(args.name)
    points = svc.list_points(args.name)
    if args.json:
        _print_json([{
            "id": p.id, "job": p.job, "computer": p.computer, "session_id": p.session_id,
            "type": p.type.value, "created": _iso(p.created), "files": p.files, "size": p.size,
            "repository": p.repository} for p in points])
    else:
        _table(["Id", "Job", "Computer", "Type", "Created", "Files", "Size"],
               [[p.id, p.job, p.computer, p.type.value, _short(p.created), p.files, p.size]
                for p in points])
    return 0


def _iso(dt) -> str | None:
    return dt.isoformat() if dt else None


def _short(dt) -> str:
    return dt.astimezone().strftime("%Y-%m-%d %H:%M:%S") if dt else ""


def _print_json(rows: list[dict]) -> None:
    json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [headers] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


if __name__ == "__main__":
    sys.exit(main())
