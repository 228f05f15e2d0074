"""Pause and resume (issue 25): a paused session holds every computer in flight at a
block boundary, reads nothing more, keeps what it sent; Resume goes on where it stopped;
Stop still works on a paused session. Timed with gates and events, never with luck."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core.errors import JobStateError
from core.models import JobStatus, SessionResult, SessionState, StopMode, TaskStatus
from tests.conftest import points_by_computer, wait_until


def _task(service, sid: str, computer: str):
    return next(t for t in service.get_session(sid).tasks if t.computer == computer)


def _paused(service, sid: str) -> bool:
    return service.get_session(sid).state is SessionState.PAUSED


def start_paused(service, make_job, gate, *, computers: int = 2, slots: int = 1,
                 files: int = 6, size: int = 300_000) -> str:
    """pc1 held in progress (one file done) by the test gate, then paused and let go of
    the test gate: it parks at the session's hold gate."""
    make_job("Job", computers=computers, task_slots=slots, files=files, size=size)
    gate.hold("pc1")
    sid = service.start_job("Job")
    assert gate.wait_held("pc1")
    service.pause_job("Job")
    gate.release_all()
    wait_until(lambda: _paused(service, sid))
    return sid


def test_pause_holds_the_computer_and_resume_makes_every_point(service, make_job, gate):
    sid = start_paused(service, make_job, gate)
    assert service.get_job("Job").status is JobStatus.PAUSED
    pc1 = _task(service, sid, "pc1")
    assert pc1.status is TaskStatus.IN_PROGRESS and 0 < pc1.files_done < 6
    assert _task(service, sid, "pc2").status is TaskStatus.PENDING   # nothing new starts
    read = pc1.bytes_read
    # held: a second look (after the session saved itself again) reads no more
    saved = threading.Event()
    unsubscribe = service.subscribe(lambda e: saved.set())
    saved.wait(2)
    unsubscribe()
    assert _task(service, sid, "pc1").bytes_read == read
    with pytest.raises(JobStateError, match="already paused"):
        service.pause_job("Job")
    service.resume_job("Job")
    session = service.wait_session(sid, timeout=30)
    assert session.result is SessionResult.SUCCESS
    assert points_by_computer(service, "Job") == {"pc1": 1, "pc2": 1}
    # nothing was read twice: one pass over the source
    assert _task(service, sid, "pc1").bytes_read == 6 * 300_000
    assert any("Paused: 1 computer(s) held" in i.text for i in session.log)
    with pytest.raises(JobStateError):
        service.resume_job("Job")


def test_resume_of_a_session_that_is_not_paused_is_refused(service, make_job, gate):
    make_job("Job", computers=1)
    gate.hold("pc1")
    service.start_job("Job")
    assert gate.wait_held("pc1")
    with pytest.raises(JobStateError, match="not paused"):
        service.resume_job("Job")


def test_stop_immediately_on_a_paused_session_gives_the_paused_computers_no_point(
        service, make_job, gate):
    sid = start_paused(service, make_job, gate)
    outcome = service.stop_job("Job", StopMode.IMMEDIATELY)
    assert outcome.in_progress == ["pc1"]
    session = service.wait_session(sid, timeout=10)
    assert {t.computer: t.status for t in session.tasks} == {
        "pc1": TaskStatus.CANCELLED, "pc2": TaskStatus.SKIPPED}
    assert session.result is SessionResult.FAILED
    assert points_by_computer(service, "Job") == {}


def test_stop_gracefully_on_a_paused_session_resumes_and_finishes(service, make_job, gate):
    sid = start_paused(service, make_job, gate)
    service.stop_job("Job", StopMode.GRACEFULLY)
    session = service.wait_session(sid, timeout=30)
    assert {t.computer: t.status for t in session.tasks} == {
        "pc1": TaskStatus.SUCCESS, "pc2": TaskStatus.SKIPPED}
    assert points_by_computer(service, "Job") == {"pc1": 1}


def test_pause_during_a_throttle_wait_holds_at_once(service, make_job, gate):
    """The job's read rate makes each block wait; a pause ends that wait (like a stop)."""
    make_job("Job", computers=1, files=4, size=2 << 20, throttle_mbps=0.5)
    sid = service.start_job("Job")
    wait_until(lambda: _task(service, sid, "pc1").bytes_read > 0)
    service.pause_job("Job")
    wait_until(lambda: _paused(service, sid), timeout=2)   # the wait is seconds long
    runner = service._ctx.runners[sid]
    assert runner.hold.held_latency_s is not None and runner.hold.held_latency_s < 1.0
    pc1 = _task(service, sid, "pc1")   # held in the middle, not run to its end
    assert runner.hold.held == 1 and pc1.status is TaskStatus.IN_PROGRESS
    assert pc1.bytes_read < 4 * (2 << 20)
    service.stop_job("Job", StopMode.IMMEDIATELY)
    service.wait_session(sid, timeout=10)


def test_a_paused_session_records_the_files_it_stored(service, make_job, gate):
    """The restart record: files completed before the pause, their blocks durable."""
    sid = start_paused(service, make_job, gate)
    files, read, partial = service.catalogue.paused_tasks(sid)["pc1"]
    assert partial is None   # held between files
    done = _task(service, sid, "pc1").files_done
    assert [Path(e.path).name for e in files] == [f"file_{i:03d}.dat" for i in range(done)]
    assert read == _task(service, sid, "pc1").bytes_read
    index = service._pool.repository("default")._index   # the blocks are in the index
    assert all(b in index.blobs for e in files for b in e.blocks)
    service.resume_job("Job")
    service.wait_session(sid, timeout=30)
    assert service.catalogue.paused_tasks(sid) == {}   # gone with the session


def test_a_pause_in_the_middle_of_a_big_file_records_its_stored_blocks(service, make_job, gate):
    """Held inside a file (the read rate keeps it there): the complete chunks read so far
    are stored before the hold, and the record names the file and its blocks, so that a
    resume after a restart continues the file at their end."""
    make_job("Job", computers=1, files=1, size=12 << 20, throttle_mbps=2)
    sid = service.start_job("Job")
    wait_until(lambda: _task(service, sid, "pc1").bytes_read >= 6 << 20, timeout=20)
    service.pause_job("Job")
    wait_until(lambda: _paused(service, sid), timeout=5)
    read = _task(service, sid, "pc1").bytes_read
    _files, _read, partial = service.catalogue.paused_tasks(sid)["pc1"]
    assert partial is not None and partial.entry.path.endswith("file_000.dat")
    assert partial.entry.size == 12 << 20 and len(partial.sizes) == len(partial.entry.blocks)
    assert read - (4 << 20) - (1 << 20) <= partial.offset <= read   # at most one open chunk
    index = service._pool.repository("default")._index
    assert all(b in index.blobs for b in partial.entry.blocks)
    service.resume_job("Job")
    session = service.wait_session(sid, timeout=30)
    assert session.result is SessionResult.SUCCESS and session.tasks[0].bytes_read == 12 << 20


def test_cutting_early_at_a_pause_cuts_as_an_uninterrupted_read_does() -> None:
    """A chunk's end depends only on the bytes from its start: cutting what is buffered
    at any moment (a pause), then going on from the last cut, gives the same chunks."""
    import os
    import random
    from core.repository.chunker import Chunker
    chunker = Chunker(1 << 20)
    data = os.urandom(24 << 20)
    whole = chunker.ends(data, True)
    rnd = random.Random(25)
    for _ in range(10):
        cuts: list[int] = []
        start = 0
        while True:
            end = min(len(data), start + rnd.randint(1, chunker.max_size + chunker.read_size))
            found = chunker.ends(data[start:end], end == len(data))
            cuts += [start + e for e in found]
            if end == len(data) and (not found or cuts[-1] == len(data)):
                break
            start = cuts[-1] if found else start
        assert cuts == whole


def _record_paused(data: Path, tasks) -> None:
    """A session recorded Paused, as a server killed while it was paused leaves it."""
    from core.catalogue import Catalogue
    from core.models import RunKind, SessionInfo, SessionType, utcnow
    from core.paths import catalogue_path
    cat = Catalogue(catalogue_path(data))
    try:
        session = SessionInfo(id="20261208-000000-abcdef", job="J", state=SessionState.PAUSED,
                              type=SessionType.BACKUP, run_kind=RunKind.MANUAL,
                              created=utcnow(), tasks=tasks)
        cat.create_session(session, owner_pid=999_999)
        cat.save_session(session)
    finally:
        cat.close()


@pytest.mark.parametrize("ghost", [False, True], ids=["rebuilt", "computer-removed"])
def test_a_paused_session_is_rebuilt_paused_at_start(tmp_path, ghost):
    """The start finds a session recorded Paused: it stays Paused (its tasks not running)
    and Resume runs it; one that names a computer the job no longer has ends Failed,
    saying why, and the server starts all the same."""
    from core.models import Computer, JobDefinition, TaskInfo
    from core.service.facade import BackupService
    from tests.conftest import make_tree
    data = tmp_path / "data"
    svc = BackupService(data)
    svc.create_job(JobDefinition(name="J", task_slots=1, computers=tuple(
        Computer(name=c, path=str(make_tree(tmp_path / c))) for c in ("pc1", "pc2"))))
    svc.close()
    _record_paused(data, [TaskInfo(computer="ghost" if ghost else "pc1",
                                   status=TaskStatus.IN_PROGRESS),
                          TaskInfo(computer="pc2")])
    svc = BackupService(data)
    try:
        sid = "20261208-000000-abcdef"
        session = svc.get_session(sid)
        if ghost:
            assert session.state is SessionState.STOPPED and \
                session.result is SessionResult.FAILED
            assert "could not be resumed after the server's restart" in session.log[-1].text
            assert svc.get_job("J").status is JobStatus.IDLE
            return
        assert session.state is SessionState.PAUSED
        assert svc.get_job("J").status is JobStatus.PAUSED
        assert svc.stop_preview("J").paused
        svc.resume_job("J")
        session = svc.wait_session(sid, timeout=30)
        assert session.result is SessionResult.SUCCESS
        assert points_by_computer(svc, "J") == {"pc1": 1, "pc2": 1}
        assert any("continues after the server's restart" in i.text for i in session.log)
    finally:
        svc.close()
