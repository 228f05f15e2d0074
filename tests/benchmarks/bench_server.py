"""How quickly the backup server reacts, measured through its real socket.

* stop (1 computer): a client asks for an immediate stop of a job reading a
  throttled computer; the time until the session is Stopped;
* stop (fleet): the same with one job of 50 computers on 8 task slots, stopped
  while 8 computers are mid-read (throttled) and 42 are pending; target p99 < 100 ms;
* event: another client starts a job; the time until the first
  ``SessionChanged`` reaches a subscriber of the event stream (what the
  console waits for before it refreshes).

"Stopped" is timed two ways: until a client's long poll on
``/sessions/{id}/wait``, already waiting before the stop was asked, returns the
Stopped session (what a client sees), and until the session's own end time as
the server recorded it (the engine's share, without the answer's trip back).

Run on demand: ``.venv/bin/python tests/benchmarks/bench_server.py [--runs 30]
[--computers 50] [--slots 8] [--json-out FILE]``. Prints JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.events import SessionChanged  # noqa: E402
from core.models import (  # noqa: E402
    Computer,
    JobDefinition,
    SessionInfo,
    SessionState,
    StopMode,
    TaskStatus,
)
from core.api.client import ServerClient  # noqa: E402

FLEET_FILE = 4 << 20          # each fleet computer: one 4 MiB file and a few small ones
FLEET_SMALL_FILES = 10
FLEET_THROTTLE_MBPS = 16      # the job's read rate limit: a session lasts ~13 s unstopped


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {"runs": len(ms), "p50_ms": round(statistics.median(ms), 1),
            "p99_ms": round(percentile(ms, 99), 1), "max_ms": round(max(ms), 1),
            "all_ms": [round(v, 1) for v in ms]}


class Server:
    """A real ``agent-jobs server run`` process on a new data directory."""

    def __init__(self, data: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "--data-dir", str(data), "server", "run"],
            stdout=subprocess.PIPE, text=True, env=env, stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening" not in line:
            raise RuntimeError(f"the server did not start: {line!r}")
        self.api = ServerClient(data, autostart=False)
        self.waiter = ServerClient(data, autostart=False)   # the client that long-polls

    def close(self) -> None:
        self.api.close()
        self.waiter.close()
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def timed_immediate_stop(server: Server, job: str, session_id: str) -> tuple[float, float, SessionInfo]:
    """Ask for an immediate stop while another client already long-polls the
    session; (seconds until that poll returned Stopped, seconds until the
    session's recorded end, the session)."""
    done: dict[str, object] = {}
    polling = threading.Event()

    def poll() -> None:
        polling.set()
        session = server.waiter.wait_session(session_id, timeout=30)
        done["t"] = time.perf_counter()
        done["session"] = session

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    polling.wait(5)
    # Let the long poll reach the server before the stop is asked: the poll is
    # answered only once the session ends, so this wait is not part of the timing.
    threading.Event().wait(0.05)
    wall0, t0 = datetime.now(timezone.utc), time.perf_counter()
    server.api.stop_job(job, StopMode.IMMEDIATELY)
    thread.join(30)
    session = done.get("session")
    if not isinstance(session, SessionInfo) or session.state is not SessionState.STOPPED:
        raise RuntimeError(f"session {session_id} did not reach Stopped within 30 s")
    seen = float(done["t"]) - t0   # type: ignore[arg-type]
    ended = session.ended or wall0
    return seen, (ended - wall0).total_seconds(), session


def wait_reading(api: ServerClient, session_id: str, readers: int) -> SessionInfo:
    """Wait until ``readers`` tasks are in progress and have read bytes."""
    waiter = threading.Event()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        session = api.get_session(session_id)
        busy = [t for t in session.tasks
                if t.status is TaskStatus.IN_PROGRESS and t.bytes_read > 0]
        if len(busy) >= readers:
            return session
        waiter.wait(0.01)
    raise RuntimeError(f"{readers} tasks of session {session_id} never read at once")


def measure_single(base: Path, runs: int) -> dict:
    """1 computer, 1 slot: immediate stop and start-to-event latency."""
    source = base / "pc1"
    source.mkdir()
    (source / "big.bin").write_bytes(os.urandom(64 << 20))
    server = Server(base / "data-single")
    watcher = ServerClient(base / "data-single", autostart=False)
    try:
        server.api.create_job(JobDefinition(name="Bench", task_slots=1, throttle_mbps=4,
                                            computers=(Computer(name="pc1", path=str(source)),)))
        arrived = threading.Event()
        watcher.subscribe(lambda e: arrived.set() if isinstance(e, SessionChanged) else None)
        waiter = threading.Event()
        while not watcher.connected:
            waiter.wait(0.01)
        seen: list[float] = []
        ended: list[float] = []
        events: list[float] = []
        for _ in range(runs):
            arrived.clear()
            t0 = time.perf_counter()
            session_id = server.api.start_job("Bench", full=True)
            arrived.wait(10)
            events.append(time.perf_counter() - t0)
            wait_reading(server.api, session_id, 1)
            s, e, _ = timed_immediate_stop(server, "Bench", session_id)
            seen.append(s)
            ended.append(e)
        return {"immediate_stop_seen_by_client": summary(seen),
                "immediate_stop_session_end": summary(ended),
                "start_to_event_at_subscriber": summary(events)}
    finally:
        watcher.close()
        server.close()


def measure_fleet(base: Path, runs: int, computers: int, slots: int) -> dict:
    """One job of ``computers`` computers on ``slots`` task slots, throttled, stopped
    immediately once every slot is mid-read."""
    fleet = base / "fleet"
    for i in range(computers):
        folder = fleet / f"pc{i:02d}"
        folder.mkdir(parents=True)
        (folder / "disk.bin").write_bytes(os.urandom(FLEET_FILE))
        for k in range(FLEET_SMALL_FILES):
            (folder / f"note{k}.txt").write_bytes(os.urandom(2048))
    server = Server(base / "data-fleet")
    try:
        server.api.create_job(JobDefinition(
            name="Fleet", task_slots=slots, throttle_mbps=FLEET_THROTTLE_MBPS,
            computers=tuple(Computer(name=f"pc{i:02d}", path=str(fleet / f"pc{i:02d}"))
                            for i in range(computers))))
        seen: list[float] = []
        ended: list[float] = []
        statuses: dict[str, int] = {}
        for _ in range(runs):
            session_id = server.api.start_job("Fleet", full=True)
            wait_reading(server.api, session_id, slots)
            s, e, session = timed_immediate_stop(server, "Fleet", session_id)
            seen.append(s)
            ended.append(e)
            for task in session.tasks:
                statuses[task.status.value] = statuses.get(task.status.value, 0) + 1
        return {"computers": computers, "task_slots": slots,
                "throttle_mbps": FLEET_THROTTLE_MBPS,
                "per_computer": f"{FLEET_FILE >> 20} MiB file + {FLEET_SMALL_FILES} x 2 KiB",
                "stopped_when": f"{slots} tasks in progress with bytes read, "
                                f"{computers - slots} pending",
                "immediate_stop_seen_by_client": summary(seen),
                "immediate_stop_session_end": summary(ended),
                "task_statuses_total": statuses,
                "target_p99_ms": 100}
    finally:
        server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--computers", type=int, default=50)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--skip-single", action="store_true",
                        help="measure only the fleet case")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="bench-server-"))
    result: dict = {"benchmark": "bench_server",
                    "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "machine": {"cpus": os.cpu_count(),
                                "loadavg_start": [round(x, 2) for x in os.getloadavg()]}}
    try:
        if not args.skip_single:
            result["single"] = measure_single(base, args.runs)
        result["fleet"] = measure_fleet(base, args.runs, args.computers, args.slots)
    finally:
        import shutil
        shutil.rmtree(base, ignore_errors=True)
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(result, indent=2)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
