"""Who started and stopped a session: a named user (once authentication names one)
appears in the session's log, its "Stopped by ..." text and the audit trail; the
server's own Unix user stays "user", as on a single-machine install."""
from __future__ import annotations

from core.api.text import stopped_text
from core.models import StopMode
from core.service.audit import Actor, acting_as, identify
from tests.conftest import wait_until


def test_a_named_user_is_who_started_and_stopped_the_session(service, make_job, gate) -> None:
    make_job("Nightly", computers=1, files=3)
    gate.hold("pc1")
    with acting_as(Actor("local", "192.0.2.7")):
        identify("alice")      # as authentication does, on the request's actor
        sid = service.start_job("Nightly")
        assert gate.wait_held("pc1")
    with acting_as(Actor("local", "192.0.2.8")):
        identify("bob")
        service.stop_job("Nightly", StopMode.IMMEDIATELY)
    gate.release_all()
    session = service.wait_session(sid, timeout=10)
    texts = [item.text for item in session.log]
    assert any(t.startswith("Job started manually by alice") for t in texts), texts
    assert any(t.startswith("Stop requested by bob: immediately") for t in texts), texts
    assert stopped_text(session) == "Stopped by bob (immediately)"
    rows = {r.action: r for r in service.list_audit()}
    assert (rows["session.start"].user, rows["session.start"].origin) == ("alice", "192.0.2.7")
    assert (rows["session.stop"].user, rows["session.stop"].origin) == ("bob", "192.0.2.8")
    assert rows["session.stop"].details == {"mode": "immediately"}
    assert rows["job.create"].user == "local"


def test_the_servers_own_user_stays_user_and_the_scheduler_is_named(service, make_job) -> None:
    make_job("Nightly", computers=1, files=1)
    sid = service.start_job("Nightly")
    session = service.wait_session(sid, timeout=10)
    assert any(i.text.startswith("Job started manually by user") for i in session.log)
    sid = service.start_scheduled("Nightly", retry=False)
    service.wait_session(sid, timeout=10)
    wait_until(lambda: len(service.list_audit()) == 3)
    scheduled = service.list_audit()[0]
    assert (scheduled.action, scheduled.user, scheduled.details) == (
        "session.start", "scheduler", {"scheduled": True, "session": sid})
    assert service.verify_audit().intact


def test_a_start_of_several_jobs_is_one_entry_per_job_with_its_own_outcome(
        service, make_job) -> None:
    make_job("Nightly", computers=1, files=1)
    outcome = service.start_jobs(["Nightly", "Missing"])
    service.wait_session(outcome.sessions["Nightly"], timeout=10)
    started, refused = sorted((r for r in service.list_audit() if r.action == "session.start"),
                              key=lambda r: r.target != "Nightly")
    assert (started.target, started.result) == ("Nightly", "done")
    assert started.details == {"session": outcome.sessions["Nightly"]}
    assert refused.target == "Missing" and refused.result.startswith("refused: No job named")


def test_since_in_another_time_zone_means_the_same_moment(service, make_job) -> None:
    from datetime import timedelta, timezone

    make_job("Nightly", computers=1, files=1)
    tokyo = timezone(timedelta(hours=9))
    now = service.list_audit()[0].at.astimezone(tokyo)
    assert [r.action for r in service.list_audit(since=now - timedelta(hours=1))] == ["job.create"]
    assert service.list_audit(since=now + timedelta(hours=1)) == []
