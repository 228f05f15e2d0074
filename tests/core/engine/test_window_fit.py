"""Windows that fit (issue 25, item 3): with a backup window, a session starts its
computers so that as many as possible finish before the window closes: those with
no history first, then shortest expected first (each one's expected duration from
its history), and it leaves for next time one that cannot finish, saying so.

Time is an injected clock driven by the test: a computer is held at the gate while
the clock moves by how long it "takes"; if that passes the close, the window closes
on it (an immediate window: it is cancelled). "Today's order" is the same session
with no history known (every computer started in the job's order)."""
from __future__ import annotations

import os
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.models import (
    Computer, JobDefinition, RunKind, SessionInfo, SessionResult, SessionState, SessionType,
    TaskInfo, TaskStatus,
)
from core.scheduling import BackupWindow, Schedule, ScheduleKind
from core.service import sessions as sessions_desk
from core.service.facade import BackupService
from tests.conftest import make_tree, wait_until
from tests.support.clock import FakeClock
from tests.support.gate import TaskGate

UTC = timezone.utc
OPENED = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)       # the window is 10:00-11:00
CLOSE = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(OPENED)


def window_job(svc: BackupService, tmp_path: Path, name: str, computers: list[str],
               history: dict[str, float], sizes: dict[str, int] | None = None,
               files: dict[str, int] | None = None) -> None:
    """A job of one task slot with an immediate 10:00-11:00 window, and one past
    session in which each computer of ``history`` took that many seconds."""
    svc.create_job(JobDefinition(
        name=name, task_slots=1,
        computers=tuple(Computer(name=c, path=str(make_tree(
            tmp_path / name / c, files=(files or {}).get(c, 3)))) for c in computers),
        schedule=Schedule(kind=ScheduleKind.DAILY, at="10:15", window=BackupWindow(
            start="10:00", end="11:00", terminate=True))))
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    past = SessionInfo(id=f"20261125-100000-{name.lower()}", job=name,
                       state=SessionState.STARTING, type=SessionType.BACKUP,
                       run_kind=RunKind.SCHEDULED, created=start, tasks=[
                           TaskInfo(computer=c, status=TaskStatus.SUCCESS, started=start,
                                    ended=start + timedelta(seconds=s),
                                    bytes_total=(sizes or {}).get(c, 0))
                           for c, s in history.items()])
    svc.catalogue.create_session(past, owner_pid=os.getpid())
    past.state, past.result = SessionState.STOPPED, SessionResult.SUCCESS
    past.ended = start + timedelta(hours=1)
    svc.catalogue.save_session(past)


def drive(svc: BackupService, gate: TaskGate, clock: FakeClock, job: str,
          takes: dict[str, float]) -> SessionInfo:
    """Run the job's session at 10:30, each computer taking ``takes`` seconds of the
    injected clock; the window closes at 11:00 on the one still running then."""
    clock.now = OPENED
    gate.hold(*takes)
    session_id = svc.start_job(job)

    def held() -> list[str]:
        return [c for c in takes if gate.is_waiting(c)]

    def ended() -> bool:
        return not svc.get_session(session_id).state.is_active

    while True:
        wait_until(lambda: bool(held()) or ended(), timeout=20)
        if not held():
            break
        (computer,) = held()
        end = clock.now + timedelta(seconds=takes[computer])
        if end > CLOSE:
            clock.now = CLOSE
            svc.keep_time()                      # the window closes on it
            gate.release(computer)
            break
        clock.now = end
        gate.release(computer)
        wait_until(lambda: ended() or next(
            t for t in svc.get_session(session_id).tasks
            if t.computer == computer).status.is_final, timeout=20)
    gate.release_all()
    return svc.wait_session(session_id, timeout=20)


def statuses(session: SessionInfo) -> dict[str, TaskStatus]:
    return {t.computer: t.status for t in session.tasks}


def points(session: SessionInfo) -> int:
    return sum(t.status.produced_point for t in session.tasks)


def today(monkeypatch: pytest.MonkeyPatch) -> None:
    """Today's order: no history is known, every computer starts in the job's order."""
    monkeypatch.setattr(sessions_desk, "expected_durations", lambda *_a, **_k: {})
    monkeypatch.setattr(sessions_desk, "history_rates", lambda *_a, **_k: {})


def test_the_window_starts_what_fits_and_leaves_the_rest(
        svc: BackupService, tmp_path: Path, gate: TaskGate, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    computers = ["srv-db01", "pc1", "pc2", "new-pc"]
    history = {"srv-db01": 7200.0, "pc1": 600.0, "pc2": 600.0}   # new-pc: never ran
    takes = {**history, "new-pc": 300.0}
    window_job(svc, tmp_path, "Fit", computers, history)
    fit = drive(svc, gate, clock, "Fit", takes)
    assert statuses(fit) == {"srv-db01": TaskStatus.SKIPPED, "pc1": TaskStatus.SUCCESS,
                             "pc2": TaskStatus.SUCCESS, "new-pc": TaskStatus.SUCCESS}
    log = [i.text for i in fit.log]
    assert any(t.startswith("The backup window closes in 30 min: computers start shortest "
                            "expected first") for t in log)
    # new-pc 10:30-10:35, pc1 to 10:45, pc2 to 10:55: srv-db01 would need 2 h of 5 min
    assert "Not started: srv-db01 needs about 2 h, the window closes in 5 min." in log
    started = [t for t in fit.tasks if t.started is not None]
    assert [t.computer for t in sorted(started, key=lambda t: t.started)] == \
        ["new-pc", "pc1", "pc2"]
    db = next(t for t in fit.tasks if t.computer == "srv-db01")
    assert any("left for the next run" in i.text for i in db.log)

    today(monkeypatch)                            # the same job, in today's order
    window_job(svc, tmp_path, "Today", computers, history)
    old = drive(svc, gate, clock, "Today", takes)
    assert statuses(old) == {"srv-db01": TaskStatus.CANCELLED, "pc1": TaskStatus.SKIPPED,
                             "pc2": TaskStatus.SKIPPED, "new-pc": TaskStatus.SKIPPED}
    assert points(fit) == 3 > points(old) == 0


@pytest.mark.parametrize("seed", range(6))
def test_never_cancels_what_the_rule_would_not_start_and_never_makes_fewer_points(
        svc: BackupService, tmp_path: Path, gate: TaskGate, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Random durations (1 to 25 min, history exact) in a random job order, 30 min
    left: whatever the rule cancels at the close it had started by its own rule (no
    history, or expected to fit), and it makes at least as many points as today."""
    rng = random.Random(seed)
    computers = [f"pc{i}" for i in range(rng.randint(3, 6))]
    takes = {c: float(rng.randint(1, 25) * 60) for c in computers}
    window_job(svc, tmp_path, "Fit", computers, takes)
    fit = drive(svc, gate, clock, "Fit", takes)
    for task in fit.tasks:
        if task.status is TaskStatus.CANCELLED:   # started: expected to fit when it did
            assert task.started is not None
    at = OPENED
    for task in sorted((t for t in fit.tasks if t.status.produced_point),
                       key=lambda t: takes[t.computer]):
        at += timedelta(seconds=takes[task.computer])
        assert at <= CLOSE
    not_started = [t.computer for t in fit.tasks if t.status is TaskStatus.SKIPPED]
    assert all(at + timedelta(seconds=takes[c]) > CLOSE for c in not_started)

    today(monkeypatch)
    window_job(svc, tmp_path, "Today", computers, takes)
    old = drive(svc, gate, clock, "Today", takes)
    assert points(fit) >= points(old), (takes, statuses(fit), statuses(old))
    assert not any(s is TaskStatus.CANCELLED for s in statuses(fit).values())


def test_a_computer_whose_scan_has_grown_is_left_after_its_scan(
        svc: BackupService, tmp_path: Path, gate: TaskGate, clock: FakeClock) -> None:
    """'grown' took 5 min for its 6 KiB last time; its scan now finds 60 KiB: at that
    rate it needs 50 min, the window closes in 30: it reads nothing and is left for
    next time, and 'small' gets the slot."""
    window_job(svc, tmp_path, "Scan", ["grown", "small"], {"grown": 300.0, "small": 600.0},
               sizes={"grown": 3 * 2048, "small": 3 * 2048}, files={"grown": 30})
    session = drive(svc, gate, clock, "Scan", {"grown": 300.0, "small": 600.0})
    assert statuses(session) == {"grown": TaskStatus.SKIPPED, "small": TaskStatus.SUCCESS}
    grown = next(t for t in session.tasks if t.computer == "grown")
    assert grown.bytes_total == 30 * 2048 and grown.bytes_read == 0 and grown.files_done == 0
    assert "Not started: grown needs about 50 min (its scan: 60.0 KB), the window closes " \
        "in 30 min." in [i.text for i in session.log]
    assert [p.computer for p in svc.list_points("Scan")] == ["small"]
