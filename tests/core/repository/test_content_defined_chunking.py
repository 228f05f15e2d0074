"""Content-defined chunking (FastCDC): guards that count chunks, never time."""
from __future__ import annotations

import random

import pytest
from blake3 import blake3

from core.models import Computer, JobDefinition, PointType, SessionResult
from core.repository import chunker as chunker_mod
from core.repository.chunker import Chunker


def _data(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _stream_cut(ch: Chunker, data: bytes) -> list[bytes]:
    """Cut the way the engine does: read_size pieces into a window, cut once
    max_size is buffered, keep the rest at the window's front."""
    out: list[bytes] = []
    window = bytearray()
    for i in range(0, len(data), ch.read_size):
        window += data[i:i + ch.read_size]
        if len(window) >= ch.max_size:
            start = 0
            for end in ch.ends(memoryview(window), False):
                out.append(bytes(window[start:end]))
                start = end
            del window[:start]
    start = 0
    for end in ch.ends(memoryview(window), True):
        out.append(bytes(window[start:end]))
        start = end
    assert start == len(window)
    return out


def test_streaming_cut_matches_whole_buffer_cut():
    ch = Chunker(64 << 10)
    data = _data(3 << 20, 1)
    whole = ch.split(data)
    assert _stream_cut(ch, data) == whole
    assert b"".join(whole) == data
    assert all(ch.min_size <= len(c) <= ch.max_size for c in whole[:-1])


def test_default_sizes():
    ch = Chunker(1 << 20)
    assert (ch.min_size, ch.avg_size, ch.max_size) == (256 << 10, 1 << 20, 4 << 20)


def test_insert_at_front_changes_only_the_first_chunks():
    ch = Chunker(64 << 10)
    data = _data(4 << 20, 2)
    before = set(ch.split(data))
    after = ch.split(b"x" * 100 + data)
    new = [c for c in after if c not in before]
    assert len(after) > 20
    assert len(new) <= 2


@pytest.fixture
def big_job(service, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(_data(12 << 20, 3))
    (src / "small.txt").write_text("hello\n")
    service.create_job(JobDefinition(name="Big", computers=(Computer(name="pc1", path=str(src)),),
                                     retain_points=5))
    return src


def run(service, name="Big", **kw):
    return service.wait_session(service.start_job(name, **kw), timeout=120)


def test_the_engine_cuts_a_file_as_the_whole_buffer_is_cut(service, big_job):
    # big.bin (12 MiB) is read in 1 MiB pieces into the task's window and cut
    # once 4 MiB are buffered: the blocks must be exactly the whole-file cut
    assert run(service).result is SessionResult.SUCCESS
    (point,) = service.list_points("Big")
    entry = service._repository("Default Backup Repository").load_manifest(point.id).by_path()
    data = (big_job / "big.bin").read_bytes()
    expected = [blake3(c).hexdigest() for c in Chunker(1 << 20).split(data)]
    assert len(expected) > 6 and list(entry["big.bin"].blocks) == expected


def test_shifted_file_stores_only_the_chunks_around_the_insert(service, big_job, tmp_path):
    assert run(service).result is SessionResult.SUCCESS
    big = big_job / "big.bin"
    big.write_bytes(b"y" * 100 + big.read_bytes())
    session = run(service)
    assert session.result is SessionResult.SUCCESS
    task = session.tasks[0]
    assert task.bytes_read == (12 << 20) + 100
    # one chunk (at most two) around the insert is new: at most 2 x 4 MiB, far below 12 MiB
    assert task.bytes_transferred <= 2 * (4 << 20) + 4096
    first, second = service.list_points("Big")
    service.restore(second.id, tmp_path / "out")
    assert (tmp_path / "out" / "big.bin").read_bytes() == big.read_bytes()


def test_fixed_size_points_stay_restorable_and_incrementals_build_on_them(
        service, big_job, tmp_path, monkeypatch):
    # a point made the old way: fixed 1 MiB blocks
    calls = []

    def fixed(self, data, final):
        calls.append(len(data))
        bs = self.avg_size
        cut = len(data) if final else len(data) - len(data) % bs
        return list(range(bs, cut + 1, bs)) + ([cut] if cut % bs else [])
    with monkeypatch.context() as m:
        m.setattr(chunker_mod.Chunker, "ends", fixed)
        assert run(service).result is SessionResult.SUCCESS
    assert calls   # the engine cut this point the old way
    old_big = (big_job / "big.bin").read_bytes()
    (big_job / "small.txt").write_text("changed\n")
    session = run(service)
    assert session.result is SessionResult.SUCCESS
    assert session.tasks[0].bytes_read == len("changed\n")   # big.bin reused, not read
    first, second = service.list_points("Big")
    assert second.type is PointType.INCREMENT
    service.restore(first.id, tmp_path / "v1")
    service.restore(second.id, tmp_path / "v2")
    assert (tmp_path / "v1" / "big.bin").read_bytes() == old_big
    assert (tmp_path / "v2" / "big.bin").read_bytes() == old_big
    assert (tmp_path / "v1" / "small.txt").read_text() == "hello\n"
    assert (tmp_path / "v2" / "small.txt").read_text() == "changed\n"
    # a full backup re-cut with FastCDC still restores
    assert run(service, full=True).result is SessionResult.SUCCESS
    third = service.list_points("Big")[-1]
    service.restore(third.id, tmp_path / "v3")
    assert (tmp_path / "v3" / "big.bin").read_bytes() == old_big
