"""Issue 10, items 1 and 6: a point the repository cannot read stays listed as
damaged, verify reports it and exits non-zero, prune goes on around it; a kill
between the manifest commit and the catalogue update is corrected at start."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.models import (
    Computer, JobDefinition, RestorePointInfo, SessionInfo, SessionResult, TaskStatus,
)
from core.service.facade import BackupService
from tests.conftest import make_tree
from tests.reliability.helpers import ENV, ROOT, agent_jobs, as_json, flip_byte

pytestmark = pytest.mark.timeout(180)


def manifest_of(data: Path, point_id: str) -> Path:
    return data / "repositories" / "default" / "points" / f"{point_id}.json.zst"


def three_points(svc: BackupService, src: Path, name: str = "J") -> list[str]:
    svc.create_job(JobDefinition(name=name, computers=(Computer(name="pc1", path=str(src)),),
                                 retain_points=2))
    ids = []
    for i in range(3):
        (src / f"gen{i}.bin").write_bytes(os.urandom(50_000))
        assert svc.wait_session(svc.start_job(name), 60).result is SessionResult.SUCCESS
        ids = [p.id for p in svc.list_points(name)]
    return ids


@pytest.mark.parametrize("damage", ["flipped byte", "deleted"])
def test_an_unreadable_manifest_keeps_its_point_listed_as_damaged(tmp_path, damage):
    data, src = tmp_path / "data", make_tree(tmp_path / "src", files=3, size=10_000)
    svc = BackupService(data)
    try:
        svc.create_job(JobDefinition(name="J", computers=(Computer(name="pc1",
                                                                   path=str(src)),),
                                     retain_points=2))
        for i in range(2):
            (src / f"gen{i}.bin").write_bytes(os.urandom(60_000))
            svc.wait_session(svc.start_job("J"), 60)
        first, second = [p.id for p in svc.list_points("J")]
        other = make_tree(tmp_path / "other", files=2, size=5000)
        svc.create_job(JobDefinition(name="Other", computers=(Computer(name="pc2",
                                                                       path=str(other)),)))
        svc.wait_session(svc.start_job("Other"), 60)
        (kept_damaged,) = [p.id for p in svc.list_points("Other")]
    finally:
        svc.close()
    for pid in (first, kept_damaged):
        path = manifest_of(data, pid)
        if damage == "deleted":
            path.unlink()
        else:
            flip_byte(path, path.stat().st_size // 2)

    svc = BackupService(data)    # start-up reconciliation
    try:
        points = {p.id: p for p in svc.list_points("J")}
        assert set(points) == {first, second}            # still listed ...
        assert points[first].damaged and "manifest" in points[first].damaged   # ... as damaged
        assert points[second].damaged is None
        report = svc.verify()
        assert not report.ok
        assert sorted(p.point_id for p in report.problems if p.point_id) == \
            sorted([first, kept_damaged])
        assert {p.problem for p in report.problems} == {
            "manifest missing" if damage == "deleted" else "manifest corrupt"}
        # retention and its prune go on around it: two more runs, space reclaimed
        for i in range(2, 4):
            (src / f"gen{i - 2}.bin").unlink(missing_ok=True)
            (src / f"gen{i}.bin").write_bytes(os.urandom(60_000))
            session = svc.wait_session(svc.start_job("J"), 60)
            assert session.result is SessionResult.SUCCESS, session.log
            assert not any("could not reclaim" in i.text for i in session.log)
        assert any("Retention: reclaimed" in i.text for i in session.log)   # prune ran
        listed = [p.id for p in svc.list_points("J")]
        assert second not in listed and len(listed) == 2     # retention worked
        assert svc.verify(listed[-1]).ok
        (still,) = svc.list_points("Other")                  # Other's point stays listed
        assert still.id == kept_damaged and still.damaged
    finally:
        svc.close()


def test_cli_points_and_verify_show_the_damaged_point(tmp_path):
    data, src = tmp_path / "data", make_tree(tmp_path / "src", files=2)
    assert agent_jobs(data, "job", "create", "J", "--computer", f"pc1={src}").returncode == 0
    assert agent_jobs(data, "start", "J", "--wait").returncode == 0
    (point,) = as_json(data, "points")
    assert agent_jobs(data, "server", "stop").returncode == 0
    manifest_of(data, point["id"]).unlink()
    (listed,) = as_json(data, "points")
    assert listed["id"] == point["id"] and "manifest missing" in listed["damaged"]
    verify = agent_jobs(data, "verify")
    assert verify.returncode == 1
    assert f"point {point['id']}: its manifest is missing" in verify.stdout
    restore = agent_jobs(data, "restore", point["id"], str(tmp_path / "out"))
    assert restore.returncode == 1 and "Traceback" not in restore.stderr
    assert "not in repository" in restore.stderr


_KILL_AFTER_COMMIT = """
import os, signal, sys
from pathlib import Path
from core.engine import points as engine_points
from core.models import Computer, JobDefinition
from core.service.facade import BackupService

def die(self, meta):        # the manifest is committed; the catalogue never hears of it
    os.kill(os.getpid(), signal.SIGKILL)

svc = BackupService(Path(sys.argv[1]))
if sys.argv[3] == "create":
    svc.create_job(JobDefinition(name="K", computers=(Computer(name="pc1", path=sys.argv[2]),)))
    svc.wait_session(svc.start_job("K"), 60)
engine_points.TaskPoints.%s = die
svc.wait_session(svc.start_job("K"), 60)
"""


def _the_task_got_its_point(svc: BackupService) -> tuple[list[RestorePointInfo], SessionInfo]:
    """After the kill, the next start lists both points, intact, and the killed
    session's task has its point, says so, and no longer says it has none."""
    points = svc.list_points("K")
    assert len(points) == 2 and all(p.damaged is None for p in points)
    killed = svc.list_sessions("K")[0]
    assert killed.result is SessionResult.FAILED      # the server did die
    (task,) = killed.tasks
    assert task.status is TaskStatus.SUCCESS and task.point_id == points[-1].id
    assert any("recorded at the next start" in i.text for i in task.log)
    assert not any("no restore point was created" in i.text for i in task.log)
    return points, killed


def test_a_kill_between_commit_and_catalogue_is_corrected_at_start(tmp_path):
    """A real SIGKILL right after the manifest commit, before the catalogue
    update: the next start lists the point and gives the task its point."""
    data, src = tmp_path / "data", make_tree(tmp_path / "src", files=3)
    proc = subprocess.run([sys.executable, "-c", _KILL_AFTER_COMMIT % "record",
                           str(data), str(src), "create"],
                          cwd=ROOT, env=ENV, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    svc = BackupService(data)
    try:
        points, killed = _the_task_got_its_point(svc)
        assert svc.verify().ok
        svc.restore(points[-1].id, tmp_path / "out")
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == \
            sorted(p.name for p in src.iterdir())
    finally:
        svc.close()


# The session's periodic save may land between the commit and the kill, or not
# (the 1-in-5 case): here it does not, so the catalogue holds the point's row
# and a task record without it when the server dies in retention.
_KILL_AFTER_CATALOGUED = """
import os, signal, sys
from pathlib import Path
from core.engine import points as engine_points
from core.catalogue import Catalogue
from core.models import Computer, JobDefinition
from core.service.facade import BackupService

svc = BackupService(Path(sys.argv[1]))
svc.create_job(JobDefinition(name="K", computers=(Computer(name="pc1", path=sys.argv[2]),)))
svc.wait_session(svc.start_job("K"), 60)
saved = Catalogue.save_session

def save(self, session, tasks=None):   # no save with the new point before the kill
    if any(t.point_id for t in (tasks or session.tasks)):
        return True
    return saved(self, session, tasks)

def die(self, repo_name):              # the point's row is written; retention is next
    os.kill(os.getpid(), signal.SIGKILL)

Catalogue.save_session = save
engine_points.TaskPoints.apply_retention = die
svc.wait_session(svc.start_job("K"), 60)
"""


def test_a_kill_after_the_point_is_catalogued_gives_the_task_its_point(tmp_path):
    """Issue 19, item 7: a real SIGKILL after the point's catalogue row is
    written, before the session's record is saved with it (retention runs in
    between): the next start lists the point and corrects the task's record
    and log, instead of 'no restore point was created'."""
    data, src = tmp_path / "data", make_tree(tmp_path / "src", files=3)
    proc = subprocess.run([sys.executable, "-c", _KILL_AFTER_CATALOGUED, str(data), str(src)],
                          cwd=ROOT, env=ENV, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    svc = BackupService(data)
    try:
        points, killed = _the_task_got_its_point(svc)
        assert any(f"restore point {points[-1].id} recovered" in i.text for i in killed.log)
    finally:
        svc.close()


_KILL_IN_RETENTION = """
import os, signal, sys
from pathlib import Path
from core.catalogue import Catalogue
from core.models import Computer, JobDefinition
from core.service.facade import BackupService

svc = BackupService(Path(sys.argv[1]))
svc.create_job(JobDefinition(name="R", computers=(Computer(name="pc1", path=sys.argv[2]),),
                             retain_points=1))
svc.wait_session(svc.start_job("R"), 60)
Catalogue.remove_points = lambda self, ids: os.kill(os.getpid(), signal.SIGKILL)
svc.wait_session(svc.start_job("R"), 60)
"""


def test_a_kill_inside_retention_is_finished_not_mistaken_for_damage(tmp_path):
    data, src = tmp_path / "data", make_tree(tmp_path / "src", files=2)
    proc = subprocess.run([sys.executable, "-c", _KILL_IN_RETENTION, str(data), str(src)],
                          cwd=ROOT, env=ENV, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    svc = BackupService(data)
    try:
        (point,) = svc.list_points("R")        # the old one is gone, not "damaged"
        assert point.damaged is None
        assert svc.verify().ok
    finally:
        svc.close()


def test_a_damaged_newest_point_never_fails_the_next_backup(tmp_path):
    data, src = tmp_path / "data", make_tree(tmp_path / "src", files=3)
    svc = BackupService(data)
    try:
        svc.create_job(JobDefinition(name="N", computers=(Computer(name="pc1",
                                                                   path=str(src)),)))
        svc.wait_session(svc.start_job("N"), 60)
        (newest,) = svc.list_points("N")
        path = manifest_of(data, newest.id)
        flip_byte(path, path.stat().st_size - 5)
        session = svc.wait_session(svc.start_job("N"), 60)
        assert session.result is SessionResult.SUCCESS
        assert any("cannot be used as the base" in i.text for i in session.tasks[0].log)
        assert svc.list_points("N")[-1].type.value == "Full"
    finally:
        svc.close()
