"""Issue 19 ("Leave it running"), a server's hold on its data directory:

* a server that exits removes only the socket it bound itself, never that of
  the server that replaced it;
* a client that finds a live owner without an answering socket says so plainly
  (instead of starting a second server that is refused "already served by");
* a server whose data directory is deleted under it notices and exits.

All with real ``agent-jobs server run`` processes."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.service.ownership import read_owner
from tests.conftest import wait_until
from tests.reliability.helpers import ENV, ROOT, agent_jobs, as_json, one_line_error

pytestmark = pytest.mark.timeout(180)


def start_server(data: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "--data-dir", str(data),
                             "server", "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV, cwd=ROOT, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc


def end(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=30)


def remove_tree(folder: Path) -> None:
    """``shutil.rmtree`` while the server may still write in it (a session's
    pack): retried until the folder is gone."""
    def removed() -> bool:
        shutil.rmtree(folder, ignore_errors=True)
        return not folder.exists()
    wait_until(removed, timeout=30)


def test_an_exiting_server_leaves_the_socket_of_the_server_that_replaced_it(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    second = None
    try:
        # The data directory is taken over under the first server (as when it is
        # deleted and made again): its socket and its lock file are no longer there.
        (data / "server.sock").rename(tmp_path / "first.sock")
        (data / "server.lock").unlink()
        second = start_server(data)
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0
        assert (data / "server.sock").exists()
        info = as_json(data, "server", "status")
        assert info["running"] and info["pid"] == second.pid
        assert agent_jobs(data, "job", "list").returncode == 0
    finally:
        end(first)
        if second is not None:
            end(second)


def test_a_live_owner_without_a_socket_is_named_plainly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data)
    try:
        (data / "server.sock").unlink()   # the socket deleted under the live server
        for command in (("job", "list"), ("server", "status"), ("server", "stop")):
            result = agent_jobs(data, *command)
            err = one_line_error(result, f"pid {server.pid}", "does not answer",
                                 "socket file is missing", f"kill {server.pid}")
            assert "already served" not in err, err
        # No second server was started (and refused) behind the user's back.
        owner = read_owner(data)
        assert owner is not None and owner["pid"] == server.pid
        assert not (data / "logs" / "server.out").exists() or \
            "already served" not in (data / "logs" / "server.out").read_text()
    finally:
        end(server)


def test_a_server_whose_data_directory_is_deleted_exits(tmp_path: Path) -> None:
    data = tmp_path / "data"
    source = tmp_path / "pc1"
    source.mkdir()
    (source / "big.bin").write_bytes(os.urandom(4 << 20))
    server = start_server(data)
    try:
        assert agent_jobs(data, "job", "create", "Slow", "--computer", f"pc1={source}",
                          "--throttle", "1").returncode == 0
        assert agent_jobs(data, "start", "Slow").returncode == 0
        wait_until(lambda: as_json(data, "sessions", "Slow")[0]["tasks"][0]["bytes_read"] > 0,
                   timeout=30)
        remove_tree(data)
        assert server.wait(timeout=30) == 0   # before the change: runs on, holding its files
        _out, err = server.communicate(timeout=10)
        assert f"The data directory {data} was deleted" in err, err
        assert "Traceback" not in err, err
    finally:
        end(server)
