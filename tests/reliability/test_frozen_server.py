"""Issue 10, item 5: a frozen owner (SIGSTOP) is never declared dead. It keeps
the data directory's lock, so no second server and no second session of a job
can start; clients fail with a clear timeout instead of hanging; after SIGCONT
all is well and the session ends once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.reliability.helpers import ENV, ROOT, agent_jobs, as_json, one_line_error

pytestmark = pytest.mark.timeout(180)
FAST = {"AGENT_JOBS_REQUEST_TIMEOUT": "3"}


def test_a_stopped_server_keeps_its_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(6 << 20))
    server = subprocess.Popen([sys.executable, "-m", "core.cli", "--data-dir", str(data),
                               "server", "run"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    try:
        assert "listening on" in server.stdout.readline()
        assert agent_jobs(data, "job", "create", "F", "--computer", f"pc1={src}",
                          "--throttle", "2").returncode == 0
        assert agent_jobs(data, "start", "F").returncode == 0
        wait_until(lambda: as_json(data, "sessions", "F")[0]["tasks"][0]["bytes_read"] > 0,
                   timeout=30)
        os.kill(server.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            second = agent_jobs(data, "server", "run", timeout=30)
            one_line_error(second, "already served by", f"pid {server.pid}")
            listed = agent_jobs(data, "job", "list", env=FAST, timeout=30)
            one_line_error(listed, "did not answer within 3 s")
            again = agent_jobs(data, "start", "F", env=FAST, timeout=30)
            one_line_error(again, "did not answer")
            assert time.monotonic() - started < 30           # nothing hung
            status = json.loads((data / "server.lock").read_text())
            assert status["pid"] == server.pid                 # still the owner
        finally:
            os.kill(server.pid, signal.SIGCONT)
        (session,) = as_json(data, "sessions", "F")            # one session, never two
        assert session["state"] in ("Working", "Stopped")
        wait_until(lambda: as_json(data, "sessions", "F")[0]["state"] == "Stopped", timeout=60)
        (session,) = as_json(data, "sessions", "F")
        assert session["result"] == "Success"
        assert len(as_json(data, "points", "F")) == 1
        assert agent_jobs(data, "verify").returncode == 0
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGCONT)
            server.send_signal(signal.SIGKILL)
        server.communicate(timeout=10)


def test_a_failed_record_is_never_overwritten_by_a_late_owner(tmp_path: Path) -> None:
    """Whatever happens to the old owner, once a session is recorded as stopped
    (here: Failed by the next owner's start), a late save of the old owner's
    running state changes nothing."""
    from core.catalogue import Catalogue
    from core.models import SessionInfo, SessionResult, SessionState, TaskInfo, utcnow

    cat = Catalogue(tmp_path / "catalogue.sqlite")
    try:
        running = SessionInfo(id="s1", job="J", state=SessionState.WORKING, created=utcnow(),
                              tasks=[TaskInfo(computer="pc1")])
        cat.create_session(running, owner_pid=12345)
        assert cat.fail_interrupted_sessions() == ["s1"]
        late = running.model_copy(update={"progress": 80})
        assert cat.save_session(late) is False
        stored = cat.session("s1")
        assert stored.state is SessionState.STOPPED and stored.result is SessionResult.FAILED
        assert stored.progress == 0
    finally:
        cat.close()
