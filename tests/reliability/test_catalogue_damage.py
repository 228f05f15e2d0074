"""Issue 10, item 12: a garbled catalogue page or a damaged job row gives a
plain message that says what would be lost and offers 'agent-jobs repair
--catalogue', which rebuilds the catalogue from the repository's manifests
and keeps every job still readable."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import make_tree
from tests.reliability.helpers import agent_jobs, as_json, one_line_error

pytestmark = pytest.mark.timeout(180)


def setup_data(tmp_path: Path) -> tuple[Path, list[str]]:
    data, src = tmp_path / "data", make_tree(tmp_path / "src", files=2)
    for name in ("Keep", "Also"):
        assert agent_jobs(data, "job", "create", name, "--computer",
                          f"pc1={src}").returncode == 0
        assert agent_jobs(data, "start", name, "--wait").returncode == 0
    points = sorted(p["id"] for p in as_json(data, "points"))
    assert agent_jobs(data, "server", "stop").returncode == 0
    return data, points


def root_page(path: Path, table: str) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name=?",
                            (table,)).fetchone()[0]
        return page, conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()


def test_a_garbled_page_is_named_and_repair_rebuilds_the_catalogue(tmp_path):
    data, points = setup_data(tmp_path)
    catalogue = data / "catalogue.sqlite"
    page, size = root_page(catalogue, "sessions")
    with open(catalogue, "r+b") as f:                # a real garbled page
        f.seek((page - 1) * size)
        f.write(b"\x55" * size)
    err = one_line_error(agent_jobs(data, "points"), "is damaged", "repair --catalogue")
    assert "Job definitions, schedules and session history live only" in err
    assert "restore points live in the repository" in err

    repaired = agent_jobs(data, "repair", "--catalogue")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "2 restore point(s), 2 job(s) kept" in repaired.stdout
    assert list(data.glob("catalogue.sqlite.damaged-*"))            # moved aside, not lost
    assert sorted(p["id"] for p in as_json(data, "points")) == points
    assert sorted(j["name"] for j in as_json(data, "job", "list")) == ["Also", "Keep"]
    assert agent_jobs(data, "start", "Keep", "--wait").returncode == 0
    assert agent_jobs(data, "verify").returncode == 0


def test_a_damaged_job_row_is_a_plain_message(tmp_path):
    data, points = setup_data(tmp_path)
    conn = sqlite3.connect(data / "catalogue.sqlite")
    with conn:
        conn.execute("""UPDATE jobs SET definition='{"name": 5}' WHERE name='Also'""")
    conn.close()
    err = one_line_error(agent_jobs(data, "job", "list"), "is damaged", "repair --catalogue")
    assert "validation error" not in err and "JobDefinition" in err
    repaired = agent_jobs(data, "repair", "--catalogue")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "1 job(s) kept (Keep), 1 job(s) unreadable and lost" in repaired.stdout
    assert [j["name"] for j in as_json(data, "job", "list")] == ["Keep"]
    assert sorted(p["id"] for p in as_json(data, "points")) == points   # none lost


def test_repair_catalogue_refuses_while_a_job_runs(tmp_path):
    data, src = tmp_path / "data", tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(b"\1" * (8 << 20))
    assert agent_jobs(data, "job", "create", "Slow", "--computer", f"pc1={src}",
                      "--throttle", "1").returncode == 0
    assert agent_jobs(data, "start", "Slow").returncode == 0
    one_line_error(agent_jobs(data, "repair", "--catalogue"), "Jobs are running")
    assert agent_jobs(data, "stop", "Slow", "--immediately", "--wait").returncode == 0


@pytest.mark.parametrize("old_catalogue", ["readable", "lost"])
def test_a_rebuilt_catalogue_keeps_the_server_id_its_points_carry(
        tmp_path: Path, old_catalogue: str) -> None:
    """Issue 19, item 4: the rebuilt catalogue has the old server id (from the
    old catalogue, or else from the own repository's manifests), so that the
    server's points stay its own, not imported."""
    from core.catalogue import Catalogue
    from core.service.offline import rebuild_catalogue
    from core.paths import catalogue_path

    data, src = tmp_path / "data", make_tree(tmp_path / "src", files=2)
    assert agent_jobs(data, "job", "create", "J", "--computer", f"pc1={src}").returncode == 0
    assert agent_jobs(data, "start", "J", "--wait").returncode == 0
    assert agent_jobs(data, "server", "stop").returncode == 0
    cat = Catalogue(catalogue_path(data))
    try:
        server_id = cat.server_id
    finally:
        cat.close()
    if old_catalogue == "lost":
        catalogue_path(data).write_bytes(b"not a catalogue" * 100)
    rebuild_catalogue(data)
    cat = Catalogue(catalogue_path(data))
    try:
        assert cat.server_id == server_id
        (point,) = cat.points()
        assert not point.imported
    finally:
        cat.close()
