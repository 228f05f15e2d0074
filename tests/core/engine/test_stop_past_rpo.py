"""Gracefully, only for computers past their RPO (issue 25, item 4): computers in
progress past their RPO finish, the others are cancelled now (no point), none new
starts; and the stop preview's cost of each choice (how old each computer's newest
point will be). On an injected clock, with gates holding the computers."""
from __future__ import annotations

from datetime import timezone
from pathlib import Path

import pytest

from core.errors import JobStateError
from core.models import (
    Computer, JobDefinition, JobNotify, SessionResult, StopMode, TaskStatus,
)
from core.service.facade import BackupService
from tests.conftest import make_tree
from tests.support.clock import FakeClock
from tests.support.gate import TaskGate

UTC = timezone.utc


def job_with(service: BackupService, tmp_path: Path, rpo: int | None = 24) -> None:
    computers = tuple(Computer(name=c, path=str(make_tree(tmp_path / c, seed=i)))
                      for i, c in enumerate(("late", "fresh", "waiting")))
    service.create_job(JobDefinition(name="J", computers=computers, task_slots=2,
                                     notify=JobNotify(rpo_hours=rpo)))


def late_and_fresh(svc: BackupService, clock: FakeClock, gate: TaskGate) -> str:
    """Points for all at 10:30; 30 h later a session gives 'fresh' a new one ('late' is
    held and stopped); an hour later the session under test holds 'late' and 'fresh' in
    flight ('waiting' not started): 'late' is 31 h past its point, 'fresh' 1 h."""
    svc.wait_session(svc.start_job("J"), timeout=20)
    clock.advance(hours=30)
    gate.hold("late", "waiting")
    first = svc.start_job("J")
    assert gate.wait_held("late")
    assert gate.wait_held("waiting")
    svc.stop_job("J", StopMode.IMMEDIATELY)
    gate.release_all()
    svc.wait_session(first, timeout=20)
    clock.advance(hours=1)
    gate.hold("late", "fresh")
    session_id = svc.start_job("J")
    assert gate.wait_held("late") and gate.wait_held("fresh")
    return session_id


def test_only_the_computer_past_its_rpo_finishes(
        svc: BackupService, tmp_path: Path, gate: TaskGate, clock: FakeClock) -> None:
    job_with(svc, tmp_path)
    session_id = late_and_fresh(svc, clock, gate)
    before = {p.id for p in svc.list_points("J")}

    preview = svc.stop_preview("J")
    assert preview.rpo_hours == 24 and preview.finishes_past_rpo == ["late"]
    cost = {c.computer: c for c in preview.costs}
    assert cost["late"].immediately.past_rpo and cost["late"].immediately.age_seconds == 31 * 3600
    assert not cost["late"].gracefully.past_rpo and cost["late"].gracefully.gets_point
    assert not cost["late"].gracefully_past_rpo.past_rpo
    assert cost["fresh"].immediately.age_seconds == 3600 and not cost["fresh"].immediately.past_rpo
    assert cost["fresh"].gracefully.gets_point and not cost["fresh"].gracefully_past_rpo.gets_point
    assert not cost["fresh"].gracefully_past_rpo.past_rpo
    # 'waiting' is not started: it gets no point under any choice; its newest is 31 h old
    assert cost["waiting"].where == "not_started"
    assert all(getattr(cost["waiting"], m).past_rpo for m in
               ("immediately", "gracefully", "gracefully_past_rpo"))

    outcome = svc.stop_job("J", StopMode.GRACEFULLY_PAST_RPO)
    assert outcome.gracefully_past_rpo_gets_point == ["late"]
    gate.release_all()
    session = svc.wait_session(session_id, timeout=20)
    status = {t.computer: t.status for t in session.tasks}
    assert status == {"late": TaskStatus.SUCCESS, "fresh": TaskStatus.CANCELLED,
                      "waiting": TaskStatus.SKIPPED}
    assert session.stop_mode is StopMode.GRACEFULLY_PAST_RPO
    assert session.result is SessionResult.FAILED        # a computer was cancelled
    new = [p for p in svc.list_points("J") if p.id not in before]
    assert [p.computer for p in new] == ["late"]
    log = [i.text for i in session.log]
    assert any("Finishing: late; cancelled now (no new restore point): fresh" in t for t in log)
    assert log[-1].startswith("Job stopped gracefully, only computers past their RPO by ")
    fresh = next(t for t in session.tasks if t.computer == "fresh")
    assert any("within its RPO" in i.text for i in fresh.log)


def test_a_job_without_an_rpo_refuses_the_choice(
        svc: BackupService, tmp_path: Path, gate: TaskGate) -> None:
    job_with(svc, tmp_path, rpo=None)
    gate.hold("late")
    session_id = svc.start_job("J")
    assert gate.wait_held("late")
    with pytest.raises(JobStateError, match="has no RPO.*--rpo HOURS"):
        svc.stop_job("J", StopMode.GRACEFULLY_PAST_RPO)
    assert svc.get_session(session_id).stop_mode is None     # nothing was stopped
    preview = svc.stop_preview("J")
    assert preview.rpo_hours is None and preview.finishes_past_rpo == []
    assert not any(c.immediately.past_rpo for c in preview.costs)
