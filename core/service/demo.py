"""The built-in demo: a few generated, deterministic computers and three
throttled jobs, so that an operator has time to press Stop."""
from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
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
