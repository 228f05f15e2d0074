#!/usr/bin/env python3
"""On-demand benchmark: our backup engine against restic, on the same data, in
the same run.

    .venv/bin/python tests/benchmarks/bench_backup.py [--size-mb N] [--workdir DIR]
                                                     [--repeats N] [--keep]

Prints ONE JSON object on stdout (progress goes to stderr). Not collected by
pytest (pyproject ignores tests/benchmarks, and this file is not test_*.py).

Scenarios, each timed for both tools, alternately, ``--repeats`` times on fresh
repositories (the median is reported):

1. full        first backup of the data set
2. unchanged   second backup with nothing changed (ours must not read a byte)
3. incremental backup after --changed-percent (default 1 %) of the files were modified
4. shifted     backup after 100 bytes were inserted at the front of every file of
               4 MB or more (content-defined chunking must store only the chunks
               around the insert); the repository growth is reported for both
5. restore     restore of the latest point into a new empty folder
6. verify      ours: BackupService.verify(); restic: check --read-data

Our engine is driven through the facade (core.service.BackupService) exactly as
a front end does. restic is found on PATH; without it the JSON says
``"restic": null`` with the reason and only ours is measured.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from blake3 import blake3  # noqa: E402  (a dependency of the project)

from core.models import Computer, JobDefinition  # noqa: E402
from core.service import BackupService  # noqa: E402

SCENARIOS = ("full", "unchanged", "incremental", "shifted", "restore", "verify")
SHIFT_BYTES = 100          # inserted at the front of every large file for "shifted"
SHIFT_MIN_SIZE = 4_000_000   # "large": at least this many bytes
RESTIC_PASSWORD = "bench-password"
MB = 1_000_000  # throughput is reported in MB/s (10^6 bytes)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- data set -------------------------------------------------------------

_WORDS = (
    "the of and to in is for on that with as by this from are be at or it an "
    "backup restore point job session computer agent repository block pack index "
    "manifest error warning info config user admin server client request response "
    "file folder path size time date value name type status result count total "
    "def class return import self None True False if else elif for while try except "
    "int str list dict set tuple bytes float print len range open read write close "
    "select insert update delete where from join group order limit table column row "
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron "
    "pi rho sigma tau upsilon phi chi psi omega report invoice customer order product "
    "price amount quantity address city country phone email meeting project budget"
).split()


@dataclass
class FileSpec:
    rel: str
    kind: str       # "text" | "random" | "semi" | "dup"
    size: int
    seed: int
    source: str = ""  # for "dup": the rel path of the original


def _text(seed: int, size: int) -> bytes:
    """Deterministic text-like content (logs, source, CSV), compressible ~3-4x."""
    rng = random.Random(seed)
    style = seed % 3
    out: list[str] = []
    n = 0
    line_no = 0
    choices, randint = rng.choices, rng.randint
    while n < size:
        line_no += 1
        if style == 0:    # log lines
            words = " ".join(choices(_WORDS, k=randint(4, 14)))
            line = (f"2024-{randint(1, 12):02d}-{randint(1, 28):02d} "
                    f"{randint(0, 23):02d}:{randint(0, 59):02d}:{randint(0, 59):02d}"
                    f" INFO [{seed % 97}] {words} id={randint(0, 10**6)}\n")
        elif style == 1:  # source-like
            indent = "    " * randint(0, 3)
            line = f"{indent}{' '.join(choices(_WORDS, k=randint(2, 9)))}({line_no})\n"
        else:             # CSV rows
            line = (f"{line_no},{rng.choice(_WORDS)},{randint(0, 99999)},"
                    f"{rng.random():.4f},{rng.choice(_WORDS)} {rng.choice(_WORDS)}\n")
        out.append(line)
        n += len(line)
    return f"# file {seed}\n".encode() + "".join(out).encode()[:max(0, size - 16)]


def _random(seed: int, size: int) -> bytes:
    """Incompressible bytes (media, archives, encrypted data)."""
    return blake3(seed.to_bytes(8, "little")).digest(length=size)


def _semi(seed: int, size: int) -> bytes:
    """Half incompressible, half text, interleaved in 64 KiB runs (databases, office files)."""
    parts: list[bytes] = []
    n, i = 0, 0
    while n < size:
        run = min(64 << 10, size - n)
        parts.append(_random(seed * 1000 + i, run) if i % 2 else _text(seed * 1000 + i, run))
        n += run
        i += 1
    return b"".join(parts)[:size]


def content(spec: FileSpec, specs_by_rel: dict[str, FileSpec]) -> bytes:
    if spec.kind == "dup":
        return content(specs_by_rel[spec.source], specs_by_rel)
    return {"text": _text, "random": _random, "semi": _semi}[spec.kind](spec.seed, spec.size)


def plan_dataset(size_mb: int) -> list[FileSpec]:
    """A computer-like mix; sizes scale with size_mb (600 MB -> ~20k small files)."""
    total = size_mb * MB
    scale = size_mb / 600
    rng = random.Random(20240601)
    specs: list[FileSpec] = []

    # ~25 %: ~20k small text files in nested folders (home/docs, projects, logs...).
    n_small = max(50, round(20_000 * scale))
    small_budget = 0.25 * total
    mean = small_budget / n_small
    tops = ["home/alice/Documents", "home/alice/projects", "home/bob/notes", "var/log/app",
            "etc/app", "srv/www/site", "home/alice/Downloads/mail"]
    for i in range(n_small):
        top = tops[i % len(tops)]
        d1, d2 = rng.randrange(12), rng.randrange(15)
        # log-normal around the mean, clamped to [100 B, 256 KiB]
        size = int(min(256 << 10, max(100, rng.lognormvariate(0, 1.0) * mean / 1.65)))
        ext = (".log", ".py", ".csv")[i % 3]
        specs.append(FileSpec(f"{top}/d{d1:02d}/s{d2:02d}/file{i:05d}{ext}", "text", size, i))

    # ~40 %: a few large incompressible files (videos, archives, VM image).
    large_budget = 0.40 * total
    large_names = ["home/alice/Videos/holiday.mp4", "home/bob/backup-2023.tar.zst",
                   "var/lib/vm/disk.qcow2", "home/alice/Pictures/raw-archive.7z"]
    for j, name in enumerate(large_names):
        specs.append(FileSpec(name, "random", int(large_budget / len(large_names)),
                              10_000_000 + j))

    # ~20 %: medium files, half incompressible (photos, pdf), half mixed (db, office).
    n_medium = max(4, round(200 * scale))
    mid_budget = 0.20 * total
    for k in range(n_medium):
        size = int(mid_budget / n_medium * rng.uniform(0.3, 1.7))
        if k % 2:
            specs.append(FileSpec(f"home/alice/Pictures/{2000 + k % 20}/img{k:04d}.jpg",
                                  "random", size, 20_000_000 + k))
        else:
            specs.append(FileSpec(f"home/bob/work/data{k % 10}/db{k:04d}.sqlite",
                                  "semi", size, 30_000_000 + k))

    # ~15 %: duplicates: a copied project tree, copies of medium files and of one large file.
    originals = [s for s in specs if s.kind == "text"][: max(10, n_small // 20)]
    for s in originals:
        specs.append(FileSpec("home/bob/copy-of-alice/" + s.rel.split("/", 2)[2], "dup",
                              s.size, 0, s.rel))
    mids = [s for s in specs if s.kind in ("random", "semi") and s.size < large_budget / 4]
    for s in mids[: max(2, n_medium // 10)]:
        specs.append(FileSpec("home/alice/Desktop/dups/" + s.rel.rsplit("/", 1)[1], "dup",
                              s.size, 0, s.rel))
    big = specs[n_small]  # first large file
    specs.append(FileSpec("home/alice/Downloads/holiday (1).mp4", "dup", big.size, 0, big.rel))
    return specs


def generate(src: Path, specs: list[FileSpec]) -> tuple[int, int]:
    by_rel = {s.rel: s for s in specs}
    total = 0
    cache: dict[str, bytes] = {}
    for s in specs:
        path = src / s.rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if s.kind == "dup" and s.source in cache:
            data = cache[s.source]
        else:
            data = content(s, by_rel)
        path.write_bytes(data)
        total += len(data)
    return len(specs), total


def modification_plan(specs: list[FileSpec], fraction: float = 0.05) -> list[FileSpec]:
    """~5 % of the files, deterministically: mostly small text files plus one
    large file (a VM disk changed in the middle)."""
    rng = random.Random(4242)
    text = [s for s in specs if s.kind == "text"]
    chosen = rng.sample(text, max(1, round(fraction * len(specs))) - 1)
    chosen.append(next(s for s in specs if s.rel == "var/lib/vm/disk.qcow2"))
    return chosen


def modify(src: Path, chosen: list[FileSpec], rep: int) -> int:
    """Change the chosen files in place; returns the bytes written."""
    written = 0
    for s in chosen:
        path = src / s.rel
        if s.kind == "text":
            data = bytearray(path.read_bytes())
            extra = _text(s.seed * 7919 + rep + 1, max(64, len(data) // 10))
            mid = len(data) // 2
            data[mid:mid] = extra        # insert in the middle: size and content change
            path.write_bytes(bytes(data))
            written += len(data)
        else:
            # overwrite 8 MB (or 1/8) at an unaligned offset in the middle
            n = min(8 * MB, max(4096, s.size // 8))
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


def reset(src: Path, chosen: list[FileSpec], specs: list[FileSpec]) -> None:
    by_rel = {s.rel: s for s in specs}
    for s in chosen:
        (src / s.rel).write_bytes(content(s, by_rel))


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
    """(files, apparent bytes, allocated bytes) under path."""
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
    cpu_user: float
    cpu_sys: float
    extra: dict

    @property
    def cpu_seconds(self) -> float:
        return self.cpu_user + self.cpu_sys


class Restic:
    def __init__(self, exe: str, base: Path, rep: int) -> None:
        self.exe = exe
        self.repo = base / f"restic-repo-{rep}"
        self.cache = base / f"restic-cache-{rep}"
        self.env = dict(os.environ, RESTIC_PASSWORD=RESTIC_PASSWORD)
        self.env.pop("RESTIC_REPOSITORY", None)

    def _run(self, *args: str, json_out: bool = False) -> tuple[Measure, str]:
        cmd = [self.exe, "--repo", str(self.repo), "--cache-dir", str(self.cache), *args]
        if json_out:
            cmd.insert(1, "--json")
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): "
                               f"{proc.stderr[-2000:]}")
        return Measure(seconds, 0.0, 0.0, {}), proc.stdout

    def timed(self, *args: str, json_out: bool = False) -> tuple[Measure, str]:
        before = os.times()
        m, out = self._run(*args, json_out=json_out)
        after = os.times()
        m.cpu_user = after.children_user - before.children_user
        m.cpu_sys = after.children_system - before.children_system
        return m, out

    def init(self) -> None:
        self.timed("init", "--repository-version", "2")

    def backup(self, src: Path) -> Measure:
        m, out = self.timed("backup", "--quiet", str(src), json_out=True)
        summary = {}
        for line in out.splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if obj.get("message_type") == "summary":
                summary = obj
        m.extra = {k: summary.get(k) for k in (
            "files_new", "files_changed", "files_unmodified", "data_added",
            "total_bytes_processed", "total_duration")}
        return m

    def restore(self, target: Path) -> Measure:
        m, _ = self.timed("restore", "latest", "--target", str(target))
        return m

    def verify(self) -> Measure:
        m, _ = self.timed("check", "--read-data")
        return m

    def startup_overhead(self) -> float:
        """Wall time of a trivial command: process start + key derivation + index load."""
        m, _ = self.timed("cat", "config")
        return m.seconds


class Ours:
    def __init__(self, base: Path, rep: int, src: Path) -> None:
        self.data_dir = base / f"ours-data-{rep}"
        self.svc = BackupService(self.data_dir)
        self.job = f"bench-{rep}"
        self.svc.create_job(JobDefinition(
            name=self.job, computers=(Computer(name="pc1", path=str(src)),), task_slots=1))
        self.last_point: str | None = None
        self.closed = False

    @property
    def repo_path(self) -> Path:
        return self.data_dir / "repositories" / "default"

    @staticmethod
    def _timed(fn) -> tuple[object, Measure]:
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        return result, Measure(seconds, r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime, {})

    def backup(self) -> Measure:
        def run():
            sid = self.svc.start_job(self.job)
            return self.svc.wait_session(sid)
        session, m = self._timed(run)
        task = session.tasks[0]
        if session.result is None or session.result.value != "Success":
            raise RuntimeError(f"our backup ended {session.result}: "
                               f"{[item.text for item in task.log][-3:]}")
        self.last_point = task.point_id
        m.extra = {"files_total": task.files_total, "bytes_total": task.bytes_total,
                   "bytes_read": task.bytes_read, "bytes_transferred": task.bytes_transferred}
        return m

    def restore(self, target: Path) -> Measure:
        assert self.last_point is not None
        report, m = self._timed(lambda: self.svc.restore(self.last_point, target))
        m.extra = {"files": report.files, "bytes": report.bytes}
        return m

    def verify(self) -> Measure:
        report, m = self._timed(self.svc.verify)
        if not report.ok:
            raise RuntimeError(f"our verify found problems: {report.problems[:3]}")
        m.extra = {"points_checked": report.points_checked,
                   "blobs_checked": report.blobs_checked}
        return m

    def startup_overhead(self) -> float:
        """Wall time of a new process importing the facade and opening this data
        directory: what a command-line run pays on top of the in-process timings."""
        code = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from core.service import BackupService; "
                "BackupService(sys.argv[2]).close()")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, str(ROOT), str(self.data_dir)], check=True)
        return time.perf_counter() - t0

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.svc.close()
        for repo in list(self.svc._repos.values()):  # join the repository's pool threads
            repo.close()


def restic_version(exe: str) -> str:
    out = subprocess.run([exe, "version"], capture_output=True, text=True, check=True).stdout
    return out.strip()


def find_restic() -> tuple[str | None, str | None]:
    exe = shutil.which("restic")
    if exe is None:
        return None, "restic not found on PATH (Debian: apt-get install -y restic)"
    try:
        restic_version(exe)
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, f"restic on PATH does not run: {exc}"
    return exe, None


# -- main -----------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=600, help="data set size (default 600)")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where to put the data set and repositories (default: a new "
                         "folder under /tmp); removed at the end unless --keep")
    ap.add_argument("--repeats", type=int, default=3, help="repetitions (default 3)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--changed-percent", type=float, default=1.0,
                    help="percent of the files changed for 'incremental' (default 1)")
    ap.add_argument("--no-drop-caches", action="store_true",
                    help="do not drop the page cache before each timed step")
    args = ap.parse_args(argv)

    created_workdir = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="abc-bench-", dir="/tmp")) if created_workdir \
        else args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / "src"

    exe, why_no_restic = find_restic()
    tools = (["restic"] if exe else []) + ["ours"]

    result: dict = {
        "benchmark": "bench_backup",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        },
        "restic": None if exe is None else {"path": exe, "version": restic_version(exe)},
        "settings": {
            "repeats": args.repeats,
            "workdir": str(workdir),
            "ours": "BackupService facade, 1 computer, task_slots=1, no throttle; "
                    "FastCDC chunks (256 KiB / 1 MiB / 4 MiB), blake3, zstd level 3 (blocks that do not save "
                    ">=1/32 are stored raw), no encryption",
            "restic": None if exe is None else
                      "repository v2, --compression auto (zstd 'default' level, ~ zstd 3; "
                      "incompressible blobs stored raw), content-defined chunks "
                      "(512 KiB-8 MiB), AES-256-CTR+Poly1305 encryption, cache in workdir; "
                      "restic 0.14 has no --no-scan, so its scanner runs in parallel",
            "timing": "wall time around start_job+wait_session / restore() / verify() for "
                      "ours (in-process), around the whole restic command (includes "
                      "process start and key derivation) for restic",
            "order": "per repetition each scenario runs for both tools back to back; "
                     "which tool goes first alternates between repetitions",
        },
    }
    if exe is None:
        result["restic_reason"] = why_no_restic

    try:
        specs = plan_dataset(args.size_mb)
        if src.exists():
            shutil.rmtree(src)
        log(f"generating {len(specs)} files (~{args.size_mb} MB) in {src}")
        t0 = time.perf_counter()
        nfiles, nbytes = generate(src, specs)
        chosen = modification_plan(specs, args.changed_percent / 100)
        shifted = shift_plan(specs)
        result["dataset"] = {
            "path": str(src), "files": nfiles, "bytes": nbytes,
            "mb": round(nbytes / MB, 1),
            "small_text_files": sum(1 for s in specs if s.kind == "text"),
            "large_random_files": sum(1 for s in specs if s.kind == "random"
                                      and s.size >= 0.05 * nbytes),
            "duplicate_files": sum(1 for s in specs if s.kind == "dup"),
            "folders": sum(1 for _ in src.rglob("*") if _.is_dir()),
            "modified_for_incremental": len(chosen),
            "changed_percent": args.changed_percent,
            "shifted_files": len(shifted),
            "shifted_bytes": sum(s.size for s in shifted),
            "generation_seconds": round(time.perf_counter() - t0, 1),
        }
        log(f"data set: {nfiles} files, {nbytes / MB:.0f} MB")

        drop_ok = not args.no_drop_caches and drop_caches()
        result["settings"]["drop_caches"] = (
            "page cache dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before every "
            "timed step, for both tools" if drop_ok else
            "page cache NOT dropped (disabled or not permitted)")

        def cold() -> None:
            if drop_ok:
                drop_caches()

        runs: dict[str, dict[str, list[Measure]]] = {
            t: {s: [] for s in SCENARIOS} for t in tools}
        repo_sizes: dict[str, list[tuple[int, int, int]]] = {t: [] for t in tools}
        overhead: list[float] = []
        ours_overhead: list[float] = []
        restored_ok: dict[str, list[bool]] = {t: [] for t in tools}
        shift_growth: dict[str, list[int]] = {t: [] for t in tools}

        for rep in range(args.repeats):
            order = tools if rep % 2 == 0 else list(reversed(tools))
            log(f"repetition {rep + 1}/{args.repeats}, order {order}")
            restic = Restic(exe, workdir, rep) if exe else None
            ours = Ours(workdir, rep, src)
            if restic:
                restic.init()
            try:
                for scenario in SCENARIOS:
                    if scenario == "incremental":
                        modify(src, chosen, rep)
                    if scenario == "shifted":
                        shift(src, shifted)
                    for tool in order:
                        cold()
                        target = workdir / f"restore-{tool}-{rep}"
                        repo_dir = (restic.repo if tool == "restic" else ours.repo_path) \
                            if scenario == "shifted" else None
                        size_before = tree_size(repo_dir)[1] if repo_dir else 0
                        if scenario in ("full", "unchanged", "incremental", "shifted"):
                            m = restic.backup(src) if tool == "restic" else ours.backup()
                            if repo_dir:
                                shift_growth[tool].append(tree_size(repo_dir)[1] - size_before)
                        elif scenario == "restore":
                            m = restic.restore(target) if tool == "restic" \
                                else ours.restore(target)
                            got = target / src.relative_to("/") if tool == "restic" \
                                else target
                            files, size, _ = tree_size(got)
                            restored_ok[tool].append(
                                (files, size) == tree_size(src)[:2])
                            # Kept until the end: deleting ~20k files right before
                            # the next timed step slows its file creation (ext4
                            # skips recently deleted inodes) and skews the result.
                        else:
                            m = restic.verify() if tool == "restic" else ours.verify()
                        runs[tool][scenario].append(m)
                        log(f"  {scenario:11s} {tool:6s} {m.seconds:7.2f} s "
                            f"cpu {m.cpu_seconds:6.1f} s {m.extra or ''}")
                        if scenario == "full":
                            repo_sizes[tool].append(tree_size(
                                restic.repo if tool == "restic" else ours.repo_path))
                if restic:
                    overhead.append(restic.startup_overhead())
                ours.close()   # the data directory has one owner: free it for the new process
                ours_overhead.append(ours.startup_overhead())
            finally:
                ours.close()
                reset(src, chosen + [s for s in shifted if s not in chosen], specs)

        # bytes each scenario is measured against (MB/s)
        # MB/s is the data set size over the wall time for every scenario (the
        # unchanged and incremental backups walk the whole data set).
        basis = dict.fromkeys(SCENARIOS, nbytes)
        fixed = statistics.median(overhead) if overhead else 0.0
        ours_fixed = statistics.median(ours_overhead)
        out_scen: dict = {}
        for scenario in SCENARIOS:
            entry: dict = {"mb_basis": round(basis[scenario] / MB, 1)}
            for tool in tools:
                ms = runs[tool][scenario]
                secs = [round(m.seconds, 3) for m in ms]
                med = statistics.median(secs)
                entry[tool] = {
                    "seconds_median": round(med, 3),
                    "seconds_all": secs,
                    "mb_per_s": round(basis[scenario] / MB / med, 1) if med else None,
                    "cpu_seconds_median": round(statistics.median(
                        m.cpu_seconds for m in ms), 2),
                    "cpu_user_sys_median": [
                        round(statistics.median(m.cpu_user for m in ms), 2),
                        round(statistics.median(m.cpu_sys for m in ms), 2)],
                    **({"details_last": ms[-1].extra} if ms[-1].extra else {}),
                }
            if "restic" in tools:
                r_med, o_med = entry["restic"]["seconds_median"], entry["ours"]["seconds_median"]
                entry["ratio_restic_over_ours"] = round(r_med / o_med, 2)
                entry["ratio_per_repetition"] = [
                    round(r.seconds / o.seconds, 2)
                    for r, o in zip(runs["restic"][scenario], runs["ours"][scenario])]
                entry["ratio_without_restic_startup"] = round(max(0.0, r_med - fixed) / o_med, 2)
                entry["ratio_as_commands"] = round(r_med / (o_med + ours_fixed), 2)
            out_scen[scenario] = entry
        result["scenarios"] = out_scen
        result["notes"] = {
            "ratio": "restic_seconds / ours_seconds (>1: ours is faster)",
            "ratio_without_restic_startup": "the same with restic_fixed_overhead_s taken "
                                            "off restic's time (ours runs in-process, so "
                                            "it pays no interpreter start or import)",
            "ratio_as_commands": "restic_seconds / (ours_seconds + ours_fixed_overhead_s): "
                                 "both tools as a command run would see them",
            "mb_per_s": "data set size / wall time (for 'unchanged' and 'incremental' the "
                        "whole data set is walked, so this is an effective rate)",
        }
        result["ours_unchanged_stat_only"] = all(
            m.extra.get("bytes_read") == 0 for m in runs["ours"]["unchanged"])
        result["restored_tree_matches_source"] = {
            t: all(v) for t, v in restored_ok.items()}
        result["repo_size_after_full"] = {
            t: {"files": statistics.median(s[0] for s in v),
                "mb_apparent": round(statistics.median(s[1] for s in v) / MB, 1),
                "mb_allocated": round(statistics.median(s[2] for s in v) / MB, 1)}
            for t, v in repo_sizes.items()}
        if "restic" in tools:
            result["repo_size_after_full"]["ratio_restic_over_ours"] = round(
                result["repo_size_after_full"]["restic"]["mb_apparent"]
                / result["repo_size_after_full"]["ours"]["mb_apparent"], 3)
            result["restic_fixed_overhead_s"] = {
                "median": round(statistics.median(overhead), 3),
                "what": "wall time of `restic cat config` (process start, key derivation, "
                        "repository open); part of every restic timing"}
        result["ours_fixed_overhead_s"] = {
            "median": round(ours_fixed, 3),
            "what": "wall time of a new Python process importing core.service and opening "
                    "the data directory; NOT part of ours' timings (driven in-process)"}
        result["repo_growth_shifted"] = {
            t: {"mb_apparent": round(statistics.median(v) / MB, 2)} for t, v in
            shift_growth.items()}
        if "restic" in tools:
            r_g = statistics.median(shift_growth["restic"])
            o_g = statistics.median(shift_growth["ours"])
            result["repo_growth_shifted"]["ratio_ours_over_restic"] = \
                round(o_g / r_g, 3) if r_g else None
        result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        if created_workdir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        elif not args.keep:
            for p in workdir.iterdir():
                if p.name == "src" or p.name.startswith(
                        ("restic-repo-", "restic-cache-", "ours-data-", "restore-")):
                    shutil.rmtree(p, ignore_errors=True)

    print(json.dumps(result, indent=2))
    return 0


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


if __name__ == "__main__":
    sys.exit(main())
