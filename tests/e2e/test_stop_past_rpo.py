"""Gracefully, only for computers past their RPO, through a real server process: the
CLI (``agent-jobs stop NAME --gracefully-past-rpo``) and REST (``{"mode":
"gracefullyPastRpo"}``, and ``stopPreview``'s cost of each choice). 'recent' has a
fresh restore point, 'new' none (past any RPO); both are in flight (4 MiB each at
0.5 MB/s) when the job is stopped: only 'new' gets a point."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from tests.conftest import wait_until
from tests.e2e.test_server_process import Server, agent_jobs, as_json, server  # noqa: F401

JOB = "RPO job"


def both_in_flight(data: Path, tmp_path: Path) -> None:
    recent, new = tmp_path / "recent", tmp_path / "new"
    recent.mkdir()
    (recent / "a.txt").write_text("first")
    made = agent_jobs(data, "job", "create", JOB, "--tasks", "2", "--rpo", "1",
                      "--computer", f"recent={recent}")
    assert made.returncode == 0, made.stderr
    assert agent_jobs(data, "start", JOB, "--wait").returncode == 0   # recent: a fresh point
    new.mkdir()
    for folder in (recent, new):
        (folder / "data.bin").write_bytes(os.urandom(4 << 20))
    changed = agent_jobs(data, "job", "set", JOB, "--throttle", "0.5",
                         "--computer", f"recent={recent}", "--computer", f"new={new}")
    assert changed.returncode == 0, changed.stderr
    assert agent_jobs(data, "start", JOB).returncode == 0

    def reading() -> bool:
        sessions = as_json(data, "sessions", JOB)
        return sum(t["status"] == "In progress" and t["bytes_read"] > 0
                   for t in sessions[0]["tasks"]) == 2
    wait_until(reading, timeout=30)


def test_cli_stop_gracefully_past_rpo(server: Server, tmp_path: Path) -> None:  # noqa: F811
    data = server.data
    both_in_flight(data, tmp_path)
    stopped = agent_jobs(data, "stop", JOB, "--gracefully-past-rpo", "--wait")
    assert stopped.returncode == 0, stopped.stderr
    assert "gracefully, only computers past their RPO; new restore points for: new." \
        in stopped.stdout
    assert "Within the RPO of 1 h, cancelled now: recent." in stopped.stdout
    (latest, first) = as_json(data, "sessions", JOB)
    assert latest["stop_mode"] == "gracefullyPastRpo" and latest["result"] == "Failed"
    assert {t["computer"]: t["status"] for t in latest["tasks"]} == {
        "recent": "Cancelled", "new": "Success"}
    points = {(p["computer"], p["session_id"]) for p in as_json(data, "points", JOB)}
    assert points == {("recent", first["id"]), ("new", latest["id"])}


def test_cli_refuses_without_an_rpo(server: Server, tmp_path: Path) -> None:  # noqa: F811
    data = server.data
    (tmp_path / "pc").mkdir()
    (tmp_path / "pc" / "data.bin").write_bytes(os.urandom(16 << 20))   # 32 s
    assert agent_jobs(data, "job", "create", "Plain", "--throttle", "0.5",
                      "--computer", f"pc={tmp_path / 'pc'}").returncode == 0
    assert agent_jobs(data, "start", "Plain").returncode == 0
    refused = agent_jobs(data, "stop", "Plain", "--gracefully-past-rpo")
    assert refused.returncode == 1 and "has no RPO" in refused.stderr
    assert "--rpo HOURS" in refused.stderr and "Traceback" not in refused.stderr
    assert agent_jobs(data, "stop", "Plain", "--immediately", "--wait").returncode == 0


def test_rest_stop_preview_costs_and_mode(server: Server, tmp_path: Path) -> None:  # noqa: F811
    data = server.data
    both_in_flight(data, tmp_path)
    base = f"/jobs/{quote(JOB, safe='')}"
    preview = server.rest("GET", f"{base}/stopPreview").json()
    assert preview["rpo_hours"] == 1 and preview["finishes_past_rpo"] == ["new"]
    cost = {c["computer"]: c for c in preview["costs"]}
    assert cost["new"]["immediately"] == {"gets_point": False, "age_seconds": None,
                                          "past_rpo": True}
    assert cost["new"]["gracefully_past_rpo"]["gets_point"]
    assert not cost["new"]["gracefully_past_rpo"]["past_rpo"]
    assert not cost["recent"]["immediately"]["past_rpo"]
    assert 0 < cost["recent"]["immediately"]["age_seconds"] < 600
    assert not cost["recent"]["gracefully_past_rpo"]["gets_point"]

    bad = server.rest("POST", f"{base}/stop", json={"mode": "immediately", "gracefulStop": True})
    assert bad.status_code == 400 and "contradicts" in bad.json()["error"]
    unknown = server.rest("POST", f"{base}/stop", json={"mode": "sometimes"})
    assert unknown.status_code == 422
    answer = server.rest("POST", f"{base}/stop", json={"mode": "gracefullyPastRpo"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["stop_mode"] == "gracefullyPastRpo"
    assert answer.json()["finishes_past_rpo"] == ["new"]
    ended = server.rest("GET", f"/sessions/{answer.json()['session_id']}/wait",
                        params={"timeout": 30}).json()
    assert ended["state"] == "Stopped", ended
    assert {t["computer"]: t["status"] for t in ended["tasks"]} == {
        "recent": "Cancelled", "new": "Success"}
