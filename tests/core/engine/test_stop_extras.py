"""Stop, beyond the reference console: how long a graceful stop will take, a
graceful stop with a deadline, and backup windows that stop jobs. Deadlines
and windows run on an injected clock; the estimate on a throttled job whose
rate is known."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.errors import OutsideBackupWindow
from core.models import (
    Computer, JobDefinition, SessionResult, StopMode, TaskInfo, TaskStatus,
)
from core.scheduling import BackupWindow, Schedule, ScheduleKind
from core.service.facade import BackupService
from tests.conftest import make_tree, shutdown_service, wait_until
from tests.support.clock import FakeClock
from tests.support.gate import TaskGate

UTC = timezone.utc


def two_computer_job(service: BackupService, tmp_path: Path, name: str = "J",
                     **options: object) -> JobDefinition:
    computers = tuple(Computer(name=c, path=str(make_tree(tmp_path / name / c)))
                      for c in ("pc1", "pc2"))
    job = JobDefinition(name=name, computers=computers, task_slots=1, **options)
    service.create_job(job)
    return job


def test_graceful_stop_with_a_deadline_turns_immediate(
        svc: BackupService, tmp_path: Path, gate: TaskGate, clock: FakeClock) -> None:
    two_computer_job(svc, tmp_path)
    gate.hold("pc1")
    session_id = svc.start_job("J")
    assert gate.wait_held("pc1")
    outcome = svc.stop_job("J", StopMode.GRACEFULLY, escalate_after_s=600)
    assert outcome.in_progress == ["pc1"] and outcome.not_started == ["pc2"]
    assert outcome.escalate_at == clock.now + timedelta(minutes=10)
    assert svc.stop_preview("J").escalate_at == outcome.escalate_at

    clock.advance(minutes=9)
    svc.keep_time()
    assert svc.get_session(session_id).state.is_active    # not yet
    clock.advance(minutes=1, seconds=1)
    svc.keep_time()                                         # the deadline passes
    session = svc.wait_session(session_id, timeout=10)
    assert session.stop_mode is StopMode.IMMEDIATELY and session.result is SessionResult.FAILED
    assert [t.status for t in session.tasks] == [TaskStatus.CANCELLED, TaskStatus.SKIPPED]
    log = [item.text for item in session.log]
    assert any("did not end the job within 10 min" in text for text in log)
    assert "pc1 was cancelled: no new restore point." in log
    assert log[-1].startswith("Job stopped immediately by the graceful stop's deadline.")
    assert session.stopped_by == "by the graceful stop's deadline"
    assert svc.list_points("J") == []


def test_a_deadline_does_not_outlive_a_session_that_ended(
        svc: BackupService, tmp_path: Path, gate: TaskGate, clock: FakeClock) -> None:
    two_computer_job(svc, tmp_path)
    gate.hold("pc1")
    session_id = svc.start_job("J")
    assert gate.wait_held("pc1")
    svc.stop_job("J", StopMode.GRACEFULLY, escalate_after_s=60)
    gate.release_all()
    session = svc.wait_session(session_id, timeout=10)
    assert session.stop_mode is StopMode.GRACEFULLY and session.result is SessionResult.WARNING
    assert svc.deadlines.seconds_until_next() is None
    clock.advance(minutes=5)
    assert svc.deadlines.check() == []
    assert {p.computer for p in svc.list_points("J")} == {"pc1"}


@pytest.mark.parametrize("terminate, mode, first, result", [
    (False, StopMode.GRACEFULLY, TaskStatus.SUCCESS, SessionResult.WARNING),
    (True, StopMode.IMMEDIATELY, TaskStatus.CANCELLED, SessionResult.FAILED),
])
def test_the_backup_window_stops_a_running_job(
        svc: BackupService, tmp_path: Path, gate: TaskGate, clock: FakeClock, terminate: bool,
        mode: StopMode, first: TaskStatus, result: SessionResult) -> None:
    window = BackupWindow(start="10:00", end="11:00", terminate=terminate)
    two_computer_job(svc, tmp_path, schedule=Schedule(
        kind=ScheduleKind.DAILY, at="10:15", window=window))
    gate.hold("pc1")
    session_id = svc.start_job("J")                 # 10:30, inside the window
    assert gate.wait_held("pc1")
    clock.advance(minutes=29)
    svc.keep_time()
    assert svc.get_session(session_id).stop_mode is None
    clock.advance(minutes=1)                         # 11:00: the window closes
    svc.keep_time()
    session = svc.get_session(session_id)
    assert session.stop_mode is mode
    assert any("Stopped by the backup window (10:00–11:00" in i.text for i in session.log)
    gate.release_all()
    session = svc.wait_session(session_id, timeout=10)
    assert [t.status for t in session.tasks] == [first, TaskStatus.SKIPPED]
    assert session.result is result
    assert f"Job stopped {mode.value} by the backup window." in session.log[-1].text


def test_a_manual_start_outside_the_window_must_be_confirmed(
        svc: BackupService, tmp_path: Path, clock: FakeClock) -> None:
    two_computer_job(svc, tmp_path, schedule=Schedule(
        kind=ScheduleKind.DAILY, at="22:00", window=BackupWindow(start="22:00", end="06:00")))
    with pytest.raises(OutsideBackupWindow, match="outside its backup window"):
        svc.start_job("J")
    session = svc.wait_session(svc.start_job("J", outside_window=True), timeout=10)
    assert session.result is SessionResult.SUCCESS
    assert svc.deadlines.seconds_until_next() is None   # no window to close on it


def test_estimates_on_a_throttled_job(tmp_path: Path) -> None:
    """2 MiB/s over a 6 MiB file: the estimate follows the measured rate."""
    gate = TaskGate(after_files=0)
    service = BackupService(tmp_path / "data", hooks=gate)
    try:
        src = tmp_path / "pc1"
        src.mkdir()
        (src / "big.bin").write_bytes(os.urandom(6 << 20))
        service.create_job(JobDefinition(name="T", throttle_mbps=2, computers=(
            Computer(name="pc1", path=str(src)),)))
        gate.hold("pc1")
        session_id = service.start_job("T")
        assert gate.wait_held("pc1")                     # in progress, nothing read yet
        (estimate,) = service.stop_preview("T").estimates
        assert estimate.progress == 0 and estimate.eta_seconds is None   # estimating...
        assert service.stop_preview("T").graceful_eta_seconds is None
        gate.release_all()

        # A rate exists after a second of reading: then the estimate appears.
        wait_until(lambda: service.stop_preview("T").estimates[0].eta_seconds is not None,
                   timeout=20)
        preview = service.stop_preview("T")
        task = service.get_session(session_id).tasks[0]
        (estimate,) = preview.estimates
        left_s = (task.bytes_total - task.bytes_processed) / (2 << 20)
        assert estimate.eta_seconds is not None
        assert abs(estimate.eta_seconds - left_s) <= 0.35 * left_s + 0.3
        assert 30 <= estimate.progress <= 80
        assert preview.graceful_eta_seconds == estimate.eta_seconds
        service.stop_job("T", StopMode.IMMEDIATELY)
        service.wait_session(session_id, timeout=10)
    finally:
        shutdown_service(service, gate)


def test_the_read_rate_limit_is_per_computer(tmp_path: Path) -> None:
    """2 MiB/s on a job of two computers read at once: each reads at about
    2 MiB/s (the wizard's "MB/s per computer"), not 1 MiB/s each."""
    gate = TaskGate(after_files=0)
    service = BackupService(tmp_path / "data", hooks=gate)
    try:
        computers = []
        for name in ("pc1", "pc2"):
            (tmp_path / name).mkdir()
            (tmp_path / name / "big.bin").write_bytes(os.urandom(8 << 20))
            computers.append(Computer(name=name, path=str(tmp_path / name)))
        service.create_job(JobDefinition(name="T", throttle_mbps=2, task_slots=2,
                                         computers=tuple(computers)))
        gate.hold("pc1")
        gate.hold("pc2")
        session_id = service.start_job("T")
        assert gate.wait_held("pc1") and gate.wait_held("pc2")
        gate.release_all()

        def tasks() -> list[TaskInfo]:
            return service.get_session(session_id).tasks

        wait_until(lambda: all(t.bytes_processed >= 6 << 20 for t in tasks()), timeout=30)
        now = datetime.now(UTC)
        for task in tasks():
            assert task.reading_since is not None
            rate = task.bytes_processed / (now - task.reading_since).total_seconds()
            assert rate > 1.5 * (1 << 20), (task.computer, rate)     # shared: 1 MiB/s
        service.stop_job("T", StopMode.IMMEDIATELY)
        service.wait_session(session_id, timeout=10)
    finally:
        shutdown_service(service, gate)


def test_the_backup_window_pauses_at_close_and_resumes_when_it_reopens(
        svc: BackupService, tmp_path: Path, gate: TaskGate, clock: FakeClock) -> None:
    """--window-stop pause: the window closes on the session, which is paused (not
    stopped); when the window opens again the next day it resumes and finishes."""
    window = BackupWindow(start="10:00", end="11:00", pause=True)
    two_computer_job(svc, tmp_path, schedule=Schedule(
        kind=ScheduleKind.DAILY, at="10:15", window=window))
    gate.hold("pc1")
    session_id = svc.start_job("J")                 # 10:30, inside the window
    assert gate.wait_held("pc1")
    clock.advance(minutes=30)                        # 11:00: the window closes
    svc.keep_time()
    assert svc.stop_preview("J").paused
    gate.release_all()                               # pc1 parks at the hold gate
    wait_until(lambda: svc.get_session(session_id).state.value == "Paused")
    session = svc.get_session(session_id)
    assert session.stop_mode is None
    assert any("Paused by the backup window (10:00–11:00" in i.text for i in session.log)
    clock.advance(hours=22, minutes=59)              # 09:59 the next day: still paused
    svc.keep_time()
    assert svc.get_session(session_id).state.value == "Paused"
    clock.advance(minutes=1)                         # 10:00: the window opens again
    svc.keep_time()
    session = svc.wait_session(session_id, timeout=30)
    assert [t.status for t in session.tasks] == [TaskStatus.SUCCESS, TaskStatus.SUCCESS]
    assert session.result is SessionResult.SUCCESS
    assert any("Resumed by the backup window" in i.text for i in session.log)
    assert {p.computer for p in svc.list_points("J")} == {"pc1", "pc2"}


def test_a_window_that_pauses_and_terminates_is_refused() -> None:
    with pytest.raises(ValueError, match="paused or terminated, not both"):
        BackupWindow(start="10:00", end="11:00", pause=True, terminate=True)
