"""Issue 10, item 4: a full disk, in the repository or at the catalogue step,
fails the session with "disk is full"; nothing hangs, earlier points stay
intact, and the next run after freeing space works. The disk is a real 8 MiB
tmpfs, filled for real."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.engine import points as engine_points
from core.errors import ConsoleError
from core.models import Computer, JobDefinition, SessionResult, SessionState
from core.service.facade import BackupService
from tests.conftest import make_tree
from tests.reliability.helpers import agent_jobs, as_json, fill, tmpfs

pytestmark = pytest.mark.timeout(240)


def test_disk_full_in_the_repository_fails_the_session_and_nothing_hangs(tmp_path):
    with tmpfs(tmp_path / "disk", "8m") as disk:
        data = disk / "data"
        src = make_tree(tmp_path / "src", files=3, size=20_000)
        assert agent_jobs(data, "job", "create", "J", "--computer", f"pc1={src}").returncode == 0
        assert agent_jobs(data, "start", "J", "--wait").returncode == 0
        (first,) = as_json(data, "points")

        (src / "big.bin").write_bytes(os.urandom(12 << 20))          # more than the disk
        full = agent_jobs(data, "start", "J", "--wait", timeout=120)
        assert full.returncode == 1, full.stdout + full.stderr
        assert "disk is full" in full.stdout and "Traceback" not in full.stdout + full.stderr
        sessions = agent_jobs(data, "sessions", "J", "--json")       # reading still works
        assert sessions.returncode == 0, sessions.stderr
        assert as_json(data, "sessions", "J")[0]["result"] == "Failed"
        assert [p["id"] for p in as_json(data, "points")] == [first["id"]]
        verify = agent_jobs(data, "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr

        (src / "big.bin").unlink()                                   # space is freed
        (src / "new.txt").write_text("after the disk was full\n")
        again = agent_jobs(data, "start", "J", "--wait")
        assert again.returncode == 0, again.stdout + again.stderr
        restored = agent_jobs(data, "restore", first["id"], str(tmp_path / "out"))
        assert restored.returncode == 0, restored.stderr
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == \
            ["file_000.dat", "file_001.dat", "file_002.dat"]
        assert agent_jobs(data, "server", "stop").returncode == 0


def test_disk_full_at_the_catalogue_step(tmp_path, monkeypatch):
    """The manifest is committed, then the disk fills before the catalogue
    records it: the session ends Failed with "disk is full" at once (no
    waiter hangs), starting again says so too, and after freeing space the
    next run works and the committed point is recorded."""
    with tmpfs(tmp_path / "disk", "8m") as disk:
        src = make_tree(tmp_path / "src", files=2, size=30_000)
        svc = BackupService(disk / "data")
        fillers: list[Path] = []
        try:
            svc.create_job(JobDefinition(name="J", computers=(Computer(name="pc1",
                                                                       path=str(src)),)))
            assert svc.wait_session(svc.start_job("J"), 60).result is SessionResult.SUCCESS
            record = engine_points.TaskPoints.record

            def fill_then_record(self, meta):
                fillers.append(fill(disk))
                return record(self, meta)

            monkeypatch.setattr(engine_points.TaskPoints, "record", fill_then_record)
            (src / "more.bin").write_bytes(os.urandom(40_000))
            sid = svc.start_job("J")
            session = svc.wait_session(sid, 30)
            assert session.state is SessionState.STOPPED            # no hang
            assert session.result is SessionResult.FAILED
            texts = [i.text for t in session.tasks for i in t.log] + [i.text for i in
                                                                       session.log]
            assert any("disk is full" in t for t in texts), texts
            assert svc.list_sessions("J")[0].state is SessionState.STOPPED
            monkeypatch.setattr(engine_points.TaskPoints, "record", record)
            with pytest.raises(ConsoleError, match="disk is full"):
                svc.start_job("J")

            for f in fillers:
                f.unlink()
            after = svc.wait_session(svc.start_job("J"), 60)
            assert after.result is SessionResult.SUCCESS
            points = svc.list_points("J")
            assert len(points) == 3 and all(p.damaged is None for p in points)
            failed = next(s for s in svc.list_sessions("J") if s.id == sid)
            assert failed.tasks[0].point_id == points[1].id        # recorded after all
            assert svc.verify().ok
        finally:
            svc.close()
