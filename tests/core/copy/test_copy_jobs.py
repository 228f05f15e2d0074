"""Backup copy jobs on local folders: copied points restore byte-identical from the target
alone, only missing data is sent, stop semantics per computer, and the copy's own retention."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core.errors import InvalidInput, JobStateError
from core.models import SessionResult, SessionType, StopMode, TaskStatus
from core.repository import Repository, WrongPassword
from tests.conftest import points_by_computer
from tests.core.copy.conftest import add_local, copy_job, run, tree

SRC_PASS, DST_PASS = "source-password-1", "target-password-2"


def source_tree(tmp_path: Path, job: str, computer: str) -> Path:
    return tmp_path / "src" / job / computer


def enrich(root: Path) -> None:
    """Folders, a symlink, a hard link and a file of several blocks besides make_tree's files."""
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "sub" / "deeper" / "big.bin").write_bytes(os.urandom(1 << 20) + bytes(300_000))
    (root / "sub" / "empty.txt").write_bytes(b"")
    os.symlink("sub/empty.txt", root / "link")
    os.link(root / "file_000.dat", root / "hard.dat")


def test_local_to_local_with_other_keys_restores_from_the_target_alone(service, make_job,
                                                                       tmp_path):
    add_local(service, "Src", tmp_path / "src-repo", SRC_PASS)
    add_local(service, "Dst", tmp_path / "dst-repo", DST_PASS)
    make_job("Nightly", computers=2, repository="Src")
    enrich(source_tree(tmp_path, "Nightly", "pc1"))
    assert run(service, "Nightly").result is SessionResult.SUCCESS
    service.create_job(copy_job("Offsite", "Nightly", "Dst"))

    session = run(service, "Offsite")
    assert session.type is SessionType.COPY and session.result is SessionResult.SUCCESS
    assert [(t.computer, t.status, t.points_copied) for t in session.tasks] == [
        ("pc1", TaskStatus.SUCCESS, 1), ("pc2", TaskStatus.SUCCESS, 1)]
    assert all(t.bytes_read > 0 and t.bytes_transferred > 0 for t in session.tasks)
    assert points_by_computer(service, "Offsite") == {"pc1": 1, "pc2": 1}
    (copied,) = [p for p in service.list_points("Offsite") if p.computer == "pc1"]
    (original,) = [p for p in service.list_points("Nightly") if p.computer == "pc1"]
    assert copied.repository == "Dst" and copied.created == original.created
    assert (copied.files, copied.size) == (original.files, original.size)

    expected = tree(source_tree(tmp_path, "Nightly", "pc1"))
    with pytest.raises(WrongPassword):   # sealed with the target's own key
        Repository.open(tmp_path / "dst-repo", password=SRC_PASS)
    shutil.rmtree(tmp_path / "src-repo")   # the source repository is gone
    with Repository.open(tmp_path / "dst-repo", password=DST_PASS) as target:
        target.restore(copied.id, tmp_path / "alone")
        assert target.load_manifest(copied.id).meta.origin == original.id
    assert tree(tmp_path / "alone") == expected
    assert os.readlink(tmp_path / "alone" / "link") == "sub/empty.txt"
    assert os.stat(tmp_path / "alone" / "hard.dat").st_ino == \
        os.stat(tmp_path / "alone" / "file_000.dat").st_ino
    service.restore(copied.id, tmp_path / "served")   # and through the server
    assert tree(tmp_path / "served") == expected


def test_an_incremental_copy_with_nothing_new_sends_almost_nothing(service, make_job, tmp_path,
                                                                    capsys):
    add_local(service, "Dst", tmp_path / "dst-repo", DST_PASS)
    make_job("Nightly", computers=2, files=4, size=300_000)
    run(service, "Nightly")
    service.create_job(copy_job("Offsite", "Nightly", "Dst"))
    first = run(service, "Offsite")
    run(service, "Nightly")   # nothing changed: a new point with the same data
    second = run(service, "Offsite")
    assert second.result is SessionResult.SUCCESS
    assert [t.points_copied for t in second.tasks] == [1, 1]
    first_sent = max(t.bytes_transferred for t in first.tasks)
    sent = max(t.bytes_transferred for t in second.tasks)
    assert all(t.bytes_read == 0 for t in second.tasks)   # no block read from the source
    assert sent <= 4096, sent                              # the manifest, nothing else
    third = run(service, "Offsite")                        # no new source point at all
    assert [(t.points_copied, t.bytes_read, t.bytes_transferred) for t in third.tasks] == \
        [(0, 0, 0), (0, 0, 0)]
    assert any("Nothing to copy" in i.text for i in third.tasks[0].log)
    assert points_by_computer(service, "Offsite") == {"pc1": 2, "pc2": 2}
    with capsys.disabled():
        print(f"\n[copy figures] first copy sent {first_sent} B per computer; "
              f"incremental with nothing new sent {sent} B, read 0 B")


def start_copy_with_held(service, make_job, gate) -> str:
    """Source points for pc1..pc3; the copy (one task slot) holds pc2 in the middle of its
    point: pc1 copied, pc2 in flight, pc3 not started."""
    make_job("Nightly", computers=3)
    run(service, "Nightly")
    service.create_job(copy_job("Offsite", "Nightly", "Dst", task_slots=1))
    gate.hold("pc2")
    sid = service.start_job("Offsite")
    assert gate.wait_held("pc2")
    return sid


def target_point_ids(path: Path) -> set[str]:
    with Repository.open(path, password=DST_PASS) as repo:
        return set(repo.point_ids())


def test_stop_immediately_keeps_the_copied_computer_only(service, make_job, gate, tmp_path):
    add_local(service, "Dst", tmp_path / "dst-repo", DST_PASS)
    sid = start_copy_with_held(service, make_job, gate)
    outcome = service.stop_job("Offsite", StopMode.IMMEDIATELY)
    assert (outcome.completed, outcome.in_progress, outcome.not_started) == \
        (["pc1"], ["pc2"], ["pc3"])
    session = service.wait_session(sid, timeout=10)
    assert {t.computer: t.status for t in session.tasks} == {
        "pc1": TaskStatus.SUCCESS, "pc2": TaskStatus.CANCELLED, "pc3": TaskStatus.SKIPPED}
    assert session.result is SessionResult.FAILED and session.type is SessionType.COPY
    assert points_by_computer(service, "Offsite") == {"pc1": 1}
    assert target_point_ids(tmp_path / "dst-repo") == \
        {p.id for p in service.list_points("Offsite")}
    gate.release_all()
    again = run(service, "Offsite")   # the next run copies what the stop left
    assert [t.points_copied for t in again.tasks] == [0, 1, 1]
    assert points_by_computer(service, "Offsite") == {"pc1": 1, "pc2": 1, "pc3": 1}


def test_stop_gracefully_finishes_the_computer_in_flight(service, make_job, gate, tmp_path):
    add_local(service, "Dst", tmp_path / "dst-repo", DST_PASS)
    sid = start_copy_with_held(service, make_job, gate)
    service.stop_job("Offsite", StopMode.GRACEFULLY)
    assert service.get_job("Offsite").status.value == "Stopping"
    gate.release_all()
    session = service.wait_session(sid, timeout=10)
    assert {t.computer: t.status for t in session.tasks} == {
        "pc1": TaskStatus.SUCCESS, "pc2": TaskStatus.SUCCESS, "pc3": TaskStatus.SKIPPED}
    assert session.result is SessionResult.WARNING
    assert points_by_computer(service, "Offsite") == {"pc1": 1, "pc2": 1}
    assert target_point_ids(tmp_path / "dst-repo") == \
        {p.id for p in service.list_points("Offsite")}


def test_the_copy_job_keeps_its_own_retention(service, make_job, tmp_path):
    add_local(service, "Dst", tmp_path / "dst-repo", DST_PASS)
    make_job("Nightly", computers=1, retain_points=10)
    for _ in range(4):
        run(service, "Nightly")
    service.create_job(copy_job("Offsite", "Nightly", "Dst", retain_points=2))
    first = run(service, "Offsite")
    assert first.tasks[0].points_copied == 2   # the two older ones would go at once
    assert any("2 older source point(s) are not copied" in i.text for i in first.tasks[0].log)
    source = [p.created for p in service.list_points("Nightly")]
    assert [p.created for p in service.list_points("Offsite")] == source[-2:]
    run(service, "Nightly")
    second = run(service, "Offsite")
    assert second.tasks[0].points_copied == 1
    assert any("Retention: removed 1 restore point" in i.text for i in second.tasks[0].log)
    source = [p.created for p in service.list_points("Nightly")]
    assert len(source) == 5
    assert [p.created for p in service.list_points("Offsite")] == source[-2:]
    assert target_point_ids(tmp_path / "dst-repo") == \
        {p.id for p in service.list_points("Offsite")}
    assert any("Retention: reclaimed" in i.text for i in second.log)


def test_copy_job_definitions_are_checked(service, make_job, tmp_path):
    add_local(service, "Dst", tmp_path / "dst-repo", DST_PASS)
    make_job("Nightly", computers=1)
    with pytest.raises(InvalidInput, match="already keeps its points"):
        service.create_job(copy_job("Same", "Nightly", "Default Backup Repository"))
    with pytest.raises(InvalidInput, match="no job named 'Ghost'"):
        service.create_job(copy_job("Lost", "Ghost", "Dst"))
    service.create_job(copy_job("Offsite", "nightly", "Dst"))   # the source's own spelling
    assert service.get_job("Offsite").definition.copy_source == "Nightly"
    with pytest.raises(InvalidInput, match="itself a backup copy job"):
        service.create_job(copy_job("Chain", "Offsite", "Default Backup Repository"))
    with pytest.raises(JobStateError, match="source of backup copy job"):
        service.delete_job("Nightly")
    with pytest.raises(InvalidInput, match="kind cannot change"):
        current = service.get_job("Nightly").definition
        service.update_job("Nightly", current.model_copy(
            update={"kind": "backup_copy", "copy_source": "X", "computers": ()}))
    renamed = service.get_job("Nightly").definition.model_copy(update={"name": "Daily"})
    service.update_job("Nightly", renamed)
    assert service.get_job("Offsite").definition.copy_source == "Daily"
    assert service.get_job("Offsite").type_label == "Backup Copy"
    with pytest.raises(JobStateError, match="no active full"):
        service.start_job("Offsite", full=True)
