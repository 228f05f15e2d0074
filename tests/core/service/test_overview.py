"""Home → Overview on the server: sessions counted per local day and over the
last 24 hours, failures with their reasons, the next runs, a bad time zone."""
from __future__ import annotations

import shutil
from zoneinfo import ZoneInfo
from pathlib import Path

import pytest

from core.errors import InvalidInput
from core.models import Computer, JobDefinition, SessionResult, utcnow
from core.scheduling.schedule import Schedule, ScheduleKind
from core.service.facade import BackupService
from tests.conftest import make_tree, shutdown_service
from tests.support.clock import FakeClock
from tests.support.gate import TaskGate


def test_overview_counts_days_in_the_zone_and_says_why_sessions_failed(
        tmp_path: Path) -> None:
    clock = FakeClock(utcnow())
    gate = TaskGate()
    service = BackupService(tmp_path / "data", hooks=gate, clock=clock)
    try:
        good = Computer(name="pc1", path=str(make_tree(tmp_path / "src" / "pc1")))
        gone = Computer(name="pc2", path=str(make_tree(tmp_path / "src" / "pc2")))
        service.create_job(JobDefinition(name="Good", computers=(good,)))
        service.create_job(JobDefinition(name="Bad", computers=(good, gone),
                                         schedule=Schedule(kind=ScheduleKind.DAILY, at="22:00")))
        service.wait_session(service.start_job("Good"), timeout=20)
        shutil.rmtree(gone.path)
        failed = service.wait_session(service.start_job("Bad"), timeout=20)
        assert failed.result is SessionResult.FAILED
        clock.now = utcnow()

        overview = service.get_overview(7, "UTC")
        assert overview.time_zone == "UTC" and len(overview.days) == 7
        assert overview.days[-1].day == clock.now.date()
        assert [(d.success, d.failed) for d in overview.days] == [(0, 0)] * 6 + [(1, 1)]
        assert (overview.last_day.success, overview.last_day.failed,
                overview.last_day.running, overview.last_day.total) == (1, 1, 0, 2)
        [failure] = overview.failures
        assert failure.job == "Bad" and failure.session_id == failed.id
        assert "pc2" in failure.reason and "does not exist" in failure.reason
        assert not failure.reason.startswith("Failed")
        assert [n.job for n in overview.next_runs] == ["Bad"]
        assert overview.next_runs[0].at > clock.now
        assert (overview.jobs, overview.jobs_disabled) == (2, 0)

        # Days are the zone's days: a zone 14 hours ahead (or 11 behind) of UTC
        # where the sessions ran on another date than in UTC.
        zone = "Pacific/Kiritimati" if failed.created.hour >= 10 else "Pacific/Pago_Pago"
        day = failed.created.astimezone(ZoneInfo(zone)).date()
        assert day != failed.created.date()
        there = service.get_overview(3, zone)
        assert [(d.success, d.failed) for d in there.days if d.day == day] == [(1, 1)]
        assert there.days[-1].day == clock.now.astimezone(ZoneInfo(zone)).date()

        # 25 hours later the last 24 hours are empty; the chart still shows the day.
        clock.advance(hours=25)
        later = service.get_overview(7, "UTC")
        assert later.last_day.total == 0 and later.failures[0].session_id == failed.id
        # By date, not by position: run after 23:00 UTC, 25 hours later is two days on.
        assert later.days[-1].day == clock.now.date()
        by_day = {d.day: (d.success, d.failed) for d in later.days}
        assert by_day[failed.created.date()] == (1, 1)
        assert by_day[clock.now.date()] == (0, 0)
    finally:
        shutdown_service(service, gate)


def test_an_unknown_time_zone_or_day_count_is_refused_in_words(
        service: BackupService) -> None:
    with pytest.raises(InvalidInput, match="Unknown time zone 'Mars/Olympus'.*IANA"):
        service.get_overview(7, "Mars/Olympus")
    with pytest.raises(InvalidInput, match="1 to 31 days"):
        service.get_overview(0)
