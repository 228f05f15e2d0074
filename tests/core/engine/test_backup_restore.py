"""End-to-end through the facade: backup, restore, incremental, retention, verify."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.agents.local import LocalAgent
from core.errors import RestoreError
from core.models import Computer, JobDefinition, PointType, SessionResult, TaskStatus


def build_tree(root: Path) -> Path:
    (root / "docs" / "ünïcödé 文件").mkdir(parents=True)
    (root / "empty-dir" / "nested-empty").mkdir(parents=True)
    (root / "docs" / "ünïcödé 文件" / "naïve café.txt").write_text("bonjour\n")
    (root / "docs" / "report.txt").write_text("quarterly report\n" * 100)
    (root / "empty.txt").write_bytes(b"")
    (root / "big.bin").write_bytes(os.urandom(3 << 20))
    os.chmod(root / "docs" / "report.txt", 0o640)
    os.symlink("docs/report.txt", root / "link-to-report")
    os.symlink("/does/not/exist", root / "dangling")
    os.utime(root / "empty.txt", ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    return root


def snapshot_tree(root: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = os.lstat(p)
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", st.st_mode & 0o7777)
            else:
                out[rel] = ("file", st.st_mode & 0o7777, st.st_mtime_ns, p.read_bytes())
    return out


@pytest.fixture
def tree_job(service, tmp_path):
    src = build_tree(tmp_path / "src")
    service.create_job(JobDefinition(name="Tree", computers=(Computer(name="pc1", path=str(src)),),
                                     retain_points=3))
    return src


def run(service, name="Tree", **kw):
    return service.wait_session(service.start_job(name, **kw), timeout=60)


def test_round_trip_preserves_tree(service, tree_job, tmp_path):
    session = run(service)
    assert session.result is SessionResult.SUCCESS
    (point,) = service.list_points("Tree")
    assert point.type is PointType.FULL and point.files == 4
    report = service.restore(point.id, tmp_path / "out")
    assert report.files == 4
    assert snapshot_tree(tmp_path / "out") == snapshot_tree(tree_job)


def test_changed_file_between_points_restores_each_version(service, tree_job, tmp_path):
    run(service)
    before = snapshot_tree(tree_job)
    (tree_job / "docs" / "report.txt").write_text("changed\n")
    session = run(service)
    first, second = service.list_points("Tree")
    assert second.type is PointType.INCREMENT
    assert session.tasks[0].bytes_read == len("changed\n")
    service.restore(first.id, tmp_path / "v1")
    service.restore(second.id, tmp_path / "v2")
    assert snapshot_tree(tmp_path / "v1") == before
    assert (tmp_path / "v2" / "docs" / "report.txt").read_text() == "changed\n"


def test_unchanged_incremental_reads_nothing(service, tree_job, monkeypatch):
    run(service)
    opened = []
    real_open = LocalAgent.open_file
    monkeypatch.setattr(LocalAgent, "open_file",
                        lambda self, rel: opened.append(rel) or real_open(self, rel))
    session = run(service)
    assert opened == []
    task = session.tasks[0]
    assert task.bytes_read == 0
    assert task.bytes_transferred < 4096
    assert service.list_points("Tree")[-1].type is PointType.INCREMENT


def test_active_full_reads_everything_but_stores_no_new_blocks(service, tree_job):
    run(service)
    session = run(service, full=True)
    task = session.tasks[0]
    assert service.list_points("Tree")[-1].type is PointType.FULL
    assert task.bytes_read > 3 << 20
    assert task.bytes_transferred < 4096  # deduplicated against the first point


def test_unreadable_file_gives_warning(service, tree_job, tmp_path, monkeypatch):
    secret = tree_job / "secret.txt"
    secret.write_text("top secret")
    secret.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the agent see what a user would
        real_open = LocalAgent.open_file

        def deny(self, rel):
            if rel == "secret.txt":
                raise PermissionError(13, "Permission denied", rel)
            return real_open(self, rel)

        monkeypatch.setattr(LocalAgent, "open_file", deny)
    session = run(service)
    assert session.result is SessionResult.WARNING
    task = session.tasks[0]
    assert task.status is TaskStatus.WARNING
    assert any("secret.txt" in item.text and item.level == "warning" for item in task.log)
    (point,) = service.list_points("Tree")
    service.restore(point.id, tmp_path / "out")
    assert (tmp_path / "out" / "docs" / "report.txt").exists()
    assert not (tmp_path / "out" / "secret.txt").exists()


def test_retention_keeps_newest_and_reclaims_data(service, tree_job, tmp_path):
    sizes = []
    for _i in range(5):
        (tree_job / "big.bin").write_bytes(os.urandom(1 << 20))  # new unique data each time
        run(service)
        sizes.append(service.repository_stats().bytes_on_disk)
    points = service.list_points("Tree")
    assert len(points) == 3
    assert service.repository_point_ids() == {p.id for p in points}
    # Data of the forgotten points is reclaimed: the repository stops growing (beyond one
    # point's new data, a few KB of small objects: manifests, entry-blob packs, index).
    assert sizes[-1] < sizes[2] + (1 << 20) + (16 << 10)
    assert service.verify().ok
    service.restore(points[0].id, tmp_path / "oldest-kept")


def test_verify_names_a_flipped_byte(service, tree_job):
    run(service)
    packs = sorted(service.data_dir.rglob("*.pack"), key=lambda p: p.stat().st_size)
    victim = packs[-1]
    data = bytearray(victim.read_bytes())
    data[len(data) // 3] ^= 0xFF
    victim.write_bytes(bytes(data))
    report = service.verify()
    assert not report.ok
    assert any("big.bin" in p.paths for p in report.problems)
    assert all(p.problem in ("corrupt", "missing") for p in report.problems)


def test_restore_refuses_unsafe_targets(service, tree_job, tmp_path):
    run(service)
    (point,) = service.list_points("Tree")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(RestoreError, match="not an empty folder"):
        service.restore(point.id, busy)
    assert (busy / "keep.txt").read_text() == "mine"
    with pytest.raises(RestoreError, match="data directory"):
        service.restore(point.id, service.data_dir / "x")
    for url in ("ssh://root@web1/srv", "s3:http://127.0.0.1:9000/bucket"):
        with pytest.raises(RestoreError, match="not a URL"):
            service.restore(point.id, Path(url))
