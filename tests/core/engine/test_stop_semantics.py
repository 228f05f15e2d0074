"""Start and stop semantics of the engine, timed with a gate, never with luck."""
from __future__ import annotations

import pytest

from core.errors import JobStateError
from core.models import SessionResult, StopMode, TaskStatus
from tests.conftest import points_by_computer, wait_until


def statuses(session) -> dict[str, TaskStatus]:
    return {t.computer: t.status for t in session.tasks}


def test_manual_start_adds_one_point_per_computer(service, make_job):
    make_job("Servers", computers=3, task_slots=2)
    sid = service.start_job("Servers")
    session = service.wait_session(sid, timeout=30)
    assert session.result is SessionResult.SUCCESS
    assert points_by_computer(service, "Servers") == {"pc1": 1, "pc2": 1, "pc3": 1}
    sid = service.start_job("Servers")
    service.wait_session(sid, timeout=30)
    assert points_by_computer(service, "Servers") == {"pc1": 2, "pc2": 2, "pc3": 2}
    job = service.get_job("Servers")
    assert job.next_run is None and job.last_result is SessionResult.SUCCESS


def start_with_held(service, make_job, gate, slots: int) -> tuple[str, list[str]]:
    """slots=1: pc1 done, pc2 held in progress, pc3 not started.
    slots=2: pc1 done, pc2 and pc3 held in progress, pc4 not started."""
    make_job("Job", computers=4 if slots == 2 else 3, task_slots=slots)
    held = ["pc2", "pc3"] if slots == 2 else ["pc2"]
    gate.hold(*held)
    sid = service.start_job("Job")
    for c in held:
        assert gate.wait_held(c)
    return sid, held


@pytest.mark.parametrize("slots", [1, 2])
def test_stop_immediately_keeps_only_completed(service, make_job, gate, slots):
    sid, held = start_with_held(service, make_job, gate, slots)
    outcome = service.stop_job("Job", StopMode.IMMEDIATELY)
    assert outcome.completed == ["pc1"] and outcome.in_progress == held
    session = service.wait_session(sid, timeout=10)
    assert points_by_computer(service, "Job") == {"pc1": 1}
    st = statuses(session)
    assert st["pc1"] is TaskStatus.SUCCESS
    assert all(st[c] is TaskStatus.CANCELLED for c in held)
    assert st[f"pc{len(st)}"] is TaskStatus.SKIPPED
    assert session.result is SessionResult.FAILED
    assert session.stop_mode is StopMode.IMMEDIATELY
    assert service.repository_point_ids() == {p.id for p in service.list_points()}


@pytest.mark.parametrize("slots", [1, 2])
def test_stop_gracefully_finishes_computers_in_progress(service, make_job, gate, slots):
    sid, held = start_with_held(service, make_job, gate, slots)
    service.stop_job("Job", StopMode.GRACEFULLY)
    assert service.get_job("Job").status.value == "Stopping"
    gate.release_all()
    session = service.wait_session(sid, timeout=10)
    expected = {"pc1": 1, **{c: 1 for c in held}}
    assert points_by_computer(service, "Job") == expected
    assert statuses(session)[f"pc{len(session.tasks)}"] is TaskStatus.SKIPPED
    assert session.result is SessionResult.WARNING
    assert session.stop_mode is StopMode.GRACEFULLY


def test_immediately_escalates_a_graceful_stop(service, make_job, gate):
    make_job("Job", computers=3, task_slots=1)
    gate.hold("pc2")
    sid = service.start_job("Job")
    assert gate.wait_held("pc2")
    service.stop_job("Job", StopMode.GRACEFULLY)
    service.stop_job("Job", StopMode.IMMEDIATELY)
    session = service.wait_session(sid, timeout=10)
    assert points_by_computer(service, "Job") == {"pc1": 1}
    assert statuses(session)["pc2"] is TaskStatus.CANCELLED
    assert session.result is SessionResult.FAILED


def test_immediate_stop_cancels_mid_file_promptly(service, tmp_path):
    from core.models import Computer, JobDefinition

    src = tmp_path / "big"
    src.mkdir()
    (src / "large.bin").write_bytes(b"\x01" * (48 << 20))
    service.create_job(JobDefinition(name="Big", throttle_mbps=2,
                                     computers=(Computer(name="pc1", path=str(src)),)))
    sid = service.start_job("Big")
    wait_until(lambda: service.get_session(sid).tasks[0].bytes_read > 0)
    service.stop_job("Big", StopMode.IMMEDIATELY)
    # At 2 MB/s the file would take 24 s; the stop must end the session within a second.
    session = service.wait_session(sid, timeout=1.0)
    assert session.state.value == "Stopped"
    assert session.tasks[0].status is TaskStatus.CANCELLED
    assert service.list_points("Big") == []


def test_start_errors(service, make_job):
    from core.errors import NotFound

    make_job("Job", computers=1)
    with pytest.raises(NotFound):
        service.start_job("Nope")
    with pytest.raises(JobStateError, match="not running"):
        service.stop_job("Job", StopMode.GRACEFULLY)
    service.set_job_enabled("Job", False)
    with pytest.raises(JobStateError, match="disabled"):
        service.start_job("Job")


def test_starting_a_running_job_is_an_error(service, make_job, gate):
    make_job("Job", computers=2, task_slots=1)
    gate.hold("pc1")
    sid = service.start_job("Job")
    assert gate.wait_held("pc1")
    with pytest.raises(JobStateError, match="already running"):
        service.start_job("Job")
    gate.release_all()
    service.wait_session(sid, timeout=10)


def test_retry_processes_only_failed_computers(service, make_job, gate):
    make_job("Job", computers=3, task_slots=1)
    gate.hold("pc2")
    sid = service.start_job("Job")
    assert gate.wait_held("pc2")
    service.stop_job("Job", StopMode.IMMEDIATELY)
    service.wait_session(sid, timeout=10)
    assert service.retry_candidates("Job") == ["pc2", "pc3"]
    gate.release_all()
    sid = service.start_job("Job", retry=True)
    session = service.wait_session(sid, timeout=10)
    assert [t.computer for t in session.tasks] == ["pc2", "pc3"]
    assert points_by_computer(service, "Job") == {"pc1": 1, "pc2": 1, "pc3": 1}
    with pytest.raises(JobStateError, match="Nothing to retry"):
        service.start_job("Job", retry=True)
