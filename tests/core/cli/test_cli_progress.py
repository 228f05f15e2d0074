"""What ``agent-jobs`` prints while and after a session runs: the live line of
``start --wait`` on a terminal (a real pty), plain lines into a pipe, only JSON
with ``--json`` (errors too), and the wording of results and repositories.
Every command runs against a real server process that the first one starts."""
from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from core.cli import main
from tests.conftest import make_tree

ROOT = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def agent_jobs(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "core.cli", "--data-dir", str(data), *args]


def slow_job(tmp_path: Path) -> Path:
    """Job 'C': one computer of 6 MiB read at 2 MB/s, about 3 s."""
    data = tmp_path / "data"
    (tmp_path / "pc1").mkdir()
    (tmp_path / "pc1" / "big.bin").write_bytes(os.urandom(6 << 20))
    made = subprocess.run(agent_jobs(data, "job", "create", "C", "--computer",
                                     f"pc1={tmp_path / 'pc1'}", "--throttle", "2"),
                          capture_output=True, text=True, env=ENV, timeout=60)
    assert made.returncode == 0, made.stderr
    return data


def read_pty(master: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> bytes:
    """Everything the program writes to its terminal, until it exits."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:   # EIO: the program closed the terminal (it exited)
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=10)
    return out


def test_start_wait_on_a_terminal_redraws_one_live_line(tmp_path: Path) -> None:
    data = slow_job(tmp_path)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    proc = subprocess.Popen(agent_jobs(data, "start", "C", "--wait"), stdout=slave,
                            stderr=slave, stdin=subprocess.DEVNULL, env=ENV)
    os.close(slave)
    try:
        raw = read_pty(master, proc).decode()
    finally:
        os.close(master)
    assert proc.returncode == 0, raw
    # one line, redrawn in place (carriage return, erase line) about once a second
    frames = [ANSI.sub("", f).split("\n")[0].strip() for f in raw.split("\r\x1b[2K")[1:]]
    assert len(frames) >= 3, raw
    spinner = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"   # rich's "dots"
    ending = next(i for i, f in enumerate(frames) if f[0] not in spinner)
    live, final = frames[:ending], frames[ending:]
    assert len(live) >= 2, frames
    bad = [f for f in live if not (f[0] in spinner and
                                   re.match(r". C [━╸╺]{20} \d+ % 0/1 computers done ", f))]
    assert not bad, bad
    assert any(re.search(r" \d+\.\d [KM]B/s about \d:\d\d:\d\d left$", f) for f in live), live
    assert all(re.fullmatch(r"✓ C ━{20} 100 % 1/1 computers done \d+\.\d [KM]B/s", f)
               for f in final), final
    plain = ANSI.sub("", raw)
    assert "ended: Success; new restore points for: pc1." in plain
    assert "C: 0/1 computers done" not in plain   # no plain lines on a terminal


def test_start_wait_into_a_pipe_prints_plain_lines(tmp_path: Path) -> None:
    data = slow_job(tmp_path)
    done = subprocess.run(agent_jobs(data, "start", "C", "--wait"), capture_output=True,
                          text=True, env=ENV, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\r" not in done.stdout
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Started job 'C' (session ")
    progress = lines[1:-2]
    assert len(progress) >= 2, done.stdout
    assert all(re.fullmatch(r"C: 0/1 computers done, \d+ %, (rate: measuring…|\d+\.\d [KM]B/s),"
                            r" (time left: estimating…|about \d:\d\d:\d\d left)", line)
               for line in progress), progress
    assert any("left" in line and "about" in line for line in progress), progress
    assert len(set(progress)) == len(progress)   # a line only when something moved on
    assert lines[-2].endswith("ended: Success; new restore points for: pc1.")
    assert lines[-1] == "  pc1: Success"


def test_json_prints_only_json_and_errors_as_json(cli, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "pc", files=2)
    assert cli("job", "create", "J", "--computer", f"pc1={src}")[0] == 0
    code, out, err = cli("start", "J", "--wait", "--json")
    assert code == 0 and err == ""
    session = json.loads(out)   # the whole output is the ended session
    assert session["state"] == "Stopped" and session["result"] == "Success"
    assert session["tasks"][0]["computer"] == "pc1"
    code, out, err = cli("start", "J", "--json")
    assert code == 0 and err == "" and set(json.loads(out)) == {"job", "session_id"}
    for args, kind, status, words in [
        (("job", "show", "Ghost", "--json"), "NotFound", 1, "No job named 'Ghost'"),
        (("start", "Ghost", "--wait", "--json"), "NotFound", 1, "No job named 'Ghost'"),
        (("job", "list", "--json", "--bogus"), "UsageError", 2, "unrecognized arguments"),
        (("job", "create", "K", "--computer", "nopath", "--json"), "UsageError", 2, "--json"),
    ]:
        code, out, err = cli(*args)
        assert code == status and err == "", (args, out, err)
        error = json.loads(out)["error"]
        assert set(error) == {"kind", "message"} and error["kind"] == kind, (args, error)
        assert words in error["message"], (args, error)
    # without --json, errors stay one line on stderr
    code, out, err = cli("job", "show", "Ghost")
    assert code == 1 and out == "" and err.startswith("error: No job named 'Ghost'")


def test_a_failed_computer_says_failed_once(cli, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "gone", files=1)
    assert cli("job", "create", "G", "--computer", f"pc1={src}")[0] == 0
    shutil.rmtree(src)
    code, out, _ = cli("start", "G", "--wait")
    assert code == 1
    line = next(x for x in out.splitlines() if x.startswith("  pc1: "))
    assert line.startswith("  pc1: Failed (Computer 'pc1': path ") and "does not exist" in line
    assert "Failed (Failed" not in out


def test_a_running_session_shows_as_still_running(tmp_path: Path) -> None:
    data = slow_job(tmp_path)
    started = subprocess.run(agent_jobs(data, "start", "C", "--json"), capture_output=True,
                             text=True, env=ENV, timeout=60)
    session_id = json.loads(started.stdout)["session_id"]
    shown = subprocess.run(agent_jobs(data, "session", "show", session_id),
                           capture_output=True, text=True, env=ENV, timeout=60)
    stopped = subprocess.run(agent_jobs(data, "stop", "C", "--immediately", "--wait", "--json"),
                             capture_output=True, text=True, env=ENV, timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    outcome = json.loads(stopped.stdout)
    assert outcome["session_id"] == session_id and outcome["gets_point"] == []
    assert outcome["session"]["state"] == "Stopped" and outcome["session"]["result"] == "Failed"
    assert shown.returncode == 0, shown.stderr
    result = next(x for x in shown.stdout.splitlines() if x.startswith("  Result: "))
    assert re.match(r"  Result: \(still running, \d+ %\); run manual$", result), result


def test_repository_list_says_local_folder_as_the_console_does(cli, tmp_path: Path) -> None:
    code, out, err = cli("repository", "list")
    assert code == 0, err
    row = out.splitlines()[1]
    assert row.startswith("Default Backup Repository (default)  Local folder  "), row
