"""A frozen computer is never waited for forever (issue 19): the agent on an
SSH computer sends heartbeats of its own, and the server gives the computer
up after a silence (no heartbeat: SIGSTOP) or a stall (heartbeats, but its
work blocked in an open that never returns), while sshd still answers every
keep-alive. Against a real sshd; the 30 s are shortened to 3 s."""
from __future__ import annotations

import os
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from core.models import (
    Computer, JobDefinition, SessionResult, SessionState, StopMode, TaskStatus,
)
from core.agents.ssh import watchdog
from core.scheduling import BackupWindow, Schedule, ScheduleKind
from core.service.facade import BackupService
from tests.conftest import shutdown_service, wait_until
from tests.core.agents.ssh.test_ssh_agent import (  # noqa: F401  (fixtures)
    MB, data_dir, random_file, read_position, service, settings, sshd,
)
from tests.support.clock import FakeClock
from tests.support.gate import TaskGate
from tests.support.sshd import Sshd, sshd_available
from tests.core.engine.test_backup_restore import build_tree

pytestmark = pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd (openssh-server)")

STALL_S = 3.0
MARGIN_S = 6.0       # the give-up, the kill, the session's end, on a busy machine


@pytest.fixture(autouse=True)
def short_stall(monkeypatch) -> None:
    assert watchdog.STALL_S == 30 and watchdog.stall_s() == 30    # in production
    monkeypatch.setenv(watchdog.STALL_ENV, str(STALL_S))


def frozen_message(sshd: Sshd) -> str:
    return (f"Failed: The agent on {sshd.user}@127.0.0.1:{sshd.port} stopped answering: no "
            f"heartbeat for {STALL_S:g} s (its process is frozen, or the computer or the "
            "network is). The computer was given up; the other computers go on.")


def reading_agent(sshd: Sshd, path: Path) -> int:
    """The pid of the agent that has ``path`` open (waiting until one has)."""
    found: list[int] = []

    def look() -> bool:
        found[:] = [pid for pid in sshd.agent_pids() if read_position(pid, path) >= 0]
        return len(found) == 1

    wait_until(look, timeout=30)
    return found[0]


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def resume(pid: int) -> None:
    """SIGCONT, should the agent still be there (it is killed when given up)."""
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


def two_computers(sshd: Sshd, tmp_path: Path, **options) -> tuple[JobDefinition, Path]:
    """A job whose computer 'frozen1' reads a large file slowly (it is surely
    mid-backup when frozen) and whose 'ok1' is a healthy SSH computer."""
    stuck = tmp_path / "stuck"
    stuck.mkdir()
    random_file(stuck / "big.bin", 24 * MB, seed=5)
    healthy = build_tree(tmp_path / "healthy")
    job = JobDefinition(name="Frozen", ssh=settings(sshd), throttle_mbps=4,
                        computers=(Computer(name="frozen1", path=sshd.url(stuck)),
                                   Computer(name="ok1", path=sshd.url(healthy))), **options)
    return job, stuck / "big.bin"


def test_a_frozen_agent_fails_its_computer_and_the_others_go_on(service, sshd, tmp_path):
    job, big = two_computers(sshd, tmp_path)
    service.create_job(job)
    sid = service.start_job("Frozen")
    wait_until(lambda: service.get_session(sid).tasks[0].bytes_read > 0, timeout=30)
    pid = reading_agent(sshd, big)
    os.kill(pid, signal.SIGSTOP)          # sshd still answers keep-alives
    frozen_at = time.monotonic()
    try:
        wait_until(lambda: service.get_session(sid).tasks[0].status is TaskStatus.FAILED,
                   timeout=STALL_S + MARGIN_S)
        took = time.monotonic() - frozen_at
        session = service.wait_session(sid, timeout=60)
        wait_until(lambda: gone(pid), timeout=10)    # killed on the computer, not left stopped
    finally:
        resume(pid)
    frozen, fine = session.tasks
    assert frozen.log[-1].text == frozen_message(sshd), frozen.log[-1].text
    # the silence counts from the last heartbeat, which came at most one interval
    # before the freeze: never given up sooner than that, nor much later
    assert STALL_S - watchdog.heartbeat_every(STALL_S) <= took < STALL_S + MARGIN_S
    assert frozen.bytes_read < 24 * MB
    assert fine.status is TaskStatus.SUCCESS
    assert [p.computer for p in service.list_points("Frozen")] == ["ok1"]
    assert session.result is SessionResult.FAILED       # a failed computer fails the session


@pytest.mark.parametrize("stopper", ["operator", "window"])
def test_a_graceful_stop_does_not_wait_for_a_frozen_agent(data_dir, sshd, tmp_path, stopper):
    """A graceful stop, by the operator or by the backup window closing, ends
    once the frozen computer is given up; then the job can run again."""
    clock = FakeClock(datetime(2026, 11, 26, 10, 30, tzinfo=timezone.utc))
    gate = TaskGate()
    svc = BackupService(data_dir, hooks=gate, clock=clock)
    svc.scheduler._tz = timezone.utc
    window = BackupWindow(start="10:00", end="11:00")
    job, big = two_computers(sshd, tmp_path, schedule=Schedule(
        kind=ScheduleKind.DAILY, at="10:15", window=window))
    pid = 0
    try:
        svc.create_job(job)
        sid = svc.start_job("Frozen")          # 10:30, inside the window
        wait_until(lambda: svc.get_session(sid).tasks[0].bytes_read > 0, timeout=30)
        pid = reading_agent(sshd, big)
        os.kill(pid, signal.SIGSTOP)
        if stopper == "operator":
            svc.stop_job("Frozen", StopMode.GRACEFULLY)
        else:
            clock.advance(minutes=30)         # 11:00: the window closes
            svc.keep_time()
        assert svc.get_session(sid).stop_mode is StopMode.GRACEFULLY
        wait_until(lambda: svc.get_session(sid).state is SessionState.STOPPED,
                   timeout=STALL_S + MARGIN_S)
        session = svc.get_session(sid)
        frozen = session.tasks[0]
        assert frozen.status is TaskStatus.FAILED
        assert frozen.log[-1].text == frozen_message(sshd), frozen.log[-1].text
        assert session.result is SessionResult.FAILED
        wait_until(lambda: gone(pid), timeout=10)    # killed on the computer
        pid = 0
        again = svc.wait_session(svc.start_job("Frozen", outside_window=True), timeout=120)
        assert again.result is SessionResult.SUCCESS
    finally:
        if pid:
            resume(pid)
        shutdown_service(svc, gate)


def test_an_agent_whose_read_hangs_fails_on_no_progress(service, sshd, tmp_path):
    """The agent lives and sends heartbeats, but its work is blocked: the
    file it opens next became a FIFO without a writer after the scan listed
    it as a regular file, so open() never returns (as a read on a hung
    network mount never does)."""
    src = tmp_path / "src"
    src.mkdir()
    random_file(src / "a-big.bin", 16 * MB, seed=6)
    (src / "z-last.txt").write_text("the last file\n")
    healthy = build_tree(tmp_path / "healthy")
    service.create_job(JobDefinition(
        name="Hang", ssh=settings(sshd), throttle_mbps=4,
        computers=(Computer(name="hung1", path=sshd.url(src)),
                   Computer(name="ok1", path=sshd.url(healthy)))))
    sid = service.start_job("Hang")
    pid = reading_agent(sshd, src / "a-big.bin")   # listed, now reading the first file
    fifo = src / "z-last.txt"
    fifo.unlink()
    os.mkfifo(fifo)
    try:
        wait_until(lambda: service.get_session(sid).tasks[0].status is TaskStatus.FAILED,
                   timeout=16 / 4 + STALL_S + MARGIN_S)
        session = service.wait_session(sid, timeout=60)
        wait_until(lambda: gone(pid), timeout=10)    # killed in its open()
    finally:
        try:   # a writer (then EOF): whatever still waits in open() goes on
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    hung, fine = session.tasks
    assert hung.log[-1].text == (
        f"Failed: The agent on {sshd.user}@127.0.0.1:{sshd.port} made no progress for "
        f"{STALL_S:g} s (a read that hangs, e.g. on a stuck network mount). The computer was "
        "given up; the other computers go on."), hung.log[-1].text
    assert fine.status is TaskStatus.SUCCESS
    (point,) = service.list_points("Hang")
    assert point.computer == "ok1"
