"""Issue 21, item 4: the scheduled health check, on an injected clock. It runs
after that day's scheduled backup as a Verify session over the job's points,
on its days only and once a day; the light mode (the default for S3) lists and
sizes every object the points need and reads no pack data; damage it finds
marks the points and is healed by the next backup that reads the same data."""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from core.api import RepositorySpec
from core.models import (
    ActiveFullKind, Computer, HealthCheckMode, HealthCheckSchedule, JobDefinition, RunKind,
    SessionInfo, SessionResult, SessionType,
)
from core.scheduling import Schedule, ScheduleKind
from core.service.facade import BackupService
from tests.conftest import shutdown_service
from tests.reliability.helpers import flip_byte
from tests.support.clock import FakeClock
from tests.support.gate import TaskGate
from tests.support.seaweed import SeaweedS3

pytestmark = pytest.mark.timeout(120)

UTC = timezone.utc
THURSDAY = datetime(2026, 11, 26, 9, 58, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(THURSDAY)


@pytest.fixture
def service(tmp_path: Path, gate: TaskGate, clock: FakeClock) -> Iterator[BackupService]:
    svc = BackupService(tmp_path / "data", hooks=gate, clock=clock)
    svc.scheduler._tz = UTC   # pin the zone: the machine's may be anything
    yield svc
    shutdown_service(svc, gate)


def source(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        (root / f"f{i}.bin").write_bytes(os.urandom(200_000))
    return root


def daily_job(svc: BackupService, src: Path, check: HealthCheckSchedule | None,
              repository: str = "Default Backup Repository") -> None:
    svc.create_job(JobDefinition(
        name="J", computers=(Computer(name="pc1", path=str(src)),), repository=repository,
        schedule=Schedule(kind=ScheduleKind.DAILY, at="10:00", retries=0),
        health_check=check))


def scheduled_run(svc: BackupService, clock: FakeClock, **advance: float) -> SessionInfo:
    """Advance the clock past the next 10:00, tick, and wait for the backup."""
    clock.advance(**advance)
    assert svc.scheduler.tick() == ["J"]
    backup = next(s for s in svc.list_sessions("J") if s.type is SessionType.BACKUP)
    done = svc.wait_session(backup.id, timeout=30)
    assert done.result is SessionResult.SUCCESS, done.log
    return done


def health_checks(svc: BackupService) -> list[SessionInfo]:
    return [s for s in svc.list_sessions("J")
            if s.type is SessionType.VERIFY and s.run_kind is RunKind.SCHEDULED]


def last_check(svc: BackupService) -> SessionInfo:
    return svc.wait_session(health_checks(svc)[0].id, timeout=30)


def test_the_health_check_runs_after_the_backup_on_its_day_only(
        service: BackupService, tmp_path: Path, clock: FakeClock) -> None:
    daily_job(service, source(tmp_path / "src"),
              HealthCheckSchedule(kind=ActiveFullKind.WEEKLY, days=("fri",)))
    service.scheduler.tick()                                   # Thursday 09:58
    scheduled_run(service, clock, minutes=3)                   # Thursday 10:01
    assert health_checks(service) == []                        # not its day
    backup = scheduled_run(service, clock, days=1)             # Friday 10:01
    check = last_check(service)
    assert check.result is SessionResult.SUCCESS, check.log
    assert check.created >= backup.ended                       # after the day's backup
    assert check.operation is not None and check.operation.points_checked == 2
    assert "Health check (full) started by the job's schedule" in check.log[0].text
    # a manual run the same day does not check again; nor does Saturday
    service.wait_session(service.start_job("J"), timeout=30)
    scheduled_run(service, clock, days=1)                      # Saturday 10:01
    assert len(health_checks(service)) == 1
    # History lists it as a Verify session of the job
    from core.models import HistoryQuery
    page = service.list_history(HistoryQuery(job="J"))
    assert [r.type for r in page.sessions].count(SessionType.VERIFY) == 1


def test_flipped_bytes_are_found_marked_and_healed_by_the_next_backup(
        service: BackupService, tmp_path: Path, clock: FakeClock) -> None:
    src = source(tmp_path / "src")
    daily_job(service, src, HealthCheckSchedule(kind=ActiveFullKind.WEEKLY, days=("fri",)))
    service.scheduler.tick()
    scheduled_run(service, clock, minutes=3)                   # Thursday: the point to damage
    (old,) = service.list_points("J")
    repo = service._pool.repository("Default Backup Repository")
    blob = repo.load_manifest(old.id).by_path()["f1.bin"].blocks[0]
    loc = repo._index.blobs[blob]
    flip_byte(repo.path / "packs" / loc.pack[:2] / f"{loc.pack}.pack",
              loc.offset + loc.length // 2)

    scheduled_run(service, clock, days=1)                      # Friday: backup, then the check
    check = last_check(service)
    assert check.result is SessionResult.FAILED
    assert any("f1.bin" in item.text for t in check.tasks for item in t.log), check.tasks
    damaged = {p.id: p.damaged for p in service.list_points("J")}
    assert damaged[old.id] and "f1.bin" in damaged[old.id]

    healing = scheduled_run(service, clock, days=1)            # Saturday: reads f1.bin again
    assert healing.tasks[0].bytes_transferred > 0              # the block was stored again
    report = service.verify()                                  # every point whole again
    assert all(not p.point_id for p in report.problems), report.problems
    assert all(p.damaged is None for p in service.list_points("J"))
    service.restore(old.id, tmp_path / "back")
    assert (tmp_path / "back" / "f1.bin").read_bytes() == (src / "f1.bin").read_bytes()


def _count_pack_reads(client: Any) -> list[str]:
    """The S3 client's GetObject calls for pack objects (the real client's
    own event hooks: nothing is replaced)."""
    reads: list[str] = []

    def before(params: dict[str, Any], **_: Any) -> None:
        if "/packs/" in "/" + params.get("Key", ""):
            reads.append(params["Key"])

    client.meta.events.register("before-parameter-build.s3.GetObject", before)
    return reads


def test_the_light_check_on_s3_reads_no_pack_data_and_reports_a_missing_object(
        service: BackupService, tmp_path: Path, clock: FakeClock, seaweed: SeaweedS3,
        s3_url: str) -> None:
    service.add_repository(RepositorySpec(
        name="Cloud", url=s3_url, insecure_no_encryption=True,
        access_key_id=seaweed.access_key, secret_access_key=SecretStr(seaweed.secret_key)))
    src = source(tmp_path / "src")
    daily_job(service, src, HealthCheckSchedule(kind=ActiveFullKind.MONTHLY, day_of_month=27),
              repository="Cloud")
    service.scheduler.tick()
    scheduled_run(service, clock, minutes=3)                   # the 26th: no check
    assert health_checks(service) == []
    repo = service._pool.repository("Cloud")
    backend: Any = repo.backend
    reads = _count_pack_reads(backend._client)

    scheduled_run(service, clock, days=1)                      # the 27th
    check = last_check(service)
    assert check.result is SessionResult.SUCCESS, check.log
    assert "Health check (light)" in check.log[0].text
    assert check.operation is not None and check.operation.blobs_checked > 0
    # no pack data was read (the rows of the points this server committed are in memory:
    # manifest format 3 keeps them in entry blobs, which the check then need not read)
    assert reads == []

    # an "attacker" (or a lifecycle rule) deletes one pack the points need
    (point, *_) = service.list_points("J")
    blob = repo.recent_manifest(point.id).by_path()["f0.bin"].blocks[0]
    pack = repo._index.blobs[blob].pack
    backend.remove(f"packs/{pack[:2]}/{pack}.pack")
    check_id = service._points.start_health_check("J", HealthCheckMode.LIGHT)
    check = service.wait_session(check_id, timeout=30)
    assert reads == []
    assert check.result is SessionResult.FAILED
    problems = check.operation.problems if check.operation else []
    assert any(p.pack == pack and p.problem == "missing" and "f0.bin" in p.paths
               for p in problems), problems
    assert {p.id for p in service.list_points("J") if p.damaged}

    # the next backup reads f0.bin again and stores the block anew: every point heals
    reads.clear()
    healing = service.wait_session(service.start_job("J"), timeout=30)
    assert healing.result is SessionResult.SUCCESS and healing.tasks[0].bytes_transferred > 0
    again = service.wait_session(
        service._points.start_health_check("J", HealthCheckMode.LIGHT), timeout=30)
    assert again.result is SessionResult.SUCCESS, again.log
    assert reads == []                                         # backup and check read no pack
    assert all(p.damaged is None for p in service.list_points("J"))
    service.restore(point.id, tmp_path / "back")
    assert (tmp_path / "back" / "f0.bin").read_bytes() == (src / "f0.bin").read_bytes()
