"""End to end: the backup server is SIGKILLed in the middle of a backup to an
encrypted S3 repository (a real SeaweedFS). The next server says what
happened; the earlier point is still listed, restores byte-identical and
verifies; no partial point shows up; the next backup succeeds."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import make_tree, wait_until
from tests.reliability.helpers import agent_jobs

pytestmark = pytest.mark.timeout(300)


def test_a_killed_server_leaves_earlier_s3_points_restorable(
        tmp_path: Path, seaweed, s3_url: str) -> None:
    data = tmp_path / "data"
    env = {"AWS_ACCESS_KEY_ID": seaweed.access_key,
           "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}

    def run(*args: str):
        return agent_jobs(data, *args, env=env)

    def ok(*args: str) -> str:
        result = run(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def as_json(*args: str):
        return json.loads(ok(*args, "--json"))

    password = tmp_path / "pw"
    password.write_text("crash test password 0451")
    src = make_tree(tmp_path / "pc1", files=5, size=50_000)
    ok("repository", "add", "Cloud", "--url", s3_url, "--password-file", str(password))
    ok("job", "create", "K", "--computer", f"pc1={src}", "--repository", "Cloud",
       "--throttle", "1")
    assert "Success" in ok("start", "K", "--wait")
    (first,) = as_json("points", "K")

    (src / "big.bin").write_bytes(os.urandom(16 << 20))
    ok("start", "K")
    wait_until(lambda: any(t["bytes_read"] > (1 << 20) for s in as_json("sessions", "K")
                           if s["state"] != "Stopped" for t in s["tasks"]), timeout=60)
    pid = as_json("server", "status")["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: run("server", "status").returncode == 3, timeout=30)

    sessions = as_json("sessions", "K")       # a new server starts and says what happened
    assert sessions[0]["state"] == "Stopped" and sessions[0]["result"] == "Failed"
    assert any("stopped unexpectedly" in line["text"] for line in sessions[0]["log"])
    assert [p["id"] for p in as_json("points", "K")] == [first["id"]]
    ok("restore", first["id"], str(tmp_path / "out"))
    for name in (p.name for p in src.iterdir() if p.name != "big.bin"):
        assert (tmp_path / "out" / name).read_bytes() == (src / name).read_bytes()
    assert not (tmp_path / "out" / "big.bin").exists()
    assert "OK" in ok("verify")

    ok("job", "set", "K", "--throttle", "0")
    assert "Success" in ok("start", "K", "--wait")
    (newest,) = [p for p in as_json("points", "K") if p["id"] != first["id"]]
    ok("restore", newest["id"], str(tmp_path / "again"))
    assert (tmp_path / "again" / "big.bin").read_bytes() == (src / "big.bin").read_bytes()
    ok("server", "stop")
