"""The local agent's scan: file-level scope, exclude masks, no symlink following."""
from __future__ import annotations

import os

import pytest

from core.agent import LocalAgent
from core.errors import InvalidInput
from core.models import Computer, FileScope


@pytest.fixture
def root(tmp_path):
    for rel in ("a/x.txt", "a/sub/y.log", "b/z.txt", "b/cache/c.tmp", "top.txt"):
        p = tmp_path / "pc" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(rel)
    os.symlink("a", tmp_path / "pc" / "link-to-a")
    return tmp_path / "pc"


def scan(root, **scope):
    result = LocalAgent(Computer(name="pc", path=str(root))).scan(FileScope(**scope))
    return [(e.rel, e.kind) for e in result.entries], result


def test_whole_tree_without_following_links(root):
    entries, result = scan(root)
    position = {rel: i for i, (rel, _) in enumerate(entries)}
    for rel, _ in entries:  # a folder always comes before what it holds
        if "/" in rel:
            assert position[rel.rsplit("/", 1)[0]] < position[rel]
    assert sorted(entries) == [
        ("a", "dir"), ("a/sub", "dir"), ("a/sub/y.log", "file"), ("a/x.txt", "file"),
        ("b", "dir"), ("b/cache", "dir"), ("b/cache/c.tmp", "file"), ("b/z.txt", "file"),
        ("link-to-a", "symlink"), ("top.txt", "file")]
    assert result.files == 5 and result.warnings == []


def test_exclude_masks_match_names_and_paths(root):
    entries, _ = scan(root, exclude=("*.tmp", "a/sub"))
    names = [rel for rel, _ in entries]
    assert "b/cache/c.tmp" not in names and "a/sub" not in names and "a/sub/y.log" not in names
    assert "b/cache" in names and "a/x.txt" in names


def test_include_folders_keep_their_parents(root):
    entries, result = scan(root, include=("a/sub", "missing"))
    assert entries == [("a", "dir"), ("a/sub", "dir"), ("a/sub/y.log", "file")]
    assert result.warnings == ["Included folder 'missing' does not exist, skipped"]


def test_missing_root_names_the_computer_and_path(tmp_path):
    with pytest.raises(InvalidInput, match=r"Computer 'pc': path .*nowhere does not exist"):
        scan(tmp_path / "nowhere")
