"""Issue 10, item 3: a file that cannot be restored exactly is never left
under its own name; the error names every such file; every other file is
restored byte for byte. No wrong byte is ever written."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.errors import RestoreError
from core.repository import PartialRestore, Repository
from core.repository import restore as restore_module
from tests.reliability.helpers import flip_byte
from tests.core.repository.test_repository import BLOCK, backup, pseudo_random, snapshot

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def repo(tmp_path: Path):
    r = Repository.open(tmp_path / "repo", create=True, block_size=BLOCK, pack_size=64 << 10,
                        workers=2)
    yield r
    r.close()


def tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.bin").write_bytes(pseudo_random(3 * BLOCK, 1))
    (root / "b.bin").write_bytes(pseudo_random(40 * BLOCK, 2))      # a segmented large file
    (root / "sub" / "c.txt").write_text("hello\n" * 100)
    (root / "d.bin").write_bytes(pseudo_random(2 * BLOCK + 7, 3))
    os.link(root / "d.bin", root / "sub" / "d-link.bin")
    return root


def damage(repo: Repository, point_id: str, rel: str, block: int, how: str = "flip") -> None:
    blob = repo.load_manifest(point_id).by_path()[rel].blocks[block]
    loc = repo._index.blobs[blob]
    pack = repo.path / "packs" / loc.pack[:2] / f"{loc.pack}.pack"
    if how == "flip":
        flip_byte(pack, loc.offset + 3)
    else:
        pack.unlink()


def leftovers(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob(".abk-restore-*")]


@pytest.mark.parametrize("segment_bytes", [8 << 20, 3 * BLOCK])
def test_a_damaged_block_fails_only_its_file(repo, tmp_path, monkeypatch, segment_bytes):
    monkeypatch.setattr(restore_module, "_JOB_BYTES", segment_bytes)
    src = tree(tmp_path / "src")
    point, _, _ = backup(repo, src)
    damage(repo, point.id, "b.bin", 17)
    damage(repo, point.id, "a.bin", 0)
    out = tmp_path / "out"
    with pytest.raises(PartialRestore) as err:
        repo.restore(point.id, out)
    message = str(err.value)
    assert "'a.bin'" in message and "'b.bin'" in message and "corrupt" in message
    assert "c.txt" not in message and "2 file(s) could not be restored" in message
    assert not (out / "a.bin").exists() and not (out / "b.bin").exists()
    assert leftovers(out) == []
    expected = {k: v for k, v in snapshot(src).items() if k not in ("a.bin", "b.bin")}
    assert snapshot(out) == expected                                  # all others exact
    assert err.value.stats.files == 3                                 # c.txt, d.bin and ...
    assert dict(err.value.stats.failed).keys() == {"a.bin", "b.bin"}


def test_a_missing_pack_fails_its_files_and_their_hard_links(repo, tmp_path):
    src = tree(tmp_path / "src")
    point, _, _ = backup(repo, src)
    damage(repo, point.id, "d.bin", 0, how="delete")
    out = tmp_path / "out"
    with pytest.raises(RestoreError) as err:
        repo.restore(point.id, out)
    failed = dict(err.value.stats.failed)
    assert "d.bin" in failed and "sub/d-link.bin" in failed
    for rel in failed:
        assert not (out / rel).exists()
    assert leftovers(out) == []
    for rel, entry in snapshot(out).items():                         # what is there is exact
        assert entry == snapshot(src)[rel]


def test_a_cancelled_restore_leaves_no_temporary_file(repo, tmp_path, monkeypatch):
    monkeypatch.setattr(restore_module, "_JOB_BYTES", 3 * BLOCK)
    src = tree(tmp_path / "src")
    point, _, _ = backup(repo, src)
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    stats = repo.restore(point.id, tmp_path / "out", cancel=cancel)
    assert stats.cancelled
    assert leftovers(tmp_path / "out") == []
    for rel, entry in snapshot(tmp_path / "out").items():
        if entry[0] == "file":
            assert entry[3] == snapshot(src)[rel][3]


def test_the_service_and_cli_name_every_unrestored_file(tmp_path):
    from tests.reliability.helpers import agent_jobs, as_json, one_line_error
    data, src = tmp_path / "data", tree(tmp_path / "src")
    assert agent_jobs(data, "job", "create", "J", "--computer", f"pc1={src}").returncode == 0
    assert agent_jobs(data, "start", "J", "--wait").returncode == 0
    (point,) = as_json(data, "points")
    with Repository.open(data / "repositories" / "default") as r:
        blob = r.load_manifest(point["id"]).by_path()["sub/c.txt"].blocks[0]
        loc = r._index.blobs[blob]
        flip_byte(r.path / "packs" / loc.pack[:2] / f"{loc.pack}.pack", loc.offset + 1)
    result = agent_jobs(data, "restore", point["id"], str(tmp_path / "out"))
    one_line_error(result, "'sub/c.txt'", "could not be restored exactly")
    assert result.returncode == 1
    assert not (tmp_path / "out" / "sub" / "c.txt").exists()
    assert (tmp_path / "out" / "b.bin").read_bytes() == (src / "b.bin").read_bytes()
