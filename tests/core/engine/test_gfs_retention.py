"""GFS retention in real backup sessions: on the server's (injected) clock, backups on
many days leave exactly the points the policy keeps, per computer, and the repository
holds no others; the preview names the same points."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.api import retention_preview
from core.models import Computer, JobDefinition, SessionResult
from core.scheduling import GfsRetention
from core.service.facade import BackupService
from tests.conftest import make_tree, shutdown_service
from tests.support.clock import FakeClock
from tests.support.gate import TaskGate

UTC = timezone.utc
# noon UTC: the same calendar day in any zone from UTC-11 to UTC+11
START = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)   # a Monday


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def service(tmp_path: Path, gate: TaskGate, clock: FakeClock) -> Iterator[BackupService]:
    svc = BackupService(tmp_path / "data", hooks=gate, clock=clock)
    yield svc
    shutdown_service(svc, gate)


def test_backups_over_three_weeks_keep_the_gfs_points(service, clock, tmp_path):
    gfs = GfsRetention(keep_daily=3, keep_weekly=3)
    computers = tuple(Computer(name=n, path=str(make_tree(tmp_path / n, files=2)))
                      for n in ("pc1", "pc2"))
    service.create_job(JobDefinition(name="GFS", computers=computers, retain_points=1,
                                     task_slots=1, gfs=gfs))
    made: list[datetime] = []
    for day in range(21):   # one backup a day, two on Sundays (evening too)
        for hours in ((0, 7) if day % 7 == 6 else (0,)):
            clock.now = START + timedelta(days=day, hours=hours)
            (tmp_path / "pc1" / "file_000.dat").write_text(f"day {day} {hours}")
            session = service.wait_session(service.start_job("GFS"), timeout=60)
            assert session.result is SessionResult.SUCCESS
            made.append(clock.now)
    points = service.list_points("GFS")
    for computer in ("pc1", "pc2"):
        kept = sorted(p.created for p in points if p.computer == computer)
        # 3 daily: the last 3 days; 3 weekly: the newest of each of the last 3 ISO weeks
        # (the Sunday evening points); the last 1 is the newest (also daily)
        assert kept == [made[7], made[15], made[-4], made[-3], made[-1]]
    # the repository holds only those: nothing retention dropped is listed anywhere
    repository = service._pool.repository(service._pool.repository_name(
        service.get_job("GFS").definition.repository))
    on_disk = {m.id for m in repository.list_points()}
    assert on_disk == {p.id for p in points}
    # the preview agrees: every listed point is kept, for the reasons shown
    preview = service.retention_preview("GFS")
    assert preview == retention_preview(service.get_job("GFS").definition, points)
    assert all(p.keep for p in preview.points) and len(preview.points) == 10
    newest = [p for p in preview.points if p.computer == "pc1"][-1]
    assert newest.reasons == ["last 1", "daily 2026-11-22", "weekly 2026-W47"]
    log = " ".join(item.text for item in session.tasks[0].log)
    assert "not kept by the last 1 and 3 daily, 3 weekly" in log
