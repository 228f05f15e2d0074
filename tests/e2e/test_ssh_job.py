"""End to end: a job with an ssh:// computer, created, run, listed and
restored with the ``agent-jobs`` CLI through the real server process, which
reaches a real sshd on loopback."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.sshd import sshd_available, start_sshd
from tests.core.engine.test_backup_restore import build_tree, snapshot_tree

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd")


@pytest.fixture
def sshd(tmp_path):
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


def test_ssh_job_through_the_server_and_cli(tmp_path, sshd):
    data = tmp_path / "data"
    data.mkdir()
    (data / "known_hosts").write_text(sshd.known_hosts_line())
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    key = home / ".ssh" / "id_ed25519"          # the server user's default key
    key.write_bytes(sshd.client_key.read_bytes())
    os.chmod(key, 0o600)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(home),
           "AGENT_CONSOLE_DATA_DIR": str(data)}
    env.pop("SSH_AUTH_SOCK", None)

    def cli(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "core.cli", "--data-dir", str(data),
                                 *args], capture_output=True, text=True, env=env, cwd=ROOT,
                                timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    src = build_tree(tmp_path / "web1")
    cli("job", "create", "Remote", "--computer", f"web1={sshd.url(src)}",
        "--identity", str(sshd.client_key))
    shown = json.loads(cli("job", "show", "Remote", "--json").stdout)
    computer = shown["definition"]["computers"][0] if "definition" in shown \
        else shown["computers"][0]
    assert computer["agent"] == "ssh"

    cli("start", "Remote", "--wait")
    (point,) = json.loads(cli("points", "Remote", "--json").stdout)
    cli("restore", point["id"], str(tmp_path / "out"))
    assert snapshot_tree(tmp_path / "out") == snapshot_tree(src)

    before = {s["id"] for s in json.loads(cli("sessions", "Remote", "--json").stdout)}
    cli("start", "Remote", "--wait")
    sessions = json.loads(cli("sessions", "Remote", "--json").stdout)
    (newest_id,) = {s["id"] for s in sessions} - before
    newest = json.loads(cli("session", "show", newest_id, "--json").stdout)
    assert newest["result"] == "Success"
    (task,) = newest["tasks"]
    assert task["point_type"] == "Increment" and task["bytes_read"] == 0, task["log"]
    texts = [item["text"] for item in task["log"]]
    assert any(re.search(r"Over SSH: [\d,]+ bytes received from the computer; it read 0 "
                         r"file\(s\), .*; sent [\d,]+ bytes to the computer$", t)
               for t in texts), texts
    cli("server", "stop")


def test_the_servers_own_identity_and_known_hosts_serve_jobs_that_name_none(tmp_path, sshd):
    """``server run --identity FILE --known-hosts FILE``: a job without SSH
    settings logs in with that key and checks that file (the server user's
    home has no key at all)."""
    data = tmp_path / "data"
    known_hosts = tmp_path / "fleet_known_hosts"
    known_hosts.write_text(sshd.known_hosts_line())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path / "empty-home")}
    env.pop("SSH_AUTH_SOCK", None)
    base = [sys.executable, "-m", "core.cli", "--data-dir", str(data)]

    refused = subprocess.run([*base, "server", "run", "--identity", str(tmp_path / "nokey")],
                             capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert refused.returncode != 0 and "--identity" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1

    server = subprocess.Popen([*base, "server", "run", "--identity", str(sshd.client_key),
                               "--known-hosts", str(known_hosts)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=ROOT)
    try:
        assert server.stdout is not None and "listening on" in server.stdout.readline()

        def cli(*args: str) -> subprocess.CompletedProcess:
            result = subprocess.run([*base, *args], capture_output=True, text=True, env=env,
                                    cwd=ROOT, timeout=120)
            assert result.returncode == 0, result.stdout + result.stderr
            return result

        src = build_tree(tmp_path / "web1")
        cli("job", "create", "Fleet", "--computer", f"web1={sshd.url(src)}")
        assert "Success" in cli("start", "Fleet", "--wait").stdout
        assert not (data / "known_hosts").exists()      # the server's file was used
    finally:
        server.terminate()
        server.communicate(timeout=60)
