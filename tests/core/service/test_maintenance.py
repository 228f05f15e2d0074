"""Issue 21, item 4: the server-wide maintenance window, on an injected clock.
With a window set, backups leave retention's prune to it; inside the window a
Maintenance session prunes and compacts every repository (repacking packs
whose live share fell below half), every point restores byte-identical
afterwards, and the window's close stops it like a backup window stops a
backup."""
from __future__ import annotations

import filecmp
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import SecretStr

from core.api import RepositorySpec
from core.models import (
    Computer, HistoryQuery, JobDefinition, MaintenanceSettings, SessionInfo, SessionResult,
    SessionType, TaskStatus,
)
from core.scheduling import BackupWindow
from core.service.facade import BackupService
from tests.conftest import shutdown_service
from tests.support.clock import FakeClock
from tests.support.gate import TaskGate
from tests.support.seaweed import SeaweedS3

pytestmark = pytest.mark.timeout(120)

UTC = timezone.utc
THURSDAY = datetime(2026, 11, 26, 9, 58, tzinfo=UTC)
REPO = "Default Backup Repository"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(THURSDAY)


@pytest.fixture
def service(tmp_path: Path, gate: TaskGate, clock: FakeClock) -> Iterator[BackupService]:
    svc = BackupService(tmp_path / "data", hooks=gate, clock=clock)
    svc.scheduler._tz = UTC   # pin the zone: the machine's may be anything
    yield svc
    shutdown_service(svc, gate)


def pack_bytes(svc: BackupService, repository: str = REPO) -> int:
    return sum(svc._pool.repository(repository)._layout.list_packs().values())


def backups(svc: BackupService, tmp_path: Path, count: int, change: int,
            retain: int, repository: str = REPO) -> dict[str, Path]:
    """``count`` backups of one computer, changing ``change`` of its four
    files before each; point id -> a copy of the tree it holds."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        (src / f"f{i}.bin").write_bytes(os.urandom(200_000))
    svc.create_job(JobDefinition(name="J", retain_points=retain, repository=repository,
                                 computers=(Computer(name="pc1", path=str(src)),)))
    copies: dict[str, Path] = {}
    for n in range(count):
        if n:
            for i in range(change):
                (src / f"f{i}.bin").write_bytes(os.urandom(200_000))
        session = svc.wait_session(svc.start_job("J"), timeout=30)
        assert session.result is SessionResult.SUCCESS, session.log
        copy = tmp_path / f"copy{n}"
        copy.mkdir()
        for f in src.iterdir():
            (copy / f.name).write_bytes(f.read_bytes())
        copies[session.tasks[0].point_id or ""] = copy
    return copies


def restores_byte_identical(svc: BackupService, tmp_path: Path,
                            copies: dict[str, Path]) -> None:
    kept = [p.id for p in svc.list_points("J")]
    assert kept
    for point_id in kept:
        target = tmp_path / f"restored-{point_id}"
        svc.restore(point_id, target)
        names = sorted(f.name for f in copies[point_id].iterdir())
        assert sorted(f.name for f in target.iterdir()) == names
        match, mismatch, errors = filecmp.cmpfiles(copies[point_id], target, names,
                                                   shallow=False)
        assert (mismatch, errors) == ([], []), point_id


def maintenance_sessions(svc: BackupService) -> list[SessionInfo]:
    return [s for s in svc.list_sessions() if s.type is SessionType.MAINTENANCE]


@pytest.mark.parametrize("where", ["local", "s3"])
def test_compaction_within_the_window_frees_space_and_every_point_restores(
        service: BackupService, tmp_path: Path, clock: FakeClock, where: str,
        request: pytest.FixtureRequest) -> None:
    repository = REPO
    if where == "s3":
        seaweed: SeaweedS3 = request.getfixturevalue("seaweed")
        repository = "Cloud"
        service.add_repository(RepositorySpec(
            name=repository, url=request.getfixturevalue("s3_url"),
            insecure_no_encryption=True, access_key_id=seaweed.access_key,
            secret_access_key=SecretStr(seaweed.secret_key)))
    service.set_maintenance(MaintenanceSettings(
        window=BackupWindow(start="01:00", end="05:00")))
    assert service.get_maintenance().window is not None
    copies = backups(service, tmp_path, count=3, change=3, retain=2, repository=repository)
    last = service.list_sessions("J")[0]
    assert any("space is reclaimed in the maintenance window (01:00\u201305:00)" in item.text
               for item in last.log), last.log                       # not inside the backup
    before = pack_bytes(service, repository)
    service.keep_time()                                              # 09:58: window closed
    assert maintenance_sessions(service) == []

    clock.advance(hours=15, minutes=32)                              # Friday 01:30
    service.keep_time()
    (session,) = maintenance_sessions(service)
    done = service.wait_session(session.id, timeout=30)
    assert done.result is SessionResult.SUCCESS, done.log
    (task,) = [t for t in done.tasks if t.computer == repository]
    notes = " ".join(item.text for item in task.log)
    assert "compacted" in notes and task.status is TaskStatus.SUCCESS, notes
    assert pack_bytes(service, repository) < before - 400_000       # point 1's 3 files went
    restores_byte_identical(service, tmp_path, copies)
    service.keep_time()                                              # once per opening
    assert len(maintenance_sessions(service)) == 1
    history = service.list_history(HistoryQuery(types=[SessionType.MAINTENANCE]))
    assert [s.id for s in history.sessions] == [session.id]


def test_without_a_window_backups_prune_themselves(
        service: BackupService, tmp_path: Path) -> None:
    service.set_maintenance(MaintenanceSettings(window=BackupWindow(start="01:00",
                                                                    end="05:00")))
    assert service.has_schedules()         # the server stays up for it (--idle-exit)
    service.set_maintenance(MaintenanceSettings())
    assert not service.has_schedules()
    backups(service, tmp_path, count=3, change=3, retain=2)
    last = service.list_sessions("J")[0]
    assert any(item.text.startswith("Retention: reclaimed") for item in last.log), last.log


def test_the_window_closing_stops_maintenance_between_two_packs(
        service: BackupService, tmp_path: Path, clock: FakeClock, gate: TaskGate) -> None:
    service.set_maintenance(MaintenanceSettings(
        window=BackupWindow(start="01:00", end="05:00", days=("fri",))))
    copies = backups(service, tmp_path, count=5, change=1, retain=9)  # five small packs
    clock.advance(hours=18, minutes=1)                               # Friday 03:59
    gate.hold(REPO)                                                  # after the first pack
    service.keep_time()
    (session,) = maintenance_sessions(service)
    assert gate.wait_held(REPO)
    clock.advance(hours=1, minutes=2)                                # 05:01: closed
    service.keep_time()
    done = service.wait_session(session.id, timeout=30)
    assert done.result is SessionResult.FAILED
    assert done.stopped_by == "by the maintenance window closing"
    assert done.tasks[0].status is TaskStatus.CANCELLED
    assert any("stopped by the window closing" in item.text for item in done.tasks[0].log)
    restores_byte_identical(service, tmp_path, copies)
    assert service.verify().ok
