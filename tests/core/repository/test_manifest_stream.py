"""Manifest format 3: the entry rows are deduplicated entry blobs in packs. An unchanged
point's manifest object is small and adds no blob; format-2 points (older builds) are still
read, restored and pruned around; prune keeps the entry blobs of kept points only; a damaged
entry blob damages its point, reported by verify, never hidden, and healed by the next backup;
a crash before the manifest leaves the earlier points restorable."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from core.errors import RepositoryError
from core.repository import Manifest, Repository
from core.repository import manifest as manifest_mod
from core.repository.index import read_index
from core.repository.entrystream import ENTRY_CHUNK_AVG, entry_chunks, iter_entries, pack_rows
from core.repository.manifest import encode_manifest
from core.repository.model import Entry
from tests.core.repository.test_repository import (
    BLOCK, backup, flip_byte, pseudo_random, snapshot,
)

PASSWORD = "correct horse battery staple"
FAST_KDF = {"n": 1024, "r": 8, "p": 1}
MANY = 5000


@pytest.fixture(params=[None, PASSWORD], ids=["plain", "encrypted"])
def repo(request, tmp_path: Path):
    r = Repository.open(tmp_path / "repo", create=True, password=request.param,
                        block_size=BLOCK, pack_size=256 << 10, kdf=FAST_KDF, workers=2)
    yield r
    r.close()


def many_files(root: Path, n: int = MANY) -> Path:
    (root / "sub").mkdir(parents=True)
    for i in range(n):
        (root / ("sub" if i % 2 else "") / f"file-{i:05d}.txt").write_bytes(
            pseudo_random(40, i))
    return root


def manifest_object(repo: Repository, point_id: str) -> Path:
    return repo.path / "points" / f"{point_id}.json.zst"


def pack_of(repo: Repository, blob: str) -> Path:
    pack = repo._index.blobs[blob].pack
    return repo.path / "packs" / pack[:2] / f"{pack}.pack"


def test_an_unchanged_point_has_a_small_manifest_and_adds_no_blob(repo, tmp_path, capsys):
    src = many_files(tmp_path / "src")
    first, _, _ = backup(repo, src)
    second, new_bytes, new_blobs = backup(repo, src, parent=first.id)
    assert (new_bytes, new_blobs) == (0, 0)   # the same rows: the same entry blobs
    size = manifest_object(repo, second.id).stat().st_size
    assert size < 4096, size
    manifest = repo.load_manifest(second.id)
    assert len(manifest.entries) == MANY + 1
    assert manifest.entry_blobs == repo.load_manifest(first.id).entry_blobs
    inline = len(encode_manifest(Manifest(manifest.meta, manifest.entries)))
    assert inline > 40 * size
    repo.restore(second.id, tmp_path / "out")
    assert snapshot(tmp_path / "out") == snapshot(src)
    with capsys.disabled():
        print(f"\n[manifest figures] {MANY} files: unchanged point's manifest object "
              f"{size} B (format 2 would be {inline} B), "
              f"{len(manifest.entry_blobs)} entry blob(s)")


def test_one_changed_file_rewrites_only_the_entry_blob_around_its_row(repo, tmp_path):
    src = many_files(tmp_path / "src")
    first, _, _ = backup(repo, src)
    (src / "sub" / "file-02001.txt").write_bytes(b"changed")
    second, _, new_blobs = backup(repo, src, parent=first.id)
    old = repo.load_manifest(first.id).entry_blobs
    new = repo.load_manifest(second.id).entry_blobs
    # The changed row moves at most the cuts near it: its entry blob and the next one or
    # two (a cut that moves may cross the minimum size of the chunk after it), of many.
    assert len(old) > 5
    assert new_blobs <= 1 + 3                    # the file's block, one to three entry blobs
    assert len(set(new) - set(old)) <= 3
    assert repo.load_manifest(second.id).by_path()["sub/file-02001.txt"].size == 7


def test_entry_stream_round_trips_and_cuts_by_content() -> None:
    entries = [Entry(f"d/f{i:06d} ünï \n\"q\"", "file", 0o644, i, i, i, i,
                     (f"{i:064x}",) * (i % 3)) for i in range(20_000)]
    chunks = list(entry_chunks(entries))
    assert len(chunks) > 3 and max(map(len, chunks)) <= 4 * ENTRY_CHUNK_AVG
    blobs = {f"{n:064x}": pack_rows(c) for n, c in enumerate(chunks)}
    assert list(iter_entries(blobs, blobs.__getitem__)) == entries
    shifted = list(entry_chunks([Entry("a-new-first", "dir", 0o755, 0, 0, 0, 0), *entries]))
    assert len(set(shifted) & set(chunks)) >= len(chunks) - 2   # an insert moves one cut
    with pytest.raises(ValueError):
        list(iter_entries(["x"], lambda _: pack_rows(chunks[0][:-1])))


def as_format_2(repo: Repository, point_id: str) -> None:
    """Write the point's manifest object as the previous build did (format 2: the rows
    inside the object; sealed as its header line and the whole encoded object)."""
    m = repo.load_manifest(point_id)
    stored = encode_manifest(Manifest(m.meta, m.entries))
    if repo.encrypted:
        head = repo.sealer.seal(manifest_mod._header_line(m, 2))
        stored = b"".join((struct.pack("<I", len(head)), head, repo.sealer.seal(stored)))
    repo.backend.save(f"points/{point_id}.json.zst", stored)


def test_a_format_2_point_is_still_listed_restored_verified_and_pruned_around(repo, tmp_path):
    src = many_files(tmp_path / "src", 300)
    (src / "big.bin").write_bytes(pseudo_random(20 * BLOCK, 9))
    old, _, _ = backup(repo, src)
    # its rows' entry blobs: one or two, by where the content-defined cuts fall (the rows
    # hold the files' times, so they differ from run to run)
    rows = len(repo.load_manifest(old.id).entry_blobs)
    as_format_2(repo, old.id)
    reopened = Repository.open(repo.path, password=PASSWORD if repo.encrypted else None)
    with reopened:
        assert [p.id for p in reopened.list_points()] == [old.id]
        legacy = reopened.load_manifest(old.id)
        assert legacy.entry_blobs == () and len(legacy.entries) == 302
        report = reopened.prune()   # its blocks stay; its entry blob is garbage now
        assert not report.problems
        assert (report.packs_deleted, report.blobs_removed) == (1, rows)   # the rows' pack
        assert reopened.verify() == []
        reopened.restore(old.id, tmp_path / "old")
        assert snapshot(tmp_path / "old") == snapshot(src)
        (src / "new.txt").write_text("new\n")
        new, _, _ = backup(reopened, src, parent=old.id)   # an incremental from format 2
        assert reopened.load_manifest(new.id).entry_blobs
        reopened.restore(new.id, tmp_path / "new")
        assert snapshot(tmp_path / "new") == snapshot(src)


def test_prune_keeps_the_entry_blobs_of_kept_points_only(repo, tmp_path):
    src = many_files(tmp_path / "src", 2000)
    first, _, _ = backup(repo, src)
    for i in range(0, 2000, 2):
        (src / f"file-{i:05d}.txt").write_bytes(b"v2")
    second, _, _ = backup(repo, src, parent=first.id)
    gone = set(repo.load_manifest(first.id).entry_blobs) - \
        set(repo.load_manifest(second.id).entry_blobs)
    assert gone
    repo.forget([first.id])
    report = repo.prune()
    assert not report.problems
    assert not gone & set(repo._index.blobs)
    assert set(repo.load_manifest(second.id).entry_blobs) <= set(repo._index.blobs)
    assert repo.verify() == []
    repo.restore(second.id, tmp_path / "out")
    assert snapshot(tmp_path / "out") == snapshot(src)


def test_a_damaged_entry_blob_damages_its_point_and_verify_names_it(repo, tmp_path):
    earlier_src = many_files(tmp_path / "earlier", 50)
    earlier, _, _ = backup(repo, earlier_src)
    src = many_files(tmp_path / "src", 800)
    point, _, _ = backup(repo, src)
    blob = repo.load_manifest(point.id).entry_blobs[0]
    loc = repo._index.blobs[blob]
    flip_byte(pack_of(repo, blob), loc.offset + loc.length // 2)

    problems = repo.verify()
    (p,) = [p for p in problems if p.point_id]
    assert (p.point_id, p.blob, p.pack, p.problem) == (point.id, blob, loc.pack,
                                                       "manifest corrupt")
    assert "entry list" in p.detail and blob in p.detail
    assert {q.point_id for q in repo.verify([earlier.id])} == set()
    with pytest.raises(RepositoryError, match="entry list"):
        repo.restore(point.id, tmp_path / "out")
    repo.restore(earlier.id, tmp_path / "earlier-out")     # the other points are intact
    assert snapshot(tmp_path / "earlier-out") == snapshot(earlier_src)
    assert [m.id for m in repo.list_points()] == [earlier.id, point.id]   # listed

    report = repo.prune()   # keeps what the damaged point's readable part names
    assert any(point.id in problem for problem in report.problems)
    assert set(repo.load_manifest(earlier.id).entry_blobs) <= set(repo._index.blobs)

    backup(repo, src)       # the next backup of the same files stores the rows again
    healed = repo.load_manifest(point.id)
    assert len(healed.entries) == 801
    assert [q for q in repo.verify([point.id]) if q.point_id] == []


def test_a_crash_before_the_manifest_leaves_earlier_points_restorable(repo, tmp_path,
                                                                      monkeypatch):
    src = many_files(tmp_path / "src", 500)
    first, _, _ = backup(repo, src)
    (src / "more.bin").write_bytes(pseudo_random(30 * BLOCK, 4))

    def crash(layout, manifest):
        # the entry blobs are in sealed, indexed packs before the manifest is written
        listed = {b for index_id in layout.list_index_ids()
                  for b, _ in read_index(layout, index_id)}
        assert set(manifest.entry_blobs) <= listed
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("core.repository.writer.write_manifest", crash)
    with pytest.raises(RepositoryError):
        backup(repo, src, parent=first.id)
    monkeypatch.undo()
    assert [p.id for p in repo.list_points()] == [first.id]
    assert repo.verify() == []
    repo.restore(first.id, tmp_path / "out")
    assert len(list((tmp_path / "out").rglob("*.txt"))) == 500


def test_reading_rows_a_prune_just_moved_records_no_damage(tmp_path):
    """Browsing loads a manifest without the lock: a prune in another process may have
    repacked the entry blobs meanwhile; the rows are found in their new pack."""
    src = many_files(tmp_path / "src", 300)
    with Repository.open(tmp_path / "repo", create=True, block_size=BLOCK,
                         pack_size=256 << 10, workers=2) as writer:
        first, _, _ = backup(writer, src)
        (src / "new.txt").write_text("new\n")
        backup(writer, src, parent=first.id)
        with Repository.open(tmp_path / "repo", workers=2) as browser:
            rows = browser.load_manifest(first.id).entry_blobs
            before = {browser._index.blobs[b].pack for b in rows}
            report = writer.prune()              # merges the small packs
            assert report.packs_written and not report.problems
            assert not before & set(writer._layout.list_packs())   # the old packs are gone
            assert len(browser.load_manifest(first.id).entries) == 301
            assert not browser.damage.pairs
