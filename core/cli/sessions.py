"""``agent-jobs start|stop|sessions|points|restore|verify``."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from core.api import made_text, session_figures, size_text, stopped_text
from core.errors import ConsoleError, InvalidInput
from core.models import (
    LogItem, RestorePointInfo, SessionInfo, SessionResult, SessionState, SessionType, StopMode,
    TaskInfo,
)
from core.service.ownership import read_owner
from core.api.client import ServerClient
from core.api.launcher import ServerUnavailable
from core.cli.connect import client
from core.cli.output import iso, print_json, short, table
from core.cli.progress import POLL_S, Progress, progress_for


def start(args: argparse.Namespace, data_dir: Path) -> int:
    with client(data_dir) as api:
        session_id = api.start_job(args.name, full=args.full, retry=args.retry,
                                   outside_window=args.outside_window)
        if not args.wait:
            if args.json:
                print_json({"job": args.name, "session_id": session_id})
            else:
                print(f"Started job '{args.name}' (session {session_id}).")
            return 0
        if not args.json:
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
            session = _follow(api, session_id, progress_for(args.json))
        finally:
            signal.signal(signal.SIGINT, previous)
        if args.json:
            print_json(_session_json(session))
            return _exit_code(session)
        return _report(session, exit_on_failed=True)


def _follow(api: ServerClient, session_id: str, progress: Progress) -> SessionInfo:
    """Wait for the session's end, showing its progress about once a second."""
    try:
        session = api.get_session(session_id)
        progress.show(session)
        while session.state.is_active:
            session = api.wait_session(session_id, POLL_S)
            progress.show(session)
    finally:
        progress.close()
    return session


def _quiet_stop(api: ServerClient, name: str, mode: StopMode) -> None:
    try:
        api.stop_job(name, mode)
    except ConsoleError:
        pass   # it ended on its own meanwhile


def stop(args: argparse.Namespace, data_dir: Path) -> int:
    mode = StopMode.IMMEDIATELY if args.immediately else \
        StopMode.GRACEFULLY_PAST_RPO if getattr(args, "gracefully_past_rpo", False) \
        else StopMode.GRACEFULLY
    escalate = None
    if args.escalate_after is not None:
        if not mode.graceful:
            raise InvalidInput("--escalate-after goes with --gracefully: an immediate stop "
                               "has nothing to wait for.")
        escalate = parse_duration_seconds(args.escalate_after)
    with client(data_dir) as api:
        outcome = api.stop_job(args.name, mode, escalate)
        gets = outcome.gets_point(mode)
        if args.json:   # who gets a new restore point, and with --wait the ended session
            answer = {"mode": mode.value, "gets_point": gets, **outcome.model_dump(mode="json")}
            if args.wait:
                answer["session"] = _session_json(api.wait_session(outcome.session_id))
            print_json(answer)
            return 0
        print(f"Stopping job '{outcome.job}' {mode.text}; new restore points for: "
              f"{', '.join(gets) if gets else 'none'}.")
        if mode is StopMode.GRACEFULLY_PAST_RPO:
            cancelled = [c for c in outcome.in_progress if c not in outcome.finishes_past_rpo]
            print(f"Within the RPO of {outcome.rpo_hours} h, cancelled now: "
                  f"{', '.join(cancelled) if cancelled else 'none'}.")
        if outcome.escalate_at is not None:
            print(f"If it still runs at {short(outcome.escalate_at)}, it stops immediately.")
        if args.wait:
            return _report(api.wait_session(outcome.session_id), exit_on_failed=False)
    return 0


def pause(args: argparse.Namespace, data_dir: Path) -> int:
    with client(data_dir) as api:
        outcome = api.pause_job(args.name)
        if args.json:
            print_json(outcome.model_dump(mode="json"))
            return 0
        held = outcome.in_progress
        print(f"Pausing job '{outcome.job}': "
              + (f"{', '.join(held)} held at the next block" if held else "no computer in "
                 "progress") + "; no new computer starts. Resume with "
              f"'agent-jobs resume {outcome.job}'.")
    return 0


def resume(args: argparse.Namespace, data_dir: Path) -> int:
    with client(data_dir) as api:
        outcome = api.resume_job(args.name)
        if args.json:
            print_json(outcome.model_dump(mode="json"))
            return 0
        going = outcome.in_progress
        print(f"Resumed job '{outcome.job}'"
              + (f": {', '.join(going)} go on where they stopped." if going else "."))
    return 0


def _report(session: SessionInfo, *, exit_on_failed: bool) -> int:
    done = [t.computer for t in session.tasks if t.status.produced_point]
    print(f"Session {session.id} ended: {session.result.value if session.result else 'None'}"
          + (f" (stopped {session.stop_mode.text})" if session.stop_mode else "")
          + f"; new restore points for: {', '.join(done) if done else 'none'}.")
    for t in session.tasks:
        why = _failure_text(t) if not t.status.produced_point else ""
        print(f"  {t.computer}: {t.status.value}" + (f" ({why})" if why else ""))
    return _exit_code(session) if exit_on_failed else 0


def _exit_code(session: SessionInfo) -> int:
    return 0 if session.result in (SessionResult.SUCCESS, SessionResult.WARNING) else 1


def _failure_text(task: TaskInfo) -> str:
    """Why a computer got no restore point: its last error, without the status it
    repeats ("Failed: ..." after "Failed")."""
    why = next((i.text for i in reversed(task.log) if i.level == "error"), "")
    return why.removeprefix(f"{task.status.value}: ")


def _log_json(items: list[LogItem]) -> list[dict[str, Any]]:
    return [{"time": iso(i.time), "level": i.level, "text": i.text} for i in items]


def _session_json(s: SessionInfo) -> dict[str, Any]:
    return {
        "id": s.id, "job": s.job, "type": s.type.value, "state": s.state.value,
        "result": s.result.value if s.result else None, "started": iso(s.created),
        "ended": iso(s.ended), "progress": s.progress, "run_kind": s.run_kind.value,
        "full": s.full, "stop_mode": s.stop_mode.value if s.stop_mode else None,
        "stopped_by": s.stopped_by,
        "tasks": [{"computer": t.computer, "status": t.status.value, "point_id": t.point_id,
                   "bytes_read": t.bytes_read, "bytes_transferred": t.bytes_transferred,
                   "files": t.files_done, "warnings": t.warnings,
                   **({"points_copied": t.points_copied} if s.type is SessionType.COPY else {}),
                   "log": _log_json(t.log)} for t in s.tasks],
        "log": _log_json(s.log),
    }


def list_sessions(args: argparse.Namespace, data_dir: Path) -> int:
    with client(data_dir) as api:
        sessions = api.list_sessions(args.name)
    if args.json:
        print_json([_session_json(s) for s in sessions])
    else:
        table(["Session", "Job", "Type", "State", "Result", "Started", "Kind", "Stop"],
              [[s.id, s.job or "(all backups)", s.type.value, s.state.value,
                s.result.value if s.result else "", short(s.created), s.run_kind.value,
                s.stop_mode.value if s.stop_mode else ""]
               for s in sessions])
    return 0


def show_session(args: argparse.Namespace, data_dir: Path) -> int:
    """``session show ID``: the figures of the Statistics window, every computer's
    figures, and the session's and each computer's log."""
    with client(data_dir) as api:
        s = api.get_session(args.session_id)
    fig = session_figures(s)
    if args.json:
        data = _session_json(s)
        data["figures"] = {
            "duration_s": round(fig.duration_s, 3), "processed": fig.processed,
            "read": fig.read, "transferred": fig.transferred,
            "rate_bps": fig.rate_bps, "dedup": fig.dedup, "compression": fig.compression,
            "bottleneck": fig.bottleneck.value if fig.bottleneck else None,
            "bottleneck_text": fig.bottleneck_text() if fig.bottleneck else None,
            "production_why": fig.production_why or None,
            "stages_s": {k.value: round(v, 4) for k, v in fig.stages.items()},
            "success": fig.success, "warning": fig.warning, "error": fig.error,
            "skipped": fig.skipped, "running": fig.running,
            "pending": fig.pending}
        data["made"] = made_text(s) if s.type is SessionType.BACKUP else None
        data["operation"] = s.operation.model_dump(mode="json") if s.operation else None
        for t, out in zip(s.tasks, data["tasks"]):
            out.update({
                "started": iso(t.started), "ended": iso(t.ended),
                "point_type": t.point_type.value if t.point_type else None,
                "files_total": t.files_total, "bytes_total": t.bytes_total,
                "bytes_processed": t.bytes_processed,
                "duration_s": round(t.duration_s, 3) if t.duration_s is not None else None,
                "stages_s": {k.value: round(v, 4) for k, v in t.stage_seconds().items()}})
        print_json(data)
        return 0
    title = s.job or "All backups"
    made = f" ({made_text(s)})" if s.type is SessionType.BACKUP else ""
    print(f"Session {s.id}: {s.type.value}{made} of {title}")
    result = s.result.value if s.result else \
        f"(stopping, {s.progress} %)" if s.state is SessionState.STOPPING else \
        f"(paused, {s.progress} %)" if s.state is SessionState.PAUSED else \
        f"(still running, {s.progress} %)"
    stopped = stopped_text(s)
    print(f"  Result: {result}" + (f"; {stopped}" if stopped else "")
          + f"; run {s.run_kind.value}")
    print(f"  Started {short(s.created)}" + (f", ended {short(s.ended)}" if s.ended else "")
          + f"; duration {_duration_text(fig.duration_s)}")
    print(f"  Processed {size_text(fig.processed)}, read {size_text(fig.read)}, transferred "
          f"{size_text(fig.transferred)}"
          + (f"; saving {fig.saving:.1f}x" if fig.saving else "")
          + (f" (dedup {fig.dedup:.1f}x, compression {fig.compression:.1f}x)"
             if fig.dedup and fig.compression else ""))
    if s.type is SessionType.BACKUP:
        rate = f"{size_text(fig.rate_bps)}/s" if fig.rate_bps else "none (nothing was read)"
        shares = ", ".join(f"{k.value} {fig.stage_percent(k)}%" for k in fig.stages)
        print(f"  Processing rate {rate}; bottleneck {fig.bottleneck_text()}"
              + (f" ({shares})" if fig.bottleneck else ""))
    print(f"  Computers: {fig.success} success, {fig.warning} warning, {fig.error} error, "
          f"{fig.skipped} skipped" + (f", {fig.running} running" if fig.running else "")
          + (f", {fig.pending} pending" if fig.pending else ""))
    if s.operation is not None and s.operation.target:
        print(f"  Target: {s.operation.target}"
              + (" (original location)" if s.operation.original_location else ""))
    print("  Log:")
    _print_log(s.log, "    ")
    for t in s.tasks:
        duration = _duration_text(t.duration_s) if t.duration_s is not None else ""
        files = f"{t.files_done}/{t.files_total} file(s)" if t.files_total else \
            f"{t.files_done} file(s)"
        print(f"  {t.computer}: {t.status.value}"
              + (f", {t.point_type.value}" if t.point_type and s.type is SessionType.BACKUP
                 else "")
              + f"; {files}, processed {size_text(t.bytes_processed)}, read "
                f"{size_text(t.bytes_read)}, transferred {size_text(t.bytes_transferred)}"
              + (f"; {duration}" if duration else "")
              + (f"; {t.points_copied} point(s) copied" if s.type is SessionType.COPY else "")
              + (f"; point {t.point_id}" if t.point_id else ""))
        _print_log(t.log, "    ")
    return 0


def _print_log(items: list[LogItem], indent: str) -> None:
    for i in items:
        mark = {"warning": "WARNING ", "error": "ERROR "}.get(i.level, "")
        print(f"{indent}{short(i.time)}  {mark}{i.text}")


def _duration_text(seconds: float | None) -> str:
    total = int(round(seconds or 0))
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def point_state(p: RestorePointInfo) -> str:
    state = "DAMAGED" if p.damaged else "OK"
    return f"{state}, IMPORTED" if p.imported else state


def points(args: argparse.Namespace, data_dir: Path) -> int:
    with client(data_dir) as api:
        if args.name:
            api.get_job(args.name)   # a job that does not exist is an error, not "no points"
        found = api.list_points(args.name)
    if args.name:   # one job's points: computer by computer, oldest first
        found.sort(key=lambda p: (p.computer, p.created, p.id))
    if args.json:
        print_json([{
            "id": p.id, "job": p.job, "computer": p.computer, "session_id": p.session_id,
            "type": p.type.value, "created": iso(p.created), "files": p.files, "size": p.size,
            "repository": p.repository, "damaged": p.damaged, "imported": p.imported,
            "server": p.server} for p in found])
    else:
        table(["Id", "Job", "Computer", "Type", "Created", "Files", "Size", "State"],
              [[p.id, p.job, p.computer, p.type.value, short(p.created), p.files,
                size_text(p.size), point_state(p)] for p in found])
        for p in found:
            if p.damaged:
                print(f"  {p.id}: {p.damaged}")
        if any(p.imported for p in found):
            print("IMPORTED: written by another backup server that shares the repository; "
                  "restorable, read-only here (that server's retention removes it).")
    return 0


def restore(args: argparse.Namespace, data_dir: Path) -> int:
    paths = args.path or None
    if paths is not None and not all(p.strip() for p in paths):
        raise InvalidInput("--path needs a file or folder of the restore point, relative to "
                           "the computer's folder.")
    if "://" in args.target:
        raise InvalidInput(f"Cannot restore into {args.target}: a restore target is a folder "
                           "on the backup server's machine, not a URL. Give a folder path.")
    # a relative folder is the user's, not the server's working directory
    target = Path(args.target).expanduser().absolute()
    with client(data_dir) as api:
        rep = api.restore(args.point_id, target, paths=paths) if paths else \
            api.restore(args.point_id, target)
    print(f"Restored point {rep.point_id} to {rep.target}: {rep.files} file(s), "
          f"{rep.dirs} folder(s), {rep.symlinks} symlink(s), {size_text(rep.bytes)}.")
    return 0


def verify(args: argparse.Namespace, data_dir: Path) -> int:
    if args.point_id is not None and not args.point_id.strip():
        raise InvalidInput("An empty name or id was given: give a restore point id (see "
                           "'agent-jobs points'), or none to verify everything.")
    with client(data_dir) as api:
        report = api.verify(args.point_id)
    for p in report.problems:
        paths = ", ".join(p.paths[:5]) + (" ..." if len(p.paths) > 5 else "")
        if not p.point_id:   # damage no checked point depends on
            print(p.problem if p.problem.startswith("repository ") else
                  f"repository: {p.problem}")
        elif not p.blob:
            print(f"point {p.point_id}: its {p.problem.replace('manifest ', 'manifest is ')}"
                  " (the point stays listed as damaged)")
        else:
            print(f"point {p.point_id}: block {p.blob} is {p.problem}"
                  + (f" (pack {p.pack})" if p.pack else "")
                  + (f"; used by {paths}" if paths else ""))
    print(f"Verified {report.points_checked} point(s), {report.blobs_checked} block(s): "
          + ("OK" if report.ok else f"{len(report.problems)} problem(s) found"))
    for line in report.advice:   # what can be restored instead of the damaged points
        print(line)
    return 0 if report.ok else 1


def repair(args: argparse.Namespace, data_dir: Path) -> int:
    if args.catalogue:
        return _repair_catalogue(data_dir)
    with client(data_dir) as api:
        rep = api.repair()
    for problem in rep.problems:
        print(f"  {problem}")
    print(f"Repaired repository: {rep.packs_checked} pack(s) read, {rep.blobs_ok} intact and "
          f"{rep.blobs_damaged} damaged block(s); {rep.packs_rewritten} damaged pack(s) "
          f"salvaged; index rebuilt from the packs ({rep.index_files_replaced} file(s) "
          f"replaced). Points intact: {rep.points_ok + len(rep.points_relinked)}"
          + (f" ({len(rep.points_relinked)} re-linked)" if rep.points_relinked else "")
          + f"; still damaged: {len(rep.points_damaged)}.")
    for point_id, why in sorted(rep.points_damaged.items()):
        print(f"  point {point_id}: {why}")
    return 0 if not rep.points_damaged else 1


def _repair_catalogue(data_dir: Path) -> int:
    from core.service.offline import rebuild_catalogue   # the catalogue and repository load only here

    if read_owner(data_dir) is not None:   # the server holds the catalogue open: stop it
        try:
            with client(data_dir, autostart=False) as api:
                api.stop_server(None)
        except ServerUnavailable:
            pass   # already on its way out, e.g. it could not start on the damaged catalogue
        waiter = threading.Event()
        deadline = time.monotonic() + 60
        while read_owner(data_dir) is not None and time.monotonic() < deadline:
            waiter.wait(0.05)
        if read_owner(data_dir) is not None:
            raise ServerUnavailable(
                f"The backup server for {data_dir} still holds the catalogue after 60 s. "
                "Stop it with 'agent-jobs server stop', then run 'agent-jobs repair "
                "--catalogue' again.")
    rep = rebuild_catalogue(data_dir)
    for problem in rep.problems:
        print(f"  {problem}")
    print(f"Rebuilt the catalogue from the repository: {rep.points_imported} restore point(s), "
          f"{len(rep.jobs_kept)} job(s) kept"
          + (f" ({', '.join(rep.jobs_kept)})" if rep.jobs_kept else "")
          + (f", {rep.jobs_lost} job(s) unreadable and lost" if rep.jobs_lost else "")
          + (f". The damaged catalogue was moved to {rep.catalogue_aside}."
             if rep.catalogue_aside else "."))
    return 0


def parse_duration_seconds(text: str) -> float:
    """'90s', '10m', '2h' or a number of seconds."""
    value = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600}
    factor = units.get(value[-1:], None)
    number = value[:-1] if factor else value
    try:
        seconds = float(number) * (factor or 1)
    except ValueError:
        raise InvalidInput(f"--escalate-after '{text}' must be a duration such as 90s, 10m "
                           "or 2h.") from None
    if not 1 <= seconds <= 7 * 86400:
        raise InvalidInput("--escalate-after must be between 1 second and 7 days.")
    return seconds
