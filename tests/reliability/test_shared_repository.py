"""Issue 19, item 4: two backup servers (two data directories, two real server
processes started by the CLI) on one repository, each with a job of the same
name and computer. Each server's retention and Delete from Disk touch only the
points it wrote; the other's are listed as imported (restorable, read-only);
one the other server retired leaves the list with a note, not as damage."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_tree
from core.errors import ConsoleError
from core.service.offline import ReadOnlyService
from core.api.client import ServerClient
from tests.reliability.helpers import agent_jobs
from tests.support.server import kill_servers_under

pytestmark = pytest.mark.timeout(300)


def ok(data: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = agent_jobs(data, *args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def points(data: Path) -> dict[str, dict]:
    return {p["id"]: p for p in json.loads(ok(data, "points", "--json"))}


def backup(data: Path, src: Path, generation: int) -> None:
    (src / f"gen{generation}.bin").write_bytes(os.urandom(40_000))
    assert "Success" in ok(data, "start", "J", "--wait")


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    first, second = tmp_path / "first", tmp_path / "second"
    yield first, second
    for data in (first, second):
        agent_jobs(data, "server", "stop")
    kill_servers_under(tmp_path)


def shared_url(request: pytest.FixtureRequest, where: str, tmp_path: Path
               ) -> tuple[str, dict[str, str], list[str]]:
    """(repository URL, environment for the CLI, options of 'repository add')."""
    if where == "local":
        return str(tmp_path / "shared"), {}, []
    seaweed = request.getfixturevalue("seaweed")
    env = {"AWS_ACCESS_KEY_ID": seaweed.access_key,
           "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}
    return request.getfixturevalue("s3_url"), env, ["--insecure-no-encryption"]


def add_shared(data: Path, src: Path, url: str, env: dict[str, str], options: list[str]) -> None:
    ok(data, "repository", "add", "Shared", "--url", url, *options, env=env)
    ok(data, "job", "create", "J", "--computer", f"pc1={src}", "--repository", "Shared",
       "--retain", "2")


@pytest.mark.parametrize("where", ["local", "s3"])
def test_retention_and_delete_of_the_second_server_keep_the_first_servers_points(
        two_servers: tuple[Path, Path], tmp_path: Path, request: pytest.FixtureRequest,
        where: str) -> None:
    first, second = two_servers
    url, env, options = shared_url(request, where, tmp_path)
    src1 = make_tree(tmp_path / "src1", files=3, size=30_000)
    src2 = make_tree(tmp_path / "src2", files=3, size=30_000)
    add_shared(first, src1, url, env, options)
    for i in range(2):
        backup(first, src1, i)
    mine = points(first)
    assert len(mine) == 2 and not any(p.get("imported") for p in mine.values())

    add_shared(second, src2, url, env, options)   # the first server's points are imported
    assert set(points(second)) == set(mine)
    for i in range(3):   # retention 2: only its own points are retired
        backup(second, src2, i)
    seen = points(second)
    assert set(mine) <= set(seen), "the second server's retention removed the first's points"
    own = [pid for pid, p in seen.items() if not p["imported"]]
    assert len(own) == 2
    assert {pid for pid, p in seen.items() if p["imported"]} == set(mine)
    assert all(p["damaged"] is None for p in seen.values())
    assert "OK, IMPORTED" in ok(second, "points")

    # The first server still has every point, intact, and the repository verifies.
    assert {pid: p["damaged"] for pid, p in points(first).items()} == \
        {pid: None for pid in mine}
    assert agent_jobs(first, "verify").returncode == 0
    assert agent_jobs(second, "verify").returncode == 0
    oldest = min(mine, key=lambda pid: mine[pid]["created"])
    ok(second, "restore", oldest, str(tmp_path / "from-second"))   # imported: restorable
    assert sorted(p.name for p in (tmp_path / "from-second").iterdir()) == \
        sorted(["gen0.bin"] + [p.name for p in src1.iterdir() if p.name.startswith("f")])

    # Delete from Disk on the second server deletes its own points only.
    ok(second, "job", "delete", "J", "--delete-backups")
    assert set(points(second)) == set(mine)
    assert set(points(first)) == set(mine)
    assert agent_jobs(first, "verify").returncode == 0   # no pack it needs was pruned
    newest = max(mine, key=lambda pid: mine[pid]["created"])
    ok(first, "restore", newest, str(tmp_path / "from-first"))
    assert (tmp_path / "from-first" / "gen1.bin").read_bytes() == \
        (src1 / "gen1.bin").read_bytes()
    if where == "local":
        assert {p.name.split(".")[0] for p in (tmp_path / "shared" / "points").iterdir()} \
            == set(mine)


def test_a_point_the_other_server_retired_leaves_the_list_with_a_note(
        two_servers: tuple[Path, Path], tmp_path: Path) -> None:
    first, second = two_servers
    url = str(tmp_path / "shared")
    src1 = make_tree(tmp_path / "src1", files=2, size=20_000)
    src2 = make_tree(tmp_path / "src2", files=2, size=20_000)
    add_shared(first, src1, url, {}, [])
    for i in range(2):
        backup(first, src1, i)
    add_shared(second, src2, url, {}, [])
    imported = points(second)
    assert len(imported) == 2
    oldest = min(imported, key=lambda pid: imported[pid]["created"])
    backup(first, src1, 2)            # the first server's retention retires its oldest
    assert oldest not in points(first)

    verify = agent_jobs(second, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "DAMAGED" not in ok(second, "points")
    assert set(points(second)) == set(imported) - {oldest}
    (session,) = [s for s in json.loads(ok(second, "sessions", "--json"))
                  if s["type"] == "Verify"]
    notes = [i["text"] for i in session["log"]]
    assert any(f"Restore point {oldest}" in t and "which has removed it" in t for t in notes)
    server_log = (second / "logs" / "server.log").read_text()
    assert f"Restore point {oldest}" in server_log and "no longer listed" in server_log

    # Delete from Disk of a job whose points are all the other server's: refused, plainly.
    api = ServerClient(second)
    try:
        with pytest.raises(ConsoleError, match="written by another backup server") as refused:
            api.delete_backups("J")
        assert len(str(refused.value).splitlines()) == 1
    finally:
        api.close()
    assert set(points(second)) == set(imported) - {oldest}

    # Retired while the second server is down: its next start drops it, not as damage.
    assert agent_jobs(second, "server", "stop").returncode == 0
    before = set(points(first))
    backup(first, src1, 3)
    retired = before - set(points(first))
    assert len(retired) == 1
    offline = ReadOnlyService(second)   # server-less reading (a read-only data directory)
    try:
        assert retired <= {p.id for p in offline.list_points()}   # not reconciled yet
        assert offline.verify().ok
    finally:
        offline.close()
    # (another repository than the data directory's own is reconciled when first opened)
    assert agent_jobs(second, "verify").returncode == 0
    listed = points(second)
    assert not retired & set(listed) and set(listed) == set(points(first))
    assert all(p["damaged"] is None and p["imported"] for p in listed.values())
