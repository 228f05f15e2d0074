#!/usr/bin/env python3
"""On-demand benchmark (issue 24): restore of many small files, ours against
restic, both timed as whole commands from start to exit.

    .venv/bin/python tests/benchmarks/bench_restore_small.py [--files 200000] [--folders 400]
        [--runs 3] [--ours LABEL=SOURCE_TREE ...] [--workdir DIR] [--keep]

The tree: ``--files`` files of 20-400 pseudo-random bytes (incompressible, all
different), spread evenly over ``--folders`` folders in 20-folder groups
(``gNN/dNNN/fNNNNN``). It is backed up once by each tool (ours: ``agent-jobs job
create`` and ``start --wait``; restic: ``restic backup``, RESTIC_PASSWORD set).

Each run restores, for every tool, once cold (``sync; echo 3 >
/proc/sys/vm/drop_caches`` first, root needed) and once warm (right after), each
into a new folder: ``agent-jobs restore POINT TARGET`` and ``restic restore
latest --target TARGET``, wall seconds from start to exit. Ours' server is
restarted before each cold restore (so the cold figure includes the server
opening the repository, as the first restore after a start does) but is
already running when the command starts; its restore work is in the server,
so ours' peak RSS is the server's VmHWM (since that restart) and the client's
(GNU time's %M); restic's is GNU time's %M. ``--ours`` names source trees of our
code to compare (e.g. ``before=/tmp/main-copy`` ``after=.``), each run with
``PYTHONPATH`` set to it, on the same repository. Restored trees are kept
until the end (deleting many files right before a timed step slows the next
creations on this machine's ext4). The load (``uptime``) is recorded before
and after each run; each run takes the tools in another order (rotated), so
that none always comes first. Prints one JSON object; ``--out`` writes it too.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "bench-restore-small"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def generate(root: Path, files: int, folders: int) -> None:
    rng = random.Random(24)
    per, extra = divmod(files, folders)
    for d in range(folders):
        folder = root / f"g{d // 20:02d}" / f"d{d:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per + (1 if d < extra else 0)):
            (folder / f"f{i:05d}").write_bytes(rng.randbytes(rng.randint(20, 400)))


def drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, int]:
    """(wall seconds, peak RSS in KB of the command) via GNU time."""
    with tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-o", rss.name, "-f", "%M", *cmd], env=env,
                              cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode:
            raise RuntimeError(f"{cmd[:4]} failed: {proc.stderr[-2000:]}")
        return seconds, int(Path(rss.name).read_text().split()[-1])


class Ours:
    def __init__(self, label: str, source: Path, data_dir: Path) -> None:
        self.label, self.data_dir = label, data_dir
        # python -m puts the working folder first on sys.path: run from the tree
        self.cwd = source
        self.env = {**os.environ, "PYTHONPATH": str(source)}
        self.cli = [sys.executable, "-m", "core.cli", "--data-dir", str(data_dir)]
        self.point = ""

    def run(self, *args: str) -> str:
        return subprocess.run([*self.cli, *args], env=self.env, check=True, cwd=self.cwd,
                              capture_output=True, text=True).stdout

    def backup(self, src: Path) -> None:
        self.run("job", "create", "small", "--computer", f"pc1={src}", "--tasks", "1")
        self.run("start", "small", "--wait")
        points = json.loads(self.run("points", "--json"))
        self.point = points[0]["id"]

    def restart(self) -> None:
        subprocess.run([*self.cli, "server", "stop"], env=self.env, cwd=self.cwd,
                       capture_output=True)
        self.run("points")   # starts the server again, with this tree's code

    def server_hwm_kb(self) -> int:
        out = subprocess.run(["pgrep", "-f", f"data-dir {self.data_dir} server run"],
                             capture_output=True, text=True).stdout.split()
        for line in Path(f"/proc/{out[0]}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM for our server")

    def restore(self, target: Path) -> tuple[float, int]:
        return timed([*self.cli, "restore", self.point, str(target)], self.env, self.cwd)

    def stop(self) -> None:
        subprocess.run([*self.cli, "server", "stop"], env=self.env, cwd=self.cwd,
                       capture_output=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--folders", type=int, default=400)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ours", action="append", metavar="LABEL=SOURCE_TREE")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--out", type=Path,
                    default=ROOT / "tests" / "benchmarks" / "results-restore-small.json")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: cold restores drop the page cache")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-restore-small-"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "src"
    variants = [tuple(v.split("=", 1)) for v in (args.ours or [f"ours={ROOT}"])]
    try:
        log(f"generating {args.files} files in {args.folders} folders")
        generate(src, args.files, args.folders)
        nbytes = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
        ours = [Ours(label, Path(tree).resolve(), work / "ours-data") for label, tree in variants]
        log("backing up (ours)")
        ours[0].backup(src)
        for o in ours[1:]:
            o.point = ours[0].point
        ours[0].stop()
        renv = {**os.environ, "RESTIC_PASSWORD": PASSWORD,
                "RESTIC_REPOSITORY": str(work / "restic-repo")}
        log("backing up (restic)")
        subprocess.run(["restic", "init", "-q"], env=renv, check=True, capture_output=True)
        subprocess.run(["restic", "backup", "-q", str(src)], env=renv, check=True,
                       capture_output=True)
        version = subprocess.run(["restic", "version"], capture_output=True,
                                 text=True).stdout.strip()
        runs: list[dict[str, Any]] = []
        n = 0
        for r in range(args.runs):
            run: dict[str, Any] = {"load_before": uptime()}
            tools: list[Ours | None] = [*ours, None]   # None: restic
            shift = r % len(tools)   # each run in another order (no tool always first)
            run["order"] = []
            for tool in tools[shift:] + tools[:shift]:
                run["order"].append(tool.label if tool is not None else "restic")
                if tool is not None:
                    tool.restart()
                for view in ("cold", "warm"):
                    n += 1
                    if view == "cold":
                        drop_caches()
                    target = work / f"out-{n}"
                    if tool is not None:
                        seconds, kb = tool.restore(target)
                        run[f"{tool.label}_{view}_s"] = round(seconds, 2)
                        run[f"{tool.label}_{view}_client_rss_mb"] = round(kb / 1024, 1)
                    else:
                        seconds, kb = timed(["restic", "restore", "-q", "latest", "--target",
                                             str(target)], renv)
                        run[f"restic_{view}_s"] = round(seconds, 2)
                        run[f"restic_{view}_rss_mb"] = round(kb / 1024, 1)
                if tool is not None:
                    run[f"{tool.label}_server_rss_mb"] = round(tool.server_hwm_kb() / 1024, 1)
                    tool.stop()
            run["load_after"] = uptime()
            log(json.dumps(run))
            runs.append(run)
        keys = [k for k in runs[0] if not k.startswith("load") and k != "order"]
        medians = {k: round(statistics.median(r[k] for r in runs), 2) for k in keys}
        for o in ours:
            for view in ("cold", "warm"):
                medians[f"restic_over_{o.label}_{view}"] = round(
                    medians[f"restic_{view}_s"] / medians[f"{o.label}_{view}_s"], 2)
        result = {
            "benchmark": "restore of many small files (issue 24)",
            "tree": {"files": args.files, "folders": args.folders, "bytes": nbytes,
                     "file_sizes": "20-400 bytes, pseudo-random (incompressible, all different)",
                     "shape": "gNN/dNNN/fNNNNN: folders in groups of 20, files spread evenly"},
            "view": "whole command, start to exit (ours: agent-jobs restore against a running "
                    "server, restarted before each cold restore; restic: restic restore)",
            "restic": version, "ours": dict(variants), "cpus": os.cpu_count(),
            "runs": runs, "medians": medians,
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        text = json.dumps(result, indent=2)
        print(text)
        args.out.write_text(text + "\n")
        return 0
    finally:
        for o in locals().get("ours", []):
            o.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
