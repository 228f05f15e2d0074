"""The built-in demo: a few generated, deterministic computers and three
throttled jobs, so that an operator has time to press Stop.

The demo's computers work between runs, as real ones do: before each session of
a job, every demo computer of it changes some of its files (a few blocks of
each data file, some documents, a log line). Every session, not only the first,
then reads their data files again at the job's throttled rate (10-20 s), while
its restore points stay small: only the changed blocks are new."""
from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from collections.abc import Iterable
from typing import TYPE_CHECKING

from core.errors import AlreadyExists
from core.scheduling.retention import GfsRetention
from core.models import Computer, FileScope, JobDefinition
from core.paths import demo_computers_dir
from core.process.private_files import make_dir

if TYPE_CHECKING:
    from core.api import BackupApi

WORDS = ("backup restore agent volume chain retention repository session proxy "
         "throttle verify schedule report invoice ledger payroll kernel module "
         "nginx postgres journal index block pack").split()
UNICODE_NAMES = ("résumé.txt", "Überweisung_2025.csv", "данные.json", "报告.md",
                 "ファイル.log", "naïve café.txt")

# Between runs each data file gets this many bytes rewritten in place, and this
# share of the small files a line added.
CHANGED_BLOCK = 4 << 10   # a page of a database file
CHANGED_FILE_SHARE = 0.05
ACTIVITY_LOG = "var/log/activity.log"

# computer -> (seed, small files, large incompressible files in MiB)
DEMO_COMPUTERS: dict[str, tuple[int, int, tuple[int, ...]]] = {
    "srv-web01": (1, 400, (6, 4)),
    "srv-db01": (2, 250, (12,)),
    "srv-app01": (3, 300, (5, 3)),
    "ws-fin01": (4, 350, (8,)),
    "ws-fin02": (5, 350, (6, 2)),
    "build01": (6, 500, (4, 4)),
}

def demo_jobs(root: Path) -> list[JobDefinition]:
    def comps(*names: str) -> tuple[Computer, ...]:
        return tuple(Computer(name=n, path=str(root / n)) for n in names)

    return [
        JobDefinition(name="Linux Servers Backup", description="Web, database and app servers",
                      computers=comps("srv-web01", "srv-db01", "srv-app01"), task_slots=2,
                      throttle_mbps=1.5, retain_points=7),
        JobDefinition(name="Finance Workstations", description="Finance department laptops",
                      computers=comps("ws-fin01", "ws-fin02"), task_slots=1,
                      throttle_mbps=1.0, retain_points=14,
                      scope=FileScope(exclude=("*.tmp", "cache"))),
        JobDefinition(name="Build Agents", description="CI build agents (file level)",
                      computers=comps("build01"), task_slots=1, throttle_mbps=0.5,
                      retain_points=3, gfs=GfsRetention(keep_daily=7, keep_weekly=4,
                                                        keep_monthly=12)),
    ]


def generate_computer(path: Path, seed: int, small_files: int,
                      large_mib: tuple[int, ...]) -> None:
    """Write a deterministic tree: text files in nested folders, unicode
    names, empty files and folders, symlinks and incompressible blobs."""
    rng = random.Random(seed)
    folders = ["etc", "home/user/documents", "home/user/projects/src", "var/log",
               "var/lib/data", "opt/app/bin", "srv/share", "cache"]
    for folder in folders:
        (path / folder).mkdir(parents=True, exist_ok=True)
    (path / "empty-folder").mkdir(exist_ok=True)
    for i in range(small_files):
        folder = folders[i % len(folders)]
        words = rng.choices(WORDS, k=rng.randint(20, 1500))
        (path / folder / f"file_{i:04d}.txt").write_text(" ".join(words) + "\n")
    for i, name in enumerate(UNICODE_NAMES):
        (path / "home/user/documents" / name).write_text(f"{name} {i}\n" * (i + 1))
    (path / "var/log/empty.log").touch()
    (path / "cache/build.tmp").write_text("temporary\n")
    for i, mib in enumerate(large_mib):
        (path / "var/lib/data" / f"blob_{i}.bin").write_bytes(rng.randbytes(mib << 20))
    os.symlink("../var/log", path / "home/user/logs")
    os.symlink("documents/résumé.txt", path / "home/user/cv.txt")
    os.symlink("/nonexistent/target", path / "opt/app/dangling")


def ensure_demo_computers(data_dir: Path) -> Path:
    root = demo_computers_dir(data_dir)
    make_dir(root)   # owner-only; the computers' own files keep the modes they are given
    for name, (seed, small, large) in DEMO_COMPUTERS.items():
        target = root / name
        if target.exists():
            continue
        tmp = root / f".{name}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        generate_computer(tmp, seed, small, large)
        os.rename(tmp, target)
    return root


def setup_demo(service: BackupApi) -> list[str]:
    """Idempotent: creates what is missing and returns the names of new jobs.
    ``service`` is whatever serves the jobs (the facade passes itself): the
    demo needs only its data directory and ``create_job``."""
    root = ensure_demo_computers(service.data_dir)
    created = []
    for job in demo_jobs(root):
        try:
            service.create_job(job)
            created.append(job.name)
        except AlreadyExists:
            pass
    return created


def demo_computer_root(data_dir: Path, computer: Computer) -> Path | None:
    """The folder of a demo computer (one generated under the data directory), or None."""
    if computer.agent != "local":
        return None
    root = demo_computers_dir(data_dir).resolve()
    path = Path(computer.path).resolve()
    if path.parent != root or computer.name not in DEMO_COMPUTERS or not path.is_dir():
        return None
    return path


def work_between_runs(data_dir: Path, computers: Iterable[Computer]) -> dict[str, int]:
    """Change some files of each demo computer among ``computers``, as a day's work
    would: a block of each data file rewritten in place, a line added to a share of
    the documents and to the activity log. Returns how many files changed, per demo
    computer (other computers are never touched)."""
    changed: dict[str, int] = {}
    rng = random.Random()
    for computer in computers:
        root = demo_computer_root(data_dir, computer)
        if root is None:
            continue
        count = 0
        for blob in sorted((root / "var/lib/data").glob("blob_*.bin")):
            size = blob.stat().st_size
            with open(blob, "r+b") as f:
                f.seek(rng.randrange(max(1, size - CHANGED_BLOCK)))
                f.write(rng.randbytes(min(CHANGED_BLOCK, size)))
            count += 1
        texts = sorted(Path(folder, name) for folder, _dirs, names in os.walk(root)
                       for name in names if name.startswith("file_") and name.endswith(".txt"))
        for text in rng.sample(texts, max(1, int(len(texts) * CHANGED_FILE_SHARE))
                               if texts else 0):
            with open(text, "a", encoding="utf-8") as f:
                f.write(" ".join(rng.choices(WORDS, k=12)) + "\n")
            count += 1
        with open(root / ACTIVITY_LOG, "a", encoding="utf-8") as f:
            f.write(f"{computer.name}: worked since the last backup\n")
        changed[computer.name] = count + 1
    return changed
