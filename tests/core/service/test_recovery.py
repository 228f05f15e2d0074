"""Restore and verify as recorded sessions, History pages, browsing a point,
deleting backups, the measured bottleneck, and the CLI's session show and
partial restore."""
from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.api import made_text, session_figures
from core.service.browse import PointTree
from core.catalogue import Catalogue
from core.cli import main
from core.errors import JobStateError, NotFound, RestoreError
from core.models import (
    Computer, HistoryQuery, JobDefinition, SessionResult, SessionType, Stage,
    StopMode, TaskStatus, utcnow,
)
from core.repository import Manifest, PointMeta, Repository, RestoreStats
from core.repository.model import DIR, FILE
from core.service.facade import BackupService
from tests.conftest import make_tree
from tests.support.gate import TaskGate


def _tree(root: Path) -> Path:
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "deep.txt").write_bytes(os.urandom(5000))
    (root / "a" / "one.txt").write_text("one")
    (root / "top.bin").write_bytes(os.urandom(300_000))
    os.link(root / "a" / "one.txt", root / "same-as-one.txt")
    os.symlink("a/one.txt", root / "link")
    return root


@pytest.fixture
def job(service: BackupService, tmp_path: Path) -> tuple[str, Path, str]:
    src = _tree(tmp_path / "pc1")
    service.create_job(JobDefinition(name="J", computers=(Computer(name="pc1", path=str(src)),)))
    session = service.wait_session(service.start_job("J"), 20)
    assert session.result is SessionResult.SUCCESS
    return "J", src, service.list_points("J")[0].id


# -- restore sessions ------------------------------------------------------------------
def test_a_restore_is_a_recorded_session(service: BackupService, job, tmp_path: Path) -> None:
    _name, src, point_id = job
    report = service.restore(point_id, tmp_path / "out")
    assert (tmp_path / "out" / "top.bin").read_bytes() == (src / "top.bin").read_bytes()
    assert report.session_id is not None
    session = service.get_session(report.session_id)
    assert session.type is SessionType.RESTORE and session.result is SessionResult.SUCCESS
    assert session.job == "J" and session.tasks[0].computer == "pc1"
    assert session.operation is not None and session.operation.files == report.files == 3
    assert session.tasks[0].bytes_processed == report.bytes == session.tasks[0].bytes_total
    assert session.progress == 100
    # A restore never makes the job look busy or changes its last result.
    info = service.get_job("J")
    assert info.active_session_id is None and info.last_result is SessionResult.SUCCESS
    assert service.retry_candidates("J") == []


def test_a_partial_restore_takes_only_the_paths_asked_for(
        service: BackupService, job, tmp_path: Path) -> None:
    _name, src, point_id = job
    out = tmp_path / "part"
    report = service.restore(point_id, out, paths=["a/b", "same-as-one.txt"])
    got = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert got == ["a", "a/b", "a/b/deep.txt", "same-as-one.txt"]
    # A hard link whose file was not asked for comes back as a copy of it.
    assert (out / "same-as-one.txt").read_text() == "one"
    assert report.files == 2
    with pytest.raises(RestoreError, match="holds no 'nope'"):
        service.restore(point_id, tmp_path / "none", paths=["nope"])
    assert not (tmp_path / "none").exists()


def test_restore_to_the_original_location_needs_overwrite_and_deletes_nothing(
        service: BackupService, job) -> None:
    _name, src, point_id = job
    (src / "a" / "one.txt").write_text("changed")
    (src / "extra.txt").write_text("keep")
    with pytest.raises(RestoreError, match="Confirm that files may be overwritten"):
        service.start_restore(point_id, None)
    session = service.wait_session(service.start_restore(point_id, None, paths=["a"],
                                                         overwrite=True), 20)
    assert session.result is SessionResult.SUCCESS, session.log
    assert session.operation is not None and session.operation.original_location
    assert (src / "a" / "one.txt").read_text() == "one"
    assert (src / "extra.txt").read_text() == "keep"


def test_a_restore_can_be_cancelled(service: BackupService, job, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _name, _src, point_id = job
    began = threading.Event()

    def endless(self, point_id, target, *, cancel=None, progress=None, paths=None,
                checked=None):
        progress(1, 10)
        began.set()
        waiter = threading.Event()
        while not cancel():
            waiter.wait(0.01)
        return RestoreStats(point_id, str(target), 1, 0, 0, 10, cancelled=True)

    monkeypatch.setattr(Repository, "restore", endless)
    session_id = service.start_restore(point_id, tmp_path / "out")
    assert began.wait(10)
    assert service.get_session(session_id).state.is_active
    assert session_id in service.running_operations()
    service.cancel_session(session_id)
    session = service.wait_session(session_id, 10)
    assert session.result is SessionResult.FAILED
    assert session.stop_mode is StopMode.IMMEDIATELY and session.stopped_by == "by user"
    assert session.tasks[0].status is TaskStatus.CANCELLED
    assert [i.text for i in session.log][-1] == "Restore cancelled by user."
    with pytest.raises(JobStateError, match="has ended"):
        service.cancel_session(session_id)


# -- verify sessions --------------------------------------------------------------------
def test_verify_names_the_damaged_file_and_records_a_session(
        service: BackupService, tmp_path: Path) -> None:
    src = tmp_path / "ledger"
    src.mkdir()
    (src / "ledger.db").write_bytes(os.urandom(150_000))
    service.create_job(JobDefinition(name="L", computers=(Computer(name="acct", path=str(src)),)))
    service.wait_session(service.start_job("L"), 20)
    assert service.wait_session(service.start_verify(job="L"), 20).result is \
        SessionResult.SUCCESS
    # the data pack (the other, small one holds the point's entry blob: manifest format 3)
    pack = max((service.data_dir / "repositories" / "default" / "packs").rglob("*.pack"),
               key=lambda p: p.stat().st_size)
    with open(pack, "r+b") as f:
        f.seek(pack.stat().st_size // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0xFF]))
    session = service.wait_session(service.start_verify(job="L"), 20)
    assert session.type is SessionType.VERIFY and session.result is SessionResult.FAILED
    assert session.operation is not None and session.operation.damaged_paths == ["ledger.db"]
    assert session.tasks[0].computer == "acct" and session.tasks[0].status is TaskStatus.FAILED
    assert any("ledger.db" in i.text for i in session.tasks[0].log)
    assert "damaged files: ledger.db" in session.log[-1].text
    assert service.list_points("L")[0].damaged   # marked in the catalogue too
    report = service.verify()
    assert not report.ok and any("ledger.db" in p.paths for p in report.problems)


def test_verify_of_a_job_without_points_is_refused(service: BackupService, make_job) -> None:
    make_job("Empty", computers=1)
    with pytest.raises(NotFound, match="no restore points"):
        service.start_verify(job="Empty")


# -- History ----------------------------------------------------------------------------
def test_history_pages_are_fast_with_100000_sessions(tmp_path: Path) -> None:
    cat = Catalogue(tmp_path / "catalogue.sqlite")
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    rows = []
    for i in range(100_000):
        created = start + timedelta(minutes=i)
        rows.append((f"s{i:06d}", f"Job {i % 50}", "Stopped",
                     ("Success", "Warning", "Failed")[i % 3], "manual", 0, created.isoformat(),
                     (created + timedelta(seconds=30)).isoformat(), 100, "[]",
                     ("Backup", "Backup", "Restore", "Verify")[i % 4], i, 2))
    with cat._tx() as db:
        db.executemany(
            "INSERT INTO sessions(id, job, state, result, run_kind, full, created, ended, "
            "progress, log, type, processed, computers) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows)

    def timed(query: HistoryQuery):
        t0 = time.perf_counter()
        page = cat.history(query)
        return page, time.perf_counter() - t0

    page, took = timed(HistoryQuery(limit=200))
    assert page.total == 100_000 and page.more and len(page.sessions) == 200
    assert page.sessions[0].id == "s099999" and took < 0.5
    cursor = page.sessions[-1]
    for _ in range(3):   # page on with the cursor
        page, took = timed(HistoryQuery(limit=200, count=False,
                                        before_created=cursor.created, before_id=cursor.id))
        assert page.sessions[0].created < cursor.created and took < 0.2
        cursor = page.sessions[-1]
    deep = cat.history(HistoryQuery(limit=200, count=False,
                                    before_created=start + timedelta(minutes=300)))
    assert [s.id for s in deep.sessions][:2] == ["s000299", "s000298"] and deep.more
    page, took = timed(HistoryQuery(job="job 7", results=[SessionResult.FAILED],
                                    types=[SessionType.BACKUP], limit=50))
    assert took < 0.5 and page.total and all(
        s.job == "Job 7" and s.result is SessionResult.FAILED and s.type is SessionType.BACKUP
        for s in page.sessions)
    page, _ = timed(HistoryQuery(since=start + timedelta(minutes=99_990)))
    assert page.total == 10
    cat.close()


def test_history_lists_every_type_and_who_stopped(service: BackupService, gate: TaskGate,
                                                  make_job, tmp_path: Path) -> None:
    make_job("H", computers=2, task_slots=1)
    gate.hold("pc1")
    sid = service.start_job("H")
    assert gate.wait_held("pc1")
    service.stop_job("H", StopMode.GRACEFULLY)
    gate.release_all()
    service.wait_session(sid, 10)
    service.restore(service.list_points("H")[0].id, tmp_path / "r")
    page = service.list_history(HistoryQuery())
    assert [(s.type, s.job) for s in page.sessions] == [(SessionType.RESTORE, "H"),
                                                       (SessionType.BACKUP, "H")]
    backup = page.sessions[1]
    assert backup.stop_mode is StopMode.GRACEFULLY and backup.stopped_by == "by user"
    assert backup.result is SessionResult.WARNING and backup.computers == 2
    assert backup.processed == sum(t.bytes_processed for t in service.get_session(sid).tasks)
    running = service.list_history(HistoryQuery(running=True))
    assert running.total == 0


# -- browsing ---------------------------------------------------------------------------
def test_browsing_a_point_one_folder_at_a_time(service: BackupService, job) -> None:
    _name, _src, point_id = job
    root = {e.name: e for e in service.browse_point(point_id)}
    assert set(root) == {"a", "top.bin", "same-as-one.txt", "link"}
    assert root["a"].kind == "dir" and root["a"].files == 2
    assert root["top.bin"].size == 300_000 and root["link"].target == "a/one.txt"
    assert [e.path for e in service.browse_point(point_id, "a")] == ["a/b", "a/one.txt"]
    with pytest.raises(NotFound):
        service.browse_point(point_id, "top.bin")


def test_a_100000_file_point_is_browsed_fast() -> None:
    meta = PointMeta(id="p1", job="J", computer="c", session_id="s", type="Full",
                     created=utcnow(), parent=None)
    entries = []
    for d in range(100):
        entries.append(_entry(f"d{d:03d}", DIR))
        for f in range(1000):
            entries.append(_entry(f"d{d:03d}/f{f:04d}", FILE, 1000))
    t0 = time.perf_counter()
    tree = PointTree(Manifest(meta, entries))
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    folder = tree.list("d042")
    listed = time.perf_counter() - t0
    assert tree.files == 100_000 and tree.bytes == 100_000_000
    assert len(folder) == 1000 and folder[0].path == "d042/f0000"
    assert [e.files for e in tree.list("")][:2] == [1000, 1000]
    assert built < 3.0 and listed < 0.5


def _entry(path: str, kind: str, size: int = 0):
    from core.repository import Entry

    blocks = ("0" * 64,) if kind == FILE else ()
    return Entry(path, kind, 0o644, 1_600_000_000_000_000_000, size, 0, 0, blocks)


# -- delete from disk --------------------------------------------------------------------
def test_delete_backups_of_a_computer_then_of_the_job(service: BackupService,
                                                      make_job) -> None:
    make_job("D", computers=2, size=200_000)
    service.wait_session(service.start_job("D"), 20)
    report = service.delete_backups("D", "pc1")
    assert report.points == 1 and report.bytes_freed > 0
    assert {p.computer for p in service.list_points("D")} == {"pc2"}
    report = service.delete_backups("D")
    assert report.points == 1 and service.list_points("D") == []
    with pytest.raises(NotFound, match="no backups"):
        service.delete_backups("D")


def test_delete_backups_of_a_running_job_is_refused(service: BackupService, gate: TaskGate,
                                                    make_job) -> None:
    make_job("R", computers=1)
    service.wait_session(service.start_job("R"), 20)
    gate.hold("pc1")
    service.start_job("R")
    assert gate.wait_held("pc1")
    with pytest.raises(JobStateError, match="running"):
        service.delete_backups("R")
    gate.release_all()


# -- the bottleneck ----------------------------------------------------------------------
def test_the_bottleneck_is_measured_throttling_when_throttled(service: BackupService,
                                                             make_job) -> None:
    make_job("T", computers=1, files=3, size=500_000, throttle_mbps=2.0)
    session = service.wait_session(service.start_job("T"), 30)
    task = session.tasks[0]
    fig = session_figures(session)
    assert task.throttle_s > 0.3 and task.source_s > 0 and task.target_s > 0
    assert fig.bottleneck is Stage.THROTTLING
    assert sum(fig.stages.values()) <= (task.duration_s or 0) * 1.5 + 0.5
    assert fig.rate_bps and fig.read == 1_500_000 and task.bytes_stored_raw == 1_500_000
    assert made_text(session) == "Full"


def test_made_names_full_and_increment_per_computer(service: BackupService, make_job) -> None:
    make_job("M", computers=2)
    service.wait_session(service.start_job("M"), 20)
    service.delete_backups("M", "pc2")
    session = service.wait_session(service.start_job("M"), 20)
    assert made_text(session) == "Increment: pc1; Full: pc2"


# -- the CLI -----------------------------------------------------------------------------
@pytest.fixture
def cli(tmp_path, capsys):
    data = tmp_path / "data"

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(data), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_session_show_and_partial_restore(cli, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "pc", files=3, size=4000)
    (src / "sub").mkdir()
    (src / "sub" / "inner.txt").write_text("inner")
    assert cli("job", "create", "C", "--computer", f"pc1={src}", "--computer",
               f"pc2={tmp_path / 'missing'}")[0] == 1   # a missing folder is refused
    assert cli("job", "create", "C", "--computer", f"pc1={src}")[0] == 0
    code, out, err = cli("start", "C", "--wait")
    assert code == 0, err
    (session,) = json.loads(cli("sessions", "C", "--json")[1])
    assert session["type"] == "Backup" and session["tasks"][0]["log"]
    code, out, err = cli("session", "show", session["id"])
    assert code == 0, err
    assert out.startswith(f"Session {session['id']}: Backup (Full) of C")
    assert "Processing rate" in out and "bottleneck" in out
    assert "1 of 1 computer(s) got a new restore point." in out          # the session log
    assert "pc1: Success, Full; 4/4 file(s)" in out and "Processing pc1" in out   # computers
    assert " bytes" not in out and "KB" in out                           # human-readable
    code, out, _ = cli("session", "show", session["id"], "--json")
    shown = json.loads(out)
    assert shown["made"] == "Full" and shown["figures"]["read"] == 12_005
    assert set(shown["figures"]["stages_s"]) == {"Source", "CPU", "Target", "Throttling", "Production"}
    assert shown["tasks"][0]["log"][0]["text"] == "Processing pc1"

    (point,) = json.loads(cli("points", "C", "--json")[1])
    code, out, err = cli("restore", point["id"], str(tmp_path / "out"), "--path", "sub")
    assert code == 0, err
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*")) \
        == ["sub", "sub/inner.txt"]
    assert out.strip().endswith("1 file(s), 1 folder(s), 0 symlink(s), 5 B.")
    code, out, err = cli("points", "C")
    assert "11.7 KB" in out   # sizes for people
    code, _, err = cli("session", "show", "nope")
    assert code == 1 and "No session with id nope" in err
    code, out, _ = cli("sessions", "C")
    assert "Restore" in out and "Backup" in out
