"""Backup copy jobs end to end: a real ``agent-jobs server`` process, the CLI
(``copy create``, ``job set``, ``start``, ``points``, ``sessions``) and REST (``POST
/copyJobs``, ``GET /restorePoints?job=``)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cli import main
from tests.conftest import make_tree
from tests.e2e.test_server_process import Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data")
    yield srv
    srv.stop()


def test_copy_job_from_the_cli_and_rest(server: Server, tmp_path: Path, capsys) -> None:
    def cli(*args: str, code: int = 0) -> str:
        got = main(["--data-dir", str(server.data), *args])
        out, err = capsys.readouterr()
        assert got == code, out + err
        return out if code == 0 else err

    src = make_tree(tmp_path / "pc1", files=3)
    make_tree(tmp_path / "pc2", files=2, seed=5)
    (tmp_path / "pw").write_text("copy-password-9\n")
    cli("job", "create", "Nightly", "--computer", f"pc1={src}",
        "--computer", f"pc2={tmp_path / 'pc2'}")
    cli("repository", "add", "Offsite repo", "--url", str(tmp_path / "offsite"),
        "--password-file", str(tmp_path / "pw"))
    out = cli("copy", "create", "Offsite", "--source", "Nightly", "--repository", "Offsite repo",
              "--retain", "3", "--keep-weekly", "2", "--daily", "23:00",
              "--window", "20:00-06:00")
    assert "copies the restore points of job 'Nightly' into repository Offsite repo" in out
    assert "no job named 'Ghost'" in cli("copy", "create", "X", "--source", "Ghost",
                                         "--repository", "Offsite repo", code=1)
    assert "already keeps its points" in cli("copy", "create", "X", "--source", "Nightly",
                                             "--repository", "Default Backup Repository",
                                             code=1)
    assert "no computers of its own" in cli("job", "set", "Offsite", "--computer",
                                            f"pc9={src}", code=1)
    cli("job", "set", "Offsite", "--retain", "4", "--tasks", "1")
    shown = json.loads(cli("job", "show", "Offsite", "--json"))
    assert shown["type"] == "Backup Copy" and shown["copy_source"] == "Nightly"
    assert shown["definition"]["retain_points"] == 4
    assert shown["definition"]["gfs"]["keep_weekly"] == 2
    assert shown["definition"]["schedule"]["window"] is not None

    cli("start", "Nightly", "--wait")
    assert "Success" in cli("start", "Offsite", "--wait", "--outside-window")
    points = json.loads(cli("points", "Offsite", "--json"))
    assert [(p["computer"], p["repository"], p["job"]) for p in points] == [
        ("pc1", "Offsite repo", "Offsite"), ("pc2", "Offsite repo", "Offsite")]
    (session,) = json.loads(cli("sessions", "Offsite", "--json"))
    assert session["type"] == "Copy" and session["result"] == "Success"
    assert [(t["computer"], t["points_copied"]) for t in session["tasks"]] == \
        [("pc1", 1), ("pc2", 1)]
    assert all(t["bytes_read"] > 0 and t["bytes_transferred"] > 0 for t in session["tasks"])
    text = cli("session", "show", session["id"])
    assert "Copy of Offsite" in text and "1 point(s) copied" in text
    cli("restore", points[0]["id"], str(tmp_path / "restored"))
    assert (tmp_path / "restored" / "file_001.dat").read_bytes() == \
        (src / "file_001.dat").read_bytes()

    made = server.rest("POST", "/copyJobs", json={
        "name": "Second copy", "source": "Nightly", "repository": "Offsite repo",
        "retain_points": 2, "gfs": {"keep_monthly": 3}})
    assert made.status_code == 201, made.text
    assert made.json()["definition"]["kind"] == "backup_copy"
    assert made.json()["definition"]["copy_source"] == "Nightly"
    refused = server.rest("POST", "/copyJobs", json={
        "name": "Bad", "source": "Offsite", "repository": "Default Backup Repository"})
    assert refused.status_code == 400 and "itself a backup copy job" in refused.json()["error"]
    started = server.rest("POST", "/jobs/Second%20copy/start")
    assert started.status_code == 200, started.text
    done = server.rest("GET", f"/sessions/{started.json()['session_id']}/wait",
                       params={"timeout": 30}).json()
    assert done["type"] == "Copy" and done["result"] == "Success", done
    listed = server.rest("GET", "/restorePoints", params={"job": "Second copy"}).json()
    assert sorted(p["computer"] for p in listed) == ["pc1", "pc2"]
    history = server.rest("POST", "/history", json={"types": ["Copy"]}).json()
    assert sorted(s["job"] for s in history["sessions"]) == ["Offsite", "Second copy"]
