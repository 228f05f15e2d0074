"""Manifest format 3 through a backup copy job: the rows of an unchanged point are entry
blobs the target already holds, so copying it writes only its small manifest object."""
from __future__ import annotations

from pathlib import Path

from core.models import SessionResult
from core.repository import Repository
from tests.core.copy.conftest import add_local, copy_job, run

DST_PASS = "target-password-2"
FILES = 3000


def stored_bytes(root: Path) -> int:
    """Bytes of every object of a local repository (lock files aside)."""
    return sum(p.stat().st_size for p in root.rglob("*")
               if p.is_file() and "lock" not in p.name)


def test_a_copy_with_nothing_new_writes_only_small_manifests(service, make_job, tmp_path,
                                                             capsys):
    add_local(service, "Dst", tmp_path / "dst-repo", DST_PASS)
    make_job("Nightly", computers=2, files=FILES, size=64)
    assert run(service, "Nightly", timeout=120).result is SessionResult.SUCCESS
    service.create_job(copy_job("Offsite", "Nightly", "Dst"))
    first = run(service, "Offsite", timeout=120)
    assert first.result is SessionResult.SUCCESS
    run(service, "Nightly", timeout=120)   # nothing changed: a new point with the same data
    before = stored_bytes(tmp_path / "dst-repo")
    second = run(service, "Offsite", timeout=120)
    written = stored_bytes(tmp_path / "dst-repo") - before
    assert second.result is SessionResult.SUCCESS
    assert [t.points_copied for t in second.tasks] == [1, 1]
    assert all(t.bytes_read == 0 for t in second.tasks)   # no block read from the source
    sent = max(t.bytes_transferred for t in second.tasks)
    assert sent < 4096, sent                             # per point: its manifest object
    assert written < 2 * 4096, written                   # two points, nothing else new

    newest = max((p for p in service.list_points("Offsite") if p.computer == "pc1"),
                 key=lambda p: p.created)
    with Repository.open(tmp_path / "dst-repo", password=DST_PASS) as target:
        manifest = target.load_manifest(newest.id)
        assert len(manifest.entries) == FILES and manifest.entry_blobs
        target.restore(newest.id, tmp_path / "out")
    src = tmp_path / "src" / "Nightly" / "pc1"
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == \
        {p.name: p.read_bytes() for p in src.iterdir()}
    with capsys.disabled():
        print(f"\n[copy figures] {FILES} files: copy of an unchanged point sent {sent} B per "
              f"computer; {written} B written to the target for both")
