"""How quickly the backup server reacts, measured through its real socket.

* stop: a client asks for an immediate stop of a job reading a throttled
  computer; the time until the session is Stopped (the server's answer to a
  long-poll ``/sessions/{id}/wait``);
* event: another client starts a job; the time until the first
  ``SessionChanged`` reaches a subscriber of the event stream (what the
  console waits for before it refreshes).

Run on demand: ``.venv/bin/python tests/benchmarks/bench_server.py [--runs N]``.
Prints JSON.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.events import SessionChanged  # noqa: E402
from core.models import Computer, JobDefinition, StopMode  # noqa: E402
from core.server.client import ServerClient  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {"runs": len(ms), "p50_ms": round(statistics.median(ms), 1),
            "p99_ms": round(percentile(ms, 99), 1), "max_ms": round(max(ms), 1)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-server-"))
    data = base / "data"
    source = base / "pc1"
    source.mkdir()
    (source / "big.bin").write_bytes(os.urandom(64 << 20))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "core.cli", "--data-dir", str(data),
                               "server", "run"], stdout=subprocess.PIPE, text=True, env=env)
    assert server.stdout is not None and "listening" in server.stdout.readline()
    api = ServerClient(data, autostart=False)
    watcher = ServerClient(data, autostart=False)
    try:
        api.create_job(JobDefinition(name="Bench", task_slots=1, throttle_mbps=4,
                                     computers=(Computer(name="pc1", path=str(source)),)))
        arrived = threading.Event()
        watcher.subscribe(lambda e: arrived.set() if isinstance(e, SessionChanged) else None)
        waiter = threading.Event()
        while not watcher.connected:
            waiter.wait(0.01)
        stops: list[float] = []
        events: list[float] = []
        for _ in range(args.runs):
            arrived.clear()
            t0 = time.perf_counter()
            session_id = api.start_job("Bench", full=True)
            arrived.wait(10)
            events.append(time.perf_counter() - t0)
            while not any(t.bytes_read for t in api.get_session(session_id).tasks):
                waiter.wait(0.005)
            t0 = time.perf_counter()
            api.stop_job("Bench", StopMode.IMMEDIATELY)
            api.wait_session(session_id, timeout=10)
            stops.append(time.perf_counter() - t0)
        print(json.dumps({"immediate_stop_to_stopped": summary(stops),
                          "start_to_event_at_subscriber": summary(events),
                          "machine": {"cpus": os.cpu_count()}}, indent=2))
    finally:
        api.close()
        watcher.close()
        server.terminate()
        server.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
