#!/usr/bin/env python3
"""On-demand benchmark: our backup engine against restic and borg, on the same
data, in the same run, in the same cache state.

    .venv/bin/python tests/benchmarks/bench_backup.py [--size-mb N] [--repeats 3]
        [--workdir DIR] [--keep] [--changed-percent 1] [--no-drop-caches]
        [--borg-compression zstd,1] [--json-out FILE]

The one documented command that also installs the tools, measures the server
and rewrites RESULTS.md is ``bash tests/benchmarks/run_all.sh``.

Prints ONE JSON object on stdout (progress goes to stderr). Not collected by
pytest (pyproject ignores tests/benchmarks, and this file is not test_*.py).

Steps, each timed for every tool, back to back, ``--repeats`` times on fresh
repositories (the median is reported), the tool that goes first rotating:

1. full        first backup of the data set (ours: also the peak RSS of the server)
2. unchanged   second backup with nothing changed (ours must not read a byte)
3. incremental backup after --changed-percent (default 1 %) of the files changed
4. shifted     backup after 100 bytes were inserted at the front of every file of
               4 MB or more; each repository's growth is reported
5. restore     restore of the latest point into a new empty folder
6. verify      ours: a Verify session; restic: check --read-data; borg: check --verify-data

Ours runs as the product runs: a real backup server process (``agent-jobs server
run``) on its own data directory, driven over its socket by the REST client.
restic and borg are found on PATH; a missing tool is reported with the reason
and the others are still measured.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from blake3 import blake3  # noqa: E402  (a dependency of the project)

from core.models import Computer, JobDefinition  # noqa: E402
from core.api.client import ServerClient  # noqa: E402

SCENARIOS = ("full", "unchanged", "incremental", "shifted", "restore", "verify")
BACKUP_STEPS = ("full", "unchanged", "incremental", "shifted")
SHIFT_BYTES = 100            # inserted at the front of every large file for "shifted"
SHIFT_MIN_SIZE = 4_000_000   # "large": at least this many bytes
RESTIC_PASSWORD = "bench-password"
MB = 1_000_000               # throughput is reported in MB/s (10^6 bytes)
MiB = 1 << 20
SMALL_FILES_AT_DEFAULT = 20_000
SMALL_MAX_SIZE = 1 << 20     # a copied file larger than this is not "small"
INCOMPRESSIBLE_AT_DEFAULT = 200 * MiB   # in 10 MiB files
INCOMPRESSIBLE_FILE = 10 * MiB
LOGS_AT_DEFAULT = 100 * MiB             # logs and CSV
# Sources of the small files: the interpreter's standard library (without
# site-packages) and part of /usr/share, walked in sorted order.
SHARE_PARTS = ("man", "locale", "perl", "vim", "icons", "fonts", "i18n", "zoneinfo",
               "mime", "terminfo", "X11")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- data set -------------------------------------------------------------

_WORDS = (
    "the of and to in is for on that with as by this from are be at or it an "
    "backup restore point job session computer agent repository block pack index "
    "manifest error warning info config user admin server client request response "
    "file folder path size time date value name type status result count total "
    "select insert update delete where from join group order limit table column row "
    "report invoice customer order product price amount quantity address city country"
).split()


@dataclass
class FileSpec:
    rel: str
    kind: str       # "copy" (a real file) | "log" | "csv" | "random"
    size: int
    seed: int = 0
    origin: str = ""   # for "copy": the absolute path copied


def _text(seed: int, size: int, csv: bool) -> bytes:
    """Deterministic log lines or CSV rows (compress about 3-4x)."""
    rng = random.Random(seed)
    choices, randint, rand = rng.choices, rng.randint, rng.random
    out: list[str] = []
    n = 0
    line_no = 0
    while n < size:
        line_no += 1
        if csv:
            line = (f"{line_no},{choices(_WORDS)[0]},{randint(0, 99999)},{rand():.4f},"
                    f"{choices(_WORDS)[0]} {choices(_WORDS)[0]}\n")
        else:
            line = (f"2026-{randint(1, 12):02d}-{randint(1, 28):02d} "
                    f"{randint(0, 23):02d}:{randint(0, 59):02d}:{randint(0, 59):02d} "
                    f"{choices(('INFO', 'INFO', 'INFO', 'WARN', 'ERROR'))[0]} "
                    f"[{seed % 97}] {' '.join(choices(_WORDS, k=randint(4, 14)))} "
                    f"id={randint(0, 10**6)}\n")
        out.append(line)
        n += len(line)
    return "".join(out).encode()[:size]


def _random(seed: int, size: int) -> bytes:
    """Incompressible bytes (media, archives, encrypted data)."""
    return blake3(seed.to_bytes(8, "little")).digest(length=size)


_TEXT_MEMO: dict[tuple[int, int, bool], bytes] = {}   # logs and CSV: slow to generate


def content(spec: FileSpec) -> bytes:
    if spec.kind == "copy":
        return Path(spec.origin).read_bytes()
    if spec.kind == "random":
        return _random(spec.seed, spec.size)
    key = (spec.seed, spec.size, spec.kind == "csv")
    if key not in _TEXT_MEMO:
        _TEXT_MEMO[key] = _text(*key)
    return _TEXT_MEMO[key]


def small_file_sources() -> list[tuple[str, str, int]]:
    """(relative path in the data set, absolute origin, size) of every candidate
    small file, in a fixed (sorted) order."""
    import sysconfig
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    roots = [(stdlib, "usr/lib/python3-stdlib")] + \
        [(Path("/usr/share") / p, f"usr/share/{p}") for p in SHARE_PARTS]
    out: list[tuple[str, str, int]] = []
    for root, prefix in roots:
        if not root.is_dir():
            continue
        for dirpath, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "site-packages")
            for name in sorted(names):
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if not (st.st_mode & 0o170000 == 0o100000) or st.st_size > SMALL_MAX_SIZE \
                        or not os.access(path, os.R_OK):
                    continue
                rel = prefix + "/" + os.path.relpath(path, root)
                out.append((rel, path, st.st_size))
    return out


def plan_dataset(size_mb: float | None) -> list[FileSpec]:
    """The issue's data set: ~20,000 small real files (the standard library and
    part of /usr/share, sampled evenly), 200 MiB incompressible in 10 MiB files
    and 100 MiB of logs and CSV. ``size_mb`` scales every part (None: as is)."""
    candidates = small_file_sources()
    if not candidates:
        raise SystemExit("no small files found under the standard library or /usr/share")
    mean_small = sum(c[2] for c in candidates) / len(candidates)
    nominal = SMALL_FILES_AT_DEFAULT * mean_small + INCOMPRESSIBLE_AT_DEFAULT + LOGS_AT_DEFAULT
    scale = 1.0 if size_mb is None else size_mb * MB / nominal
    specs: list[FileSpec] = []
    n_random = max(1, round(INCOMPRESSIBLE_AT_DEFAULT * scale / INCOMPRESSIBLE_FILE))
    for j in range(n_random):
        specs.append(FileSpec(f"home/alice/media/archive-{j:03d}.bin", "random",
                              INCOMPRESSIBLE_FILE, seed=10_000_000 + j))
    rng = random.Random(20261126)
    logs_budget = int(LOGS_AT_DEFAULT * scale)
    k = 0
    while logs_budget > 0:
        size = min(logs_budget, int(rng.uniform(0.25, 8) * MiB))
        csv = k % 3 == 2
        rel = f"var/log/app/app-{k:03d}.log" if not csv else f"srv/data/export-{k:03d}.csv"
        specs.append(FileSpec(rel, "csv" if csv else "log", size, seed=20_000_000 + k))
        logs_budget -= size
        k += 1
    n_small = min(len(candidates), max(50, round(SMALL_FILES_AT_DEFAULT * scale)))
    step = len(candidates) / n_small
    for i in range(n_small):
        rel, origin, size = candidates[int(i * step)]
        specs.append(FileSpec(rel, "copy", size, origin=origin))
    return specs


def generate(src: Path, specs: list[FileSpec]) -> tuple[int, int, str]:
    """Write the data set; returns (files, bytes, fingerprint). The fingerprint
    (blake3 over every path, size and content hash) tells whether two runs
    measured the same bytes."""
    total = 0
    fingerprint = blake3()
    for s in specs:
        path = src / s.rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content(s)
        s.size = len(data)   # a copied file may have changed since it was planned
        path.write_bytes(data)
        total += len(data)
        fingerprint.update(f"{s.rel}\0{len(data)}\0".encode() + blake3(data).digest())
    return len(specs), total, fingerprint.hexdigest()[:16]


def modification_plan(specs: list[FileSpec], fraction: float) -> list[FileSpec]:
    """``fraction`` of the files, deterministically: small files and logs, plus
    one large incompressible file changed in the middle (a VM disk, a database)."""
    rng = random.Random(4242)
    text = [s for s in specs if s.kind != "random"]
    chosen = rng.sample(text, max(0, round(fraction * len(specs)) - 1))
    chosen.append(next(s for s in specs if s.kind == "random"))
    return chosen


def modify(src: Path, chosen: list[FileSpec], rep: int) -> int:
    """Change the chosen files in place; returns the bytes written."""
    written = 0
    for s in chosen:
        path = src / s.rel
        if s.kind != "random":
            data = bytearray(path.read_bytes())
            extra = _text(s.size * 7919 + rep + 1, max(64, len(data) // 10), False)
            mid = len(data) // 2
            data[mid:mid] = extra        # insert in the middle: size and content change
            path.write_bytes(bytes(data))
            written += len(data)
        else:
            n = min(8 * MB, max(4096, s.size // 8))   # overwrite 1/8 at an unaligned offset
            offset = s.size // 3 + 12345
            with open(path, "r+b") as f:
                f.seek(offset)
                f.write(_random(s.seed + 1000 * (rep + 1), n))
            written += n
    return written


def shift_plan(specs: list[FileSpec]) -> list[FileSpec]:
    return [s for s in specs if s.size >= SHIFT_MIN_SIZE]


def shift(src: Path, shifted: list[FileSpec]) -> int:
    """Insert SHIFT_BYTES at the front of every large file; returns the bytes written."""
    written = 0
    for s in shifted:
        path = src / s.rel
        data = path.read_bytes()
        path.write_bytes(b"\x5a" * SHIFT_BYTES + data)
        written += SHIFT_BYTES + len(data)
    return written


def reset(src: Path, changed: list[FileSpec]) -> None:
    for s in changed:
        (src / s.rel).write_bytes(content(s))


# -- helpers ------------------------------------------------------------------

def drop_caches() -> bool:
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def tree_size(path: Path) -> tuple[int, int, int]:
    """(files, apparent bytes, allocated bytes) under path (what du counts)."""
    files = apparent = allocated = 0
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            files += 1
            apparent += st.st_size
            allocated += st.st_blocks * 512
    return files, apparent, allocated


@dataclass
class Measure:
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float | None = None
    extra: dict = field(default_factory=dict)


TIME = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)


def run_child(cmd: list[str], env: dict[str, str] | None = None,
              cwd: Path | None = None) -> tuple[Measure, str]:
    """Run a command to its end; wall time, CPU (os.wait4) and peak RSS of that
    command, and its stdout. Raises with its stderr if it fails.

    The peak RSS comes from GNU time (``-f %M``): a process spawned straight from
    this one inherits this process's high-water mark (vfork, then exec), so
    ru_maxrss would never read below the benchmark's own RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss:
        full = [TIME, "-q", "-f", "%M", "-o", rss.name, *cmd] if TIME else cmd
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, env=env, cwd=cwd, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): "
                               f"{err.read().decode(errors='replace')[-2000:]}")
        try:
            peak: float | None = round(int(rss.read().split()[-1]) / 1024, 1)
        except (ValueError, IndexError):
            peak = None
    return Measure(seconds, usage.ru_utime + usage.ru_stime, peak), stdout


def startup_seconds(cmd: list[str], cold: bool, runs: int = 3) -> float:
    """Median wall time of a command that only starts the tool (its version)."""
    times = []
    for _ in range(runs):
        if cold:
            drop_caches()
        times.append(run_child(cmd)[0].seconds)
    return statistics.median(times)


# -- the tools ------------------------------------------------------------------

class Tool:
    name = ""

    def backup(self, step: str) -> Measure:
        raise NotImplementedError

    def restore(self, target: Path) -> Measure:
        raise NotImplementedError

    def restored_root(self, target: Path, src: Path) -> Path:
        return target / src.relative_to("/")

    def verify(self) -> Measure:
        raise NotImplementedError

    @property
    def repo(self) -> Path:
        raise NotImplementedError

    def open_seconds(self) -> float:
        return 0.0

    def close(self) -> None:
        pass


class Restic(Tool):
    name = "restic"

    def __init__(self, exe: str, base: Path, rep: int, src: Path) -> None:
        self.exe, self.src = exe, src
        self._repo = base / f"restic-repo-{rep}"
        self.cache = base / f"restic-cache-{rep}"
        self.env = dict(os.environ, RESTIC_PASSWORD=RESTIC_PASSWORD)
        self.env.pop("RESTIC_REPOSITORY", None)
        self._run("init", "--repository-version", "2")

    @property
    def repo(self) -> Path:
        return self._repo

    def _run(self, *args: str, cwd: Path | None = None) -> tuple[Measure, str]:
        return run_child([self.exe, "--repo", str(self._repo), "--cache-dir", str(self.cache),
                          *args], env=self.env, cwd=cwd)

    def backup(self, step: str) -> Measure:
        m, out = self._run("--json", "backup", "--quiet", str(self.src))
        summary: dict = {}
        for line in out.splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if obj.get("message_type") == "summary":
                summary = obj
        m.extra = {k: summary.get(k) for k in (
            "files_new", "files_changed", "files_unmodified", "data_added")}
        return m

    def restore(self, target: Path) -> Measure:
        return self._run("restore", "latest", "--target", str(target))[0]

    def verify(self) -> Measure:
        return self._run("check", "--read-data")[0]

    def open_seconds(self) -> float:
        """Process start, key derivation and repository open: `restic cat config`."""
        return self._run("cat", "config")[0].seconds


class Borg(Tool):
    name = "borg"

    def __init__(self, exe: str, base: Path, rep: int, src: Path, compression: str) -> None:
        self.exe, self.src, self.compression = exe, src, compression
        self._repo = base / f"borg-repo-{rep}"
        self.env = dict(os.environ, BORG_BASE_DIR=str(base / f"borg-home-{rep}"),
                        BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes",
                        BORG_RELOCATED_REPO_ACCESS_IS_OK="yes")
        self.env.pop("BORG_REPO", None)
        self.last_archive = ""
        run_child([exe, "init", "--encryption", "none", str(self._repo)], env=self.env)

    @property
    def repo(self) -> Path:
        return self._repo

    def backup(self, step: str) -> Measure:
        self.last_archive = step
        m, out = run_child([self.exe, "create", "--json", "--compression", self.compression,
                            f"{self._repo}::{step}", str(self.src)], env=self.env)
        try:
            stats = json.loads(out)["archive"]["stats"]
            m.extra = {"nfiles": stats.get("nfiles"),
                       "deduplicated_size": stats.get("deduplicated_size")}
        except (ValueError, KeyError):
            pass
        return m

    def restore(self, target: Path) -> Measure:
        target.mkdir(parents=True, exist_ok=True)
        return run_child([self.exe, "extract", f"{self._repo}::{self.last_archive}"],
                         env=self.env, cwd=target)[0]

    def verify(self) -> Measure:
        return run_child([self.exe, "check", "--verify-data", str(self._repo)],
                         env=self.env)[0]

    def open_seconds(self) -> float:
        """Process start and repository open: `borg list --short` of the repository."""
        return run_child([self.exe, "list", "--short", str(self._repo)], env=self.env)[0].seconds


class Ours(Tool):
    """Our engine as the product runs it: a backup server process on a data
    directory, driven over its Unix socket by the REST client."""
    name = "ours"

    def __init__(self, base: Path, rep: int, src: Path) -> None:
        self.src = src
        self.data_dir = base / f"ours-data-{rep}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        t0 = time.perf_counter()
        self.server = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "--data-dir", str(self.data_dir),
             "server", "run"], stdout=subprocess.PIPE, text=True, env=env,
            stdin=subprocess.DEVNULL)
        assert self.server.stdout is not None
        line = self.server.stdout.readline()
        if "listening" not in line:
            raise RuntimeError(f"our server did not start: {line!r}")
        self.startup_s = time.perf_counter() - t0
        self.api = ServerClient(self.data_dir, autostart=False)
        self.job = f"bench-{rep}"
        self.api.create_job(JobDefinition(
            name=self.job, computers=(Computer(name="pc1", path=str(src)),), task_slots=1))
        self.last_point: str | None = None

    @property
    def repo(self) -> Path:
        return self.data_dir / "repositories" / "default"

    def _proc(self, key: str) -> float:
        """VmHWM / VmRSS of the server in MB."""
        for line in Path(f"/proc/{self.server.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no {key} for the server process")

    def peak_rss_mb(self) -> float:
        return round(self._proc("VmHWM"), 1)

    def _cpu(self) -> float:
        fields = Path(f"/proc/{self.server.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _timed(self, fn: Callable[[], Any]) -> tuple[Any, Measure]:
        c0, t0 = self._cpu(), time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
        return result, Measure(seconds, self._cpu() - c0, self.peak_rss_mb())

    def backup(self, step: str) -> Measure:
        session, m = self._timed(lambda: self.api.wait_session(self.api.start_job(self.job)))
        task = session.tasks[0]
        if session.result is None or session.result.value != "Success":
            raise RuntimeError(f"our backup ended {session.result}: "
                               f"{[item.text for item in task.log][-3:]}")
        self.last_point = task.point_id
        m.extra = {"files_total": task.files_total, "bytes_read": task.bytes_read,
                   "bytes_transferred": task.bytes_transferred}
        return m

    def restore(self, target: Path) -> Measure:
        assert self.last_point is not None
        report, m = self._timed(lambda: self.api.restore(self.last_point, target))
        m.extra = {"files": report.files, "bytes": report.bytes}
        return m

    def restored_root(self, target: Path, src: Path) -> Path:
        return target

    def verify(self) -> Measure:
        report, m = self._timed(self.api.verify)
        if not report.ok:
            raise RuntimeError(f"our verify found problems: {report.problems[:3]}")
        m.extra = {"points_checked": report.points_checked,
                   "blobs_checked": report.blobs_checked}
        return m

    def close(self) -> None:
        self.api.close()
        if self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(60)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(10)


def find_tool(name: str, version_args: list[str], package: str) -> tuple[str | None, str]:
    exe = shutil.which(name)
    if exe is None:
        return None, f"{name} not found on PATH (Debian: apt-get install -y {package})"
    try:
        out = subprocess.run([exe, *version_args], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, f"{name} on PATH does not run: {exc}"
    return exe, out.strip().splitlines()[0]


# -- main -----------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=None,
                    help="scale the data set to about this size (default: the issue's "
                         "composition, about 540 MB and 20,000 files)")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where to put the data set and repositories (default: a new "
                         "folder under /tmp); removed at the end unless --keep")
    ap.add_argument("--repeats", type=int, default=3, help="repetitions (default 3)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--changed-percent", type=float, default=1.0,
                    help="percent of the files changed for 'incremental' (default 1)")
    ap.add_argument("--no-drop-caches", action="store_true",
                    help="do not drop the page cache before each timed step")
    ap.add_argument("--borg-compression", default="zstd,1",
                    help="borg create --compression (default zstd,1)")
    ap.add_argument("--tools", default="ours,restic,borg",
                    help="comma-separated tools to measure (default ours,restic,borg)")
    ap.add_argument("--json-out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    if (args.size_mb is not None and args.size_mb < 1) or args.repeats < 1:
        ap.error("--size-mb and --repeats must be at least 1")
    if "ours" not in args.tools.split(","):
        ap.error("--tools must include ours")
    return args


def settings(args: argparse.Namespace, drop_ok: bool) -> dict:
    return {
        "repeats": args.repeats,
        "ours": "1 computer, task_slots=1, no throttle; FastCDC chunks (256 KiB / 1 MiB / "
                "4 MiB), blake3, zstd level 3 (blocks that do not save >=1/32 stored raw), "
                "no encryption",
        "restic": "repository v2, --compression auto (zstd 'default', ~ level 3), "
                  "content-defined chunks (512 KiB-8 MiB), AES-256-CTR+Poly1305 "
                  "(restic cannot turn encryption off), cache in the work folder",
        "borg": f"init --encryption none (like ours: no encryption), create --compression "
                f"{args.borg_compression}, default buzhash chunker (~2 MiB), files cache "
                "in the work folder (BORG_BASE_DIR)",
        "timing": "ours: wall time from the client's start request to the session's end "
                  "(server already running; like the product's server it keeps the "
                  "repository open between sessions); restic and borg: the whole "
                  "command, including process start and loading their index from disk",
        "order": "per repetition every step runs for all tools back to back; the tool "
                 "that goes first rotates between repetitions",
        "cache": "page cache dropped (sync; echo 3 > /proc/sys/vm/drop_caches, as root) "
                 "before every timed step, for every tool: all steps are cold" if drop_ok
                 else "page cache NOT dropped (disabled or not permitted): warm cache",
        "cold_cache": drop_ok,
    }


def dataset_info(specs: list[FileSpec], src: Path, chosen: list[FileSpec],
                 shifted: list[FileSpec], generated: tuple[int, int, str],
                 changed_percent: float, seconds: float) -> dict:
    def mb(kinds: tuple[str, ...]) -> float:
        return round(sum(s.size for s in specs if s.kind in kinds) / MB, 1)

    def count(kinds: tuple[str, ...]) -> int:
        return sum(1 for s in specs if s.kind in kinds)

    nfiles, nbytes, fingerprint = generated
    return {
        "files": nfiles, "bytes": nbytes, "mb": round(nbytes / MB, 1),
        "fingerprint": fingerprint,
        "small_real_files": count(("copy",)), "small_real_mb": mb(("copy",)),
        "small_sources": "Python standard library (no site-packages) and /usr/share/{"
                         + ",".join(SHARE_PARTS) + "}, files <= 1 MiB, sorted, sampled evenly",
        "incompressible_files": count(("random",)), "incompressible_mb": mb(("random",)),
        "logs_csv_files": count(("log", "csv")), "logs_csv_mb": mb(("log", "csv")),
        "folders": sum(1 for _ in src.rglob("*") if _.is_dir()),
        "modified_for_incremental": len(chosen),
        "changed_percent": changed_percent,
        "shifted_files": len(shifted),
        "shifted_mb": round(sum(s.size for s in shifted) / MB, 1),
        "generation_seconds": round(seconds, 1),
    }


class Bench:
    """Runs the repetitions and collects what they measured."""

    def __init__(self, args: argparse.Namespace, tools: list[str], exes: dict[str, str],
                 workdir: Path, specs: list[FileSpec], drop_ok: bool) -> None:
        self.args, self.tools, self.exes = args, tools, exes
        self.workdir, self.src, self.drop_ok = workdir, workdir / "src", drop_ok
        self.chosen = modification_plan(specs, args.changed_percent / 100)
        self.shifted = shift_plan(specs)
        self.runs: dict[str, dict[str, list[Measure]]] = {
            t: {s: [] for s in SCENARIOS} for t in tools}
        self.repo_sizes: dict[str, list[tuple[int, int, int]]] = {t: [] for t in tools}
        self.restored_ok: dict[str, list[bool]] = {t: [] for t in tools}
        self.growth: dict[str, dict[str, list[int]]] = {
            t: {s: [] for s in BACKUP_STEPS} for t in tools}
        self.opened: dict[str, list[float]] = {t: [] for t in tools if t != "ours"}
        self.ours_startup: list[float] = []
        self.ours_peak_full: list[float] = []
        self.ours_peak_all: list[float] = []
        self.loads: list[dict] = []

    def cold(self) -> None:
        if self.drop_ok:
            drop_caches()

    def open_tools(self, rep: int) -> dict[str, Tool]:
        instances: dict[str, Tool] = {}
        try:
            instances["ours"] = Ours(self.workdir, rep, self.src)
            if "restic" in self.tools:
                instances["restic"] = Restic(self.exes["restic"], self.workdir, rep, self.src)
            if "borg" in self.tools:
                instances["borg"] = Borg(self.exes["borg"], self.workdir, rep, self.src,
                                         self.args.borg_compression)
        except BaseException:
            for tool in instances.values():
                tool.close()
            raise
        return instances

    def repetition(self, rep: int) -> None:
        tools = self.tools
        order = tools[rep % len(tools):] + tools[:rep % len(tools)]
        self.loads.append({"repetition": rep + 1, "loadavg_start": load()})
        log(f"repetition {rep + 1}/{self.args.repeats}, order {order}, load {load()}")
        self.cold()
        instances = self.open_tools(rep)
        try:
            ours = instances["ours"]
            assert isinstance(ours, Ours)
            self.ours_startup.append(ours.startup_s)
            src_size: tuple[int, int] | None = None   # the source during "restore"
            for scenario in SCENARIOS:
                if scenario == "incremental":
                    modify(self.src, self.chosen, rep)
                if scenario == "shifted":
                    shift(self.src, self.shifted)
                if scenario == "restore":
                    src_size = tree_size(self.src)[:2]
                for name in order:
                    self.cold()
                    m = self.step(instances[name], scenario, rep, src_size)
                    self.runs[name][scenario].append(m)
                    log(f"  {scenario:11s} {name:6s} {m.seconds:7.2f} s cpu "
                        f"{m.cpu_seconds:6.1f} s rss {m.peak_rss_mb} MB {m.extra or ''}")
            self.ours_peak_all.append(ours.peak_rss_mb())
            for name, tool in instances.items():
                if name != "ours":
                    self.cold()
                    self.opened[name].append(tool.open_seconds())
        finally:
            for tool in instances.values():
                tool.close()
            reset(self.src, list({id(s): s for s in self.chosen + self.shifted}.values()))
        self.loads[-1]["loadavg_end"] = load()

    def step(self, tool: Tool, scenario: str, rep: int,
             src_size: tuple[int, int] | None) -> Measure:
        if scenario in BACKUP_STEPS:
            before = tree_size(tool.repo)[1]
            m = tool.backup(scenario)
            self.growth[tool.name][scenario].append(tree_size(tool.repo)[1] - before)
            if scenario == "full":
                self.repo_sizes[tool.name].append(tree_size(tool.repo))
                if tool.name == "ours":
                    self.ours_peak_full.append(m.peak_rss_mb or 0.0)
            return m
        if scenario == "restore":
            target = self.workdir / f"restore-{tool.name}-{rep}"
            m = tool.restore(target)
            got = tool.restored_root(target, self.src)
            self.restored_ok[tool.name].append(tree_size(got)[:2] == src_size)
            # The restored tree is kept until the end: deleting ~20k files right
            # before the next timed step slows its file creation (ext4 skips
            # recently deleted inodes) and skews the result.
            return m
        return tool.verify()

    def results(self, nbytes: int, startup: dict[str, float],
                startup_warm: dict[str, float]) -> dict:
        tools, median = self.tools, statistics.median
        opened = {k: median(v) for k, v in self.opened.items()}
        out: dict[str, Any] = {}
        out["startup_s"] = {
            "what": "median wall time of `restic version` / `borg --version` (process start "
                    "only), in the steps' cache state; subtracted from every command's time "
                    "in ratio_without_startup",
            "cold" if self.drop_ok else "warm": {k: round(v, 3) for k, v in startup.items()},
            **({"warm": {k: round(v, 3) for k, v in startup_warm.items()}}
               if self.drop_ok else {}),
            "with_repository_open": {k: round(v, 3) for k, v in opened.items()},
            "with_repository_open_what": "`restic cat config` (start, key derivation, "
                                         "repository open) / `borg list --short REPO` (start, "
                                         "repository open), same cache state; subtracted in "
                                         "ratio_without_open",
            "ours_server_start": round(median(self.ours_startup), 3),
            "ours_note": "ours' server is started once per repetition and is not part of "
                         "any step's time (the product's server is already running)",
        }
        out["scenarios"] = summarize(self.runs, tools, nbytes, startup, opened)
        out["ours_unchanged_stat_only"] = all(
            m.extra.get("bytes_read") == 0 for m in self.runs["ours"]["unchanged"])
        out["restored_tree_matches_source"] = {t: all(v) for t, v in self.restored_ok.items()}
        sizes: dict[str, Any] = {
            t: {"files": median(s[0] for s in v),
                "mb_apparent": round(median(s[1] for s in v) / MB, 1),
                "mb_allocated": round(median(s[2] for s in v) / MB, 1)}
            for t, v in self.repo_sizes.items()}
        grow: dict[str, Any] = {
            t: {s: round(median(v) / MB, 2) for s, v in g.items() if s != "full"}
            for t, g in self.growth.items()}
        for t in tools:
            if t != "ours":
                sizes[f"ratio_ours_over_{t}"] = round(
                    sizes["ours"]["mb_apparent"] / sizes[t]["mb_apparent"], 3)
                other = median(self.growth[t]["shifted"])
                grow[f"shifted_ratio_ours_over_{t}"] = round(
                    median(self.growth["ours"]["shifted"]) / other, 3) if other else None
        out["repo_size_after_full"] = sizes
        out["repo_growth_mb"] = grow
        out["ours_peak_rss_mb"] = {
            "full_backup": max(self.ours_peak_full),
            "full_backup_all": self.ours_peak_full,
            "whole_repetition": max(self.ours_peak_all),
            "what": "VmHWM of the backup server process (/proc/<pid>/status), read right "
                    "after the full backup of a freshly started server (so it covers the "
                    "server's start and the full backup), max over repetitions; "
                    "whole_repetition: after every step",
        }
        return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    created_workdir = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="abc-bench-", dir="/tmp")) if created_workdir \
        else args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / "src"
    wanted = [t.strip() for t in args.tools.split(",") if t.strip()]

    found = {"restic": find_tool("restic", ["version"], "restic"),
             "borg": find_tool("borg", ["--version"], "borgbackup")}
    missing = {t: why for t, (exe, why) in found.items() if t in wanted and exe is None}
    exes = {t: exe for t, (exe, _) in found.items() if exe is not None}
    tools = [t for t in ("ours", "restic", "borg") if t in wanted and t not in missing]

    started = time.perf_counter()
    drop_ok = not args.no_drop_caches and drop_caches()
    result: dict = {
        "benchmark": "bench_backup",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "tools": {
            "ours": {"version": "this tree", "how": "backup server process "
                     "(agent-jobs server run), driven over its Unix socket by the REST client"},
            **{t: {"path": exe, "version": why} if exe else None
               for t, (exe, why) in found.items()},
        },
        "missing_tools": missing,
        "settings": settings(args, drop_ok),
    }
    try:
        log(f"planning the data set ({args.size_mb or 'default'} MB)")
        specs = plan_dataset(args.size_mb)
        if src.exists():
            shutil.rmtree(src)
        t0 = time.perf_counter()
        generated = generate(src, specs)
        bench = Bench(args, tools, exes, workdir, specs, drop_ok)
        result["dataset"] = dataset_info(specs, src, bench.chosen, bench.shifted, generated,
                                         args.changed_percent, time.perf_counter() - t0)
        log(f"data set: {generated[0]} files, {generated[1] / MB:.0f} MB, "
            f"fingerprint {generated[2]}")

        # Each tool's bare process start-up, in the steps' cache state (and warm).
        version = {"restic": "version", "borg": "--version"}
        startup = {t: startup_seconds([exes[t], version[t]], drop_ok)
                   for t in tools if t != "ours"}
        startup_warm = {t: startup_seconds([exes[t], version[t]], False)
                        for t in tools if t != "ours"}
        for rep in range(args.repeats):
            bench.repetition(rep)
        result.update(bench.results(generated[1], startup, startup_warm))
        result["machine"]["loadavg"] = bench.loads
        result["machine"]["loadavg_end"] = load()
        result["machine"]["uptime_end"] = uptime()
        result["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    finally:
        if created_workdir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        elif not args.keep:
            for p in workdir.iterdir():
                if p.name == "src" or p.name.startswith(
                        ("restic-", "borg-", "ours-data-", "restore-")):
                    shutil.rmtree(p, ignore_errors=True)

    text = json.dumps(result, indent=2)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    print(text)
    return 0


def summarize(runs: dict[str, dict[str, list[Measure]]], tools: list[str], nbytes: int,
              startup: dict[str, float], opened: dict[str, float]) -> dict:
    out: dict = {}
    for scenario in SCENARIOS:
        entry: dict = {}
        for tool in tools:
            ms = runs[tool][scenario]
            secs = [round(m.seconds, 3) for m in ms]
            med = statistics.median(secs)
            entry[tool] = {
                "seconds_median": round(med, 3),
                "seconds_all": secs,
                "mb_per_s": round(nbytes / MB / med, 1) if med else None,
                "cpu_seconds_median": round(statistics.median(m.cpu_seconds for m in ms), 2),
                "peak_rss_mb_max": max((m.peak_rss_mb or 0.0) for m in ms),
                **({"details_last": ms[-1].extra} if ms[-1].extra else {}),
            }
        o_med = entry["ours"]["seconds_median"]
        for tool in tools:
            if tool == "ours":
                continue
            t_med = entry[tool]["seconds_median"]
            entry[f"ratio_{tool}_over_ours"] = round(t_med / o_med, 2)
            entry[f"ratio_{tool}_over_ours_per_repetition"] = [
                round(a.seconds / b.seconds, 2)
                for a, b in zip(runs[tool][scenario], runs["ours"][scenario])]
            entry[f"ratio_{tool}_over_ours_without_startup"] = round(
                max(0.0, t_med - startup.get(tool, 0.0)) / o_med, 2)
            entry[f"ratio_{tool}_over_ours_without_open"] = round(
                max(0.0, t_med - opened.get(tool, 0.0)) / o_med, 2)
        out[scenario] = entry
    return out


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def machine() -> dict:
    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    fs = ""
    try:
        fs = subprocess.run(["findmnt", "-no", "FSTYPE,OPTIONS", "-T", tempfile.gettempdir()],
                            capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    virt = ""
    try:
        virt = subprocess.run(["systemd-detect-virt"], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        pass
    return {"cpu_count": os.cpu_count(), "cpu_model": cpu, "mem_gb": mem_gb,
            "python": sys.version.split()[0], "platform": platform.platform(),
            "tmp_filesystem": fs, "virtualization": virt,
            "loadavg_start": load(), "uptime_start": uptime()}


if __name__ == "__main__":
    sys.exit(main())
