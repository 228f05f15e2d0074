"""The catalogue package: numbered migrations, old catalogues, newer ones."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from core.catalogue import Catalogue, migrations
from core.catalogue.migrations import MIGRATIONS, Migration, latest_version
from core.errors import RepositoryError
from core.models import (
    HistoryQuery,
    PointType,
    RunKind,
    SessionResult,
    SessionState,
    SessionType,
    TaskStatus,
)

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "catalogue-v0.sqlite"
ROOT = Path(__file__).resolve().parents[3]
SESSION_ID = "20261126-171512-e05683"
POINT_ID = "07325ad1f2279a00"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def raw(path: Path, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def version_of(path: Path) -> int:
    return int(raw(path, "PRAGMA user_version")[0][0])


def tables(path: Path) -> set[str]:
    return {str(r[0]) for r in raw(path, "SELECT name FROM sqlite_master WHERE type='table'")}


def columns(path: Path, table: str) -> dict[str, tuple[object, ...]]:
    return {str(r[1]): r for r in raw(path, f"PRAGMA table_info({table})")}


@pytest.fixture
def v0_copy(tmp_path: Path) -> Path:
    path = tmp_path / "catalogue.sqlite"
    shutil.copyfile(FIXTURE, path)
    assert version_of(path) == 0
    assert "server_state" not in tables(path)
    return path


def test_the_migrations_are_numbered_in_order() -> None:
    assert [m.version for m in MIGRATIONS] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 14, 15]
    assert latest_version() == 15


def test_a_v0_catalogue_is_migrated_and_reads_back_exactly(v0_copy: Path) -> None:
    cat = Catalogue(v0_copy)
    try:
        assert version_of(v0_copy) == latest_version() == 15

        jobs = cat.jobs()
        assert [j.name for j in jobs] == ["Nightly Servers", "Ünïcode job"]
        nightly, uni = jobs
        assert nightly.description == "made by the v0 catalogue code"
        assert [(c.name, c.path, c.agent) for c in nightly.computers] == [
            ("pc1", "/tmp/fx/src/pc1", "local")]
        assert list(nightly.scope.include) == []
        assert list(nightly.scope.exclude) == ["*.tmp"]
        assert (nightly.repository, nightly.retain_points, nightly.task_slots,
                nightly.throttle_mbps, nightly.enabled) == (
            "Default Backup Repository", 3, 1, None, True)
        assert [c.name for c in uni.computers] == ["pc2"]
        assert (uni.retain_points, uni.task_slots, uni.enabled) == (7, 2, False)
        assert cat.job("nightly servers") == nightly  # names stay case-insensitive
        assert cat.job("Ünïcode job") == uni

        session = cat.session(SESSION_ID)
        assert session.job == "Nightly Servers"
        assert session.state is SessionState.STOPPED
        assert session.result is SessionResult.SUCCESS
        assert session.run_kind is RunKind.MANUAL
        assert session.full is False
        assert session.stop_mode is None
        assert session.progress == 100
        assert session.created == utc("2026-11-26T17:15:12.930421")
        assert session.ended == utc("2026-11-26T17:15:12.936349")
        assert [(i.time, i.level, i.text) for i in session.log] == [
            (utc("2026-11-26T17:15:12.932242"), "info",
             "Job started manually by user: 1 computer(s), 1 task slot(s)"),
            (utc("2026-11-26T17:15:12.936333"), "info",
             "1 of 1 computer(s) got a new restore point."),
        ]
        [task] = session.tasks
        assert task.computer == "pc1"
        assert task.status is TaskStatus.SUCCESS
        assert task.started == utc("2026-11-26T17:15:12.932883")
        assert task.ended == utc("2026-11-26T17:15:12.935810")
        assert (task.bytes_processed, task.bytes_read, task.bytes_transferred,
                task.files_total, task.files_done, task.bytes_total, task.warnings) == (
            12, 12, 12, 2, 2, 12, 0)
        assert task.point_id == POINT_ID
        assert [i.text for i in task.log] == [
            "Processing pc1",
            "Found 2 file(s), 12 B; creating full restore point",
            "Restore point created: Full, 2 file(s), 12 B; 12 B transferred",
        ]
        assert [s.id for s in cat.sessions()] == [SESSION_ID]
        assert cat.latest_finished("Nightly Servers") == session
        assert cat.active_session("Nightly Servers") is None
        assert list(cat.latest_sessions()) == ["Nightly Servers"]
        assert session.type is SessionType.BACKUP   # migration 4: every old session
        [row] = cat.history(HistoryQuery()).sessions
        assert (row.id, row.processed, row.computers) == (SESSION_ID, 12, 1)   # backfilled

        [point] = cat.points()
        assert point == cat.point("07325")  # unique prefix
        assert (point.id, point.job, point.computer, point.session_id, point.type,
                point.created, point.files, point.size, point.repository) == (
            POINT_ID, "Nightly Servers", "pc1", SESSION_ID, PointType.FULL,
            utc("2026-11-26T17:15:12.933663"), 2, 12, "Default Backup Repository")
        assert cat.points(job="Nightly Servers", computer="pc1") == [point]
        assert cat.points(job="Ünïcode job") == []
    finally:
        cat.close()

    reason = columns(v0_copy, "sessions")["reason"]
    assert (reason[2], reason[3]) == ("TEXT", 0)  # type, notnull: nullable
    assert raw(v0_copy, "SELECT reason FROM sessions") == [(None,)]


def test_reopening_a_migrated_catalogue_changes_nothing(
        v0_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Catalogue(v0_copy).close()
    schema = raw(v0_copy, "SELECT type, name, sql FROM sqlite_master ORDER BY name")
    applied: list[int] = []

    def spy(m: Migration) -> Migration:
        def apply(db: sqlite3.Connection) -> None:
            applied.append(m.version)
            m.apply(db)
        return Migration(m.version, m.description, apply)

    monkeypatch.setattr(migrations, "MIGRATIONS", [spy(m) for m in MIGRATIONS])
    cat = Catalogue(v0_copy)
    try:
        assert applied == []
        assert version_of(v0_copy) == latest_version()
        assert raw(v0_copy, "SELECT type, name, sql FROM sqlite_master ORDER BY name") == schema
        assert [j.name for j in cat.jobs()] == ["Nightly Servers", "Ünïcode job"]
        assert [p.id for p in cat.points()] == [POINT_ID]
    finally:
        cat.close()


def test_the_server_state_table_stores_values(v0_copy: Path) -> None:
    cat = Catalogue(v0_copy)
    try:
        assert cat.get_state("scheduler.last_tick") is None
        cat.set_state("scheduler.last_tick", "2026-11-26T17:00:00+00:00")
        cat.set_state("other", "ü")
        assert cat.get_state("scheduler.last_tick") == "2026-11-26T17:00:00+00:00"
        cat.set_state("scheduler.last_tick", "2026-11-26T18:00:00+00:00")
        assert cat.get_state("scheduler.last_tick") == "2026-11-26T18:00:00+00:00"
    finally:
        cat.close()
    again = Catalogue(v0_copy)
    try:
        assert again.get_state("scheduler.last_tick") == "2026-11-26T18:00:00+00:00"
        assert again.get_state("other") == "ü"
    finally:
        again.close()
    assert sorted(raw(v0_copy, "SELECT key, value FROM server_state WHERE key!='server_id'")) \
        == [("other", "ü"), ("scheduler.last_tick", "2026-11-26T18:00:00+00:00")]


def test_migration_7_gives_the_data_directory_an_id_and_its_points_an_owner(
        v0_copy: Path, tmp_path: Path) -> None:
    """Issue 19, item 4: points catalogued before server ids are this server's
    when their session is here or they are in the data directory's own
    repository; a point of another repository whose session is unknown here
    (imported from another server's repository) is another's: read-only."""
    conn = sqlite3.connect(v0_copy)
    row = ("2026-11-26T17:15:12.933663", 2, 12)
    conn.executemany("INSERT INTO points VALUES (?,?,?,?,?,?,?,?,?)", [
        ("own-shared", "Nightly Servers", "pc1", SESSION_ID, "Full", *row, "Shared"),
        ("other-shared", "Nightly Servers", "pc1", "s-of-another-server", "Full", *row,
         "Shared"),
        ("other-default", "Nightly Servers", "pc1", "s-lost", "Full", *row, "default")])
    conn.commit()
    conn.close()
    cat = Catalogue(v0_copy)
    try:
        server_id = cat.server_id
        assert len(server_id) == 36   # a UUID
        imported = {p.id: p.imported for p in cat.points()}
        assert imported == {POINT_ID: False, "own-shared": False, "other-shared": True,
                            "other-default": False}
        assert {p.id: p.server for p in cat.points()}["other-shared"] == ""
    finally:
        cat.close()
    again = Catalogue(v0_copy)
    try:
        assert again.server_id == server_id   # made once
    finally:
        again.close()
    fresh = Catalogue(tmp_path / "other" / "catalogue.sqlite")
    try:
        assert fresh.server_id != server_id   # one per data directory
    finally:
        fresh.close()


def test_a_new_catalogue_gets_the_latest_schema(tmp_path: Path, v0_copy: Path) -> None:
    path = tmp_path / "new" / "catalogue.sqlite"
    cat = Catalogue(path)
    try:
        assert cat.jobs() == [] and cat.sessions() == [] and cat.points() == []
        assert cat.get_state("x") is None
    finally:
        cat.close()
    assert version_of(path) == latest_version()
    assert tables(path) == {"jobs", "sessions", "tasks", "points", "server_state",
                            "repositories", "audit", "users", "paused_tasks"}
    Catalogue(v0_copy).close()
    # A migrated v0 catalogue and a new one end with the same columns.
    for table in ("jobs", "sessions", "tasks", "points", "server_state"):
        assert columns(path, table) == columns(v0_copy, table)


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
def test_a_catalogue_from_a_newer_version_is_refused_untouched(
        tmp_path: Path, journal_mode: str) -> None:
    path = tmp_path / "catalogue.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode={journal_mode}")
    conn.execute("CREATE TABLE jobs (name TEXT PRIMARY KEY, definition TEXT, created TEXT)")
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    files = sorted(p.name for p in tmp_path.iterdir())

    with pytest.raises(RepositoryError) as err:
        Catalogue(path)
    message = str(err.value)
    assert f"The catalogue {path} was written by a newer version of Agent Backup Console" in message
    assert f"(schema {latest_version() + 1}, this version knows {latest_version()})" in message
    assert "Upgrade the app" in message

    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == files


@pytest.mark.parametrize("failure", [sqlite3.OperationalError, RuntimeError])
def test_a_migration_failing_half_way_leaves_the_previous_version(
        v0_copy: Path, monkeypatch: pytest.MonkeyPatch, failure: type[Exception]) -> None:
    real_v2 = MIGRATIONS[1]

    def broken(db: sqlite3.Connection) -> None:
        real_v2.apply(db)  # the table and the column exist inside the transaction...
        db.execute("UPDATE jobs SET definition='{}'")
        if failure is sqlite3.OperationalError:
            db.execute("THIS IS NOT SQL")
        raise failure("migration bug")  # ...and then it fails

    monkeypatch.setattr(migrations, "MIGRATIONS",
                        [MIGRATIONS[0], Migration(2, real_v2.description, broken)])
    expected = RepositoryError if failure is sqlite3.OperationalError else RuntimeError
    with pytest.raises(expected) as err:
        Catalogue(v0_copy)
    if expected is RepositoryError:
        assert f"Could not upgrade the catalogue {v0_copy} to schema 2" in str(err.value)
        assert "left unchanged at schema 1" in str(err.value)

    assert version_of(v0_copy) == 1  # migration 1 committed, 2 rolled back whole
    assert "server_state" not in tables(v0_copy)
    assert "reason" not in columns(v0_copy, "sessions")
    assert [r[0] for r in raw(v0_copy, "SELECT name FROM jobs ORDER BY name")] == [
        "Nightly Servers", "Ünïcode job"]
    assert "{}" not in [r[0] for r in raw(v0_copy, "SELECT definition FROM jobs")]

    monkeypatch.undo()  # the fixed code then migrates it
    cat = Catalogue(v0_copy)
    try:
        assert version_of(v0_copy) == latest_version()
        assert [j.name for j in cat.jobs()] == ["Nightly Servers", "Ünïcode job"]
    finally:
        cat.close()


def test_a_process_dying_mid_migration_leaves_the_previous_version(v0_copy: Path) -> None:
    script = f"""
import os, sys
from pathlib import Path
from core.catalogue import Catalogue, migrations
from core.catalogue.migrations import MIGRATIONS, Migration
real = MIGRATIONS[1]
def die(db):
    real.apply(db)
    os._exit(37)
migrations.MIGRATIONS = [MIGRATIONS[0], Migration(2, real.description, die)]
Catalogue(Path({str(v0_copy)!r}))
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=60,
                          capture_output=True, text=True)
    assert proc.returncode == 37, proc.stderr
    assert version_of(v0_copy) == 1
    assert "server_state" not in tables(v0_copy)
    assert "reason" not in columns(v0_copy, "sessions")
    cat = Catalogue(v0_copy)
    try:
        assert version_of(v0_copy) == latest_version()
        assert cat.session(SESSION_ID).result is SessionResult.SUCCESS
    finally:
        cat.close()


def test_threads_opening_a_new_catalogue_at_once_all_succeed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    applied: list[int] = []
    lock = threading.Lock()

    def counted(m: Migration) -> Migration:
        def apply(db: sqlite3.Connection) -> None:
            with lock:
                applied.append(m.version)
            m.apply(db)
        return Migration(m.version, m.description, apply)

    monkeypatch.setattr(migrations, "MIGRATIONS", [counted(m) for m in MIGRATIONS])
    threads_per_round = 4
    for round_ in range(5):
        path = tmp_path / f"c{round_}" / "catalogue.sqlite"
        applied.clear()
        barrier = threading.Barrier(threads_per_round)
        errors: list[BaseException] = []
        seen: list[str | None] = []

        def open_it(n: int) -> None:
            try:
                barrier.wait(timeout=30)
                cat = Catalogue(path)
                try:
                    cat.set_state(f"t{n}", str(n))
                    seen.append(cat.get_state(f"t{n}"))
                finally:
                    cat.close()
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=open_it, args=(n,)) for n in range(threads_per_round)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert sorted(seen) == [str(n) for n in range(threads_per_round)]
        assert version_of(path) == latest_version()
        assert applied == [m.version for m in MIGRATIONS]  # each migration ran once, whoever got there first


def test_v13_keeps_how_each_repository_is_written(tmp_path: Path) -> None:
    """repositories.immutable_days (migration 13): recorded when a repository is
    added; a row from before it says NULL (not known yet) until it is opened."""
    from core.catalogue.repositories import RepositoryRecord
    path = tmp_path / "catalogue.sqlite"
    cat = Catalogue(path)
    try:
        assert "immutable_days" in columns(path, "repositories")
        now = datetime.now(timezone.utc)
        cat.add_repository(RepositoryRecord("a1", "Vault", "s3", "s3:http://h/b", False, now,
                                            immutable_days=7))
        cat.add_repository(RepositoryRecord("b2", "Old", "local", "/x", False, now))
        assert {r.name: r.immutable_days for r in cat.repositories()} == {"Vault": 7,
                                                                         "Old": None}
        cat.set_repository_immutable_days("b2", 0)
        assert cat.repository("Old").immutable_days == 0
    finally:
        cat.close()


def test_v15_records_a_paused_tasks_progress_until_its_session_drops_it(tmp_path: Path) -> None:
    """paused_tasks (migration 15): the files a paused task stored, read back as entries."""
    from core.repository.model import FILE, Entry, PartialFile
    cat = Catalogue(tmp_path / "catalogue.db")
    try:
        files = [Entry("a/b.dat", FILE, 0o644, 1, 3, 2, 7, ("ab" * 32,)),
                 Entry("c é.dat", FILE, 0o600, 5, 0, 6, 8)]
        partial = PartialFile(Entry("big", FILE, 0o644, 9, 100, 9, 9, ("cd" * 32,)), (40,))
        cat.save_paused_task("s1", "pc1", files[:1], 10)
        cat.save_paused_task("s1", "pc1", files, 20, partial)   # replaces
        assert cat.paused_tasks("s1") == {"pc1": (files, 20, partial)}
        assert cat.paused_tasks("s1")["pc1"].partial.offset == 40
        cat.drop_paused("s1")
        assert cat.paused_tasks("s1") == {}
    finally:
        cat.close()
