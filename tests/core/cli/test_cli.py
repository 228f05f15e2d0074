"""The agent-jobs CLI contract: output, exit codes and error messages."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from tests.conftest import make_tree, wait_until

ROOT = Path(__file__).resolve().parents[3]


def test_job_create_list_start_points_restore_verify(cli, tmp_path):
    src = make_tree(tmp_path / "pc", files=4)
    code, out, err = cli("job", "create", "Nightly", "--computer", f"pc1={src}",
                         "--description", "test", "--tasks", "1", "--retain", "2")
    assert code == 0, err
    code, out, _ = cli("job", "list", "--json")
    jobs = json.loads(out)
    assert jobs[0]["name"] == "Nightly" and jobs[0]["computers"] == ["pc1"]
    assert jobs[0]["status"] == "Idle" and jobs[0]["last_result"] is None
    code, out, err = cli("start", "Nightly", "--wait")
    assert code == 0, err
    assert "Success" in out
    code, out, _ = cli("points", "Nightly", "--json")
    (point,) = json.loads(out)
    assert {"id", "job", "computer", "session_id", "type", "created", "files", "size"} <= set(point)
    assert point["type"] == "Full" and point["files"] == 4 and point["computer"] == "pc1"
    code, out, _ = cli("sessions", "Nightly", "--json")
    (session,) = json.loads(out)
    assert session["result"] == "Success" and session["tasks"][0] == {
        **session["tasks"][0], "computer": "pc1", "status": "Success"}
    assert session["id"] == point["session_id"]
    code, out, err = cli("restore", point["id"], str(tmp_path / "restored"))
    assert code == 0, err
    assert (tmp_path / "restored" / "file_000.dat").read_bytes() == (src / "file_000.dat").read_bytes()
    code, out, _ = cli("verify")
    assert code == 0 and "OK" in out
    code, out, _ = cli("job", "list", "--json")
    assert json.loads(out)[0]["last_result"] == "Success"


def test_a_relative_restore_folder_is_the_users_not_the_servers(cli, tmp_path, monkeypatch):
    src = make_tree(tmp_path / "pc", files=2)
    (tmp_path / "server-cwd").mkdir()
    (tmp_path / "user-cwd").mkdir()
    monkeypatch.chdir(tmp_path / "server-cwd")      # the server starts here
    assert cli("job", "create", "J", "--computer", f"pc1={src}")[0] == 0
    assert cli("start", "J", "--wait")[0] == 0
    code, out, _ = cli("points", "J", "--json")
    point = json.loads(out)[0]["id"]
    monkeypatch.chdir(tmp_path / "user-cwd")
    code, out, err = cli("restore", point, "restored")
    assert code == 0, err
    assert str(tmp_path / "user-cwd" / "restored") in out
    assert (tmp_path / "user-cwd" / "restored" / "file_000.dat").read_bytes() == \
        (src / "file_000.dat").read_bytes()
    assert not (tmp_path / "server-cwd" / "restored").exists()


@pytest.mark.parametrize("args, message", [
    (("start", "Ghost"), "No job named 'Ghost'"),
    (("stop", "Ghost", "--immediately"), "No job named 'Ghost'"),
    (("job", "create", "J", "--computer", "pc1=/no/such/dir"), "does not exist"),
    (("job", "create", "J", "--computer", "nopath"), "NAME=PATH"),
    (("job", "create", "a/b", "--computer", "pc1=."), "invalid job name"),
    (("restore", "ffff", "/tmp/x"), "No restore point"),
    (("job", "create", "J", "--computer", "pc1=.", "--tasks", "0"),
     "--tasks: input should be greater than or equal to 1"),
])
def test_errors_are_one_line_messages(cli, args, message):
    code, out, err = cli(*args)
    assert code != 0
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_duplicate_name_and_idle_stop(cli, tmp_path):
    src = make_tree(tmp_path / "pc")
    assert cli("job", "create", "J", "--computer", f"pc1={src}")[0] == 0
    code, _, err = cli("job", "create", "j", "--computer", f"pc1={src}")
    assert code == 1 and "already exists" in err
    code, _, err = cli("stop", "J", "--gracefully")
    assert code == 1 and "not running" in err
    code, _, err = cli("job", "delete", "Nope")
    assert code == 1 and "No job named" in err


def _agent_jobs(data: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "core.cli", "--data-dir", str(data), *args],
                          capture_output=True, text=True, env=env, timeout=60, **kw)


def _json(data: Path, *args: str):
    result = _agent_jobs(data, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_another_process_sees_and_stops_a_session(tmp_path):
    """start in one process, stop immediately from another; both are clients
    of the server the first command started."""
    data = tmp_path / "data"
    src = tmp_path / "pc"
    src.mkdir()
    (src / "big.bin").write_bytes(b"x" * (32 << 20))
    assert _agent_jobs(data, "job", "create", "Slow", "--computer", f"pc1={src}",
                       "--throttle", "2").returncode == 0
    started = _agent_jobs(data, "start", "Slow")
    assert started.returncode == 0, started.stderr
    wait_until(lambda: _json(data, "job", "list")[0]["status"] == "Working", timeout=20)
    again = _agent_jobs(data, "start", "Slow")
    assert again.returncode != 0 and "already running" in again.stderr
    stopped = _agent_jobs(data, "stop", "Slow", "--immediately", "--wait")
    assert stopped.returncode == 0, stopped.stderr
    assert "new restore points for: none" in stopped.stdout
    (session,) = _json(data, "sessions", "Slow")
    assert session["state"] == "Stopped" and session["result"] == "Failed"
    assert session["stop_mode"] == "immediately"
    assert session["tasks"][0]["status"] == "Cancelled"
    assert _json(data, "points") == []


def test_killed_server_leaves_earlier_points_restorable(tmp_path):
    data = tmp_path / "data"
    src = make_tree(tmp_path / "pc", files=5, size=4096)
    assert _agent_jobs(data, "job", "create", "K", "--computer", f"pc1={src}",
                       "--throttle", "1").returncode == 0
    assert _agent_jobs(data, "start", "K", "--wait").returncode == 0
    (src / "big.bin").write_bytes(os.urandom(16 << 20))
    assert _agent_jobs(data, "start", "K").returncode == 0
    wait_until(lambda: any(t["bytes_read"] > 0 for s in _json(data, "sessions", "K")
                           if s["state"] != "Stopped" for t in s["tasks"]), timeout=20)
    status = _agent_jobs(data, "server", "status", "--json")
    pid = json.loads(status.stdout)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: _agent_jobs(data, "server", "status").returncode == 3)

    # The next command starts a new server, which says what happened.
    sessions = _json(data, "sessions", "K")
    assert sessions[0]["state"] == "Stopped" and sessions[0]["result"] == "Failed"
    assert any("stopped unexpectedly" in i["text"] for i in sessions[0]["log"])
    assert _json(data, "server", "status")["pid"] != pid
    (point,) = _json(data, "points", "K")
    restored = _agent_jobs(data, "restore", point["id"], str(tmp_path / "out"))
    assert restored.returncode == 0, restored.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == \
        sorted(p.name for p in src.iterdir() if p.name != "big.bin")
    assert _agent_jobs(data, "verify").returncode == 0


def test_demo_is_idempotent(cli):
    code, out, _ = cli("demo")
    assert code == 0 and "created" in out
    code, out, _ = cli("demo")
    assert code == 0 and "already set up" in out
    code, out, _ = cli("job", "list", "--json")
    jobs = json.loads(out)
    assert len(jobs) == 3 and all(j["throttle_mbps"] for j in jobs)


@pytest.mark.parametrize("presses, code, statuses", [
    (1, 0, ["Success", "Skipped"]),      # graceful: pc1 finishes, pc2 never starts
    (2, 1, ["Cancelled", "Skipped"]),    # escalated: pc1 cancelled, session Failed
])
def test_ctrl_c_while_waiting_stops_the_job(tmp_path, presses, code, statuses):
    data = tmp_path / "data"
    for name in ("pc1", "pc2"):
        (tmp_path / name).mkdir()
        # 6 s at 4 MB/s: time for two presses, each seen through a CLI call, on a busy machine
        (tmp_path / name / "big.bin").write_bytes(b"y" * (24 << 20))
    assert _agent_jobs(data, "job", "create", "C", "--computer", f"pc1={tmp_path / 'pc1'}",
                       "--computer", f"pc2={tmp_path / 'pc2'}", "--tasks", "1",
                       "--throttle", "4").returncode == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "--data-dir", str(data),
                             "start", "C", "--wait"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert "Started job" in proc.stdout.readline()
    wait_until(lambda: any(t["bytes_read"] > 0 for s in _json(data, "sessions", "C")
                           for t in s["tasks"]), timeout=20)
    for _ in range(presses):
        proc.send_signal(signal.SIGINT)
        wait_until(lambda: _json(data, "sessions", "C")[0]["stop_mode"] is not None, timeout=20)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, out + err
    (session,) = _json(data, "sessions", "C")
    assert [t["status"] for t in session["tasks"]] == statuses


def test_gfs_options_and_retention_preview(cli, tmp_path):
    src = make_tree(tmp_path / "pc", files=2)
    code, _, err = cli("job", "create", "G", "--computer", f"pc1={src}", "--retain", "5",
                       "--keep-daily", "-1")
    assert code == 1 and err == "error: --keep-daily: input should be greater than or " \
                                "equal to 0\n"
    code, _, err = cli("job", "create", "G", "--computer", f"pc1={src}", "--retain", "5",
                       "--keep-weekly", "4", "--keep-yearly", "2")
    assert code == 0, err
    for _ in range(3):
        assert cli("start", "G", "--wait")[0] == 0
    code, out, _ = cli("job", "set", "G", "--retain", "1", "--keep-daily", "1")
    assert code == 0
    code, out, _ = cli("job", "show", "G", "--json")
    assert json.loads(out)["definition"]["gfs"] == {
        "keep_daily": 1, "keep_weekly": 4, "keep_monthly": 0, "keep_yearly": 2}
    code, out, _ = cli("job", "retention-preview", "G", "--json")
    preview = json.loads(out)
    assert code == 0 and [p["keep"] for p in preview["points"]] == [False, False, True]
    newest = preview["points"][-1]
    assert newest["reasons"][0] == "last 1" and newest["reasons"][1].startswith("daily ")
    assert [r.split()[0] for r in newest["reasons"]] == ["last", "daily", "weekly", "yearly"]
    assert preview["points"][0]["reasons"] == []
    code, out, _ = cli("job", "retention-preview", "G")
    assert code == 0
    assert "keeps the last 1, 1 daily, 4 weekly, 2 yearly per computer: 1 point(s) kept, " \
           "2 would go now." in out
    assert out.count("GOES") == 2 and "weekly " in out
    # nothing was removed by asking; the next backup applies it
    code, out, _ = cli("points", "G", "--json")
    assert len(json.loads(out)) == 3
    assert cli("start", "G", "--wait")[0] == 0
    code, out, _ = cli("points", "G", "--json")
    assert len(json.loads(out)) == 1
    code, _, err = cli("job", "retention-preview", "Nope")
    assert code == 1 and "No job named 'Nope'" in err


def test_job_clone_is_created_disabled_with_the_same_settings(cli, tmp_path):
    src = make_tree(tmp_path / "pc")
    assert cli("job", "create", "Nightly", "--computer", f"pc1={src}", "--daily", "22:00",
               "--retain", "3")[0] == 0
    code, out, err = cli("job", "clone", "Nightly")
    assert code == 0, err
    assert out.startswith("Clone 'Nightly clone' created disabled so that it does not run "
                          "beside 'Nightly'; enable it when ready.")
    code, out, err = cli("job", "clone", "Nightly", "--json")
    assert code == 0, err
    second = json.loads(out)
    assert second["name"] == "Nightly clone 2" and second["enabled"] is False
    assert second["status"] == "Disabled" and second["next_run"] is None
    code, out, _ = cli("job", "show", "Nightly clone", "--json")
    original = json.loads(cli("job", "show", "Nightly", "--json")[1])
    clone = json.loads(out)
    assert clone["enabled"] is False and original["enabled"] is True
    assert {**clone["definition"], "name": "Nightly", "enabled": True} == original["definition"]
    assert clone["schedule"] == original["schedule"]
    assert clone["schedule"].startswith("Daily at 22:00")
    code, _, err = cli("job", "clone", "Nightly", "--name", "Nightly clone")
    assert code == 1 and "already exists" in err
    code, _, err = cli("job", "clone", "Ghost")
    assert code == 1 and "No job named 'Ghost'" in err


def test_window_stop_pause_and_pause_resume_of_a_job_that_is_not_running(cli, tmp_path):
    """--window-stop pause is kept; pause and resume refuse a job that does not run, and
    an unknown job, in one line each (exit 1, no traceback)."""
    src = tmp_path / "src"
    src.mkdir()
    code, _out, err = cli("job", "create", "W", "--computer", f"pc1={src}", "--daily", "22:00",
                          "--window", "22:00-06:00", "--window-stop", "pause")
    assert code == 0, err
    code, out, _err = cli("job", "show", "W", "--json")
    assert code == 0 and json.loads(out)["definition"]["schedule"]["window"]["pause"] is True
    for verb in ("pause", "resume"):
        code, _out, err = cli(verb, "W")
        assert code == 1 and err.strip() == \
            f"error: Job 'W' is not running; there is nothing to {verb}."
        code, _out, err = cli(verb, "Nope")
        assert code == 1 and "Traceback" not in err and "Nope" in err
