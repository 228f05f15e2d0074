"""The local agent's scan: file-level scope, exclude masks, no symlink following."""
from __future__ import annotations

import os

import pytest

from core.agents.local import LocalAgent
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


def test_an_include_never_leads_out_of_the_root(root, tmp_path):
    """Issue 10, item 10: a symlink inside the root pointing out of it."""
    outside = tmp_path / "outside"
    (outside / "secret").mkdir(parents=True)
    (outside / "secret" / "s.txt").write_text("not this computer's")
    os.symlink(outside, root / "escape")
    entries, result = scan(root, include=("escape/secret",))
    assert entries == []
    assert "lies under the symlink 'escape'" in result.warnings[0]
    entries, result = scan(root, include=("escape",))       # the link itself, not followed
    assert entries == [("escape", "symlink")]
    entries, result = scan(root, include=("link-to-a/sub",))
    assert entries == [] and "symlink" in result.warnings[0]


def test_an_include_outside_the_root_is_refused(root):
    for bad in ("../b", "a/../../b", ".", ""):
        with pytest.raises(ValueError, match="inside the computer's root"):
            FileScope(include=(bad,))
    # a scope stored before this check existed is refused by the scan itself
    scope = FileScope.model_construct(include=("../pc",), exclude=())
    result = LocalAgent(Computer(name="pc", path=str(root))).scan(scope)
    assert result.entries == [] and "not a folder inside" in result.warnings[0]


def test_overlapping_includes_list_each_path_once(root):
    entries, _ = scan(root, include=("a", "a/sub"))
    rels = [rel for rel, _ in entries]
    assert len(rels) == len(set(rels)) and "a/sub/y.log" in rels


def test_hard_links_and_special_files(tmp_path):
    pc = tmp_path / "pc"
    pc.mkdir()
    (pc / "one").write_text("x")
    os.link(pc / "one", pc / "two")
    os.mkfifo(pc / "fifo")
    entries, result = scan(pc)
    assert ("one", "file") in entries and ("two", "hardlink") in entries
    assert result.entries[[e for e, _ in entries].index("two")].target == "one"
    assert "fifo" not in [e for e, _ in entries]
    assert result.notes and "'fifo' (FIFO)" in result.notes[0]
