"""The scheduler inside the backup server, on an injected clock: scheduled
runs, Next Run, manual starts that never move it, no double start, retries of
the failed computers only, and runs missed while the server was down."""
from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.models import Computer, JobDefinition, RunKind, SessionResult, TaskStatus
from core.scheduling import Schedule, ScheduleKind
from core.service.facade import BackupService
from tests.conftest import make_tree, shutdown_service
from tests.support.clock import FakeClock
from tests.support.gate import TaskGate

UTC = timezone.utc
START = datetime(2026, 11, 26, 9, 58, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def scheduled(tmp_path: Path, gate: TaskGate, clock: FakeClock) -> Iterator[BackupService]:
    svc = BackupService(tmp_path / "data", hooks=gate, clock=clock)
    svc.scheduler._tz = UTC   # pin the zone: the machine's may be anything
    yield svc
    shutdown_service(svc, gate)


def hourly_job(service: BackupService, tmp_path: Path, name: str = "Hourly",
               retries: int = 3) -> JobDefinition:
    computers = tuple(Computer(name=c, path=str(make_tree(tmp_path / name / c)))
                      for c in ("h1", "h2"))
    job = JobDefinition(name=name, computers=computers, task_slots=1, schedule=Schedule(
        kind=ScheduleKind.PERIODICALLY, every_minutes=60, retries=retries,
        retry_wait_minutes=10))
    service.create_job(job)
    return job


def test_next_run_is_computed_and_a_manual_start_never_moves_it(
        scheduled: BackupService, tmp_path: Path, clock: FakeClock) -> None:
    hourly_job(scheduled, tmp_path)
    assert scheduled.get_job("Hourly").next_run == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    session = scheduled.wait_session(scheduled.start_job("Hourly"), timeout=10)
    assert session.run_kind is RunKind.MANUAL and session.result is SessionResult.SUCCESS
    assert scheduled.get_job("Hourly").next_run == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    scheduled.set_job_enabled("Hourly", False)
    assert scheduled.get_job("Hourly").next_run is None


def test_a_due_job_starts_once_and_is_not_started_twice_while_running(
        scheduled: BackupService, tmp_path: Path, clock: FakeClock, gate: TaskGate,
        caplog: pytest.LogCaptureFixture) -> None:
    hourly_job(scheduled, tmp_path)
    assert scheduled.scheduler.tick() == []          # 09:58: nothing due
    clock.advance(minutes=3)                          # 10:01: the 10:00 run is due
    gate.hold("h1")
    assert scheduled.scheduler.tick() == ["Hourly"]
    assert gate.wait_held("h1")
    (session,) = scheduled.list_sessions("Hourly")
    assert session.run_kind is RunKind.SCHEDULED and session.state.is_active
    assert scheduled.scheduler.tick() == []          # the same occurrence never fires twice

    clock.advance(hours=1)                            # 11:01, still running
    with caplog.at_level(logging.WARNING, logger="core.scheduler"):
        assert scheduled.scheduler.tick() == []
    assert "still running" in caplog.text
    assert len(scheduled.list_sessions("Hourly")) == 1
    gate.release_all()
    assert scheduled.wait_session(session.id, timeout=10).result is SessionResult.SUCCESS
    assert scheduled.get_job("Hourly").next_run == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_a_failed_scheduled_run_retries_only_the_failed_computers(
        scheduled: BackupService, tmp_path: Path, clock: FakeClock) -> None:
    hourly_job(scheduled, tmp_path, retries=1)
    shutil.rmtree(tmp_path / "Hourly" / "h2")        # h2's folder went away
    assert scheduled.scheduler.tick() == []          # 09:58, the server's first tick
    clock.advance(minutes=3)
    assert scheduled.scheduler.tick() == ["Hourly"]
    first = scheduled.wait_session(scheduled.list_sessions("Hourly")[0].id, timeout=10)
    assert [t.status for t in first.tasks] == [TaskStatus.SUCCESS, TaskStatus.FAILED]
    assert scheduled.scheduler.pending_retry("Hourly") == clock.now + timedelta(minutes=10)

    clock.advance(minutes=9)
    assert scheduled.scheduler.tick() == []
    make_tree(tmp_path / "Hourly" / "h2")             # the folder is back
    clock.advance(minutes=1)
    assert scheduled.scheduler.tick() == ["Hourly"]
    retry = scheduled.wait_session(scheduled.list_sessions("Hourly")[0].id, timeout=10)
    assert [t.computer for t in retry.tasks] == ["h2"]
    assert retry.result is SessionResult.SUCCESS
    assert scheduled.scheduler.pending_retry("Hourly") is None
    assert {p.computer for p in scheduled.list_points("Hourly")} == {"h1", "h2"}


def test_runs_missed_while_the_server_was_down_are_logged_not_replayed(
        tmp_path: Path, gate: TaskGate, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    first = BackupService(tmp_path / "data", hooks=gate, clock=clock)
    first.scheduler._tz = UTC
    hourly_job(first, tmp_path)
    first.scheduler.tick()                            # 09:58: persists the last tick
    shutdown_service(first, gate)

    clock.advance(hours=3)                            # 12:58: 10:00, 11:00, 12:00 missed
    second = BackupService(tmp_path / "data", hooks=gate, clock=clock)
    second.scheduler._tz = UTC
    try:
        with caplog.at_level(logging.WARNING, logger="core.scheduler"):
            assert second.scheduler.tick() == []
        assert caplog.text.count("Missed scheduled run of job 'Hourly'") == 3
        assert second.list_sessions("Hourly") == []
        assert second.get_job("Hourly").next_run == datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    finally:
        shutdown_service(second, gate)


def test_a_server_with_a_schedule_is_not_idle(scheduled: BackupService, tmp_path: Path) -> None:
    assert not scheduled.has_schedules()
    hourly_job(scheduled, tmp_path)
    assert scheduled.has_schedules()
    scheduled.set_job_enabled("Hourly", False)
    assert not scheduled.has_schedules()
