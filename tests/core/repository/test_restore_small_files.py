"""Restore of many small files: a pack is read in one go per batch, a block
shared by many files is decoded once, and no fchmod is spent on a file whose
mode the umask leaves whole (counted, never timed). Damage is still found per
block and only the files that need it are left out."""
from __future__ import annotations

import os
import stat
from collections import Counter

import pytest

from core.repository import Repository
from core.repository import packfile as packfile_module
from core.repository.layout import PACKS
from core.repository.errors import PartialRestore
from tests.core.repository.test_repository import backup, pseudo_random

UNIQUE = 60
SHARED = 40


def _tree(src):
    (src / "a").mkdir(parents=True)
    (src / "b").mkdir()
    for i in range(UNIQUE):
        p = src / "a" / f"f{i:03d}"
        p.write_bytes(pseudo_random(20 + 7 * i, i))
        os.chmod(p, 0o755 if i % 3 == 0 else 0o644)
        os.utime(p, ns=(1_600_000_000_000_000_000 + i, 1_600_000_000_000_000_000 + i))
    for i in range(SHARED):   # identical small files: one block for all
        (src / "b" / f"same{i:03d}").write_bytes(b"the same few bytes\n")
    os.chmod(src / "a" / "f001", 0o4750)   # setuid: mode set after writing
    os.chmod(src / "a" / "f002", 0o600)


def test_small_files_read_each_pack_once_and_decode_each_block_once(tmp_path, monkeypatch):
    src = tmp_path / "src"
    _tree(src)
    old_umask = os.umask(0o022)
    try:
        with Repository.open(tmp_path / "repo", create=True) as repo:
            point, _, _ = backup(repo, src)
            backend = repo._layout.backend
            loads: list[str] = []
            real_load = backend.load
            monkeypatch.setattr(backend, "load", lambda name, *a, **k: loads.append(name)
                                or real_load(name, *a, **k))
            decoded: Counter[str] = Counter()
            real_decode = packfile_module.decode
            monkeypatch.setattr(packfile_module, "decode", lambda stored, flags, raw, blob, pack:
                                decoded.update([blob]) or real_decode(stored, flags, raw, blob,
                                                                      pack))
            fchmods: list[int] = []
            real_fchmod = os.fchmod
            monkeypatch.setattr(os, "fchmod", lambda fd, mode: fchmods.append(mode)
                                or real_fchmod(fd, mode))
            manifest = repo.load_manifest(point.id)
            loads.clear()
            decoded.clear()
            stats = repo.restore(point.id, tmp_path / "out")
            file_blocks = {b for e in manifest.entries if e.kind == "file" for b in e.blocks}
    finally:
        os.umask(old_umask)
    assert stats.files == UNIQUE + SHARED and not stats.failed
    pack_loads = Counter(n for n in loads if n.startswith(PACKS))
    packs = set(pack_loads)
    assert packs, loads
    # one load per pack for the 100 files (one batch), a few more for the manifest
    assert sum(pack_loads.values()) <= len(packs) + 3, pack_loads
    assert len(file_blocks) == UNIQUE + 1
    assert all(decoded[b] == 1 for b in file_blocks), \
        sorted(n for b, n in decoded.items() if b in file_blocks and n != 1)
    # the two folders' modes, the setuid file's and nothing else
    assert sorted(fchmods) == sorted([0o4750] + [0o755] * 2), [oct(m) for m in fchmods]
    for p in sorted(src.rglob("*")):
        out = tmp_path / "out" / p.relative_to(src)
        a, b = p.lstat(), out.lstat()
        assert stat.S_IMODE(a.st_mode) == stat.S_IMODE(b.st_mode), p
        if p.is_file():
            assert out.read_bytes() == p.read_bytes(), p
            assert a.st_mtime_ns == b.st_mtime_ns, p


def test_a_damaged_block_in_a_batch_fails_only_its_files(tmp_path):
    src = tmp_path / "src"
    _tree(src)
    with Repository.open(tmp_path / "repo", create=True) as repo:
        point, _, _ = backup(repo, src)
        manifest = repo.load_manifest(point.id)
        entry = next(e for e in manifest.entries if e.path == "a/f010")
        loc = repo._index.blobs[entry.blocks[0]]
        pack = next((tmp_path / "repo" / "packs").rglob(loc.pack + "*"))
        data = bytearray(pack.read_bytes())
        data[loc.offset + loc.length // 2] ^= 0xFF
        os.chmod(pack, 0o644)
        pack.write_bytes(bytes(data))
        with pytest.raises(PartialRestore) as raised:
            repo.restore(point.id, tmp_path / "out")
    failed = dict(raised.value.stats.failed)
    assert list(failed) == ["a/f010"], failed
    assert "corrupt" in failed["a/f010"]
    assert not (tmp_path / "out" / "a" / "f010").exists()
    assert raised.value.stats.files == UNIQUE + SHARED - 1
    for p in sorted(src.rglob("*")):
        if p.is_file() and p.name != "f010":
            assert (tmp_path / "out" / p.relative_to(src)).read_bytes() == p.read_bytes()
