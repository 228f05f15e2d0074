"""``GET /metrics`` of a real ``agent-jobs server run --listen`` process, parsed
with prometheus-client's own parser, against what the REST API says."""
from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.api.sockets import unix_address
from core.paths import server_socket_path
from tests.e2e.test_server_process import Server


def scrape(server: Server) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of ``/metrics``: {family: {labels: value}}."""
    answer = httpx.get(f"{server.url}/metrics", timeout=30,
                       headers={"Authorization": f"Bearer {server.token}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    families: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(answer.text):
        assert family.type == "gauge", family.name
        for sample in family.samples:
            families.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = \
                sample.value
    return families


def by(label: str, samples: dict[tuple[tuple[str, str], ...], float]) -> dict[str, float]:
    return {dict(labels)[label]: value for labels, value in samples.items()}


def run_to_end(server: Server, job: str) -> dict:
    started = server.rest("POST", f"/jobs/{quote(job)}/start", json={})
    assert started.status_code == 200, started.text
    session = server.rest("GET", f"/sessions/{started.json()['session_id']}/wait",
                          params={"timeout": 30})
    assert session.json()["state"] == "Stopped", session.text
    return dict(session.json())


@pytest.fixture
def server(tmp_path: Path):
    srv = Server(tmp_path / "data")
    yield srv
    srv.stop()


def test_metrics_report_jobs_sessions_and_repositories(server: Server, tmp_path: Path) -> None:
    for name, files in (("good", 3), ("gone", 1), ("slow", 0)):
        (tmp_path / name).mkdir()
        for i in range(files):
            (tmp_path / name / f"f{i}.bin").write_bytes(os.urandom(50_000 + i))
    (tmp_path / "slow" / "big.bin").write_bytes(os.urandom(8 << 20))
    for job, folder, extra in (("Nightly Ünïcode", "good", {}), ("Broken", "gone", {}),
                               ("Slow", "slow", {"throttle_mbps": 1})):
        made = server.rest("POST", "/jobs", json={
            "name": job, "computers": [{"name": "pc1", "path": str(tmp_path / folder)}],
            **extra})
        assert made.status_code == 201, made.text
    good = run_to_end(server, "Nightly Ünïcode")
    assert good["result"] == "Success"
    shutil.rmtree(tmp_path / "gone")   # its computer's folder vanished: the session fails
    broken = run_to_end(server, "Broken")
    assert broken["result"] == "Failed"

    m = scrape(server)
    assert by("job", m["agent_job_last_result"]) == {"Nightly Ünïcode": 0, "Broken": 2}
    read = sum(t["bytes_read"] for t in good["tasks"])
    stored = sum(t["bytes_transferred"] for t in good["tasks"])
    assert read == 150_003 and 0 < stored
    assert by("job", m["agent_job_last_read_bytes"]) == {"Nightly Ünïcode": read, "Broken": 0}
    assert by("job", m["agent_job_last_stored_bytes"])["Nightly Ünïcode"] == stored
    ended = datetime.fromisoformat(good["ended"])
    duration = (ended - datetime.fromisoformat(good["created"])).total_seconds()
    assert by("job", m["agent_job_last_duration_seconds"])["Nightly Ünïcode"] == \
        pytest.approx(duration)
    # only the job that made restore points has a last success; Slow never ran
    assert by("job", m["agent_job_last_success_timestamp_seconds"]) == \
        {"Nightly Ünïcode": pytest.approx(ended.timestamp())}
    assert by("type", m["agent_running_sessions"]) == \
        {"Backup": 0, "Restore": 0, "Verify": 0, "Maintenance": 0, "Copy": 0}
    (repo,) = server.rest("GET", "/repositories").json()
    assert by("repository", m["agent_repository_up"]) == {repo["name"]: 1}
    assert by("repository", m["agent_repository_used_bytes"]) == {repo["name"]:
                                                                  repo["used_bytes"]}
    assert repo["used_bytes"] >= stored
    assert by("repository", m["agent_repository_free_bytes"])[repo["name"]] > 0
    assert by("repository", m["agent_repository_capacity_bytes"])[repo["name"]] == \
        repo["capacity_bytes"]
    assert m["agent_notification_failures_total"] == {(): 0}

    # a session running now counts at once; a job still on its first run has no result
    started = server.rest("POST", "/jobs/Slow/start", json={})
    assert started.status_code == 200, started.text
    try:
        m = scrape(server)
        assert by("type", m["agent_running_sessions"])["Backup"] == 1
        assert "Slow" not in by("job", m["agent_job_last_result"])
    finally:
        server.rest("POST", "/jobs/Slow/stop", json={"gracefulStop": False})
        server.rest("GET", f"/sessions/{started.json()['session_id']}/wait",
                    params={"timeout": 30})
    m = scrape(server)
    assert by("job", m["agent_job_last_result"])["Slow"] == 2   # stopped immediately: Failed
    assert by("type", m["agent_running_sessions"])["Backup"] == 0


def test_metrics_are_guarded_as_the_api_is(server: Server) -> None:
    """TCP needs the bearer token; the owner-only Unix socket is the API's too."""
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        refused = httpx.get(f"{server.url}/metrics", headers=headers, timeout=30)
        assert refused.status_code == 401
        assert refused.json()["kind"] == "Unauthorized" and "agent_" not in refused.text
    assert "agent_running_sessions" in scrape(server)   # the same request with the token
    transport = httpx.HTTPTransport(uds=unix_address(server_socket_path(server.data)))
    with httpx.Client(transport=transport, base_url="http://agent-jobs") as local:
        answer = local.get("/metrics", timeout=30)
    assert answer.status_code == 200 and "agent_repository_up{" in answer.text
