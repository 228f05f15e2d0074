"""Packs are written unbuffered (O_DIRECT) where the file system allows it,
and buffered where it does not: checked in the page cache, never timed."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from core.repository.backend import direct
from core.repository.backend.local import LocalBackend
from tests.support.page_cache import cached_pages


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    b = LocalBackend(tmp_path / "r")
    b.prepare(create=True)
    return b


def _parts() -> list[bytes]:
    # several MiB in parts of odd sizes, ending off any 4 KiB boundary
    return [os.urandom(n) for n in (7, 1 << 20, 300_001, 2 << 20, 12_345, 1)]


def test_a_pack_is_written_unbuffered_and_reads_back_whole(backend, tmp_path):
    parts = _parts()
    backend.save_parts("packs/ab/ab1.pack", parts)
    path = tmp_path / "r" / "packs" / "ab" / "ab1.pack"
    assert path.stat().st_size == sum(map(len, parts))          # the padding is cut off
    assert cached_pages(path) == 0                             # it bypassed the page cache
    assert backend.load("packs/ab/ab1.pack") == b"".join(parts)
    assert not list((tmp_path / "r" / "tmp").iterdir())


def test_other_objects_stay_buffered(backend, tmp_path):
    backend.save("index/i.idx", os.urandom(20_000))   # small, and read back soon
    assert cached_pages(tmp_path / "r" / "index" / "i.idx") > 0


@pytest.mark.parametrize("refused_at", ["open", "write"])
def test_a_file_system_without_o_direct_gets_buffered_writes(backend, tmp_path, monkeypatch,
                                                             refused_at):
    # some file systems refuse O_DIRECT when the file is opened, others at the first write
    tried: list[str] = []
    real_open, real_pwrite = os.open, os.pwrite

    def refusing_open(path, flags, *args):
        if flags & direct.O_DIRECT:
            tried.append("open")
            if refused_at == "open":
                raise OSError(errno.EINVAL, "Invalid argument", path)
        return real_open(path, flags, *args)

    def refusing_pwrite(fd, data, offset):
        tried.append("write")
        raise OSError(errno.EINVAL, "Invalid argument")
    monkeypatch.setattr(os, "open", refusing_open)
    if refused_at == "write":
        monkeypatch.setattr(os, "pwrite", refusing_pwrite)
    parts = _parts()
    backend.save_parts("packs/cd/cd1.pack", parts)
    backend.save_parts("packs/cd/cd2.pack", parts)
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    assert backend.load("packs/cd/cd1.pack") == backend.load("packs/cd/cd2.pack") \
        == b"".join(parts)
    assert tried == (["open"] if refused_at == "open" else ["open", "write"])   # once only
    assert not list((tmp_path / "r" / "tmp").iterdir())


def test_a_full_disk_during_an_unbuffered_write_is_an_error_with_no_leftover(
        backend, tmp_path, monkeypatch):
    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(OSError) as caught:
        backend.save_parts("packs/ef/ef1.pack", _parts())
    assert caught.value.errno == errno.ENOSPC
    assert not (tmp_path / "r" / "packs" / "ef" / "ef1.pack").exists()
    assert not list((tmp_path / "r" / "tmp").iterdir())
