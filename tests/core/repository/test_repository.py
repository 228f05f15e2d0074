"""The repository on its own: round trips, dedup, crash safety, prune, verify, restore safety."""
from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, strategies

from core.errors import RepositoryError, RestoreError
from core.repository import (
    Entry,
    Manifest,
    MissingParentData,
    PointMeta,
    PointNotFound,
    Repository,
    new_point_id,
)
from core.repository import restore as restore_module
from core.repository.fsio import atomic_write
from core.repository.manifest import encode_manifest
from core.repository.packfile import PackBuilder
from core.repository.paths import rel_path_problem

BLOCK = 4096
PROJECT_ROOT = Path(__file__).resolve().parents[3]


# -- helpers ---------------------------------------------------------------------


def meta(parent: str | None = None, point_id: str | None = None) -> PointMeta:
    return PointMeta(
        id=point_id or new_point_id(), job="Job", computer="pc1", session_id="s1",
        type="Increment" if parent else "Full", created=datetime.now(timezone.utc),
        parent=parent,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    # workers=2 pins the in-flight bounds some crash tests rely on
    r = Repository.open(tmp_path / "repo", create=True, block_size=BLOCK, pack_size=64 << 10,
                        workers=2)
    yield r
    r.close()


def pseudo_random(n: int, seed: int) -> bytes:
    """Incompressible-ish, deterministic bytes."""
    out = bytearray()
    x = seed * 2654435761 + 1
    while len(out) < n:
        x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        out += x.to_bytes(8, "little")
    return bytes(out[:n])


def build_tree(root: Path) -> Path:
    (root / "docs" / "ünïcödé 文件").mkdir(parents=True)
    (root / "empty-dir" / "nested-empty").mkdir(parents=True)
    (root / "docs" / "ünïcödé 文件" / "naïve café.txt").write_text("bonjour\n")
    (root / "docs" / "report.txt").write_text("quarterly report\n" * 500)
    (root / "empty.txt").write_bytes(b"")
    (root / "big.bin").write_bytes(pseudo_random(10 * BLOCK + 123, 1))
    (root / "zeros.bin").write_bytes(bytes(5 * BLOCK))
    (root / "script.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(root / "script.sh", 0o751)
    os.chmod(root / "docs" / "report.txt", 0o640)
    os.chmod(root / "empty-dir" / "nested-empty", 0o711)
    os.symlink("docs/report.txt", root / "link-to-report")
    os.symlink("/does/not/exist", root / "dangling")
    os.symlink("ünïcödé 文件", root / "docs" / "dir-link")
    t = 1_600_000_000_123_456_789
    os.utime(root / "empty.txt", ns=(t, t))
    os.utime(root / "dangling", ns=(t, t), follow_symlinks=False)
    os.utime(root / "empty-dir" / "nested-empty", ns=(t + 5, t + 5))
    os.utime(root / "docs", ns=(t + 7, t + 7))
    return root


def walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Parents before children, symlinks not followed."""
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(root / rel_dir if rel_dir else root) as it:
            for de in sorted(it, key=lambda d: d.name):
                rel = f"{rel_dir}/{de.name}" if rel_dir else de.name
                st = de.stat(follow_symlinks=False)
                yield rel, st
                if stat.S_ISDIR(st.st_mode):
                    stack.append(rel)


def read_blocks(path: Path, block_size: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(block_size):
            yield chunk


def backup(repo: Repository, src: Path, parent: str | None = None) -> tuple[PointMeta, int, int]:
    """A minimal engine: (committed meta, bytes_new, blobs_new)."""
    previous = repo.load_manifest(parent).by_path() if parent else {}
    w = repo.begin_backup(meta(parent))
    try:
        for rel, st in walk(src):
            if stat.S_ISDIR(st.st_mode):
                w.add_dir(rel, st)
            elif stat.S_ISLNK(st.st_mode):
                w.add_symlink(rel, os.readlink(src / rel), st)
            else:
                old = previous.get(rel)
                if old and (old.size, old.mtime_ns, old.inode) == (
                        st.st_size, st.st_mtime_ns, st.st_ino):
                    w.add_unchanged(old)
                else:
                    w.add_file(rel, st, read_blocks(src / rel, w.block_size))
        committed = w.commit()
    except BaseException:
        w.abort()
        raise
    return committed, w.bytes_new, w.blobs_new


def snapshot(root: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for rel, st in walk(root):
        p = root / rel
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(p), st.st_mtime_ns)
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
        else:
            out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_mtime_ns, p.read_bytes())
    return out


def pack_files(repo: Repository) -> list[Path]:
    return sorted((repo.path / "packs").glob("*/*.pack"))


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


# -- round trip ------------------------------------------------------------------


def test_round_trip_preserves_tree(repo: Repository, tmp_path: Path) -> None:
    src = build_tree(tmp_path / "src")
    point, _, _ = backup(repo, src)
    assert point.files == 6
    assert point.size == sum(p.stat().st_size for p in src.rglob("*")
                             if p.is_file() and not p.is_symlink())
    assert [p.id for p in repo.list_points()] == [point.id]
    assert repo.list_points()[0] == point

    stats = repo.restore(point.id, tmp_path / "out")
    assert (stats.files, stats.symlinks, stats.cancelled) == (6, 3, False)
    assert (stats.dirs, stats.bytes) == (4, point.size)
    assert snapshot(tmp_path / "out") == snapshot(src)
    assert os.readlink(tmp_path / "out" / "dangling") == "/does/not/exist"
    assert repo.verify() == []


def test_manifest_records_what_unchanged_detection_needs(repo: Repository, tmp_path: Path) -> None:
    src = build_tree(tmp_path / "src")
    point, _, _ = backup(repo, src)
    entries = repo.load_manifest(point.id).by_path()
    st = os.lstat(src / "big.bin")
    big = entries["big.bin"]
    assert (big.kind, big.size, big.mtime_ns, big.ctime_ns, big.inode) == (
        "file", st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    assert len(big.blocks) == 11
    assert entries["dangling"].target == "/does/not/exist"
    assert entries["empty.txt"].blocks == ()


def test_restore_reopened_repository_and_cancel(repo: Repository, tmp_path: Path) -> None:
    src = build_tree(tmp_path / "src")
    point, _, _ = backup(repo, src)
    with Repository.open(repo.path) as again:
        assert again.block_size == BLOCK
        again.restore(point.id, tmp_path / "out")
        stats = again.restore(point.id, tmp_path / "cancelled", cancel=lambda: True)
    assert snapshot(tmp_path / "out") == snapshot(src)
    assert stats.cancelled and stats.files == 0


def test_restore_overwrites_existing_files_without_following_links(
        repo: Repository, tmp_path: Path) -> None:
    src = build_tree(tmp_path / "src")
    point, _, _ = backup(repo, src)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    out = tmp_path / "out"
    (out / "docs").mkdir(parents=True)
    os.symlink(outside, out / "empty.txt")           # a file of the point, now a symlink
    os.link(outside, out / "script.sh")              # a hard link to a file elsewhere
    os.symlink(tmp_path, out / "empty-dir")          # a dir of the point, now a symlink
    repo.restore(point.id, out)
    assert outside.read_text() == "keep me"
    assert snapshot(out) == snapshot(src)


def test_large_files_restore_in_parallel_segments(
        repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(restore_module, "_JOB_BYTES", 3 * BLOCK)
    src = build_tree(tmp_path / "src")
    point, _, _ = backup(repo, src)
    stats = repo.restore(point.id, tmp_path / "out")
    assert (stats.files, stats.bytes) == (6, point.size)
    assert snapshot(tmp_path / "out") == snapshot(src)

    blob = repo.load_manifest(point.id).by_path()["big.bin"].blocks[7]
    loc = repo._index.blobs[blob]
    flip_byte(repo.path / "packs" / loc.pack[:2] / f"{loc.pack}.pack", loc.offset + 1)
    with pytest.raises(RestoreError, match=f"'big.bin'.*{blob}.*corrupt"):
        repo.restore(point.id, tmp_path / "again")


# -- dedup -----------------------------------------------------------------------


def test_same_tree_twice_stores_nothing_new(repo: Repository, tmp_path: Path) -> None:
    src = build_tree(tmp_path / "src")
    _, first_bytes, first_blobs = backup(repo, src)
    size_before = repo.stats().bytes_on_disk
    second, second_bytes, second_blobs = backup(repo, src)   # full again: every file read
    assert first_bytes > 0 and first_blobs > 0
    assert (second_bytes, second_blobs) == (0, 0)
    assert repo.stats().bytes_on_disk - size_before < 4096   # just the manifest
    # zeros.bin's five identical blocks are stored once
    zero_blocks = repo.load_manifest(second.id).by_path()["zeros.bin"].blocks
    assert len(set(zero_blocks)) == 1


def test_changed_block_in_middle_stores_only_that_block(repo: Repository, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    data = bytearray(pseudo_random(8 * BLOCK, 7))
    (src / "f.bin").write_bytes(data)
    first, _, _ = backup(repo, src)
    data[3 * BLOCK + 10] ^= 1
    (src / "f.bin").write_bytes(data)
    second, new_bytes, new_blobs = backup(repo, src, parent=first.id)
    assert new_blobs == 2   # that block, and the one entry blob holding the changed row
    assert 0 < new_bytes <= BLOCK + 1024
    old_blocks = repo.load_manifest(first.id).by_path()["f.bin"].blocks
    new_blocks = repo.load_manifest(second.id).by_path()["f.bin"].blocks
    assert [a == b for a, b in zip(old_blocks, new_blocks, strict=True)] == [
        True, True, True, False, True, True, True, True]
    repo.restore(first.id, tmp_path / "v1")
    repo.restore(second.id, tmp_path / "v2")
    assert (tmp_path / "v2" / "f.bin").read_bytes() == bytes(data)
    data[3 * BLOCK + 10] ^= 1
    assert (tmp_path / "v1" / "f.bin").read_bytes() == bytes(data)


def test_add_unchanged_reads_nothing(
        repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = build_tree(tmp_path / "src")
    first, _, _ = backup(repo, src)

    def no_reads(path: Path, block_size: int) -> Iterator[bytes]:
        raise AssertionError(f"unchanged file {path} was read")

    monkeypatch.setattr(sys.modules[__name__], "read_blocks", no_reads)
    second, new_bytes, new_blobs = backup(repo, src, parent=first.id)
    assert (new_bytes, new_blobs) == (0, 0)
    assert (second.type, second.parent) == ("Increment", first.id)
    assert (second.files, second.size) == (first.files, first.size)
    repo.restore(second.id, tmp_path / "out")
    assert snapshot(tmp_path / "out") == snapshot(src)


def test_add_unchanged_refuses_entry_whose_data_is_gone(repo: Repository, tmp_path: Path) -> None:
    w = repo.begin_backup(meta())
    ghost = Entry("ghost.txt", "file", 0o644, 0, 5, 0, 1, ("00" * 32,))
    with pytest.raises(MissingParentData, match="ghost.txt"):
        w.add_unchanged(ghost)
    w.abort()


def test_concurrent_writers_in_threads(repo: Repository, tmp_path: Path) -> None:
    trees = [tmp_path / f"src{i}" for i in range(3)]
    for i, t in enumerate(trees):
        t.mkdir()
        (t / "shared.bin").write_bytes(pseudo_random(6 * BLOCK, 99))
        (t / "own.bin").write_bytes(pseudo_random(6 * BLOCK + 1, i))
    results: dict[int, PointMeta] = {}

    def run(i: int) -> None:
        results[i] = backup(repo, trees[i])[0]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3
    for i, point in results.items():
        repo.restore(point.id, tmp_path / f"out{i}")
        assert snapshot(tmp_path / f"out{i}") == snapshot(trees[i])
    assert repo.verify() == []


# -- crashes, abort, prune ---------------------------------------------------------


def test_abort_leaves_no_point_and_prune_removes_its_packs(
        repo: Repository, tmp_path: Path) -> None:
    src = build_tree(tmp_path / "src")
    first, _, _ = backup(repo, src)
    packs_after_first = set(pack_files(repo))
    w = repo.begin_backup(meta(first.id))
    st = os.stat(src / "big.bin")
    for i in range(1000):  # enough that the in-flight bound forces some packs out
        w.add_file(f"new{i}.bin", st, iter([os.urandom(BLOCK)]))
    w.abort()
    w.abort()  # idempotent
    assert [p.id for p in repo.list_points()] == [first.id]
    assert set(pack_files(repo)) > packs_after_first   # sealed packs stay for prune
    assert not list((repo.path / "tmp").iterdir())     # the open pack was discarded
    report = repo.prune()
    assert not report.skipped and report.packs_deleted >= 1
    assert set(pack_files(repo)) == packs_after_first
    assert repo.verify() == []
    repo.restore(first.id, tmp_path / "out")
    assert snapshot(tmp_path / "out") == snapshot(src)


def test_dropped_writer_is_like_a_crash(repo: Repository, tmp_path: Path) -> None:
    src = build_tree(tmp_path / "src")
    first, _, _ = backup(repo, src)
    before = set(pack_files(repo))
    w = repo.begin_backup(meta(first.id))
    st = os.stat(src / "big.bin")
    for i in range(1000):  # enough that the in-flight bound forces some packs out
        w.add_file(f"new{i}.bin", st, iter([os.urandom(BLOCK)]))
    del w  # neither commit nor abort
    orphans = set(pack_files(repo)) - before
    assert orphans  # sealed packs are left behind
    (repo.path / "tmp" / "half-written.pack.tmp").write_bytes(b"ABKPACK1...")
    assert [p.id for p in repo.list_points()] == [first.id]
    report = repo.prune()  # the dropped writer's lock is gone
    assert not report.skipped
    assert report.packs_deleted == len(orphans) and report.tmp_files_removed == 1
    assert not list((repo.path / "tmp").iterdir())
    assert set(pack_files(repo)) == before
    assert repo.verify() == []
    repo.restore(first.id, tmp_path / "out")
    assert snapshot(tmp_path / "out") == snapshot(src)


_KILL_SCRIPT = """
import os, signal, sys
from datetime import datetime, timezone
from pathlib import Path
from core.repository import PointMeta, Repository

repo = Repository.open(Path(sys.argv[1]), workers=2)
w = repo.begin_backup(PointMeta(id="killed", job="Job", computer="pc1", session_id="s",
                                type="Full", created=datetime.now(timezone.utc), parent=None))
st = os.stat(sys.argv[1])

def blocks():
    for i in range(2000):
        if i == 1500:
            os.kill(os.getpid(), signal.SIGKILL)
        yield os.urandom(4096)

w.add_file("big.bin", st, blocks())
"""


def test_killed_process_leaves_earlier_points_restorable(repo: Repository, tmp_path: Path) -> None:
    src = build_tree(tmp_path / "src")
    first, _, _ = backup(repo, src)
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_SCRIPT, str(repo.path)],
        cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True, timeout=60,
    )
    assert proc.returncode == -9, proc.stderr.decode()
    assert len(pack_files(repo)) > 2
    with Repository.open(repo.path) as again:
        assert [p.id for p in again.list_points()] == [first.id]
        report = again.prune()          # the dead process's lock is gone
        assert not report.skipped and report.packs_deleted >= 1
        assert again.verify() == []
        again.restore(first.id, tmp_path / "out")
    assert snapshot(tmp_path / "out") == snapshot(src)


def test_forget_and_prune_reclaim_space(repo: Repository, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    points = []
    for i in range(4):
        (src / f"gen{i}.bin").write_bytes(pseudo_random(12 * BLOCK, 10 + i))
        if i:
            (src / f"gen{i - 1}.bin").unlink()
        points.append(backup(repo, src)[0])
        if i == 3:
            break
    (src / "gen3.bin").unlink()
    (src / "keep.txt").write_text("kept\n")
    last = backup(repo, src)[0]
    before = repo.stats()
    repo.forget([p.id for p in points[:3]])
    repo.forget(["not-a-point"])  # unknown ids are ignored
    report = repo.prune()
    after = repo.stats()
    assert not report.skipped and not report.problems
    assert report.bytes_freed > 20 * BLOCK
    assert after.bytes_on_disk < before.bytes_on_disk - 20 * BLOCK
    assert after.blobs < before.blobs
    assert {p.id for p in repo.list_points()} == {points[3].id, last.id}
    assert repo.verify() == []
    repo.restore(points[3].id, tmp_path / "p3")
    assert (tmp_path / "p3" / "gen3.bin").read_bytes() == pseudo_random(12 * BLOCK, 13)
    repo.restore(last.id, tmp_path / "last")
    assert snapshot(tmp_path / "last") == snapshot(src)
    # a second prune has nothing left to do
    again = repo.prune()
    assert (again.packs_deleted, again.packs_repacked, again.blobs_removed) == (0, 0, 0)


def test_prune_repacks_mostly_unused_packs(tmp_path: Path) -> None:
    with Repository.open(tmp_path / "repo", create=True, block_size=BLOCK,
                         pack_size=1 << 20) as repo:
        src = tmp_path / "src"
        src.mkdir()
        (src / "big.bin").write_bytes(pseudo_random(40 * BLOCK, 5))
        first = backup(repo, src)[0]
        (src / "big.bin").write_bytes(pseudo_random(4 * BLOCK, 5))  # keeps 4 of 40 blocks
        second = backup(repo, src)[0]
        repo.forget([first.id])
        report = repo.prune()
        assert report.packs_repacked == 1 and report.packs_written == 1
        assert report.blobs_removed == 37   # 36 blocks and the first point's entry blob
        assert repo.verify() == []
        repo.restore(second.id, tmp_path / "out")
        assert snapshot(tmp_path / "out") == snapshot(src)


def test_prune_skipped_while_a_writer_holds_the_lock(repo: Repository, tmp_path: Path) -> None:
    src = build_tree(tmp_path / "src")
    first, _, _ = backup(repo, src)
    repo.forget([first.id])
    w = repo.begin_backup(meta())
    report = repo.prune()
    assert report.skipped and "using repository" in report.reason
    with Repository.open(repo.path) as other:     # another instance, same answer
        assert other.prune().skipped
    w.commit()
    assert not repo.prune().skipped


def test_prune_goes_on_around_an_unreadable_manifest(repo: Repository, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "old.bin").write_bytes(pseudo_random(12 * BLOCK, 1))
    old, _, _ = backup(repo, src)
    (src / "old.bin").unlink()
    (src / "new.bin").write_bytes(pseudo_random(6 * BLOCK, 2))
    damaged, _, _ = backup(repo, src)
    (src / "new.bin").unlink()
    (src / "kept.bin").write_bytes(pseudo_random(3 * BLOCK, 3))
    good, _, _ = backup(repo, src)
    manifest = repo.path / "points" / f"{damaged.id}.json.zst"
    flip_byte(manifest, manifest.stat().st_size // 2)
    repo.forget([old.id])
    report = repo.prune()
    assert not report.skipped and report.blobs_removed >= 12
    assert any(damaged.id in p and "is corrupt" in p for p in report.problems)
    assert repo.verify([good.id]) == []
    repo.restore(good.id, tmp_path / "out")
    assert snapshot(tmp_path / "out") == snapshot(src)


def test_prune_rebuilds_a_lost_index_from_packs(repo: Repository, tmp_path: Path) -> None:
    src = build_tree(tmp_path / "src")
    first, _, _ = backup(repo, src)
    for idx in (repo.path / "index").iterdir():
        idx.unlink()
    report = repo.prune()
    assert report.packs_deleted == 0
    assert repo.verify() == []
    repo.restore(first.id, tmp_path / "out")
    assert snapshot(tmp_path / "out") == snapshot(src)


# -- verify ----------------------------------------------------------------------


def test_verify_names_a_corrupt_blob_and_its_paths(repo: Repository, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(pseudo_random(3 * BLOCK, 1))
    (src / "b.txt").write_text("hello\n")
    point, _, _ = backup(repo, src)
    target_blob = repo.load_manifest(point.id).by_path()["a.bin"].blocks[1]
    loc = repo._index.blobs[target_blob]
    flip_byte(repo.path / "packs" / loc.pack[:2] / f"{loc.pack}.pack", loc.offset + 100)

    problems = repo.verify()
    assert len(problems) == 1
    (p,) = problems
    assert (p.point_id, p.blob, p.pack, p.problem, p.paths) == (
        point.id, target_blob, loc.pack, "corrupt", ["a.bin"])
    # its 4 blocks and the entry blob holding its rows (manifest format 3)
    assert problems.blobs_checked == 5 and problems.points_checked == 1

    with pytest.raises(RestoreError, match="a.bin"):
        repo.restore(point.id, tmp_path / "out")


def test_verify_reports_a_missing_pack(repo: Repository, tmp_path: Path) -> None:
    src = build_tree(tmp_path / "src")
    (src / "more.bin").write_bytes(pseudo_random(40 * BLOCK, 3))   # several packs
    point, _, _ = backup(repo, src)
    rows = {repo._index.blobs[b].pack for b in repo.load_manifest(point.id).entry_blobs}
    # a pack of file data (the point's rows are in another: test_manifest_stream)
    victim = next(p for p in pack_files(repo) if p.name.removesuffix(".pack") not in rows)
    victim.unlink()
    problems = repo.verify([point.id])
    assert problems
    assert {p.problem for p in problems} == {"missing"}
    assert {p.pack for p in problems} == {victim.name.removesuffix(".pack")}
    assert all(p.paths and p.point_id == point.id for p in problems)
    with pytest.raises(PointNotFound):
        repo.verify(["no-such-point"])


# -- restore safety ----------------------------------------------------------------


def write_manifest(repo: Repository, entries: list[Entry]) -> str:
    m = meta(point_id="forged")
    atomic_write(repo.path / "points" / "forged.json.zst",
                 encode_manifest(Manifest(m, entries)), repo.path / "tmp")
    return m.id


@pytest.mark.parametrize("entries", [
    [Entry("a", "symlink", 0o777, 0, 0, 0, 0, (), "OUTSIDE"),
     Entry("a/x", "file", 0o644, 0, 0, 0, 0)],
    [Entry("../x", "file", 0o644, 0, 0, 0, 0)],
    [Entry("OUTSIDE/x", "file", 0o644, 0, 0, 0, 0)],   # absolute, filled in below
    [Entry("d/./x", "file", 0o644, 0, 0, 0, 0)],
    [Entry("f", "file", 0o644, 0, 0, 0, 0), Entry("f/x", "file", 0o644, 0, 0, 0, 0)],
])
def test_restore_refuses_a_manifest_escaping_the_target(
        repo: Repository, tmp_path: Path, entries: list[Entry]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    fixed = [e._replace(path=e.path.replace("OUTSIDE", str(outside)),
                        target=e.target and e.target.replace("OUTSIDE", str(outside)))
             for e in entries]
    point_id = write_manifest(repo, fixed)
    target = tmp_path / "target"
    with pytest.raises(RestoreError, match="damaged or forged"):
        repo.restore(point_id, target)
    assert list(outside.iterdir()) == []
    assert not target.exists() or list(target.iterdir()) == []


_COMPONENTS = strategies.text(alphabet=strategies.sampled_from("ab./\x00é"), max_size=4)


@given(strategies.lists(_COMPONENTS, min_size=1, max_size=4))
def test_path_check_matches_component_rules(parts: list[str]) -> None:
    rel = "/".join(parts)
    components = rel.split("/")
    unsafe = "\x00" in rel or any(c in ("", ".", "..") for c in components)
    assert (rel_path_problem(rel) is not None) == unsafe


def test_restore_rejects_target_that_is_a_file(repo: Repository, tmp_path: Path) -> None:
    src = build_tree(tmp_path / "src")
    point, _, _ = backup(repo, src)
    (tmp_path / "file").write_text("x")
    with pytest.raises(RestoreError, match="not a folder"):
        repo.restore(point.id, tmp_path / "file")


# -- errors ------------------------------------------------------------------------


def test_open_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match="No repository at"):
        Repository.open(tmp_path / "nope")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(RepositoryError, match="not empty"):
        Repository.open(tmp_path / "busy", create=True)
    Repository.open(tmp_path / "r", create=True).close()
    (tmp_path / "r" / "config.json").write_text("{broken")
    with pytest.raises(RepositoryError, match="config.json is corrupt"):
        Repository.open(tmp_path / "r")


def test_create_completes_a_creation_that_crashed(tmp_path: Path) -> None:
    root = tmp_path / "r"
    for d in ("packs", "index", "points", "tmp"):
        (root / d).mkdir(parents=True)
    (root / "lock").touch()
    Repository.open(root, create=True).close()
    assert (root / "config.json").is_file()


def test_corrupt_index_is_rebuilt_from_the_packs(repo: Repository, tmp_path: Path) -> None:
    src = build_tree(tmp_path / "src")
    point, _, _ = backup(repo, src)
    (idx,) = (repo.path / "index").iterdir()
    flip_byte(idx, 20)
    with Repository.open(repo.path) as again:   # opens: the packs are indexed again
        problems = again.verify()
        assert any(idx.name in p.detail and "is corrupt" in p.detail for p in problems)
        assert all(p.point_id == "" for p in problems)   # the point itself is intact
        again.restore(point.id, tmp_path / "out")
        second, _, new_blobs = backup(again, src)
        assert new_blobs == 0                              # dedup still works
        report = again.repair()
        assert report.index_files_replaced == 2 and not report.points_damaged
        assert again.verify() == []
    assert snapshot(tmp_path / "out") == snapshot(src)


def test_unreadable_manifest_is_skipped_by_list_points(repo: Repository, tmp_path: Path) -> None:
    src = build_tree(tmp_path / "src")
    good, _, _ = backup(repo, src)
    (repo.path / "points" / "bad.json.zst").write_bytes(b"\x28\xb5\x2f\xfd garbage")
    assert [p.id for p in repo.list_points()] == [good.id]
    points, problems = repo.scan_points()
    assert len(problems) == 1 and "bad.json.zst" in problems[0]
    with pytest.raises(RepositoryError, match="bad.json.zst is corrupt"):
        repo.load_manifest("bad")
    with pytest.raises(PointNotFound):
        repo.load_manifest("../config")
    bad = [p for p in repo.verify() if p.point_id == "bad"]
    assert bad and bad[0].problem == "manifest corrupt"


def test_out_of_space_is_an_operator_message(
        repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(PackBuilder, "add", full)
    w = repo.begin_backup(meta())
    st = os.stat(tmp_path)
    with pytest.raises(RepositoryError, match="disk is full"):
        for i in range(100):   # the failure surfaces at a later add_file or at commit
            w.add_file(f"x{i}.bin", st, iter([pseudo_random(BLOCK, 100 * i + j)
                                               for j in range(64)]))
        w.commit()
    with pytest.raises(RepositoryError, match="disk is full"):
        w.commit()
    w.abort()
    assert repo.list_points() == []
    assert not repo.prune().skipped   # the failed writer released its lock


def test_failing_block_source_propagates_unchanged(repo: Repository, tmp_path: Path) -> None:
    class Boom(Exception):
        pass

    def blocks() -> Iterator[bytes]:
        yield pseudo_random(BLOCK, 1)
        raise Boom()

    w = repo.begin_backup(meta())
    with pytest.raises(Boom):
        w.add_file("x.bin", os.stat(tmp_path), blocks())
    w.abort()
    assert repo.list_points() == []


def test_commit_is_final(repo: Repository, tmp_path: Path) -> None:
    w = repo.begin_backup(meta())
    w.add_dir("d", os.stat(tmp_path))
    point = w.commit()
    w.abort()  # no effect after commit
    assert [p.id for p in repo.list_points()] == [point.id]
    with pytest.raises(RuntimeError):
        w.add_dir("e", os.stat(tmp_path))
    with pytest.raises(RepositoryError, match="already exists"):
        repo.begin_backup(meta(point_id=point.id))
    with pytest.raises(ValueError):
        repo.begin_backup(meta(point_id="../evil"))


def test_a_slow_backup_seals_its_pack_once_it_is_old(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A throttled backup must not keep a growing pack in memory for minutes:
    the pack open longest is written out once it is MAX_PACK_AGE_S old,
    however little it holds."""
    from core.repository import packsink

    now = [1000.0]
    monkeypatch.setattr(packsink, "_clock", lambda: now[0])
    repo = Repository.open(tmp_path / "repo", create=True, block_size=BLOCK,
                           pack_size=64 << 20, workers=2)
    try:
        w = repo.begin_backup(meta())
        st = os.stat(tmp_path)
        w.add_file("a.bin", st, [pseudo_random(BLOCK, 1)])
        w._submit_batch()   # hand the batch to the pool now (not at 512 KiB)
        w._drain(wait_all=True)
        assert w._sink.durable_count == 0              # young and far from full: in memory
        now[0] += packsink.MAX_PACK_AGE_S
        w.add_file("b.bin", st, [pseudo_random(BLOCK, 2)])
        w._submit_batch()
        w._drain(wait_all=True)
        assert w._sink.durable_count == 1              # old: sealed, on disk
        point = w.commit()
    finally:
        repo.close()
    with Repository.open(tmp_path / "repo") as again:
        again.restore(point.id, tmp_path / "out")
    assert (tmp_path / "out" / "a.bin").read_bytes() == pseudo_random(BLOCK, 1)
    assert (tmp_path / "out" / "b.bin").read_bytes() == pseudo_random(BLOCK, 2)
