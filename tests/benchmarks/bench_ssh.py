#!/usr/bin/env python3
"""On-demand benchmark: backing up a folder locally against backing up the
same folder as a Linux computer over SSH on loopback (a real sshd), and a
scale probe of many SSH computers in one job.

    .venv/bin/python tests/benchmarks/bench_ssh.py [--size-mb 200] [--computers 50]
        [--slots 8] [--workdir DIR] [--keep] [--no-native]

Prints ONE JSON object on stdout (progress on stderr). The data set is
bench_backup.py's (scaled by --size-mb). Each mode runs in its own backup
server process (``agent-jobs server run``) on a fresh data directory:

* local / ssh: ``full`` then ``unchanged`` backups, with seconds, the
  server's CPU seconds and peak RSS, and for SSH the bytes received on the
  wire and the files the computer read (from the task log).
* scale: one sshd reached as N ssh:// computers (different folders) in one
  job on --slots task slots; once every slot reads, an immediate stop:
  the seconds to Stopped, and the server's peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
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

from core.models import (  # noqa: E402
    Computer, JobDefinition, SessionState, SshSettings, StopMode, TaskStatus,
)
from core.api.client import ServerClient  # noqa: E402
from tests.benchmarks.bench_backup import generate, plan_dataset  # noqa: E402
from tests.support.sshd import Sshd, start_sshd  # noqa: E402

MB = 1_000_000


def log(msg: str) -> None:
    print(f"[bench-ssh {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Server:
    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "--data-dir", str(data_dir), "server", "run"],
            stdout=subprocess.PIPE, text=True, env=env, stdin=subprocess.DEVNULL, cwd=ROOT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening" not in line:
            raise RuntimeError(f"the server did not start: {line!r}")
        self.api = ServerClient(data_dir, autostart=False)

    def status(self, key: str) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def run(self, job: str) -> dict[str, Any]:
        c0, t0 = self.cpu(), time.perf_counter()
        session = self.api.wait_session(self.api.start_job(job))
        seconds = time.perf_counter() - t0
        task = session.tasks[0]
        if session.result is None or session.result.value != "Success":
            raise RuntimeError(f"{job} ended {session.result}: {[i.text for i in task.log][-3:]}")
        out: dict[str, Any] = {
            "seconds": round(seconds, 3), "server_cpu_s": round(self.cpu() - c0, 2),
            "mb_per_s": round(task.bytes_processed / MB / seconds, 1) if seconds else None,
            "bytes_read": task.bytes_read, "bytes_transferred": task.bytes_transferred,
            "peak_rss_mb": round(self.status("VmHWM"), 1)}
        for item in task.log:
            m = re.search(r"Over SSH: ([\d,]+) bytes received from the computer; it read "
                          r"([\d,]+) file", item.text)
            if m:
                out["wire_bytes_received"] = int(m[1].replace(",", ""))
                out["files_read_on_computer"] = int(m[2].replace(",", ""))
        return out

    def close(self) -> None:
        self.api.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def environment(base: Path, sshd: Sshd, data_dir: Path) -> dict[str, str]:
    """The server user's default key is the authorized one; the data
    directory knows the sshd's host key."""
    home = base / "home"
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    key = home / ".ssh" / "id_ed25519"
    key.write_bytes(sshd.client_key.read_bytes())
    os.chmod(key, 0o600)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "known_hosts").write_text(sshd.known_hosts_line())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(home),
           "AGENT_CONSOLE_DATA_DIR": str(data_dir)}
    env.pop("SSH_AUTH_SOCK", None)
    return env


def measure_mode(base: Path, sshd: Sshd, src: Path, mode: str, native: bool) -> dict[str, Any]:
    data_dir = base / f"data-{mode}"
    env = environment(base, sshd, data_dir)
    if not native:
        env["AGENT_JOBS_SSH_NATIVE"] = "0"
    server = Server(data_dir, env)
    try:
        path = str(src) if mode == "local" else sshd.url(src)
        server.api.create_job(JobDefinition(
            name=mode, computers=(Computer(name="pc1", path=path),), task_slots=1,
            ssh=SshSettings(identity_file=str(sshd.client_key))))
        out = {}
        for step in ("full", "unchanged"):
            log(f"{mode}: {step}")
            out[step] = server.run(mode)
        return out
    finally:
        server.close()


def scale_probe(base: Path, sshd: Sshd, computers: int, slots: int) -> dict[str, Any]:
    root = base / "many"
    for i in range(computers):
        folder = root / f"c{i:03d}"
        folder.mkdir(parents=True)
        (folder / "data.bin").write_bytes(os.urandom(4 << 20))
        for j in range(20):
            (folder / f"note-{j}.txt").write_text(f"computer {i} note {j}\n" * 50)
    data_dir = base / "data-scale"
    env = environment(base, sshd, data_dir)
    server = Server(data_dir, env)
    try:
        t0 = time.perf_counter()
        server.api.create_job(JobDefinition(
            name="many", task_slots=slots, throttle_mbps=1,   # per computer: 8 MB/s in all
            computers=tuple(Computer(name=f"c{i:03d}", path=sshd.url(root / f"c{i:03d}"))
                            for i in range(computers)),
            ssh=SshSettings(identity_file=str(sshd.client_key))))
        create_s = time.perf_counter() - t0
        sid = server.api.start_job("many")
        waiter = threading.Event()
        t0 = time.perf_counter()
        while True:
            s = server.api.get_session(sid)
            # the agents pace their reads to the rate and send in 4 MB steps: a
            # computer whose agent runs is reading, whatever arrived so far
            reading = [t for t in s.tasks if t.status is TaskStatus.IN_PROGRESS]
            if (len(reading) >= slots and len(sshd.agent_pids()) >= slots) \
                    or time.perf_counter() - t0 > 120:
                break
            waiter.wait(0.05)
        all_reading_s = time.perf_counter() - t0
        rss_running = server.status("VmRSS")
        t0 = time.perf_counter()
        server.api.stop_job("many", StopMode.IMMEDIATELY)
        while server.api.get_session(sid).state is not SessionState.STOPPED:
            waiter.wait(0.01)
        stop_s = time.perf_counter() - t0
        s = server.api.get_session(sid)
        t0 = time.perf_counter()
        while sshd.agent_pids() and time.perf_counter() - t0 < 10:
            waiter.wait(0.01)
        agents_gone_s = time.perf_counter() - t0
        agents_left = len(sshd.agent_pids())
        return {
            "computers": computers, "task_slots": slots, "job_create_s": round(create_s, 2),
            "seconds_until_every_slot_reads": round(all_reading_s, 2),
            "reading_at_stop": len(reading),
            "immediate_stop_to_stopped_s": round(stop_s, 3),
            "statuses": {st: sum(1 for t in s.tasks if t.status.value == st)
                         for st in sorted({t.status.value for t in s.tasks})},
            "remote_agents_gone_after_stopped_s": round(agents_gone_s, 3),
            "remote_agents_left": agents_left,
            "server_rss_while_running_mb": round(rss_running, 1),
            "server_peak_rss_mb": round(server.status("VmHWM"), 1)}
    finally:
        server.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=200)
    ap.add_argument("--computers", type=int, default=50)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--no-native", action="store_true",
                    help="also measure the SSH fallback without native modules")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-ssh-", dir=args.workdir))
    sshd = start_sshd(base / "sshd")
    try:
        src = base / "src"
        log(f"generating the data set ({args.size_mb} MB) in {src}")
        files, total, fingerprint = generate(src, plan_dataset(args.size_mb))
        result: dict[str, Any] = {
            "dataset": {"files": files, "bytes": total, "fingerprint": fingerprint},
            "cpus": os.cpu_count(), "load": [round(x, 2) for x in os.getloadavg()]}
        result["local"] = measure_mode(base, sshd, src, "local", True)
        result["ssh"] = measure_mode(base, sshd, src, "ssh", True)
        if args.no_native:
            result["ssh_streamed"] = measure_mode(base, sshd, src, "ssh_streamed", False)
        for step in ("full", "unchanged"):
            local, ssh = result["local"][step]["seconds"], result["ssh"][step]["seconds"]
            result.setdefault("ssh_over_local", {})[step] = round(ssh / local, 2) if local else None
        log(f"scale probe: {args.computers} computers on {args.slots} slots")
        result["scale"] = scale_probe(base, sshd, args.computers, args.slots)
        print(json.dumps(result, indent=2))
    finally:
        sshd.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
