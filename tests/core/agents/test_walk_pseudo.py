"""The walker (local and remote agents) does not enter the kernel's pseudo
file systems, found in /proc/self/mounts (here a mounts table that names
ordinary folders of the test as such, octal escapes included)."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.agents.select import agent_for
from core.models import Computer, FileScope
from core.agents.ssh.agent_src.backup_agent import walk
@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "root"
    (root / "with space" / "self").mkdir(parents=True)
    (root / "with space" / "self" / "kmsg").write_text("would block")
    (root / "netns").write_text("")
    (root / "data").mkdir()
    (root / "data" / "a.txt").write_text("a\n")
    table = tmp_path / "mounts"
    table.write_bytes(
        b"/dev/vda / ext4 rw 0 0\n"
        + f"proc {root}/with\\040space proc rw 0 0\n".encode()
        + f"nsfs {root}/netns nsfs rw 0 0\n".encode()
        + f"tmpfs {root}/data tmpfs rw 0 0\n".encode())
    monkeypatch.setattr(walk, "MOUNTS", str(table))
    return root


def scan(root: Path, include: tuple[str, ...] = ()):
    agent = agent_for(Computer(name="pc", path=str(root)))
    try:
        return agent.scan(FileScope(include=include))
    finally:
        agent.close()


def test_pseudo_mount_points_are_kept_empty_and_noted_once(tree: Path) -> None:
    result = scan(tree)
    assert sorted((e.rel, e.kind) for e in result.entries) == [
        ("data", "dir"), ("data/a.txt", "file"), ("with space", "dir")]
    assert result.warnings == []
    assert result.notes == [
        "Skipped the contents of 'netns': it is a nsfs file system (the kernel's "
        "pseudo-files, not data on disk)",
        "Skipped the contents of 'with space': it is a proc file system (the kernel's "
        "pseudo-files, not data on disk)"]


def test_an_include_inside_a_pseudo_file_system_is_skipped(tree: Path) -> None:
    result = scan(tree, ("with space/self", "data"))
    assert [e.rel for e in result.entries] == ["data", "data/a.txt"]
    assert result.warnings == [] and len(result.notes) == 1


def test_a_root_inside_a_pseudo_file_system_is_not_walked(tree: Path) -> None:
    result = scan(tree / "with space")
    assert result.entries == [] and result.warnings == []
    assert result.notes[0].startswith(f"Skipped the contents of '{tree / 'with space'}'")
