#!/usr/bin/env python3
"""On-demand benchmark (issue 25): Pause and Resume through a real backup server process.

    .venv/bin/python tests/benchmarks/bench_pause.py [--cycles 100] [--computers 2]
        [--files 120] [--file-mib 1] [--throttle 10] [--big-mib 48] [--workdir DIR]
        [--json-out FILE]

Prints ONE JSON object on stdout (progress on stderr).

* ``latency``: a job of ``--computers`` computers on as many task slots, each
  ``--files`` random files of ``--file-mib`` MiB, read at ``--throttle`` MB/s per computer
  (so that it runs long enough, and every pause lands in a throttle wait or a block). It
  is paused and resumed ``--cycles`` times. Per pause, measured by the server (the
  session log's "Paused: ..." line): ``held_ms``, from the request until every computer
  in flight is held at its gate (it reads nothing more; target p99 < 100 ms), and
  ``durable_ms``, until what they sent is durable too (packs fsynced, an index
  checkpoint, the catalogue's record) and the session shows Paused; and ``client_ms``,
  from a client's pause request until that client sees the session Paused (REST polls
  every 2 ms: includes the request and the polls).
* ``resume_overhead``: bytes read by the paused-and-resumed session above, and by one
  paused at about half, its server SIGKILLed, started again and resumed, each against an
  uninterrupted run of the same job (ratio 1.0: nothing read twice); ``big_files``: the
  same restart with one ``--big-mib`` file per computer (paused inside it: the file goes
  on at its last complete chunk).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.api.client import ServerClient  # noqa: E402
from core.models import SessionInfo, SessionState  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
HELD = re.compile(r"Paused: .* (\d+) ms after the request")
STOPPED = re.compile(r"reading stopped after (\d+) ms")


def log(msg: str) -> None:
    print(f"[bench-pause {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cli(data: Path, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "core.cli", "--data-dir", str(data), *args],
                          capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=120)
    if done.returncode:
        raise RuntimeError(f"agent-jobs {' '.join(args)}: {done.stderr}")


class Server:
    def __init__(self, data: Path) -> None:
        data.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "--data-dir", str(data), "server", "run"],
            stdout=subprocess.PIPE, text=True, env=ENV, stdin=subprocess.DEVNULL, cwd=ROOT)
        assert self.proc.stdout is not None
        if "listening" not in self.proc.stdout.readline():
            raise RuntimeError("the server did not start")
        self.api = ServerClient(data, autostart=False)

    def kill(self) -> None:
        self.api.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def until(predicate: Any, timeout: float = 60.0, step: float = 0.002) -> float:
    """Poll until true; the seconds it took."""
    t0 = time.perf_counter()
    while not predicate():
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError("condition not reached in time")
        time.sleep(step)
    return time.perf_counter() - t0


def make_sources(root: Path, computers: int, files: int, size: int) -> list[str]:
    args: list[str] = []
    for c in range(computers):
        folder = root / f"pc{c + 1}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(files):
            (folder / f"f{i:04d}.bin").write_bytes(os.urandom(size))
        args += ["--computer", f"pc{c + 1}={folder}"]
    return args


def bytes_read(session: SessionInfo) -> int:
    return sum(t.bytes_read for t in session.tasks)


def processed(api: ServerClient, sid: str) -> int:
    return sum(t.bytes_processed for t in api.get_session(sid).tasks)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def latency(work: Path, sources: list[str], args: argparse.Namespace) -> dict[str, Any]:
    data = work / "latency"
    server = Server(data)
    cli(data, "job", "create", "J", "--tasks", str(args.computers), "--throttle",
        str(args.throttle), *sources)
    held: list[float] = []
    stopped: list[float] = []
    client: list[float] = []
    try:
        sid = server.api.start_job("J")
        until(lambda: processed(server.api, sid) > 0)
        for n in range(args.cycles):
            t0 = time.perf_counter()
            server.api.pause_job("J")
            until(lambda: server.api.get_session(sid).state is SessionState.PAUSED, 10)
            client.append((time.perf_counter() - t0) * 1000)
            session = server.api.get_session(sid)
            found = [int(m[1]) for i in session.log if (m := HELD.search(i.text))]
            held.append(float(found[-1]))
            found = [int(m[1]) for i in session.log if (m := STOPPED.search(i.text))]
            if found:
                stopped.append(float(found[-1]))
            before = processed(server.api, sid)
            server.api.resume_job("J")
            step = args.computers * (128 << 10)   # go on a little before the next pause
            until(lambda: processed(server.api, sid) >= before + step or
                  not server.api.get_session(sid).state.is_active, 60)
            if not server.api.get_session(sid).state.is_active:
                log(f"the session ended after {n + 1} pauses")
                break
        ended = server.api.wait_session(sid)
        while ended.state.is_active:
            ended = server.api.wait_session(sid)
        if ended.result is None or ended.result.value != "Success":
            raise RuntimeError(f"paused session ended {ended.result}")
        total = bytes_read(ended)
    finally:
        server.kill()
    return {"pauses": len(held), "held_ms": _stats(stopped) if stopped else None,
            "durable_ms": _stats(held), "client_ms": _stats(client),
            "bytes_read": total}


def _stats(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 1), "p99": round(percentile(values, 0.99), 1),
            "max": round(max(values), 1), "min": round(min(values), 1)}


def uninterrupted(work: Path, sources: list[str], computers: int) -> int:
    data = work / "uninterrupted"
    server = Server(data)
    cli(data, "job", "create", "J", "--tasks", str(computers), *sources)
    try:
        session = server.api.wait_session(server.api.start_job("J"))
        while session.state.is_active:
            session = server.api.wait_session(session.id)
        return bytes_read(session)
    finally:
        server.kill()


def restart(work: Path, sources: list[str], args: argparse.Namespace, total: int,
            name: str = "restart") -> dict[str, Any]:
    data = work / name
    server = Server(data)
    cli(data, "job", "create", "J", "--tasks", str(args.computers), "--throttle",
        str(args.throttle), *sources)
    try:
        sid = server.api.start_job("J")
        until(lambda: processed(server.api, sid) >= total // 2, 120, 0.02)
        server.api.pause_job("J")
        until(lambda: server.api.get_session(sid).state is SessionState.PAUSED, 10)
        at_pause = processed(server.api, sid)
    finally:
        server.kill()
    server = Server(data)
    try:
        t0 = time.perf_counter()
        server.api.resume_job("J")
        ended = server.api.wait_session(sid)
        while ended.state.is_active:
            ended = server.api.wait_session(sid)
        seconds = time.perf_counter() - t0
        if ended.result is None or ended.result.value != "Success":
            raise RuntimeError(f"resumed session ended {ended.result}")
    finally:
        server.kill()
    return {"paused_at_fraction": round(at_pause / total, 3), "bytes_read": bytes_read(ended),
            "resume_to_end_s": round(seconds, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--computers", type=int, default=2)
    parser.add_argument("--files", type=int, default=120)
    parser.add_argument("--file-mib", type=float, default=1.0)
    parser.add_argument("--throttle", type=float, default=10.0, help="MB/s per computer")
    parser.add_argument("--big-mib", type=float, default=48.0,
                        help="the restart once more with one file this big per computer")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    started = time.time()
    load_before = list(os.getloadavg())
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        size = int(args.file_mib * (1 << 20))
        sources = make_sources(work / "src", args.computers, args.files, size)
        log("uninterrupted run")
        reference = uninterrupted(work, sources, args.computers)
        log(f"{args.cycles} pauses and resumes")
        lat = latency(work, sources, args)
        log("pause at about half, SIGKILL, start, resume")
        rst = restart(work, sources, args, args.computers * args.files * size)
        big = int(args.big_mib * (1 << 20))
        big_sources = make_sources(work / "big", args.computers, 1, big)
        log(f"the same with one {args.big_mib:g} MiB file per computer")
        big_reference = uninterrupted(work / "big-ref", big_sources, args.computers)
        big_rst = restart(work, big_sources, args, args.computers * big, "restart-big")
    result = {
        "benchmark": "pause", "issue": 25,
        "settings": {"computers": args.computers, "task_slots": args.computers,
                     "files_per_computer": args.files, "file_mib": args.file_mib,
                     "throttle_mb_per_s": args.throttle, "cycles": args.cycles},
        "machine": {"cpus": os.cpu_count(), "load_before": load_before},
        "uninterrupted_bytes_read": reference,
        "latency": lat,
        "resume_overhead": {
            "in_process_ratio": round(lat["bytes_read"] / reference, 4),
            "after_sigkill": rst,
            "after_sigkill_ratio": round(rst["bytes_read"] / reference, 4),
            "big_files": {"file_mib": args.big_mib, "uninterrupted_bytes_read": big_reference,
                          "after_sigkill": big_rst,
                          "after_sigkill_ratio": round(big_rst["bytes_read"] / big_reference,
                                                       4)}},
        "load_after": list(os.getloadavg()),
        "target_held_p99_ms": 100,
        "met": lat["held_ms"] is not None and lat["held_ms"]["p99"] < 100,
        "elapsed_seconds": round(time.time() - started, 1),
    }
    text = json.dumps(result, indent=2)
    if args.json_out is not None:
        args.json_out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
