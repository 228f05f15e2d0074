"""The jobs list (issue 11): right answers, one SQL query whatever the number
of jobs and sessions, and the REST ``/jobs`` route with ``names``."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from core.catalogue.overview import _SQL
from core.models import JobDefinition, JobStatus, SessionResult
from core.api.client import ServerClient
from core.service.facade import BackupService
from tests.conftest import wait_until
from tests.support.gate import TaskGate
from tests.support.server import start_server, stop_server

MakeJob = Callable[..., JobDefinition]


def _past_sessions(service: BackupService, job: str, count: int,
                   result: SessionResult = SessionResult.SUCCESS) -> datetime:
    """Finished backup sessions written straight into the catalogue (as many
    as a long-lived server gathers); returns the newest one's start."""
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = [(str(uuid.uuid4()), job, "Stopped", result.value, "Scheduled", 0,
             (start + timedelta(minutes=n)).isoformat(), "[]", "Backup")
            for n in range(count)]
    with service.catalogue._tx() as db:   # noqa: SLF001 - bulk history for the test
        db.executemany("INSERT INTO sessions(id, job, state, result, run_kind, full, created, "
                       "log, type) VALUES (?,?,?,?,?,?,?,?,?)", rows)
    return start + timedelta(minutes=count - 1)


def _selects(service: BackupService, call: Callable[[], object]) -> int:
    """How many SELECT statements ``call`` runs on this thread's connection."""
    seen: list[str] = []
    conn = service.catalogue._conn()   # noqa: SLF001
    conn.set_trace_callback(seen.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    return sum(1 for s in seen if s.lstrip().upper().startswith("SELECT"))


def test_each_job_shows_its_newest_session_and_its_last_result(
        service: BackupService, make_job: MakeJob, gate: TaskGate) -> None:
    make_job("Never", computers=1)
    make_job("Ran", computers=1)
    make_job("Off", computers=1, enabled=False)
    newest = _past_sessions(service, "Ran", 5, SessionResult.WARNING)

    jobs = {j.name: j for j in service.list_jobs()}
    assert list(jobs) == ["Never", "Off", "Ran"]
    assert (jobs["Never"].status, jobs["Never"].last_run, jobs["Never"].last_result) == \
        (JobStatus.IDLE, None, None)
    assert jobs["Off"].status is JobStatus.DISABLED
    assert (jobs["Ran"].status, jobs["Ran"].last_run, jobs["Ran"].last_result) == \
        (JobStatus.IDLE, newest, SessionResult.WARNING)

    gate.hold("pc1")
    sid = service.start_job("Ran")
    assert gate.wait_held("pc1")
    running = service.list_jobs(["ran"])   # names match as job names do: any case
    assert [j.name for j in running] == ["Ran"]
    job = running[0]
    assert (job.status, job.active_session_id) == (JobStatus.WORKING, sid)
    assert job.last_result is SessionResult.WARNING   # the last finished session's
    assert job.last_run is not None and job.last_run > newest
    assert service.get_job("Ran") == job

    gate.release("pc1")
    wait_until(lambda: service.get_job("Ran").status is JobStatus.IDLE)
    assert service.get_job("Ran").last_result is SessionResult.SUCCESS
    assert service.list_jobs(["Nobody", "Never"])[0].name == "Never"
    assert [j.name for j in service.list_jobs(["Nobody"])] == []
    assert service.list_jobs([]) == []


def test_listing_jobs_is_one_query_whatever_the_jobs_and_sessions(
        service: BackupService, make_job: MakeJob, gate: TaskGate) -> None:
    make_job("A", computers=1)
    small = _selects(service, service.list_jobs)
    for n in range(30):
        make_job(f"J{n:02d}", computers=1)
        _past_sessions(service, f"J{n:02d}", 20)
    gate.hold("pc1")
    for n in range(5):   # running jobs too: their last result comes in the same query
        service.start_job(f"J{n:02d}")
    assert _selects(service, service.list_jobs) == small == 1
    # Unchanged definitions are parsed once, not at every listing.
    first, again = service.list_jobs(), service.list_jobs()
    assert all(a.definition is b.definition for a, b in zip(first, again, strict=True))


def test_the_jobs_query_seeks_by_index_rather_than_scanning_the_sessions(
        service: BackupService) -> None:
    plan = " ".join(str(tuple(r)) for r in service.catalogue._conn().execute(  # noqa: SLF001
        "EXPLAIN QUERY PLAN " + _SQL, ("Backup", "Backup", "Stopped")))
    assert "sessions_type_job" in plan
    assert "SCAN s" not in plan and "SCAN sessions" not in plan


def test_the_server_lists_every_job_or_the_named_ones(tmp_path: Path, gate: TaskGate) -> None:
    runtime = start_server(tmp_path / "data", gate)
    client = ServerClient(runtime.data_dir, autostart=False)
    try:
        for name in ("Alpha", "Beta", "Gamma"):
            root = tmp_path / name
            root.mkdir()
            client.create_job(JobDefinition(name=name, computers=(
                {"name": "pc1", "path": str(root)},)))   # type: ignore[arg-type]
        assert [j.name for j in client.list_jobs()] == ["Alpha", "Beta", "Gamma"]
        assert [j.name for j in client.list_jobs(["gamma", "Nobody", "Alpha"])] == \
            ["Alpha", "Gamma"]
        assert client.list_jobs([]) == []
        assert client.list_jobs(["Beta"])[0] == client.get_job("Beta")
    finally:
        client.close()
        stop_server(runtime, gate)

