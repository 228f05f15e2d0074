"""Issue 10, item 8: on a read-only data directory (a real read-only bind
mount) listing, restore and verify work without a server; every command that
would change something says "read-only", and nothing calls the catalogue
unreadable."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.conftest import make_tree, wait_until
from tests.reliability.helpers import agent_jobs, as_json, one_line_error, read_only

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("shutdown", ["clean", "killed"])
def test_reading_works_on_a_read_only_data_directory(tmp_path: Path, shutdown: str) -> None:
    data, src = tmp_path / "data", make_tree(tmp_path / "src", files=3)
    assert agent_jobs(data, "job", "create", "RO", "--computer", f"pc1={src}").returncode == 0
    assert agent_jobs(data, "start", "RO", "--wait").returncode == 0
    (point,) = as_json(data, "points")
    if shutdown == "clean":
        assert agent_jobs(data, "server", "stop").returncode == 0
    else:   # the WAL still holds the last transactions
        pid = as_json(data, "server", "status")["pid"]
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: agent_jobs(data, "server", "status").returncode == 3, timeout=20)
    with read_only(data):
        jobs = as_json(data, "job", "list")
        assert [j["name"] for j in jobs] == ["RO"] and jobs[0]["last_result"] == "Success"
        assert [p["id"] for p in as_json(data, "points", "RO")] == [point["id"]]
        assert as_json(data, "sessions", "RO")[0]["result"] == "Success"
        restored = agent_jobs(data, "restore", point["id"], str(tmp_path / "out"))
        assert restored.returncode == 0, restored.stderr
        assert (tmp_path / "out" / "file_001.dat").read_bytes() == \
            (src / "file_001.dat").read_bytes()
        verify = agent_jobs(data, "verify")
        assert verify.returncode == 0 and "OK" in verify.stdout, verify.stdout + verify.stderr
        for args in (("start", "RO"), ("job", "create", "X", "--computer", f"pc1={src}"),
                     ("job", "delete", "RO"), ("repair",), ("server", "run"),
                     ("stop", "RO", "--immediately"), ("demo",)):
            err = one_line_error(agent_jobs(data, *args), "read-only")
            assert "unreadable" not in err and "move it aside" not in err.lower()
        if shutdown == "clean":
            assert not (data / "server.sock").exists()       # no server was started
    assert agent_jobs(data, "start", "RO", "--wait").returncode == 0   # writable again
