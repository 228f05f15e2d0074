"""Blocks of zeros come back as holes; only blocks that compressed to almost
nothing are hashed against zeros (counted, never timed)."""
from __future__ import annotations

import os

from core.repository import Repository
from core.repository import restore as restore_module
from tests.core.repository.test_repository import backup, pseudo_random


def test_zero_blocks_are_holes_and_only_they_are_checked_against_zeros(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    data = pseudo_random(3 << 20, 7) + bytes(2 << 20) + b"tail"
    (src / "mixed.bin").write_bytes(data)
    checked: list[int] = []
    real = restore_module._zero_id
    monkeypatch.setattr(restore_module, "_zero_id", lambda n: checked.append(n) or real(n))
    with Repository.open(tmp_path / "repo", create=True) as repo:   # 1 MiB blocks
        point, _, _ = backup(repo, src)
        repo.restore(point.id, tmp_path / "out")
    out = tmp_path / "out" / "mixed.bin"
    assert out.read_bytes() == data
    assert checked == [1 << 20, 1 << 20]        # the two zero blocks, not the three others
    assert os.stat(out).st_blocks * 512 < len(data) - (1 << 20)   # written sparse
