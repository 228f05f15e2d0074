"""The console at scale (issue 11, console targets), measured in a separate process.

One command, about 2.5 to 3 minutes; prints one JSON object on stdout (progress on stderr):

    .venv/bin/python tests/benchmarks/bench_console.py [--jobs 2000] [--running 200]
        [--sessions 100000] [--live-seconds 10] [--keep] [--workdir DIR]

What it does:

1. builds a data directory: ``--jobs`` jobs written through the catalogue, and
   ``--sessions`` past backup sessions bulk-inserted into it (spread over the jobs and
   the last 200 days, mostly Success, some Warning and Failed);
2. starts a real backup server process on it (``agent-jobs server run``) and starts
   ``--running`` jobs whose computer is throttled (0.05 MB/s over 16 MiB), so
   they stay running for minutes, their progress moving about 1 % every
   3 seconds (256 files of 64 KiB); the other jobs protect a tiny
   folder, so a session of theirs ends at once;
3. launches the console, offscreen, in a SEPARATE process (``--probe``), which measures:

   * ``cold_start_s``: from launching the probe process (interpreter start included)
     to the first paint of the jobs table holding every job;
   * ``live``: a 5 ms ``QTimer`` records the gap between its wake-ups for
     ``--live-seconds`` while the running jobs report progress: the longest gap
     (``stall_max_ms``) and the 99th percentile (``stall_p99_ms``);
   * ``sort_ms`` and ``filter_ms``: a click on a column header (``sortByColumn``) and
     a search text or inventory node change, each timed until the call returns (the
     model is in its new order / filtered), and the longest stall around them;
   * ``history_open_ms``: from choosing History to the first paint of its table with
     sessions in it;
   * ``rss_mb``: the console process's resident set (current and peak);
   * ``select_all_start``: Ctrl+A on the jobs table, then Start (the controller's
     start of every selected job that can start, as the Start command does), and the
     stall maximum and p99 for the next seconds while about 1,800 sessions start and end.

4. compares every figure with its target (``targets`` / ``met``) and records the
   load average before and after (``uptime``), since other work on the machine
   moves these figures.

The server and the data are removed at the end unless ``--keep``.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

PROBE_START = time.time()   # the probe's cold start counts from here at the latest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TARGETS = {
    "cold_start_s": 1.0,
    "stall_max_ms": 50.0,
    "stall_p99_ms": 16.0,
    "sort_ms": 50.0,
    "filter_ms": 50.0,
    "history_open_ms": 300.0,
    "rss_mb": 250.0,
    "select_all_start_stall_max_ms": 50.0,
}
LIVE_THROTTLE_MBPS = 0.05
LIVE_FILE_MB = 16
LIVE_FILES = 256
TIMER_MS = 5


def log(text: str) -> None:
    print(f"[bench_console {time.time() - PROBE_START:6.1f} s] {text}", file=sys.stderr,
          flush=True)


def load_average() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True,
                              check=False).stdout.strip()
    except OSError:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- the data set --------------------------------------------------------------------------
def job_name(i: int) -> str:
    return f"Job {i:04d}"


def build_data(base: Path, jobs: int, running: int, sessions: int) -> tuple[Path, list[str]]:
    from core.catalogue import Catalogue
    from core.models import (
        Computer, JobDefinition, RunKind, SessionResult, SessionState, SessionType,
    )
    from core.paths import catalogue_path

    data = base / "data"
    live = base / "live"
    tiny = base / "tiny"
    live.mkdir(parents=True)
    tiny.mkdir(parents=True)
    rng = random.Random(11)
    for n in range(LIVE_FILES):   # many files: progress moves as each one is read
        (live / f"part{n:03d}.bin").write_bytes(rng.randbytes((LIVE_FILE_MB << 20) // LIVE_FILES))
    (tiny / "note.txt").write_text("a tiny computer\n")
    catalogue = Catalogue(catalogue_path(data))
    step = max(1, jobs // max(1, running))
    live_names = [job_name(i) for i in range(0, jobs, step)][:running]
    live_set = set(live_names)
    t0 = time.perf_counter()
    for i in range(jobs):
        name = job_name(i)
        is_live = name in live_set
        computers = tuple(Computer(name=f"pc{i:04d}-{c}", path=str(live if is_live else tiny))
                          for c in range(1 if is_live else 1 + i % 3))
        catalogue.add_job(JobDefinition(
            name=name, description=f"Agent backup of group {i % 40} (site {i % 7})",
            computers=computers, task_slots=1,
            throttle_mbps=LIVE_THROTTLE_MBPS if is_live else None))
    log(f"{jobs} jobs in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    now = datetime.now(timezone.utc)
    results = [SessionResult.SUCCESS] * 8 + [SessionResult.WARNING, SessionResult.FAILED]
    rows = []
    for n in range(sessions):
        created = now - timedelta(days=200) + timedelta(seconds=n * (200 * 86400 / sessions))
        ended = created + timedelta(seconds=rng.randint(5, 900))
        rows.append((
            str(uuid.UUID(int=rng.getrandbits(128))), job_name(rng.randrange(jobs)),
            SessionState.STOPPED.value, rng.choice(results).value, RunKind.SCHEDULED.value,
            int(n % 10 == 0), created.isoformat(), ended.isoformat(), 100, "[]",
            SessionType.BACKUP.value, rng.randint(1 << 20, 1 << 32), 1))
    with catalogue._tx() as db:   # noqa: SLF001 - a bulk insert for the benchmark only
        db.executemany(
            "INSERT INTO sessions(id, job, state, result, run_kind, full, created, ended, "
            "progress, log, type, processed, computers) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows)
    catalogue.close()
    log(f"{sessions} sessions in {time.perf_counter() - t0:.1f} s")
    return data, live_names


def start_server(data: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "core.cli", "--data-dir", str(data),
                               "server", "run"], stdout=subprocess.PIPE, text=True, env=env)
    assert server.stdout is not None
    line = server.stdout.readline()
    if "listening" not in line:
        raise SystemExit(f"the backup server did not start: {line!r}")
    return server


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def run(args: argparse.Namespace) -> dict[str, Any]:
    from core.models import JobStatus, StopMode
    from core.api.client import ServerClient

    base = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-console-"))
    base.mkdir(parents=True, exist_ok=True)
    load_before = load_average()
    log(f"work folder {base}; {load_before}")
    data, live = build_data(base, args.jobs, args.running, args.sessions)
    server = start_server(data)
    client = ServerClient(data, autostart=False)
    result: dict[str, Any] = {}
    try:
        t0 = time.perf_counter()
        started = client.start_jobs(live)
        if started.errors:
            raise SystemExit(f"could not start the live jobs: {started.errors}")
        t1 = time.perf_counter()
        jobs = client.list_jobs()
        t2 = time.perf_counter()
        working = sum(1 for j in jobs if j.status is JobStatus.WORKING)
        log(f"{len(live)} jobs started in {t1 - t0:.1f} s; list_jobs {t2 - t1:.2f} s, "
            f"{working} working")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen",
               "XDG_CONFIG_HOME": str(base / "config")}
        launched = time.time()
        probe = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--probe", str(data),
             "--launched", repr(launched), "--live-seconds", str(args.live_seconds)],
            capture_output=True, text=True, env=env, timeout=300, check=False)
        if probe.returncode != 0:
            log(probe.stderr[-4000:])
            raise SystemExit(f"the console probe failed ({probe.returncode})")
        measured = json.loads(probe.stdout)
        result = {
            "command": "python tests/benchmarks/bench_console.py " + " ".join(sys.argv[1:]),
            "data_set": {"jobs": args.jobs, "running": len(live), "sessions": args.sessions,
                         "live_throttle_mbps": LIVE_THROTTLE_MBPS},
            "server": {"start_jobs_s": round(t1 - t0, 2), "list_jobs_s": round(t2 - t1, 3),
                       "rss_mb": rss_mb(server.pid)},
            "console": measured,
        }
        result["met"] = verdicts(measured)
        result["targets"] = TARGETS
    finally:
        log("stopping the server")
        try:
            client.stop_server(StopMode.IMMEDIATELY)
        except Exception as exc:  # noqa: BLE001 - report, then make sure it ends
            log(f"server stop: {exc}")
        client.close()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        if not args.keep:
            subprocess.run(["rm", "-rf", str(base)], check=False)
    result["load"] = {"before": load_before, "after": load_average(),
                      "cpus": os.cpu_count()}
    result["elapsed_s"] = round(time.time() - PROBE_START, 1)
    return result


def verdicts(m: dict[str, Any]) -> dict[str, bool]:
    return {
        "cold_start_s": m["cold_start_s"] < TARGETS["cold_start_s"],
        "stall_max_ms": m["live"]["stall_max_ms"] < TARGETS["stall_max_ms"],
        "stall_p99_ms": m["live"]["stall_p99_ms"] < TARGETS["stall_p99_ms"],
        "sort_ms": max(m["sort_ms"].values()) < TARGETS["sort_ms"],
        "filter_ms": max(m["filter_ms"].values()) < TARGETS["filter_ms"],
        "history_open_ms": m["history_open_ms"] < TARGETS["history_open_ms"],
        "rss_mb": m["rss_mb"]["peak"] < TARGETS["rss_mb"],
        "select_all_start_stall_max_ms":
            m["select_all_start"]["stall_max_ms"] < TARGETS["select_all_start_stall_max_ms"],
    }


# -- the probe: the console, in its own process ---------------------------------------------
def probe(data_dir: Path, launched: float, live_seconds: float) -> dict[str, Any]:
    from PySide6.QtCore import QElapsedTimer, QEvent, QEventLoop, QObject, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from gui.app import create_main_window
    from gui.jobs.jobs_model import Column

    app = QApplication(sys.argv[:1])
    assert app is not None

    def wait_until(predicate: Any, timeout_ms: float) -> bool:
        """Run the event loop (a real one, as app.exec does) until ``predicate``
        holds, checking every 10 ms, or ``timeout_ms`` passed."""
        if predicate():
            return True
        loop = QEventLoop()
        poll = QTimer()
        poll.setInterval(10)
        poll.timeout.connect(lambda: loop.quit() if predicate() else None)
        deadline = QTimer()
        deadline.setSingleShot(True)
        deadline.timeout.connect(loop.quit)
        deadline.start(int(timeout_ms))
        poll.start()
        loop.exec()
        poll.stop()
        deadline.stop()
        return bool(predicate())

    class PaintWatch(QObject):
        """Notes when a viewport has painted with rows in it."""

        def __init__(self, viewport: Any, rows: Any) -> None:
            super().__init__()
            self.rows = rows
            self.painted_at: float | None = None
            viewport.installEventFilter(self)

        def eventFilter(self, _watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Paint and self.painted_at is None and self.rows():
                QTimer.singleShot(0, self._done)
            return False

        def _done(self) -> None:
            if self.painted_at is None:
                self.painted_at = time.time()

    marks = {"interpreter_ready": PROBE_START - launched, "imported": time.time() - launched}
    window = create_main_window(data_dir)
    marks["window_built"] = time.time() - launched
    window.refresher.refreshed.connect(
        lambda _jobs: marks.setdefault("jobs_fetched_and_applied", time.time() - launched))
    jobs_table = window.jobs_view.table
    total_jobs: list[int] = []
    first_paint = PaintWatch(jobs_table.viewport(),
                             lambda: window.model.rowCount() > 0 and
                             window.proxy.rowCount() >= (total_jobs[0] if total_jobs else 1))
    window.inventory.select("Jobs")   # the console opens on the Overview; this times the list
    window.show()
    # Every job is in the list once the first refresh landed: wait for it, then for paint.
    wait_until(lambda: window.refresher.count >= 1, 30_000)
    total_jobs.append(window.model.rowCount())
    wait_until(lambda: first_paint.painted_at is not None, 30_000)
    cold = (first_paint.painted_at or time.time()) - launched
    marks["painted"] = cold
    log(f"cold start {cold:.2f} s, {total_jobs[0]} jobs")

    # -- the stall monitor --------------------------------------------------------------
    gaps: list[tuple[float, str]] = []   # (gap ms, phase)
    gap_cpu: list[float] = []            # the GUI thread's CPU time in each gap, ms
    phase = ["idle"]
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]
    ticker = QTimer()
    ticker.setTimerType(Qt.TimerType.PreciseTimer)
    ticker.setInterval(TIMER_MS)

    profiled = os.environ.get("BENCH_CONSOLE_PROFILE", "")   # a phase name: cProfile it
    profiler = cProfile.Profile() if profiled else None

    def set_phase(name: str) -> None:
        """Samples go to ``name`` from now on (the GUI thread is profiled in it)."""
        if profiler is not None and phase[0] == profiled and name != profiled:
            profiler.disable()
            profiler.dump_stats(f"/tmp/bench_console_{profiled}.prof")
        if profiler is not None and name == profiled and phase[0] != profiled:
            profiler.enable()
        phase[0] = name

    cpu = [time.thread_time_ns()]

    def tick() -> None:
        now = clock.nsecsElapsed()
        used = time.thread_time_ns()
        gaps.append(((now - last[0]) / 1e6, phase[0]))
        gap_cpu.append((used - cpu[0]) / 1e6)
        last[0], cpu[0] = now, used

    def restart() -> None:
        """A new phase starts its gaps from now."""
        last[0], cpu[0] = clock.nsecsElapsed(), time.thread_time_ns()

    ticker.timeout.connect(tick)
    ticker.start()

    def stalls(name: str) -> dict[str, float]:
        mine = [(g, c) for (g, p), c in zip(gaps, gap_cpu) if p == name]
        values = [g for g, _c in mine]
        return {"samples": len(values), "stall_max_ms": round(max(values, default=0.0), 1),
                # the five longest gaps, each with the GUI thread's own CPU time in it:
                # a long gap with little CPU is waiting (the GIL, or no free core)
                "longest_ms_and_gui_cpu_ms": [[round(g, 1), round(c, 1)]
                                              for g, c in sorted(mine)[-5:]],
                "stall_p99_ms": round(percentile(values, 99), 1),
                "stall_p50_ms": round(statistics.median(values) if values else 0.0, 1)}

    def run_phase(name: str, ms: float) -> None:
        set_phase(name)
        restart()
        wait_until(lambda: False, ms)
        set_phase("idle")

    def timed(name: str, action: Any) -> float:
        """The call's own time; the stall phase covers it and 300 ms after."""
        set_phase(name)
        restart()
        t0 = time.perf_counter()
        action()
        spent = (time.perf_counter() - t0) * 1000
        wait_until(lambda: False, 300)
        set_phase("idle")
        return round(spent, 1)

    run_phase("warmup", 1000)
    updates_before = window.refresher.count
    changed = [0]
    window.model.dataChanged.connect(lambda *_: changed.__setitem__(0, changed[0] + 1))
    run_phase("live", live_seconds * 1000)
    live = stalls("live")
    live["full_list_refreshes"] = window.refresher.count - updates_before
    live["model_dataChanged_signals"] = changed[0]
    log(f"live: {live}")

    sort_ms = {
        "status": timed("sort", lambda: jobs_table.sortByColumn(
            Column.STATUS, Qt.SortOrder.AscendingOrder)),
        "last_run": timed("sort", lambda: jobs_table.sortByColumn(
            Column.LAST_RUN, Qt.SortOrder.DescendingOrder)),
        "name_desc": timed("sort", lambda: jobs_table.sortByColumn(
            Column.NAME, Qt.SortOrder.DescendingOrder)),
        "name": timed("sort", lambda: jobs_table.sortByColumn(
            Column.NAME, Qt.SortOrder.AscendingOrder)),
    }
    search = window.jobs_view.search
    filter_ms = {
        "search_group": timed("filter", lambda: search.setText("group 7")),
        "search_narrower": timed("filter", lambda: search.setText("group 7 (site 3")),
        "search_nothing": timed("filter", lambda: search.setText("no such job")),
        "search_clear": timed("filter", lambda: search.setText("")),
    }
    log(f"sort {sort_ms}, filter {filter_ms}")

    history_table = window.history_view.table
    history_paint = PaintWatch(history_table.viewport(),
                               lambda: window.history_model.rowCount() > 0)
    set_phase("history")
    restart()
    t0 = time.time()
    window.show_view("History")
    wait_until(lambda: history_paint.painted_at is not None, 30_000)
    history_ms = round(((history_paint.painted_at or time.time()) - t0) * 1000, 1)
    wait_until(lambda: False, 300)
    set_phase("idle")
    history_total = window.history_model.total
    # Scroll to the end a few times: pages come in as the view needs them.
    for _ in range(5):
        history_table.scrollToBottom()
        wait_until(lambda: not window.history_model.busy, 5000)
    history_rows = window.history_model.rowCount()
    log(f"history {history_ms} ms, {history_rows} of {history_total} loaded after 5 scrolls")
    window.show_view("Home")
    wait_until(lambda: False, 300)

    rss_live = _own_rss()
    # -- select all and Start -------------------------------------------------------------
    refreshes = window.refresher.count
    set_phase("select_all_start")
    restart()
    t0 = time.perf_counter()
    jobs_table.setFocus()
    jobs_table.selectAll()
    select_ms = (time.perf_counter() - t0) * 1000
    selected = len(window.jobs_view.selected_jobs())
    t1 = time.perf_counter()
    window.controller.start()
    start_call_ms = (time.perf_counter() - t1) * 1000
    wait_until(lambda: False, 8000)
    set_phase("idle")
    sas = stalls("select_all_start")
    sas.update({"selected": selected, "select_all_ms": round(select_ms, 1),
                "start_call_ms": round(start_call_ms, 1),
                "full_list_refreshes": window.refresher.count - refreshes})
    log(f"select all + start: {sas}")
    ticker.stop()
    rss_end = _own_rss()
    window.close()
    window.shutdown()
    return {
        "cold_start_s": round(cold, 3),
        "cold_start_marks_s": {k: round(v, 3) for k, v in marks.items()},
        "jobs_shown": total_jobs[0],
        "live": live,
        "sort_ms": sort_ms,
        "sort_stalls": stalls("sort"),
        "filter_ms": filter_ms,
        "filter_stalls": stalls("filter"),
        "history_open_ms": history_ms,
        "history_stalls": stalls("history"),
        "history_sessions_total": history_total,
        "history_rows_after_5_scrolls": history_rows,
        "rss_mb": {"after_live": rss_live["current"], "end": rss_end["current"],
                   "peak": rss_end["peak"]},
        "select_all_start": sas,
    }


def _own_rss() -> dict[str, float]:
    found = {"current": 0.0, "peak": 0.0}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            found["current"] = round(int(line.split()[1]) / 1024, 1)
        elif line.startswith("VmHWM:"):
            found["peak"] = round(int(line.split()[1]) / 1024, 1)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--running", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--live-seconds", type=float, default=10.0)
    parser.add_argument("--workdir", help="work folder (default: a new one under /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--probe", metavar="DATA_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--launched", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(Path(args.probe), args.launched or PROBE_START,
                               args.live_seconds)))
        return 0
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
