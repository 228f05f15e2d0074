"""Choosing part of a restore point: the entries under some of its paths.

Used by a partial restore (``restore --path``, the console's Restore files
window). The selection keeps each chosen path, everything under a chosen
folder, and the folders above them (so that their modes and times come back
too). A hard link whose file is not chosen becomes a plain copy of that file,
so a partial restore never needs a file the operator did not choose."""
from __future__ import annotations

from collections.abc import Iterable

from core.errors import RestoreError

from core.repository.model import DIR, FILE, HARDLINK, Entry, Manifest
from core.repository.paths import parent_of


def normalise(path: str) -> str:
    return "/".join(part for part in path.strip().strip("/").split("/") if part not in ("", "."))


def select_paths(manifest: Manifest, paths: Iterable[str]) -> Manifest:
    """The manifest reduced to ``paths`` (relative to the computer's root; ""
    or "/" is everything). RestoreError names a path the point does not hold."""
    wanted = {normalise(p) for p in paths}
    if not wanted or "" in wanted:
        return manifest
    by_path = {e.path: e for e in manifest.entries}
    missing = sorted(p for p in wanted if p not in by_path)
    if missing:
        shown = ", ".join(repr(p) for p in missing[:5])
        raise RestoreError(
            f"Restore point {manifest.meta.id} holds no {shown}. Give paths relative to the "
            "computer's folder (e.g. 'docs/report.txt'), as the console's Restore window "
            "shows them.")
    folders = {p for p in wanted if by_path[p].kind == DIR}
    ancestors: set[str] = set()
    for p in wanted:
        parent = parent_of(p)
        while parent and parent not in ancestors:
            ancestors.add(parent)
            parent = parent_of(parent)

    def chosen(path: str) -> bool:
        if path in wanted:
            return True
        parent = parent_of(path)
        while parent:
            if parent in folders:
                return True
            parent = parent_of(parent)
        return False

    keep: list[Entry] = []
    kept: set[str] = set()
    for e in manifest.entries:
        if chosen(e.path):
            keep.append(e)
            kept.add(e.path)
        elif e.path in ancestors and e.kind == DIR:
            keep.append(e)
    out: list[Entry] = []
    for e in keep:
        if e.kind == HARDLINK and e.target not in kept:
            source = by_path.get(e.target or "")
            if source is not None and source.kind == FILE:
                e = e._replace(kind=FILE, size=source.size, blocks=source.blocks, target=None)
        out.append(e)
    return Manifest(manifest.meta, out)
