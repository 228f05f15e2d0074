"""Pause and resume over a SIGKILL of the server (issue 25): a real ``agent-jobs server``
process, a job paused at about half of its computer (its read rate makes that moment
long), the server killed and started again: the session is found Paused, ``agent-jobs
resume`` finishes it, and its point is byte-identical to an uninterrupted run's, having
read at most 5 % more than that run (many small files), or at most one open chunk more
(one big file, which goes on where it stopped)."""
from __future__ import annotations

import filecmp
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
JOB = "Paused job"
FILES, FILE_SIZE = 40, 256 << 10   # 10 MiB for pc1: at 2 MB/s, 5 s to read
BIG = 24 << 20                     # or one file: at 4 MB/s, 6 s
OPEN_CHUNK = 4 << 20               # at most this much of a file is read again (max chunk)


def agent_jobs(data: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", "--data-dir", str(data), *args],
                          capture_output=True, text=True, env=ENV, timeout=timeout, cwd=ROOT)


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
        assert "listening on" in line, line + self.proc.stderr.read()   # type: ignore[union-attr]
        self.url = line.split(" and ")[1].split(". ")[0].strip()
        self.token = (data / "server.token").read_text().strip()

    def rest(self, method: str, path: str, **kw: Any) -> Any:
        answer = httpx.request(method, f"{self.url}/api/v1{path}", timeout=60,
                               headers={"Authorization": f"Bearer {self.token}"}, **kw)
        assert answer.status_code < 300, answer.text
        return answer.json()

    def session(self, sid: str) -> dict[str, Any]:
        return self.rest("GET", f"/sessions/{sid}")   # type: ignore[no-any-return]

    def wait(self, sid: str) -> dict[str, Any]:
        """The session once it has ended (the long poll answers at most 30 s later)."""
        for _ in range(4):
            session = self.rest("GET", f"/sessions/{sid}/wait", params={"timeout": 30})
            if session["state"] == "Stopped":
                break
        return session   # type: ignore[no-any-return]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=10)


def sources(root: Path, big: bool) -> list[str]:
    """pc1: 40 files of 256 KiB (a pause lands between files), or one of 24 MiB (inside
    it); pc2: 4 files of 256 KiB, not started at the pause."""
    pc1, pc2 = root / "pc1", root / "pc2"
    for folder, count, size in ((pc1, 1, BIG) if big else (pc1, FILES, FILE_SIZE),
                                (pc2, 4, FILE_SIZE)):
        folder.mkdir(parents=True)
        for i in range(count):
            (folder / f"f{i:03d}.bin").write_bytes(os.urandom(size))
    return ["--computer", f"pc1={pc1}", "--computer", f"pc2={pc2}"]


def task(session: dict[str, Any], computer: str) -> dict[str, Any]:
    return next(t for t in session["tasks"] if t["computer"] == computer)


def restored(data: Path, point_id: str, target: Path) -> Path:
    done = agent_jobs(data, "restore", point_id, str(target))
    assert done.returncode == 0, done.stderr
    return target


def same_tree(a: Path, b: Path) -> bool:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    return files_a == files_b and all(filecmp.cmp(a / p, b / p, shallow=False)
                                      for p in files_a)


def run(server: Server, job: str) -> str:
    return str(server.rest("POST", f"/jobs/{quote(job, safe='')}/start", json={})["session_id"])


@pytest.mark.parametrize("big", [False, True], ids=["small-files", "one-big-file"])
def test_a_paused_job_survives_sigkill_and_resumes_without_reading_again(
        tmp_path: Path, big: bool) -> None:
    computers = sources(tmp_path / "src", big)
    pc1_size = BIG if big else FILES * FILE_SIZE
    # the uninterrupted run, in a data directory of its own
    reference = Server(tmp_path / "reference")
    try:
        made = agent_jobs(reference.data, "job", "create", JOB, "--tasks", "1", *computers)
        assert made.returncode == 0, made.stderr
        whole = reference.wait(run(reference, JOB))
        assert whole["result"] == "Success"
        reference_read = sum(t["bytes_read"] for t in whole["tasks"])
        reference_points = {t["computer"]: t["point_id"] for t in whole["tasks"]}
        for computer, point in reference_points.items():
            restored(reference.data, point, tmp_path / "ref-restore" / computer)
    finally:
        reference.kill()

    data = tmp_path / "data"
    server = Server(data)
    try:
        made = agent_jobs(data, "job", "create", JOB, "--tasks", "1", "--throttle",
                          "4" if big else "2", *computers)
        assert made.returncode == 0, made.stderr
        sid = run(server, JOB)
        wait_until(lambda: task(server.session(sid), "pc1")["bytes_processed"]
                   >= pc1_size * 0.45, timeout=30)
        paused = agent_jobs(data, "pause", JOB)
        assert paused.returncode == 0, paused.stderr
        assert "pc1 held" in paused.stdout
        wait_until(lambda: server.session(sid)["state"] == "Paused", timeout=10)
        before = task(server.session(sid), "pc1")
        assert 0.4 < before["bytes_processed"] / pc1_size < 0.9
        jobs = agent_jobs(data, "job", "list", "--json")
        assert '"Paused"' in jobs.stdout
    finally:
        server.kill()   # SIGKILL while paused

    server = Server(data)
    try:
        found = server.session(sid)
        assert found["state"] == "Paused"
        assert [t["status"] for t in found["tasks"]] == ["In progress", "Pending"]
        resumed = agent_jobs(data, "resume", JOB)
        assert resumed.returncode == 0, resumed.stderr
        ended = server.wait(sid)
        assert ended["result"] == "Success", ended["log"]
        points = {t["computer"]: t["point_id"] for t in ended["tasks"]}
        assert all(points.values())
        total_read = sum(t["bytes_read"] for t in ended["tasks"])
        pc1_log = " ".join(i["text"] for i in task(ended, "pc1")["log"])
        if big:   # the file goes on at its last chunk: at most the open chunk again
            assert total_read <= reference_read + OPEN_CHUNK, (total_read, reference_read)
            assert "Resuming file 'f000.bin' at" in pc1_log
        else:
            assert total_read <= 1.05 * reference_read, (total_read, reference_read)
            assert "stored before the pause are not read again" in pc1_log
        for computer, point in points.items():
            mine = restored(data, point, tmp_path / "restore" / computer)
            assert same_tree(mine, tmp_path / "ref-restore" / computer), computer
            assert same_tree(mine, tmp_path / "src" / computer), computer
    finally:
        server.kill()


def test_a_server_stop_leaves_a_paused_job_paused(tmp_path: Path) -> None:
    """``agent-jobs server stop`` (no --jobs: nothing works) and SIGTERM stop the server
    under a paused job, which stays paused: the next server resumes it on request."""
    computers = sources(tmp_path / "src", big=False)
    data = tmp_path / "data"
    for how in ("server stop", "SIGTERM"):
        server = Server(data)
        try:
            if how == "server stop":
                made = agent_jobs(data, "job", "create", JOB, "--tasks", "1", "--throttle",
                                  "2", *computers)
                assert made.returncode == 0, made.stderr
                sid = run(server, JOB)
                wait_until(lambda: task(server.session(sid), "pc1")["bytes_processed"] > 0,
                           timeout=30)
                assert agent_jobs(data, "pause", JOB).returncode == 0
            wait_until(lambda: server.session(sid)["state"] == "Paused", timeout=10)
            if how == "server stop":
                stopped = agent_jobs(data, "server", "stop")
                assert stopped.returncode == 0, stopped.stderr
            else:
                server.proc.send_signal(signal.SIGTERM)
            assert server.proc.wait(timeout=30) == 0
        finally:
            server.kill()
    server = Server(data)
    try:
        assert server.session(sid)["state"] == "Paused"
        assert agent_jobs(data, "resume", JOB).returncode == 0
        ended = server.wait(sid)
        assert ended["result"] == "Success", ended["log"]
        assert sum(t["bytes_read"] for t in ended["tasks"]) <= 1.05 * (FILES + 4) * FILE_SIZE
    finally:
        server.kill()
