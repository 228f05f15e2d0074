"""Issue 10, item 9: a file rewritten while it is read is never stored torn
with "Success": the change (size, mtime or ctime before and after) is seen;
the file is read again, or the computer ends with a warning naming it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.agents import local as agent_module
from core.models import Computer, JobDefinition, SessionResult, TaskStatus
from core.repository import Repository

pytestmark = pytest.mark.timeout(120)
OLD = 1_500_000_000_000_000_000


class Rewriting:
    """A real file opened for the backup; after its first block is read, the
    file on disk is really rewritten (through another descriptor)."""

    def __init__(self, path: Path, times: list[int]) -> None:
        self._f = open(path, "rb", buffering=0)
        self._path = path
        self._times = times
        self._reads = 0

    def fileno(self) -> int:
        return self._f.fileno()

    def read(self, n: int) -> bytes:
        data = self._f.read(n)
        self._reads += 1
        if self._reads == 1 and self._times[0] > 0:
            self._times[0] -= 1
            with open(self._path, "r+b") as w:
                w.seek(0)
                w.write(os.urandom(4096))       # same size, new bytes: only mtime/ctime tell
        return data

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


@pytest.mark.parametrize("rewrites, status", [(1, TaskStatus.SUCCESS), (99, TaskStatus.WARNING)])
def test_a_file_changing_while_read_is_reread_or_named(service, tmp_path, monkeypatch,
                                                      rewrites, status):
    src = tmp_path / "src"
    src.mkdir()
    victim = src / "busy.db"
    victim.write_bytes(os.urandom(3 << 20))
    (src / "quiet.txt").write_text("still\n")
    os.utime(victim, ns=(OLD, OLD))
    times = [rewrites]
    real_open = agent_module.LocalAgent.open_file

    def open_file(self, rel):
        if rel == "busy.db":
            return Rewriting(self.root / rel, times)
        return real_open(self, rel)

    monkeypatch.setattr(agent_module.LocalAgent, "open_file", open_file)
    service.create_job(JobDefinition(name="C", computers=(Computer(name="pc1",
                                                                   path=str(src)),)))
    session = service.wait_session(service.start_job("C"), 60)
    (task,) = session.tasks
    assert task.status is status, [i.text for i in task.log]
    texts = [i.text for i in task.log]
    assert any("'busy.db' changed while it was read; reading it again" in t for t in texts)
    if status is TaskStatus.WARNING:
        assert session.result is SessionResult.WARNING
        assert any("'busy.db' kept changing" in t for t in texts)
    else:   # the copy stored is the file as it was after the change, consistent
        (point,) = service.list_points("C")
        service.restore(point.id, tmp_path / "out")
        assert (tmp_path / "out" / "busy.db").read_bytes() == victim.read_bytes()
        with Repository.open(service.data_dir / "repositories" / "default") as repo:
            entry = repo.load_manifest(point.id).by_path()["busy.db"]
        assert entry.mtime_ns == victim.stat().st_mtime_ns
