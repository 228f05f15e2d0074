#!/usr/bin/env python3
"""On-demand benchmark: yield to production against a real competing load (fio) on the
same disk, with the machine's real pressure (Linux PSI).

    .venv/bin/python tests/benchmarks/bench_governor.py [--seconds 4] [--rounds 3]
        [--size-mb 1024] [--threshold 5] [--cpu] [--workdir DIR] [--out FILE]

Prints ONE JSON object on stdout (progress on stderr). Phases, each with fio running
``--seconds`` (4 KiB random reads, O_DIRECT, one job: a latency-bound production load):

* ``solo``: fio alone;
* ``backup``: fio while a backup reads a cold ``--size-mb`` file (evicted from the page
  cache first) without the governor;
* ``governor``: the same with *Yield to production* at ``--threshold`` percent; also how
  long the backup held, and how soon after fio ended it read again.

The three run in turn ``--rounds`` times (the machine is shared: other processes' load comes
and goes), and each figure is the median over the rounds, with every round's value beside.

The governor reads the real ``/proc/pressure/io`` through ``AGENT_BACKUP_PSI_DIR`` (a
folder with a link to it); ``--cpu`` adds ``/proc/pressure/cpu``, left out by default
because on a shared machine other processes keep cpu pressure high on their own.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.agents.ssh.agent_src.backup_agent.governor import PSI_ENV  # noqa: E402
from core.models import Computer, JobDefinition, StopMode  # noqa: E402
from core.service.facade import BackupService  # noqa: E402

MiB = 1 << 20


def log(msg: str) -> None:
    print(f"[bench-governor {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def io_total() -> int:
    with open("/proc/pressure/io") as f:
        return int(f.readline().split("total=")[1])


def evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def fio(target: Path, seconds: float) -> dict[str, float]:
    """fio's random 4 KiB O_DIRECT reads for ``seconds``: IOPS, and the io pressure meanwhile."""
    before, t0 = io_total(), time.monotonic()
    out = subprocess.run(
        ["fio", "--name=production", f"--filename={target}", "--size=256M", "--rw=randread",
         "--bs=4k", "--direct=1", "--ioengine=psync", f"--runtime={seconds}", "--time_based",
         "--output-format=json"], capture_output=True, text=True, check=True).stdout
    wall = time.monotonic() - t0
    read = json.loads(out)["jobs"][0]["read"]
    return {"iops": round(read["iops"], 1), "io_pressure_pct":
            round((io_total() - before) / (wall * 1e6) * 100, 1)}


def make_source(folder: Path, size_mb: int) -> Path:
    """A file of ``size_mb`` MiB: a 64 MiB random block repeated (it dedups, so the backup's
    writes stay small and its reads are what competes with fio)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "big.bin"
    if not path.exists() or path.stat().st_size != size_mb * MiB:
        block = os.urandom(64 * MiB)
        with open(path, "wb") as f:
            for _ in range(size_mb // 64):
                f.write(block)
    return path


def phase(service: BackupService, name: str, fio_file: Path, source: Path, seconds: float,
          governed: bool, threshold: int) -> dict[str, Any]:
    evict(source)
    job = JobDefinition(name=name, computers=(Computer(name="pc", path=str(source.parent)),),
                        yield_to_production=governed, pressure_threshold=threshold)
    service.create_job(job)
    sid = service.start_job(name, full=True)
    task = lambda: service.get_session(sid).tasks[0]  # noqa: E731
    waiter = threading.Event()
    while task().bytes_read == 0:      # the backup reads before fio starts
        waiter.wait(0.01)
    read0, t0 = task().bytes_read, time.monotonic()
    result = fio(fio_file, seconds)
    ended, read1 = time.monotonic(), task().bytes_read
    resumed = None
    while time.monotonic() - ended < 10:
        t = task()
        if t.bytes_read > read1 or t.status.is_final:
            resumed = time.monotonic() - ended
            break
        waiter.wait(0.01)
    t = task()
    result.update(backup_mib_s_during_fio=round((read1 - read0) / MiB / (ended - t0), 1),
                  held_s=round(t.production_s, 2), why=t.production_why,
                  resumed_after_fio_s=None if resumed is None else round(resumed, 2))
    if not service.get_session(sid).state.value == "Stopped":
        service.stop_job(name, StopMode.IMMEDIATELY)
    service.wait_session(sid, timeout=30)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--threshold", type=int, default=5)
    ap.add_argument("--cpu", action="store_true")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if not Path("/proc/pressure/io").exists() or shutil.which("fio") is None:
        print(json.dumps({"skipped": "needs Linux PSI (/proc/pressure/io) and fio"}))
        return 0
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-governor-"))
    psi = work / "psi"
    psi.mkdir(parents=True, exist_ok=True)
    for name in ("io", "cpu") if args.cpu else ("io",):
        link = psi / name
        if not link.exists():
            link.symlink_to(f"/proc/pressure/{name}")
    os.environ[PSI_ENV] = str(psi)
    fio_file = work / "production.dat"
    log(f"source {args.size_mb} MiB in {work}")
    source = make_source(work / "src", args.size_mb)
    results: dict[str, Any] = {"seconds": args.seconds, "size_mb": args.size_mb,
                               "threshold_pct": args.threshold,
                               "resources": ["io", "cpu"] if args.cpu else ["io"]}
    fio(fio_file, 1)   # lays the file out
    rounds: dict[str, list[dict[str, Any]]] = {"solo": [], "backup": [], "governor": []}
    service = BackupService(work / f"data-{time.time_ns()}")
    try:
        for r in range(args.rounds):
            log(f"round {r + 1}: solo")
            rounds["solo"].append(fio(fio_file, args.seconds))
            log(f"round {r + 1}: backup without the governor")
            rounds["backup"].append(phase(service, f"Plain {r}", fio_file, source,
                                          args.seconds, False, args.threshold))
            log(f"round {r + 1}: backup with the governor")
            rounds["governor"].append(phase(service, f"Yielding {r}", fio_file, source,
                                            args.seconds, True, args.threshold))
    finally:
        service.close()
    for key, runs in rounds.items():
        summary: dict[str, Any] = {}
        for field in runs[0]:
            values = [run[field] for run in runs]
            numbers = [v for v in values if isinstance(v, (int, float))]
            summary[field] = statistics.median(numbers) if len(numbers) == len(values) \
                else values[-1]
            summary[f"{field}_rounds"] = values
        results[key] = summary
    solo = results["solo"]["iops"]
    for key in ("backup", "governor"):
        results[key]["fio_share_of_solo"] = round(results[key]["iops"] / solo, 3)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
