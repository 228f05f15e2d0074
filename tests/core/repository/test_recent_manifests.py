"""An incremental starts from the manifest its server committed last, kept in
memory (counted: no decode), while damage to the stored manifest and a
forgotten point are still found."""
from __future__ import annotations

import pytest

from core.errors import ConsoleError
from core.models import Computer, JobDefinition, SessionResult
from core.repository import manifest as manifest_mod
from core.repository.errors import PointNotFound
from tests.conftest import make_tree
from tests.reliability.helpers import flip_byte
from tests.reliability.test_damaged_points import manifest_of


@pytest.fixture
def decodes(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = manifest_mod.decode_manifest
    monkeypatch.setattr(manifest_mod, "decode_manifest",
                        lambda data, *rest: calls.append(len(data)) or real(data, *rest))
    return calls


def run(service) -> None:
    session = service.wait_session(service.start_job("R"), timeout=60)
    assert session.result is SessionResult.SUCCESS


def backed_up(service, tmp_path, files: int = 5):
    """A job "R" with one computer, backed up once: (its folder, the point)."""
    src = make_tree(tmp_path / "src", files=files)
    service.create_job(JobDefinition(name="R", computers=(Computer(name="pc1", path=str(src)),)))
    run(service)
    (point,) = service.list_points("R")
    return src, point


def damage_manifest(service, point_id: str) -> None:
    path = manifest_of(service.data_dir, point_id)
    flip_byte(path, path.stat().st_size - 5)


def test_the_next_incremental_does_not_decode_its_parent(service, tmp_path, decodes):
    src = make_tree(tmp_path / "src", files=5)
    service.create_job(JobDefinition(name="R", computers=(Computer(name="pc1", path=str(src)),)))
    run(service)
    run(service)
    run(service)
    assert decodes == []
    points = service.list_points("R")
    assert [p.type.value for p in points] == ["Full", "Increment", "Increment"]


def test_damage_to_the_stored_parent_is_still_found(service, tmp_path, decodes):
    _, point = backed_up(service, tmp_path)
    damage_manifest(service, point.id)
    session = service.wait_session(service.start_job("R"), timeout=60)
    assert any("cannot be used as the base" in i.text for i in session.tasks[0].log)
    assert len(decodes) == 1   # the stored copy was decoded, and found damaged


def test_a_forgotten_point_is_not_served_from_memory(service, tmp_path):
    _, point = backed_up(service, tmp_path, files=2)
    repo = service._repository("Default Backup Repository")
    assert repo.recent_manifest(point.id).meta.id == point.id
    repo.forget([point.id])
    with pytest.raises(PointNotFound):
        repo.recent_manifest(point.id)


def test_a_restore_decodes_its_manifest_at_most_once(service, tmp_path, decodes):
    # the check before the session starts and the restore itself share it; the
    # point this server just committed is not decoded at all
    src, point = backed_up(service, tmp_path)
    decodes.clear()
    session = service.wait_session(service.start_restore(point.id, tmp_path / "out"),
                                   timeout=60)
    assert session.result is SessionResult.SUCCESS
    assert decodes == []
    service._repository("Default Backup Repository")._recent.clear()   # as after a restart
    session = service.wait_session(service.start_restore(point.id, tmp_path / "out2"),
                                   timeout=60)
    assert session.result is SessionResult.SUCCESS
    assert len(decodes) == 1
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == \
        sorted(p.name for p in src.iterdir())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == \
        sorted(p.name for p in src.iterdir())


def test_a_restore_of_a_damaged_stored_manifest_is_refused(service, tmp_path, decodes):
    _, point = backed_up(service, tmp_path)
    damage_manifest(service, point.id)
    with pytest.raises(ConsoleError) as caught:
        service.start_restore(point.id, tmp_path / "out")
    assert "corrupt" in str(caught.value) and point.id in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_a_restore_checks_its_manifest_once(service, tmp_path, monkeypatch):
    # preflight refuses a forged manifest before the session starts; the
    # restore itself does not walk the same 20,000 entries again
    from core.repository import repository as repository_mod, restore as restore_mod
    calls: list[str] = []
    real = restore_mod.check_restorable

    def counting(manifest, index):
        calls.append(manifest.meta.id)
        return real(manifest, index)
    monkeypatch.setattr(restore_mod, "check_restorable", counting)
    monkeypatch.setattr(repository_mod, "check_restorable", counting)
    _, point = backed_up(service, tmp_path)
    session = service.wait_session(service.start_restore(point.id, tmp_path / "out"),
                                   timeout=60)
    assert session.result is SessionResult.SUCCESS
    assert calls == [point.id]
    repo = service._repository("Default Backup Repository")
    repo.restore(point.id, tmp_path / "direct")   # no preflight: it checks itself
    assert calls == [point.id, point.id]
