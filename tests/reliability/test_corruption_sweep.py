"""The figure "100 % of single-byte corruptions of packs, index and manifests
detected by verify": every byte of every such file of a small repository is
changed in turn (XOR 0xFF, and XOR 0x01 for the low bit), and a full verify
must report a problem each time. Restores never write a wrong byte."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.errors import ConsoleError
from core.repository import Repository
from tests.reliability.helpers import flip_byte
from tests.core.repository.test_repository import backup, pseudo_random

pytestmark = pytest.mark.timeout(600)


def small_repository(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "text.txt").write_text("a line of text that compresses well\n" * 90)
    (src / "d" / "random.bin").write_bytes(pseudo_random(1100, 4))
    (src / "empty").write_bytes(b"")
    os.symlink("text.txt", src / "link")
    root = tmp_path / "repo"
    with Repository.open(root, create=True, block_size=1024, pack_size=1 << 20,
                         workers=2) as repo:
        backup(repo, src)
    return root, src


def files_to_corrupt(root: Path) -> list[Path]:
    return sorted([*root.glob("packs/*/*.pack"), *root.glob("index/*.idx"),
                   *root.glob("points/*.json.zst")])


def test_every_single_byte_corruption_is_detected(tmp_path):
    root, src = small_repository(tmp_path)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    targets = files_to_corrupt(root)
    assert {p.parent.parent.name if p.suffix == ".pack" else p.parent.name
            for p in targets} == {"packs", "index", "points"}
    tried = detected = 0
    missed: list[str] = []
    for path in targets:
        size = path.stat().st_size
        for offset in range(size):
            for mask in (0xFF, 0x01):
                flip_byte(path, offset, mask)
                try:
                    with Repository.open(root, workers=2) as repo:
                        problems = repo.verify()
                    found = bool(problems)
                except ConsoleError:
                    found = True          # refused outright: detected as well
                tried += 1
                if found:
                    detected += 1
                else:
                    missed.append(f"{path.relative_to(root)}@{offset}^{mask:#x}")
                flip_byte(path, offset, mask)          # put the byte back
                for p in root.rglob("*"):               # what verify recorded or rebuilt
                    if p.is_file() and p not in before:
                        p.unlink()
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    print(f"single-byte corruptions detected: {detected} of {tried}")
    assert tried > 1000
    assert missed == [], f"{len(missed)} of {tried} corruptions were not detected: {missed[:10]}"
    assert detected == tried


def test_no_wrong_byte_is_ever_restored(tmp_path):
    """Restore after each corruption of a pack: every file restored is exactly
    the source's, a file that cannot be is absent (never partly written)."""
    root, src = small_repository(tmp_path)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    expected = {str(p.relative_to(src)): p.read_bytes() for p in src.rglob("*")
                if p.is_file() and not p.is_symlink()}
    with Repository.open(root) as repo:
        (point,) = [m.id for m in repo.list_points()]
    restores = failed_files = 0
    for path in sorted(root.glob("packs/*/*.pack")):
        for offset in range(0, path.stat().st_size, 3):
            flip_byte(path, offset)
            out = tmp_path / f"out-{restores}"
            try:
                with Repository.open(root, workers=2) as repo:
                    repo.restore(point, out)
            except ConsoleError as exc:
                failed_files += len(getattr(getattr(exc, "stats", None), "failed", ()))
            for rel, data in expected.items():
                target = out / rel
                if target.exists():
                    assert target.read_bytes() == data, (path, offset, rel)
            assert not list(out.rglob(".abk-restore-*"))
            restores += 1
            flip_byte(path, offset)
            for p in root.rglob("*"):
                if p.is_file() and p not in before:
                    p.unlink()
    assert restores > 100 and failed_files > 0
