"""Read-ahead of small files: counted, never timed."""
from __future__ import annotations

import os

import pytest

from core.agent import LocalAgent
from core.models import Computer, JobDefinition, SessionResult


@pytest.fixture
def small_tree(tmp_path):
    src = tmp_path / "src"
    for i in range(60):
        d = src / f"d{i % 4}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:02d}.txt").write_bytes(os.urandom(100 + i))
    (src / "empty.txt").write_bytes(b"")
    (src / "big.bin").write_bytes(os.urandom((1 << 20) + 1))   # over the prefetch size
    return src


@pytest.fixture
def prefetched(monkeypatch):
    calls: list[str] = []
    real = LocalAgent.prefetch
    monkeypatch.setattr(LocalAgent, "prefetch",
                        lambda self, rel: calls.append(rel) or real(self, rel))
    return calls


def job(name, src, **kw) -> JobDefinition:
    return JobDefinition(name=name, computers=(Computer(name="pc", path=str(src)),), **kw)


def run(service, name):
    return service.wait_session(service.start_job(name), timeout=60)


def test_full_backup_prefetches_each_small_file_once(service, small_tree, prefetched):
    service.create_job(job("J", small_tree))
    assert run(service, "J").result is SessionResult.SUCCESS
    assert len(prefetched) == len(set(prefetched)) == 60
    assert "big.bin" not in prefetched and "empty.txt" not in prefetched


def test_unchanged_incremental_neither_prefetches_nor_opens(service, small_tree, prefetched,
                                                            monkeypatch):
    service.create_job(job("J", small_tree))
    run(service, "J")
    prefetched.clear()
    opened: list[str] = []
    real_open = LocalAgent.open_file
    monkeypatch.setattr(LocalAgent, "open_file",
                        lambda self, rel: opened.append(rel) or real_open(self, rel))
    (small_tree / "d1" / "f01.txt").write_bytes(b"changed")
    assert run(service, "J").result is SessionResult.SUCCESS
    assert prefetched == ["d1/f01.txt"]
    assert opened == ["d1/f01.txt"]
    prefetched.clear()
    opened.clear()
    assert run(service, "J").result is SessionResult.SUCCESS
    assert prefetched == [] and opened == []


def test_no_prefetch_under_a_throttle(service, small_tree, prefetched):
    # the job's read rate limit caps reading from the source: no reading ahead of it
    service.create_job(job("T", small_tree, throttle_mbps=10_000))
    assert run(service, "T").result is SessionResult.SUCCESS
    assert prefetched == []


def _open_paths() -> set[str]:
    fds = os.listdir("/proc/self/fd")
    out = set()
    for fd in fds:
        try:
            out.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return out


def test_each_small_file_is_looked_up_once_and_no_descriptor_is_left(
        service, small_tree, monkeypatch):
    # prefetch opens the file and hands that descriptor to the read: no second
    # open by path; whatever the backup did not read (cancel) is closed at the end
    by_path: list[str] = []
    real_open = open

    def counting_open(file, *args, **kwargs):
        if isinstance(file, str) and file.startswith(str(small_tree)):
            by_path.append(file)
        return real_open(file, *args, **kwargs)
    monkeypatch.setattr("builtins.open", counting_open)
    service.create_job(job("J", small_tree))
    assert run(service, "J").result is SessionResult.SUCCESS
    assert by_path == [str(small_tree / "big.bin"), str(small_tree / "empty.txt")]
    assert not {p for p in _open_paths() if p.startswith(str(small_tree))}


def test_descriptors_opened_ahead_are_closed_with_the_agent(small_tree):
    agent = LocalAgent(Computer(name="pc", path=str(small_tree)))
    for i in range(4):
        agent.prefetch(f"d{i}/f{i:02d}.txt")
    assert len({p for p in _open_paths() if p.startswith(str(small_tree))}) == 4
    agent.close()
    assert not {p for p in _open_paths() if p.startswith(str(small_tree))}
