"""Read-ahead of small files by a helper process, and how the backup opens
and reads files: counted and checked in the page cache, never timed."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from core.engine import reading as engine
from core.agents.local import LocalAgent
from core.models import Computer, JobDefinition, SessionResult, TaskStatus
from core.agents.readahead import ReadAheadProcess
from tests.conftest import wait_until
from tests.support.page_cache import cached_pages

SMALL = engine.PREFETCH_MIN_FILES + 16


@pytest.fixture
def small_tree(tmp_path):
    src = tmp_path / "src"
    for i in range(SMALL):
        d = src / f"d{i % 4}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:03d}.txt").write_bytes(os.urandom(100 + i))
    (src / "empty.txt").write_bytes(b"")
    (src / "big.bin").write_bytes(os.urandom((1 << 20) + 1))   # over the prefetch size
    return src


@pytest.fixture
def hinted(monkeypatch):
    """Every path hinted to a helper, and the helpers' process ids."""
    calls: list[str] = []
    pids: list[int] = []
    real = ReadAheadProcess.hint

    def hint(self, rels):
        real(self, rels)
        calls.extend(rels)
        if self.pid is not None and self.pid not in pids:
            pids.append(self.pid)
    monkeypatch.setattr(ReadAheadProcess, "hint", hint)
    calls_and_pids = calls, pids
    return calls_and_pids


def job(name, src, **kw) -> JobDefinition:
    return JobDefinition(name=name, computers=(Computer(name="pc", path=str(src)),), **kw)


def run(service, name):
    return service.wait_session(service.start_job(name), timeout=60)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def small_files(tree: Path) -> list[str]:
    return sorted(p.relative_to(tree).as_posix() for p in tree.rglob("f*.txt"))


def test_full_backup_hints_each_small_file_once_and_ends_its_helper(service, small_tree,
                                                                     hinted):
    calls, pids = hinted
    service.create_job(job("J", small_tree))
    assert run(service, "J").result is SessionResult.SUCCESS
    assert sorted(calls) == small_files(small_tree) and len(set(calls)) == len(calls)
    assert "big.bin" not in calls and "empty.txt" not in calls
    assert len(pids) == 1 and _gone(pids[0])   # killed and reaped with the agent


def test_unchanged_incremental_neither_hints_nor_opens(service, small_tree, hinted,
                                                       monkeypatch):
    calls, pids = hinted
    service.create_job(job("J", small_tree))
    run(service, "J")
    calls.clear()
    pids.clear()
    opened: list[str] = []
    real_open = LocalAgent.open_file
    monkeypatch.setattr(LocalAgent, "open_file",
                        lambda self, rel: opened.append(rel) or real_open(self, rel))
    (small_tree / "d1" / "f001.txt").write_bytes(b"changed")
    assert run(service, "J").result is SessionResult.SUCCESS
    assert opened == ["d1/f001.txt"]
    assert calls == [] and pids == []   # one file to read: not worth a helper
    opened.clear()
    assert run(service, "J").result is SessionResult.SUCCESS
    assert calls == [] and opened == []


def test_few_files_start_no_helper(service, tmp_path, hinted):
    calls, pids = hinted
    src = tmp_path / "few"
    src.mkdir()
    for i in range(engine.PREFETCH_MIN_FILES - 1):
        (src / f"f{i}.txt").write_bytes(b"x" * (i + 1))
    service.create_job(job("F", src))
    assert run(service, "F").result is SessionResult.SUCCESS
    assert calls == [] and pids == []


def test_no_read_ahead_under_a_throttle(service, small_tree, hinted):
    # the job's read rate limit caps reading from the source: no reading ahead of it
    service.create_job(job("T", small_tree, throttle_mbps=10_000))
    assert run(service, "T").result is SessionResult.SUCCESS
    assert hinted == ([], [])


def _open_paths() -> set[str]:
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return out


def test_each_file_is_opened_once_and_no_descriptor_is_left(service, small_tree,
                                                            monkeypatch):
    by_path: list[str] = []
    real_open = os.open

    def counting_open(path, *args, **kwargs):
        if isinstance(path, str) and path.startswith(str(small_tree) + "/"):
            by_path.append(path)
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(os, "open", counting_open)
    service.create_job(job("J", small_tree))
    assert run(service, "J").result is SessionResult.SUCCESS
    expected = [str(small_tree / rel)
                for rel in [*small_files(small_tree), "big.bin", "empty.txt"]]
    assert sorted(by_path) == sorted(expected)   # the helper's opens are its own process's
    assert not {p for p in _open_paths() if p.startswith(str(small_tree))}


def test_a_small_file_is_read_in_one_call_without_a_copy(service, tmp_path, monkeypatch):
    # a file no larger than the chunker's minimum is one block: one read of its
    # size, no read that returns nothing, and the block stored is that read's bytes
    src = tmp_path / "one"
    src.mkdir()
    (src / "a.txt").write_bytes(b"a" * 5000)
    reads: list[tuple[str, int, int]] = []
    real_read, real_readv = os.read, os.readv

    def read(fd, n):
        data = real_read(fd, n)
        reads.append(("read", n, len(data)))
        return data

    def readv(fd, buffers):
        got = real_readv(fd, buffers)
        reads.append(("readv", sum(len(b) for b in buffers), got))
        return got
    stored: list[bytes] = []
    from core.repository import packsink
    real_store = packsink.PackSink.store
    monkeypatch.setattr(packsink.PackSink, "store",
                        lambda self, blocks: stored.extend(b for _, b in blocks)
                        or real_store(self, blocks))
    monkeypatch.setattr(engine.os, "read", read)
    monkeypatch.setattr("core.agents.local.os.readv", readv)
    service.create_job(job("S", src))
    assert run(service, "S").result is SessionResult.SUCCESS
    assert [r for r in reads if r[1] == 5000 or r[0] == "readv"] == [("read", 5000, 5000)]
    assert stored == [b"a" * 5000] and type(stored[0]) is bytes


def test_a_small_file_changed_after_the_scan_is_read_again(service, tmp_path, monkeypatch):
    # the scan's stat is what the first read must match: a file rewritten between
    # the scan and the read is read again, and the copy stored is the new one
    src = tmp_path / "c"
    src.mkdir()
    victim = src / "note.txt"
    victim.write_bytes(b"old content\n")
    os.utime(victim, ns=(1_500_000_000_000_000_000,) * 2)
    real_open = LocalAgent.open_file
    rewritten = []

    def open_file(self, rel):
        if not rewritten:
            rewritten.append(rel)
            victim.write_bytes(b"new content\n")   # same size; mtime and ctime change
        return real_open(self, rel)
    monkeypatch.setattr(LocalAgent, "open_file", open_file)
    service.create_job(job("C", src))
    session = run(service, "C")
    (task,) = session.tasks
    assert task.status is TaskStatus.SUCCESS
    assert any("'note.txt' changed while it was read; reading it again" in i.text
               for i in task.log)
    (point,) = service.list_points("C")
    service.restore(point.id, tmp_path / "out")
    assert (tmp_path / "out" / "note.txt").read_bytes() == b"new content\n"


# -- the helper process itself ------------------------------------------------


def _cached(path: Path) -> bool:
    return cached_pages(path) == -(-path.stat().st_size // 4096)


def _evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def test_the_helper_reads_hinted_files_into_the_page_cache(tmp_path):
    # odd names, a missing file and a directory do not stop it
    files = [tmp_path / "plain.txt", tmp_path / "new\nline.txt", tmp_path / "ünï.txt"]
    for f in files:
        f.write_bytes(os.urandom(64 << 10))
        _evict(f)
    if any(cached_pages(f) for f in files):
        pytest.fail(f"the file system of {tmp_path} keeps evicted pages: cannot check")
    ahead = ReadAheadProcess(str(tmp_path) + "/")
    ahead.hint(["missing.txt", ".", *(f.name for f in files)])
    assert ahead.hinted == 5
    wait_until(lambda: all(_cached(f) for f in files))
    pid = ahead.pid
    ahead.close()
    assert pid is not None and _gone(pid)


def test_a_full_pipe_drops_hints_and_never_blocks(tmp_path, monkeypatch):
    ahead = ReadAheadProcess(str(tmp_path) + "/")
    ahead.hint(["a"])
    os.kill(ahead.pid, 19)   # SIGSTOP: the helper reads nothing more
    try:
        long_names = ["x" * 200 + str(i) for i in range(2000)]   # far over a pipe's 64 KiB
        for i in range(0, len(long_names), 100):
            ahead.hint(long_names[i:i + 100])   # returns although nobody reads
        assert 1 < ahead.hinted < 1 + len(long_names)
    finally:
        ahead.close()


def test_a_helper_that_cannot_start_costs_only_the_hints(tmp_path, monkeypatch):
    import subprocess

    def refuse(*args, **kwargs):
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
    monkeypatch.setattr(subprocess, "Popen", refuse)
    ahead = ReadAheadProcess(str(tmp_path) + "/")
    ahead.hint(["a", "b"])
    ahead.hint(["c"])
    assert ahead.hinted == 0 and ahead.pid is None
    ahead.close()
