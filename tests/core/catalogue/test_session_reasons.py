"""Why a session failed or warned, recorded when it ends (History's Reason column),
and filled by migration 8 for sessions recorded before."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from core.catalogue import Catalogue
from core.catalogue.reasons import session_reason
from core.models import (
    HistoryQuery, LogItem, SessionResult, SessionState, StopMode, TaskInfo, TaskStatus, utcnow,
)
from core.service.facade import BackupService
from tests.conftest import make_tree


def _item(text: str, level: str = "error") -> LogItem:
    return LogItem(time=utcnow(), level=level, text=text)


def _task(computer: str, status: TaskStatus, *lines: LogItem) -> TaskInfo:
    return TaskInfo(computer=computer, status=status, log=[_item(f"Processing {computer}",
                                                                 "info"), *lines])


def test_the_first_computers_problem_is_the_reason_and_the_others_are_counted() -> None:
    tasks = [_task("pc1", TaskStatus.SUCCESS),
             _task("pc2", TaskStatus.FAILED, _item("Failed: The disk is full (/r/x)")),
             _task("pc3", TaskStatus.FAILED, _item("Failed: gone")),
             _task("pc4", TaskStatus.FAILED, _item("Failed: gone too"))]
    closing = [_item("2 of 4 computer(s) got a new restore point.")]
    assert session_reason(SessionState.STOPPED, SessionResult.FAILED, closing, tasks) == \
        "pc2: The disk is full (/r/x) (and 2 more computers)"
    assert session_reason(SessionState.WORKING, None, closing, tasks) is None
    assert session_reason(SessionState.STOPPED, SessionResult.SUCCESS, closing, tasks) is None
    warned = [_task("pc1", TaskStatus.WARNING, _item("Skipped 'a.txt': permission denied",
                                                     "warning"))]
    assert session_reason(SessionState.STOPPED, SessionResult.WARNING, closing, warned) == \
        "pc1: Skipped 'a.txt': permission denied"


def test_a_stop_is_the_reason_when_no_computer_failed_otherwise() -> None:
    tasks = [_task("pc1", TaskStatus.CANCELLED, _item("Processing cancelled: the job was "
                                                      "stopped immediately.")),
             _task("pc2", TaskStatus.SKIPPED)]
    assert session_reason(SessionState.STOPPED, SessionResult.FAILED, [], tasks,
                          StopMode.IMMEDIATELY, "by the backup window") == \
        "Stopped by the backup window (immediately)"
    # a session of its own (a verify): its last error, not the closing line
    log = [_item("Verified 1 point(s), 9 block(s): 1 problem(s) found; damaged files: a")]
    assert session_reason(SessionState.STOPPED, SessionResult.FAILED, log, []) == \
        "Verified 1 point(s), 9 block(s): 1 problem(s) found; damaged files: a"


def test_a_failed_backup_records_its_reason_in_history(service: BackupService,
                                                       tmp_path: Path) -> None:
    from core.models import Computer, JobDefinition
    good = make_tree(tmp_path / "good")
    gone = make_tree(tmp_path / "gone")
    service.create_job(JobDefinition(name="J", computers=(
        Computer(name="pc1", path=str(good)), Computer(name="pc2", path=str(gone)))))
    shutil.rmtree(gone)
    session = service.wait_session(service.start_job("J"), timeout=30)
    assert session.result is SessionResult.FAILED
    [row] = service.list_history(HistoryQuery()).sessions
    assert row.reason is not None and row.reason.startswith("pc2: "), row.reason
    assert str(gone) in row.reason, row.reason
    # a success records none
    shutil.copytree(good, gone)
    service.wait_session(service.start_job("J"), timeout=30)
    newest = service.list_history(HistoryQuery()).sessions[0]
    assert newest.result is SessionResult.SUCCESS and newest.reason is None


def test_migration_8_fills_the_reason_of_sessions_recorded_before(
        service: BackupService, tmp_path: Path) -> None:
    from core.models import Computer, JobDefinition
    gone = make_tree(tmp_path / "gone")
    service.create_job(JobDefinition(name="J", computers=(Computer(name="pc1",
                                                                   path=str(gone)),)))
    shutil.rmtree(gone)
    service.wait_session(service.start_job("J"), timeout=30)
    path = service.data_dir / "catalogue.sqlite"
    service.close()
    conn = sqlite3.connect(path)
    with conn:   # as a version 7 catalogue left it: no reason kept
        conn.execute("UPDATE sessions SET reason=NULL")
        conn.execute("PRAGMA user_version = 7")
    conn.close()
    catalogue = Catalogue(path)
    try:
        [row] = catalogue.history(HistoryQuery()).sessions
        assert row.reason is not None and row.reason.startswith("pc1: "), row.reason
    finally:
        catalogue.close()
