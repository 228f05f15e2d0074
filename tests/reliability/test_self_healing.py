"""Issue 10, items 2 and 7: a damaged block is marked and stored again by the
next backup that reads the same data (healing every point that uses it); a
damaged index never stops a backup, restore or verify and is rebuilt from the
packs; ``agent-jobs repair`` drops damaged copies."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.models import Computer, JobDefinition, SessionResult
from core.repository import Repository
from core.service.facade import BackupService
from tests.reliability.helpers import agent_jobs, as_json, flip_byte

pytestmark = pytest.mark.timeout(180)


def source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        (src / f"f{i}.bin").write_bytes(os.urandom(300_000))
    return src


def corrupt_block_of(data: Path, point_id: str, rel: str) -> tuple[str, str]:
    """Flip one byte inside the stored block of ``rel``; (blob, pack)."""
    with Repository.open(data / "repositories" / "default") as repo:
        blob = repo.load_manifest(point_id).by_path()[rel].blocks[0]
        loc = repo._index.blobs[blob]
        pack = repo.path / "packs" / loc.pack[:2] / f"{loc.pack}.pack"
    flip_byte(pack, loc.offset + loc.length // 2)
    return blob, loc.pack


@pytest.mark.parametrize("how", ["start --full", "incremental", "another job"])
def test_a_corrupt_block_is_stored_again_and_heals_the_old_point(tmp_path, how):
    data, src = tmp_path / "data", source(tmp_path)
    svc = BackupService(data)
    try:
        svc.create_job(JobDefinition(name="J", computers=(Computer(name="pc1",
                                                                   path=str(src)),)))
        assert svc.wait_session(svc.start_job("J"), 60).result is SessionResult.SUCCESS
        (old,) = svc.list_points("J")
        corrupt_block_of(data, old.id, "f2.bin")

        report = svc.verify()
        assert not report.ok
        assert [(p.point_id, p.problem, p.paths) for p in report.problems] == [
            (old.id, "corrupt", ["f2.bin"])]
        (marked,) = svc.list_points("J")
        assert marked.damaged and "f2.bin" in marked.damaged

        if how == "another job":
            svc.create_job(JobDefinition(name="J2", computers=(Computer(name="pc9",
                                                                        path=str(src)),)))
            session = svc.wait_session(svc.start_job("J2"), 60)
        else:
            session = svc.wait_session(svc.start_job("J", full=how == "start --full"), 60)
        assert session.result is SessionResult.SUCCESS, session.log
        assert session.tasks[0].bytes_transferred > 0           # the block was stored again

        after = svc.verify()
        # every point is whole again; only the damaged copy itself is left to drop
        assert all(not p.point_id for p in after.problems), after.problems
        assert all(p.damaged is None for p in svc.list_points())
        svc.restore(old.id, tmp_path / "old")
        assert (tmp_path / "old" / "f2.bin").read_bytes() == (src / "f2.bin").read_bytes()

        repaired = svc.repair()
        assert repaired.blobs_damaged == 1 and repaired.packs_rewritten == 1
        assert not repaired.points_damaged
        assert svc.verify().ok
    finally:
        svc.close()


def test_a_flipped_bit_in_the_index_stops_nothing(tmp_path):
    data, src = tmp_path / "data", source(tmp_path)
    assert agent_jobs(data, "job", "create", "J", "--computer", f"pc1={src}").returncode == 0
    assert agent_jobs(data, "start", "J", "--wait").returncode == 0
    assert agent_jobs(data, "server", "stop").returncode == 0
    (index,) = (data / "repositories" / "default" / "index").iterdir()
    flip_byte(index, 40, 0x01)                                   # one bit

    backup = agent_jobs(data, "start", "J", "--full", "--wait")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    first, second = as_json(data, "points", "J")
    restored = agent_jobs(data, "restore", first["id"], str(tmp_path / "out"))
    assert restored.returncode == 0, restored.stderr
    assert (tmp_path / "out" / "f3.bin").read_bytes() == (src / "f3.bin").read_bytes()
    verify = agent_jobs(data, "verify")
    assert verify.returncode == 1
    assert f"repository: Index file {index}" in verify.stdout and "is corrupt" in verify.stdout
    assert "agent-jobs repair" in verify.stdout and " prune" not in verify.stdout
    repair = agent_jobs(data, "repair")
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert "index rebuilt from the packs" in repair.stdout
    assert agent_jobs(data, "verify").returncode == 0


def test_repair_relinks_points_whose_index_entries_were_lost(tmp_path):
    data, src = tmp_path / "data", source(tmp_path)
    assert agent_jobs(data, "job", "create", "J", "--computer", f"pc1={src}").returncode == 0
    assert agent_jobs(data, "start", "J", "--wait").returncode == 0
    assert agent_jobs(data, "server", "stop").returncode == 0
    for index in (data / "repositories" / "default" / "index").iterdir():
        index.unlink()
    repair = agent_jobs(data, "repair")
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert "1 re-linked" in repair.stdout
    assert agent_jobs(data, "verify").returncode == 0


def test_a_lost_index_file_sends_the_operator_to_repair_not_to_an_older_point(tmp_path):
    data, src = tmp_path / "data", source(tmp_path)
    assert agent_jobs(data, "job", "create", "J", "--computer", f"pc1={src}").returncode == 0
    assert agent_jobs(data, "start", "J", "--wait").returncode == 0
    assert agent_jobs(data, "server", "stop").returncode == 0
    for index in (data / "repositories" / "default" / "index").iterdir():
        index.unlink()                                # the packs are all still there
    (point,) = as_json(data, "points", "J")
    restored = agent_jobs(data, "restore", point["id"], str(tmp_path / "out"))
    assert restored.returncode == 1
    err = restored.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "missing from the repository's index" in err, err
    # its data pack and the pack of its entry blobs (manifest format 3)
    assert "2 pack file(s) that its index does not list" in err, err
    assert "run 'agent-jobs repair' to rebuild the index" in err, err
    assert "restore an older point" not in err, err
    verify = agent_jobs(data, "verify")
    assert verify.returncode == 1
    assert "not listed in the repository's index" in verify.stdout, verify.stdout
    assert "run 'agent-jobs repair' to rebuild the index" in verify.stdout, verify.stdout
    assert agent_jobs(data, "repair").returncode == 0
    again = agent_jobs(data, "restore", point["id"], str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / "f3.bin").read_bytes() == (src / "f3.bin").read_bytes()
