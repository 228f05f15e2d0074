"""End to end, with a real ``agent-jobs server`` process on its socket: the
CLI and REST as clients, signals, a second server, the TCP token, SIGKILL."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from core.process.memory import SERVER_GC_THRESHOLDS
from core.server.priority import SERVER_NICENESS
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
JOB = "Nightly Ünïcode job"   # a space and Unicode: URL-encoded in REST paths


def agent_jobs(data: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", "--data-dir", str(data), *args],
                          capture_output=True, text=True, env=ENV, timeout=timeout, cwd=ROOT)


def as_json(data: Path, *args: str):
    result = agent_jobs(data, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class Server:
    """``agent-jobs server run --listen 127.0.0.1:0`` in the foreground."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "--data-dir", str(data), "server", "run",
             "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert "listening on" in line, line + self.proc.stderr.read()
        self.url = line.split(" and ")[1].split(". ")[0].strip()
        self.token = (data / "server.token").read_text().strip()

    def rest(self, method: str, path: str, *, token: bool = True, **kw) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if token else {}
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers,
                             timeout=30, **kw)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data")
    yield srv
    srv.stop()


def computers(tmp_path: Path, sizes_mib: dict[str, int]) -> list[str]:
    args = []
    for name, mib in sizes_mib.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "data.bin").write_bytes(os.urandom(mib << 20))
        args += ["--computer", f"{name}={tmp_path / name}"]
    return args


def in_progress(data: Path, job: str, computer: str) -> bool:
    sessions = as_json(data, "sessions", job)
    return bool(sessions) and any(t["computer"] == computer and t["bytes_read"] > 0
                                  and t["status"] == "In progress" for t in sessions[0]["tasks"])


def test_cli_start_then_graceful_stop_over_rest(server: Server, tmp_path: Path) -> None:
    data = server.data
    assert stat.S_IMODE((data / "server.sock").stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "server.token").stat().st_mode) == 0o600
    # 4 MiB at 0.5 MB/s: pc1 stays in progress for 8 s, long enough for a loaded
    # machine's CLI polls to see it (at 2 MB/s a busy CI missed the window)
    created = agent_jobs(data, "job", "create", JOB, "--tasks", "1", "--throttle", "0.5",
                         *computers(tmp_path, {"pc1": 4, "pc2": 1}))
    assert created.returncode == 0, created.stderr
    started = agent_jobs(data, "start", JOB)
    assert started.returncode == 0, started.stderr
    wait_until(lambda: in_progress(data, JOB, "pc1"), timeout=20)

    path = f"/jobs/{quote(JOB, safe='')}/stop"
    refused = server.rest("POST", path, token=False, json={"gracefulStop": True})
    assert refused.status_code == 401 and "token" in refused.json()["error"]
    answer = server.rest("POST", path, json={"gracefulStop": True})
    assert answer.status_code == 200, answer.text
    assert answer.json()["in_progress"] == ["pc1"] and answer.json()["not_started"] == ["pc2"]

    session_id = answer.json()["session_id"]
    ended = server.rest("GET", f"/sessions/{session_id}/wait", params={"timeout": 30}).json()
    assert ended["state"] == "Stopped" and ended["stop_mode"] == "gracefully"
    assert [t["status"] for t in ended["tasks"]] == ["Success", "Skipped"]
    assert {p["computer"] for p in as_json(data, "points", JOB)} == {"pc1"}
    assert as_json(data, "job", "list")[0]["last_result"] == "Warning"


def test_the_server_runs_at_a_background_priority(server: Server, tmp_path: Path) -> None:
    # every thread of the server, the session and pool threads included, runs
    # 5 steps nicer than the process that started it, so a console stays smooth
    base = _niceness_of(Path("/proc/self"))
    assert _niceness_of(Path(f"/proc/{server.proc.pid}")) == base + SERVER_NICENESS == base + 5
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    assert agent_jobs(server.data, "job", "create", "Nice", "--computer",
                      f"pc1={src}").returncode == 0
    assert agent_jobs(server.data, "start", "Nice", "--wait").returncode == 0
    threads = list(Path(f"/proc/{server.proc.pid}/task").iterdir())
    assert len(threads) > 3
    assert {_niceness_of(t) for t in threads} == {base + 5}
    auto = agent_jobs(tmp_path / "auto", "server", "run", "--nice", "0", "--idle-exit", "0.1")
    assert auto.returncode == 0, auto.stderr


def test_the_server_collects_cyclic_garbage_rarely(server: Server) -> None:
    # a full collection walks every manifest the server keeps; see core.process.memory
    log = (server.data / "logs" / "server.log").read_text()
    expected = ",".join(map(str, SERVER_GC_THRESHOLDS))
    assert f"gc thresholds {expected})" in log
    assert SERVER_GC_THRESHOLDS[0] >= 10_000


def _niceness_of(proc_or_task: Path) -> int:
    return int((proc_or_task / "stat").read_text().rsplit(")", 1)[1].split()[16])


def test_rest_errors_are_plain_json(server: Server) -> None:
    missing = server.rest("GET", f"/jobs/{quote('No such job', safe='')}")
    assert missing.status_code == 404
    assert missing.json() == {"error": "No job named 'No such job'. Run 'job list' to see the "
                                       "jobs.", "kind": "NotFound"}
    bad = server.rest("POST", "/jobs", json={"name": "a/b", "computers": []})
    assert bad.status_code == 422 and bad.json()["error"].startswith("name:")
    assert "Traceback" not in bad.text
    auth = {"Authorization": f"Bearer {server.token}"}
    spec = httpx.get(f"{server.url}/openapi.json", headers=auth).json()
    assert "/api/v1/jobs/{name}/stop" in spec["paths"]
    assert httpx.get(f"{server.url}/docs", headers=auth).status_code == 200


def test_a_second_server_is_refused(server: Server) -> None:
    started = time.monotonic()
    second = agent_jobs(server.data, "server", "run", timeout=20)
    assert second.returncode != 0
    assert time.monotonic() - started < 10
    assert f"pid {server.proc.pid}" in second.stderr and "Traceback" not in second.stderr
    status = agent_jobs(server.data, "server", "status")
    assert status.returncode == 0 and f"pid {server.proc.pid}" in status.stdout


def test_sigterm_stops_jobs_gracefully_then_exits(server: Server, tmp_path: Path) -> None:
    data = server.data
    agent_jobs(data, "job", "create", "T", "--tasks", "1", "--throttle", "0.5",
               *computers(tmp_path, {"a1": 4, "a2": 1}))   # a1 in progress for 8 s
    assert agent_jobs(data, "start", "T").returncode == 0
    wait_until(lambda: in_progress(data, "T", "a1"), timeout=20)
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=30) == 0
    assert not (data / "server.sock").exists()
    (session,) = as_json(data, "sessions", "T")   # starts a new server
    assert [t["status"] for t in session["tasks"]] == ["Success", "Skipped"]


def test_server_stop_refuses_while_jobs_run(server: Server, tmp_path: Path) -> None:
    data = server.data
    agent_jobs(data, "job", "create", "R", "--tasks", "1", "--throttle", "1",
               *computers(tmp_path, {"r1": 8}))
    assert agent_jobs(data, "start", "R").returncode == 0
    wait_until(lambda: in_progress(data, "R", "r1"), timeout=20)
    refused = agent_jobs(data, "server", "stop")
    assert refused.returncode == 1 and "R" in refused.stderr and "--jobs" in refused.stderr
    assert server.proc.poll() is None
    stopped = agent_jobs(data, "server", "stop", "--jobs", "immediately")
    assert stopped.returncode == 0, stopped.stderr
    assert server.proc.wait(timeout=20) == 0
    assert agent_jobs(data, "server", "status").returncode == 3
    (session,) = as_json(data, "sessions", "R")
    assert session["result"] == "Failed" and session["stop_mode"] == "immediately"


def test_stale_socket_never_blocks_a_new_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Server(data)
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait()
    assert (data / "server.sock").exists()       # left behind by the killed server
    listed = agent_jobs(data, "job", "list")      # starts a new one on the same path
    assert listed.returncode == 0, listed.stderr
    assert as_json(data, "server", "status")["pid"] != first.proc.pid


def test_an_idle_auto_started_server_exits_by_itself(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "--data-dir", str(data),
                             "server", "run", "--idle-exit", "0.5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV, cwd=ROOT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Backup server stopped." in out
    assert agent_jobs(data, "server", "status").returncode == 3


def test_stop_wait_never_hangs_when_the_server_dies(server: Server, tmp_path: Path) -> None:
    data = server.data
    agent_jobs(data, "job", "create", "W", "--tasks", "1", "--throttle", "1",
               *computers(tmp_path, {"w1": 8}))
    assert agent_jobs(data, "start", "W").returncode == 0
    wait_until(lambda: in_progress(data, "W", "w1"), timeout=20)
    waiting = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "--data-dir", str(data), "stop", "W",
         "--gracefully", "--wait"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    assert "Stopping job 'W' gracefully" in waiting.stdout.readline()
    server.proc.send_signal(signal.SIGKILL)
    out, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 1
    assert "not answering" in err and "Traceback" not in err


def test_job_set_changes_settings_and_schedule(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = agent_jobs(data, "job", "create", "S", *computers(tmp_path, {"s1": 0}))
    assert made.returncode == 0, made.stderr
    (job,) = as_json(data, "job", "list")
    assert job["next_run"] is None and job["schedule"] is None
    changed = agent_jobs(data, "job", "set", "S", "--daily", "23:30", "--days", "mon,fri",
                         "--retries", "2", "--retry-wait", "5", "--tasks", "3",
                         "--window", "22:00-06:00", "--name", "S2")
    assert changed.returncode == 0, changed.stderr
    (job,) = as_json(data, "job", "list")
    assert job["name"] == "S2" and job["task_slots"] == 3
    assert job["schedule"] == ("Daily at 23:30 on Mon, Fri, retry 2 times every 5 min, "
                               "within 22:00–06:00")
    assert job["next_run"] is not None
    bad = agent_jobs(data, "job", "set", "S2", "--daily", "25:00")
    assert bad.returncode == 1 and "HH:MM" in bad.stderr and "Traceback" not in bad.stderr
    cleared = agent_jobs(data, "job", "set", "S2", "--no-schedule")
    assert cleared.returncode == 0
    assert as_json(data, "job", "list")[0]["next_run"] is None


def test_a_second_signal_stops_jobs_immediately(server: Server, tmp_path: Path) -> None:
    data = server.data
    agent_jobs(data, "job", "create", "I", "--tasks", "1", "--throttle", "1",
               *computers(tmp_path, {"i1": 8, "i2": 1}))
    assert agent_jobs(data, "start", "I").returncode == 0
    wait_until(lambda: in_progress(data, "I", "i1"), timeout=20)
    server.proc.send_signal(signal.SIGTERM)      # gracefully: i1 would take ~8 s
    wait_until(lambda: as_json(data, "sessions", "I")[0]["stop_mode"] == "gracefully",
               timeout=20)
    server.proc.send_signal(signal.SIGTERM)      # ... then immediately
    assert server.proc.wait(timeout=15) == 0
    (session,) = as_json(data, "sessions", "I")
    assert session["stop_mode"] == "immediately" and session["result"] == "Failed"
    assert [t["status"] for t in session["tasks"]] == ["Cancelled", "Skipped"]
    assert as_json(data, "points", "I") == []


def test_cli_graceful_stop_with_a_deadline_and_a_start_outside_the_window(
        server: Server, tmp_path: Path) -> None:
    data = server.data
    hour = time.localtime().tm_hour
    closed = f"{(hour + 2) % 24:02d}:00-{(hour + 3) % 24:02d}:00"   # not open now
    made = agent_jobs(data, "job", "create", "E", "--tasks", "1", "--throttle", "1",
                      "--daily", "03:00", "--window", closed,
                      *computers(tmp_path, {"e1": 8, "e2": 1}))
    assert made.returncode == 0, made.stderr
    refused = agent_jobs(data, "start", "E")
    assert refused.returncode == 1 and "outside its backup window" in refused.stderr
    assert agent_jobs(data, "start", "E", "--outside-window").returncode == 0
    wait_until(lambda: in_progress(data, "E", "e1"), timeout=20)

    bad = agent_jobs(data, "stop", "E", "--immediately", "--escalate-after", "1s")
    assert bad.returncode == 1 and "--gracefully" in bad.stderr
    stopped = agent_jobs(data, "stop", "E", "--gracefully", "--escalate-after", "1s", "--wait")
    assert stopped.returncode == 0, stopped.stderr
    assert "it stops immediately" in stopped.stdout
    (session,) = as_json(data, "sessions", "E")
    assert session["stop_mode"] == "immediately" and session["result"] == "Failed"
    assert [t["status"] for t in session["tasks"]] == ["Cancelled", "Skipped"]
    assert any("e1 was cancelled" in i["text"] for i in session["log"])

    preview = server.rest("GET", "/jobs/E/stopPreview")
    assert preview.status_code == 409   # not running any more


def test_gfs_retention_over_rest(server: Server, tmp_path: Path) -> None:
    src = tmp_path / "g1"
    src.mkdir()
    (src / "f").write_text("x")
    body = {"name": JOB, "computers": [{"name": "g1", "path": str(src)}], "retain_points": 3,
            "gfs": {"keep_daily": 2, "keep_monthly": 6}}
    bad = server.rest("POST", "/jobs", json={**body, "gfs": {"keep_weekly": -2}})
    assert bad.status_code == 422 and bad.json()["error"].startswith("gfs.keep_weekly:")
    assert server.rest("POST", "/jobs", json=body).status_code in (200, 201)
    job = server.rest("GET", f"/jobs/{quote(JOB, safe='')}").json()
    assert job["gfs"] == {"keep_daily": 2, "keep_weekly": 0, "keep_monthly": 6, "keep_yearly": 0}
    assert agent_jobs(tmp_path / "data", "start", JOB, "--wait").returncode == 0
    preview = server.rest("GET", f"/jobs/{quote(JOB, safe='')}/retentionPreview")
    assert preview.status_code == 200
    (point,) = preview.json()["points"]
    assert point["keep"] and point["computer"] == "g1"
    assert [r.split()[0] for r in point["reasons"]] == ["last", "daily", "monthly"]
    missing = server.rest("GET", "/jobs/Nope/retentionPreview")
    assert missing.status_code == 404 and missing.json()["kind"] == "NotFound"
