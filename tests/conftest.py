"""Shared fixtures. The offscreen platform is set before any Qt import."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A server a test leaves behind ends by itself; the fixture below kills it sooner.
os.environ.setdefault("AGENT_JOBS_SERVER_IDLE_EXIT", "120")

import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402

import pytest  # noqa: E402

from core.models import Computer, JobDefinition  # noqa: E402
from core.service.facade import BackupService  # noqa: E402
from tests.support.gate import TaskGate  # noqa: E402
from tests.support.server import kill_servers_under, stop_all  # noqa: E402
from tests.support.seaweed import locked_s3_url, s3_url, seaweed  # noqa: E402,F401  (S3 fixtures, started lazily)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` on an Event (never time.sleep) until it holds."""
    waiter = threading.Event()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        waiter.wait(0.01)


def make_tree(root: Path, files: int = 3, size: int = 2048, seed: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        data = bytes((seed * 31 + i * 7 + j) % 251 for j in range(size))
        (root / f"file_{i:03d}.dat").write_bytes(data)
    return root


@pytest.fixture
def gate() -> TaskGate:
    return TaskGate()


def shutdown_service(service: BackupService, gate: TaskGate) -> None:
    """Release every held task, stop what still runs and wait for it."""
    gate.release_all()
    stop_all(service)
    service.close()


@pytest.fixture(autouse=True)
def own_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Programs a test starts (the console, the CLI) keep their settings in the
    test's folder, never in the user's ~/.config."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture(autouse=True)
def no_stray_servers(tmp_path: Path) -> Iterator[None]:
    """Servers that the CLI or the console started for this test end with it."""
    yield
    kill_servers_under(tmp_path)


@pytest.fixture
def service(tmp_path: Path, gate: TaskGate) -> Iterator[BackupService]:
    svc = BackupService(tmp_path / "data", hooks=gate)
    yield svc
    shutdown_service(svc, gate)


@pytest.fixture
def make_job(service: BackupService, tmp_path: Path):
    def factory(name: str = "Job", computers: int = 3, files: int = 3, size: int = 2048,
                **options) -> JobDefinition:
        comps = tuple(
            Computer(name=f"pc{i + 1}",
                     path=str(make_tree(tmp_path / "src" / name / f"pc{i + 1}", files, size, i)))
            for i in range(computers))
        job = JobDefinition(name=name, computers=comps, **options)
        service.create_job(job)
        return job

    return factory


def points_by_computer(service: BackupService, job: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in service.list_points(job):
        counts[p.computer] = counts.get(p.computer, 0) + 1
    return counts
