"""Leave it running: many short sessions through one real server, under a low
descriptor limit, with its open files and memory watched.

A real ``agent-jobs server run`` process is started under
``prlimit --nofile=256`` (RLIMIT_NOFILE 256, soft and hard, the limit a small
container or an old init gives) on a new data directory. One job backs up a
small folder (a few files, one of which changes every session); the client
starts it, waits for the session through the REST API as the console and the
CLI do, and checks that it ended Success. The server's open descriptors
(``/proc/PID/fd``) and resident memory (``VmRSS`` in ``/proc/PID/status``) are
sampled after a warm-up (imports, the allocator's first arenas, SQLite's page
cache) and at the end.

Bounds (checked; exit status 1 and ``"ok": false`` when one is broken):

* every session ends Success;
* open descriptors at the end <= at the start + ``FD_SLACK`` (a few request
  worker threads may hold a catalogue connection each); before the fix every
  session left four (two catalogue connections, each with its ``-wal``);
* RSS at the end <= RSS at the start + ``RSS_SLACK_MIB``.

Run on demand: ``.venv/bin/python tests/benchmarks/soak_sessions.py
[--sessions 2000 | --quick] [--nofile 256] [--json-out FILE]``. Prints JSON.
``--quick`` (200 sessions, about half a minute) is what the suite runs
(tests/reliability/test_soak.py).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.models import Computer, JobDefinition, SessionResult, SessionState  # noqa: E402
from core.api.client import ServerClient  # noqa: E402

FULL_SESSIONS = 2000
QUICK_SESSIONS = 200
WARM_UP = 20            # sessions before the first sample
NOFILE = 256
FD_SLACK = 8            # descriptors the end may hold beyond the start
RSS_SLACK_MIB = 24.0    # resident memory the end may hold beyond the start
SESSION_TIMEOUT_S = 60.0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def fd_kinds(pid: int) -> dict[str, int]:
    """What the server's descriptors point at, by file (for a failed bound)."""
    kinds: dict[str, int] = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        key = target.split(":[")[0] if ":[" in target else target
        kinds[key] = kinds.get(key, 0) + 1
    return dict(sorted(kinds.items(), key=lambda kv: -kv[1])[:12])


def limited(nofile: int) -> tuple[list[str], Callable[[], None] | None]:
    """The command prefix (prlimit) or, without it, a preexec doing the same."""
    prlimit = shutil.which("prlimit")
    if prlimit:
        return [prlimit, f"--nofile={nofile}:{nofile}"], None

    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    return [], preexec


class SoakServer:
    """A real server process under the descriptor limit."""

    def __init__(self, data: Path, nofile: int) -> None:
        prefix, preexec = limited(nofile)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            prefix + [sys.executable, "-m", "core.cli", "--data-dir", str(data), "server",
                      "run"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            stdin=subprocess.DEVNULL, preexec_fn=preexec)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening" not in line:
            raise RuntimeError(f"the server did not start: {line!r}")
        self.pid = self.proc.pid
        self.api = ServerClient(data, autostart=False)

    def limit(self) -> int:
        for line in Path(f"/proc/{self.pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
        raise RuntimeError("no open files limit")

    def close(self) -> None:
        self.api.close()
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def run_session(api: ServerClient, job: str) -> str:
    """Start ``job``, wait for its end; its result ('Success', ...) or why not."""
    session_id = api.start_job(job)
    deadline = time.monotonic() + SESSION_TIMEOUT_S
    session = api.wait_session(session_id, timeout=SESSION_TIMEOUT_S)
    while session.state is not SessionState.STOPPED and time.monotonic() < deadline:
        session = api.wait_session(session_id, timeout=deadline - time.monotonic())
    if session.state is not SessionState.STOPPED:
        return f"not finished within {SESSION_TIMEOUT_S:.0f} s"
    if session.result is SessionResult.SUCCESS:
        return "Success"
    errors = [item.text for task in session.tasks for item in task.log if item.level == "error"]
    errors += [item.text for item in session.log if item.level == "error"]
    return f"{session.result.value if session.result else 'no result'}: " + \
        "; ".join(errors[:2])


def soak(sessions: int, nofile: int = NOFILE, progress: bool = True) -> dict[str, Any]:
    """Run the soak; the figures and whether every bound held."""
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        base = Path(tmp)
        source = base / "pc1"
        source.mkdir()
        for i in range(5):
            (source / f"file{i}.txt").write_text(f"unchanged {i}\n" * 200)
        data = base / "data"
        server = SoakServer(data, nofile)
        try:
            server.api.create_job(JobDefinition(
                name="Soak", computers=(Computer(name="pc1", path=str(source)),)))
            failures: list[str] = []
            samples: list[dict[str, float]] = []
            start: dict[str, float] = {}
            t0 = time.monotonic()
            for n in range(1, sessions + 1):
                (source / "changing.txt").write_text(f"session {n}\n")
                outcome = run_session(server.api, "Soak")
                if outcome != "Success":
                    failures.append(f"session {n}: {outcome}")
                if n == min(WARM_UP, sessions):
                    start = {"session": n, "fds": open_fds(server.pid),
                             "rss_mib": round(rss_mib(server.pid), 1)}
                    samples.append(start)
                elif n % 100 == 0 or n == sessions:
                    samples.append({"session": n, "fds": open_fds(server.pid),
                                    "rss_mib": round(rss_mib(server.pid), 1)})
                    if progress:
                        print(f"{n}/{sessions}: {samples[-1]}, {len(failures)} failed",
                              file=sys.stderr, flush=True)
            wall = time.monotonic() - t0
            end = samples[-1]
            result: dict[str, Any] = {
                "sessions": sessions,
                "nofile_limit": server.limit(),
                "succeeded": sessions - len(failures),
                "failures": len(failures),
                "first_failures": failures[:5],
                "fds_start": start["fds"], "fds_end": end["fds"],
                "fds_max": max(s["fds"] for s in samples),
                "rss_start_mib": start["rss_mib"], "rss_end_mib": end["rss_mib"],
                "rss_max_mib": max(s["rss_mib"] for s in samples),
                "sampled_from_session": start["session"],
                "bounds": {"fds_end_minus_start_max": FD_SLACK,
                           "rss_end_minus_start_max_mib": RSS_SLACK_MIB},
                "wall_s": round(wall, 1),
                "per_session_ms": round(1000 * wall / sessions, 1),
                "samples": samples,
            }
            result["ok"] = (not failures and end["fds"] <= start["fds"] + FD_SLACK
                            and end["rss_mib"] <= start["rss_mib"] + RSS_SLACK_MIB)
            if not result["ok"]:
                result["fds_at_end"] = fd_kinds(server.pid)
            return result
        finally:
            server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=FULL_SESSIONS)
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_SESSIONS} sessions (what the suite runs)")
    parser.add_argument("--nofile", type=int, default=NOFILE)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    result = soak(QUICK_SESSIONS if args.quick else args.sessions, args.nofile)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
